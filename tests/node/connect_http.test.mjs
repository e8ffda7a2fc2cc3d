// The HTTP/Connect port of a real kessand (--http_listen) through
// @connectrpc/connect-node, the Connect protocol code connect-web shares:
// unary calls and server streams, JSON and binary, errors with their codes.
import assert from "node:assert/strict";
import { dirname, join } from "node:path";
import { pathToFileURL } from "node:url";
import { after, before, test } from "node:test";
import { Kessand, WAIT_MS, freePort, requireFromClient } from "./kessand.mjs";

const importFromClient = async (name) => import(pathToFileURL(requireFromClient.resolve(name)).href);
const { createClient, Code } = await importFromClient("@connectrpc/connect");
const { createConnectTransport } = await importFromClient("@connectrpc/connect-node");
const gen = join(dirname(requireFromClient.resolve("./index.js")), "gen", "kessan", "v1");
const { FeedService } = await import(pathToFileURL(join(gen, "feed_pb.js")).href);
const { ScenarioService } = await import(pathToFileURL(join(gen, "scenario_pb.js")).href);

let server;
let httpPort;

before(async () => {
  httpPort = await freePort();
  server = new Kessand(["--http_listen", `127.0.0.1:${httpPort}`]);
  await server.start();
});

after(async () => {
  await server?.stop();
});

for (const useBinaryFormat of [false, true]) {
  const codec = useBinaryFormat ? "binary" : "JSON";
  const transport = () =>
    createConnectTransport({ baseUrl: `http://127.0.0.1:${httpPort}`, httpVersion: "1.1", useBinaryFormat });

  test(`unary calls in ${codec}`, async () => {
    const feed = createClient(FeedService, transport());
    const snapshot = await feed.getSnapshot({}, { timeoutMs: WAIT_MS });
    assert.ok(snapshot.events.length > 0);
    assert.equal(snapshot.sequence, BigInt(snapshot.events.length));
    const scenarios = createClient(ScenarioService, transport());
    const list = await scenarios.listScenarios({}, { timeoutMs: WAIT_MS });
    assert.ok(list.scenarios.some((s) => s.scenario?.name === "dilution"));
    await assert.rejects(feed.getSnapshot({ filter: { issuers: ["NOPE"] } }, { timeoutMs: WAIT_MS }), (e) => {
      assert.equal(e.code, Code.InvalidArgument);
      assert.match(e.rawMessage, /filter\.issuers\[0\]: unknown issuer 'NOPE'/);
      return true;
    });
  });

  test(`a Subscribe stream in ${codec}: the snapshot, then an end with its code`, async () => {
    const feed = createClient(FeedService, transport());
    const seen = [];
    // A signal, not timeoutMs: a stream left by `break` keeps connect's
    // deadline timer, and with it this process, alive for the whole timeout.
    for await (const response of feed.subscribe({ filter: { concepts: ["revenue"] } },
                                                { signal: AbortSignal.timeout(WAIT_MS) })) {
      seen.push(...response.events);
      if (seen.some((e) => e.body.case === "snapshotEnd")) break;
    }
    assert.equal(seen[0].body.case, "snapshotBegin");
    assert.ok(seen.slice(1, -1).every((e) => e.body.value.key.conceptId === "revenue"));
    await assert.rejects(async () => {
      for await (const _ of feed.subscribe({ start: 2, fromSequence: 100000n }, { timeoutMs: WAIT_MS })) {
        // nothing: the stream ends at once
      }
    }, (e) => {
      assert.equal(e.code, Code.OutOfRange);
      assert.match(e.rawMessage, /beyond the journal/);
      return true;
    });
  });
}
