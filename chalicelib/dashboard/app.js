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

// --- the dashboard ------------------------------------------------------------------------------
// The Abaco dashboard: a static page that calls the same API as every other client, with the same
// credentials (a token kept in this browser's localStorage). Data from the API is only ever inserted as
// text (textContent), never as HTML. Every view has its own address:
//   /dashboard                                         actors
//   /dashboard/actors/{id}                             an actor: charts, executions, send, manage
//   /dashboard/actors/{id}/executions/{execution_id}   an execution: phases, attempts, live logs, results
//   /dashboard/hosts                                   operators: hosts, pools, queues, duties, top actors

const ROOT = location.pathname.replace(/\/dashboard(\/.*)?$/, "");  // "" or a base path such as "/dev"
const BASE = ROOT;                 // the API is served under the same base path
const ACTORS_EVERY_MS = 5000;
const ACTOR_EVERY_MS = 3000;
const LOGS_EVERY_MS = 1000;        // the runner flushes logs about every second
const HOSTS_EVERY_MS = 5000;
const TERMINAL = new Set(["COMPLETE", "ERROR"]);
const STATUS_SERIES = [
  { key: "COMPLETE", label: "complete", cls: "s-complete" }, { key: "ERROR", label: "error", cls: "s-error" },
  { key: "RUNNING", label: "running", cls: "s-running" }, { key: "SUBMITTED", label: "submitted", cls: "s-submitted" },
];
const DURATION_SERIES = [{ key: "p50", label: "p50", cls: "l-1" }, { key: "p95", label: "p95", cls: "l-2" },
                         { key: "p99", label: "p99", cls: "l-3" }];
const WAIT_SERIES = [{ key: "wait_p50", label: "wait p50", cls: "l-1" }, { key: "wait_p95", label: "wait p95", cls: "l-2" }];

const $ = (id) => document.getElementById(id);
const view = { name: null, actor: null, execution: null, timers: {}, errorFrom: null, actors: [] };
const enc = encodeURIComponent;
const field = (obj, snake) => {  // the API may be configured for camelCase
  if (!obj) { return undefined; }
  if (snake in obj) { return obj[snake]; }
  return obj[snake.replace(/_([a-z])/g, (m, c) => c.toUpperCase())];
};

// --- credentials and calls -------------------------------------------------------------------------

function loadAuth() {
  $("token").value = localStorage.getItem("abaco.token") || "";
  $("jwt-header").value = localStorage.getItem("abaco.jwtHeader") || "";
  $("tenant").value = localStorage.getItem("abaco.tenant") || "";
  $("who").textContent = $("token").value ? "Token set (" + ($("jwt-header").value || "Bearer") + ")" : "Sign in: no token";
}

function saveAuth(event) {
  event.preventDefault();
  localStorage.setItem("abaco.token", $("token").value.trim());
  localStorage.setItem("abaco.jwtHeader", $("jwt-header").value);
  localStorage.setItem("abaco.tenant", $("tenant").value.trim());
  loadAuth();
  render();
}

function headers(extra) {
  const h = Object.assign({ Accept: "application/json" }, extra || {});
  const token = localStorage.getItem("abaco.token");
  const header = localStorage.getItem("abaco.jwtHeader");
  const tenant = localStorage.getItem("abaco.tenant");
  if (token) {
    if (header === "X-Jwt-Assertion") { h["X-Jwt-Assertion-" + (tenant || "").toUpperCase()] = token; }
    else if (header) { h[header] = token; }
    else { h.Authorization = "Bearer " + token; }
  }
  if (tenant) { h.tenant = tenant; }
  return h;
}

async function api(method, path, body, raw) {
  const init = { method, headers: headers(body === undefined || raw ? {} : { "Content-Type": "application/json" }) };
  if (raw) { init.headers["Content-Type"] = "application/octet-stream"; init.body = body; }
  else if (body !== undefined) { init.body = JSON.stringify(body); }
  const response = await fetch(BASE + path, init);
  let payload = null;
  try { payload = await response.json(); } catch (e) { payload = null; }
  if (!response.ok || (payload && payload.status === "error")) {
    const message = payload && payload.message ? payload.message : response.status + " " + response.statusText;
    const error = new Error(message);
    error.status = response.status;
    throw error;
  }
  return payload ? payload.result : null;
}

