// Generates src/gen/ (TypeScript message and service descriptors) from the
// kessan.v1 protos with protoc and protoc-gen-es. Environment: PROTOC (the
// protoc binary, default "protoc"), KESSAN_PROTO_DIR (default ../../proto).
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, rmSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const protoDir = resolve(process.env.KESSAN_PROTO_DIR || join(root, "..", "..", "proto"));
const out = join(root, "src", "gen");
const protos = readdirSync(join(protoDir, "kessan", "v1"))
  .filter((f) => f.endsWith(".proto"))
  .sort()
  .map((f) => `kessan/v1/${f}`);
if (protos.length === 0) {
  console.error(`gen: no kessan/v1/*.proto in ${protoDir}`);
  process.exit(1);
}
const plugin = join(root, "node_modules", ".bin", "protoc-gen-es");
if (!existsSync(plugin)) {
  console.error(`gen: no ${plugin}: run \`npm ci\` in clients/node (\`make deps\` does)`);
  process.exit(1);
}
rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });
execFileSync(
  process.env.PROTOC || "protoc",
  [
    `--plugin=protoc-gen-es=${plugin}`,
    `--es_out=${out}`,
    "--es_opt=target=ts,import_extension=js",
    `-I${protoDir}`,
    ...protos,
  ],
  { cwd: protoDir, stdio: "inherit" },
);
