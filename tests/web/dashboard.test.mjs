// The dashboard (clients/web) in Debian's chromium, driven by playwright-core,
// against a real kessand seeded with IIJ: the 4Q02 revenue and its quote, a
// revision published over gRPC reaching tape and grid within a second, the
// dilution scenario's form, and the first-reported view. Environment: see
// CMakeLists.txt (defaults for a tree built in build/).
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { existsSync, mkdirSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { Kessand, freePort } from "../node/kessand.mjs";

const repo = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");
const build = join(repo, "build");
const CLI = process.env.KESSAN_CLI ?? join(build, "clients", "cpp", "kessan");
const DIST = process.env.KESSAN_WEB_DIST ?? join(build, "clients", "web", "dist");
const SHOTS = process.env.KESSAN_SCREENSHOTS ?? join(build, "screenshots");
const CHROMIUM = process.env.KESSAN_CHROMIUM ?? "/usr/bin/chromium";
const REVISION = join(repo, "data", "examples", "revision_4q02_revenue.txtpb");
const PLACEMENT_REVISION = join(repo, "plugins", "dilution", "examples", "revised_placement.txtpb");
const { chromium } = createRequire(join(repo, "clients", "node", "package.json"))("playwright-core");

const WAIT_MS = 20000; // Bound on anything but the live update.
const LIVE_MS = 1000; // A published revision is on the page within this of its acknowledgement.
const REVENUE_4Q02 = 'td[data-key="IIJ|revenue|4Q02||"]';

let kessand;
let browser;
let page;
const pageErrors = [];

/** The HTTP port kessand prints ("kessand HTTP on port N"), waited for in its log. */
async function httpPort(k) {
  const deadline = Date.now() + WAIT_MS;
  for (;;) {
    const m = /kessand HTTP on port (\d+)/.exec(k.log());
    if (m) return Number(m[1]);
    if (Date.now() > deadline) throw new Error(`no HTTP port in kessand's output:\n${k.log()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function publish(address, file) {
  return new Promise((res, rej) => {
    execFile(CLI, ["--server", address, "publish", file], { timeout: WAIT_MS }, (error, stdout, stderr) => {
      if (error) rej(new Error(`kessan publish failed: ${error.message}\n${stderr}`));
      else res(stdout);
    });
  });
}

before(async () => {
  assert.ok(existsSync(join(DIST, "index.html")), `no dashboard bundle in ${DIST}: build target kessan_web`);
  assert.ok(existsSync(CHROMIUM), `no ${CHROMIUM}: apt-get install chromium (.ci/deps.sh)`);
  mkdirSync(SHOTS, { recursive: true });
  // A fixed HTTP port: the page's origin stays the same across a restart.
  kessand = new Kessand(["--http_listen", `127.0.0.1:${await freePort()}`, "--http_static_dir", DIST]);
  await kessand.start();
  const port = await httpPort(kessand);
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox"], timeout: WAIT_MS });
  page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  page.setDefaultTimeout(WAIT_MS);
  page.on("pageerror", (e) => pageErrors.push(String(e)));
  await page.goto(`http://127.0.0.1:${port}/`);
});

after(async () => {
  await browser?.close();
  await kessand?.stop();
});

test("the dashboard shows IIJ's 4Q02 revenue with unit, precision and its quote", async () => {
  const cell = page.locator(REVENUE_4Q02);
  await cell.locator(".value", { hasText: "JPY 13,000,000,000" }).waitFor();
  assert.match(await cell.locator(".unit").innerText(), /JPY/);
  assert.match(await cell.locator(".precision").innerText(), /to the billion/);
  await cell.click();
  const panel = page.locator("#provenance");
  await panel.locator('[data-field="quote"]', { hasText: "Revenues totaled JPY 13 billion (US$ 110 million)" }).waitFor();
  assert.equal(await panel.locator('[data-field="document"]').innerText(), "000_f51f5271c0c5436c.txt");
  assert.equal(await panel.locator('[data-field="lines"]').innerText(), "line 16");
  await page.locator("#h-state", { hasText: "live" }).waitFor();
  assert.ok(Number(await page.locator("#h-seq").innerText()) > 0);
  await page.screenshot({ path: join(SHOTS, "dashboard-1-loaded.png") });
});

test("a revision published over gRPC reaches the tape and the grid within a second", async () => {
  await page.locator("#h-state", { hasText: "live" }).waitFor();
  // The page notes when tape and grid first show the revision (a DOM observer:
  // the time is the page's, not the test driver's round trips).
  await page.evaluate((selector) => {
    window.kessanSeenAt = undefined;
    const changed = () => {
      const cell = document.querySelector(selector);
      const row = document.querySelector('#tape li[data-key="IIJ|revenue|4Q02||"]');
      return cell?.querySelector(".value")?.textContent === "JPY 12,985,000,000" && row !== null &&
        row.querySelector(".badge.restated") !== null &&
        row.querySelector(".old .value")?.textContent === "JPY 13,000,000,000" &&
        row.querySelector(".new .value")?.textContent === "JPY 12,985,000,000";
    };
    const observer = new MutationObserver(() => {
      if (window.kessanSeenAt === undefined && changed()) {
        window.kessanSeenAt = Date.now();
        observer.disconnect();
      }
    });
    observer.observe(document.body, { subtree: true, childList: true, characterData: true, attributes: true });
  }, REVENUE_4Q02);
  await publish(kessand.address, REVISION);
  const ackAt = Date.now(); // the publish is acknowledged (the CLI has exited)
  await page.waitForFunction(() => window.kessanSeenAt !== undefined, undefined, { timeout: WAIT_MS });
  const seenAt = await page.evaluate(() => window.kessanSeenAt);
  console.log(`tape and grid changed ${seenAt - ackAt} ms after the acknowledgement`);
  assert.ok(seenAt - ackAt <= LIVE_MS, `tape and grid changed ${seenAt - ackAt} ms after the acknowledgement`);
  const row = page.locator('#tape li[data-key="IIJ|revenue|4Q02||"]');
  assert.match(await row.locator(".badge.restated").innerText(), /restated r2/);
  assert.equal(await row.locator(".change").innerText(), "-JPY 15,000,000 (-0.115%)");
  assert.equal(await page.locator(REVENUE_4Q02).getAttribute("data-revision"), "2");
  await page.locator(REVENUE_4Q02).click();
  await page.locator('#provenance [data-field="quote"]', { hasText: "JPY 12,985 million" }).waitFor();
  await page.screenshot({ path: join(SHOTS, "dashboard-2-revision.png") });
});

test("the dilution form built from ListScenarios runs with 17,345 shares before", async () => {
  await page.selectOption("#scenario", "dilution");
  const shares = page.locator("#param-shares_outstanding_before");
  assert.equal(await shares.getAttribute("data-min"), "1");
  assert.match(await page.locator(".param", { has: shares }).innerText(), /shares[\s\S]*Shares outstanding before the issue/);
  await shares.fill("17,345");
  await page.click("#scenario-run");
  const gross = page.locator('#scenario-result tr[data-output="gross_proceeds"]');
  await gross.locator(".value", { hasText: "JPY 3,512,880,000" }).waitFor();
  assert.notEqual((await gross.locator(".derivation").innerText()).trim(), "");
  assert.equal(await page.locator("#scenario-result").getAttribute("data-state"), "done");
  // The charts of the outlook and the implied comparatives are drawn.
  await page.locator("#chart-outlook canvas").first().waitFor();
  await page.locator("#chart-outlook .chart-values", { hasText: "guidance" }).waitFor();
  await page.locator("#chart-comparatives canvas").first().waitFor();
  await page.screenshot({ path: join(SHOTS, "dashboard-3-dilution.png"), fullPage: true });
});

test("a bad parameter is refused with the field named", async () => {
  await page.locator("#param-shares_outstanding_before").fill("0");
  await page.click("#scenario-run");
  await page.locator("#scenario-result[data-state=error] .error", { hasText: "shares_outstanding_before" }).waitFor();
});

test("the first-reported view shows the original figure", async () => {
  await page.check("#view-first");
  const cell = page.locator(`#grid[data-view="first_reported"] ${REVENUE_4Q02}`);
  await cell.locator(".value", { hasText: "JPY 13,000,000,000" }).waitFor();
  assert.equal(await cell.getAttribute("data-revision"), "1");
  await page.screenshot({ path: join(SHOTS, "dashboard-4-first-reported.png") });
  await page.check("#view-latest");
  await page.locator(`#grid[data-view="latest"] ${REVENUE_4Q02} .value`, { hasText: "JPY 12,985,000,000" }).waitFor();
  assert.deepEqual(pageErrors, []);
});

test("the stream resumes by itself after kessand restarts", async () => {
  const address = kessand.address;
  const sequence = Number(await page.locator("#h-seq").innerText());
  const snapshotNote = await page.locator("#tape-note").innerText();
  await kessand.kill();
  await page.locator("#h-state", { hasText: "reconnecting" }).waitFor();
  await kessand.startAt(address);
  await page.locator('#h-state[data-state="live"]').waitFor();
  assert.ok(Number(await page.locator("#h-reconnects").innerText()) >= 1);
  // Resumed from the last sequence (same incarnation): no new snapshot, and a
  // change published now reaches the tape.
  assert.equal(await page.locator("#tape-note").innerText(), snapshotNote);
  await publish(address, PLACEMENT_REVISION);
  await page.locator("#tape li", { hasText: "capital action private_placement_2003_06" })
    .locator(".badge.restated", { hasText: "restated r2" }).waitFor();
  assert.equal(Number(await page.locator("#h-seq").innerText()), sequence + 1);
  assert.deepEqual(pageErrors, []);
});
