"""End-to-end tests of a real kessand through the Python client.

Each test starts its own kessand on 127.0.0.1 (a free port), with an empty
temporary --data_dir seeded from the IIJ 4Q02/FY2002 data set, and kills it
afterwards. Environment (set by tests/python/CMakeLists.txt):
  KESSAN_KESSAND       the kessand binary (tests are skipped if unset)
  KESSAN_SEED_DATASET  data/iij/iij_4q02_fy2002.txtpb
  KESSAN_PY_GEN        <build>/python, the generated kessan.v1 stubs
  PYTHONPATH           must include clients/python
Every wait is bounded; a stream is read by a thread into a queue.
"""

import importlib.util
import os
import pathlib
import queue
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest

import grpc

_REPO = pathlib.Path(__file__).resolve().parents[2]
if importlib.util.find_spec("kessan_client") is None:
    # Run by hand without PYTHONPATH.
    sys.path.insert(0, str(_REPO / "clients" / "python"))

from kessan_client import Backoff, Client, model_pb2, types_pb2

_KESSAND = os.environ.get("KESSAN_KESSAND")
_SEED = os.environ.get(
    "KESSAN_SEED_DATASET",
    str(_REPO / "data" / "iij" / "iij_4q02_fy2002.txtpb"))
_START_TIMEOUT = 30.0  # Seconds for kessand to load the seed and serve.
_WAIT = 10.0  # Seconds: bound on waiting for any one event or RPC.
_STREAM_DEADLINE = 60.0  # Seconds: outer bound on every Subscribe stream.

_REVISED_UNITS = 13_100_000_000


def _free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _is_4q02_revenue(event):
    """The whole-company revenue fact of IIJ's 4Q02 (FY2002 Q4)."""
    if event.WhichOneof("body") != "fact":
        return False
    key = event.fact.key
    return (key.issuer == "IIJ" and key.concept_id == "revenue"
            and key.segment == ""
            and key.comparison_period == types_pb2.FiscalPeriod()
            and key.period.fiscal_year == 2002
            and key.period.kind == types_pb2.PERIOD_KIND_QUARTER
            and key.period.number == 4)


def _body(event):
    return event.WhichOneof("body")


class _End:
    """Queued by StreamReader when the stream ends cleanly."""


class StreamReader:
    """Reads a kessan_client Subscription in a daemon thread into a queue,
    so that the test never blocks without a bound."""

    def __init__(self, subscription):
        self.subscription = subscription
        self.queue = queue.Queue()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        try:
            for event in self.subscription:
                self.queue.put(event)
            self.queue.put(_End())
        except BaseException as e:  # pylint: disable=broad-except
            self.queue.put(e)

    def next(self, timeout=_WAIT):
        """The next FeedEvent; raises the stream's RpcError, or
        AssertionError on a timeout or a clean end of stream."""
        try:
            item = self.queue.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"no event within {timeout} s") from None
        if isinstance(item, _End):
            raise AssertionError("the stream ended")
        if isinstance(item, BaseException):
            raise item
        return item

    def read_until_snapshot_end(self, limit=10000):
        """Returns (SnapshotBegin event, items, SnapshotEnd event)."""
        begin = self.next()
        if _body(begin) != "snapshot_begin":
            raise AssertionError(f"first event is not SnapshotBegin: {begin}")
        items = []
        for _ in range(limit):
            event = self.next()
            if _body(event) == "snapshot_end":
                return begin, items, event
            items.append(event)
        raise AssertionError(f"no SnapshotEnd within {limit} events")

    def close(self):
        self.subscription.cancel()
        self.thread.join(_WAIT)
        if self.thread.is_alive():
            raise AssertionError("stream reader did not stop after cancel")


