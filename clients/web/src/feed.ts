// The feed as the dashboard sees it: one Subscribe stream that resumes by
// itself (from the last sequence and incarnation, with backoff) and keeps the
// latest state of every item, plus the health figures of the stream.
import { ConnectError, type Client } from "@connectrpc/connect";
import { create } from "@bufbuild/protobuf";
import { timestampDate } from "@bufbuild/protobuf/wkt";
import {
  type FeedEvent,
  type FeedService,
  type ItemRef,
  StartMode,
  SubscribeRequestSchema,
} from "../../node/dist/proto.js";
import { keyString } from "./format.js";

export const HEARTBEAT_MS = 1000;
/** A stream silent for this long is treated as lost and resumed. */
const STALL_MS = 3 * HEARTBEAT_MS + 2000;
const BACKOFF_MIN_MS = 250;
const BACKOFF_MAX_MS = 5000;

export interface Health {
  state: "connecting" | "resuming" | "snapshot" | "live" | "reconnecting";
  incarnation: string;
  lastSequence: bigint;
  journalSequence: bigint;
  heartbeats: number;
  lastHeartbeatAt: number;
  reconnects: number;
  resyncs: number;
  latencyMs: number | undefined;
  lastError: string;
  retryAt: number;
}

/** The state key of an item event, or "" for control events. */
export function itemKey(e: FeedEvent): string {
  const b = e.body;
  switch (b.case) {
    case "issuer": return `issuer/${b.value.id}`;
    case "segment": return `segment/${b.value.issuer}/${b.value.id}`;
    case "fact": return `fact/${keyString(b.value.key)}`;
    case "guidance": return `guidance/${keyString(b.value.key)}`;
    case "capitalAction": return `action/${b.value.issuer}/${b.value.actionId}`;
    default: return "";
  }
}

export function refKey(r: ItemRef | undefined): string {
  switch (r?.item.case) {
    case "fact": return `fact/${keyString(r.item.value)}`;
    case "guidance": return `guidance/${keyString(r.item.value)}`;
    case "capitalAction": return `action/${r.item.value.issuer}/${r.item.value.actionId}`;
    default: return "";
  }
}

export interface Listener {
  /** The whole state was replaced (a snapshot ended). */
  reset(): void;
  /** A live journaled event, with the item it replaced (if any). */
  live(event: FeedEvent, previous: FeedEvent | undefined): void;
  health(h: Health): void;
}

export class Feed {
  readonly items = new Map<string, FeedEvent>();
  readonly health: Health = {
    state: "connecting", incarnation: "", lastSequence: 0n, journalSequence: 0n, heartbeats: 0,
    lastHeartbeatAt: 0, reconnects: 0, resyncs: 0, latencyMs: undefined, lastError: "", retryAt: 0,
  };
  private snapshotItems: Map<string, FeedEvent> | undefined;
  private synced = false;

  constructor(private readonly client: Client<typeof FeedService>, private readonly listener: Listener) {}

  /** Runs forever: subscribes, and resumes after any end of the stream. */
  async run(): Promise<void> {
    let backoff = BACKOFF_MIN_MS;
    for (;;) {
      const before = this.health.lastSequence;
      try {
        await this.once();
        this.health.lastError = "stream ended";
      } catch (e) {
        this.health.lastError = e instanceof ConnectError ? `${e.code}: ${e.rawMessage}` : String(e);
      }
      if (this.health.lastSequence > before) backoff = BACKOFF_MIN_MS;
      const wait = backoff / 2 + Math.random() * backoff / 2;
      backoff = Math.min(BACKOFF_MAX_MS, backoff * 2);
      this.health.state = "reconnecting";
      this.health.reconnects++;
      this.health.retryAt = Date.now() + wait;
      this.listener.health(this.health);
      await new Promise((r) => setTimeout(r, wait));
    }
  }

  private async once(): Promise<void> {
    const resume = this.synced && this.health.lastSequence > 0n;
    const request = create(SubscribeRequestSchema, {
      start: resume ? StartMode.FROM_SEQUENCE : StartMode.SNAPSHOT_THEN_LIVE,
      fromSequence: resume ? this.health.lastSequence : 0n,
      incarnation: resume ? this.health.incarnation : "",
      heartbeatIntervalMs: HEARTBEAT_MS,
    });
    this.health.state = resume ? "resuming" : "connecting";
    this.listener.health(this.health);
    const abort = new AbortController();
    let lastMessageAt = Date.now();
    const watchdog = setInterval(() => {
      if (Date.now() - lastMessageAt > STALL_MS) abort.abort(new Error(`no message for ${STALL_MS} ms`));
    }, 500);
    try {
      for await (const response of this.client.subscribe(request, { signal: abort.signal })) {
        lastMessageAt = Date.now();
        // A resumed stream is live from its first message (a snapshot sets its own states).
        if (this.health.state === "resuming") this.health.state = "live";
        for (const event of response.events) this.apply(event);
        this.listener.health(this.health);
      }
    } finally {
      clearInterval(watchdog);
    }
  }

  private apply(e: FeedEvent): void {
    const h = this.health;
    switch (e.body.case) {
      case "snapshotBegin":
        this.snapshotItems = new Map();
        h.state = "snapshot";
        h.incarnation = e.body.value.incarnation;
        h.lastSequence = e.body.value.sequence;
        return;
      case "snapshotEnd":
        this.items.clear();
        for (const [k, v] of this.snapshotItems ?? []) this.items.set(k, v);
        this.snapshotItems = undefined;
        this.synced = true;
        h.state = "live";
        h.lastSequence = e.body.value.sequence;
        if (h.journalSequence < h.lastSequence) h.journalSequence = h.lastSequence;
        this.listener.reset();
        return;
      case "heartbeat":
        h.heartbeats++;
        h.lastHeartbeatAt = Date.now();
        h.journalSequence = e.body.value.lastSequence;
        if (e.body.value.incarnation) h.incarnation = e.body.value.incarnation;
        return;
      case "resync":
        h.resyncs++;
        this.synced = false;
        return;
      case "conflated":
        return;
    }
    if (this.snapshotItems) {
      const key = itemKey(e);
      if (key) this.snapshotItems.set(key, e);
      return;
    }
    if (e.sequence > 0n) {
      h.lastSequence = e.sequence;
      if (h.journalSequence < e.sequence) h.journalSequence = e.sequence;
      if (e.time) h.latencyMs = Date.now() - timestampDate(e.time).getTime();
    }
    let previous: FeedEvent | undefined;
    if (e.body.case === "retraction") {
      const key = refKey(e.body.value.item);
      previous = this.items.get(key);
      this.items.delete(key);
    } else {
      const key = itemKey(e);
      previous = this.items.get(key);
      this.items.set(key, e);
    }
    this.listener.live(e, previous);
  }
}
