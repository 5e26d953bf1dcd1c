// The emulator's console. Plain JavaScript, no dependencies. Every value from the server reaches the page
// through textContent (the el() helper): nothing is ever parsed as HTML.
"use strict";

const API = "/_emulator/console/api";
const TAIL_ROWS = 500;
const OVERVIEW_REFRESH_MS = 5000;

const state = {
  overview: null,
  instanceId: null,
  query: null, // {params, page, total, limit}
  tail: { source: null, paused: false, held: [], received: 0, topic: "" },
  backTo: "#query",
  refreshTimer: null,
};

// -- small helpers -----------------------------------------------------------------------------------
function el(tag, props, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(props || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name === "class") node.className = value;
    else if (name === "dataset") Object.assign(node.dataset, value);
    else if (name === "title") node.title = value;
    else if (name === "onclick") node.addEventListener("click", value);
    else node.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

const $ = (id) => document.getElementById(id);

function pad(n, width = 2) {
  return String(n).padStart(width, "0");
}

function localTime(ms) {
  const d = new Date(ms);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ` +
    `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)}`;
}

function utcOffset(ms) {
  const minutes = -new Date(ms).getTimezoneOffset();
  const sign = minutes >= 0 ? "+" : "-";
  return `UTC${sign}${pad(Math.floor(Math.abs(minutes) / 60))}:${pad(Math.abs(minutes) % 60)}`;
}

function utcTime(ms) {
  return new Date(ms).toISOString();
}

function property(message, name) {
  const found = (message.property_list || []).filter((p) => p.name === name && p.value !== "");
  return found.map((p) => p.value).join(" ");
}

function preview(body, length = 64) {
  const flat = body.replace(/\s+/g, " ");
  return flat.length > length ? flat.slice(0, length - 1) + "…" : flat;
}

function bytes(text) {
  return new TextEncoder().encode(text).length;
}

function number(n) {
  return Number(n).toLocaleString("en-US");
}

function toast(text, kind = "info") {
  const box = $("toast");
  box.textContent = text;
  box.className = `toast ${kind}`;
  box.hidden = false;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => { box.hidden = true; }, 3000);
}

function showError(error) {
  const banner = $("banner");
  banner.textContent = error.message;
  banner.hidden = false;
}

function clearError() {
  $("banner").hidden = true;
}

// One request to the console's API; a Huawei-shaped error body becomes an Error saying what was wrong.
async function api(path, params, init) {
  const url = new URL(API + path, window.location.origin);
  for (const [name, value] of Object.entries(params || {})) {
    if (value !== undefined && value !== null && value !== "") url.searchParams.set(name, value);
  }
  let response;
  try {
    response = await fetch(url, init);
  } catch (error) {
    throw new Error("The emulator does not answer: is it still running?");
  }
  let document_ = null;
  try {
    document_ = await response.json();
  } catch (error) {
    document_ = null;
  }
  if (!response.ok) {
    const detail = document_ && document_.error_msg ? `${document_.error_msg} (${document_.error_code})` : `HTTP ${response.status}`;
    throw new Error(detail);
  }
  return document_;
}

function action(path, body) {
  return api(path, null, {
    method: "POST",
    headers: { "Content-Type": "application/json", [state.overview.console.action_header]: "1" },
    body: body === undefined ? "{}" : JSON.stringify(body),
  });
}

async function copy(text) {
  try {
    await navigator.clipboard.writeText(text);
  } catch (error) {
    // No clipboard API (a page served over plain HTTP to another machine): copy through a selection.
    const area = el("textarea", { class: "offscreen", readonly: true });
    area.value = text;
    document.body.append(area);
    area.select();
    const done = document.execCommand("copy");
    area.remove();
    if (!done) throw new Error("the browser refused to copy");
  }
}

// -- instance and overview ---------------------------------------------------------------------------
function instance() {
  const instances = state.overview ? state.overview.instances : [];
  return instances.find((i) => i.instance_id === state.instanceId) || instances[0];
}

function topicNames() {
  const current = instance();
  return current ? current.topics.map((t) => t.name) : [];
}

function fillSelect(select, values, { all = null } = {}) {
  const keep = select.value;
  select.replaceChildren();
  if (all !== null) select.append(el("option", { value: "" }, all));
  for (const value of values) select.append(el("option", { value }, value));
  if ([...select.options].some((o) => o.value === keep)) select.value = keep;
}

async function loadOverview() {
  const overview = await api("/overview");
  state.overview = overview;
  if (!state.instanceId || !overview.instances.some((i) => i.instance_id === state.instanceId)) {
    state.instanceId = overview.instances[0].instance_id;
  }
  fillSelect($("instance"), overview.instances.map((i) => i.instance_id));
  if ($("fault-status").options.length === 0) {
    fillSelect($("fault-status"), overview.console.fault_statuses.map(String));
    $("fault-status").value = "503";
  }
  $("instance").value = state.instanceId;
  fillSelect($("q-topic"), topicNames());
  fillSelect($("tail-topic"), topicNames(), { all: "All topics" });
  renderBadges(overview);
  renderOverview(overview);
  return overview;
}

function badge(text, kind, title) {
  return el("span", { class: `badge ${kind}`, title }, text);
}

function renderBadges(overview) {
  const health = overview.health.status === "ok"
    ? badge("Healthy", "ok", "GET /_emulator/health answers ok")
    : badge("Store broken", "bad", overview.health.reason);
  $("badges").replaceChildren(...[
    health,
    badge(overview.store.kind === "durable" ? "Durable store" : "Memory store", "neutral", overview.store.description),
    badge(overview.auth ? "Auth on" : "Auth off", overview.auth ? "ok" : "warn",
      overview.auth ? "Requests must be signed (AK/SK) or carry a token" : "Every request is accepted"),
    overview.faults.count > 0 ? badge(`${number(overview.faults.count)} fault(s) armed`, "bad", "The next sends fail") : null,
    badge(overview.console.actions ? "Actions on" : "Read-only", overview.console.actions ? "warn" : "neutral",
      overview.console.actions ? "Started with --console-actions" : "Start with --console-actions to reset or arm faults"),
  ].filter((node) => node !== null));
}

function card(title, value, ...lines) {
  return el("div", { class: "card" },
    el("div", { class: "card-title" }, title),
    el("div", { class: "card-value" }, value),
    lines.filter((l) => l).map((line) => el("div", { class: "card-line" }, line)));
}

function faultText(faults) {
  if (faults.count <= 0) return "None armed";
  if (faults.drop_connection) return `${number(faults.count)} × dropped connection`;
  return `${number(faults.count)} × HTTP ${faults.status}`;
}

function renderOverview(overview) {
  const current = instance();
  const total = current.topics.reduce((sum, t) => sum + t.messages, 0);
  const stats = overview.store.stats || {};
  $("cards").replaceChildren(
    card("Instance", current.broker_name, current.instance_id, `project ${overview.project_id}`),
    card("Messages", number(total), `${current.topics.length} topic(s)`,
      overview.auto_create_topics ? "topics created on first send" : "topics as configured"),
    card("Store", overview.store.kind === "durable" ? "Durable" : "Memory",
      overview.store.path || "nothing is kept after exit",
      stats.commits ? `${number(stats.messages)} messages in ${number(stats.commits)} commits` : null),
    card("Authentication", overview.auth ? "On" : "Off",
      overview.auth ? "AK/SK signatures or X-Auth-Token" : "every request is accepted"),
    card("Faults", faultText(overview.faults),
      overview.faults.count > 0 && overview.faults.delay_ms ? `after ${number(overview.faults.delay_ms)} ms` : null),
    card("Health", overview.health.status === "ok" ? "OK" : "Broken",
      overview.health.reason || `emulator ${overview.version}`),
  );
  const topics = current.topics.map((topic) => {
    const most = Math.max(1, ...topic.queue_offsets.map((q) => q.messages));
    const rows = topic.queue_offsets.map((q) => el("tr", {},
      el("td", { class: "num" }, q.queue_id),
      el("td", { class: "num" }, number(q.min_offset)),
      el("td", { class: "num" }, number(q.max_offset)),
      el("td", { class: "num" }, number(q.messages)),
      el("td", { class: "bar-cell" }, meter(q.messages / most))));
    return el("div", { class: "panel topic", dataset: { topic: topic.name } },
      el("div", { class: "topic-head" },
        el("h3", {}, topic.name),
        el("span", { class: "muted" }, `${topic.queues} queue(s) · ${number(topic.messages)} message(s)`),
        topic.auto_created ? badge("auto-created", "neutral", "Created by its first send") : null,
        el("span", { class: "spacer" }),
        el("a", { class: "link", href: "#query", onclick: () => { $("q-topic").value = topic.name; } }, "Query"),
        el("a", { class: "link", href: "#tail", onclick: () => { $("tail-topic").value = topic.name; } }, "Tail")),
      el("table", { class: "grid compact" },
        el("thead", {}, el("tr", {},
          el("th", { class: "num" }, "Queue"),
          el("th", { class: "num", title: "Offset of the first message still kept" }, "Min offset"),
          el("th", { class: "num", title: "Offset the next message gets (as RocketMQ counts it)" }, "Max offset"),
          el("th", { class: "num" }, "Messages"),
          el("th", {}, ""))),
        el("tbody", {}, rows)));
  });
  $("topics").replaceChildren(...(topics.length ? topics : [el("p", { class: "empty" }, "No topics: start the emulator with --topic NAME.")]));
  $("actions").hidden = !overview.console.actions;
}

function meter(fraction) {
  const fill = el("span", { class: "meter-fill" });
  fill.style.width = `${Math.round(fraction * 100)}%`;
  return el("span", { class: "meter" }, fill);
}

// -- query -------------------------------------------------------------------------------------------
function mode() {
  return document.querySelector("input[name=q-mode]:checked").value;
}

function updateQueryForm() {
  const current = mode();
  const custom = $("q-range").value === "custom";
  for (const field of document.querySelectorAll("#query-form [data-mode]")) {
    const modes = field.dataset.mode.split(" ");
    field.hidden = modes.includes("custom") ? !(custom && current !== "msg_id") : !modes.includes(current);
  }
}

function localInputMs(input) {
  return input.value ? new Date(input.value).getTime() : NaN;
}

function queryParams() {
  const params = { instance_id: state.instanceId, topic: $("q-topic").value };
  const current = mode();
  if (current === "msg_id") {
    params.msg_id = $("q-msg-id").value.trim();
    return params;
  }
  if (current === "key") params.key = $("q-key").value.trim();
  const range = $("q-range").value;
  const now = Date.now();
  if (range === "custom") {
    params.start_time = localInputMs($("q-start"));
    params.end_time = localInputMs($("q-end"));
    if (Number.isNaN(params.start_time) || Number.isNaN(params.end_time)) {
      throw new Error("Give both ends of the time range.");
    }
  } else {
    params.start_time = range === "all" ? 0 : now - Number(range);
    params.end_time = now;
  }
  if ($("q-queue").value !== "") params.queue = $("q-queue").value;
  return params;
}

async function runQuery(page) {
  clearError();
  const query = state.query;
  const limit = query.limit;
  const answer = await api("/messages", { ...query.params, limit, offset: (page - 1) * limit });
  query.page = page;
  query.total = answer.total;
  renderResults(answer.messages);
}

function pages() {
  return Math.max(1, Math.ceil(state.query.total / state.query.limit));
}

function renderResults(messages) {
  const query = state.query;
  const first = query.total === 0 ? 0 : (query.page - 1) * query.limit + 1;
  const last = (query.page - 1) * query.limit + messages.length;
  $("query-results").hidden = false;
  $("query-summary").textContent = query.total === 0
    ? "No message matches."
    : `${number(query.total)} message(s) match · showing ${number(first)}–${number(last)}`;
  $("page-label").textContent = `Page ${number(query.page)} of ${number(pages())}`;
  $("page-first").disabled = $("page-prev").disabled = query.page <= 1;
  $("page-next").disabled = $("page-last").disabled = query.page >= pages();
  const rows = messages.map((m) => el("tr", { class: "clickable", dataset: { msgId: m.msg_id }, onclick: () => openMessage(m.topic, m.msg_id, "#query") },
    el("td", { class: "nowrap" }, localTime(m.store_timestamp)),
    el("td", { class: "id" }, m.msg_id),
    el("td", { class: "num" }, m.queue_id),
    el("td", { class: "num" }, number(m.queue_offset)),
    el("td", {}, property(m, "KEYS")),
    el("td", {}, property(m, "TAGS")),
    el("td", { class: "num" }, number(m.store_size)),
    el("td", { class: "body-preview" }, preview(m.body))));
  $("query-table").tBodies[0].replaceChildren(...rows);
}

async function search(event) {
  event.preventDefault();
  try {
    state.query = { params: queryParams(), limit: Number($("q-limit").value), page: 1, total: 0 };
    await runQuery(1);
  } catch (error) {
    showError(error);
  }
}

function turn(page) {
  runQuery(page).catch(showError);
}

// -- message detail ----------------------------------------------------------------------------------
function openMessage(topic, msgId, from) {
  state.backTo = from;
  const params = new URLSearchParams({ instance_id: state.instanceId, topic, msg_id: msgId });
  window.location.hash = `#message?${params}`;
}

