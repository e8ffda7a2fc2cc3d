"""Client: a thin, synchronous wrapper over kessan.v1.FeedService.

Errors: every failed RPC raises grpc.RpcError, which is also a grpc.Call:
`e.code()` is the grpc.StatusCode (INVALID_ARGUMENT for a refused publish
batch or filter, OUT_OF_RANGE for a resume point past the journal's end,
UNAVAILABLE when no server answers, DEADLINE_EXCEEDED on timeout) and
`e.details()` the server's message (for INVALID_ARGUMENT it names the item
index and field path, e.g. "items[0].fact.key.issuer ..."). Bad arguments to
the client itself (an unknown start mode or event kind name, an item that is
not a publishable message) raise ValueError / TypeError before any RPC.

Thread safety: one Client may be used from several threads (gRPC channels
are thread-safe). A Subscription is iterated by one thread; cancel() may be
called from any thread.
"""

import collections
import threading
import weakref

import grpc

from kessan_client._stubs import import_stubs

types_pb2, model_pb2, feed_pb2, feed_pb2_grpc = import_stubs()

# Message full name -> PublishItem oneof field.
_ITEM_FIELDS = {
    "kessan.v1.Issuer": "issuer",
    "kessan.v1.Segment": "segment",
    "kessan.v1.Fact": "fact",
    "kessan.v1.CapitalAction": "capital_action",
    "kessan.v1.Guidance": "guidance",
}

_START_MODES = {
    "snapshot": feed_pb2.START_MODE_SNAPSHOT_THEN_LIVE,
    "live": feed_pb2.START_MODE_LIVE_ONLY,
    "from_sequence": feed_pb2.START_MODE_FROM_SEQUENCE,
}

_DEFAULT = object()  # "use the client's default timeout"


class Subscription:
    """Subscription iterates the FeedEvents of one Subscribe stream.

    SubscribeResponse batches are flattened: each FeedEvent is yielded in
    turn, in stream order, control events (SnapshotBegin / SnapshotEnd,
    sequence 0) included. Iteration ends when the server closes the stream
    cleanly or after cancel(); any other end of the stream raises
    grpc.RpcError. Use it as an iterator or as a context manager:

        with client.subscribe(issuers=["IIJ"]) as sub:
            for event in sub:
                ...
    """

    def __init__(self, call):
        self._call = call
        self._pending = collections.deque()
        self._cancelled = False

    def __iter__(self):
        return self

    def __next__(self):
        if self._cancelled:
            raise StopIteration
        while not self._pending:
            try:
                response = next(self._call)  # StopIteration at a clean end.
            except grpc.RpcError as e:
                if self._cancelled and e.code() == grpc.StatusCode.CANCELLED:
                    raise StopIteration from None
                raise
            self._pending.extend(response.events)
        return self._pending.popleft()

    def cancel(self):
        """Cancels the stream; iteration then stops. Safe from any thread."""
        self._cancelled = True
        self._call.cancel()

    close = cancel  # Like generator.close().

    @property
    def cancelled(self):
        return self._cancelled

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.cancel()
        return False


