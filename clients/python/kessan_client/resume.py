"""Resuming a subscription: backoff with full jitter, the sequence rules,
and ResumingSubscription, which Client.subscribe(..., reconnect=True)
returns.

A ResumingSubscription yields every journaled event once, in order. When a
stream ends for a retryable reason (UNAVAILABLE: connection lost or server
shutting down; DEADLINE_EXCEEDED for a stalled stream, i.e. no event or
heartbeat for 3 heartbeat intervals; RESOURCE_EXHAUSTED from the
slow-consumer disconnect, whose message names "from_sequence="; ABORTED,
INTERNAL, UNKNOWN), it waits a jittered backoff and resumes with
START_MODE_FROM_SEQUENCE from the last journaled sequence it yielded; a
stream that ended inside a snapshot starts the snapshot over. Each
reconnect and each Resync is reported to `on_notice` as a Notice; the Resync
FeedEvent is also yielded. Refusals (INVALID_ARGUMENT, OUT_OF_RANGE,
PERMISSION_DENIED, UNAUTHENTICATED, ...) and running out of attempts
without progress raise the last grpc.RpcError; a broken sequence rule
raises SequenceError.

With several servers, a stream that ends with UNAVAILABLE or stalls moves
to the next server at once and resumes there from the same sequence
(replicas share the journal's sequences); the backoff applies after each
full round of failed servers, one attempt per round.
"""

import dataclasses
import random as _random
import threading
import time

import grpc

from kessan_client._stubs import import_stubs

_, _, feed_pb2, _ = import_stubs()

RETRYABLE_CODES = frozenset({
    grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED,
    grpc.StatusCode.ABORTED, grpc.StatusCode.INTERNAL,
    grpc.StatusCode.UNKNOWN})

# A concept no item has: GetSnapshot filtered on it returns only the
# journal's last sequence (where a resumable live-only stream starts).
_NO_SUCH_CONCEPT = "zz_kessan_client_no_such_concept"


def wait_connected(stub, timeout, fail_fast=False):
    """Waits up to `timeout` seconds for the channel of `stub` to connect and
    returns the journal's last sequence; raises grpc.RpcError if it does not
    connect. A tiny GetSnapshot with wait_for_ready: unlike a call that fails
    fast while the channel is in TRANSIENT_FAILURE, it drives the
    reconnect. fail_fast: without wait_for_ready, so that a server that
    refuses is given up at once (another one may serve)."""
    return stub.GetSnapshot(
        feed_pb2.GetSnapshotRequest(
            filter=feed_pb2.Filter(concepts=[_NO_SUCH_CONCEPT])),
        timeout=timeout, wait_for_ready=not fail_fast).sequence


def is_retryable(code, details=""):
    """Whether a stream that ended with (code, details) is worth resuming."""
    if code == grpc.StatusCode.RESOURCE_EXHAUSTED:
        return "from_sequence=" in (details or "")
    return code in RETRYABLE_CODES


class Backoff:
    """Exponential backoff with full jitter.

    The n-th delay (n = 0, 1, ...) is uniform in
    [0, min(maximum, initial * multiplier**n)] seconds. max_attempts: delays
    handed out before exhausted() (0: no limit). random: a function
    returning a float in [0, 1), for tests.
    """

    def __init__(self, initial=0.1, maximum=5.0, multiplier=2.0,
                 max_attempts=20, random=None):
        self.initial = initial
        self.maximum = maximum
        self.multiplier = multiplier
        self.max_attempts = max_attempts
        self._random = random or _random.random
        self.attempts = 0

    def ceiling(self, n):
        """Upper bound of the n-th delay."""
        ceiling = self.initial
        for _ in range(n):
            if ceiling >= self.maximum:
                break
            ceiling *= self.multiplier
        return min(ceiling, self.maximum)

    def next_delay(self):
        """The next delay in seconds; counts one attempt."""
        ceiling = self.ceiling(self.attempts)
        self.attempts += 1
        return min(max(self._random(), 0.0), 1.0) * ceiling

    def exhausted(self):
        return 0 < self.max_attempts <= self.attempts

    def reset(self):
        self.attempts = 0


