// The Abaco dashboard: a static page that calls the same API as every other client, with the same
// credentials (a token kept in this browser's localStorage). Data from the API is only ever inserted as
// text (textContent), never as HTML. Its script is three files, served as one in this order
// (chalicelib/api/dashboard.py): charts.js (the SVG charts), app.js (this file: credentials, calls,
// rendering helpers, routing, start) and views.js (the views). Every view has its own address:
//   /dashboard                                         actors
//   /dashboard/actors/{id}                             an actor: charts, executions, send, manage
//   /dashboard/actors/{id}/executions/{execution_id}   an execution: phases, attempts, live logs, results
//   /dashboard/hosts                                   operators: hosts, pools, queues, duties, top actors
"use strict";

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
