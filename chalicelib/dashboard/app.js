// The Abaco dashboard: a static page that calls the same API as every other client, with the same
// credentials (a token kept in this browser's localStorage). Data from the API is only ever inserted as
// text (textContent), never as HTML.
"use strict";

const BASE = location.pathname.replace(/\/dashboard\/?$/, "");
const ACTORS_EVERY_MS = 5000;     // actor list refresh
const ACTOR_EVERY_MS = 3000;      // selected actor: workers, executions, permissions
const LOGS_EVERY_MS = 1000;       // the runner flushes logs about every second
const MAX_WORKER_LOOKUPS = 50;    // per refresh: one workers call per listed actor
const TERMINAL = new Set(["COMPLETE", "ERROR"]);

const $ = (id) => document.getElementById(id);
const view = { actor: null, execution: null, timers: {}, errorFrom: null };

// --- credentials and calls -------------------------------------------------------------------------

function loadAuth() {
  $("token").value = localStorage.getItem("abaco.token") || "";
  $("jwt-header").value = localStorage.getItem("abaco.jwtHeader") || "";
  $("tenant").value = localStorage.getItem("abaco.tenant") || "";
  $("who").textContent = $("token").value ? "token set" : "no token";
}

function saveAuth(event) {
  event.preventDefault();
  localStorage.setItem("abaco.token", $("token").value.trim());
  localStorage.setItem("abaco.jwtHeader", $("jwt-header").value.trim());
  localStorage.setItem("abaco.tenant", $("tenant").value.trim());
  loadAuth();
  refreshActors();
}

function headers(extra) {
  const h = Object.assign({ Accept: "application/json" }, extra || {});
  const token = localStorage.getItem("abaco.token");
  const header = localStorage.getItem("abaco.jwtHeader");
  const tenant = localStorage.getItem("abaco.tenant");
  if (token) {
    if (header) { h[header] = token; } else { h.Authorization = "Bearer " + token; }
  }
  if (tenant) { h.tenant = tenant; }
  return h;
}

