// Small SVG charts for the dashboard, with no library and nothing loaded from elsewhere. Each chart's root
// element carries data-chart="<name>" and data-points="<points drawn>", so a test (or anyone) can tell a
// chart with data from an empty frame. Charts scale to their container's width (viewBox) and take their
// colours from CSS variables, so light and dark themes both work.
"use strict";

const SVG_NS = "http://www.w3.org/2000/svg";
const CHART_HEIGHT = 180;
const MIN_WIDTH = 280;
let CHART_WIDTH = 640;  // set per chart from its container's width, so text is never stretched
const PAD = { left: 44, right: 10, top: 12, bottom: 24 };

function svgEl(name, attrs, text) {
  const el = document.createElementNS(SVG_NS, name);
  for (const [k, v] of Object.entries(attrs || {})) { el.setAttribute(k, String(v)); }
  if (text !== undefined) { el.textContent = text; }
  return el;
}

function niceMax(value) {
  if (!(value > 0)) { return 1; }
  const magnitude = Math.pow(10, Math.floor(Math.log10(value)));
  for (const step of [1, 2, 2.5, 5, 10]) {
    if (value <= step * magnitude) { return step * magnitude; }
  }
  return 10 * magnitude;
}

function timeLabel(epochSeconds, spanSeconds) {
  const d = new Date(epochSeconds * 1000);
  const hh = String(d.getHours()).padStart(2, "0");
  const mm = String(d.getMinutes()).padStart(2, "0");
  return spanSeconds > 86400 ? (d.getMonth() + 1) + "/" + d.getDate() + " " + hh + ":" + mm : hh + ":" + mm;
}

// The frame: axes, grid lines and labels; returns helpers to place values.
function frame(svg, times, maxValue, unit, integer) {
  const w = CHART_WIDTH - PAD.left - PAD.right;
  const h = CHART_HEIGHT - PAD.top - PAD.bottom;
  const top = integer ? Math.max(4, Math.ceil(maxValue / 4) * 4) : niceMax(maxValue);
  const x = (i) => PAD.left + (times.length <= 1 ? w / 2 : (i * w) / (times.length - 1));
  const y = (v) => PAD.top + h - (Math.min(v, top) / top) * h;
  for (let k = 0; k <= 4; k++) {
    const value = (top * k) / 4;
    svg.appendChild(svgEl("line", { x1: PAD.left, x2: PAD.left + w, y1: y(value), y2: y(value), class: "grid" }));
    svg.appendChild(svgEl("text", { x: PAD.left - 4, y: y(value) + 4, class: "axis", "text-anchor": "end" },
      Number.isInteger(value) ? value : value.toFixed(1)));
  }
  const span = times.length > 1 ? times[times.length - 1] - times[0] : 0;
  const labels = Math.min(6, times.length);
  for (let k = 0; k < labels; k++) {
    const i = Math.round((k * (times.length - 1)) / Math.max(1, labels - 1));
    const anchor = k === 0 ? "start" : (k === labels - 1 ? "end" : "middle");
    svg.appendChild(svgEl("text", { x: x(i), y: CHART_HEIGHT - 6, class: "axis", "text-anchor": anchor },
      timeLabel(times[i], span)));
  }
  return { x, y, w, h, top, slot: times.length ? w / times.length : w };
}

function root(container, name, title) {
  container.textContent = "";
  container.setAttribute("data-chart", name);
  const heading = document.createElement("h4");
  heading.textContent = title;
  container.appendChild(heading);
  CHART_WIDTH = Math.max(MIN_WIDTH, Math.floor(container.clientWidth - 24) || 640);
  const svg = svgEl("svg", { viewBox: "0 0 " + CHART_WIDTH + " " + CHART_HEIGHT, role: "img", class: "chart",
                             "aria-label": title });
  container.appendChild(svg);
  return svg;
}

function emptyNote(svg, points) {
  if (points) { return; }
  svg.appendChild(svgEl("text", { x: CHART_WIDTH / 2, y: CHART_HEIGHT / 2, class: "axis empty", "text-anchor": "middle" },
    "no executions in this window"));
}

function legend(container, items) {
  const box = document.createElement("div");
  box.className = "legend";
  for (const item of items) {
    const entry = document.createElement("span");
    const swatch = document.createElement("i");
    swatch.className = "swatch " + item.cls;
    entry.appendChild(swatch);
    entry.appendChild(document.createTextNode(item.label));
    box.appendChild(entry);
  }
  container.appendChild(box);
}

