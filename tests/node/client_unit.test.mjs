// The Node client's rules without a server: backoff, sequence tracking,
// server lists, filters and error codes (tests/python/test_client_unit.py's
// counterparts).
import assert from "node:assert/strict";
import { test } from "node:test";
import { kessan } from "./kessand.mjs";

const { Backoff, Code, ConnectError, SequenceError, Tracker, create, isRetryable, makeFilter, parseServers,
  toConnectError } = kessan;

function event(sequence, body = { case: "fact", value: create(kessan.FactSchema) }) {
  return create(kessan.FeedEventSchema, { sequence: BigInt(sequence), body });
}
const mark = (kind, value = {}) => event(0, { case: kind, value });

test("backoff: capped exponential ceilings, full jitter, attempt limit", () => {
  const b = new Backoff({ initialMs: 100, maxMs: 1000, maxAttempts: 5, random: () => 0.999999 });
  assert.deepEqual([0, 1, 2, 3, 4, 10].map((n) => b.ceiling(n)), [100, 200, 400, 800, 1000, 1000]);
  const delays = [];
  while (!b.exhausted()) delays.push(b.nextDelayMs());
  assert.equal(delays.length, 5);
  delays.forEach((d, n) => assert.ok(d <= b.ceiling(n) && d > b.ceiling(n) * 0.99, `${n}: ${d}`));
  b.reset();
  assert.equal(b.attempts, 0);
  assert.equal(new Backoff({ random: () => 0 }).nextDelayMs(), 0);
  const unlimited = new Backoff({ maxAttempts: 0 });
  for (let i = 0; i < 100; i++) unlimited.nextDelayMs();
  assert.equal(unlimited.exhausted(), false);
  assert.ok(new Backoff().ceiling(100) === 5000, "default cap is 5 s");
});

test("tracker: duplicates are dropped, a gap is a SequenceError", () => {
  const t = new Tracker(create(kessan.SubscribeRequestSchema, { start: kessan.StartMode.FROM_SEQUENCE,
    fromSequence: 10n }));
  assert.equal(t.position, 10n);
  assert.equal(t.accept(event(9)), false);
  assert.equal(t.accept(event(10)), false);
  assert.equal(t.duplicates, 2);
  assert.equal(t.accept(event(11)), true);
  assert.equal(t.position, 11n);
  assert.throws(() => t.accept(event(13)), SequenceError);
  // After a Conflated mark a jump is allowed, until the next heartbeat.
  t.accept(mark("conflated"));
  assert.equal(t.accept(event(20)), true);
  t.accept(mark("heartbeat", { incarnation: "inc-2" }));
  assert.equal(t.incarnation, "inc-2");
  assert.throws(() => t.accept(event(22)), /gap in the feed: sequence 22 follows 20/);
  // The resume asks for the rest, with the incarnation.
  const next = t.nextRequest();
  assert.equal(next.start, kessan.StartMode.FROM_SEQUENCE);
  assert.equal(next.fromSequence, 20n);
  assert.equal(next.incarnation, "inc-2");
});

test("tracker: a filtered feed may skip sequences; a cut snapshot starts over", () => {
  const t = new Tracker(create(kessan.SubscribeRequestSchema, { filter: { concepts: ["revenue"] } }));
  assert.equal(t.accept(mark("snapshotBegin", { sequence: 30n, incarnation: "inc-1" })), true);
  assert.equal(t.accept(event(13)), true); // Snapshot items are not checked.
  t.streamEnded(); // Cut inside the snapshot.
  assert.equal(t.snapshotPending, true);
  assert.equal(t.nextRequest().start, kessan.StartMode.SNAPSHOT_THEN_LIVE);
  t.accept(mark("snapshotBegin", { sequence: 30n }));
  t.accept(mark("snapshotEnd", { sequence: 30n }));
  assert.equal(t.position, 30n);
  assert.equal(t.incarnation, "inc-1");
  assert.equal(t.accept(event(35)), true); // A jump: the filter skips others' events.
  const next = t.nextRequest();
  assert.equal(next.start, kessan.StartMode.FROM_SEQUENCE);
  assert.equal(next.fromSequence, 35n);
  assert.deepEqual(next.filter.concepts, ["revenue"]);
  // A Resync asks for a snapshot on the next stream.
  t.accept(mark("resync", { requestedSequence: 35n }));
  assert.equal(t.nextRequest().start, kessan.StartMode.SNAPSHOT_THEN_LIVE);
});