// An error stays until the same activity succeeds again: a background refresh never hides the error
// of something the user just did.
function showError(error, from) {
  const box = $("error");
  if (!error) {
    if (view.errorFrom === from) { box.hidden = true; box.textContent = ""; view.errorFrom = null; }
    return;
  }
  view.errorFrom = from;
  box.hidden = false;
  box.textContent = error.message || String(error);
}

// --- rendering helpers -----------------------------------------------------------------------------

function cell(text, cls) {
  const td = document.createElement("td");
  td.textContent = text === undefined || text === null ? "" : String(text);
  if (cls) { td.className = cls; }
  return td;
}

function linkCell(text, href) {
  const td = document.createElement("td");
  const a = document.createElement("a");
  a.textContent = text;
  a.href = href;
  a.addEventListener("click", (event) => { event.preventDefault(); go(href); });
  td.appendChild(a);
  return td;
}

function statusCell(status) { return cell(status, "status " + (status || "")); }

function fillTable(id, rows, build) {
  const body = $(id).querySelector("tbody");
  body.replaceChildren(...rows.map(build));
}

function cards(id, pairs) {
  const box = $(id);
  box.replaceChildren(...pairs.map(([label, value, cls]) => {
    const card = document.createElement("div");
    card.className = "card" + (cls ? " " + cls : "");
    const v = document.createElement("div");
    v.className = "value";
    v.textContent = value === undefined || value === null || value === "" ? "-" :
      (typeof value === "object" ? JSON.stringify(value) : String(value));
    const l = document.createElement("div");
    l.className = "label";
    l.textContent = label;
    card.append(v, l);
    return card;
  }));
}

function shortTime(iso) { return iso ? String(iso).replace("T", " ").replace(/\.\d+Z$/, "") : ""; }
function ms(value) { return typeof value === "number" ? value.toFixed(0) + " ms" : "-"; }

function every(name, period, fn) {
  clearInterval(view.timers[name]);
  view.timers[name] = setInterval(fn, period);
}

function stopTimers() {
  for (const name of Object.keys(view.timers)) { clearInterval(view.timers[name]); }
  view.timers = {};
}

// --- routing -----------------------------------------------------------------------------------------

function href(route) { return ROOT + "/dashboard" + (route ? "/" + route : ""); }
function actorHref(id) { return href("actors/" + enc(id)); }
function executionHref(actorId, executionId) { return href("actors/" + enc(actorId) + "/executions/" + enc(executionId)); }

function go(url) {
  history.pushState({}, "", url);
  render();
}

function parseRoute() {
  const rest = decodeURIComponent(location.pathname.slice((ROOT + "/dashboard").length)).replace(/^\/|\/$/g, "");
  const parts = rest ? rest.split("/") : [];
  if (parts[0] === "hosts") { return { name: "hosts" }; }
  if (parts[0] === "actors" && parts.length >= 4 && parts[2] === "executions") {
    return { name: "execution", actor: parts[1], execution: parts[3] };
  }
  if (parts[0] === "actors" && parts.length >= 2) { return { name: "actor", actor: parts[1] }; }
  return { name: "actors" };
}

function render() {
  stopTimers();
  const route = parseRoute();
  Object.assign(view, { name: route.name, actor: route.actor || null, execution: route.execution || null });
  for (const section of document.querySelectorAll(".view")) { section.hidden = section.id !== route.name + "-view"; }
  for (const a of document.querySelectorAll("nav a")) {
    a.classList.toggle("active", (a.dataset.route || "actors") === (route.name === "hosts" ? "hosts" : "actors") &&
      !a.classList.contains("brand"));
  }
  document.title = "Abaco: " + (route.execution || route.actor || route.name);
  if (route.name === "actors") { refreshActors(); every("actors", ACTORS_EVERY_MS, refreshActors); }
  if (route.name === "actor") { openActor(); }
  if (route.name === "execution") { openExecution(); }
  if (route.name === "hosts") { refreshHosts(); every("hosts", HOSTS_EVERY_MS, refreshHosts); }
}

// --- actors ----------------------------------------------------------------------------------------

async function refreshActors() {
  try {
    view.actors = await api("GET", "/actors");
    drawActors();
    showError(null, "refreshActors");
  } catch (error) { showError(error, "refreshActors"); }
}

function drawActors() {
  const needle = $("actors-filter").value.trim().toLowerCase();
  const shown = view.actors.filter((a) => !needle || [a.id, a.name, a.image, a.status]
    .some((v) => String(v || "").toLowerCase().includes(needle)));
  $("actors-count").textContent = shown.length + " of " + view.actors.length;
  fillTable("actors", shown, (actor) => {
    const tr = document.createElement("tr");
    tr.dataset.actorId = actor.id;
    tr.append(linkCell(actor.id, actorHref(actor.id)), cell(actor.name), cell(actor.image), statusCell(actor.status),
              cell(actor.owner), cell(actor.stateless === false ? "stateful" : "stateless"),
              cell(shortTime(field(actor, "last_update_time") || field(actor, "create_time"))));
    return tr;
  });
}

