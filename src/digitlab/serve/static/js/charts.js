// Small charts drawn as SVG: probability bars, line charts over epochs, a histogram. Numbers
// are written the page language's way; whoever draws a chart draws it again when the language
// changes (onLanguage), with the words of the new one.

import { _, number, percent, say } from "./i18n.js";

const NS = "http://www.w3.org/2000/svg";
const LEGEND_CHARACTER = 7.6; // the width of a character of a legend (13.5 px), on average

export function svgElement(name, attributes = {}, text = null) {
  const element = document.createElementNS(NS, name);
  for (const [key, value] of Object.entries(attributes)) element.setAttribute(key, value);
  if (text !== null) element.textContent = text;
  return element;
}

/** A probability as people read it: "97 %", "4.2 %", "< 0.1 %" (in Slovenian "4,2 %"). */
export function chance(p) {
  if (p >= 0.999 && p < 1) return `>\u00a0${percent(0.999, 1)}`; // never a rounded "100 %" short of certain
  if (p >= 0.1) return percent(p, p > 0.99 && p < 1 ? 1 : 0); // 99.6 %, not a rounded 100 %
  return p >= 0.001 ? percent(p, 1) : `<\u00a0${percent(0.001, 1)}`;
}

/**
 * Ten horizontal bars, one per digit, inside `container` (built once, then updated); `label`
 * (a function that writes it) names them. `update(probabilities, answer)` sets widths and
 * labels; `update(null)` empties them.
 */
export function probabilityBars(container, label) {
  container.classList.add("bars");
  container.setAttribute("role", "list");
  say(container, label, { attribute: "aria-label" });
  const rows = [];
  for (let d = 0; d < 10; d++) {
    const row = document.createElement("div");
    row.className = "bar-row";
    row.setAttribute("role", "listitem");
    row.dataset.digit = d;
    row.innerHTML = `<span class="bar-digit">${d}</span>
      <span class="bar-track"><span class="bar-fill"></span></span>
      <span class="bar-value" data-testid="probability-${d}"></span>`;
    container.append(row);
    rows.push(row);
  }
  return function update(probabilities, answer = null) {
    rows.forEach((row, d) => {
      const p = probabilities ? probabilities[d] : 0;
      row.querySelector(".bar-fill").style.width = `${Math.max(0, Math.min(1, p)) * 100}%`;
      say(row.querySelector(".bar-value"), () => (probabilities ? chance(p) : ""));
      row.classList.toggle("is-answer", probabilities !== null && d === answer);
      say(row, () => (probabilities ? `${d}: ${percent(p, 1)}` : `${d}`), { attribute: "aria-label" });
    });
  };
}

function niceTicks(low, high, count = 5) {
  const span = high - low || 1;
  const raw = span / count;
  const power = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * power).find((s) => s >= raw) || raw;
  const ticks = [];
  for (let t = Math.ceil(low / step) * step; t <= high + 1e-9; t += step) ticks.push(+t.toFixed(10));
  return ticks;
}

/**
 * A line chart in `svg` (its viewBox sets the size). `series`: [{name, color, points: [[x, y]],
 * dashed, dots}] (a lone point is always drawn as a dot). Options: xLabel, yLabel, xMin, xMax,
 * yMin, yMax, yLimits: [low, high] the axis never leaves, yFormat.
 */
