// The dashboard's views: the actors list, one actor (charts, executions, send, manage), one execution
// (phases, attempts, live logs, results) and the operators' page. They use the calls and helpers of app.js
// (served before this file) and the charts of charts.js; app.js starts the page once the page has loaded.
"use strict";

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
