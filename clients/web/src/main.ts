// The analyst's dashboard: the live tape, the issuer's grid with its view
// switch and provenance, capital actions, scenarios (form and charts) and the
// feed's health. Talks to kessand's HTTP port in the Connect protocol.
import "uplot/dist/uPlot.min.css";
import "./app.css";
import { create } from "@bufbuild/protobuf";
import { timestampDate, timestampFromDate } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-web";
import {
  type CapitalAction,
  type Fact,
  type FeedEvent,
  FeedService,
  GetSnapshotRequestSchema,
  type Guidance,
  ParameterType,
  type ParameterValue,
  ParameterValueSchema,
  PluginState,
  type Provenance,
  RevisionView,
  type ScenarioInfo,
  type ScenarioResult,
  ScenarioService,
  type Value,
} from "../../node/dist/proto.js";
import { Feed, type Health } from "./feed.js";
import { change, figure, keyString, money, periodLabel, periodOrder, precisionText, rowLabel, unitOf } from "./format.js";
import { drawComparatives, drawOutlook } from "./charts.js";

const transport = createConnectTransport({ baseUrl: location.origin });
const feedClient = createClient(FeedService, transport);
const scenarioClient = createClient(ScenarioService, transport);

const $ = <T extends HTMLElement = HTMLElement>(id: string) => document.getElementById(id) as T;

function el<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Record<string, string> = {},
                                                   ...children: (Node | string)[]): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  e.append(...children);
  return e;
}

function errorText(e: unknown): string {
  return e instanceof ConnectError ? `${Code[e.code]}: ${e.rawMessage}` : e instanceof Error ? e.message : String(e);
}

function fmtTime(ts: Parameters<typeof timestampDate>[0] | undefined): string {
  return ts ? timestampDate(ts).toISOString().replace("T", " ").replace(/\.\d+Z$/, "Z") : "";
}

// ---------------------------------------------------------------------------
// Figures: value with unit and precision; provenance on demand.

function valueNode(v: Value | undefined): HTMLElement {
  return el("span", { class: "figure" },
    el("span", { class: "value" }, figure(v)),
    el("span", { class: "unit" }, unitOf(v)),
    el("span", { class: "precision" }, precisionText(v?.precision)));
}

interface Described {
  title: string;
  provenance?: Provenance;
  sequence: bigint;
  revision: number;
  knownAt?: Parameters<typeof timestampDate>[0];
  supersedes: bigint;
  value?: Value;
  translations?: Value[];
}

function showProvenance(d: Described): void {
  const p = d.provenance;
  const box = $("provenance");
  box.replaceChildren(
    el("h3", {}, d.title),
    d.value ? el("p", {}, valueNode(d.value)) : "",
    ...(d.translations ?? []).map((t) => el("p", { class: "translation" }, "translation: ", valueNode(t))),
    el("dl", {},
      el("dt", {}, "document"), el("dd", { "data-field": "document" }, p?.document ?? "—"),
      el("dt", {}, "lines"), el("dd", { "data-field": "lines" },
        p ? (p.lineStart === p.lineEnd ? `line ${p.lineStart}` : `lines ${p.lineStart}–${p.lineEnd}`) : "—"),
      el("dt", {}, "revision"), el("dd", {}, `${d.revision}` + (d.supersedes ? ` (supersedes #${d.supersedes})` : "")),
      el("dt", {}, "sequence"), el("dd", {}, `#${d.sequence}`),
      el("dt", {}, "known at"), el("dd", {}, fmtTime(d.knownAt))),
    el("blockquote", { class: "quote", "data-field": "quote" }, p?.quote ?? ""),
    p?.note ? el("p", { class: "note" }, p.note) : "");
  $("provenance-panel").hidden = false;
}

function describeFact(e: FeedEvent, f: Fact): Described {
  return { title: `${f.key?.issuer} ${rowLabel(f.key!)} ${periodLabel(f.key?.period)}`, provenance: f.provenance,
           sequence: e.sequence, revision: f.revision, knownAt: f.knownAt, supersedes: f.supersedesSequence,
           value: f.value, translations: f.translations };
}

function describeGuidance(e: FeedEvent, g: Guidance): Described {
  return { title: `${g.key?.issuer} guidance: ${rowLabel(g.key!)} ${periodLabel(g.key?.period)}`,
           provenance: g.provenance, sequence: e.sequence, revision: g.revision, knownAt: g.knownAt,
           supersedes: g.supersedesSequence, value: g.bound };
}

