// /audit: the audit log, filtered by who (user), what (action, "camera.*" for a prefix),
// when (from/to, typed and shown in Vietnam time, +07:00), which unit (province) and free
// text (case and diacritics ignored by the server). Pages walk by keyset (before_id), so
// millions of rows page as fast as a few and new entries never shift a page. The CSV link
// exports the filtered set (GET /api/audit.csv with the same filters).

import "/static/shell.js";
import { api, ApiError, goLogin, me } from "/static/api.js";
import { addTexts, apply, onLangChange, t } from "/static/i18n.js";

addTexts({
  vi: {
    "audit.title": "Nhật ký thao tác", "audit.user": "Người thực hiện", "audit.action": "Thao tác",
    "audit.action.hint": "ví dụ camera.*", "audit.province": "Tỉnh, thành", "audit.all": "Tất cả",
    "audit.from": "Từ (giờ VN)", "audit.to": "Đến (giờ VN)", "audit.q": "Tìm",
    "audit.q.hint": "không cần dấu, ví dụ quay 3", "audit.apply": "Lọc", "audit.clear": "Xoá lọc",
    "audit.csv": "Tải CSV", "audit.col.id": "#", "audit.col.time": "Thời gian (+07:00)",
    "audit.col.actor": "Người", "audit.col.action": "Thao tác", "audit.col.target": "Đối tượng",
    "audit.col.province": "Tỉnh", "audit.col.client": "Địa chỉ", "audit.newest": "Mới nhất",
    "audit.newer": "← Mới hơn", "audit.older": "Cũ hơn →",
    "audit.summary": "Trang {page}: {n} mục (còn {total} mục phù hợp từ trang này).",
    "audit.none": "Không có mục nào phù hợp.", "audit.error": "Không tải được: {msg}",
  },
  en: {
    "audit.title": "Audit log", "audit.user": "User", "audit.action": "Action",
    "audit.action.hint": "e.g. camera.*", "audit.province": "Province", "audit.all": "All",
    "audit.from": "From (Vietnam time)", "audit.to": "To (Vietnam time)", "audit.q": "Search",
    "audit.q.hint": "diacritics optional, e.g. quay 3", "audit.apply": "Filter",
    "audit.clear": "Clear", "audit.csv": "Download CSV", "audit.col.id": "#",
    "audit.col.time": "Time (+07:00)", "audit.col.actor": "User", "audit.col.action": "Action",
    "audit.col.target": "Target", "audit.col.province": "Province", "audit.col.client": "Address",
    "audit.newest": "Newest", "audit.newer": "← Newer", "audit.older": "Older →",
    "audit.summary": "Page {page}: {n} entries ({total} matching from this page on).",
    "audit.none": "No matching entries.", "audit.error": "Could not load: {msg}",
  },
});

const FIELDS = ["user", "action", "province", "from", "to", "q"];
const TIME_FIELDS = new Set(["from", "to"]);
const params = new URLSearchParams(window.location.search);
const limit = Math.min(Math.max(Number(params.get("limit")) || 50, 1), 1000);
const $ = (id) => document.getElementById(id);

let cursors = [Number(params.get("before_id")) || 0];   // the cursor of each page shown so far
let next = null;                                         // the next (older) page's cursor
let last = null;                                         // the last answer, for re-rendering

// datetime-local (Vietnam time, no zone) <-> ISO 8601 with +07:00
function isoOf(local) {
  if (!local) return "";
  return (local.length === 16 ? local + ":00" : local.slice(0, 19)) + "+07:00";
}
function localOf(iso) {
  return /^\d{4}-\d\d-\d\dT\d\d:\d\d/.test(iso || "") ? iso.slice(0, 19) : "";
}

function filters() {
  const out = new URLSearchParams();
  for (const name of FIELDS) {
    const raw = $(`f-${name}`).value.trim();
    const value = TIME_FIELDS.has(name) ? isoOf(raw) : raw;
    if (value) out.set(name, value);
  }
  return out;
}

function banner(text) {
  const el = $("banner");
  el.textContent = text || "";
  el.hidden = !text;
}

function cell(row, text, cls) {
  const td = document.createElement("td");
  td.textContent = text ?? "";
  if (cls) td.className = cls;
  row.append(td);
}

function render() {
  const body = $("entries").tBodies[0];
  body.replaceChildren();
  if (!last) return;
  for (const e of last.entries) {
    const tr = document.createElement("tr");
    tr.dataset.id = String(e.id);
    cell(tr, String(e.id));
    cell(tr, e.time.replace("T", " "), "time");
    cell(tr, e.role ? `${e.actor} (${e.role})` : e.actor);
    cell(tr, e.action);
    cell(tr, e.target);
    cell(tr, e.province || "");
    cell(tr, e.client);
    body.append(tr);
  }
  $("summary").textContent = last.entries.length
    ? t("audit.summary", { page: cursors.length, n: last.entries.length,
                          total: last.total_exact === false ? `${last.total}+` : last.total })
    : t("audit.none");
  $("newer").disabled = cursors.length <= 1;
  $("older").disabled = next === null;
}

async function load() {
  const query = filters();
  $("csv").href = "/api/audit.csv" + (query.toString() ? `?${query}` : "");
  const cursor = cursors[cursors.length - 1];
  const shown = new URLSearchParams(query);
  if (cursor) shown.set("before_id", String(cursor));
  if (params.has("limit")) shown.set("limit", String(limit));
  window.history.replaceState(null, "", "/audit" + (shown.toString() ? `?${shown}` : ""));
  query.set("limit", String(limit));
  if (cursor) query.set("before_id", String(cursor));
  try {
    last = await api(`/api/audit?${query}`);
    next = last.next_before_id;
    banner("");
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) return goLogin();
    last = null;
    next = null;
    banner(t("audit.error", { msg: err.message }));
  }
  render();
  document.body.dataset.loads = String(Number(document.body.dataset.loads) + 1);
}

async function start() {
  apply();
  onLangChange(render);
  try {
    await me();
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) return goLogin();
  }
  for (const name of FIELDS) {
    const value = params.get(name) || "";
    $(`f-${name}`).value = TIME_FIELDS.has(name) ? localOf(value) : value;
  }
  try {
    const units = await api("/api/registry/provinces");
    const select = $("f-province");
    for (const unit of units) select.append(new Option(`${unit.name} (${unit.code})`, unit.code));
    select.value = params.get("province") || "";
  } catch (err) {
    banner(t("audit.error", { msg: err.message }));
  }
  $("filters").addEventListener("submit", (event) => {
    event.preventDefault();
    cursors = [0];
    load();
  });
  $("clear").addEventListener("click", () => {
    for (const name of FIELDS) $(`f-${name}`).value = "";
    cursors = [0];
    load();
  });
  $("newest").addEventListener("click", () => { cursors = [0]; load(); });
  $("older").addEventListener("click", () => {
    if (next !== null) { cursors.push(next); load(); }
  });
  $("newer").addEventListener("click", () => {
    if (cursors.length > 1) { cursors.pop(); load(); }
  });
  await load();
  document.body.dataset.ready = "1";
}

start();
