// Formatting of kessan.v1 values for display: every figure with its unit and
// its precision, never rounded beyond what was stated.
import {
  type FactKey,
  type FiscalPeriod,
  type Money,
  PeriodKind,
  type Precision,
  Qualifier,
  type Value,
} from "../../node/dist/proto.js";

const SCALE_WORDS: Record<number, string> = { 3: "thousand", 6: "million", 9: "billion", 12: "trillion" };

/** 13000000000n -> "13,000,000,000". */
export function grouped(n: bigint): string {
  const neg = n < 0n;
  const digits = (neg ? -n : n).toString().replace(/\B(?=(\d{3})+(?!\d))/g, ",");
  return (neg ? "-" : "") + digits;
}

/** Money as "JPY 13,000,000,000" (nanos as a fraction when set). */
export function money(m: Money | undefined): string {
  if (!m) return "";
  let text = grouped(m.units);
  if (m.nanos !== 0) {
    const frac = Math.abs(m.nanos).toString().padStart(9, "0").replace(/0+$/, "");
    text = (m.units === 0n && m.nanos < 0 ? "-" : "") + text + "." + frac;
  }
  return `${m.currencyCode} ${text}`;
}

/** Money as a JS number (for charts only; never for display of a figure). */
export function moneyNumber(m: Money | undefined): number {
  return m ? Number(m.units) + m.nanos / 1e9 : NaN;
}

export function qualifierSymbol(q: Qualifier): string {
  switch (q) {
    case Qualifier.GREATER_THAN: return "> ";
    case Qualifier.LESS_THAN: return "< ";
    case Qualifier.AT_LEAST: return "≥ ";
    case Qualifier.AT_MOST: return "≤ ";
    default: return "";
  }
}

/** "to the billion", "to 3 decimals", "exact". */
export function precisionText(p: Precision | undefined): string {
  if (!p) return "precision not stated";
  if (p.rounding.case === "exact") return "exact";
  if (p.rounding.case === "decimals") {
    const d = p.rounding.value;
    if (d < 0) return `to the ${SCALE_WORDS[-d] ?? `10^${-d}`}`;
    if (d === 0) return "to the unit";
    return `to ${d} decimal${d === 1 ? "" : "s"}`;
  }
  return "precision not stated";
}

/** The unit of a value: the currency, "ratio" or "count". */
export function unitOf(v: Value | undefined): string {
  switch (v?.kind.case) {
    case "money": return v.kind.value.currencyCode;
    case "ratio": return "ratio";
    case "count": return "count";
    default: return "";
  }
}

/** The figure without its precision: "JPY 13,000,000,000", "0.077 (7.7%)". */
export function figure(v: Value | undefined): string {
  if (!v) return "";
  const q = qualifierSymbol(v.precision?.qualifier ?? Qualifier.UNSPECIFIED);
  switch (v.kind.case) {
    case "money": return q + money(v.kind.value);
    case "ratio": {
      const s = v.kind.value.value;
      return `${q}${s} (${percent(s)})`;
    }
    case "count": return `${q}${grouped(v.kind.value)}`;
    default: return "";
  }
}

/** "0.077" -> "7.7%" by moving the decimal point (no floating point). */
export function percent(decimal: string): string {
  const m = /^(-?)(\d*)(?:\.(\d*))?$/.exec(decimal.trim());
  if (!m) return decimal;
  const [, sign, int, frac = ""] = m;
  const digits = (int + frac.padEnd(2, "0"));
  const point = int.length + 2;
  let whole = digits.slice(0, point).replace(/^0+(?=\d)/, "") || "0";
  let rest = digits.slice(point).replace(/0+$/, "");
  return `${sign}${whole}${rest ? "." + rest : ""}%`;
}

/** A change between two values of the same kind: "-JPY 15,000,000 (-0.115%)", or "". */
export function change(before: Value | undefined, after: Value | undefined): string {
  if (before?.kind.case === "money" && after?.kind.case === "money" &&
      before.kind.value.currencyCode === after.kind.value.currencyCode) {
    const b = before.kind.value, a = after.kind.value;
    const nanos = (a.units - b.units) * 1_000_000_000n + BigInt(a.nanos - b.nanos);
    const units = nanos / 1_000_000_000n, rest = Number(nanos % 1_000_000_000n);
    const sign = nanos > 0n ? "+" : nanos < 0n ? "-" : "±";
    const abs = money({ currencyCode: a.currencyCode, units: units < 0n ? -units : units,
                        nanos: Math.abs(rest) } as Money);
    const base = moneyNumber(b);
    const rel = base !== 0 ? ` (${sign === "-" ? "" : "+"}${((moneyNumber(a) - base) / Math.abs(base) * 100).toFixed(3)}%)` : "";
    return `${sign}${abs}${rel}`;
  }
  if (before?.kind.case === "ratio" && after?.kind.case === "ratio") {
    const d = Number(after.kind.value.value) - Number(before.kind.value.value);
    return `${d >= 0 ? "+" : ""}${(d * 100).toFixed(2)} pt`;
  }
  if (before?.kind.case === "count" && after?.kind.case === "count") {
    const d = after.kind.value - before.kind.value;
    return `${d >= 0n ? "+" : ""}${grouped(d)}`;
  }
  return "";
}

/** IIJ's period labels: "4Q02", "1H02", "FY2002". */
export function periodLabel(p: FiscalPeriod | undefined): string {
  if (!p || !p.fiscalYear) return "";
  const yy = String(p.fiscalYear % 100).padStart(2, "0");
  switch (p.kind) {
    case PeriodKind.QUARTER: return `${p.number}Q${yy}`;
    case PeriodKind.HALF: return `${p.number}H${yy}`;
    case PeriodKind.FULL_YEAR: return `FY${p.fiscalYear}`;
    default: return `FY${p.fiscalYear}?`;
  }
}

/** Sort order of periods: by fiscal year, then quarters, halves, the full year. */
export function periodOrder(p: FiscalPeriod | undefined): number {
  if (!p) return 0;
  const k = p.kind === PeriodKind.QUARTER ? p.number : p.kind === PeriodKind.HALF ? 4 + p.number : 9;
  return p.fiscalYear * 10 + k;
}

/** A row of the grid: the concept, its segment and comparison period. */
export function rowLabel(k: FactKey): string {
  let label = k.conceptId;
  if (k.segment) label += ` · ${k.segment}`;
  if (k.comparisonPeriod?.fiscalYear) label += ` vs ${periodLabel(k.comparisonPeriod)}`;
  return label;
}

/** A stable string for a fact key: "IIJ|revenue|4Q02||". */
export function keyString(k: FactKey | undefined): string {
  if (!k) return "";
  return [k.issuer, k.conceptId, periodLabel(k.period), k.segment, periodLabel(k.comparisonPeriod)].join("|");
}
