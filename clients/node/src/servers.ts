// The servers of a client: a gRPC (HTTP/2) transport each, and the one in use.
import { Code, createClient, type Client, type ConnectError, type Interceptor } from "@connectrpc/connect";
import { createGrpcTransport, Http2SessionManager } from "@connectrpc/connect-node";
import { FeedService, ScenarioService } from "./proto.js";

/** TLS settings (kessand's --tls_cert, --tls_client_ca); PEM contents, as node:tls takes them. */
export interface TlsOptions {
  /** CA of the server's certificate; default: Node's trusted CAs. */
  ca?: string | Uint8Array;
  /** This client's certificate and key, for mTLS. */
  cert?: string | Uint8Array;
  key?: string | Uint8Array;
  /** The name the server's certificate must hold; default: the host of the server. */
  serverName?: string;
}

export interface ConnectionOptions {
  tls?: boolean | TlsOptions;
  /** Bearer token sent with every call ("authorization: Bearer <token>"). */
  token?: string;
  /** HTTP/2 ping interval, so that a dead connection is noticed on a quiet stream (20000). */
  keepaliveMs?: number;
  /** Extra interceptors, run before the token's. */
  interceptors?: Interceptor[];
}

function pem(value: string | Uint8Array | undefined): string | Buffer | undefined {
  return value === undefined || typeof value === "string" ? value : Buffer.from(value);
}

/**
 * The servers of `servers`: "host:port", "a:1,b:2" or a list of them.
 * Throws TypeError for an empty list or an empty server.
 */
export function parseServers(servers: string | readonly string[]): string[] {
  const items = typeof servers === "string" ? servers.split(",") : [...servers];
  const out: string[] = [];
  for (const item of items) {
    if (typeof item !== "string") throw new TypeError(`server ${String(item)} is not a string`);
    if (item.trim() === "") throw new TypeError(`server list ${JSON.stringify(servers)} has an empty server`);
    if (/^[a-z]+:\/\//i.test(item.trim())) {
      throw new TypeError(`server "${item.trim()}" must be host:port, without a scheme`);
    }
    out.push(item.trim());
  }
  if (out.length === 0) throw new TypeError("the server list is empty");
  return out;
}

/** One server: its address and clients of both services. */
export interface Server {
  readonly index: number;
  readonly address: string;
  readonly feed: Client<typeof FeedService>;
  readonly scenarios: Client<typeof ScenarioService>;
}

export type FailoverListener = (from: string, to: string, error: ConnectError) => void;

export class Servers {
  readonly addresses: readonly string[];
  private readonly servers: Server[];
  private readonly sessions: Http2SessionManager[] = [];
  private currentIndex = 0;

  constructor(addresses: string[], options: ConnectionOptions, private readonly onFailover?: FailoverListener) {
    this.addresses = addresses;
    const tls = options.tls === true ? {} : options.tls || undefined;
    const interceptors = [...(options.interceptors ?? [])];
    if (options.token) {
      const value = `Bearer ${options.token}`;
      interceptors.push((next) => (req) => {
        req.header.set("authorization", value);
        return next(req);
      });
    }
    const keepaliveMs = options.keepaliveMs ?? 20000;
    this.servers = addresses.map((address, index) => {
      const baseUrl = `${tls ? "https" : "http"}://${address}`;
      const session = new Http2SessionManager(
        baseUrl,
        { pingIntervalMs: keepaliveMs, pingTimeoutMs: 10000, pingIdleConnection: false },
        tls ? { ca: pem(tls.ca), cert: pem(tls.cert), key: pem(tls.key), servername: tls.serverName } : {},
      );
      this.sessions.push(session);
      const transport = createGrpcTransport({ baseUrl, sessionManager: session, interceptors });
      return {
        index,
        address,
        feed: createClient(FeedService, transport),
        scenarios: createClient(ScenarioService, transport),
      };
    });
  }

  get length(): number {
    return this.servers.length;
  }

  /** The server in use. */
  current(): Server {
    return this.servers[this.currentIndex];
  }

  /**
   * Moves from server `failed` to the next one, unless another call already
   * moved; only UNAVAILABLE moves. True if the client is on another server now.
   */
  failover(failed: number, error: ConnectError): boolean {
    if (this.servers.length < 2 || error.code !== Code.Unavailable) return false;
    if (this.currentIndex !== failed) return true; // Another call moved on already.
    this.currentIndex = (failed + 1) % this.servers.length;
    this.onFailover?.(this.addresses[failed], this.addresses[this.currentIndex], error);
    return true;
  }

  /** Closes every connection; calls in flight fail. */
  close(): void {
    for (const s of this.sessions) s.abort();
  }
}