async function registerActor(event) {
  event.preventDefault();
  const body = { image: $("new-image").value.trim() };
  if ($("new-name").value.trim()) { body.name = $("new-name").value.trim(); }
  if ($("new-stateful").checked) { body.stateless = false; }
  if ($("new-token").checked) { body.token = true; }
  try {
    const actor = await api("POST", "/actors", body);
    $("new-image").value = ""; $("new-name").value = "";
    showError(null, "registerActor");
    go(actorHref(actor.id));
  } catch (error) { showError(error, "registerActor"); }
}

// --- one actor -------------------------------------------------------------------------------------

function actorPath() { return "/actors/" + enc(view.actor); }

function openActor() {
  $("actor-title").textContent = view.actor;
  refreshActor();
  refreshManage();
  every("actor", ACTOR_EVERY_MS, refreshActor);
}

async function refreshActor() {
  const actorId = view.actor;
  try {
    const [actor, stats, workers] = await Promise.all([
      api("GET", actorPath()), api("GET", actorPath() + "/stats?window=" + enc($("window").value)),
      api("GET", actorPath() + "/workers")]);
    if (view.actor !== actorId || view.name !== "actor") { return; }
    $("actor-status").textContent = actor.status;
    $("actor-status").className = "status " + actor.status;
    const s = stats.summary;
    cards("actor-cards", [["status", actor.status], ["image", actor.image], ["revision", actor.revision],
      ["workers", workers.length], ["inbox", stats.inbox_depth], ["executions (" + $("window").value + ")", s.executions],
      ["errors", s.counts.ERROR, s.counts.ERROR ? "bad" : ""], ["run p50", ms(s.p50)], ["run p95", ms(s.p95)],
      ["queue wait p50", ms(s.wait_p50)],
      ["last error", stats.last_error ? stats.last_error.message || ("exit " + stats.last_error.exit_code) :
        (field(actor, "status_message") || "none"), stats.last_error ? "bad wide" : "wide"]]);
    AbacoCharts.stackedBars($("chart-executions"), "executions", "Executions per " +
      (stats.window.bucket_seconds === 60 ? "minute" : "half hour") + " by status", stats.series, STATUS_SERIES);
    AbacoCharts.lines($("chart-durations"), "durations", "Run time percentiles", stats.series, DURATION_SERIES, "ms");
    AbacoCharts.lines($("chart-queue-wait"), "queue-wait", "Queue wait (accepted to claimed)", stats.series,
      WAIT_SERIES, "ms");
    drawExecutions(stats.recent || []);
    fillTable("workers", workers, (w) => {
      const tr = document.createElement("tr");
      tr.append(cell(w.id), statusCell(w.status), cell(field(w, "host_id")));
      return tr;
    });
    showError(null, "refreshActor");
  } catch (error) { showError(error, "refreshActor"); }
}

function drawExecutions(executions) {
  const wanted = $("exec-filter").value;
  const rows = executions.filter((e) => !wanted || e.status === wanted);  // newest first
  fillTable("executions", rows, (e) => {
    const tr = document.createElement("tr");
    tr.dataset.executionId = e.id;
    tr.append(linkCell(e.id, executionHref(view.actor, e.id)), statusCell(e.status), cell(field(e, "exit_code")),
              cell(shortTime(e.message_received_time)), cell(ms(e.run_ms)), cell(e.cpu), cell(e.io));
    return tr;
  });
}

async function sendMessage(event) {
  event.preventDefault();
  let query;
  try { query = envQuery($("message-env").value); } catch (error) { showError(error, "sendMessage"); return; }
  const kind = $("message-type").value;
  const text = $("message").value;
  try {
    let sent;
    if (kind === "binary") {
      const file = $("message-file").files[0];
      if (!file) { throw new Error("choose a file to send as a binary message"); }
      sent = await api("POST", actorPath() + "/messages" + query, await file.arrayBuffer(), true);
    } else {
      const body = kind === "json" ? parseJson(text) : { message: text };
      sent = await api("POST", actorPath() + "/messages" + query, body);
      remember(field(sent, "execution_id"), { kind, text, env: $("message-env").value });
    }
    showError(null, "sendMessage");
    go(executionHref(view.actor, field(sent, "execution_id")));
  } catch (error) { showError(error, "sendMessage"); }
}

