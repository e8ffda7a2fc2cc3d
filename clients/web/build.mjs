// Bundles the dashboard with esbuild into OUT_DIR (argument 1, default
// dist/): index.html, app.js and app.css. The npm packages come from
// clients/node/node_modules (`npm ci` there: .ci/deps.sh); the kessan.v1
// descriptors from clients/node/dist (the kessan_node_client target).
import { copyFileSync, mkdirSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { createRequire } from "node:module";

const here = dirname(fileURLToPath(import.meta.url));
const nodeModules = resolve(here, "..", "node", "node_modules");
const out = resolve(process.argv[2] ?? join(here, "dist"));
const esbuild = createRequire(join(nodeModules, "x.js"))("esbuild");

mkdirSync(out, { recursive: true });
await esbuild.build({
  entryPoints: { app: join(here, "src", "main.ts") },
  bundle: true,
  format: "esm",
  target: "es2020",
  minify: true,
  sourcemap: true,
  nodePaths: [nodeModules],
  outdir: out,
  logLevel: "warning",
});
copyFileSync(join(here, "index.html"), join(out, "index.html"));
