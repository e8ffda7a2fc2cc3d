// The Node client with TLS and bearer tokens: a kessand with certificates
// from deploy/tls/make-certs.sh and a principals file (--auth_tokens).
// Environment: KESSAN_MAKE_CERTS (default: the repository's script).
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { after, before, test } from "node:test";
import { Kessand, WAIT_MS, is4q02Revenue, kessan, revisionOf } from "./kessand.mjs";

const { Code, KessanClient } = kessan;
const makeCerts = process.env.KESSAN_MAKE_CERTS ??
  join(resolve(dirname(fileURLToPath(import.meta.url)), "..", ".."), "deploy", "tls", "make-certs.sh");
const line = (name, roles, token, extra = "") =>
  `${name} ${roles} sha256:${createHash("sha256").update(token).digest("hex")} ${extra}\n`;

let server;
let ca;
const clients = [];
function clientOf(options) {
  const client = new KessanClient({ servers: server.address, timeoutMs: WAIT_MS, ...options });
  clients.push(client);
  return client;
}

before(async () => {
  server = new Kessand();
  const certs = join(server.dir, "tls");
  execFileSync(makeCerts, [certs, "reader"], { stdio: "ignore" });
  const principals = join(server.dir, "principals");
  writeFileSync(principals, line("reader", "subscriber", "reader-token", "issuers=IIJ") +
    line("feeder", "publisher", "feeder-token"));
  ca = readFileSync(join(certs, "ca.pem"));
  server.extraArgs = ["--plugin_dir", "none", "--tls_cert", join(certs, "server.pem"),
    "--tls_key", join(certs, "server.key"), "--auth_tokens", principals];
  server.clientOptions = { tls: { ca } };
  await server.start();
});

after(async () => {
  for (const c of clients) c.close();
  await server?.stop();
});

test("TLS with tokens: roles and entitlements hold, a missing token is UNAUTHENTICATED", async () => {
  const reader = clientOf({ tls: { ca }, token: "reader-token" });
  const snapshot = await reader.getSnapshot();
  const facts = snapshot.events.filter((e) => e.body.case === "fact");
  assert.ok(facts.length > 0);
  assert.deepEqual([...new Set(facts.map((e) => e.body.value.key.issuer))], ["IIJ"]);
  const revenue = snapshot.events.find(is4q02Revenue).body.value;
  await assert.rejects(reader.publish(revisionOf(revenue, 13_100_000_000n)),
    (e) => e.code === Code.PermissionDenied);

  const feeder = clientOf({ tls: { ca }, token: "feeder-token" });
  const published = await feeder.publish(revisionOf(revenue, 13_100_000_000n), { retry: true });
  assert.deepEqual(published.sequences, [snapshot.sequence + 1n]);

  await assert.rejects(clientOf({ tls: { ca } }).getSnapshot(), (e) => e.code === Code.Unauthenticated);
  await assert.rejects(clientOf({ tls: { ca }, token: "not-a-token" }).getSnapshot(),
    (e) => e.code === Code.Unauthenticated);
  // Plaintext to a TLS port, and TLS without the CA: no connection.
  await assert.rejects(clientOf({ token: "reader-token", timeoutMs: 5000 }).getSnapshot(),
    (e) => e.code === Code.Unavailable, "plaintext");
  await assert.rejects(clientOf({ tls: true, token: "reader-token" }).getSnapshot(),
    (e) => e.code === Code.Unavailable, "unknown CA");
});
