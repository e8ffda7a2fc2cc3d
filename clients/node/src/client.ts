// KessanClient: kessan.v1 FeedService and ScenarioService over gRPC (HTTP/2),
// on one kessand or on replicas of one feed (docs/clients.md).
import { clone, create, isMessage, type Message } from "@bufbuild/protobuf";
import { timestampFromDate, type Timestamp } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError } from "@connectrpc/connect";
import { randomBytes } from "node:crypto";
import { Backoff } from "./backoff.js";
import { PUBLISH_RETRY_CODES, toConnectError } from "./errors.js";
import {
  makeFilter, pointInTime, slowConsumerPolicy, startMode,
  type FilterInit, type PolicyInit, type StartInit, type ViewInit,
} from "./filter.js";
import {
  GetSnapshotRequestSchema, ParameterValueSchema, PublishItemSchema, PublishRequestSchema, RunScenarioRequestSchema,
  StartMode, SubscribeRequestSchema,
  type GetSnapshotResponse, type ParameterValue, type PublishItem, type PublishRequest, type PublishResponse,
  type ScenarioInfo, type ScenarioResult,
} from "./proto.js";
import { parseServers, Servers, type ConnectionOptions, type FailoverListener, type Server } from "./servers.js";
import { Subscription, type ResumeOptions } from "./subscription.js";
import { callTimeoutMs, sleep, waitConnected } from "./wait.js";

export interface KessanClientOptions extends ConnectionOptions {
  /** "host:port", several replicas of one feed as "a:1,b:2" or a list (default "127.0.0.1:50051"). */
  servers?: string | readonly string[];
  /** Default deadline of the unary calls in ms (30000); null for none. Streams have none. */
  timeoutMs?: number | null;
  /** Called on each move to another server. */
  onFailover?: FailoverListener;
}

/** Options of one unary call. */
export interface CallOptions {
  /** Deadline of the call (with retry: of each attempt); default: the client's. */
  timeoutMs?: number | null;
  signal?: AbortSignal;
}

export interface PublishOptions extends CallOptions {
  /** The batch's identity: a repeat is answered with the original sequences and duplicate = true. */
  publisherId?: string;
  batchKey?: string;
  /** Retry UNAVAILABLE and DEADLINE_EXCEEDED (on the next server) with the same identity, made up if missing. */
  retry?: boolean;
  /** With retry: 100 ms base, 5 s cap, 10 attempts. */
  backoff?: Backoff;
  /** The response carries the sequences only. */
  omitEvents?: boolean;
}

export interface SnapshotOptions extends CallOptions {
  /** "latest" (default), "first_reported" or "as_of". */
  view?: ViewInit;
  /** With view "as_of" (alone it means that view). */
  asOf?: Date | Timestamp;
}

export interface SubscribeOptions extends ResumeOptions {
  /** "snapshot" (default; "from_sequence" when fromSequence is given), "live" or "from_sequence". */
  start?: StartInit;
  /** Every journaled event above this sequence, then live ones. */
  fromSequence?: bigint | number;
  /** The incarnation fromSequence belongs to: another journal's answers with a Resync. */
  incarnation?: string;
  /** Heartbeat interval asked for (5000 with reconnect when not given). */
  heartbeatMs?: number;
  /** Slow consumers: "disconnect" (default) or "conflate". */
  policy?: PolicyInit;
  view?: ViewInit;
  asOf?: Date | Timestamp;
}

/** A parameter of a scenario: text is converted by the server to the declared type. */
export type ParameterInit = string | number | bigint | boolean | ParameterValue;

export interface RunScenarioOptions extends CallOptions {
  /** The issuer whose facts are read. */
  issuer?: string;
  params?: Record<string, ParameterInit>;
  /** Run on the state as the feed knew it at this time. */
  asOf?: Date | Timestamp;
}

/** Things a batch may hold: PublishItem and each item's message. */
const ITEM_CASES: Record<string, PublishItem["item"]["case"]> = {
  "kessan.v1.Issuer": "issuer",
  "kessan.v1.Segment": "segment",
  "kessan.v1.Fact": "fact",
  "kessan.v1.CapitalAction": "capitalAction",
  "kessan.v1.Guidance": "guidance",
  "kessan.v1.Retraction": "retraction",
};

function publishItem(message: Message): PublishItem {
  if (isMessage(message, PublishItemSchema)) return message;
  const itemCase = ITEM_CASES[message?.$typeName];
  if (!itemCase) {
    throw new TypeError(`cannot publish a ${message?.$typeName ?? typeof message}; expected PublishItem, Issuer, ` +
      "Segment, Fact, CapitalAction, Guidance or Retraction (made with create())");
  }
  return create(PublishItemSchema, { item: { case: itemCase, value: message } as PublishItem["item"] });
}

