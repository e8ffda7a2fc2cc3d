// The resuming subscription against fake FeedServices on 127.0.0.1 that play
// scripted streams: resync and a cut snapshot, the slow-consumer disconnect,
// a stalled stream that fails over, duplicates, a gap, running out of attempts.
import assert from "node:assert/strict";
import { createServer } from "node:http2";
import { afterEach, test } from "node:test";
import { freePort, kessan, requireFromClient } from "./kessand.mjs";

const { connectNodeAdapter } = requireFromClient("@connectrpc/connect-node");
const { ConnectError: ServerError, Code: ServerCode } = requireFromClient("@connectrpc/connect");
const { Backoff, Code, KessanClient, SequenceError, StartMode } = kessan;

const cleanups = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()();
});

const fact = (sequence) => ({ sequence: BigInt(sequence), body: { case: "fact", value: { revision: 1 } } });
const control = (kind, value) => ({ sequence: 0n, body: { case: kind, value } });

/**
 * A fake FeedService: each Subscribe plays the next script, a list of steps:
 * an array of events (one response), { fail: code, message }, or "hang".
 * `requests` records every SubscribeRequest.
 */
async function fakeServer(scripts) {
  const requests = [];
  const handler = connectNodeAdapter({
    routes: (router) => router.service(kessan.FeedService, {
      async *subscribe(request, context) {
        requests.push(request);
        const script = scripts.shift() ?? ["hang"];
        for (const step of script) {
          if (step === "hang") {
            await new Promise((res) => context.signal.addEventListener("abort", res, { once: true }));
            return;
          }
          if (step.fail !== undefined) throw new ServerError(step.message ?? "scripted", step.fail);
          yield { events: step };
        }
      },
      async getSnapshot() {
        return { sequence: 10n, incarnation: "inc-a" };
      },
      async publish() {
        throw new ServerError("not in this fake", ServerCode.Unimplemented);
      },
    }),
  });
  const server = createServer(handler);
  await new Promise((res) => server.listen(0, "127.0.0.1", res));
  const sessions = new Set();
  server.on("session", (s) => sessions.add(s));
  cleanups.push(() => new Promise((res) => {
    for (const s of sessions) s.destroy();
    server.close(res);
  }));
  return { address: `127.0.0.1:${server.address().port}`, requests };
}

function clientOf(options) {
  const client = new KessanClient({ timeoutMs: 5000, ...options });
  cleanups.push(() => client.close());
  return client;
}

/** Every event of `subscription` until `count` journaled ones (or its error). */
async function collect(subscription, count) {
  const events = [];
  for await (const event of subscription) {
    events.push(event);
    if (events.filter((e) => e.sequence > 0n).length >= count) break;
  }
  return events;
}

const quick = (maxAttempts = 0) => new Backoff({ initialMs: 10, maxMs: 50, maxAttempts });

test("a resync starts over with a snapshot, also when that snapshot is cut", async () => {
  const fake = await fakeServer([
    [[control("resync", { requestedSequence: 10n, oldestAvailableSequence: 20n, reason: "retention" }),
      control("snapshotBegin", { sequence: 25n, incarnation: "inc-b" }), fact(21)], { fail: ServerCode.Unavailable }],
    [[control("snapshotBegin", { sequence: 26n, incarnation: "inc-b" }), fact(21), fact(26),
      control("snapshotEnd", { sequence: 26n, itemCount: 2n })], [fact(27)]],
  ]);
  const notices = [];
  const client = clientOf({ servers: fake.address });
  const subscription = client.subscribe({}, { fromSequence: 10, incarnation: "inc-a", backoff: quick(),
    onNotice: (n) => notices.push(n) });
  const events = await collect(subscription, 5);
  assert.deepEqual(events.map((e) => e.body.case), ["resync", "snapshotBegin", "fact", "snapshotBegin", "fact",
    "fact", "snapshotEnd", "fact"]);
  assert.equal(subscription.position, 27n);
  assert.equal(subscription.incarnation, "inc-b");
  assert.deepEqual(notices.map((n) => n.kind), ["resync", "disconnected", "resumed"]);
  assert.equal(notices[0].resumeFrom, 10n);
  assert.equal(notices[1].restartSnapshot, true);
  assert.equal(notices[1].code, Code.Unavailable);
  assert.equal(fake.requests[0].start, StartMode.FROM_SEQUENCE);
  assert.equal(fake.requests[0].incarnation, "inc-a");
  assert.equal(fake.requests[1].start, StartMode.SNAPSHOT_THEN_LIVE); // The cut snapshot starts over.
});