function prettyBody(body) {
  try {
    const parsed = JSON.parse(body);
    if (parsed !== null && typeof parsed === "object") return { text: JSON.stringify(parsed, null, 2), json: true };
  } catch (error) {
    // not JSON: shown as it is
  }
  return { text: body, json: false };
}

function field(name, ...values) {
  return [el("dt", {}, name), el("dd", {}, values.filter((v) => v !== null).map((v) => el("div", {}, v)))];
}

async function showMessage(params) {
  $("detail-id").textContent = params.get("msg_id") || "";
  $("detail-body").replaceChildren(el("p", { class: "muted" }, "Loading…"));
  if (params.get("instance_id")) state.instanceId = params.get("instance_id");
  const answer = await api("/message", {
    instance_id: state.instanceId, topic: params.get("topic"), msg_id: params.get("msg_id"),
  });
  const m = answer.message;
  const body = prettyBody(m.body);
  const command = answer.send_command;
  const copyButton = el("button", { type: "button", class: "button", id: "copy-command", disabled: command === null,
    title: command === null ? "No shell line can carry this body (it holds a NUL character)" : "Copy to the clipboard" }, "Copy send command");
  copyButton.addEventListener("click", () => copy(command).then(() => toast("Send command copied"), (e) => toast(e.message, "bad")));
  const copyId = el("button", { type: "button", class: "button secondary" }, "Copy ID");
  copyId.addEventListener("click", () => copy(m.msg_id).then(() => toast("Message ID copied"), (e) => toast(e.message, "bad")));
  $("detail-body").replaceChildren(
    el("div", { class: "detail-actions" }, copyButton, copyId),
    el("div", { class: "detail-grid" },
      el("div", { class: "panel" },
        el("h2", {}, "Message"),
        el("dl", { class: "fields", id: "detail-fields" },
          field("Topic", m.topic),
          field("Instance", m.instance_id),
          field("Queue", String(m.queue_id)),
          field("Queue offset", String(m.queue_offset)),
          field("Keys", property(m, "KEYS") || "—"),
          field("Tag", property(m, "TAGS") || "—"),
          field("Born", `${localTime(m.born_timestamp)} (${utcOffset(m.born_timestamp)})`, utcTime(m.born_timestamp)),
          field("Stored", `${localTime(m.store_timestamp)} (${utcOffset(m.store_timestamp)})`, utcTime(m.store_timestamp)),
          field("Born host", m.born_host),
          field("Store host", m.store_host),
          field("Body CRC", String(m.body_crc)),
          field("Store size", `${number(m.store_size)} bytes`),
          field("Reconsume times", String(m.reconsume_times)))),
      el("div", { class: "panel" },
        el("h2", {}, "Properties"),
        el("table", { class: "grid compact", id: "detail-properties" },
          el("thead", {}, el("tr", {}, el("th", {}, "Name"), el("th", {}, "Value"))),
          el("tbody", {}, m.property_list.map((p) => el("tr", {}, el("td", {}, p.name), el("td", { class: "id" }, p.value))))),
        el("h2", {}, "Send it again"),
        el("pre", { class: "command", id: "detail-command" }, command === null ? "(no shell line can carry this body)" : command))),
    el("div", { class: "panel" },
      el("div", { class: "body-head" },
        el("h2", {}, "Body"),
        badge(body.json ? "JSON, pretty-printed" : "text", "neutral"),
        el("span", { class: "muted" }, `${number(bytes(m.body))} bytes`)),
      el("pre", { class: "body", id: "detail-message-body" }, body.text)),
  );
}

