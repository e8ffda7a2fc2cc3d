#!/usr/bin/env node
// Subscribes and prints one JSON line per FeedEvent (protobuf's JSON mapping):
// the snapshot of the matching items, then live events. A lost stream resumes
// by itself (notices on stderr) unless --no-reconnect.
//
//   node clients/node/examples/subscribe.mjs --issuer IIJ --concept revenue
//   node clients/node/examples/subscribe.mjs --server 127.0.0.1:50051,127.0.0.1:50052 --from 30
import { parseArgs } from "node:util";
import { FeedEventSchema, KessanClient, toJsonString } from "@kessan/client";

const { values } = parseArgs({
  options: {
    server: { type: "string", default: "127.0.0.1:50051" },
    issuer: { type: "string", multiple: true, default: [] },
    concept: { type: "string", multiple: true, default: [] },
    kind: { type: "string", multiple: true, default: [] },
    from: { type: "string", default: "snapshot" }, // snapshot | live | a sequence
    "no-reconnect": { type: "boolean", default: false },
  },
});

const client = new KessanClient({
  servers: values.server,
  onFailover: (from, to, error) => console.error(`kessan: server ${from} failed (${error.message}); switching to ${to}`),
});
const from = /^\d+$/.test(values.from) ? { fromSequence: BigInt(values.from) } : { start: values.from };
const subscription = client.subscribe(
  { issuers: values.issuer, concepts: values.concept, kinds: values.kind },
  {
    ...from,
    reconnect: !values["no-reconnect"],
    onNotice: (n) => console.error(n.kind === "disconnected"
      ? `kessan: stream lost (${n.message}); resuming after ${n.resumeFrom} on ${n.server} in ${Math.round(n.delayMs)} ms`
      : `kessan: ${n.kind} on ${n.server}`),
  },
);
process.once("SIGINT", () => {
  subscription.cancel();
  process.exitCode = 130;
});

try {
  for await (const event of subscription) console.log(toJsonString(FeedEventSchema, event));
} catch (e) {
  console.error(`kessan: ${e.message}`);
  process.exitCode = 1;
} finally {
  client.close();
}