test("the slow-consumer disconnect is resumed; duplicates are dropped; other RESOURCE_EXHAUSTED is thrown", async () => {
  const fake = await fakeServer([
    [[fact(11), control("heartbeat", { incarnation: "inc-a" }), fact(12)],
      { fail: ServerCode.ResourceExhausted, message: "slow consumer; resume with from_sequence=12" }],
    [[fact(11), fact(12), fact(13)], { fail: ServerCode.ResourceExhausted, message: "too many streams" }],
  ]);
  const notices = [];
  const client = clientOf({ servers: fake.address });
  const subscription = client.subscribe({}, { fromSequence: 10, backoff: quick(), onNotice: (n) => notices.push(n) });
  const seen = [];
  await assert.rejects((async () => {
    for await (const event of subscription) seen.push(event.sequence);
  })(), (e) => e.code === Code.ResourceExhausted && /too many streams/.test(e.rawMessage));
  assert.deepEqual(seen, [11n, 0n, 12n, 13n]);
  assert.equal(subscription.duplicates, 2);
  assert.equal(fake.requests[1].fromSequence, 12n);
  assert.equal(fake.requests[1].incarnation, "inc-a");
  assert.deepEqual(notices.map((n) => n.kind), ["disconnected", "resumed"]);
});

test("a stalled stream moves to the next server and resumes there", async () => {
  const a = await fakeServer([[[fact(11)], "hang"]]);
  const b = await fakeServer([[[fact(12)], "hang"]]);
  const moves = [];
  const notices = [];
  const client = clientOf({ servers: [a.address, b.address], onFailover: (from, to, e) => moves.push([from, to, e.code]) });
  const subscription = client.subscribe({}, {
    // A stall is 3 heartbeats of 400 ms without a response: far more than a first answer takes.
    fromSequence: 10, heartbeatMs: 400, stallHeartbeats: 3, backoff: quick(), onNotice: (n) => notices.push(n),
  });
  const events = await collect(subscription, 2);
  assert.deepEqual(events.map((e) => e.sequence), [11n, 12n]);
  assert.deepEqual(moves, [[a.address, b.address, Code.Unavailable]]);
  assert.equal(client.server, b.address);
  assert.equal(b.requests[0].fromSequence, 11n);
  const lost = notices.find((n) => n.kind === "disconnected");
  assert.equal(lost.code, Code.DeadlineExceeded);
  assert.match(lost.message, /stalled/);
  assert.equal(lost.delayMs, 0); // The next server at once.
  assert.equal(lost.server, b.address);
});

test("a gap in an unfiltered feed is a SequenceError; a filtered one may skip", async () => {
  const fake = await fakeServer([[[fact(11), fact(13)]], [[fact(11), fact(13)]]]);
  const client = clientOf({ servers: fake.address });
  await assert.rejects(collect(client.subscribe({}, { fromSequence: 10 }), 3), SequenceError);
  const filtered = await collect(client.subscribe({ concepts: "revenue" }, { fromSequence: 10 }), 2);
  assert.deepEqual(filtered.map((e) => e.sequence), [11n, 13n]);
});

test("refusals are thrown at once; attempts without progress run out", async () => {
  const fake = await fakeServer([[{ fail: ServerCode.PermissionDenied, message: "not entitled to ACME" }]]);
  const notices = [];
  const client = clientOf({ servers: fake.address });
  await assert.rejects(collect(client.subscribe({}, { onNotice: (n) => notices.push(n) }), 1),
    (e) => e.code === Code.PermissionDenied && e.rawMessage === "not entitled to ACME");
  assert.deepEqual(notices, []);

  const nobody = `127.0.0.1:${await freePort()}`;
  const lost = [];
  const gone = clientOf({ servers: nobody });
  await assert.rejects(collect(gone.subscribe({}, { fromSequence: 1, backoff: quick(3), connectTimeoutMs: 200,
    onNotice: (n) => lost.push(n) }), 1), (e) => e.code === Code.Unavailable);
  assert.deepEqual(lost.map((n) => n.kind), ["disconnected", "disconnected", "disconnected"]);

  // cancel() ends a subscription quietly, also while it waits to reconnect.
  const waiting = gone.subscribe({}, { fromSequence: 1, backoff: new Backoff({ initialMs: 60000, maxMs: 60000 }),
    onNotice: (n) => n.kind === "disconnected" && waiting.cancel() });
  assert.deepEqual(await collect(waiting, 1), []);
});