// -- live tail ---------------------------------------------------------------------------------------
function tailStatus(text, kind) {
  const status = $("tail-status");
  status.textContent = text;
  status.className = `status ${kind}`;
}

function startTail() {
  stopTail();
  const topic = $("tail-topic").value;
  state.tail.topic = topic;
  const url = new URL(API + "/tail", window.location.origin);
  url.searchParams.set("instance_id", state.instanceId);
  if (topic) url.searchParams.set("topic", topic);
  const source = new EventSource(url);
  state.tail.source = source;
  tailStatus("Connecting…", "neutral");
  source.addEventListener("ready", () => { if (!state.tail.paused) tailStatus("Live", "ok"); });
  source.addEventListener("message", (event) => {
    const message = JSON.parse(event.data);
    state.tail.received += 1;
    if (state.tail.paused) {
      state.tail.held.push(message);
      tailStatus(`Paused · ${number(state.tail.held.length)} waiting`, "warn");
      return;
    }
    addTailRows([message]);
  });
  source.addEventListener("dropped", (event) => {
    toast(`${number(JSON.parse(event.data).count)} message(s) came faster than the page could take them and were skipped`, "warn");
  });
  source.addEventListener("closed", () => {
    source.close();
    tailStatus("Stopped: the emulator is shutting down", "bad");
  });
  source.addEventListener("error", () => {
    if (source.readyState !== EventSource.CLOSED) tailStatus("Reconnecting…", "warn");
  });
}