function parameterValue(name: string, value: ParameterInit): ParameterValue {
  if (typeof value === "object" && value !== null) {
    if (isMessage(value, ParameterValueSchema)) return value;
    throw new TypeError(`parameter ${name}: expected a string, number, bigint, boolean or ParameterValue`);
  }
  if (!["string", "number", "bigint", "boolean"].includes(typeof value)) {
    throw new TypeError(`parameter ${name}: expected a string, number, bigint, boolean or ParameterValue`);
  }
  return create(ParameterValueSchema, { kind: { case: "text", value: String(value) } });
}

/**
 * KessanClient talks to one kessand, or to replicas of one feed.
 *
 *     const client = new KessanClient({ servers: "127.0.0.1:50051" });
 *     const snapshot = await client.getSnapshot({ issuers: "IIJ" });
 *     for await (const event of client.subscribe({ concepts: "revenue" })) { ... }
 *     client.close();
 *
 * Errors are ConnectErrors: `code` (Code.InvalidArgument for a refused batch
 * or filter, ...) and `rawMessage`, the server's message (it names the item
 * index, field path and rule). A failed or lost connection is
 * Code.Unavailable. Bad arguments to the client itself throw TypeError or
 * RangeError before any call.
 *
 * Failover: calls go to the current server (the first at the start); only
 * UNAVAILABLE moves the client to the next one, round robin. getSnapshot,
 * listScenarios and runScenario ask each server once; publish with retry and
 * a resuming subscribe go to the next server at once and back off after each
 * full round; a plain publish is not retried (the next call goes to the next
 * server). Each move calls onFailover(from, to, error).
 */
export class KessanClient {
  /** The servers, as given. */
  readonly servers: readonly string[];
  readonly timeoutMs: number | null;
  private readonly pool: Servers;
  private readonly subscriptions = new Set<Subscription>();

  constructor(options: KessanClientOptions = {}) {
    this.servers = parseServers(options.servers ?? "127.0.0.1:50051");
    this.timeoutMs = options.timeoutMs === undefined ? 30000 : options.timeoutMs;
    this.pool = new Servers([...this.servers], options, options.onFailover);
  }

  /** The server in use: the first until a failover. */
  get server(): string {
    return this.pool.current().address;
  }

  /**
   * Publishes a batch, all or nothing: a PublishRequest, or one or a list of
   * PublishItem / Issuer / Segment / Fact / CapitalAction / Guidance /
   * Retraction messages. The response holds the sequence of each item and
   * the committed events (revision, supersedesSequence, knownAt).
   */
  async publish(items: PublishRequest | Message | readonly Message[], options: PublishOptions = {}):
      Promise<PublishResponse> {
    const request = isMessage(items as Message, PublishRequestSchema)
      ? clone(PublishRequestSchema, items as PublishRequest)
      : create(PublishRequestSchema, {
        items: (Array.isArray(items) ? items : [items as Message]).map(publishItem),
      });
    if (options.publisherId !== undefined) request.publisherId = options.publisherId;
    if (options.batchKey !== undefined) request.batchKey = options.batchKey;
    if (options.omitEvents !== undefined) request.omitEvents = options.omitEvents;
    const timeoutMs = this.callTimeout(options);
    if (!options.retry) {
      const server = this.pool.current();
      try {
        return await server.feed.publish(request, { timeoutMs, signal: options.signal });
      } catch (e) {
        const error = toConnectError(e, options.signal?.aborted);
        this.pool.failover(server.index, error);
        throw error;
      }
    }
    if (!request.publisherId) request.publisherId = `kessan-node-${randomBytes(8).toString("hex")}`;
    if (!request.batchKey) request.batchKey = randomBytes(16).toString("hex");
    const backoff = options.backoff ?? new Backoff({ maxAttempts: 10 });
    let failedInRound = 0; // Servers failed one after the other.
    let again = false;
    for (;;) {
      const server = this.pool.current();
      if (again) {
        // Wait for the server rather than fail fast again; the attempt says what is wrong.
        await waitConnected(server, timeoutMs ?? 5000, this.pool.length > 1, options.signal).catch(() => undefined);
      }
      again = true;
      let error: ConnectError;
      try {
        return await server.feed.publish(request, { timeoutMs, signal: options.signal });
      } catch (e) {
        error = toConnectError(e, options.signal?.aborted);
        if (!PUBLISH_RETRY_CODES.has(error.code) || options.signal?.aborted) throw error;
      }
      // The same batch key on the next server at once; a backoff after each full round.
      if (this.pool.failover(server.index, error)) {
        failedInRound++;
        if (failedInRound < this.pool.length) continue;
        failedInRound = 0;
      }
      if (backoff.exhausted()) throw error;
      await sleep(backoff.nextDelayMs(), options.signal);
    }
  }

