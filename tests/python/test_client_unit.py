"""Unit tests of clients/python/kessan_client against an in-process fake.

The fake FeedService below is a few lines of Python, not kessand: these
tests check the client (request building, batch flattening, start modes,
errors, cancellation, stub lookup, the example script), not the server.

Run: KESSAN_PY_GEN=<build>/python PYTHONPATH=clients/python \
     /usr/bin/python3 -m unittest -v test_client_unit   (in tests/python)
"""

import concurrent.futures
import importlib.util
import json
import os
import pathlib
import queue
import subprocess
import sys
import tempfile
import threading
import time
import unittest

import grpc

_REPO = pathlib.Path(__file__).resolve().parents[2]
_CLIENT_DIR = _REPO / "clients" / "python"
if importlib.util.find_spec("kessan_client") is None:
    sys.path.insert(0, str(_CLIENT_DIR))  # Run without PYTHONPATH.

from kessan_client import Client, feed_pb2, feed_pb2_grpc, model_pb2, types_pb2
from kessan_client import resume

_GEN_DIR = pathlib.Path(feed_pb2.__file__).resolve().parents[2]
_WAIT = 10.0  # Seconds: bound on every wait in these tests.


def _fact(issuer="IIJ", concept="revenue", units=13_000_000_000):
    return model_pb2.Fact(
        key=model_pb2.FactKey(
            issuer=issuer, concept_id=concept,
            period=types_pb2.FiscalPeriod(
                fiscal_year=2002, kind=types_pb2.PERIOD_KIND_QUARTER,
                number=4)),
        value=types_pb2.Value(
            money=types_pb2.Money(currency_code="JPY", units=units),
            precision=types_pb2.Precision(decimals=-9)),
        provenance=types_pb2.Provenance(document="unit", quote="q"))


def _issuer_of(item_field, body):
    if item_field == "issuer":
        return body.id, "id"
    if item_field in ("fact", "guidance"):
        return body.key.issuer, "key.issuer"
    return body.issuer, "issuer"


class FakeFeed(feed_pb2_grpc.FeedServiceServicer):
    """An in-memory FeedService: a journal, issuer filters, start modes.

    Subscribe sends at most `batch_size` events per SubscribeResponse so the
    client has batches to flatten.
    """

    def __init__(self):
        self.cond = threading.Condition()
        self.journal = []  # FeedEvent; journal[i].sequence == i + 1
        self.requests = queue.Queue()  # (method name, request)
        self.batch_size = 2
        self.end_after_replay = False
        # Per Subscribe call, in turn: (events to send, code, details) to
        # abort the stream after that many events, or "hang" to send
        # nothing until the client goes away. Empty: behave normally.
        self.subscribe_faults = []
        # Per Publish call, in turn: a status code to fail with before
        # applying, or ("after", code) to apply and then fail (the answer
        # lost).
        self.publish_faults = []
        self.batches = {}  # (publisher_id, batch_key) -> PublishResponse

    def Publish(self, request, context):
        self.requests.put(("Publish", request))
        fault = self.publish_faults.pop(0) if self.publish_faults else None
        if isinstance(fault, grpc.StatusCode):
            context.abort(fault, "fake publish fault")
        key = (request.publisher_id, request.batch_key)
        if key != ("", "") and key in self.batches:
            response = feed_pb2.PublishResponse()
            response.CopyFrom(self.batches[key])
            response.duplicate = True
            return response
        for i, item in enumerate(request.items):
            which = item.WhichOneof("item")
            if which is None:
                context.abort(grpc.StatusCode.INVALID_ARGUMENT,
                              f"items[{i}]: empty item")
            issuer, path = _issuer_of(which, getattr(item, which))
            if not issuer:
                context.abort(grpc.StatusCode.INVALID_ARGUMENT,
                              f"items[{i}].{which}.{path}: must not be empty")
        response = feed_pb2.PublishResponse()
        with self.cond:
            for item in request.items:
                which = item.WhichOneof("item")
                event = feed_pb2.FeedEvent(sequence=len(self.journal) + 1)
                getattr(event, which).CopyFrom(getattr(item, which))
                self.journal.append(event)
                response.sequences.append(event.sequence)
                response.events.append(event)
            self.cond.notify_all()
        if key != ("", ""):
            self.batches[key] = response
        if fault is not None:
            context.abort(fault[1], "fake: applied, answer lost")
        return response

    def GetSnapshot(self, request, context):
        self.requests.put(("GetSnapshot", request))
        with self.cond:
            return feed_pb2.GetSnapshotResponse(
                sequence=len(self.journal),
                events=[e for e in self.journal
                        if self._matches(request.filter, e)])

    def Subscribe(self, request, context):
        flt = request.filter
        with self.cond:
            last = len(self.journal)
            journal = list(self.journal)
        # Recorded once the start point is taken: a test that has seen the
        # request knows that what it publishes next is live.
        self.requests.put(("Subscribe", request))
        fault = self.subscribe_faults.pop(0) if self.subscribe_faults else None
        if fault == "hang":
            while context.is_active():
                time.sleep(0.01)
            return
        if "NOPE" in flt.issuers:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT,
                          'filter.issuers[0]: unknown issuer "NOPE"')
        if request.start in (feed_pb2.START_MODE_UNSPECIFIED,
                             feed_pb2.START_MODE_SNAPSHOT_THEN_LIVE):
            items = [e for e in journal if self._matches(flt, e)]
            replay = ([feed_pb2.FeedEvent(snapshot_begin={"sequence": last})]
                      + items +
                      [feed_pb2.FeedEvent(snapshot_end={
                          "sequence": last, "item_count": len(items)})])
        elif request.start == feed_pb2.START_MODE_FROM_SEQUENCE:
            if request.from_sequence > last:
                context.abort(grpc.StatusCode.OUT_OF_RANGE,
                              f"from_sequence {request.from_sequence} is "
                              f"above the last sequence {last}")
            replay = [e for e in journal[request.from_sequence:]
                      if self._matches(flt, e)]
        else:
            replay = []
        if fault is not None:
            count, code, details = fault
            yield from self._batches(replay[:count])
            context.abort(code, details)
        yield from self._batches(replay)
        if self.end_after_replay:
            return
        while context.is_active():
            with self.cond:
                self.cond.wait_for(lambda: len(self.journal) > last,
                                   timeout=0.05)
                new = self.journal[last:]
                last = len(self.journal)
            yield from self._batches(
                [e for e in new if self._matches(flt, e)])

    def _batches(self, events):
        for i in range(0, len(events), self.batch_size):
            yield feed_pb2.SubscribeResponse(
                events=events[i:i + self.batch_size])

    @staticmethod
    def _matches(flt, event):
        if not flt.issuers:
            return True
        which = event.WhichOneof("body")
        issuer, _ = _issuer_of(which, getattr(event, which))
        return issuer in flt.issuers