test("server lists: a list or a comma-separated string; an empty server is refused", () => {
  assert.deepEqual(parseServers("a:1, b:2"), ["a:1", "b:2"]);
  assert.deepEqual(parseServers(["a:1"]), ["a:1"]);
  assert.throws(() => parseServers("a:1,,b:2"), /empty server/);
  assert.throws(() => parseServers([]), /empty/);
  assert.throws(() => parseServers("http://a:1"), /without a scheme/);
  assert.throws(() => new kessan.KessanClient({ servers: "" }), TypeError);
});

test("filters: names of event kinds; a bad name or field is refused before any call", () => {
  const f = makeFilter({ issuers: "IIJ", kinds: ["fact", "EVENT_KIND_GUIDANCE", kessan.EventKind.ISSUER] });
  assert.deepEqual(f.issuers, ["IIJ"]);
  assert.deepEqual(f.eventKinds, [kessan.EventKind.FACT, kessan.EventKind.GUIDANCE, kessan.EventKind.ISSUER]);
  assert.throws(() => makeFilter({ kinds: "nope" }), /unknown event kind "nope"; expected one of issuer, segment/);
  assert.throws(() => makeFilter({ issuer: "IIJ" }), /unknown filter field "issuer"/);
  const client = new kessan.KessanClient({ servers: "127.0.0.1:1" });
  assert.throws(() => client.subscribe({}, { start: "from_sequence" }), /needs fromSequence/);
  assert.throws(() => client.subscribe({}, { start: "sideways" }), /unknown start/);
  assert.throws(() => client.subscribe({}, { view: "as_of" }), /needs asOf/);
  client.close();
});

test("errors: retryable codes as the Python client; a lost connection is UNAVAILABLE", () => {
  for (const code of [Code.Unavailable, Code.DeadlineExceeded, Code.Aborted, Code.Internal, Code.Unknown]) {
    assert.equal(isRetryable(code, ""), true, Code[code]);
  }
  for (const code of [Code.InvalidArgument, Code.OutOfRange, Code.PermissionDenied, Code.Unauthenticated,
    Code.NotFound, Code.FailedPrecondition, Code.Canceled]) {
    assert.equal(isRetryable(code, ""), false, Code[code]);
  }
  assert.equal(isRetryable(Code.ResourceExhausted, "slow consumer; resume with from_sequence=42"), true);
  assert.equal(isRetryable(Code.ResourceExhausted, "rate limit"), false);

  const reset = Object.assign(new Error("read ECONNRESET"), { code: "ECONNRESET" });
  assert.equal(toConnectError(new ConnectError("x", Code.Aborted, undefined, undefined, reset)).code,
    Code.Unavailable);
  // A stream the connection's end cancelled, not the caller.
  assert.equal(toConnectError(new ConnectError("stream closed", Code.Canceled)).code, Code.Unavailable);
  assert.equal(toConnectError(new ConnectError("stream closed", Code.Canceled), true).code, Code.Canceled);
  const refusal = new ConnectError("items[0].fact.key.issuer: required", Code.InvalidArgument);
  assert.equal(toConnectError(refusal), refusal);
});

test("publish refuses what is not a publishable message before any call", async () => {
  const client = new kessan.KessanClient({ servers: "127.0.0.1:1" });
  await assert.rejects(client.publish([{ key: {} }]), /cannot publish a object/);
  await assert.rejects(client.publish(create(kessan.FilterSchema)), /cannot publish a kessan.v1.Filter/);
  await assert.rejects(client.runScenario("dilution", { params: { x: [1] } }), /parameter x/);
  client.close();
});
