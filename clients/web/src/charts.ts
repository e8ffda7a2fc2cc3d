// Charts of scenario results with uPlot: the revenue outlook's cases against
// the guidance bound, and the implied comparatives as intervals.
import uPlot from "uplot";
import type { ScenarioResult } from "../../node/dist/proto.js";
import { money, moneyNumber } from "./format.js";

const charts = new Map<HTMLElement, uPlot>();
const BILLION = 1e9;
const MILLION = 1e6;

function draw(target: HTMLElement, opts: Omit<uPlot.Options, "width" | "height">, data: uPlot.AlignedData,
              legend: string[], width = 560): void {
  charts.get(target)?.destroy();
  target.replaceChildren();
  const chart = new uPlot({ ...opts, width, height: 240 }, data, target);
  charts.set(target, chart);
  const list = document.createElement("ul");
  list.className = "chart-values";
  for (const line of legend) {
    const li = document.createElement("li");
    li.textContent = line;
    list.append(li);
  }
  target.append(list);
}

const categoryAxis = (labels: string[]): uPlot.Axis => ({
  splits: () => labels.map((_, i) => i),
  values: (_u, splits) => splits.map((i) => labels[i] ?? ""),
  grid: { show: false },
});

/** revenue_outlook: bear/base/bull revenue against the revenue the guidance bound implies. */
export function drawOutlook(target: HTMLElement, r: ScenarioResult): void {
  const out = (name: string) => r.outputs.find((o) => o.name === name);
  const cases = ["bear", "base", "bull"].filter((c) => out(`revenue_${c}`)?.value.case === "money");
  const bound = out("revenue_guidance_bound");
  if (!cases.length) {
    target.textContent = "revenue_outlook gave no revenue cases";
    return;
  }
  const revenue = cases.map((c) => moneyNumber((out(`revenue_${c}`)!.value.value as never)) / BILLION);
  const guidance = bound?.value.case === "money" ? cases.map(() => moneyNumber(bound.value.value as never) / BILLION) : [];
  const currency = (out(`revenue_${cases[0]}`)!.value.value as { currencyCode: string }).currencyCode;
  const series: uPlot.Series[] = [{}, { label: `revenue (${currency} bn)`, stroke: "#1f6feb", width: 2,
                                       points: { size: 9, fill: "#1f6feb" } }];
  const data: uPlot.AlignedData = [cases.map((_, i) => i), revenue];
  if (guidance.length) {
    series.push({ label: `guidance bound (${currency} bn)`, stroke: "#d1242f", dash: [6, 4], width: 2, points: { show: false } });
    data.push(guidance);
  }
  draw(target, {
    title: `${r.issuer}: revenue outlook vs guidance`,
    scales: { x: { time: false, range: [-0.5, cases.length - 0.5] } },
    axes: [categoryAxis(cases), { label: `${currency} bn`, size: 60 }],
    series,
  }, data, [
    ...cases.map((c) => `${c}: ${money(out(`revenue_${c}`)!.value.value as never)}`),
    ...(bound ? [`${bound.label}: ${money(bound.value.value as never)}`] : []),
  ]);
}

/** implied_comparatives: each implied figure as its [low, high] interval, on its own scale. */
export function drawComparatives(target: HTMLElement, r: ScenarioResult): void {
  for (const chart of target.querySelectorAll<HTMLElement>(".chart")) {
    charts.get(chart)?.destroy();
    charts.delete(chart);
  }
  const intervals = r.outputs.filter((o) => o.value.case === "moneyInterval");
  const title = document.createElement("h3");
  title.textContent = `${r.issuer}: implied comparatives (intervals)`;
  target.replaceChildren(title);
  if (!intervals.length) {
    target.append("implied_comparatives gave no intervals");
    return;
  }
  for (const o of intervals) {
    const i = o.value.value as { low?: never; high?: never; lowExclusive: boolean; highExclusive: boolean };
    const currency = (i.low as unknown as { currencyCode: string } | undefined)?.currencyCode ?? "";
    const low = moneyNumber(i.low) / MILLION, high = moneyNumber(i.high) / MILLION;
    const pad = Math.max((high - low) * 1.5, Math.abs(high) * 0.001, 1);
    const box = document.createElement("div");
    box.className = "chart small";
    box.dataset.output = o.name;
    target.append(box);
    draw(box, {
      title: o.label,
      scales: { x: { time: false, range: [-1, 1] }, y: { range: [low - pad, high + pad] } },
      axes: [{ show: false }, { label: `${currency} m`, size: 70 }],
      series: [{}, { label: "low", stroke: "#8250df", width: 0, points: { size: 8, fill: "#8250df" } },
               { label: "high", stroke: "#8250df", width: 0, points: { size: 8, fill: "#8250df" } }],
      hooks: { draw: [(u) => {
        // The interval as a bar from low to high.
        const ctx = u.ctx;
        ctx.save();
        ctx.strokeStyle = "#8250df";
        ctx.lineWidth = 4 * devicePixelRatio;
        const x = u.valToPos(0, "x", true);
        ctx.beginPath();
        ctx.moveTo(x, u.valToPos(low, "y", true));
        ctx.lineTo(x, u.valToPos(high, "y", true));
        ctx.stroke();
        ctx.restore();
      }] },
    }, [[0], [low], [high]], [`${i.lowExclusive ? "(" : "["}${money(i.low)}, ${money(i.high)}${i.highExclusive ? ")" : "]"}`], 220);
  }
}