class ClientTest(unittest.TestCase):

    def setUp(self):
        self.fake = FakeFeed()
        self.server = grpc.server(
            concurrent.futures.ThreadPoolExecutor(max_workers=8))
        feed_pb2_grpc.add_FeedServiceServicer_to_server(self.fake, self.server)
        port = self.server.add_insecure_port("127.0.0.1:0")
        self.assertNotEqual(port, 0)
        self.server.start()
        self.addCleanup(lambda: self.server.stop(None).wait(_WAIT))
        self.address = f"127.0.0.1:{port}"
        self.client = Client(self.address, timeout=_WAIT)
        self.addCleanup(self.client.close)

    def last_request(self, method):
        while True:
            name, request = self.fake.requests.get(timeout=_WAIT)
            if name == method:
                return request

    def seed(self, n=5):
        """Publishes n issuers IIJ, X1, X2, ...; returns their sequences."""
        issuers = [model_pb2.Issuer(id="IIJ" if i == 0 else f"X{i}")
                   for i in range(n)]
        return list(self.client.publish(issuers).sequences)

    # --- publish -----------------------------------------------------------

    def test_publish_accepts_messages_items_and_requests(self):
        issuer = model_pb2.Issuer(id="IIJ", name="Internet Initiative Japan")
        response = self.client.publish(issuer)  # A single message.
        self.assertEqual(list(response.sequences), [1])
        self.assertEqual(response.events[0].issuer, issuer)
        self.assertEqual(self.last_request("Publish").items[0].issuer, issuer)

        segment = model_pb2.Segment(issuer="IIJ", id="systems_integration")
        action = model_pb2.CapitalAction(
            issuer="IIJ", action_id="private_placement_2003_06",
            private_placement=model_pb2.PrivatePlacement(shares=8400))
        guidance = model_pb2.Guidance(key=_fact().key)
        items = [feed_pb2.PublishItem(segment=segment), _fact(), action,
                 guidance]
        response = self.client.publish(iter(items))  # Any iterable.
        self.assertEqual(list(response.sequences), [2, 3, 4, 5])
        request = self.last_request("Publish")
        self.assertEqual([i.WhichOneof("item") for i in request.items],
                         ["segment", "fact", "capital_action", "guidance"])
        self.assertEqual(request.items[1].fact, _fact())
        self.assertEqual(request.items[2].capital_action, action)

        ready = feed_pb2.PublishRequest(
            items=[feed_pb2.PublishItem(fact=_fact(units=1))])
        self.assertEqual(list(self.client.publish(ready).sequences), [6])
        self.assertEqual(self.last_request("Publish"), ready)

    def test_publish_refuses_what_is_not_an_item(self):
        with self.assertRaises(TypeError):
            self.client.publish([feed_pb2.Filter()])
        with self.assertRaises(TypeError):
            self.client.publish(["IIJ"])
        self.assertTrue(self.fake.requests.empty())  # Nothing was sent.

    def test_publish_error_surfaces_as_rpc_error(self):
        with self.assertRaises(grpc.RpcError) as cm:
            self.client.publish([_fact(issuer="")])
        self.assertEqual(cm.exception.code(), grpc.StatusCode.INVALID_ARGUMENT)
        self.assertIn("items[0].fact.key.issuer", cm.exception.details())

    # --- snapshot ----------------------------------------------------------

    def test_snapshot_sends_the_filter_and_returns_the_response(self):
        self.seed(3)
        response = self.client.snapshot(
            issuers="IIJ", concepts=["revenue", "operating_income"],
            segments=("systems_integration",),
            kinds=["fact", feed_pb2.EVENT_KIND_GUIDANCE, "EVENT_KIND_ISSUER",
                   "Capital_Action"])
        self.assertEqual(response.sequence, 3)
        self.assertEqual([e.issuer.id for e in response.events], ["IIJ"])
        self.assertEqual(
            self.last_request("GetSnapshot").filter,
            feed_pb2.Filter(
                issuers=["IIJ"], concepts=["revenue", "operating_income"],
                segments=["systems_integration"],
                event_kinds=[feed_pb2.EVENT_KIND_FACT,
                             feed_pb2.EVENT_KIND_GUIDANCE,
                             feed_pb2.EVENT_KIND_ISSUER,
                             feed_pb2.EVENT_KIND_CAPITAL_ACTION]))

    def test_snapshot_without_filter_sends_an_empty_filter(self):
        self.assertEqual(self.client.snapshot().sequence, 0)
        self.assertEqual(self.last_request("GetSnapshot"),
                         feed_pb2.GetSnapshotRequest(filter={}))

    def test_unknown_kind_name_is_a_value_error(self):
        with self.assertRaises(ValueError):
            self.client.snapshot(kinds=["facts"])

    def test_unreachable_server_is_unavailable(self):
        with Client("127.0.0.1:1", timeout=_WAIT) as client:
            with self.assertRaises(grpc.RpcError) as cm:
                client.snapshot()
        self.assertEqual(cm.exception.code(), grpc.StatusCode.UNAVAILABLE)

    def test_servers_from_a_list_or_a_comma_string(self):
        with Client(" a:1, b:2") as client:
            self.assertEqual(client.servers, ["a:1", "b:2"])
            self.assertEqual(client.server, "a:1")
        with Client(["a:1", "b:2"]) as client:
            self.assertEqual(client.servers, ["a:1", "b:2"])
        for bad in ("", "a:1,,b:2", "a:1,", ["a:1", " "], []):
            with self.assertRaises(ValueError, msg=repr(bad)):
                Client(bad)

    def test_a_dead_first_server_is_skipped_and_reported(self):
        moves = []
        with Client(["127.0.0.1:1", self.address], timeout=_WAIT,
                    on_failover=lambda *m: moves.append(m)) as client:
            self.seed(3)
            self.assertEqual(client.snapshot().sequence, 3)
            self.assertEqual(client.server, self.address)
            self.assertEqual(len(moves), 1)
            self.assertEqual(moves[0][:2], ("127.0.0.1:1", self.address))
            self.assertEqual(moves[0][2].code(), grpc.StatusCode.UNAVAILABLE)

    def test_publish_retry_moves_to_the_next_server_with_the_same_key(self):
        with Client(["127.0.0.1:1", self.address], timeout=_WAIT) as client:
            first = client.publish([model_pb2.Issuer(id="IIJ")], retry=True,
                                   publisher_id="p", batch_key="k",
                                   sleep=self.fail)  # No backoff: B is up.
            self.assertEqual(client.server, self.address)
        self.assertEqual(list(first.sequences), [1])
        request = self.last_request("Publish")
        self.assertEqual((request.publisher_id, request.batch_key), ("p", "k"))

    def test_a_refusal_does_not_fail_over(self):
        self.fake.publish_faults = [grpc.StatusCode.INVALID_ARGUMENT]
        with Client([self.address, "127.0.0.1:1"], timeout=_WAIT) as client:
            with self.assertRaises(grpc.RpcError) as cm:
                client.publish([model_pb2.Issuer(id="IIJ")], retry=True,
                               sleep=self.fail)
            self.assertEqual(cm.exception.code(),
                             grpc.StatusCode.INVALID_ARGUMENT)
            with self.assertRaises(grpc.RpcError) as cm:
                next(iter(client.subscribe(from_sequence=99)))
            self.assertEqual(cm.exception.code(),
                             grpc.StatusCode.OUT_OF_RANGE)
            self.assertEqual(client.server, self.address)

    # --- subscribe ---------------------------------------------------------

    def test_snapshot_then_live_flattens_batches_in_order(self):
        self.seed(5)  # 7 events in 4 batches of <= 2.
        sub = self.client.subscribe(timeout=_WAIT)
        self.addCleanup(sub.cancel)
        events = [next(sub) for _ in range(7)]
        self.assertEqual(events[0].snapshot_begin.sequence, 5)
        self.assertEqual([e.sequence for e in events[1:6]], [1, 2, 3, 4, 5])
        self.assertEqual(events[6].snapshot_end.sequence, 5)
        self.assertEqual(events[6].snapshot_end.item_count, 5)
        request = self.last_request("Subscribe")
        self.assertEqual(request.start, feed_pb2.START_MODE_SNAPSHOT_THEN_LIVE)
        self.assertEqual(request.from_sequence, 0)

        self.client.publish([model_pb2.Issuer(id="LIVE1"),
                             model_pb2.Issuer(id="LIVE2"),
                             model_pb2.Issuer(id="LIVE3")])
        live = [next(sub) for _ in range(3)]
        self.assertEqual([e.sequence for e in live], [6, 7, 8])
        self.assertEqual([e.issuer.id for e in live],
                         ["LIVE1", "LIVE2", "LIVE3"])

    def test_subscribe_sends_filter(self):
        sub = self.client.subscribe(issuers=["IIJ", "11J"], concepts="revenue",
                                    kinds="fact", start="live", timeout=_WAIT)
        self.addCleanup(sub.cancel)
        request = self.last_request("Subscribe")
        self.seed(2)
        self.assertEqual(next(sub).issuer.id, "IIJ")  # X1 is filtered out.
        self.assertEqual(request.filter, feed_pb2.Filter(
            issuers=["IIJ", "11J"], concepts=["revenue"],
            event_kinds=[feed_pb2.EVENT_KIND_FACT]))
        self.assertEqual(request.start, feed_pb2.START_MODE_LIVE_ONLY)

    def test_from_sequence_resumes(self):
        self.seed(5)
        for n in (0, 3):
            with self.client.subscribe(from_sequence=n, timeout=_WAIT) as sub:
                got = [next(sub).sequence for _ in range(5 - n)]
            self.assertEqual(got, list(range(n + 1, 6)))
            request = self.last_request("Subscribe")
            self.assertEqual(request.start, feed_pb2.START_MODE_FROM_SEQUENCE)
            self.assertEqual(request.from_sequence, n)
        with self.client.subscribe(start="from_sequence", from_sequence=4,
                                   timeout=_WAIT) as sub:
            self.assertEqual(next(sub).sequence, 5)

    def test_bad_start_arguments_are_value_errors(self):
        with self.assertRaises(ValueError):
            self.client.subscribe(start="from_sequence")
        with self.assertRaises(ValueError):
            self.client.subscribe(start="snapshot", from_sequence=3)
        with self.assertRaises(ValueError):
            self.client.subscribe(start="beginning")
        self.assertTrue(self.fake.requests.empty())

    def test_refused_subscription_raises_rpc_error(self):
        sub = self.client.subscribe(issuers=["NOPE"], timeout=_WAIT)
        with self.assertRaises(grpc.RpcError) as cm:
            next(sub)
        self.assertEqual(cm.exception.code(), grpc.StatusCode.INVALID_ARGUMENT)
        self.assertIn("NOPE", cm.exception.details())

        self.seed(1)
        sub = self.client.subscribe(from_sequence=9, timeout=_WAIT)
        with self.assertRaises(grpc.RpcError) as cm:
            list(sub)
        self.assertEqual(cm.exception.code(), grpc.StatusCode.OUT_OF_RANGE)

    def test_clean_end_of_stream_ends_iteration(self):
        self.fake.end_after_replay = True
        self.seed(3)
        events = list(self.client.subscribe(timeout=_WAIT))
        self.assertEqual(len(events), 5)

    def _read_in_thread(self, sub):
        """Iterates sub in a thread; returns (done event, outcome queue)."""
        outcome = queue.Queue()

        def run():
            try:
                outcome.put(("events", list(sub)))
            except BaseException as e:  # pylint: disable=broad-except
                outcome.put(("error", e))

        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        return thread, outcome

    def test_cancel_from_another_thread_ends_iteration_quietly(self):
        sub = self.client.subscribe(start="live", timeout=_WAIT)
        thread, outcome = self._read_in_thread(sub)
        self.last_request("Subscribe")  # The stream is open.
        self.seed(1)
        sub.cancel()
        kind, value = outcome.get(timeout=_WAIT)
        self.assertEqual(kind, "events", value)
        thread.join(_WAIT)
        self.assertFalse(thread.is_alive())
        self.assertTrue(sub.cancelled)
        with self.assertRaises(StopIteration):
            next(sub)

    def test_context_manager_closes_channel_and_subscriptions(self):
        with Client(self.address, timeout=_WAIT) as client:
            sub = client.subscribe(start="live", timeout=_WAIT)
            thread, outcome = self._read_in_thread(sub)
            self.last_request("Subscribe")
        kind, value = outcome.get(timeout=_WAIT)
        self.assertEqual(kind, "events", value)
        thread.join(_WAIT)
        with self.assertRaises(ValueError):  # grpc: closed channel.
            client.snapshot()