function stopTail() {
  if (state.tail.source) state.tail.source.close();
  state.tail.source = null;
}

function addTailRows(messages) {
  const body = $("tail-table").tBodies[0];
  for (const m of messages) {
    body.prepend(el("tr", { class: "clickable fresh", dataset: { msgId: m.msg_id }, onclick: () => openMessage(m.topic, m.msg_id, "#tail") },
      el("td", { class: "nowrap" }, localTime(m.store_timestamp)),
      el("td", {}, m.topic),
      el("td", { class: "id" }, m.msg_id),
      el("td", { class: "num" }, m.queue_id),
      el("td", { class: "num" }, number(m.queue_offset)),
      el("td", {}, property(m, "KEYS")),
      el("td", {}, property(m, "TAGS")),
      el("td", { class: "body-preview" }, preview(m.body))));
  }
  while (body.rows.length > TAIL_ROWS) body.lastElementChild.remove();
  $("tail-empty").hidden = body.rows.length > 0;
}

function togglePause() {
  state.tail.paused = !state.tail.paused;
  $("tail-pause").textContent = state.tail.paused ? "Resume" : "Pause";
  if (state.tail.paused) {
    tailStatus("Paused", "warn");
    return;
  }
  addTailRows(state.tail.held);
  state.tail.held = [];
  tailStatus(state.tail.source ? "Live" : "Stopped", state.tail.source ? "ok" : "bad");
}