function parseJson(text) {
  try { return JSON.parse(text); } catch (error) { throw new Error("not valid JSON: " + error.message); }
}

// The API does not return a message's body after it is sent; "send again" uses what this browser sent.
function remember(executionId, message) {
  try { sessionStorage.setItem("abaco.sent." + executionId, JSON.stringify(message)); } catch (e) { /* full */ }
}

// "A=1 B=two" -> "?A=1&B=two": every query parameter of a message becomes a container variable.
function envQuery(text) {
  const params = new URLSearchParams();
  for (const pair of text.split(/\s+/).filter(Boolean)) {
    const at = pair.indexOf("=");
    if (at < 1) { throw new Error("environment entries are KEY=VALUE, got " + pair); }
    params.append(pair.slice(0, at), pair.slice(at + 1));
  }
  const query = params.toString();
  return query ? "?" + query : "";
}

// --- manage: aliases, nonces, permissions, configs, state, cron --------------------------------------

async function refreshManage() {
  const actorId = view.actor;
  const settle = (p) => p.then((v) => ({ ok: v }), (e) => ({ error: e }));
  const [aliases, nonces, perms, configs, state, actor] = await Promise.all([
    settle(api("GET", "/actors/aliases")), settle(api("GET", actorPath() + "/nonces")),
    settle(api("GET", actorPath() + "/permissions")), settle(api("GET", "/actors/configs")),
    settle(api("GET", actorPath() + "/state")), settle(api("GET", actorPath()))]);
  if (view.actor !== actorId) { return; }
  const mine = (aliases.ok || []).filter((a) => field(a, "actor_id") === actorId);
  listItems("aliases", mine, (a) => [a.alias, () => api("DELETE", "/actors/aliases/" + enc(a.alias))]);
  listItems("nonces", nonces.ok || [], (n) => [
    (n.id || "(id hidden)") + " " + field(n, "level") + " uses left " + field(n, "remaining_uses"),
    () => api("DELETE", actorPath() + "/nonces/" + enc(n.handle || n.id)), n.id]);
  fillTable("permissions", Object.entries(perms.ok || {}), ([user, level]) => {
    const tr = document.createElement("tr"); tr.append(cell(user), cell(level)); return tr;
  });
  const bound = (configs.ok || []).filter((c) => String(field(c, "actors") || "").split(",").map((s) => s.trim())
    .some((name) => name === actorId || mine.some((a) => a.alias === name)));
  fillTable("configs", bound, (c) => {
    const tr = document.createElement("tr");
    tr.dataset.config = c.name;
    tr.append(cell(c.name), cell(field(c, "is_secret") ? "******** (secret)" : JSON.stringify(c.value)));
    const td = document.createElement("td");
    const del = document.createElement("button");
    del.type = "button"; del.textContent = "remove"; del.className = "danger";
    del.addEventListener("click", () => act("config", () => api("DELETE", "/actors/configs/" + enc(c.name))));
    td.appendChild(del);
    tr.appendChild(td);
    return tr;
  });
  $("state").textContent = state.error ? state.error.message : JSON.stringify(state.ok, null, 2);
  if (actor.ok) {
    $("cron").textContent = field(actor.ok, "cron_on") ? "on: " + field(actor.ok, "cron_schedule") : "off";
    $("cron-schedule").value = field(actor.ok, "cron_schedule") || "";
    $("cron-on").checked = Boolean(field(actor.ok, "cron_on"));
  }
}

function listItems(id, items, describe) {
  $(id).replaceChildren(...items.map((item) => {
    const [text, remove, copy] = describe(item);
    const li = document.createElement("li");
    const span = document.createElement("code");
    span.textContent = text;
    li.appendChild(span);
    if (copy) {
      const button = document.createElement("button");
      button.type = "button"; button.textContent = "copy";
      button.addEventListener("click", () => navigator.clipboard && navigator.clipboard.writeText(copy));
      li.appendChild(button);
    }
    const del = document.createElement("button");
    del.type = "button"; del.textContent = "remove"; del.className = "danger";
    del.addEventListener("click", () => act("remove", remove));
    li.appendChild(del);
    return li;
  }));
}

async function act(what, fn) {
  try { await fn(); showError(null, what); await refreshManage(); } catch (error) { showError(error, what); }
}