class BackoffTest(unittest.TestCase):

    def test_ceiling_doubles_from_the_base_up_to_the_cap(self):
        b = resume.Backoff()
        self.assertEqual([round(b.ceiling(n), 6) for n in range(8)],
                         [0.1, 0.2, 0.4, 0.8, 1.6, 3.2, 5.0, 5.0])
        self.assertEqual(b.ceiling(10_000), 5.0)

    def test_full_jitter_scales_the_ceiling_by_the_draw(self):
        draws = iter([0.0, 0.5, 1.0, 2.0, -1.0])
        b = resume.Backoff(random=lambda: next(draws))
        self.assertEqual([round(b.next_delay(), 6) for _ in range(5)],
                         [0.0, 0.1, 0.4, 0.8, 0.0])
        self.assertEqual(b.attempts, 5)

    def test_default_random_stays_in_bounds_and_varies(self):
        b = resume.Backoff(max_attempts=0)
        delays = []
        for _ in range(50):
            ceiling = b.ceiling(b.attempts)
            delay = b.next_delay()
            self.assertTrue(0 <= delay <= ceiling, (delay, ceiling))
            delays.append(delay)
        self.assertGreater(len(set(delays)), 40)

    def test_exhausted_after_max_attempts_until_reset(self):
        b = resume.Backoff(max_attempts=2, random=lambda: 1.0)
        b.next_delay()
        self.assertFalse(b.exhausted())
        b.next_delay()
        self.assertTrue(b.exhausted())
        b.reset()
        self.assertFalse(b.exhausted())
        self.assertEqual(b.next_delay(), 0.1)