// -- actions -----------------------------------------------------------------------------------------
async function armFaults(event) {
  event.preventDefault();
  const retry = $("fault-retry").value;
  try {
    await action("/faults", {
      count: Number($("fault-count").value),
      status: Number($("fault-status").value),
      retry_after: retry === "" ? null : Number(retry),
      delay_ms: Number($("fault-delay").value || 0),
      drop_connection: $("fault-drop").checked,
    });
    toast("Faults armed");
    await loadOverview();
  } catch (error) {
    showError(error);
  }
}

async function disarm() {
  try {
    await action("/faults", { count: 0 });
    toast("Faults disarmed");
    await loadOverview();
  } catch (error) {
    showError(error);
  }
}

async function reset() {
  if (!window.confirm("Forget every stored message, offset and armed fault? Topics stay.")) return;
  try {
    await action("/reset");
    toast("The emulator was reset");
    await loadOverview();
  } catch (error) {
    showError(error);
  }
}

// -- views -------------------------------------------------------------------------------------------
function show(view) {
  for (const section of document.querySelectorAll(".view")) section.hidden = section.id !== `view-${view}`;
  for (const tab of document.querySelectorAll(".tabs a")) {
    tab.classList.toggle("active", tab.dataset.view === view || (view === "detail" && tab.getAttribute("href") === state.backTo));
  }
  clearInterval(state.refreshTimer);
  if (view === "overview") {
    state.refreshTimer = setInterval(() => { loadOverview().catch(showError); }, OVERVIEW_REFRESH_MS);
  }
}