export function lineChart(svg, series, options = {}) {
  const width = 480;
  const height = 240;
  const margin = { left: 52, right: 14, top: 34, bottom: 40 };
  svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
  svg.replaceChildren();
  const all = series.flatMap((s) => s.points.filter((p) => p[1] !== null && isFinite(p[1])));
  const xs = all.map((p) => p[0]);
  const ys = all.map((p) => p[1]);
  const xMin = options.xMin ?? (xs.length ? Math.min(...xs) : 0);
  const xMax = Math.max(options.xMax ?? (xs.length ? Math.max(...xs) : 1), xMin + 1e-9);
  let yMin = options.yMin ?? (ys.length ? Math.min(...ys) : 0);
  let yMax = options.yMax ?? (ys.length ? Math.max(...ys) : 1);
  if (yMax - yMin < 1e-9) { // one value so far: a small range around it, inside the limits
    const pad = Math.max(0.05, 0.1 * Math.abs(yMax));
    yMin -= pad;
    yMax += pad;
  }
  if (options.yLimits) { // values that cannot leave a range (an accuracy: 0 to 1)
    const [low, high] = options.yLimits;
    yMin = Math.max(low, yMin);
    yMax = Math.min(high, yMax);
    if (yMax - yMin < 1e-9) [yMin, yMax] = [low, high];
  }
  const px = (x) => margin.left + ((x - xMin) / (xMax - xMin)) * (width - margin.left - margin.right);
  const py = (y) => height - margin.bottom - ((y - yMin) / (yMax - yMin)) * (height - margin.top - margin.bottom);
  const format = options.yFormat || ((v) => number(v));

  const grid = svgElement("g", { class: "chart-grid" });
  for (const t of niceTicks(yMin, yMax, 4)) {
    grid.append(svgElement("line", { x1: margin.left, x2: width - margin.right, y1: py(t), y2: py(t) }));
    grid.append(svgElement("text", { x: margin.left - 6, y: py(t) + 4, "text-anchor": "end" }, format(t)));
  }
  const xTicks = niceTicks(xMin, xMax, 6).filter((t) => !options.integerX || Number.isInteger(t));
  for (const t of xTicks) {
    grid.append(svgElement("text", { x: px(t), y: height - margin.bottom + 16, "text-anchor": "middle" }, number(t)));
  }
  grid.append(svgElement("line", {
    class: "chart-axis", x1: margin.left, x2: width - margin.right,
    y1: height - margin.bottom, y2: height - margin.bottom,
  }));
  if (options.xLabel) {
    grid.append(svgElement("text", { class: "chart-label", x: (margin.left + width - margin.right) / 2, y: height - 6, "text-anchor": "middle" }, options.xLabel));
  }
  svg.append(grid);

  for (const s of series) {
    const points = s.points.filter((p) => p[1] !== null && isFinite(p[1]));
    if (!points.length) continue;
    const group = svgElement("g", { class: "chart-series" });
    const d = points.map((p, i) => `${i ? "L" : "M"}${px(p[0]).toFixed(1)},${py(p[1]).toFixed(1)}`).join("");
    group.append(svgElement("path", {
      d, fill: "none", stroke: s.color, "stroke-width": s.width || 2.5,
      "stroke-dasharray": s.dashed ? "5 4" : "none", "stroke-linejoin": "round",
    }));
    if (s.dots !== false || points.length === 1) {
      for (const p of points) group.append(svgElement("circle", { cx: px(p[0]), cy: py(p[1]), r: 3.5, fill: s.color }));
    }
    svg.append(group);
  }
  const legend = series.filter((s) => s.points.some((p) => p[1] !== null));
  let x = margin.left + 10;
  for (const s of legend) { // each entry as wide as its name (names differ between languages)
    svg.append(svgElement("line", { x1: x, x2: x + 18, y1: 13, y2: 13, stroke: s.color, "stroke-width": 3, "stroke-dasharray": s.dashed ? "5 4" : "none" }));
    svg.append(svgElement("text", { class: "chart-legend", x: x + 23, y: 17 }, s.name));
    x += 23 + LEGEND_CHARACTER * s.name.length + 22;
  }
  if (options.yLabel) svg.setAttribute("aria-label", options.yLabel);
  return { px, py };
}

/**
 * A histogram of `values` in [0, 1] with vertical markers: [{value, label, color}] and a
 * dashed threshold line.
 */
export function histogram(svg, values, { markers = [], threshold = null, bins = 20, xLabel = "" } = {}) {
  const width = 560;
  const height = 230;
  const margin = { left: 16, right: 16, top: 34, bottom: 40 };
  svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
  svg.replaceChildren();
  const counts = new Array(bins).fill(0);
  for (const v of values) counts[Math.min(bins - 1, Math.max(0, Math.floor(v * bins)))] += 1;
  const peak = Math.sqrt(Math.max(1, ...counts)); // heights ∝ √count: rare bins stay visible
  const inner = width - margin.left - margin.right;
  const px = (x) => margin.left + x * inner;
  const base = height - margin.bottom;
  const barHeight = (c) => (Math.sqrt(c) / peak) * (base - margin.top);
  counts.forEach((c, i) => {
    svg.append(svgElement("rect", {
      class: "hist-bar", x: px(i / bins) + 1, width: inner / bins - 2,
      y: base - barHeight(c), height: barHeight(c),
    }));
  });
  svg.append(svgElement("line", { class: "chart-axis", x1: margin.left, x2: width - margin.right, y1: base, y2: base }));
  for (const t of [0, 0.25, 0.5, 0.75, 1]) {
    svg.append(svgElement("text", { class: "chart-tick", x: px(t), y: base + 16, "text-anchor": "middle" }, number(t, 2)));
  }
  if (xLabel) svg.append(svgElement("text", { class: "chart-label", x: width / 2, y: height - 6, "text-anchor": "middle" }, xLabel));
  if (threshold !== null) {
    svg.append(svgElement("line", { class: "hist-threshold", x1: px(threshold), x2: px(threshold), y1: margin.top - 8, y2: base }));
    svg.append(svgElement("text", { class: "chart-tick", x: px(threshold) - 4, y: margin.top - 14, "text-anchor": "end" },
      _("threshold {value}", { value: number(threshold, 2) })));
  }
  markers.forEach((m) => {
    const x = px(Math.min(1, Math.max(0, m.value)));
    svg.append(svgElement("line", { x1: x, x2: x, y1: margin.top, y2: base, stroke: m.color, "stroke-width": 2.5 }));
    svg.append(svgElement("path", { d: `M${x - 6},${base + 1}L${x + 6},${base + 1}L${x},${base - 9}Z`, fill: m.color }));
  });
}