// ---------------------------------------------------------------------------
// The tape: live journaled events, newest first.

const TAPE_LIMIT = 200;

function tapeRow(e: FeedEvent, previous: FeedEvent | undefined): HTMLElement {
  const b = e.body;
  const row = el("li", { class: `tape-${b.case}`, "data-sequence": String(e.sequence) });
  row.append(el("span", { class: "seq" }, `#${e.sequence}`), el("span", { class: "time" }, fmtTime(e.time)));
  const revised = (rev: number) => rev > 1 ? el("span", { class: "badge restated" }, `restated r${rev}`)
                                            : el("span", { class: "badge new" }, "new");
  switch (b.case) {
    case "fact":
    case "guidance": {
      const f = b.value;
      const now = b.case === "fact" ? b.value.value : b.value.bound;
      const was = previous?.body.case === b.case ? (previous.body.case === "fact" ? previous.body.value.value
                                                   : (previous.body.value as Guidance).bound) : undefined;
      row.dataset.key = keyString(f.key);
      row.append(revised(f.revision),
        el("span", { class: "what" }, `${b.case === "guidance" ? "guidance " : ""}${f.key?.issuer} ${rowLabel(f.key!)} ${periodLabel(f.key?.period)}`));
      if (f.revision > 1 && was) {
        row.append(el("span", { class: "old" }, "was ", valueNode(was)),
                   el("span", { class: "new" }, "now ", valueNode(now)),
                   el("span", { class: "change" }, change(was, now)));
      } else {
        row.append(el("span", { class: "new" }, valueNode(now)));
        if (f.revision > 1) row.append(el("span", { class: "change" }, `supersedes #${f.supersedesSequence}`));
      }
      row.addEventListener("click", () => showProvenance(
        b.case === "fact" ? describeFact(e, b.value as Fact) : describeGuidance(e, b.value as Guidance)));
      break;
    }
    case "retraction":
      row.append(el("span", { class: "badge retracted" }, "retracted"),
        el("span", { class: "what" }, `${b.value.item?.item.case ?? "item"} ${b.value.reason}`),
        previous ? el("span", { class: "old" }, "was ", itemSummary(previous)) : "");
      break;
    case "capitalAction":
      row.append(revised(b.value.revision), el("span", { class: "what" }, `${b.value.issuer} capital action ${b.value.actionId}`));
      break;
    case "issuer":
      row.append(el("span", { class: "badge new" }, "issuer"), el("span", { class: "what" }, `${b.value.id} ${b.value.name}`));
      break;
    case "segment":
      row.append(el("span", { class: "badge new" }, "segment"), el("span", { class: "what" }, `${b.value.issuer} ${b.value.id}`));
      break;
  }
  return row;
}

function itemSummary(e: FeedEvent): HTMLElement {
  if (e.body.case === "fact") return valueNode(e.body.value.value);
  if (e.body.case === "guidance") return valueNode(e.body.value.bound);
  return el("span", {}, e.body.case ?? "");
}

function addToTape(e: FeedEvent, previous: FeedEvent | undefined): void {
  const tape = $("tape");
  tape.prepend(tapeRow(e, previous));
  while (tape.children.length > TAPE_LIMIT) tape.lastElementChild!.remove();
}

// ---------------------------------------------------------------------------
// The grid: periods by concepts for one issuer, in the chosen view.

type View = "latest" | "first_reported" | "as_of";
let view: View = "latest";
let viewItems: FeedEvent[] | undefined; // the snapshot of a non-latest view
let viewSequence = 0n;
let issuer = "";

function currentItems(): FeedEvent[] {
  return view === "latest" ? [...feed.items.values()] : viewItems ?? [];
}

function renderIssuers(): void {
  const select = $<HTMLSelectElement>("issuer");
  const ids = [...feed.items.values()].flatMap((e) => e.body.case === "issuer" ? [e.body.value] : [])
    .sort((a, b) => a.id.localeCompare(b.id));
  const known = [...select.options].map((o) => o.value).join();
  if (known !== ids.map((i) => i.id).join()) {
    select.replaceChildren(...ids.map((i) => el("option", { value: i.id }, `${i.id} ${i.name}`)));
  }
  if (!issuer && ids.length) issuer = ids[0].id;
  select.value = issuer;
}