@dataclasses.dataclass
class Notice:
    """What a ResumingSubscription tells its caller besides the events.

    kind: "disconnected" (the stream ended with code/details; the next
    attempt follows after `delay` seconds), "resumed" (a new stream
    answered) or "resync" (the server no longer holds the events after
    `resume_from`; `resync` is the Resync message and a full snapshot
    follows). restart_snapshot: the stream ended inside a snapshot, which
    starts over: drop the items since the last SnapshotBegin.
    """
    kind: str
    attempt: int = 0
    code: object = None
    details: str = ""
    delay: float = 0.0
    resume_from: int = 0
    restart_snapshot: bool = False
    resync: object = None
    # "disconnected": the server of the next attempt (another one after a
    # failover); "resumed", "resync": the server of the stream.
    server: str = ""


class SequenceError(Exception):
    """The feed broke its sequence rules (a gap); like DATA_LOSS."""


class Tracker:
    """The position of a resuming subscription and its sequence rules.

    Outside a snapshot, once the position is known: a journaled sequence at
    or below it is a duplicate (accept() returns False); with an empty
    filter the next one must be position + 1, except between a Conflated
    mark and the next Heartbeat: any other jump raises SequenceError.
    SnapshotEnd sets the position; snapshot items are not checked.
    """

    def __init__(self, request):
        self.request = request
        f = request.filter
        self.every_event = not (f.issuers or f.concepts or f.segments or
                                f.event_kinds)
        self.position = None
        self.in_snapshot = False
        self.snapshot_pending = False
        self.jump_allowed = False
        self.duplicates = 0
        # The journal's, from the last SnapshotBegin or Heartbeat: a resume
        # gives it back, so another journal's server resyncs instead of
        # sending events under numbers already seen.
        self.incarnation = request.incarnation
        if request.start == feed_pb2.START_MODE_FROM_SEQUENCE:
            self.position = request.from_sequence

    def accept(self, event):
        """True to deliver `event`, False for a duplicate."""
        body = event.WhichOneof("body")
        if body == "resync":
            self.snapshot_pending = True
            return True
        if body == "snapshot_begin":
            if event.snapshot_begin.incarnation:
                self.incarnation = event.snapshot_begin.incarnation
            self.in_snapshot = self.snapshot_pending = True
            return True
        if body == "snapshot_end":
            self.in_snapshot = self.snapshot_pending = False
            self.jump_allowed = False
            self.position = event.snapshot_end.sequence
            return True
        if body == "conflated":
            self.jump_allowed = True
            return True
        if body == "heartbeat":
            if event.heartbeat.incarnation:
                self.incarnation = event.heartbeat.incarnation
            self.jump_allowed = False
            return True
        if event.sequence == 0 or self.in_snapshot:
            return True
        if self.position is None:
            self.position = event.sequence
            return True
        if event.sequence <= self.position:
            self.duplicates += 1
            return False
        if (self.every_event and not self.jump_allowed and
                event.sequence != self.position + 1):
            raise SequenceError(
                f"gap in the feed: sequence {event.sequence} follows "
                f"{self.position} without a Resync or Conflated mark")
        self.position = event.sequence
        return True

    def stream_ended(self):
        if self.in_snapshot:
            self.snapshot_pending = True
        self.in_snapshot = False
        self.jump_allowed = False

    def next_request(self):
        """The request that resumes the subscription."""
        request = type(self.request)()
        request.CopyFrom(self.request)
        if self.snapshot_pending:
            request.start = feed_pb2.START_MODE_SNAPSHOT_THEN_LIVE
            request.from_sequence = 0
        elif self.position is not None:
            request.start = feed_pb2.START_MODE_FROM_SEQUENCE
            request.from_sequence = self.position
            request.incarnation = self.incarnation
        return request


