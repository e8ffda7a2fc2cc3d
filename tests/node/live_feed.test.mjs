// The Node client against a real kessand seeded with IIJ's 4Q02/FY2002
// release: snapshot, publish, live events, refusals and a scenario.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { Kessand, Reader, WAIT_MS, is4q02Revenue, kessan, revisionOf } from "./kessand.mjs";

const { Code, KessanClient, create } = kessan;
let server;
let client;

before(async () => {
  server = new Kessand();
  await server.start();
  client = new KessanClient({ servers: server.address, timeoutMs: WAIT_MS });
});

after(async () => {
  client?.close();
  await server?.stop();
});

async function originalRevenue() {
  const events = (await client.getSnapshot({ issuers: "IIJ" })).events.filter(is4q02Revenue);
  assert.equal(events.length, 1);
  return events[0];
}

test("the snapshot holds the IIJ figures", async () => {
  const snapshot = await client.getSnapshot();
  assert.ok(snapshot.sequence > 0n);
  assert.match(snapshot.incarnation, /.+/);
  const sequences = snapshot.events.map((e) => e.sequence);
  assert.ok(sequences.every((s) => s >= 1n && s <= snapshot.sequence));
  assert.equal(new Set(sequences).size, sequences.length);
  assert.ok(snapshot.events.some((e) => e.body.case === "issuer" && e.body.value.id === "IIJ"));

  const revenue = snapshot.events.filter(is4q02Revenue);
  assert.equal(revenue.length, 1);
  const fact = revenue[0].body.value;
  assert.equal(fact.value.kind.case, "money");
  assert.equal(fact.value.kind.value.currencyCode, "JPY");
  assert.equal(fact.value.kind.value.units, 13_000_000_000n); // "JPY 13 billion"
  assert.equal(fact.value.kind.value.nanos, 0);
  assert.deepEqual(fact.value.precision.rounding, { case: "decimals", value: -9 });
  assert.equal(fact.revision, 1);
  assert.equal(fact.supersedesSequence, 0n);
  assert.ok(fact.knownAt);
  assert.ok(fact.provenance.quote);

  const placements = snapshot.events.filter((e) => e.body.case === "capitalAction" &&
    e.body.value.kind.case === "privatePlacement");
  assert.equal(placements.length, 1);
  const placement = placements[0].body.value.kind.value;
  assert.equal(placement.shares, 8400n);
  assert.equal(placement.issuePrice.units, 418_200n);
  assert.equal(placement.amountNotCreditedPerShare.units, 209_100n);

  // An alias and a filter: the same revenue, as of the same sequence.
  const filtered = await client.getSnapshot({ issuers: "11J", concepts: ["revenue"] });
  assert.equal(filtered.sequence, snapshot.sequence);
  assert.ok(filtered.events.some((e) => kessan.equals(kessan.FeedEventSchema, e, revenue[0])));
  for (const e of filtered.events) {
    assert.ok(["fact", "guidance"].includes(e.body.case), e.body.case);
    assert.equal(e.body.value.key.conceptId, "revenue");
  }
});