def _ev(sequence, body="issuer", value=0):
    if body == "issuer":
        return feed_pb2.FeedEvent(sequence=sequence,
                                  issuer=model_pb2.Issuer(id=f"I{sequence}"))
    if body == "begin":
        return feed_pb2.FeedEvent(snapshot_begin={"sequence": value})
    if body == "end":
        return feed_pb2.FeedEvent(snapshot_end={"sequence": value})
    if body == "heartbeat":
        return feed_pb2.FeedEvent(heartbeat={"last_sequence": value})
    if body == "conflated":
        return feed_pb2.FeedEvent(conflated={"skipped_count": 1})
    if body == "resync":
        return feed_pb2.FeedEvent(resync={"requested_sequence": value})
    raise ValueError(body)


class TrackerTest(unittest.TestCase):
    """The gap/duplicate rule."""

    def tracker(self, start=feed_pb2.START_MODE_FROM_SEQUENCE, at=5,
                **filter_kwargs):
        return resume.Tracker(feed_pb2.SubscribeRequest(
            start=start, from_sequence=at,
            filter=feed_pb2.Filter(**filter_kwargs)))

    def test_duplicates_are_dropped_and_a_gap_raises(self):
        t = self.tracker()
        self.assertTrue(t.accept(_ev(6)))
        self.assertFalse(t.accept(_ev(6)))
        self.assertFalse(t.accept(_ev(2)))
        with self.assertRaises(resume.SequenceError):
            t.accept(_ev(8))
        self.assertEqual(t.position, 6)
        self.assertEqual(t.next_request().from_sequence, 6)

    def test_a_resume_gives_back_the_incarnation_it_was_told(self):
        t = self.tracker(start=feed_pb2.START_MODE_SNAPSHOT_THEN_LIVE, at=0)
        t.accept(feed_pb2.FeedEvent(snapshot_begin=feed_pb2.SnapshotBegin(
            sequence=4, incarnation="sqlite-00000000000000aa")))
        t.accept(feed_pb2.FeedEvent(snapshot_end=feed_pb2.SnapshotEnd(sequence=4)))
        self.assertTrue(t.accept(_ev(5)))
        request = t.next_request()
        self.assertEqual(request.start, feed_pb2.START_MODE_FROM_SEQUENCE)
        self.assertEqual(request.from_sequence, 5)
        self.assertEqual(request.incarnation, "sqlite-00000000000000aa")
        t.accept(feed_pb2.FeedEvent(heartbeat=feed_pb2.Heartbeat(
            last_sequence=5, incarnation="nats-KESSAN-00000000000000bb")))
        self.assertEqual(t.next_request().incarnation,
                         "nats-KESSAN-00000000000000bb")

    def test_with_a_filter_jumps_are_other_events(self):
        t = self.tracker(concepts=["revenue"])
        self.assertTrue(t.accept(_ev(9)))
        self.assertTrue(t.accept(_ev(30)))
        self.assertFalse(t.accept(_ev(30)))

    def test_conflated_allows_jumps_until_the_next_heartbeat(self):
        t = self.tracker()
        t.accept(_ev(0, "conflated"))
        self.assertTrue(t.accept(_ev(9)))
        self.assertTrue(t.accept(_ev(12)))
        t.accept(_ev(0, "heartbeat", 12))
        with self.assertRaises(resume.SequenceError):
            t.accept(_ev(14))

    def test_snapshot_end_sets_the_position_and_a_cut_restarts_it(self):
        t = self.tracker(start=feed_pb2.START_MODE_SNAPSHOT_THEN_LIVE, at=0)
        self.assertIsNone(t.position)
        t.accept(_ev(0, "begin", 10))
        for s in (3, 9, 1):
            self.assertTrue(t.accept(_ev(s)))
        t.stream_ended()
        self.assertEqual(t.next_request().start,
                         feed_pb2.START_MODE_SNAPSHOT_THEN_LIVE)
        t.accept(_ev(0, "begin", 10))
        t.accept(_ev(0, "end", 10))
        self.assertTrue(t.accept(_ev(11)))
        request = t.next_request()
        self.assertEqual((request.start, request.from_sequence),
                         (feed_pb2.START_MODE_FROM_SEQUENCE, 11))

    def test_resync_then_snapshot(self):
        t = self.tracker(at=3)
        t.accept(_ev(0, "resync", 3))
        self.assertEqual(t.next_request().start,
                         feed_pb2.START_MODE_SNAPSHOT_THEN_LIVE)
        t.accept(_ev(0, "begin", 50))
        t.accept(_ev(44))
        t.accept(_ev(0, "end", 50))
        self.assertTrue(t.accept(_ev(51)))

    def test_retryable_codes(self):
        self.assertTrue(resume.is_retryable(grpc.StatusCode.UNAVAILABLE))
        self.assertTrue(resume.is_retryable(
            grpc.StatusCode.RESOURCE_EXHAUSTED, "... from_sequence=4"))
        self.assertFalse(resume.is_retryable(
            grpc.StatusCode.RESOURCE_EXHAUSTED, "message too large"))
        for code in (grpc.StatusCode.INVALID_ARGUMENT,
                     grpc.StatusCode.OUT_OF_RANGE,
                     grpc.StatusCode.PERMISSION_DENIED,
                     grpc.StatusCode.UNAUTHENTICATED):
            self.assertFalse(resume.is_retryable(code), code)