// Stacked bars: series = [{key, label, cls}], rows = [{t, counts: {key: n}}].
function stackedBars(container, name, title, rows, series) {
  const svg = root(container, name, title);
  const times = rows.map((r) => r.t);
  const totals = rows.map((r) => series.reduce((s, it) => s + (r.counts[it.key] || 0), 0));
  const f = frame(svg, times, Math.max(0, ...totals), "", true);
  let points = 0;
  rows.forEach((row, i) => {
    let base = 0;
    for (const it of series) {
      const n = row.counts[it.key] || 0;
      if (!n) { continue; }
      const barWidth = Math.max(1, f.slot * 0.8);
      const y0 = f.y(base), y1 = f.y(base + n);
      const bar = svgEl("rect", { x: f.x(i) - barWidth / 2, y: y1, width: barWidth, height: Math.max(1, y0 - y1),
                                  class: "bar " + it.cls });
      bar.appendChild(svgEl("title", {}, timeLabel(row.t, 0) + " " + it.label + ": " + n));
      svg.appendChild(bar);
      base += n;
      points += 1;
    }
  });
  container.setAttribute("data-points", String(points));
  emptyNote(svg, points);
  legend(container, series);
  return points;
}

// Lines: series = [{key, label, cls}], rows = [{t, <key>: number|null}]; null leaves a gap.
function lines(container, name, title, rows, series, unit) {
  const svg = root(container, name, title + (unit ? " (" + unit + ")" : ""));
  const times = rows.map((r) => r.t);
  const values = rows.flatMap((r) => series.map((it) => r[it.key])).filter((v) => typeof v === "number");
  const f = frame(svg, times, Math.max(0, ...values), unit);
  let points = 0;
  for (const it of series) {
    let path = "";
    let pen = false;
    rows.forEach((row, i) => {
      const v = row[it.key];
      if (typeof v !== "number") { pen = false; return; }
      path += (pen ? " L " : " M ") + f.x(i).toFixed(1) + " " + f.y(v).toFixed(1);
      pen = true;
      const dot = svgEl("circle", { cx: f.x(i), cy: f.y(v), r: 2.5, class: "dot " + it.cls });
      dot.appendChild(svgEl("title", {}, timeLabel(row.t, 0) + " " + it.label + ": " + v + (unit ? " " + unit : "")));
      svg.appendChild(dot);
      points += 1;
    });
    if (path) { svg.appendChild(svgEl("path", { d: path.trim(), class: "line " + it.cls })); }
  }
  container.setAttribute("data-points", String(points));
  emptyNote(svg, points);
  legend(container, series);
  return points;
}

// A timeline of named instants (epoch seconds): phases = [[name, t], ...] in order.
function timeline(container, name, title, phases) {
  const svg = root(container, name, title);
  const known = phases.filter((p) => typeof p[1] === "number");
  container.setAttribute("data-points", String(known.length));
  if (!known.length) { return 0; }
  const t0 = known[0][1];
  const span = Math.max(0.001, known[known.length - 1][1] - t0);
  const w = CHART_WIDTH - PAD.left - PAD.right - 60;
  const x = (t) => PAD.left + ((t - t0) / span) * w;
  const mid = CHART_HEIGHT / 2;
  svg.appendChild(svgEl("line", { x1: PAD.left, x2: PAD.left + w, y1: mid, y2: mid, class: "grid" }));
  known.forEach(([label, t], i) => {
    if (i > 0) {
      const prev = known[i - 1][1];
      svg.appendChild(svgEl("rect", { x: x(prev), y: mid - 8, width: Math.max(1, x(t) - x(prev)), height: 16,
                                      class: "bar phase-" + (i % 4) }));
    }
    svg.appendChild(svgEl("circle", { cx: x(t), cy: mid, r: 4, class: "dot s-complete" }));
    const ms = ((t - t0) * 1000).toFixed(0);
    svg.appendChild(svgEl("text", { x: x(t), y: i % 2 ? mid + 28 : mid - 18, class: "axis", "text-anchor": "middle" },
      label + " +" + ms + " ms"));
  });
  return known.length;
}

const AbacoCharts = { stackedBars, lines, timeline };