test("a published revision reaches a subscriber at once, and a repeat is applied once", async () => {
  const original = await originalRevenue();
  const head = (await client.getSnapshot()).sequence;
  const reader = new Reader(client.subscribe({ issuers: "IIJ", concepts: "revenue" }, { timeoutMs: 60000 }));
  try {
    const begin = await reader.next();
    assert.equal(begin.body.case, "snapshotBegin");
    assert.equal(begin.body.value.sequence, head);
    assert.equal(reader.subscription.incarnation, (await client.getSnapshot()).incarnation);
    const items = [];
    let end;
    while ((end = await reader.next()).body.case !== "snapshotEnd") items.push(end);
    assert.ok(items.some(is4q02Revenue));
    assert.equal(end.body.value.itemCount, BigInt(items.length));

    const response = await client.publish(revisionOf(original.body.value, 13_100_000_000n),
      { publisherId: "node-live", batchKey: "revision-1" });
    assert.deepEqual(response.sequences, [head + 1n]);
    assert.equal(response.duplicate, false);
    const live = await reader.nextJournaled();
    assert.equal(live.sequence, head + 1n);
    assert.ok(kessan.equals(kessan.FeedEventSchema, live, response.events[0]));
    assert.equal(live.body.value.revision, 2);
    assert.equal(live.body.value.supersedesSequence, original.sequence);
    assert.equal(live.body.value.value.kind.value.units, 13_100_000_000n);
    assert.equal(reader.subscription.position, head + 1n);

    const again = await client.publish(revisionOf(original.body.value, 13_100_000_000n),
      { publisherId: "node-live", batchKey: "revision-1" });
    assert.equal(again.duplicate, true);
    assert.deepEqual(again.sequences, response.sequences);
    assert.equal((await client.getSnapshot()).sequence, head + 1n);
  } finally {
    await reader.close();
  }
});

test("an invalid batch is refused whole, naming the item and the field", async () => {
  const before = await client.getSnapshot();
  const original = await originalRevenue();
  const bad = revisionOf(original.body.value, 1n);
  bad.key = create(kessan.FactKeySchema, { ...original.body.value.key, issuer: "" });
  await assert.rejects(client.publish([bad]), (e) => {
    assert.equal(e.code, Code.InvalidArgument, e.message);
    assert.match(e.rawMessage, /items\[0\]\.fact\.key\.issuer/);
    return true;
  });
  // A valid item before the bad one is not applied either.
  await assert.rejects(client.publish([revisionOf(original.body.value, 2n), bad]), (e) => {
    assert.equal(e.code, Code.InvalidArgument);
    assert.match(e.rawMessage, /items\[1\]\.fact\.key\.issuer/);
    return true;
  });
  const after = await client.getSnapshot();
  assert.equal(after.sequence, before.sequence);
  assert.equal(after.events.length, before.events.length);
});

test("refusals end a resuming subscription: an unknown issuer, a resume past the end", async () => {
  const notices = [];
  const unknown = new Reader(client.subscribe({ issuers: "NOPE" }, { onNotice: (n) => notices.push(n) }));
  const error = await unknown.error();
  assert.equal(error.code, Code.InvalidArgument, error.message);
  assert.match(error.rawMessage, /NOPE/);
  assert.deepEqual(notices, []); // Not retried.

  const head = (await client.getSnapshot()).sequence;
  const past = new Reader(client.subscribe({}, { fromSequence: head + 5n }));
  assert.equal((await past.error()).code, Code.OutOfRange);
});

test("scenarios: dilution from the seed's private placement", async () => {
  const scenarios = await client.listScenarios();
  const dilution = scenarios.find((s) => s.scenario?.name === "dilution");
  assert.ok(dilution, `no dilution among ${scenarios.map((s) => s.scenario?.name)}`);
  assert.equal(dilution.state, kessan.PluginState.READY, dilution.error);

  const result = await client.runScenario("dilution", { issuer: "IIJ", params: { shares_outstanding_before: 48000 } });
  assert.equal(result.scenario, "dilution");
  const gross = result.outputs.find((o) => o.name === "gross_proceeds");
  assert.equal(gross?.value.case, "money");
  assert.equal(gross.value.value.currencyCode, "JPY");
  assert.equal(gross.value.value.units, 8400n * 418_200n); // 8,400 shares at JPY 418,200.
  assert.ok(result.inputsUsed.some((i) => i.eventKind === kessan.EventKind.CAPITAL_ACTION));

  await assert.rejects(client.runScenario("dilution", { params: { shares_outstanding_before: "many" } }), (e) => {
    assert.equal(e.code, Code.InvalidArgument, e.message);
    assert.match(e.rawMessage, /shares_outstanding_before/);
    return true;
  });
});