function renderGrid(): void {
  const facts: { e: FeedEvent; key: string; row: string; period: string; order: number; guidance: boolean }[] = [];
  for (const e of currentItems()) {
    const b = e.body;
    if ((b.case === "fact" || b.case === "guidance") && b.value.key?.issuer === issuer) {
      const k = b.value.key!;
      facts.push({ e, key: keyString(k), row: (b.case === "guidance" ? "guidance: " : "") + rowLabel(k),
                   period: periodLabel(k.period), order: periodOrder(k.period), guidance: b.case === "guidance" });
    }
  }
  const periods = [...new Map(facts.map((f) => [f.period, f.order])).entries()].sort((a, b) => a[1] - b[1])
    .map(([p]) => p);
  const rows = [...new Set(facts.map((f) => f.row))].sort((a, b) =>
    Number(a.startsWith("guidance")) - Number(b.startsWith("guidance")) || a.localeCompare(b));
  const cells = new Map(facts.map((f) => [`${f.row}\u0000${f.period}`, f]));
  const table = el("table", { class: "grid" });
  table.append(el("thead", {}, el("tr", {}, el("th", {}, "concept"), ...periods.map((p) => el("th", {}, p)))));
  const body = el("tbody");
  for (const r of rows) {
    const tr = el("tr", {}, el("th", { scope: "row" }, r));
    for (const p of periods) {
      const f = cells.get(`${r}\u0000${p}`);
      if (!f) {
        tr.append(el("td", { class: "empty" }));
        continue;
      }
      const b = f.e.body;
      const v = b.case === "fact" ? b.value.value : b.case === "guidance" ? b.value.bound : undefined;
      const rev = b.case === "fact" || b.case === "guidance" ? b.value.revision : 0;
      const td = el("td", { "data-key": f.key, "data-kind": b.case ?? "", "data-revision": String(rev), tabindex: "0",
                            title: "provenance: click" },
        valueNode(v), rev > 1 ? el("span", { class: "badge restated" }, `r${rev}`) : "");
      const describe = () => showProvenance(b.case === "fact" ? describeFact(f.e, b.value as Fact)
                                                               : describeGuidance(f.e, b.value as Guidance));
      td.addEventListener("click", describe);
      td.addEventListener("keydown", (ev) => { if (ev.key === "Enter") describe(); });
      tr.append(td);
    }
    body.append(tr);
  }
  table.append(body);
  $("grid").replaceChildren(facts.length ? table : el("p", { class: "empty" }, "no figures in this view"));
  const viewText = view === "latest" ? `latest (live, sequence ${feed.health.lastSequence})`
    : `${view === "first_reported" ? "first reported" : `as of ${$<HTMLInputElement>("as-of").value}`} (sequence ${viewSequence})`;
  $("grid-view").textContent = viewText;
  $("grid").dataset.view = view;
}

let viewRequest = 0;
async function loadView(): Promise<void> {
  const mine = ++viewRequest;
  if (view === "latest") {
    viewItems = undefined;
    renderGrid();
    renderActions();
    return;
  }
  const asOf = $<HTMLInputElement>("as-of").value;
  try {
    const response = await feedClient.getSnapshot(create(GetSnapshotRequestSchema, {
      filter: { issuers: issuer ? [issuer] : [] },
      pointInTime: view === "first_reported" ? { view: RevisionView.FIRST_REPORTED }
        : { view: RevisionView.AS_OF, asOf: timestampFromDate(asOf ? new Date(asOf) : new Date()) },
    }));
    if (mine !== viewRequest) return;
    viewItems = response.events;
    viewSequence = response.sequence;
    $("grid-error").textContent = "";
  } catch (e) {
    if (mine !== viewRequest) return;
    viewItems = [];
    $("grid-error").textContent = errorText(e);
  }
  renderGrid();
  renderActions();
}

// ---------------------------------------------------------------------------
// Capital actions of the issuer.

