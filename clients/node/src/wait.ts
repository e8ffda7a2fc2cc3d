// Waiting: a sleep that a signal cuts short, and the connection probe.
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { toConnectError } from "./errors.js";
import { GetSnapshotRequestSchema } from "./proto.js";
import type { Server } from "./servers.js";

/** A deadline for a call: whole milliseconds, at least 1 (gRPC's grpc-timeout takes integers). */
export function callTimeoutMs(ms: number | undefined): number | undefined {
  return ms === undefined ? undefined : Math.max(1, Math.ceil(ms));
}

/** Resolves after `ms`, or at once when `signal` aborts (never rejects). */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted || ms <= 0) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener("abort", done, { once: true });
  });
}

// A concept no item has: GetSnapshot filtered on it returns only the
// journal's last sequence (where a resumable live-only stream starts).
const NO_SUCH_CONCEPT = "zz_kessan_client_no_such_concept";

/** The journal's last sequence and incarnation, from a tiny GetSnapshot. */
export async function journalHead(
  server: Server, timeoutMs: number | undefined, signal?: AbortSignal): Promise<{ sequence: bigint; incarnation: string }> {
  const response = await server.feed.getSnapshot(
    create(GetSnapshotRequestSchema, { filter: { concepts: [NO_SUCH_CONCEPT] } }),
    { timeoutMs: callTimeoutMs(timeoutMs), signal });
  return { sequence: response.sequence, incarnation: response.incarnation };
}

/**
 * Waits up to `timeoutMs` for `server` to answer. With failFast one try (another
 * server may serve); otherwise a refused connection is tried again, at most
 * 1 s apart, until the time is up. Throws the last error; no answer in time is
 * UNAVAILABLE "cannot connect within ...".
 */
export async function waitConnected(
  server: Server, timeoutMs: number, failFast: boolean, signal?: AbortSignal): Promise<void> {
  const until = performance.now() + timeoutMs;
  for (let pause = 50; ; pause = Math.min(pause * 2, 1000)) {
    const left = until - performance.now();
    let error: ConnectError;
    try {
      await journalHead(server, Math.max(1, left), signal);
      return;
    } catch (e) {
      error = toConnectError(e, signal?.aborted);
    }
    const timedOut = error.code === Code.DeadlineExceeded && !signal?.aborted;
    if (timedOut) {
      throw new ConnectError(`cannot connect to ${server.address} within ${(timeoutMs / 1000).toFixed(1)} s`,
        Code.Unavailable);
    }
    if (failFast || error.code !== Code.Unavailable || signal?.aborted ||
        performance.now() + pause >= until) {
      throw error;
    }
    await sleep(pause, signal);
  }
}