function manageForms() {
  $("alias-form").addEventListener("submit", (e) => { e.preventDefault();
    act("alias", () => api("POST", "/actors/aliases", { alias: $("alias-name").value.trim(), actor_id: view.actor })); });
  $("nonce-form").addEventListener("submit", (e) => { e.preventDefault();
    act("nonce", () => api("POST", actorPath() + "/nonces",
      { level: $("nonce-level").value, max_uses: Number($("nonce-uses").value) })); });
  $("grant-form").addEventListener("submit", (e) => { e.preventDefault();
    act("grant", () => api("POST", actorPath() + "/permissions",
      { user: $("grant-user").value.trim(), level: $("grant-level").value })); });
  $("config-form").addEventListener("submit", (e) => { e.preventDefault();
    act("config", () => api("POST", "/actors/configs", { name: $("config-name").value.trim(),
      value: $("config-value").value, is_secret: $("config-secret").checked, actors: view.actor })); });
  $("state-form").addEventListener("submit", (e) => { e.preventDefault();
    act("state", () => api("POST", actorPath() + "/state", parseJson($("state-value").value))); });
  $("cron-form").addEventListener("submit", (e) => { e.preventDefault();
    act("cron", async () => {
      const actor = await api("GET", actorPath());
      await api("PUT", actorPath(), { image: actor.image, cron_schedule: $("cron-schedule").value.trim() || null,
        cron_on: $("cron-on").checked, stateless: actor.stateless, name: actor.name });
    }); });
}

// --- one execution ---------------------------------------------------------------------------------

function openExecution() {
  $("exec-title").textContent = view.execution;
  $("exec-actor").href = actorHref(view.actor);
  $("logs").textContent = "";
  $("result").textContent = "";
  followExecution();
  every("logs", LOGS_EVERY_MS, followExecution);
}

async function followExecution() {
  const actorId = view.actor, executionId = view.execution;
  const path = actorPath() + "/executions/" + enc(executionId);
  try {
    const execution = await api("GET", path);          // status first: final logs are stored before it
    const logs = $("follow").checked || TERMINAL.has(execution.status) ? await api("GET", path + "/logs") : null;
    if (view.execution !== executionId || view.actor !== actorId) { return; }
    drawExecution(execution);
    if (logs) {
      const pre = $("logs");
      const atBottom = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 4;
      pre.textContent = logs.logs || "";
      if (atBottom) { pre.scrollTop = pre.scrollHeight; }
    }
    const done = TERMINAL.has(execution.status);
    $("logs-state").textContent = done ? "final" : ($("follow").checked ? "following..." : "paused");
    if (done) { clearInterval(view.timers.logs); }
    showError(null, "followExecution");
  } catch (error) { showError(error, "followExecution"); }
}

function drawExecution(execution) {
  const status = execution.status;
  $("exec-status").textContent = status;
  $("exec-status").className = "status " + status;
  const phases = execution.phases || {};
  cards("exec-cards", [["status", status], ["exit code", field(execution, "exit_code")],
    ["runtime s", execution.runtime], ["cpu", execution.cpu], ["io", execution.io],
    ["attempt", execution.attempt], ["worker", field(execution, "worker_id")],
    ["received", shortTime(field(execution, "message_received_time"))],
    ["message", field(execution, "status_message"), "wide"]]);
  AbacoCharts.timeline($("chart-phases"), "phases", "Phases",
    ["queued", "claimed", "created", "started", "exited", "finalised"].map((p) => [p, phases[p]]));
  fillTable("attempts", execution.attempts || [], (a) => {
    const tr = document.createElement("tr");
    tr.append(cell(a.attempt), cell(a.reason), cell(field(a, "exit_code")), cell(field(a, "runner_id")));
    return tr;
  });
}

async function fetchResult() {
  try {
    const response = await fetch(BASE + actorPath() + "/executions/" + enc(view.execution) + "/results",
                                 { headers: headers({ Accept: "application/octet-stream" }) });
    if (!response.ok) { throw new Error("results: " + response.status + " " + response.statusText); }
    const bytes = new Uint8Array(await response.arrayBuffer());
    $("result").textContent = bytes.length ? new TextDecoder().decode(bytes) : "(no result waiting)";
    showError(null, "fetchResult");
  } catch (error) { showError(error, "fetchResult"); }
}

function sendAgain() {
  const stored = sessionStorage.getItem("abaco.sent." + view.execution);
  const actorId = view.actor;
  go(actorHref(actorId));
  if (stored) {
    const message = JSON.parse(stored);
    $("message").value = message.text; $("message-type").value = message.kind; $("message-env").value = message.env;
  }
  $("message").focus();
}

