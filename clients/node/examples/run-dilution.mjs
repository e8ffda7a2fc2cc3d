#!/usr/bin/env node
// Lists the scenario plugins, then runs `dilution` on IIJ's private placement
// and prints each output with its derivation.
//
//   node clients/node/examples/run-dilution.mjs [--server 127.0.0.1:50051] [--param shares_outstanding_before=48000]
import { parseArgs } from "node:util";
import { ConnectError, KessanClient, PluginState } from "@kessan/client";

const { values } = parseArgs({
  options: {
    server: { type: "string", default: "127.0.0.1:50051" },
    param: { type: "string", multiple: true, default: ["shares_outstanding_before=48000"] },
  },
});
const params = Object.fromEntries(values.param.map((p) => {
  const at = p.indexOf("=");
  if (at <= 0) throw new TypeError(`--param "${p}" is not NAME=VALUE`);
  return [p.slice(0, at), p.slice(at + 1)];
}));

function show(output) {
  const v = output.value;
  switch (v.case) {
    case "money": return `${v.value.currencyCode} ${v.value.units.toLocaleString("en-US")}`;
    case "decimal": return v.value.value;
    case "moneyInterval": return `${v.value.low?.currencyCode} ${v.value.low?.units}..${v.value.high?.units}`;
    default: return String(v.value);
  }
}

const client = new KessanClient({ servers: values.server });
try {
  for (const s of await client.listScenarios()) {
    console.log(`${s.scenario?.name} ${s.scenario?.version}: ${PluginState[s.state].toLowerCase()} - ${s.scenario?.title}`);
  }
  const result = await client.runScenario("dilution", { issuer: "IIJ", params });
  console.log(`\ndilution on the state as of sequence ${result.stateSequence}:`);
  for (const output of result.outputs) {
    console.log(`  ${output.label}: ${show(output)}\n    ${output.derivation}`);
  }
} catch (e) {
  console.error(`kessan: ${ConnectError.from(e).message}`);
  process.exitCode = 1;
} finally {
  client.close();
}
