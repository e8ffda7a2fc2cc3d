#!/usr/bin/env node
// Restates IIJ's 4Q02 revenue, as data/examples/revision_4q02_revenue.txtpb
// does for the C++ CLI: JPY 12,985 million, a figure made up for the tour
// (its provenance says so). Prints the committed revision; run it twice and
// the second batch (same publisher id and batch key) is a duplicate.
//
//   node clients/node/examples/publish-revision.mjs [--server 127.0.0.1:50051] [--units 12985000000]
import { parseArgs } from "node:util";
import { Code, ConnectError, FactSchema, KessanClient, PeriodKind, Qualifier, create } from "@kessan/client";

const { values } = parseArgs({
  options: {
    server: { type: "string", default: "127.0.0.1:50051" },
    units: { type: "string", default: "12985000000" },
  },
});

const fact = create(FactSchema, {
  key: {
    issuer: "11J", // An OCR alias: the server resolves it to IIJ.
    conceptId: "revenue",
    period: { fiscalYear: 2002, kind: PeriodKind.QUARTER, number: 4 },
  },
  value: {
    kind: { case: "money", value: { currencyCode: "JPY", units: BigInt(values.units) } },
    precision: { rounding: { case: "decimals", value: -6 }, qualifier: Qualifier.EQUAL },
  },
  provenance: {
    document: "kessan-readme-tour",
    lineStart: 1,
    lineEnd: 1,
    quote: "JPY 12,985 million",
    note: "Illustrative restatement for the README tour; not a figure of the IIJ release.",
  },
});

const client = new KessanClient({ servers: values.server });
try {
  const response = await client.publish(fact, {
    retry: true, // Applied once, however often it is retried.
    publisherId: "node-example",
    batchKey: `revenue-4q02-${values.units}`,
  });
  const published = response.events[0]?.body.value;
  console.log(`sequence ${response.sequences[0]}${response.duplicate ? " (duplicate: applied before)" : ""}` +
    (published ? `, revision ${published.revision}, supersedes sequence ${published.supersedesSequence}` : ""));
} catch (e) {
  // A refused batch names each item, field path and rule.
  const error = ConnectError.from(e);
  console.error(`kessan: ${Code[error.code]}: ${error.rawMessage}`);
  process.exitCode = 1;
} finally {
  client.close();
}
