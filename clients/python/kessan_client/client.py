"""Client: a thin, synchronous wrapper over kessan.v1.FeedService.

Errors: every failed RPC raises grpc.RpcError, which is also a grpc.Call:
`e.code()` is the grpc.StatusCode (INVALID_ARGUMENT for a refused publish
batch or filter, OUT_OF_RANGE for a resume point past the journal's end,
UNAVAILABLE when no server answers, DEADLINE_EXCEEDED on timeout) and
`e.details()` the server's message (for INVALID_ARGUMENT it names the item
index and field path, e.g. "items[0].fact.key.issuer ..."). Bad arguments to
the client itself (an unknown start mode or event kind name, an item that is
not a publishable message) raise ValueError / TypeError before any RPC.

Failover: a Client may be given several servers, replicas of one feed
(Client("a:1,b:2") or Client(["a:1", "b:2"])). Calls go to the current
server (the first at the start); only UNAVAILABLE (unreachable, connection
lost, shutting down) moves the client to the next one, round robin.
snapshot() tries each server once; publish(retry=True) and
subscribe(reconnect=True) go on to the next server at once, with the same
batch key or from the same sequence, and back off after each full round;
a plain publish() or subscribe() is not retried (the next call goes to the
next server). Each move is logged (logger "kessan_client", WARNING) and
passed to on_failover(from_server, to_server, error).

Thread safety: one Client may be used from several threads (gRPC channels
are thread-safe). A Subscription is iterated by one thread; cancel() may be
called from any thread.
"""

import collections
import logging
import secrets
import threading
import time
import weakref

import grpc

from kessan_client._stubs import import_stubs
from kessan_client.resume import (Backoff, ResumingSubscription,
                                  wait_connected)

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

_POLICIES = {
    "disconnect": feed_pb2.SLOW_CONSUMER_POLICY_DISCONNECT,
    "conflate": feed_pb2.SLOW_CONSUMER_POLICY_CONFLATE,
}

_VIEWS = {
    "latest": feed_pb2.REVISION_VIEW_LATEST,
    "first": feed_pb2.REVISION_VIEW_FIRST_REPORTED,
    "first_reported": feed_pb2.REVISION_VIEW_FIRST_REPORTED,
    "as_of": feed_pb2.REVISION_VIEW_AS_OF,
}

# Channel options every Client sets (the caller's options win): keepalive
# pings, also without calls (kessand accepts one every 5 s or more), so a
# dead connection is noticed on a quiet stream; and a reconnect backoff of
# at most 5 s instead of gRPC's 120 s.
_CHANNEL_OPTIONS = (
    ("grpc.keepalive_time_ms", 20000),
    ("grpc.keepalive_timeout_ms", 10000),
    ("grpc.keepalive_permit_without_calls", 1),
    ("grpc.http2.max_pings_without_data", 0),
    ("grpc.initial_reconnect_backoff_ms", 100),
    ("grpc.max_reconnect_backoff_ms", 5000),
)

_PUBLISH_RETRY_CODES = (grpc.StatusCode.UNAVAILABLE,
                        grpc.StatusCode.DEADLINE_EXCEEDED)

_log = logging.getLogger("kessan_client")


def parse_servers(server):
    """The servers of `server`: "host:port", "a:1,b:2" or a list of them.
    Raises ValueError for an empty list or an empty server."""
    items = server.split(",") if isinstance(server, str) else list(server)
    servers = []
    for item in items:
        if not isinstance(item, str):
            raise TypeError(f"server {item!r} is not a str")
        if not item.strip():
            raise ValueError(f"server list {server!r} has an empty server")
        servers.append(item.strip())
    if not servers:
        raise ValueError("the server list is empty")
    return servers