function renderActions(): void {
  const actions = currentItems().flatMap((e) => e.body.case === "capitalAction" && e.body.value.issuer === issuer
    ? [{ e, a: e.body.value as CapitalAction }] : []);
  const list = $("actions");
  list.replaceChildren();
  for (const { e, a } of actions) {
    const pp = a.kind.case === "privatePlacement" ? a.kind.value : undefined;
    const date = (d?: { year: number; month: number; day: number }) =>
      d ? `${d.year}-${String(d.month).padStart(2, "0")}-${String(d.day).padStart(2, "0")}` : "—";
    const card = el("div", { class: "action", "data-action": a.actionId },
      el("h3", {}, `${a.actionId} `, a.revision > 1 ? el("span", { class: "badge restated" }, `r${a.revision}`) : ""),
      pp ? el("dl", {},
        el("dt", {}, "private placement"), el("dd", {}, `${pp.shares.toLocaleString("en-US")} ${pp.shareClass} shares`),
        el("dt", {}, "issue price"), el("dd", {}, money(pp.issuePrice)),
        el("dt", {}, "not credited to capital"), el("dd", {}, money(pp.amountNotCreditedPerShare) + " per share"),
        el("dt", {}, "application / payment"), el("dd", {}, `${date(pp.applicationDate)} / ${date(pp.paymentDate)}`),
        el("dt", {}, "allocation"), el("dd", {}, pp.allocationMethod || "—"),
        el("dt", {}, "dividends accrue from"), el("dd", {}, date(pp.dividendAccrualStart))) : el("p", {}, "(unknown kind)"));
    card.addEventListener("click", () => showProvenance({ title: `${a.issuer} ${a.actionId}`, provenance: a.provenance,
      sequence: e.sequence, revision: a.revision, knownAt: a.knownAt, supersedes: a.supersedesSequence }));
    list.append(card);
  }
  if (!actions.length) list.append(el("p", { class: "empty" }, "no capital actions"));
}

// ---------------------------------------------------------------------------
// Scenarios: a form per descriptor, results with their derivations, charts.

let scenarios: ScenarioInfo[] = [];

function parameterInput(spec: ScenarioInfo["scenario"] extends infer D ? D extends { parameters: (infer P)[] } ? P : never : never) {
  const id = `param-${spec.name}`;
  const def = spec.defaultValue?.kind;
  const bound = (v: ParameterValue | undefined) => {
    const k = v?.kind;
    if (!k) return undefined;
    if (k.case === "integer") return String(k.value);
    if (k.case === "decimal") return k.value.value;
    if (k.case === "money") return String(k.value.units);
    return undefined;
  };
  let input: HTMLInputElement;
  if (spec.type === ParameterType.BOOL) {
    input = el("input", { type: "checkbox", id, name: spec.name });
    input.checked = def?.case === "flag" && def.value;
  } else {
    const numeric = spec.type !== ParameterType.STRING;
    input = el("input", { type: "text", id, name: spec.name, inputmode: numeric ? "decimal" : "text" });
    input.value = def?.case === "integer" ? String(def.value) : def?.case === "decimal" ? def.value.value
      : def?.case === "money" ? String(def.value.units) : def?.case === "text" ? def.value : "";
    const min = bound(spec.min), max = bound(spec.max);
    if (min !== undefined) input.dataset.min = min;
    if (max !== undefined) input.dataset.max = max;
    input.placeholder = [min !== undefined ? `≥ ${min}` : "", max !== undefined ? `≤ ${max}` : ""].filter(Boolean).join(", ");
  }
  if (spec.required) input.required = true;
  const typeName = ParameterType[spec.type].toLowerCase();
  const bounds = [spec.min?.kind.case ? `min ${bound(spec.min)}` : "", spec.max?.kind.case ? `max ${bound(spec.max)}` : ""]
    .filter(Boolean).join(", ");
  return el("div", { class: "param" },
    el("label", { for: id }, spec.name, spec.required ? el("span", { class: "required" }, " *") : ""),
    input,
    el("span", { class: "unit" }, spec.unit || typeName),
    el("small", { class: "help" }, spec.help + (bounds ? ` (${typeName}; ${bounds})` : ` (${typeName})`)));
}

/** The form's parameters as ParameterValues; throws naming the field on bad input. */
function readParameters(info: ScenarioInfo): Record<string, ParameterValue> {
  const out: Record<string, ParameterValue> = {};
  for (const spec of info.scenario?.parameters ?? []) {
    const input = document.getElementById(`param-${spec.name}`) as HTMLInputElement | null;
    if (!input) continue;
    if (spec.type === ParameterType.BOOL) {
      out[spec.name] = create(ParameterValueSchema, { kind: { case: "flag", value: input.checked } });
      continue;
    }
    const text = input.value.trim().replace(/,/g, spec.type === ParameterType.STRING ? "," : "");
    if (text === "") {
      if (spec.required) throw new Error(`${spec.name}: required`);
      continue;
    }
    switch (spec.type) {
      case ParameterType.INTEGER:
        if (!/^-?\d+$/.test(text)) throw new Error(`${spec.name}: an integer is required`);
        out[spec.name] = create(ParameterValueSchema, { kind: { case: "integer", value: BigInt(text) } });
        break;
      case ParameterType.DECIMAL:
        if (!/^-?\d+(\.\d+)?$/.test(text)) throw new Error(`${spec.name}: a decimal is required`);
        out[spec.name] = create(ParameterValueSchema, { kind: { case: "decimal", value: { value: text } } });
        break;
      case ParameterType.MONEY: {
        const m = /^(-?)(\d+)(?:\.(\d{1,9}))?$/.exec(text);
        if (!m) throw new Error(`${spec.name}: an amount in ${spec.unit} is required`);
        const sign = m[1] ? -1 : 1;
        out[spec.name] = create(ParameterValueSchema, { kind: { case: "money", value: {
          currencyCode: spec.unit, units: BigInt(sign) * BigInt(m[2]),
          nanos: sign * Number((m[3] ?? "").padEnd(9, "0")) } } });
        break;
      }
      default:
        out[spec.name] = create(ParameterValueSchema, { kind: { case: "text", value: text } });
    }
  }
  return out;
}

