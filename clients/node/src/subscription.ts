// A Subscribe stream that resumes by itself, as kessan_client.resume and
// clients/cpp/resuming_subscribe.cc: the same rules, codes and backoff.
import { Code, ConnectError } from "@connectrpc/connect";
import { Backoff } from "./backoff.js";
import { isRetryable, toConnectError } from "./errors.js";
import { StartMode, type FeedEvent, type Resync, type SubscribeRequest } from "./proto.js";
import type { Server, Servers } from "./servers.js";
import { SequenceError, Tracker } from "./tracker.js";
import { callTimeoutMs, journalHead, sleep, waitConnected } from "./wait.js";

/**
 * What a subscription tells its caller besides the events.
 *
 * kind: "disconnected" (the stream ended with code/message; the next attempt
 * follows after delayMs), "resumed" (a new stream answered) or "resync" (the
 * server no longer holds the events after resumeFrom, or they are of another
 * incarnation of the journal; a full snapshot follows).
 */
export interface Notice {
  kind: "disconnected" | "resumed" | "resync";
  /** Backoff attempts since the last progress. */
  attempt: number;
  code?: Code;
  message: string;
  delayMs: number;
  /** The sequence the next (or this) stream resumes after; 0 with restartSnapshot. */
  resumeFrom: bigint;
  /** The stream ended inside a snapshot, which starts over: drop the items since the last SnapshotBegin. */
  restartSnapshot: boolean;
  resync?: Resync;
  /** "disconnected": the server of the next attempt; "resumed", "resync": the server of the stream. */
  server: string;
}

/** How a subscription resumes; every field has the clients' default. */
export interface ResumeOptions {
  /** Resume lost streams (true); false: one stream, its error is thrown. */
  reconnect?: boolean;
  onNotice?: (notice: Notice) => void;
  /** Backoff between rounds of failed attempts (100 ms base, 5 s cap, 20 attempts without progress). */
  backoff?: Backoff;
  /** A stream silent for this many heartbeat intervals counts as lost (3). */
  stallHeartbeats?: number;
  /** With one server, how long a reconnect waits for it (5000 ms). */
  connectTimeoutMs?: number;
  /** Bounds the whole subscription; then DEADLINE_EXCEEDED is thrown. */
  timeoutMs?: number;
  /** Aborting it ends the iteration quietly, as cancel(). */
  signal?: AbortSignal;
}

/**
 * Subscription: the FeedEvents of a subscription, in order, each journaled
 * event once, as an async iterable (iterate it once).
 *
 * With reconnect (the default), a stream that ends for a retryable reason
 * (UNAVAILABLE: connection lost or server shutting down; DEADLINE_EXCEEDED
 * for a stalled stream; RESOURCE_EXHAUSTED from the slow-consumer
 * disconnect, whose message names "from_sequence="; ABORTED, INTERNAL,
 * UNKNOWN) is resumed with START_MODE_FROM_SEQUENCE after the last
 * journaled sequence delivered and the journal's incarnation; a stream that
 * ended inside a snapshot starts the snapshot over. With several servers,
 * UNAVAILABLE or a stall moves to the next server at once; the backoff
 * (full jitter) applies after each full round of failed servers. Refusals
 * (INVALID_ARGUMENT, OUT_OF_RANGE, PERMISSION_DENIED, UNAUTHENTICATED, ...)
 * and running out of attempts without progress throw the last ConnectError;
 * a gap in an unfiltered feed throws SequenceError.
 *
 * Leaving the loop (break, return, throw), cancel() or the signal ends the
 * stream.
 */
export class Subscription implements AsyncIterable<FeedEvent> {
  private readonly tracker: Tracker;
  private readonly backoff: Backoff;
  private readonly reconnect: boolean;
  private readonly stallMs: number;
  private readonly connectTimeoutMs: number;
  private readonly deadline: number | undefined;
  private readonly controller = new AbortController();
  private headLookup: Promise<void> | undefined;
  private iterated = false;
  private stalled = false;
  private server: Server;
  private readonly onSignal = () => this.cancel();
  /** Called once the iteration ends (the client forgets the subscription). */
  onEnd: (() => void) | undefined;