async function api(method, path, body) {
  const init = { method, headers: headers(body === undefined ? {} : { "Content-Type": "application/json" }) };
  if (body !== undefined) { init.body = JSON.stringify(body); }
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

const enc = encodeURIComponent;
const field = (obj, snake) => {  // the API may be configured for camelCase
  if (!obj) { return undefined; }
  if (snake in obj) { return obj[snake]; }
  return obj[snake.replace(/_([a-z])/g, (m, c) => c.toUpperCase())];
};

// --- rendering helpers -----------------------------------------------------------------------------

function cell(text, cls) {
  const td = document.createElement("td");
  td.textContent = text === undefined || text === null ? "" : String(text);
  if (cls) { td.className = cls; }
  return td;
}

function statusCell(status) { return cell(status, "status " + (status || "")); }

function fillTable(id, rows, build) {
  const body = $(id).querySelector("tbody");
  body.replaceChildren(...rows.map(build));
}

function fillFields(id, pairs) {
  const dl = $(id);
  dl.replaceChildren();
  for (const [key, value] of pairs) {
    const dt = document.createElement("dt"); dt.textContent = key;
    const dd = document.createElement("dd");
    dd.textContent = value === undefined || value === null ? "" :
      (typeof value === "object" ? JSON.stringify(value) : String(value));
    dl.append(dt, dd);
  }
}

function shortTime(iso) { return iso ? String(iso).replace("T", " ").replace(/\.\d+Z$/, "") : ""; }

function seconds(from, to) {
  if (!from || !to) { return ""; }
  const ms = Date.parse(to) - Date.parse(from);
  return Number.isFinite(ms) ? (ms / 1000).toFixed(2) + " s" : "";
}

function every(name, ms, fn) {
  clearInterval(view.timers[name]);
  view.timers[name] = setInterval(fn, ms);
}

// --- actors ----------------------------------------------------------------------------------------

async function refreshActors() {
  try {
    const actors = await api("GET", "/actors");
    const counts = await Promise.all(actors.slice(0, MAX_WORKER_LOOKUPS).map(
      (a) => api("GET", "/actors/" + enc(a.id) + "/workers").then((w) => w.length, () => "?")));
    fillTable("actors", actors, (actor, i) => {
      const tr = document.createElement("tr");
      tr.dataset.actorId = actor.id;
      if (view.actor === actor.id) { tr.className = "selected"; }
      tr.append(cell(actor.id), cell(actor.name), cell(actor.image), statusCell(actor.status),
                cell(i < counts.length ? counts[i] : ""));
      tr.addEventListener("click", () => selectActor(actor.id));
      return tr;
    });
    showError(null, "refreshActors");
  } catch (error) { showError(error, "refreshActors"); }
}

async function registerActor(event) {
  event.preventDefault();
  const body = { image: $("new-image").value.trim() };
  if ($("new-name").value.trim()) { body.name = $("new-name").value.trim(); }
  if ($("new-stateful").checked) { body.stateless = false; }
  try {
    const actor = await api("POST", "/actors", body);
    $("new-image").value = ""; $("new-name").value = "";
    showError(null, "registerActor");
    await refreshActors();
    selectActor(actor.id);
  } catch (error) { showError(error, "registerActor"); }
}

async function selectActor(actorId) {
  view.actor = actorId;
  $("actor-pane").hidden = false;
  $("actor-title").textContent = actorId;
  for (const tr of $("actors").querySelectorAll("tbody tr")) {
    tr.classList.toggle("selected", tr.dataset.actorId === actorId);
  }
  await refreshActor();
  every("actor", ACTOR_EVERY_MS, refreshActor);
}

async function refreshActor() {
  const actorId = view.actor;
  if (!actorId) { return; }
  const path = "/actors/" + enc(actorId);
  try {
    const actor = await api("GET", path);
    fillFields("actor-fields", [["name", actor.name], ["image", actor.image], ["status", actor.status],
      ["status message", field(actor, "status_message")], ["owner", actor.owner],
      ["stateless", actor.stateless], ["revision", actor.revision], ["hints", actor.hints],
      ["default environment", field(actor, "default_environment")], ["created", shortTime(field(actor, "create_time"))]]);
    const workers = await api("GET", path + "/workers");
    fillTable("workers", workers, (w) => {
      const tr = document.createElement("tr");
      tr.append(cell(w.id), statusCell(w.status), cell(shortTime(field(w, "last_execution_time"))));
      return tr;
    });
    await refreshExecutions(path);
    await refreshPermissions(path);
    showError(null, "refreshActor");
  } catch (error) { showError(error, "refreshActor"); }
}

async function refreshExecutions(path) {
  const summary = await api("GET", path + "/executions");
  const executions = (summary.executions || []).slice().reverse();  // newest first
  fillTable("executions", executions, (e) => {
    const tr = document.createElement("tr");
    tr.dataset.executionId = e.id;
    if (view.execution === e.id) { tr.className = "selected"; }
    const received = field(e, "message_received_time"), start = field(e, "start_time");
    tr.append(cell(e.id), statusCell(e.status), cell(shortTime(received)), cell(seconds(received, start)),
              cell(seconds(start, field(e, "finish_time"))));
    tr.addEventListener("click", () => selectExecution(e.id));
    return tr;
  });
}

async function refreshPermissions(path) {
  let perms;
  try { perms = await api("GET", path + "/permissions"); } catch (error) {
    fillTable("permissions", [[error.message, ""]], ([user, level]) => {
      const tr = document.createElement("tr"); tr.append(cell(user, "muted"), cell(level)); return tr;
    });
    return;
  }
  fillTable("permissions", Object.entries(perms || {}), ([user, level]) => {
    const tr = document.createElement("tr"); tr.append(cell(user), cell(level)); return tr;
  });
}

async function grant(event) {
  event.preventDefault();
  try {
    await api("POST", "/actors/" + enc(view.actor) + "/permissions",
              { user: $("grant-user").value.trim(), level: $("grant-level").value });
    $("grant-user").value = "";
    showError(null, "grant");
    await refreshPermissions("/actors/" + enc(view.actor));
  } catch (error) { showError(error, "grant"); }
}

// --- messages and executions ----------------------------------------------------------------------

async function sendMessage(event) {
  event.preventDefault();
  const text = $("message").value;
  let body;
  if ($("message-type").value === "json") {
    try { body = JSON.parse(text); } catch (error) {
      showError(new Error("not valid JSON: " + error.message), "sendMessage");
      return;
    }
  } else {
    body = { message: text };
  }
  let query;
  try { query = envQuery($("message-env").value); } catch (error) { showError(error, "sendMessage"); return; }
  try {
    const sent = await api("POST", "/actors/" + enc(view.actor) + "/messages" + query, body);
    showError(null, "sendMessage");
    await refreshExecutions("/actors/" + enc(view.actor));
    selectExecution(field(sent, "execution_id"));
  } catch (error) { showError(error, "sendMessage"); }
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

async function selectExecution(executionId) {
  view.execution = executionId;
  $("execution-pane").hidden = false;
  $("exec-title").textContent = executionId;
  $("logs").textContent = "";
  for (const tr of $("executions").querySelectorAll("tbody tr")) {
    tr.classList.toggle("selected", tr.dataset.executionId === executionId);
  }
  await followExecution();
  every("logs", LOGS_EVERY_MS, followExecution);
}

async function followExecution() {
  const actorId = view.actor, executionId = view.execution;
  if (!actorId || !executionId) { return; }
  const path = "/actors/" + enc(actorId) + "/executions/" + enc(executionId);
  try {
    const execution = await api("GET", path);          // status first: final logs are stored before it
    const logs = await api("GET", path + "/logs");
    if (view.execution !== executionId) { return; }    // the user picked another one meanwhile
    const status = execution.status;
    $("exec-status").textContent = status;
    $("exec-status").className = "status " + status;
    const received = field(execution, "message_received_time"), start = field(execution, "start_time");
    const finish = field(execution, "finish_time");
    fillFields("exec-fields", [["status", status], ["status message", field(execution, "status_message")],
      ["exit code", field(execution, "exit_code")], ["worker", field(execution, "worker_id")],
      ["received", shortTime(received)], ["started", shortTime(start)], ["finished", shortTime(finish)],
      ["queued", seconds(received, start)], ["ran", seconds(start, finish)], ["runtime", execution.runtime],
      ["cpu", execution.cpu], ["io", execution.io]]);
    const pre = $("logs");
    const atBottom = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 4;
    pre.textContent = (logs && logs.logs) || "";
    if (atBottom) { pre.scrollTop = pre.scrollHeight; }
    const done = TERMINAL.has(status);
    $("logs-state").textContent = done ? "final" : "following...";
    if (done) { clearInterval(view.timers.logs); }
  } catch (error) { showError(error, "followExecution"); }
}

// --- start -----------------------------------------------------------------------------------------

document.addEventListener("DOMContentLoaded", () => {
  loadAuth();
  $("auth-form").addEventListener("submit", saveAuth);
  $("register-form").addEventListener("submit", registerActor);
  $("send-form").addEventListener("submit", sendMessage);
  $("grant-form").addEventListener("submit", grant);
  $("refresh").addEventListener("click", refreshActors);
  refreshActors();
  every("actors", ACTORS_EVERY_MS, refreshActors);
});
