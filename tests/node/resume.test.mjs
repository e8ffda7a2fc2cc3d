// The resuming subscription and the publish retry of the Node client across
// a killed kessand: restarted on its port, moved to a replica's address, and
// a dead first server. Every journaled event arrives once, in order.
import assert from "node:assert/strict";
import { afterEach, test } from "node:test";
import { Kessand, Reader, WAIT_MS, freePort, is4q02Revenue, kessan, revisionOf } from "./kessand.mjs";

const { Backoff, KessanClient } = kessan;
const cleanups = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()();
});

async function started() {
  const server = new Kessand();
  cleanups.push(() => server.stop());
  await server.start();
  return server;
}

function clientOf(options) {
  const client = new KessanClient({ timeoutMs: WAIT_MS, ...options });
  cleanups.push(() => client.close());
  return client;
}

function readerOf(subscription) {
  const reader = new Reader(subscription);
  cleanups.push(() => reader.close());
  return reader;
}

async function originalRevenue(client) {
  const events = (await client.getSnapshot({ issuers: "IIJ" })).events.filter(is4q02Revenue);
  assert.equal(events.length, 1);
  return events[0].body.value;
}

const units = (i) => 13_000_000_000n + BigInt(i) * 100_000_000n;
const quickBackoff = () => new Backoff({ initialMs: 50, maxMs: 500, maxAttempts: 0 });

test("a resuming subscriber survives a kill and restart: no gap, no repeat", async () => {
  const server = await started();
  const client = clientOf({ servers: server.address });
  const head = (await client.getSnapshot()).sequence;
  const notices = [];
  const subscription = client.subscribe({}, {
    fromSequence: head, heartbeatMs: 200, backoff: quickBackoff(), timeoutMs: 60000,
    onNotice: (n) => notices.push(n),
  });
  const reader = readerOf(subscription);
  const publisher = clientOf({ servers: server.address });
  const original = await originalRevenue(client);

  const published = [];
  for (let i = 0; i < 5; i++) {
    published.push(...(await publisher.publish(revisionOf(original, units(i)), { retry: true })).sequences);
  }
  const first = await reader.nextJournaled(); // The stream is up and delivering.
  await server.kill();
  // The restart takes a while: the subscriber retries meanwhile.
  await server.startAt(server.address);
  // A publish on a connection that saw the kill is retried until it is applied, once.
  for (let i = 5; i < 10; i++) {
    published.push(...(await publisher.publish(revisionOf(original, units(i)),
      { retry: true, publisherId: "node-live", batchKey: `after-restart-${i}` })).sequences);
  }
  const again = await publisher.publish(revisionOf(original, units(9)),
    { retry: true, publisherId: "node-live", batchKey: "after-restart-9" });
  assert.equal(again.duplicate, true);
  assert.deepEqual(published, Array.from({ length: 10 }, (_, i) => head + 1n + BigInt(i)));

  const journaled = [first];
  for (let i = 1; i < 10; i++) journaled.push(await reader.nextJournaled());
  assert.deepEqual(journaled.map((e) => e.sequence), published);
  assert.deepEqual(journaled.map((e) => e.body.value.value.kind.value.units), published.map((_, i) => units(i)));
  const kinds = notices.map((n) => n.kind);
  assert.ok(kinds.includes("disconnected"), kinds.join());
  assert.ok(kinds.includes("resumed"), kinds.join());
  assert.ok(!kinds.includes("resync"), kinds.join());
  const resumed = notices.find((n) => n.kind === "resumed");
  assert.ok(resumed.resumeFrom >= head + 1n, `resumed from ${resumed.resumeFrom}`);
  // Nothing more: no repeat arrives after the last event (heartbeats only, for a second).
  const quietUntil = performance.now() + 1000;
  while (performance.now() < quietUntil) {
    let extra;
    try {
      extra = await reader.next(300);
    } catch {
      break;
    }
    assert.equal(extra.sequence, 0n, `a journaled event after the last: ${extra.sequence}`);
  }
  assert.equal(subscription.position, published.at(-1));
});

test("failover to a replica resumes with every event once", async () => {
  const server = await started();
  const a = server.address;
  const b = `127.0.0.1:${await freePort()}`;
  const moves = [];
  const notices = [];
  const subscriber = clientOf({ servers: [a, b], onFailover: (from, to) => moves.push([from, to]) });
  const head = (await subscriber.getSnapshot()).sequence;
  const reader = readerOf(subscriber.subscribe({}, {
    fromSequence: head, heartbeatMs: 200, backoff: quickBackoff(), timeoutMs: 60000,
    onNotice: (n) => notices.push(n),
  }));
  const publisher = clientOf({ servers: `${a},${b}` });
  const original = await originalRevenue(publisher);
  const publish = (i, options = {}) => publisher.publish(revisionOf(original, units(i)), { retry: true, ...options });

  const published = [];
  for (let i = 0; i < 5; i++) published.push(...(await publish(i)).sequences);
  const first = await reader.nextJournaled();
  // A replica move: A dies, B serves A's journal at another address.
  await server.kill();
  await server.startAt(b);
  for (let i = 5; i < 10; i++) {
    published.push(...(await publish(i, { publisherId: "node-failover", batchKey: `moved-${i}` })).sequences);
  }
  assert.equal(publisher.server, b);
  const again = await publish(9, { publisherId: "node-failover", batchKey: "moved-9" });
  assert.equal(again.duplicate, true);
  assert.deepEqual(published, Array.from({ length: 10 }, (_, i) => head + 1n + BigInt(i)));

  const journaled = [first];
  for (let i = 1; i < 10; i++) journaled.push(await reader.nextJournaled());
  assert.deepEqual(journaled.map((e) => e.sequence), published);
  assert.deepEqual(moves[0], [a, b]);
  assert.equal(subscriber.server, b);
  const resumed = notices.filter((n) => n.kind === "resumed");
  assert.ok(resumed.length > 0 && resumed.at(-1).server === b, JSON.stringify(notices.map((n) => n.kind)));
  assert.ok(!notices.some((n) => n.kind === "resync"));
});

test("a dead first server is skipped by reads and subscriptions", async () => {
  const server = await started();
  const dead = `127.0.0.1:${await freePort()}`;
  const client = clientOf({ servers: [dead, server.address] });
  const head = (await client.getSnapshot()).sequence;
  assert.equal(client.server, server.address);

  const other = clientOf({ servers: [dead, server.address] });
  const reader = readerOf(other.subscribe({}, { fromSequence: head - 2n, timeoutMs: 60000 }));
  assert.equal((await reader.nextJournaled()).sequence, head - 1n);
  assert.equal((await reader.nextJournaled()).sequence, head);
  assert.equal(other.server, server.address);

  // A plain publish is not retried: its UNAVAILABLE moves the client for the next call.
  const third = clientOf({ servers: [dead, server.address] });
  await assert.rejects(third.publish(revisionOf(await originalRevenue(client), units(1))),
    (e) => e.code === kessan.Code.Unavailable);
  assert.equal(third.server, server.address);
});
