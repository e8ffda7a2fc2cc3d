// Real kessand processes for the Node client's tests: each on 127.0.0.1 at
// a free port with a temporary --data_dir seeded with the IIJ data set.
// Environment (set by tests/node/CMakeLists.txt; defaults for a run by hand
// from a tree built in build/): KESSAN_KESSAND, KESSAN_SEED_DATASET,
// KESSAN_NODE_CLIENT (the client's dist/index.js).
import { spawn } from "node:child_process";
import { mkdtempSync, openSync, closeSync, readFileSync, rmSync, existsSync } from "node:fs";
import { createRequire } from "node:module";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const repo = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");
export const KESSAND = process.env.KESSAN_KESSAND ?? join(repo, "build", "server", "kessand");
export const SEED = process.env.KESSAN_SEED_DATASET ?? join(repo, "data", "iij", "iij_4q02_fy2002.txtpb");
const clientPath = process.env.KESSAN_NODE_CLIENT ?? join(repo, "clients", "node", "dist", "index.js");
if (!existsSync(clientPath)) {
  throw new Error(`no ${clientPath}: build the Node client first (cmake --build build --target kessan_node_client)`);
}
/** The client package under test. */
export const kessan = await import(pathToFileURL(clientPath).href);
/** require() from the client package: its libraries, for a fake server. */
export const requireFromClient = createRequire(clientPath);

export const START_TIMEOUT_MS = 30000; // kessand loads the seed and serves.
export const WAIT_MS = 15000; // Bound on waiting for any one event or call.

/** A port of 127.0.0.1 that was free a moment ago. */
export function freePort() {
  return new Promise((res, rej) => {
    const server = createServer();
    server.on("error", rej);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => res(port));
    });
  });
}

/** A kessand that a test starts and stops; `stop()` in an after() hook. */
export class Kessand {
  constructor(args = []) {
    this.dir = mkdtempSync(join(tmpdir(), "kessan-node-"));
    this.dataDir = join(this.dir, "data");
    this.logPath = join(this.dir, "kessand.log");
    this.extraArgs = args;
    this.proc = undefined;
    this.address = undefined;
  }

  /** Starts on a free port (a port taken meanwhile costs a retry); resolves once it serves. */
  async start() {
    for (let i = 0; i < 3; i++) {
      const address = `127.0.0.1:${await freePort()}`;
      if (await this.startAt(address, false)) return address;
      if (!/in use/i.test(this.log())) break;
    }
    throw new Error(`kessand did not start; its output:\n${this.log()}`);
  }