function renderScenarioForm(): void {
  const select = $<HTMLSelectElement>("scenario");
  const info = scenarios.find((s) => s.scenario?.name === select.value);
  const form = $("scenario-params");
  form.replaceChildren();
  if (!info?.scenario) return;
  $("scenario-description").textContent = `${info.scenario.title} (v${info.scenario.version}): ${info.scenario.description}`;
  form.append(...info.scenario.parameters.map(parameterInput));
}

function outputValue(o: ScenarioResult["outputs"][number]): string {
  const v = o.value;
  switch (v.case) {
    case "money": return money(v.value);
    case "decimal": return v.value.value;
    case "count": return v.value.toLocaleString("en-US");
    case "flag": return v.value ? "yes" : "no";
    case "text": return v.value;
    case "moneyInterval": {
      const i = v.value;
      return `${i.lowExclusive ? "(" : "["}${money(i.low)}, ${money(i.high)}${i.highExclusive ? ")" : "]"}`;
    }
    default: return "";
  }
}

function renderResult(target: HTMLElement, r: ScenarioResult): void {
  const table = el("table", { class: "result", "data-scenario": r.scenario });
  table.append(el("thead", {}, el("tr", {}, el("th", {}, "output"), el("th", {}, "value"), el("th", {}, "derivation"))));
  const body = el("tbody");
  for (const o of r.outputs) {
    body.append(el("tr", { "data-output": o.name },
      el("th", { scope: "row" }, o.label || o.name), el("td", { class: "value" }, outputValue(o)),
      el("td", { class: "derivation" }, o.derivation)));
  }
  table.append(body);
  const inputs = el("ul", { class: "inputs" }, ...r.inputsUsed.map((i) =>
    el("li", {}, `#${i.sequence} ${i.key ? `${rowLabel(i.key)} ${periodLabel(i.key.period)}` : i.actionId} r${i.revision}`)));
  target.replaceChildren(
    el("p", { class: "meta" }, `${r.scenario} v${r.version} for ${r.issuer} on the state at sequence ${r.stateSequence}` +
       (r.asOf ? ` as of ${fmtTime(r.asOf)}` : "") + `, computed ${fmtTime(r.computedAt)}`),
    table, el("p", {}, "inputs used:"), inputs);
}

async function runScenarioForm(ev: Event): Promise<void> {
  ev.preventDefault();
  const info = scenarios.find((s) => s.scenario?.name === $<HTMLSelectElement>("scenario").value);
  const out = $("scenario-result");
  if (!info?.scenario) return;
  out.dataset.state = "running";
  try {
    const parameters = readParameters(info);
    const response = await scenarioClient.runScenario({ name: info.scenario.name, issuer, parameters });
    renderResult(out, response.result!);
    chartResult(response.result!);
    out.dataset.state = "done";
  } catch (e) {
    out.replaceChildren(el("p", { class: "error" }, errorText(e)));
    out.dataset.state = "error";
  }
}

function chartResult(r: ScenarioResult): void {
  if (r.scenario === "revenue_outlook") drawOutlook($("chart-outlook"), r);
  if (r.scenario === "implied_comparatives") drawComparatives($("chart-comparatives"), r);
}