class _Watchdog:
    """Cancels the current call when the reader waited longer than `limit`
    seconds for it; time spent in the caller's loop does not count."""

    def __init__(self, limit):
        self._limit = limit
        self._cond = threading.Condition()
        self._call = None
        self._since = None  # Waiting since (monotonic), or None.
        self._stop = False
        self.fired = False
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def waiting(self, call):
        with self._cond:
            self._call, self._since = call, time.monotonic()
            self.fired = False
            self._cond.notify_all()

    def idle(self):
        with self._cond:
            self._since = None
            self._cond.notify_all()

    def stop(self):
        with self._cond:
            self._stop = True
            self._cond.notify_all()

    def _run(self):
        with self._cond:
            while not self._stop:
                if self._since is None:
                    self._cond.wait()
                    continue
                left = self._since + self._limit - time.monotonic()
                if left > 0:
                    self._cond.wait(left)
                    continue
                self.fired = True
                self._since = None
                self._call.cancel()


class ResumingSubscription:
    """Iterates the FeedEvents of a subscription that resumes by itself.

    Made by Client.subscribe(..., reconnect=True); see the module docstring.
    cancel() (from any thread) ends the iteration quietly, also while it
    waits to reconnect.
    """

    def __init__(self, servers, request, *, on_notice=None,
                 backoff=None, stall_heartbeats=3, connect_timeout=5.0,
                 sleep=None, timeout=None):
        # The Client's servers: current() -> (index, stub), failover().
        self._servers = servers
        self._server = servers.current()
        self._request = request
        self._tracker = Tracker(request)
        self._on_notice = on_notice
        self._backoff = backoff or Backoff()
        self._connect_timeout = connect_timeout
        self._cancel_event = threading.Event()
        self._sleep = sleep or self._cancel_event.wait
        self._deadline = None if timeout is None else time.monotonic() + timeout
        self._cancelled = False
        self._call = None
        self._lock = threading.Lock()
        interval_ms = min(max(request.heartbeat_interval_ms, 100), 60000)
        self._watchdog = _Watchdog(interval_ms / 1000.0 * max(1, stall_heartbeats))
        self._events = self._run()
        if request.start == feed_pb2.START_MODE_LIVE_ONLY:
            # Live from now: the journal's head when subscribe() was called.
            try:
                self._find_head()
            except grpc.RpcError:
                pass  # Asked again, with retries, when iterated.

    # --- the iterator ------------------------------------------------------

    def __iter__(self):
        return self

    def __next__(self):
        return next(self._events)

    def cancel(self):
        """Ends the subscription; iteration then stops. Any thread."""
        with self._lock:
            self._cancelled = True
            call = self._call
        self._cancel_event.set()
        if call is not None:
            call.cancel()

    close = cancel

    @property
    def cancelled(self):
        return self._cancelled

    @property
    def position(self):
        """The last journaled sequence yielded (or snapshot point passed)."""
        return self._tracker.position

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.cancel()
        return False

    # --- internals ---------------------------------------------------------

    def _address(self):
        return self._servers.addresses[self._server[0]]

    def _notify(self, notice):
        if self._on_notice is not None:
            self._on_notice(notice)

    def _left(self):
        return None if self._deadline is None else self._deadline - time.monotonic()

    def _run(self):
        try:
            yield from self._attempts()
        finally:
            self._watchdog.stop()

    def _attempts(self):
        retry = False
        failed_in_round = 0  # Servers failed one after the other.
        while not self._cancelled:
            error = None
            progress = False
            self._server = self._servers.current()
            try:
                if retry:
                    self._reconnect()
                if (self._request.start == feed_pb2.START_MODE_LIVE_ONLY
                        and self._tracker.position is None):
                    self._find_head()
                for event, delivered in self._stream(retry):
                    progress = progress or delivered
                    if delivered:
                        yield event
                return  # A clean end by the server.
            except grpc.RpcError as e:
                error = e
            finally:
                self._tracker.stream_ended()
            if self._cancelled:
                return
            code, details = error.code(), error.details()
            if self._watchdog.fired and code == grpc.StatusCode.CANCELLED:
                code = grpc.StatusCode.DEADLINE_EXCEEDED
                details = "stalled stream: no event or heartbeat in time"
            left = self._left()
            # gRPC's timer may fire a little before the clock reaches the
            # caller's deadline: that end is the caller's, not a reason to resume.
            if left is not None and (left <= 0 or (
                    left <= 0.05 and code == grpc.StatusCode.DEADLINE_EXCEEDED)):
                raise error
            if not is_retryable(code, details):
                raise error
            if progress:
                self._backoff.reset()
                failed_in_round = 0
            # The next server at once; a backoff after each full round.
            wait = True
            if self._servers.failover(
                    self._server[0],
                    _Unavailable(details) if self._watchdog.fired else error):
                failed_in_round += 1
                wait = failed_in_round >= len(self._servers)
                if wait:
                    failed_in_round = 0
            if wait and self._backoff.exhausted():
                raise error
            delay = self._backoff.next_delay() if wait else 0.0
            if left is not None:
                delay = min(delay, left)
            pending = self._tracker.snapshot_pending
            self._notify(Notice(
                kind="disconnected", attempt=self._backoff.attempts,
                code=code, details=details, delay=delay,
                resume_from=0 if pending else (self._tracker.position or 0),
                restart_snapshot=pending,
                server=self._servers.addresses[self._servers.current()[0]]))
            if wait:
                self._sleep(delay)
            retry = True

    def _reconnect(self):
        """Waits for the channel to connect (driving its reconnect)."""
        timeout = self._connect_timeout
        left = self._left()
        if left is not None:
            timeout = max(0.0, min(timeout, left))
        try:
            wait_connected(self._server[1], timeout,
                           fail_fast=len(self._servers) > 1)
        except grpc.RpcError as e:
            if e.code() == grpc.StatusCode.DEADLINE_EXCEEDED:
                raise _Unavailable("cannot connect within "
                                   f"{timeout:.1f} s") from None
            raise

    def _find_head(self):
        left = self._left()
        head = self._server[1].GetSnapshot(
            feed_pb2.GetSnapshotRequest(
                filter=feed_pb2.Filter(concepts=[_NO_SUCH_CONCEPT])),
            timeout=30.0 if left is None else max(left, 0.0))
        self._tracker.position = head.sequence

    def _stream(self, retry):
        """Yields (event, delivered) of one stream; raises its error."""
        request = self._tracker.next_request()
        left = self._left()
        call = self._server[1].Subscribe(request, timeout=left)
        with self._lock:
            if self._cancelled:
                call.cancel()
            self._call = call
        responded = False
        try:
            while True:
                self._watchdog.waiting(call)
                try:
                    response = next(call)
                except StopIteration:
                    return
                finally:
                    self._watchdog.idle()
                if not responded and retry:
                    self._notify(Notice(kind="resumed",
                                        attempt=self._backoff.attempts,
                                        resume_from=request.from_sequence,
                                        server=self._address()))
                responded = True
                for event in response.events:
                    if not self._tracker.accept(event):
                        continue
                    if event.WhichOneof("body") == "resync":
                        self._notify(Notice(
                            kind="resync", attempt=self._backoff.attempts,
                            resume_from=event.resync.requested_sequence,
                            restart_snapshot=True, resync=event.resync,
                            server=self._address()))
                    yield event, True
        finally:
            with self._lock:
                self._call = None
            call.cancel()


class _Unavailable(grpc.RpcError):
    """UNAVAILABLE raised by the client itself (no connection in time)."""

    def __init__(self, details):
        super().__init__(details)
        self._details = details

    def code(self):
        return grpc.StatusCode.UNAVAILABLE

    def details(self):
        return self._details