class _Servers:
    """The servers of a Client: a stub each, and the one in use."""

    def __init__(self, addresses, stubs, on_failover):
        self.addresses = addresses
        self._stubs = stubs
        self._on_failover = on_failover
        self._current = 0
        self._lock = threading.Lock()

    def __len__(self):
        return len(self.addresses)

    def current(self):
        """(index, stub) of the server in use."""
        with self._lock:
            index = self._current
        return index, self._stubs[index]

    def failover(self, failed, error):
        """Moves from server `failed` to the next one, unless another call
        already moved; only UNAVAILABLE moves. True if the client is on
        another server now."""
        if len(self) < 2 or error.code() != grpc.StatusCode.UNAVAILABLE:
            return False
        with self._lock:
            if self._current != failed:
                return True  # Another call moved on already.
            self._current = (failed + 1) % len(self)
            to = self._current
        _log.warning("kessan server %s failed (%s: %s); switching to %s",
                     self.addresses[failed], error.code().name,
                     error.details(), self.addresses[to])
        if self._on_failover is not None:
            self._on_failover(self.addresses[failed], self.addresses[to],
                              error)
        return True


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

    def __init__(self, call, on_error=None):
        self._call = call
        self._on_error = on_error
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
                if self._on_error is not None:
                    self._on_error(e)
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
    """Client talks to one kessand, or to replicas of one feed.

        with Client("127.0.0.1:50051") as client:
            print(client.snapshot(issuers=["IIJ"]).sequence)

    server: "host:port", or several servers to fail over between (see the
    module docstring): "a:1,b:2" or a list; an empty one raises ValueError.
    on_failover(from_server, to_server, error): called on each move to
    another server, on the thread of the failed call. credentials: grpc.ChannelCredentials for TLS, None
    for a plaintext channel. timeout: default deadline in seconds of the
    unary calls (publish, snapshot); None for none. Streams have no default
    deadline. options: gRPC channel options.

    Security (kessand's --tls_cert, --tls_client_ca, --auth_tokens):
    tls_ca: PEM file of the CA of the server's certificate, turns TLS on
    (unless credentials are given); tls_cert, tls_key: PEM files of this
    client's certificate and key (mTLS); token: bearer token sent with every
    call ("authorization: Bearer <token>"), also over plaintext. TLS and
    token apply to every server.
    """

    def __init__(self, server="127.0.0.1:50051", *, credentials=None,
                 timeout=30.0, options=None, tls_ca=None, tls_cert=None,
                 tls_key=None, token=None, on_failover=None):
        self.servers = parse_servers(server)
        self.timeout = timeout
        given = dict(options or ())
        options = list(options or ()) + [
            o for o in _CHANNEL_OPTIONS if o[0] not in given]
        if credentials is None and tls_ca is not None:
            credentials = tls_credentials(tls_ca, tls_cert, tls_key)
        self._channels = []
        for address in self.servers:
            if credentials is None:
                channel = grpc.insecure_channel(address, options=options)
            else:
                channel = grpc.secure_channel(address, credentials,
                                              options=options)
            if token:
                channel = grpc.intercept_channel(channel, _BearerToken(token))
            self._channels.append(channel)
        self._servers = _Servers(
            self.servers,
            [feed_pb2_grpc.FeedServiceStub(c) for c in self._channels],
            on_failover)
        self._subscriptions = weakref.WeakSet()
        self._lock = threading.Lock()

    def publish(self, items, *, timeout=_DEFAULT, publisher_id=None,
                batch_key=None, retry=False, backoff=None, sleep=time.sleep):
        """Publishes a batch, all or nothing; returns the PublishResponse.

        items: a PublishRequest, or one or an iterable of PublishItem /
        Issuer / Segment / Fact / CapitalAction / Guidance messages. The
        response carries the sequence of each item in order and the committed
        events (revision, supersedes_sequence, known_at set by the server).

        publisher_id, batch_key: the batch's identity; the server applies a
        batch key once, and answers a repeat with the original sequences and
        duplicate=True. retry=True fills a missing identity (random) and
        retries UNAVAILABLE and DEADLINE_EXCEEDED after a backoff (`backoff`,
        a resume.Backoff; default 100 ms base, 5 s cap, 10 attempts), so
        the batch is applied once; timeout is then per attempt. Other errors
        raise at once.
        """
        if isinstance(items, feed_pb2.PublishRequest):
            request = items
        else:
            request = feed_pb2.PublishRequest(
                items=[_publish_item(m) for m in _as_list(items)])
        if publisher_id is not None or batch_key is not None or retry:
            copy = feed_pb2.PublishRequest()
            copy.CopyFrom(request)
            request = copy
            if publisher_id is not None:
                request.publisher_id = publisher_id
            if batch_key is not None:
                request.batch_key = batch_key
        if not retry:
            index, stub = self._servers.current()
            try:
                return stub.Publish(request, timeout=self._timeout(timeout))
            except grpc.RpcError as e:
                self._servers.failover(index, e)
                raise
        if not request.publisher_id:
            request.publisher_id = "kessan-py-" + secrets.token_hex(8)
        if not request.batch_key:
            request.batch_key = secrets.token_hex(16)
        backoff = backoff or Backoff(max_attempts=10)
        failed_in_round = 0  # Servers failed one after the other.
        again = False
        while True:
            index, stub = self._servers.current()
            if again:
                try:  # Drive the reconnect rather than fail fast again.
                    wait_connected(stub, self._timeout(timeout) or 5.0,
                                   fail_fast=len(self._servers) > 1)
                except grpc.RpcError:
                    pass  # The attempt will say what is wrong.
            again = True
            try:
                return stub.Publish(request, timeout=self._timeout(timeout))
            except grpc.RpcError as e:
                if e.code() not in _PUBLISH_RETRY_CODES:
                    raise
                error = e
            # The same batch key on the next server at once; a backoff
            # after each full round.
            if self._servers.failover(index, error):
                failed_in_round += 1
                if failed_in_round < len(self._servers):
                    continue
                failed_in_round = 0
            if backoff.exhausted():
                raise error
            sleep(backoff.next_delay())

    def snapshot(self, issuers=(), concepts=(), segments=(), kinds=(), *,
                 timeout=_DEFAULT, view=None, as_of=None):
        """Returns the GetSnapshotResponse: `sequence` the state is as of,
        `events` the latest revision of every matching item.

        view: "latest" (default), "first" (first reported) or "as_of";
        as_of: a datetime or google.protobuf.Timestamp (alone it means
        view="as_of")."""
        request = feed_pb2.GetSnapshotRequest(
            filter=make_filter(issuers, concepts, segments, kinds))
        pit = _point_in_time(view, as_of)
        if pit is not None:
            request.point_in_time.CopyFrom(pit)
        # A read: each server is asked once.
        for tried in range(len(self._servers)):
            index, stub = self._servers.current()
            try:
                return stub.GetSnapshot(request,
                                        timeout=self._timeout(timeout))
            except grpc.RpcError as e:
                if (not self._servers.failover(index, e) or
                        tried + 1 == len(self._servers)):
                    raise

    def subscribe(self, issuers=(), concepts=(), segments=(), kinds=(), *,
                  start=None, from_sequence=None, timeout=None,
                  reconnect=False, on_notice=None, heartbeat_ms=None,
                  policy=None, view=None, as_of=None, backoff=None,
                  stall_heartbeats=3, connect_timeout=5.0, sleep=None):
        """Opens a Subscribe stream; returns a Subscription over FeedEvents.

        start: "snapshot" (SnapshotBegin, the latest matching items,
        SnapshotEnd, then live events; the default), "live" (live events
        only) or "from_sequence" (every journaled event above from_sequence,
        then live events). Giving from_sequence=N alone means
        start="from_sequence". kinds: EventKind values or names ("fact",
        "EVENT_KIND_FACT"). timeout: deadline of the whole stream, in
        seconds; None (default) for none. A refused filter raises
        grpc.RpcError on the first next().

        heartbeat_ms: heartbeat interval asked for (with reconnect, 5000 when
        not given). policy: "disconnect" or "conflate" (slow consumers).
        view / as_of: the revisions of the snapshot part, as in snapshot().

        reconnect=True returns a resume.ResumingSubscription instead: a lost
        stream is resumed after the last journaled sequence yielded, with
        exponential backoff and full jitter (`backoff`, a resume.Backoff;
        100 ms base, 5 s cap, 20 attempts without progress), never yielding
        an event twice; a stream silent for stall_heartbeats heartbeat
        intervals counts as lost. on_notice(resume.Notice) hears of each
        reconnect and Resync. timeout then bounds the whole subscription.
        sleep: for tests, the pause between attempts.
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
        if heartbeat_ms is not None:
            request.heartbeat_interval_ms = heartbeat_ms
        elif reconnect:
            request.heartbeat_interval_ms = 5000
        if policy is not None:
            request.slow_consumer_policy = _enum(_POLICIES, policy, "policy")
        pit = _point_in_time(view, as_of)
        if pit is not None:
            request.point_in_time.CopyFrom(pit)
        if reconnect:
            subscription = ResumingSubscription(
                self._servers, request, on_notice=on_notice,
                backoff=backoff, stall_heartbeats=stall_heartbeats,
                connect_timeout=connect_timeout, sleep=sleep,
                timeout=timeout)
        else:
            index, stub = self._servers.current()
            subscription = Subscription(
                stub.Subscribe(request, timeout=timeout),
                on_error=lambda e: self._servers.failover(index, e))
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
        for channel in self._channels:
            channel.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    @property
    def server(self):
        """The server in use: the first until a failover."""
        return self._servers.addresses[self._servers.current()[0]]

    def _timeout(self, timeout):
        return self.timeout if timeout is _DEFAULT else timeout


def tls_credentials(ca, cert=None, key=None):
    """grpc.ChannelCredentials from PEM files: the CA of the server's
    certificate, and this client's certificate and key for mTLS."""
    if (cert is None) != (key is None):
        raise ValueError("tls_cert and tls_key go together")

    def read(path):
        with open(path, "rb") as f:
            return f.read()

    return grpc.ssl_channel_credentials(
        root_certificates=read(ca),
        private_key=read(key) if key else None,
        certificate_chain=read(cert) if cert else None)