  constructor(private readonly servers: Servers, private readonly request: SubscribeRequest,
              private readonly options: ResumeOptions = {}) {
    this.tracker = new Tracker(request);
    this.reconnect = options.reconnect ?? true;
    this.backoff = options.backoff ?? new Backoff();
    const intervalMs = Math.min(Math.max(request.heartbeatIntervalMs || 5000, 100), 60000);
    this.stallMs = intervalMs * Math.max(1, options.stallHeartbeats ?? 3);
    this.connectTimeoutMs = options.connectTimeoutMs ?? 5000;
    this.deadline = options.timeoutMs === undefined ? undefined : performance.now() + options.timeoutMs;
    this.server = servers.current();
    if (options.signal) {
      if (options.signal.aborted) this.cancel();
      options.signal.addEventListener("abort", this.onSignal, { once: true });
    }
    if (request.start === StartMode.LIVE_ONLY && this.reconnect) {
      // Live from now: the journal's head when subscribe() was called.
      this.headLookup = this.findHead().catch(() => undefined); // Asked again, with retries, when iterated.
    }
  }

  /** The last journaled sequence delivered (or snapshot point passed); undefined before any. */
  get position(): bigint | undefined {
    return this.tracker.position;
  }

  /** The journal's incarnation, from the last SnapshotBegin or Heartbeat ("" before any). */
  get incarnation(): string {
    return this.tracker.incarnation;
  }

  /** Duplicates dropped (journaled events at or below the position, after a resume). */
  get duplicates(): number {
    return this.tracker.duplicates;
  }

  get cancelled(): boolean {
    return this.controller.signal.aborted;
  }

  /** Ends the subscription: iteration stops quietly, also while it waits to reconnect. */
  cancel(): void {
    this.controller.abort();
  }

  [Symbol.asyncIterator](): AsyncIterator<FeedEvent> {
    if (this.iterated) throw new TypeError("a Subscription is iterated once");
    this.iterated = true;
    return this.run();
  }

  private left(): number | undefined {
    return this.deadline === undefined ? undefined : this.deadline - performance.now();
  }

  private notify(notice: Omit<Notice, "attempt">): void {
    this.options.onNotice?.({ ...notice, attempt: this.backoff.attempts });
  }

  private async findHead(): Promise<void> {
    const left = this.left();
    const head = await journalHead(this.server, left === undefined ? 30000 : Math.max(left, 1),
      this.controller.signal);
    if (this.tracker.position === undefined) {
      this.tracker.position = head.sequence;
      if (!this.tracker.incarnation) this.tracker.incarnation = head.incarnation;
    }
  }

  private async *run(): AsyncGenerator<FeedEvent, void, undefined> {
    try {
      yield* this.attempts();
    } finally {
      this.options.signal?.removeEventListener("abort", this.onSignal);
      this.onEnd?.();
    }
  }

