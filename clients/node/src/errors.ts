// The one place that turns what a call threw into a ConnectError with the
// code a gRPC client would report, and says which codes are worth a retry.
import { Code, ConnectError } from "@connectrpc/connect";

// Node errors that mean the connection failed or was lost: UNAVAILABLE, as
// gRPC reports them (connect-node says ABORTED or INTERNAL for some).
const CONNECTION_ERRORS = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ECONNABORTED",
  "EPIPE",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ENOTFOUND",
  "EAI_AGAIN",
  "ERR_HTTP2_SESSION_ERROR",
  "ERR_HTTP2_GOAWAY_SESSION",
  "ERR_HTTP2_INVALID_SESSION",
  "ERR_HTTP2_STREAM_CANCEL",
  "ERR_HTTP2_ERROR",
  "ERR_STREAM_PREMATURE_CLOSE",
]);

// A failed TLS handshake (certificate not trusted, wrong name, ...): gRPC
// says UNAVAILABLE.
const TLS_ERROR = /^(ERR_TLS_|ERR_SSL_|EPROTO$|UNABLE_TO_|CERT_|DEPTH_ZERO_|SELF_SIGNED_|HOSTNAME_MISMATCH)/;

/** Codes a resuming subscription retries (RESOURCE_EXHAUSTED: see isRetryable). */
export const RETRYABLE_CODES: ReadonlySet<Code> = new Set([
  Code.Unavailable,
  Code.DeadlineExceeded,
  Code.Aborted,
  Code.Internal,
  Code.Unknown,
]);

/** Codes a publish with retry retries: the batch key makes a repeat harmless. */
export const PUBLISH_RETRY_CODES: ReadonlySet<Code> = new Set([Code.Unavailable, Code.DeadlineExceeded]);

/** Whether a stream that ended with (code, message) is worth resuming. */
export function isRetryable(code: Code, message: string): boolean {
  if (code === Code.ResourceExhausted) return message.includes("from_sequence=");
  return RETRYABLE_CODES.has(code);
}

function lostConnection(reason: unknown): boolean {
  const seen = new Set<unknown>();
  for (let e = reason; e instanceof Error && !seen.has(e); e = (e as { cause?: unknown }).cause) {
    seen.add(e);
    const code = (e as { code?: unknown }).code;
    if (typeof code === "string" && (CONNECTION_ERRORS.has(code) || TLS_ERROR.test(code))) return true;
    if (/\bNGHTTP2_(REFUSED_STREAM|INTERNAL_ERROR)\b|GOAWAY|premature close|socket hang up/i.test(e.message)) return true;
  }
  return false;
}

/**
 * A ConnectError for `reason`. A status the server sent is kept; a failed
 * or lost connection becomes UNAVAILABLE, as in the Python and C++ clients.
 * `aborted`: whether the caller cancelled the call; otherwise CANCELED (what
 * connect-node reports for a stream whose connection died) is UNAVAILABLE.
 */
export function toConnectError(reason: unknown, aborted = false): ConnectError {
  const error = ConnectError.from(reason);
  const lost = error.code === Code.Canceled ? !aborted
    : error.code !== Code.Unavailable && error.code !== Code.DeadlineExceeded && lostConnection(reason);
  if (!lost) return error;
  const unavailable = new ConnectError(`connection lost: ${error.rawMessage}`, Code.Unavailable, error.metadata);
  unavailable.cause = reason;
  return unavailable;
}