class _BearerToken(grpc.UnaryUnaryClientInterceptor,
                   grpc.UnaryStreamClientInterceptor):
    """Adds "authorization: Bearer <token>" to every call."""

    def __init__(self, token):
        self._header = ("authorization", "Bearer " + token)

    def _details(self, details):
        metadata = list(details.metadata or []) + [self._header]
        return details._replace(metadata=metadata)

    def intercept_unary_unary(self, continuation, details, request):
        return continuation(self._details(details), request)

    def intercept_unary_stream(self, continuation, details, request):
        return continuation(self._details(details), request)


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


def _enum(names, value, what):
    if isinstance(value, int):
        return value
    try:
        return names[value.lower().replace("-", "_")]
    except KeyError:
        raise ValueError(f"unknown {what} {value!r}; expected one of "
                         f"{sorted(names)}") from None


def _point_in_time(view, as_of):
    if view is None and as_of is None:
        return None
    pit = feed_pb2.PointInTime(
        view=_enum(_VIEWS, view if view is not None else "as_of", "view"))
    if as_of is not None:
        if pit.view != feed_pb2.REVISION_VIEW_AS_OF:
            raise ValueError("as_of goes with view='as_of' only")
        if hasattr(as_of, "seconds"):
            pit.as_of.CopyFrom(as_of)
        else:
            pit.as_of.FromDatetime(as_of)
    elif pit.view == feed_pb2.REVISION_VIEW_AS_OF:
        raise ValueError("view='as_of' needs as_of")
    return pit


def _start_mode(start):
    if isinstance(start, int):
        return start
    try:
        return _START_MODES[start]
    except KeyError:
        raise ValueError(f"unknown start {start!r}; expected one of "
                         f"{sorted(_START_MODES)}") from None