// --- operators -------------------------------------------------------------------------------------

async function refreshHosts() {
  try {
    const ops = await api("GET", "/actors/admin/overview?window=" + enc($("ops-window").value));
    if (view.name !== "hosts") { return; }
    const s = ops.summary;
    const stale = ops.hosts.filter((h) => h.heartbeat_age_s === null || h.heartbeat_age_s > 30).length;
    cards("ops-cards", [["hosts", ops.hosts.length], ["stale heartbeats", stale, stale ? "bad" : ""],
      ["slots used", ops.hosts.reduce((n, h) => n + h.used_slots, 0) + " / " + ops.hosts.reduce((n, h) => n + h.slots, 0)],
      ["backlog", ops.pools.reduce((n, p) => n + p.backlog, 0)],
      ["dead letters", ops.dead_letter.visible, ops.dead_letter.visible ? "bad" : ""],
      ["executions (" + $("ops-window").value + ")", s.executions], ["errors", s.counts.ERROR, s.counts.ERROR ? "bad" : ""],
      ["run p95", ms(s.p95)]]);
    AbacoCharts.stackedBars($("chart-ops-executions"), "ops-executions", "Executions by status", ops.series, STATUS_SERIES);
    AbacoCharts.lines($("chart-ops-durations"), "ops-durations", "Run time percentiles", ops.series, DURATION_SERIES, "ms");
    fillTable("hosts", ops.hosts, (h) => {
      const tr = document.createElement("tr");
      tr.append(cell(h.hostname || h.id), statusCell(h.status), cell(h.pools.join(", ")),
                cell(h.used_slots + " / " + h.slots), cell(h.idle_slots), cell(h.workers), cell(h.parked_workers),
                cell(h.warm_waiting), cell(h.heartbeat_age_s));
      return tr;
    });
    fillTable("pools", ops.pools, (p) => {
      const tr = document.createElement("tr");
      const waited = p.wake.wait_s === null || p.wake.wait_s === undefined ? "–" : p.wake.wait_s.toFixed(1) + " s";
      tr.append(cell(p.pool), cell(p.backlog), cell(p.wake.visible + " (+" + p.wake.in_flight + " in flight)"), cell(waited),
                cell(p.commands.visible + " (+" + p.commands.in_flight + " in flight)"));
      return tr;
    });
    fillTable("duties", ops.duties, (d) => {
      const tr = document.createElement("tr");
      tr.append(cell(d.name), cell(d.holder), cell(d.expires_at ? new Date(d.expires_at * 1000).toLocaleTimeString() : ""),
                cell(d.runs));
      return tr;
    });
    fillTable("top-actors", ops.top_actors, (a) => {
      const tr = document.createElement("tr");
      tr.append(linkCell(a.actor_id, actorHref(a.actor_id)), cell(a.executions), cell(a.errors), cell(a.cpu));
      return tr;
    });
    fillTable("tenants", ops.tenants, (t) => {
      const tr = document.createElement("tr"); tr.append(cell(t.tenant), cell(t.executions)); return tr;
    });
    showError(null, "refreshHosts");
  } catch (error) { showError(error, "refreshHosts"); }
}

// --- start -----------------------------------------------------------------------------------------

document.addEventListener("DOMContentLoaded", () => {
  loadAuth();
  $("auth-box").open = !localStorage.getItem("abaco.token") && window.innerWidth > 800;
  for (const a of document.querySelectorAll("nav a")) {
    a.href = href(a.dataset.route);
    a.addEventListener("click", (event) => { event.preventDefault(); go(a.href); });
  }
  $("auth-form").addEventListener("submit", saveAuth);
  $("register-form").addEventListener("submit", registerActor);
  $("send-form").addEventListener("submit", sendMessage);
  $("message-type").addEventListener("change", () => { $("message-file").hidden = $("message-type").value !== "binary"; });
  $("refresh").addEventListener("click", refreshActors);
  $("actors-filter").addEventListener("input", drawActors);
  $("window").addEventListener("change", refreshActor);
  $("exec-filter").addEventListener("change", refreshActor);
  $("ops-window").addEventListener("change", refreshHosts);
  $("follow").addEventListener("change", followExecution);
  $("fetch-result").addEventListener("click", fetchResult);
  $("send-again").addEventListener("click", sendAgain);
  manageForms();
  window.addEventListener("popstate", render);
  render();
});