class Client:
    """Client talks to one kessand.

        with Client("127.0.0.1:50051") as client:
            print(client.snapshot(issuers=["IIJ"]).sequence)

    server: "host:port". credentials: grpc.ChannelCredentials for TLS, None
    for a plaintext channel. timeout: default deadline in seconds of the
    unary calls (publish, snapshot); None for none. Streams have no default
    deadline. options: gRPC channel options.
    """

    def __init__(self, server="127.0.0.1:50051", *, credentials=None,
                 timeout=30.0, options=None):
        self.server = server
        self.timeout = timeout
        if credentials is None:
            self._channel = grpc.insecure_channel(server, options=options)
        else:
            self._channel = grpc.secure_channel(server, credentials,
                                                options=options)
        self._stub = feed_pb2_grpc.FeedServiceStub(self._channel)
        self._subscriptions = weakref.WeakSet()
        self._lock = threading.Lock()

    def publish(self, items, *, timeout=_DEFAULT):
        """Publishes a batch, all or nothing; returns the PublishResponse.

        items: a PublishRequest, or one or an iterable of PublishItem /
        Issuer / Segment / Fact / CapitalAction / Guidance messages. The
        response carries the sequence of each item in order and the committed
        events (revision, supersedes_sequence, known_at set by the server).
        """
        if isinstance(items, feed_pb2.PublishRequest):
            request = items
        else:
            request = feed_pb2.PublishRequest(
                items=[_publish_item(m) for m in _as_list(items)])
        return self._stub.Publish(request, timeout=self._timeout(timeout))

    def snapshot(self, issuers=(), concepts=(), segments=(), kinds=(), *,
                 timeout=_DEFAULT):
        """Returns the GetSnapshotResponse: `sequence` the state is as of,
        `events` the latest revision of every matching item."""
        request = feed_pb2.GetSnapshotRequest(
            filter=make_filter(issuers, concepts, segments, kinds))
        return self._stub.GetSnapshot(request, timeout=self._timeout(timeout))

    def subscribe(self, issuers=(), concepts=(), segments=(), kinds=(), *,
                  start=None, from_sequence=None, timeout=None):
        """Opens a Subscribe stream; returns a Subscription over FeedEvents.

        start: "snapshot" (SnapshotBegin, the latest matching items,
        SnapshotEnd, then live events; the default), "live" (live events
        only) or "from_sequence" (every journaled event above from_sequence,
        then live events). Giving from_sequence=N alone means
        start="from_sequence". kinds: EventKind values or names ("fact",
        "EVENT_KIND_FACT"). timeout: deadline of the whole stream, in
        seconds; None (default) for none. A refused filter raises
        grpc.RpcError on the first next().
        """
        if start is None:
            start = "snapshot" if from_sequence is None else "from_sequence"
        mode = _start_mode(start)
        if mode == feed_pb2.START_MODE_FROM_SEQUENCE:
            if from_sequence is None:
                raise ValueError("start='from_sequence' needs from_sequence")
        elif from_sequence is not None:
            raise ValueError("from_sequence is only valid with "
                             "start='from_sequence'")
        request = feed_pb2.SubscribeRequest(
            filter=make_filter(issuers, concepts, segments, kinds),
            start=mode, from_sequence=from_sequence or 0)
        subscription = Subscription(
            self._stub.Subscribe(request, timeout=timeout))
        with self._lock:
            self._subscriptions.add(subscription)
        return subscription

    def close(self):
        """Cancels open subscriptions and closes the channel. Calls made
        afterwards raise ValueError (from grpc), not grpc.RpcError."""
        with self._lock:
            subscriptions = list(self._subscriptions)
        for s in subscriptions:
            s.cancel()
        self._channel.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def _timeout(self, timeout):
        return self.timeout if timeout is _DEFAULT else timeout


def make_filter(issuers=(), concepts=(), segments=(), kinds=()):
    """Builds a kessan.v1.Filter; each argument is a str or an iterable."""
    return feed_pb2.Filter(
        issuers=_strings(issuers), concepts=_strings(concepts),
        segments=_strings(segments),
        event_kinds=[_event_kind(k) for k in _strings(kinds)])


def _strings(value):
    if value is None:
        return []
    if isinstance(value, (str, int)):
        return [value]
    return list(value)


def _as_list(items):
    if hasattr(items, "DESCRIPTOR"):  # A single message.
        return [items]
    return list(items)


def _publish_item(message):
    if isinstance(message, feed_pb2.PublishItem):
        return message
    field = _ITEM_FIELDS.get(getattr(getattr(message, "DESCRIPTOR", None),
                                     "full_name", None))
    if field is None:
        raise TypeError(f"cannot publish a {type(message).__name__}; expected "
                        "PublishItem, Issuer, Segment, Fact, CapitalAction or "
                        "Guidance")
    return feed_pb2.PublishItem(**{field: message})


def _event_kind(kind):
    if isinstance(kind, int):
        return kind
    name = kind.upper()
    if not name.startswith("EVENT_KIND_"):
        name = "EVENT_KIND_" + name
    return feed_pb2.EventKind.Value(name)  # ValueError if unknown.


def _start_mode(start):
    if isinstance(start, int):
        return start
    try:
        return _START_MODES[start]
    except KeyError:
        raise ValueError(f"unknown start {start!r}; expected one of "
                         f"{sorted(_START_MODES)}") from None