  /** The latest state that matches `filter`, as of `sequence` (and the journal's incarnation). */
  async getSnapshot(filter: FilterInit = {}, options: SnapshotOptions = {}): Promise<GetSnapshotResponse> {
    const request = create(GetSnapshotRequestSchema, {
      filter: makeFilter(filter),
      pointInTime: pointInTime(options.view, options.asOf),
    });
    return this.read((server, timeoutMs) => server.feed.getSnapshot(request, { timeoutMs, signal: options.signal }),
      options);
  }

  /**
   * A subscription to the events that match `filter`: an async iterable of
   * FeedEvents (batches flattened, control events included). It resumes by
   * itself unless reconnect is false; see Subscription.
   */
  subscribe(filter: FilterInit = {}, options: SubscribeOptions = {}): Subscription {
    const start = startMode(options.start ?? (options.fromSequence === undefined ? "snapshot" : "from_sequence"));
    if (start === StartMode.FROM_SEQUENCE && options.fromSequence === undefined) {
      throw new TypeError('start "from_sequence" needs fromSequence');
    }
    if (start !== StartMode.FROM_SEQUENCE && options.fromSequence !== undefined) {
      throw new TypeError('fromSequence is only valid with start "from_sequence"');
    }
    const fromSequence = BigInt(options.fromSequence ?? 0);
    if (fromSequence < 0n) throw new RangeError("fromSequence must be >= 0");
    const reconnect = options.reconnect ?? true;
    const request = create(SubscribeRequestSchema, {
      filter: makeFilter(filter),
      start,
      fromSequence,
      incarnation: options.incarnation ?? "",
      heartbeatIntervalMs: options.heartbeatMs ?? (reconnect ? 5000 : 0),
      slowConsumerPolicy: options.policy === undefined ? undefined : slowConsumerPolicy(options.policy),
      pointInTime: pointInTime(options.view, options.asOf),
    });
    const subscription = new Subscription(this.pool, request, options);
    this.subscriptions.add(subscription);
    subscription.onEnd = () => this.subscriptions.delete(subscription);
    return subscription;
  }

  /** Every scenario plugin kessand found, ready or not. */
  async listScenarios(options: CallOptions = {}): Promise<ScenarioInfo[]> {
    const response = await this.read(
      (server, timeoutMs) => server.scenarios.listScenarios({}, { timeoutMs, signal: options.signal }), options);
    return response.scenarios;
  }

  /** Runs a scenario once: runScenario("dilution", { params: { shares_outstanding_before: 48000 } }). */
  async runScenario(name: string, options: RunScenarioOptions = {}): Promise<ScenarioResult> {
    const parameters: Record<string, ParameterValue> = {};
    for (const [key, value] of Object.entries(options.params ?? {})) parameters[key] = parameterValue(key, value);
    const request = create(RunScenarioRequestSchema, {
      name,
      issuer: options.issuer ?? "",
      parameters,
      asOf: options.asOf instanceof Date ? timestampFromDate(options.asOf) : options.asOf,
    });
    const response = await this.read(
      (server, timeoutMs) => server.scenarios.runScenario(request, { timeoutMs, signal: options.signal }), options);
    if (!response.result) throw new ConnectError("RunScenario answered without a result", Code.Internal);
    return response.result;
  }

  /** Cancels open subscriptions and closes the connections. */
  close(): void {
    for (const s of this.subscriptions) s.cancel();
    this.subscriptions.clear();
    this.pool.close();
  }

  private callTimeout(options: CallOptions): number | undefined {
    const t = options.timeoutMs === undefined ? this.timeoutMs : options.timeoutMs;
    return t === null ? undefined : callTimeoutMs(t);
  }

  /** A read: each server is asked once, in turn, while they are UNAVAILABLE. */
  private async read<T>(call: (server: Server, timeoutMs: number | undefined) => Promise<T>,
                        options: CallOptions): Promise<T> {
    const timeoutMs = this.callTimeout(options);
    for (let tried = 1; ; tried++) {
      const server = this.pool.current();
      try {
        return await call(server, timeoutMs);
      } catch (e) {
        const error = toConnectError(e, options.signal?.aborted);
        if (!this.pool.failover(server.index, error) || tried >= this.pool.length) throw error;
      }
    }
  }
}