  private async *attempts(): AsyncGenerator<FeedEvent, void, undefined> {
    let retry = false;
    let failedInRound = 0; // Servers failed one after the other.
    while (!this.cancelled) {
      let error: ConnectError;
      let progress = false;
      this.server = this.servers.current();
      this.stalled = false;
      try {
        if (retry) {
          await this.reconnectProbe();
        }
        if (this.request.start === StartMode.LIVE_ONLY && this.reconnect && this.tracker.position === undefined) {
          await this.headLookup;
          if (this.tracker.position === undefined) await this.findHead();
        }
        for await (const event of this.stream(retry)) {
          progress = true;
          yield event;
        }
        return; // A clean end by the server.
      } catch (e) {
        if (e instanceof SequenceError) throw e;
        error = toConnectError(e, this.cancelled || this.stalled);
      } finally {
        this.tracker.streamEnded();
      }
      if (this.cancelled) return;
      let code = error.code;
      let message = error.rawMessage;
      if (this.stalled && (code === Code.Canceled || code === Code.DeadlineExceeded)) {
        code = Code.DeadlineExceeded;
        message = `stalled stream: no event or heartbeat within ${this.stallMs} ms`;
        error = new ConnectError(message, code);
      }
      if (!this.reconnect) {
        this.servers.failover(this.server.index, error);
        throw error;
      }
      const left = this.left();
      // The timer may fire a little before the clock reaches the caller's
      // deadline: that end is the caller's, not a reason to resume.
      if (left !== undefined && (left <= 0 || (left <= 50 && code === Code.DeadlineExceeded))) throw error;
      if (!isRetryable(code, message)) throw error;
      if (progress) {
        this.backoff.reset();
        failedInRound = 0;
      }
      // The next server at once; a backoff after each full round.
      let wait = true;
      const moveError = this.stalled ? new ConnectError(message, Code.Unavailable) : error;
      if (this.servers.failover(this.server.index, moveError)) {
        failedInRound++;
        wait = failedInRound >= this.servers.length;
        if (wait) failedInRound = 0;
      }
      if (wait && this.backoff.exhausted()) throw error;
      let delayMs = wait ? this.backoff.nextDelayMs() : 0;
      if (left !== undefined) delayMs = Math.min(delayMs, left);
      const pending = this.tracker.snapshotPending;
      this.notify({
        kind: "disconnected", code, message, delayMs,
        resumeFrom: pending ? 0n : (this.tracker.position ?? 0n),
        restartSnapshot: pending,
        server: this.servers.current().address,
      });
      if (wait) await sleep(delayMs, this.controller.signal);
      retry = true;
    }
  }

  /** Waits for the server to answer (with one server, up to connectTimeoutMs). */
  private async reconnectProbe(): Promise<void> {
    let timeoutMs = this.connectTimeoutMs;
    const left = this.left();
    if (left !== undefined) timeoutMs = Math.max(1, Math.min(timeoutMs, left));
    await waitConnected(this.server, timeoutMs, this.servers.length > 1, this.controller.signal);
  }

  /** The events of one stream, after the sequence rules; throws its error. */
  private async *stream(retry: boolean): AsyncGenerator<FeedEvent, void, undefined> {
    const request = this.tracker.nextRequest();
    const call = new AbortController();
    const onCancel = () => call.abort();
    this.controller.signal.addEventListener("abort", onCancel, { once: true });
    const left = this.left();
    const responses = this.server.feed.subscribe(request, {
      signal: call.signal,
      timeoutMs: callTimeoutMs(left),
    })[Symbol.asyncIterator]();
    let responded = false;
    try {
      for (;;) {
        // The watchdog counts only the time spent waiting for the server.
        const watchdog = this.reconnect ? setTimeout(() => {
          this.stalled = true;
          call.abort();
        }, this.stallMs) : undefined;
        let next: IteratorResult<{ events: FeedEvent[] }>;
        try {
          next = await responses.next();
        } finally {
          clearTimeout(watchdog);
        }
        if (next.done) return;
        if (!responded && retry) {
          this.notify({ kind: "resumed", message: "", delayMs: 0, resumeFrom: request.fromSequence,
            restartSnapshot: false, server: this.server.address });
        }
        responded = true;
        for (const event of next.value.events) {
          if (!this.tracker.accept(event)) continue;
          if (event.body.case === "resync") {
            this.notify({ kind: "resync", message: event.body.value.reason, delayMs: 0,
              resumeFrom: event.body.value.requestedSequence, restartSnapshot: true,
              resync: event.body.value, server: this.server.address });
          }
          yield event;
        }
      }
    } finally {
      this.controller.signal.removeEventListener("abort", onCancel);
      call.abort();
      await responses.return?.().catch(() => undefined);
    }
  }
}