let chartTimer: ReturnType<typeof setTimeout> | undefined;
/** Runs the chart scenarios with their defaults (again after each change of the feed). */
function refreshCharts(): void {
  clearTimeout(chartTimer);
  chartTimer = setTimeout(async () => {
    for (const name of ["revenue_outlook", "implied_comparatives"]) {
      const info = scenarios.find((s) => s.scenario?.name === name && s.state === PluginState.READY);
      if (!info || !issuer) continue;
      try {
        const response = await scenarioClient.runScenario({ name, issuer });
        chartResult(response.result!);
      } catch (e) {
        $(name === "revenue_outlook" ? "chart-outlook" : "chart-comparatives")
          .replaceChildren(el("p", { class: "error" }, errorText(e)));
      }
    }
  }, 300);
}

async function loadScenarios(): Promise<void> {
  try {
    scenarios = (await scenarioClient.listScenarios({})).scenarios;
  } catch (e) {
    $("scenario-description").textContent = `scenarios unavailable: ${errorText(e)}`;
    return;
  }
  const select = $<HTMLSelectElement>("scenario");
  select.replaceChildren(...scenarios.map((s) => {
    const o = el("option", { value: s.scenario?.name ?? "" },
      `${s.scenario?.title || s.scenario?.name}${s.state === PluginState.READY ? "" : ` (${PluginState[s.state]}: ${s.error})`}`);
    o.disabled = s.state !== PluginState.READY;
    return o;
  }));
  const first = scenarios.find((s) => s.state === PluginState.READY);
  if (first?.scenario) select.value = first.scenario.name;
  renderScenarioForm();
  refreshCharts();
}

// ---------------------------------------------------------------------------
// Feed health.

function renderHealth(h: Health): void {
  const lag = h.journalSequence > h.lastSequence ? h.journalSequence - h.lastSequence : 0n;
  const set = (id: string, text: string) => { $(id).textContent = text; };
  set("h-state", h.state === "reconnecting"
    ? `reconnecting in ${Math.max(0, Math.round((h.retryAt - Date.now()) / 100) / 10)} s (${h.lastError})` : h.state);
  $("h-state").dataset.state = h.state;
  set("h-seq", String(h.lastSequence));
  set("h-journal", String(h.journalSequence));
  set("h-lag", `${lag} events` + (h.latencyMs === undefined ? "" : `; last event ${h.latencyMs} ms after commit`));
  set("h-heartbeats", `${h.heartbeats}` + (h.lastHeartbeatAt ? ` (last ${((Date.now() - h.lastHeartbeatAt) / 1000).toFixed(1)} s ago)` : ""));
  set("h-reconnects", `${h.reconnects}` + (h.resyncs ? `, resyncs ${h.resyncs}` : ""));
  set("h-incarnation", h.incarnation || "—");
}

// ---------------------------------------------------------------------------

let viewTimer: ReturnType<typeof setTimeout> | undefined;
const feed = new Feed(feedClient, {
  reset() {
    renderIssuers();
    renderGrid();
    renderActions();
    $("tape-note").textContent = `snapshot of ${feed.items.size} items at sequence ${feed.health.lastSequence}; live events below`;
    if (view !== "latest") void loadView();
    refreshCharts();
  },
  live(event, previous) {
    addToTape(event, previous);
    if (event.body.case === "issuer") renderIssuers();
    if (view === "latest") {
      renderGrid();
      renderActions();
    } else {
      clearTimeout(viewTimer);
      viewTimer = setTimeout(() => void loadView(), 200);
    }
    refreshCharts();
  },
  health: renderHealth,
});

function currentView(): View {
  return ($<HTMLInputElement>("view-first").checked ? "first_reported"
    : $<HTMLInputElement>("view-asof").checked ? "as_of" : "latest");
}

function init(): void {
  const asOf = $<HTMLInputElement>("as-of");
  const now = new Date();
  asOf.value = new Date(now.getTime() - now.getTimezoneOffset() * 60000).toISOString().slice(0, 19);
  for (const id of ["view-latest", "view-first", "view-asof"]) {
    $(id).addEventListener("change", () => { view = currentView(); void loadView(); });
  }
  asOf.addEventListener("change", () => { if (view === "as_of") void loadView(); });
  $<HTMLSelectElement>("issuer").addEventListener("change", (ev) => {
    issuer = (ev.target as HTMLSelectElement).value;
    void loadView();
    refreshCharts();
  });
  $("scenario").addEventListener("change", renderScenarioForm);
  $("scenario-form").addEventListener("submit", (ev) => void runScenarioForm(ev));
  $("provenance-close").addEventListener("click", () => { $("provenance-panel").hidden = true; });
  setInterval(() => renderHealth(feed.health), 1000);
  void feed.run();
  void loadScenarios();
}

init();