class ResumingClientTest(ClientTest.__bases__[0]):
    """Client.subscribe(reconnect=True) and publish(retry=True) against the
    fake, with faults injected."""

    setUp = ClientTest.setUp
    last_request = ClientTest.last_request
    seed = ClientTest.seed

    def subscribe(self, **kwargs):
        self.notices = []
        self.sleeps = []
        kwargs.setdefault("backoff", resume.Backoff(random=lambda: 0.5))
        sub = self.client.subscribe(
            reconnect=True, on_notice=self.notices.append,
            sleep=self.sleeps.append, timeout=_WAIT, **kwargs)
        self.addCleanup(sub.cancel)
        return sub

    def test_resumes_after_the_last_sequence_without_duplicates(self):
        self.seed(5)
        unavailable = (grpc.StatusCode.UNAVAILABLE, "connection lost")
        self.fake.subscribe_faults = [(3, *unavailable), (1, *unavailable)]
        sub = self.subscribe(from_sequence=0)
        self.assertEqual([next(sub).sequence for _ in range(5)],
                         [1, 2, 3, 4, 5])
        requests = []
        while len(requests) < 3:
            name, request = self.fake.requests.get(timeout=_WAIT)
            if name == "Subscribe":
                requests.append(request)
        self.assertEqual([r.from_sequence for r in requests], [0, 3, 4])
        self.assertTrue(all(r.heartbeat_interval_ms == 5000 for r in requests))
        self.assertEqual([n.kind for n in self.notices],
                         ["disconnected", "resumed", "disconnected",
                          "resumed"])
        self.assertEqual(self.notices[0].resume_from, 3)
        self.assertEqual(self.notices[0].code, grpc.StatusCode.UNAVAILABLE)
        self.assertEqual(self.sleeps, [0.05, 0.05])  # Progress resets.
        # Live events continue on the resumed stream.
        self.client.publish(model_pb2.Issuer(id="LIVE"))
        self.assertEqual(next(sub).sequence, 6)

    def test_a_cut_inside_the_snapshot_starts_it_over(self):
        self.seed(3)
        self.fake.subscribe_faults = [
            (2, grpc.StatusCode.UNAVAILABLE, "cut")]
        sub = self.subscribe()
        bodies = [next(sub).WhichOneof("body") for _ in range(2 + 5)]
        self.assertEqual(bodies, ["snapshot_begin", "issuer",
                                  "snapshot_begin", "issuer", "issuer",
                                  "issuer", "snapshot_end"])
        self.assertTrue(self.notices[0].restart_snapshot)

    def test_refusals_raise_at_once(self):
        sub = self.subscribe(issuers=["NOPE"])
        with self.assertRaises(grpc.RpcError) as cm:
            next(sub)
        self.assertEqual(cm.exception.code(), grpc.StatusCode.INVALID_ARGUMENT)
        self.assertEqual(self.notices, [])

    def test_gives_up_after_max_attempts_without_progress(self):
        self.fake.subscribe_faults = [
            (0, grpc.StatusCode.UNAVAILABLE, "down")] * 4
        sub = self.subscribe(from_sequence=0, backoff=resume.Backoff(
            max_attempts=3, random=lambda: 1.0))
        with self.assertRaises(grpc.RpcError) as cm:
            next(sub)
        self.assertEqual(cm.exception.code(), grpc.StatusCode.UNAVAILABLE)
        self.assertEqual([round(d, 6) for d in self.sleeps], [0.1, 0.2, 0.4])

    def test_slow_consumer_disconnect_is_resumed(self):
        self.seed(3)
        self.fake.subscribe_faults = [
            (2, grpc.StatusCode.RESOURCE_EXHAUSTED,
             "slow consumer: resume with from_sequence=2")]
        sub = self.subscribe(from_sequence=0)
        self.assertEqual([next(sub).sequence for _ in range(3)], [1, 2, 3])

    def test_a_stalled_stream_is_resumed(self):
        self.seed(2)
        self.fake.subscribe_faults = ["hang"]
        start = time.monotonic()
        sub = self.subscribe(from_sequence=0, heartbeat_ms=100)
        self.assertEqual([next(sub).sequence for _ in range(2)], [1, 2])
        self.assertGreaterEqual(time.monotonic() - start, 0.3)
        self.assertEqual(self.notices[0].code,
                         grpc.StatusCode.DEADLINE_EXCEEDED)

    def test_live_only_resumes_from_the_head_it_started_at(self):
        self.seed(4)
        sub = self.subscribe(start="live")  # Anchored at sequence 4 now.
        self.client.publish(model_pb2.Issuer(id="LIVE"))
        self.assertEqual(next(sub).sequence, 5)
        request = self.last_request("Subscribe")
        self.assertEqual((request.start, request.from_sequence),
                         (feed_pb2.START_MODE_FROM_SEQUENCE, 4))

    def test_cancel_ends_iteration_quietly(self):
        sub = self.subscribe(from_sequence=0)
        thread, outcome = ClientTest._read_in_thread(self, sub)
        self.last_request("Subscribe")
        sub.cancel()
        kind, value = outcome.get(timeout=_WAIT)
        self.assertEqual((kind, value), ("events", []))
        thread.join(_WAIT)

    def test_publish_retry_fills_the_identity_and_applies_once(self):
        self.fake.publish_faults = [
            grpc.StatusCode.UNAVAILABLE,
            ("after", grpc.StatusCode.DEADLINE_EXCEEDED)]
        sleeps = []
        response = self.client.publish(
            model_pb2.Issuer(id="IIJ"), retry=True, sleep=sleeps.append,
            backoff=resume.Backoff(random=lambda: 1.0))
        self.assertTrue(response.duplicate)
        self.assertEqual(list(response.sequences), [1])
        self.assertEqual(len(self.fake.journal), 1)  # Applied once.
        sent = [self.last_request("Publish") for _ in range(3)]
        self.assertTrue(sent[0].publisher_id.startswith("kessan-py-"))
        self.assertEqual(len(sent[0].batch_key), 32)
        self.assertEqual({(r.publisher_id, r.batch_key) for r in sent},
                         {(sent[0].publisher_id, sent[0].batch_key)})
        self.assertEqual([round(d, 6) for d in sleeps], [0.1, 0.2])

    def test_publish_keeps_a_given_identity_and_refusals_raise(self):
        ready = feed_pb2.PublishRequest(
            items=[feed_pb2.PublishItem(issuer=model_pb2.Issuer(id="IIJ"))])
        self.client.publish(ready, publisher_id="desk", batch_key="b1",
                            retry=True)
        self.assertEqual(ready.publisher_id, "")  # The caller's is untouched.
        sent = self.last_request("Publish")
        self.assertEqual((sent.publisher_id, sent.batch_key), ("desk", "b1"))
        again = self.client.publish(ready, publisher_id="desk", batch_key="b1")
        self.assertTrue(again.duplicate)
        with self.assertRaises(grpc.RpcError) as cm:
            self.client.publish([_fact(issuer="")], retry=True)
        self.assertEqual(cm.exception.code(), grpc.StatusCode.INVALID_ARGUMENT)

    def test_view_and_policy_reach_the_request(self):
        import datetime  # pylint: disable=import-outside-toplevel
        sub = self.client.subscribe(
            start="live", policy="conflate", view="first", heartbeat_ms=250,
            timeout=_WAIT)
        self.addCleanup(sub.cancel)
        request = self.last_request("Subscribe")
        self.assertEqual(request.slow_consumer_policy,
                         feed_pb2.SLOW_CONSUMER_POLICY_CONFLATE)
        self.assertEqual(request.point_in_time.view,
                         feed_pb2.REVISION_VIEW_FIRST_REPORTED)
        self.assertEqual(request.heartbeat_interval_ms, 250)
        when = datetime.datetime(2003, 5, 20, tzinfo=datetime.timezone.utc)
        self.client.snapshot(as_of=when)
        pit = self.last_request("GetSnapshot").point_in_time
        self.assertEqual(pit.view, feed_pb2.REVISION_VIEW_AS_OF)
        self.assertEqual(pit.as_of.seconds, 1053388800)
        with self.assertRaises(ValueError):
            self.client.snapshot(view="as_of")
        with self.assertRaises(ValueError):
            self.client.subscribe(policy="drop")


