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
import unittest

import grpc

_REPO = pathlib.Path(__file__).resolve().parents[2]
_CLIENT_DIR = _REPO / "clients" / "python"
if importlib.util.find_spec("kessan_client") is None:
    sys.path.insert(0, str(_CLIENT_DIR))  # Run without PYTHONPATH.

from kessan_client import Client, feed_pb2, feed_pb2_grpc, model_pb2, types_pb2

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

    def Publish(self, request, context):
        self.requests.put(("Publish", request))
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

    def test_bad_from_is_a_usage_error(self):
        r = self.run_script("--from", "yesterday")
        self.assertEqual(r.returncode, 2)


if __name__ == "__main__":
    unittest.main()