class LiveFeedTest(unittest.TestCase):

    def setUp(self):
        if not _KESSAND:
            self.skipTest("KESSAN_KESSAND is not set")
        self.assertTrue(os.path.isfile(_KESSAND) and
                        os.access(_KESSAND, os.X_OK),
                        f"KESSAN_KESSAND={_KESSAND!r} is not an executable")
        self.assertTrue(os.path.isfile(_SEED), f"no seed data set {_SEED!r}")
        log_dir = tempfile.TemporaryDirectory(prefix="kessan-log-")
        self.addCleanup(log_dir.cleanup)
        self.log_path = os.path.join(log_dir.name, "kessand.log")
        self.serving = None  # The kessand process that serves this test.
        self.address = self._start_kessand()
        self.client = Client(self.address, timeout=_WAIT)
        self.addCleanup(self.client.close)

    # --- kessand -----------------------------------------------------------

    def _start_kessand(self):
        """Starts kessand and waits until GetSnapshot answers. A port taken
        between _free_port() and kessand's bind costs a retry."""
        for _ in range(3):
            data_dir = tempfile.TemporaryDirectory(prefix="kessan-data-")
            self.addCleanup(data_dir.cleanup)
            address = f"127.0.0.1:{_free_port()}"
            self.kessand_args = [_KESSAND, "--listen", address,
                                 "--data_dir", data_dir.name, "--seed", _SEED]
            proc = self._spawn_kessand()
            if self._wait_serving(proc, address):
                self.serving = proc
                return address
            if "in use" not in self._log().lower():
                break
        self.fail(f"kessand exited with status {proc.returncode} before "
                  f"serving; its output:\n{self._log()}")

    def _spawn_kessand(self):
        with open(self.log_path, "ab") as log:
            log.write(f"--- {' '.join(self.kessand_args[1:3])}\n".encode())
            log.flush()
            proc = subprocess.Popen(
                self.kessand_args, stdin=subprocess.DEVNULL, stdout=log,
                stderr=subprocess.STDOUT)
        self.addCleanup(self._stop_kessand, proc)
        return proc

    def kill_and_restart(self, pause=0.3):
        """SIGKILLs the serving kessand and starts it again on the same port
        and journal."""
        proc, self.serving = self.serving, None  # Its death is intended.
        proc.kill()
        proc.wait(timeout=10)
        time.sleep(pause)
        proc = self._spawn_kessand()
        if not self._wait_serving(proc, self.address):
            self.fail(f"kessand did not restart; its output:\n{self._log()}")
        self.serving = proc

    def move_to(self, address):
        """SIGKILLs the serving kessand and starts a replica on its journal
        at `address` (two kessands may not share a data dir at once)."""
        proc, self.serving = self.serving, None  # Its death is intended.
        proc.kill()
        proc.wait(timeout=10)
        self.kessand_args[2] = address  # --listen
        proc = self._spawn_kessand()
        if not self._wait_serving(proc, address):
            self.fail(f"kessand did not start on {address}; its output:\n"
                      f"{self._log()}")
        self.serving = proc

    def _wait_serving(self, proc, address):
        """True once GetSnapshot answers; False if kessand exits first."""
        deadline = time.monotonic() + _START_TIMEOUT
        last_error = None
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                return False
            # A fresh channel per try: no reconnect backoff to wait out.
            with Client(address, timeout=1.0) as probe:
                try:
                    probe.snapshot()
                    return True
                except grpc.RpcError as e:
                    last_error = e
            time.sleep(0.1)
        self.fail(f"kessand did not serve within {_START_TIMEOUT} s (last "
                  f"error: {last_error}); its output:\n{self._log()}")

    def _stop_kessand(self, proc):
        if proc.poll() is not None:
            if proc is self.serving:  # It died during the test.
                raise AssertionError(
                    f"kessand died during the test with status "
                    f"{proc.returncode}; its output:\n{self._log()}")
            return
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)

    def _log(self, limit=20000):
        try:
            with open(self.log_path, "rb") as f:
                text = f.read().decode(errors="replace")
        except OSError:
            return "(no output)"
        return text[-limit:]

    # --- helpers -----------------------------------------------------------

    def subscribe(self, client=None, **kwargs):
        """Opens a stream on client (default self.client) read by a thread;
        closed at cleanup."""
        subscription = (client or self.client).subscribe(
            timeout=_STREAM_DEADLINE, **kwargs)
        reader = StreamReader(subscription)
        self.addCleanup(reader.close)
        return reader

    def second_client(self):
        client = Client(self.address, timeout=_WAIT)
        self.addCleanup(client.close)
        return client

    def original_revenue(self):
        """The 4Q02 revenue FeedEvent of the snapshot."""
        events = [e for e in self.client.snapshot(issuers=["IIJ"]).events
                  if _is_4q02_revenue(e)]
        self.assertEqual(len(events), 1, events)
        return events[0]

    @staticmethod
    def revision_of(fact):
        """fact's key with a new value, JPY 13.1 billion."""
        return model_pb2.Fact(
            key=fact.key,
            value=types_pb2.Value(
                money=types_pb2.Money(currency_code="JPY",
                                      units=_REVISED_UNITS),
                precision=types_pb2.Precision(
                    decimals=-8, qualifier=types_pb2.QUALIFIER_EQUAL)),
            provenance=types_pb2.Provenance(
                document=fact.provenance.document,
                line_start=fact.provenance.line_start,
                line_end=fact.provenance.line_end,
                quote=fact.provenance.quote,
                note="test revision"))

    # --- tests -------------------------------------------------------------

    def test_snapshot_holds_the_iij_figures(self):
        snapshot = self.client.snapshot()
        self.assertGreater(snapshot.sequence, 0)
        sequences = [e.sequence for e in snapshot.events]
        self.assertTrue(all(1 <= s <= snapshot.sequence for s in sequences),
                        sequences)
        self.assertEqual(len(set(sequences)), len(sequences))

        issuers = [e.issuer for e in snapshot.events if _body(e) == "issuer"]
        self.assertIn("IIJ", [i.id for i in issuers])

        revenue = [e for e in snapshot.events if _is_4q02_revenue(e)]
        self.assertEqual(len(revenue), 1, revenue)
        fact = revenue[0].fact
        self.assertEqual(fact.value.WhichOneof("kind"), "money")
        self.assertEqual(fact.value.money.currency_code, "JPY")
        self.assertEqual(fact.value.money.units, 13_000_000_000)
        self.assertEqual(fact.value.money.nanos, 0)
        self.assertEqual(fact.value.precision.decimals, -9)  # "JPY 13 billion"
        self.assertEqual(fact.revision, 1)
        self.assertEqual(fact.supersedes_sequence, 0)
        self.assertTrue(fact.HasField("known_at"))
        self.assertTrue(fact.provenance.quote)

        placements = [e.capital_action for e in snapshot.events
                      if _body(e) == "capital_action"
                      and e.capital_action.WhichOneof("kind") ==
                      "private_placement"]
        self.assertEqual(len(placements), 1, placements)
        action = placements[0]
        self.assertEqual(action.issuer, "IIJ")
        placement = action.private_placement
        self.assertEqual(placement.shares, 8400)
        self.assertEqual(placement.issue_price,
                         types_pb2.Money(currency_code="JPY", units=418_200))
        self.assertEqual(placement.amount_not_credited_per_share,
                         types_pb2.Money(currency_code="JPY", units=209_100))
        self.assertTrue(action.provenance.quote)

        # A filtered snapshot holds the same 4Q02 revenue, as of the same
        # sequence.
        filtered = self.client.snapshot(issuers=["IIJ"], concepts=["revenue"])
        self.assertEqual(filtered.sequence, snapshot.sequence)
        self.assertIn(revenue[0], filtered.events)
        for event in filtered.events:
            self.assertIn(_body(event), ("fact", "guidance"), event)
            key = getattr(event, _body(event)).key
            self.assertEqual((key.issuer, key.concept_id), ("IIJ", "revenue"))

    def test_live_revision_reaches_a_subscriber(self):
        state_sequence = self.client.snapshot().sequence
        reader = self.subscribe(issuers=["IIJ"], concepts=["revenue"],
                                start="snapshot")
        begin, items, end = reader.read_until_snapshot_end()
        s = end.snapshot_end.sequence
        self.assertEqual(s, state_sequence)
        self.assertEqual(begin.sequence, 0)  # Control events: sequence 0.
        self.assertEqual(begin.snapshot_begin.sequence, s)
        self.assertEqual(end.sequence, 0)
        self.assertEqual(end.snapshot_end.item_count, len(items))
        for event in items:
            self.assertTrue(1 <= event.sequence <= s, event)
            self.assertIn(_body(event), ("fact", "guidance"), event)
            key = getattr(event, _body(event)).key
            self.assertEqual((key.issuer, key.concept_id), ("IIJ", "revenue"))
        originals = [e for e in items if _is_4q02_revenue(e)]
        self.assertEqual(len(originals), 1, items)
        original = originals[0]

        # Publish a revision on another channel.
        publisher = self.second_client()
        revised = self.revision_of(original.fact)
        response = publisher.publish([revised])
        self.assertEqual(list(response.sequences), [s + 1])
        self.assertEqual(len(response.events), 1)
        committed = response.events[0]
        self.assertEqual(committed.sequence, s + 1)
        self.assertTrue(committed.HasField("time"))
        self.assertEqual(_body(committed), "fact")
        self.assertEqual(committed.fact.key, original.fact.key)
        self.assertEqual(committed.fact.value, revised.value)
        self.assertEqual(committed.fact.provenance.note, "test revision")
        self.assertEqual(committed.fact.revision, 2)
        self.assertEqual(committed.fact.supersedes_sequence, original.sequence)
        self.assertTrue(committed.fact.HasField("known_at"))

        # The subscriber gets it live, next after SnapshotEnd.
        live = reader.next()
        self.assertEqual(live.sequence, s + 1)
        self.assertEqual(_body(live), "fact")
        self.assertEqual(live.fact.revision, 2)
        self.assertEqual(live.fact.supersedes_sequence, original.sequence)
        self.assertEqual(live.fact.value.money.units, _REVISED_UNITS)
        self.assertEqual(live.fact.provenance.note, "test revision")
        self.assertEqual(live, committed)

        # The state moved to the revision.
        after = self.client.snapshot(issuers=["IIJ"], concepts=["revenue"])
        self.assertEqual(after.sequence, s + 1)
        latest = [e for e in after.events if _is_4q02_revenue(e)]
        self.assertEqual(latest, [committed])

    def test_invalid_publish_is_refused_whole(self):
        before = self.client.snapshot()
        original = self.original_revenue()

        bad = model_pb2.Fact()
        bad.CopyFrom(self.revision_of(original.fact))
        bad.key.issuer = ""
        with self.assertRaises(grpc.RpcError) as cm:
            self.client.publish([bad])
        error = cm.exception
        self.assertEqual(error.code(), grpc.StatusCode.INVALID_ARGUMENT,
                         error.details())
        self.assertIn("items[0]", error.details())
        self.assertIn("key.issuer", error.details())

        # A valid item before the bad one is not applied either.
        with self.assertRaises(grpc.RpcError) as cm:
            self.client.publish([self.revision_of(original.fact), bad])
        error = cm.exception
        self.assertEqual(error.code(), grpc.StatusCode.INVALID_ARGUMENT,
                         error.details())
        self.assertIn("items[1]", error.details())
        self.assertIn("key.issuer", error.details())

        after = self.client.snapshot()
        self.assertEqual(after.sequence, before.sequence)
        self.assertEqual(list(after.events), list(before.events))

    def test_unknown_issuer_in_filter_is_refused(self):
        reader = self.subscribe(issuers=["NOPE"])
        with self.assertRaises(grpc.RpcError) as cm:
            event = reader.next()
            self.fail(f"got an event instead of an error: {event}")
        self.assertEqual(cm.exception.code(), grpc.StatusCode.INVALID_ARGUMENT,
                         cm.exception.details())
        self.assertIn("NOPE", cm.exception.details())

    def test_resume_from_sequence(self):
        s = self.client.snapshot().sequence
        self.assertGreaterEqual(s, 4, "the seed should hold >= 4 events")
        k = s - 3

        full = self.subscribe(from_sequence=0)
        journal = [full.next() for _ in range(s)]
        self.assertEqual([e.sequence for e in journal], list(range(1, s + 1)))
        for event in journal:
            self.assertNotIn(_body(event),
                             ("snapshot_begin", "snapshot_end", None), event)
            self.assertTrue(event.HasField("time"), event)

        resumed = self.subscribe(from_sequence=k)
        replayed = [resumed.next() for _ in range(s - k)]
        self.assertEqual([e.sequence for e in replayed],
                         list(range(k + 1, s + 1)))
        self.assertEqual(replayed, journal[k:])

        at_end = self.subscribe(from_sequence=s)  # Nothing to replay.

        publisher = self.second_client()
        revised = self.revision_of(self.original_revenue().fact)
        response = publisher.publish([revised])
        self.assertEqual(list(response.sequences), [s + 1])
        for reader in (full, resumed, at_end):
            live = reader.next()
            self.assertEqual(live.sequence, s + 1)
            self.assertEqual(live, response.events[0])

    def test_resuming_subscriber_survives_a_kill_and_restart(self):
        head = self.client.snapshot().sequence
        notices = []
        subscription = self.client.subscribe(
            from_sequence=head, reconnect=True, on_notice=notices.append,
            heartbeat_ms=200, backoff=Backoff(initial=0.05, maximum=0.5,
                                              max_attempts=0),
            timeout=_STREAM_DEADLINE)
        reader = StreamReader(subscription)
        self.addCleanup(reader.close)
        publisher = self.second_client()
        original = self.original_revenue().fact

        def revision(units):
            fact = self.revision_of(original)
            fact.value.money.units = units
            return fact

        published = []
        for i in range(5):
            published += publisher.publish(
                [revision(13_000_000_000 + i * 100_000_000)],
                retry=True).sequences
        def next_journaled():
            while True:
                event = reader.next()
                if event.sequence > 0:
                    return event

        first = next_journaled()  # The stream is up and delivering.
        self.kill_and_restart()
        # A publish on a channel that saw the kill is retried until it is
        # applied, once.
        for i in range(5, 10):
            published += publisher.publish(
                [revision(13_000_000_000 + i * 100_000_000)],
                retry=True, publisher_id="py-live",
                batch_key=f"after-restart-{i}").sequences
        again = publisher.publish([revision(13_900_000_000)], retry=True,
                                  publisher_id="py-live",
                                  batch_key="after-restart-9")
        self.assertTrue(again.duplicate)
        self.assertEqual(list(published), list(range(head + 1, head + 11)))

        journaled = [first] + [next_journaled() for _ in range(9)]
        self.assertEqual([e.sequence for e in journaled], published)
        self.assertEqual(
            [e.fact.value.money.units for e in journaled],
            [13_000_000_000 + i * 100_000_000 for i in range(10)])
        kinds = [n.kind for n in notices]
        self.assertIn("disconnected", kinds)
        self.assertIn("resumed", kinds)
        self.assertNotIn("resync", kinds)
        # Nothing more: no duplicate arrives after the last event (only
        # heartbeats, for a second).
        deadline = time.monotonic() + 1.0
        while time.monotonic() < deadline:
            try:
                extra = reader.next(timeout=0.3)
            except AssertionError:
                break
            self.assertEqual(extra.sequence, 0, extra)

    def test_failover_to_a_replica_resumes_with_every_event_once(self):
        head = self.client.snapshot().sequence
        a, b = self.address, f"127.0.0.1:{_free_port()}"
        moves, notices = [], []
        subscriber = Client([a, b], timeout=_WAIT,
                            on_failover=lambda f, t, e: moves.append((f, t)))
        self.addCleanup(subscriber.close)
        reader = StreamReader(subscriber.subscribe(
            from_sequence=head, reconnect=True, on_notice=notices.append,
            heartbeat_ms=200, backoff=Backoff(initial=0.05, maximum=0.5,
                                              max_attempts=0),
            timeout=_STREAM_DEADLINE))
        self.addCleanup(reader.close)
        publisher = Client(f"{a},{b}", timeout=_WAIT)
        self.addCleanup(publisher.close)
        original = self.original_revenue().fact

        def publish(i, **kwargs):
            fact = self.revision_of(original)
            fact.value.money.units = 13_000_000_000 + i * 100_000_000
            return publisher.publish([fact], retry=True, **kwargs)

        def next_journaled():
            while True:
                event = reader.next()
                if event.sequence > 0:
                    return event

        published = []
        for i in range(5):
            published += publish(i).sequences
        first = next_journaled()  # The stream is up and delivering.
        self.move_to(b)
        # A's channel saw the kill: each publish goes to B, applied once.
        for i in range(5, 10):
            published += publish(i, publisher_id="py-failover",
                                 batch_key=f"moved-{i}").sequences
        self.assertEqual(publisher.server, b)
        again = publish(9, publisher_id="py-failover", batch_key="moved-9")
        self.assertTrue(again.duplicate)
        self.assertEqual(list(published), list(range(head + 1, head + 11)))

        journaled = [first] + [next_journaled() for _ in range(9)]
        self.assertEqual([e.sequence for e in journaled], published)
        self.assertEqual(
            [e.fact.value.money.units for e in journaled],
            [13_000_000_000 + i * 100_000_000 for i in range(10)])
        self.assertEqual(moves[0], (a, b))
        self.assertEqual(subscriber.server, b)
        resumed = [n for n in notices if n.kind == "resumed"]
        self.assertTrue(resumed and resumed[-1].server == b, notices)
        self.assertNotIn("resync", [n.kind for n in notices])

    def test_a_dead_first_server_is_skipped(self):
        head = self.client.snapshot().sequence
        dead = f"127.0.0.1:{_free_port()}"
        with Client([dead, self.address], timeout=_WAIT) as client:
            self.assertEqual(client.snapshot().sequence, head)
            self.assertEqual(client.server, self.address)
        with Client([dead, self.address], timeout=_WAIT) as client:
            subscription = client.subscribe(
                from_sequence=head - 2, reconnect=True,
                timeout=_STREAM_DEADLINE)
            reader = StreamReader(subscription)
            self.addCleanup(reader.close)
            self.assertEqual([reader.next().sequence for _ in range(2)],
                             [head - 1, head])

    def test_resume_past_the_end_is_out_of_range(self):
        s = self.client.snapshot().sequence
        reader = self.subscribe(from_sequence=s + 5)
        with self.assertRaises(grpc.RpcError) as cm:
            event = reader.next()
            self.fail(f"got an event instead of an error: {event}")
        self.assertEqual(cm.exception.code(), grpc.StatusCode.OUT_OF_RANGE,
                         cm.exception.details())


if __name__ == "__main__":
    unittest.main()