class StubLookupTest(unittest.TestCase):
    """import_stubs() in a fresh interpreter, to control sys.path."""

    def run_python(self, code, gen):
        env = {k: v for k, v in os.environ.items() if k != "KESSAN_PY_GEN"}
        env["PYTHONPATH"] = str(_CLIENT_DIR)
        env["PYTHONDONTWRITEBYTECODE"] = "1"
        if gen is not None:
            env["KESSAN_PY_GEN"] = gen
        return subprocess.run([sys.executable, "-c", code], env=env,
                              capture_output=True, text=True, timeout=60,
                              cwd=tempfile.gettempdir())

    def test_env_var_names_the_stub_dir(self):
        r = self.run_python(
            "import kessan_client; print(kessan_client.feed_pb2.__file__)",
            str(_GEN_DIR))
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(pathlib.Path(r.stdout.strip()).resolve(),
                         _GEN_DIR / "kessan" / "v1" / "feed_pb2.py")

    def test_missing_stubs_name_the_dir(self):
        with tempfile.TemporaryDirectory() as empty:
            r = self.run_python("import kessan_client", empty)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("ImportError", r.stderr)
        self.assertIn(empty, r.stderr)
        self.assertIn("KESSAN_PY_GEN", r.stderr)

    def test_default_is_build_python_under_the_repo_root(self):
        # _stubs.py alone: the package's __init__ would need the stubs.
        stubs_py = _CLIENT_DIR / "kessan_client" / "_stubs.py"
        r = self.run_python(
            "import importlib.util, sys\n"
            "spec = importlib.util.spec_from_file_location(\n"
            f"    's', {str(stubs_py)!r})\n"
            "stubs = importlib.util.module_from_spec(spec)\n"
            "spec.loader.exec_module(stubs)\n"
            "try:\n  stubs.import_stubs()\nexcept ImportError:\n  pass\n"
            "print(sys.path[0])", None)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout.strip(), str(_REPO / "build" / "python"))


