// Filters, start modes and views from plain arguments; a bad name is a
// TypeError / RangeError before any call.
import { create } from "@bufbuild/protobuf";
import { timestampFromDate, type Timestamp } from "@bufbuild/protobuf/wkt";
import {
  EventKind,
  FilterSchema,
  PointInTimeSchema,
  RevisionView,
  SlowConsumerPolicy,
  StartMode,
  type Filter,
  type PointInTime,
} from "./proto.js";

/** What to select: each non-empty list must match; empty selects everything. */
export interface FilterInit {
  /** Issuer ids or aliases ("IIJ", "11J"). */
  issuers?: string | readonly string[];
  concepts?: string | readonly string[];
  segments?: string | readonly string[];
  /** EventKind values or names: "fact", "EVENT_KIND_FACT". */
  kinds?: EventKind | string | ReadonlyArray<EventKind | string>;
}

function list<T>(value: T | readonly T[] | undefined): T[] {
  if (value === undefined || value === null) return [];
  return Array.isArray(value) ? [...(value as readonly T[])] : [value as T];
}

// protoc-gen-es drops the enum's prefix: EventKind.FACT is EVENT_KIND_FACT.
function enumValue<E extends Record<string, string | number>>(
  e: E, prefix: string, value: number | string, what: string): number {
  if (typeof value === "number") return value;
  let name = String(value).toUpperCase().replace(/-/g, "_");
  if (name.startsWith(prefix)) name = name.slice(prefix.length);
  const v = e[name as keyof E];
  if (typeof v !== "number" || v === 0) {
    const names = Object.keys(e).filter((k) => isNaN(Number(k)) && e[k] !== 0).map((k) => k.toLowerCase());
    throw new RangeError(`unknown ${what} "${value}"; expected one of ${names.join(", ")}`);
  }
  return v;
}

/** A kessan.v1.Filter from a FilterInit. */
export function makeFilter(init: FilterInit = {}): Filter {
  for (const key of Object.keys(init)) {
    if (!["issuers", "concepts", "segments", "kinds"].includes(key)) {
      throw new TypeError(`unknown filter field "${key}"; expected issuers, concepts, segments or kinds`);
    }
  }
  return create(FilterSchema, {
    issuers: list(init.issuers),
    concepts: list(init.concepts),
    segments: list(init.segments),
    eventKinds: list(init.kinds).map((k) => enumValue(EventKind, "EVENT_KIND_", k, "event kind")),
  });
}

/** Where a subscription starts. */
export type StartInit = "snapshot" | "live" | "from_sequence" | StartMode;

export function startMode(start: StartInit): StartMode {
  switch (start) {
    case "snapshot": return StartMode.SNAPSHOT_THEN_LIVE;
    case "live": return StartMode.LIVE_ONLY;
    case "from_sequence": return StartMode.FROM_SEQUENCE;
  }
  if (typeof start === "number") return start;
  throw new RangeError(`unknown start "${String(start)}"; expected snapshot, live or from_sequence`);
}

/** Slow-consumer policy: "disconnect" (the default) or "conflate". */
export type PolicyInit = "disconnect" | "conflate" | SlowConsumerPolicy;

export function slowConsumerPolicy(policy: PolicyInit): SlowConsumerPolicy {
  return enumValue(SlowConsumerPolicy, "SLOW_CONSUMER_POLICY_", policy, "policy");
}

/** Which revision of each item a snapshot holds. */
export type ViewInit = "latest" | "first_reported" | "first" | "as_of" | RevisionView;

/** The PointInTime of (view, asOf); asOf alone means view "as_of". */
export function pointInTime(view?: ViewInit, asOf?: Date | Timestamp): PointInTime | undefined {
  if (view === undefined && asOf === undefined) return undefined;
  const v = enumValue(RevisionView, "REVISION_VIEW_", view === "first" ? "first_reported" : view ?? "as_of", "view");
  if (asOf !== undefined && v !== RevisionView.AS_OF) throw new RangeError('asOf goes with view "as_of" only');
  if (asOf === undefined && v === RevisionView.AS_OF) throw new RangeError('view "as_of" needs asOf');
  return create(PointInTimeSchema, {
    view: v,
    asOf: asOf === undefined ? undefined : asOf instanceof Date ? timestampFromDate(asOf) : asOf,
  });
}