async function route() {
  clearError();
  const hash = window.location.hash || "#overview";
  try {
    if (hash.startsWith("#message?")) {
      show("detail");
      await showMessage(new URLSearchParams(hash.slice("#message?".length)));
    } else if (hash === "#query") {
      show("query");
    } else if (hash === "#tail") {
      show("tail");
      if (!state.tail.source || state.tail.topic !== $("tail-topic").value) startTail();
    } else {
      show("overview");
      await loadOverview();
    }
  } catch (error) {
    showError(error);
  }
}

async function start() {
  $("instance").addEventListener("change", () => {
    state.instanceId = $("instance").value;
    state.query = null;
    $("query-results").hidden = true;
    loadOverview().catch(showError);
    if (state.tail.source) startTail();
  });
  $("refresh").addEventListener("click", () => { loadOverview().catch(showError); });
  $("query-form").addEventListener("submit", search);
  $("query-form").addEventListener("change", updateQueryForm);
  $("page-first").addEventListener("click", () => turn(1));
  $("page-prev").addEventListener("click", () => turn(state.query.page - 1));
  $("page-next").addEventListener("click", () => turn(state.query.page + 1));
  $("page-last").addEventListener("click", () => turn(pages()));
  $("detail-back").addEventListener("click", () => { window.location.hash = state.backTo; });
  $("tail-topic").addEventListener("change", startTail);
  $("tail-pause").addEventListener("click", togglePause);
  $("tail-clear").addEventListener("click", () => {
    $("tail-table").tBodies[0].replaceChildren();
    state.tail.held = [];
    $("tail-empty").hidden = false;
  });
  $("fault-form").addEventListener("submit", armFaults);
  $("fault-disarm").addEventListener("click", disarm);
  $("reset").addEventListener("click", reset);
  window.addEventListener("hashchange", route);
  updateQueryForm();
  try {
    await loadOverview();
  } catch (error) {
    showError(error);
  }
  await route();
  document.body.dataset.ready = "true";
}

document.addEventListener("DOMContentLoaded", start);