class ExampleScriptTest(unittest.TestCase):
    """clients/python/examples/subscribe.py against the fake."""

    def setUp(self):
        self.fake = FakeFeed()
        self.fake.end_after_replay = True
        self.server = grpc.server(
            concurrent.futures.ThreadPoolExecutor(max_workers=4))
        feed_pb2_grpc.add_FeedServiceServicer_to_server(self.fake, self.server)
        port = self.server.add_insecure_port("127.0.0.1:0")
        self.address = f"127.0.0.1:{port}"
        self.server.start()
        self.addCleanup(lambda: self.server.stop(None).wait(_WAIT))
        with Client(self.address) as client:
            client.publish([model_pb2.Issuer(id="IIJ"), _fact(),
                            model_pb2.Issuer(id="X1")])

    def run_script(self, *args):
        env = dict(os.environ, KESSAN_PY_GEN=str(_GEN_DIR),
                   PYTHONDONTWRITEBYTECODE="1")
        return subprocess.run(
            [sys.executable, str(_CLIENT_DIR / "examples" / "subscribe.py"),
             "--server", self.address, *args],
            env=env, capture_output=True, text=True, timeout=60)

    def test_prints_one_json_line_per_event(self):
        r = self.run_script("--issuer", "IIJ", "--concept", "revenue")
        self.assertEqual(r.returncode, 0, r.stderr)
        lines = r.stdout.splitlines()
        events = [json.loads(line) for line in lines]
        self.assertEqual(len(events), 4)  # Begin, 2 IIJ items, End.
        self.assertIn("snapshotBegin", events[0])
        self.assertEqual(events[2]["fact"]["key"]["conceptId"], "revenue")
        self.assertEqual(events[2]["sequence"], "2")  # uint64 as a string.
        self.assertIn("snapshotEnd", events[3])
        request = self.fake.requests.get(timeout=_WAIT)
        while request[0] != "Subscribe":
            request = self.fake.requests.get(timeout=_WAIT)
        self.assertEqual(list(request[1].filter.issuers), ["IIJ"])
        self.assertEqual(list(request[1].filter.concepts), ["revenue"])

    def test_from_sequence(self):
        r = self.run_script("--from", "1")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual([json.loads(l)["sequence"]
                          for l in r.stdout.splitlines()], ["2", "3"])

    def test_rpc_error_exits_1(self):
        r = self.run_script("--issuer", "NOPE")
        self.assertEqual(r.returncode, 1)
        self.assertIn("INVALID_ARGUMENT", r.stderr)

    def test_reconnects_after_a_lost_stream(self):
        self.fake.subscribe_faults = [
            (1, grpc.StatusCode.UNAVAILABLE, "connection lost")]
        r = self.run_script("--from", "0")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual([json.loads(l)["sequence"]
                          for l in r.stdout.splitlines()], ["1", "2", "3"])
        self.assertIn("subscribe: stream ended (UNAVAILABLE: connection "
                      "lost); reconnecting in", r.stderr)
        self.assertIn("resuming after sequence 1", r.stderr)
        self.assertIn("subscribe: reconnected (attempt 1)", r.stderr)

    def test_no_reconnect_exits_1_at_the_first_error(self):
        self.fake.subscribe_faults = [
            (1, grpc.StatusCode.UNAVAILABLE, "connection lost")]
        r = self.run_script("--from", "0", "--no-reconnect")
        self.assertEqual(r.returncode, 1)
        self.assertEqual(len(r.stdout.splitlines()), 1)
        self.assertIn("UNAVAILABLE", r.stderr)

    def test_bad_from_is_a_usage_error(self):
        r = self.run_script("--from", "yesterday")
        self.assertEqual(r.returncode, 2)


if __name__ == "__main__":
    unittest.main()