  /** Starts on `address` with this journal; false (or a throw with `must`) if it exits first. */
  async startAt(address, must = true) {
    const log = openSync(this.logPath, "a");
    const proc = spawn(KESSAND, ["--listen", address, "--data_dir", this.dataDir, "--seed", SEED,
      ...this.extraArgs], { stdio: ["ignore", log, log] });
    closeSync(log);
    const exited = new Promise((res) => proc.once("exit", () => res(false)));
    this.proc = proc;
    const serving = await Promise.race([exited, this.#waitServing(address, proc)]);
    if (serving) {
      this.address = address;
      return true;
    }
    this.proc = undefined;
    if (must) throw new Error(`kessand did not start on ${address}; its output:\n${this.log()}`);
    return false;
  }

  async #waitServing(address, proc) {
    const deadline = performance.now() + START_TIMEOUT_MS;
    let last;
    while (performance.now() < deadline && proc.exitCode === null && proc.signalCode === null) {
      // A fresh client per try: no connection state to wait out.
      const probe = new kessan.KessanClient({ servers: address, timeoutMs: 1000, ...this.clientOptions });
      try {
        await probe.getSnapshot();
        return true;
      } catch (e) {
        last = e;
        // An answer that is a refusal (auth) also means it serves.
        if (e.code !== undefined && e.code !== kessan.Code.Unavailable && e.code !== kessan.Code.DeadlineExceeded) {
          return true;
        }
      } finally {
        probe.close();
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    if (proc.exitCode !== null || proc.signalCode !== null) return false;
    throw new Error(`kessand did not serve within ${START_TIMEOUT_MS} ms (last error: ${last}); output:\n${this.log()}`);
  }

  /** SIGKILLs kessand (no clean shutdown) and waits for its end. */
  async kill() {
    const proc = this.proc;
    this.proc = undefined;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    const gone = new Promise((res) => proc.once("exit", res));
    proc.kill("SIGKILL");
    await gone;
  }

  /** Stops kessand and removes its directory. */
  async stop() {
    const proc = this.proc;
    this.proc = undefined;
    if (proc && proc.exitCode === null && proc.signalCode === null) {
      const gone = new Promise((res) => proc.once("exit", res));
      proc.kill("SIGTERM");
      const timer = setTimeout(() => proc.kill("SIGKILL"), 10000);
      await gone;
      clearTimeout(timer);
    }
    rmSync(this.dir, { recursive: true, force: true });
  }

  log(limit = 20000) {
    try {
      return readFileSync(this.logPath, "utf8").slice(-limit);
    } catch {
      return "(no output)";
    }
  }
}

/**
 * Reads a subscription into a queue, so that a test waits for each event with a
 * bound: `await reader.next()` is the next FeedEvent or the stream's error.
 */
export class Reader {
  constructor(subscription) {
    this.subscription = subscription;
    this.items = [];
    this.waiters = [];
    this.done = (async () => {
      try {
        for await (const event of subscription) this.#push({ event });
        this.#push({ end: true });
      } catch (error) {
        this.#push({ error });
      }
    })();
  }

  #push(item) {
    const waiter = this.waiters.shift();
    if (waiter) waiter(item);
    else this.items.push(item);
  }

  /** The next item, or undefined after `timeoutMs`. */
  #take(timeoutMs) {
    if (this.items.length) return Promise.resolve(this.items.shift());
    return new Promise((res) => {
      const waiter = (item) => {
        clearTimeout(timer);
        res(item);
      };
      const timer = setTimeout(() => {
        this.waiters.splice(this.waiters.indexOf(waiter), 1);
        res(undefined);
      }, timeoutMs);
      this.waiters.push(waiter);
    });
  }

  /** The next event; throws the stream's error, or on a timeout or a clean end. */
  async next(timeoutMs = WAIT_MS) {
    const item = await this.#take(timeoutMs);
    if (item === undefined) throw new Error(`no event within ${timeoutMs} ms`);
    if (item.error) throw item.error;
    if (item.end) throw new Error("the stream ended");
    return item.event;
  }

  /** The next journaled event (sequence > 0), skipping heartbeats and marks. */
  async nextJournaled(timeoutMs = WAIT_MS) {
    for (;;) {
      const event = await this.next(timeoutMs);
      if (event.sequence > 0n) return event;
    }
  }

  /** The stream's error: throws if an event or a clean end comes first. */
  async error(timeoutMs = WAIT_MS) {
    const item = await this.#take(timeoutMs);
    if (item?.error) return item.error;
    throw new Error(`expected an error, got ${item === undefined ? "nothing" : item.end ? "the end" : "an event"}`);
  }

  async close() {
    this.subscription.cancel();
    await this.done;
  }
}

/** Whether `event` is the whole-company revenue fact of IIJ's 4Q02. */
export function is4q02Revenue(event) {
  if (event.body.case !== "fact") return false;
  const key = event.body.value.key;
  return key.issuer === "IIJ" && key.conceptId === "revenue" && key.segment === "" &&
    !key.comparisonPeriod?.fiscalYear && key.period?.fiscalYear === 2002 &&
    key.period?.kind === kessan.PeriodKind.QUARTER && key.period?.number === 4;
}

/** A revision of `fact` (the seed's 4Q02 revenue) with a new figure in JPY. */
export function revisionOf(fact, units) {
  return kessan.create(kessan.FactSchema, {
    key: fact.key,
    value: {
      kind: { case: "money", value: { currencyCode: "JPY", units: BigInt(units) } },
      precision: { rounding: { case: "decimals", value: -8 }, qualifier: kessan.Qualifier.EQUAL },
    },
    provenance: { ...fact.provenance, note: "node client test revision" },
  });
}
