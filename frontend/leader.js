// /leader: chosen live service-centre feeds beside the indicators of the nation or
// one province. body[data-ready="1"] once every KPI tile, the map and the ranking
// are drawn (body[data-ready-ms] = ms since navigation); the video feeds are
// reported apart in body[data-feeds-playing], since a camera may be down.

import { api, goLogin, me } from "/static/api.js";
import { shell } from "/static/shell.js";
import { apply, formatTime, getLang, onLangChange, t } from "/static/i18n.js";
import {
  destroyTile, renderGridMap, renderRanking, renderTile, unitOf,
} from "/static/indicator-tiles.js";
import { CameraView } from "/static/tile.js";

const TEXT = {
  vi: {
    title: "Lãnh đạo", scope: "Phạm vi", nation: "Cả nước", current: "34 tỉnh, thành phố hiện hành",
    earlier: "Đơn vị cũ (trước 1/7/2025)", former: "{name} (cũ, đã sáp nhập vào {into})",
    rollup: "Gộp các đơn vị đã sáp nhập", feeds: "Trực tiếp tại Trung tâm PVHCC",
    addFeed: "+ Thêm camera", noCameras: "Chưa có camera nào.", kpis: "Chỉ tiêu",
    map: "Bản đồ tỉnh", updated: "Cập nhật {t}", error: "Không tải được số liệu ({status}).",
    offline: "Mất kết nối tới máy chủ; đang thử lại…", mapPeriod: "Kỳ {p} · chỉ tiêu {target}",
  },
  en: {
    title: "Leader view", scope: "Scope", nation: "Nation", current: "The 34 current units",
    earlier: "Former units (before 1 Jul 2025)", former: "{name} (former, merged into {into})",
    rollup: "Roll up merged units", feeds: "Live at the service centres",
    addFeed: "+ Add a camera", noCameras: "No camera yet.", kpis: "Indicators",
    map: "Province map", updated: "Updated {t}", error: "Cannot load the figures ({status}).",
    offline: "Lost contact with the server; retrying…", mapPeriod: "Period {p} · target {target}",
  },
};
const FEEDS_KEY = "iocwall.leader.feeds";
const MAX_FEEDS = 4;
const REFRESH_MS = 10_000;           // live tiles (queues, cameras online) move
const CAMERA_POLL_MS = 3000;

const $ = (id) => document.getElementById(id);
const state = { registry: null, scope: "", rollup: false, mapIndicator: "online_dossier_rate",
  mapUnits: "34", tiles: [], cameras: [], feeds: new Map(), loading: 0 };

function tx(key, vars = {}) {
  let text = (TEXT[getLang()] || TEXT.vi)[key] ?? key;
  for (const [k, v] of Object.entries(vars)) text = text.replaceAll(`{${k}}`, String(v));
  return text;
}

function nameOf(obj) {
  return (obj && (obj[getLang()] || obj.vi)) || "";
}

function showBanner(text) {
  const banner = $("banner");
  banner.textContent = text || "";
  banner.hidden = !text;
}

// ---------------------------------------------------------------- URL state
function readUrl() {
  const q = new URLSearchParams(window.location.search);
  state.scope = q.get("province") || "";
  state.rollup = q.get("rollup") === "1";
  if (q.get("map")) state.mapIndicator = q.get("map");
  if (q.get("units") === "63") state.mapUnits = "63";
}

// No ?province= in the address: the user's default province (My settings), if they set one.
function useDefaultScope(answer) {
  const code = answer && answer.prefs && answer.prefs.province;
  if (new URLSearchParams(window.location.search).has("province") || !code) return;
  const unit = state.registry.provinces.find((p) => p.code === code);
  if (unit) state.scope = unit.name;
}

function writeUrl() {
  const q = new URLSearchParams();
  if (state.scope) q.set("province", state.scope);
  if (state.rollup) q.set("rollup", "1");
  if (state.mapIndicator !== "online_dossier_rate") q.set("map", state.mapIndicator);
  if (state.mapUnits !== "34") q.set("units", state.mapUnits);
  const query = q.toString();
  history.replaceState(null, "", window.location.pathname + (query ? `?${query}` : ""));
}

// ---------------------------------------------------------------- controls
function fillControls() {
  const reg = state.registry;
  const scope = $("scope");
  scope.replaceChildren();
  scope.append(new Option(tx("nation"), ""));
  // The one province list (wall/provinces): today's 34 units first, then the units merged
  // into them, each saying which unit it is part of now.
  const today = document.createElement("optgroup");
  today.label = tx("current");
  for (const p of reg.provinces) today.append(new Option(p.name, p.name));
  const earlier = document.createElement("optgroup");
  earlier.label = tx("earlier");
  const current = new Set(reg.provinces.map((p) => p.name));
  const former = reg.provinces.flatMap((p) => p.members.filter((m) => !current.has(m))
    .map((m) => [m, p.name])).sort((a, b) => a[0].localeCompare(b[0], "vi"));
  for (const [name, into] of former) earlier.append(new Option(tx("former", { name, into }), name));
  scope.append(today, earlier);
  scope.value = state.scope;

  const pick = $("map-indicator");
  pick.replaceChildren();
  for (const ind of reg.indicators) {
    if (ind.owner !== "province" || ind.source === "live") continue;
    pick.append(new Option(nameOf(ind.name), ind.id));
  }
  pick.value = state.mapIndicator;
  $("map-units").value = state.mapUnits;
  $("rollup").checked = state.rollup;
  $("rollup-box").hidden = !state.scope || !current.has(state.scope);
}

function renderStaticText() {
  $("title").textContent = tx("title");
  $("scope-label").textContent = tx("scope");
  $("rollup-label").textContent = tx("rollup");
  $("feeds-title").textContent = tx("feeds");
  $("kpi-title").textContent = tx("kpis");
  $("map-title").textContent = tx("map");
  $("feeds-empty").textContent = tx("noCameras");
  document.title = `iocwall — ${tx("title")}`;
}

// ---------------------------------------------------------------- indicators
async function loadIndicators() {
  const token = ++state.loading;
  document.body.dataset.ready = "0";
  const scope = encodeURIComponent(state.scope);
  const [summary, map] = await Promise.all([
    api(`/api/indicators/summary?province=${scope}${state.rollup ? "&rollup=1" : ""}`),
    api(`/api/indicators/${encodeURIComponent(state.mapIndicator)}/map?units=${state.mapUnits}`),
  ]);
  if (token !== state.loading) return;          // a newer request superseded this one
  state.tiles = summary.tiles;
  state.map = map;
  drawIndicators();
  state.updatedAt = summary.time;
  $("updated").textContent = tx("updated", { t: formatTime(summary.time) });
  const grid = $("tiles");
  const drawn = grid.querySelectorAll(".kpi-tile[data-state]").length;
  if (drawn === summary.tiles.length && $("map").querySelector(".kpi-map") && $("ranking").firstChild) {
    document.body.dataset.ready = "1";
    if (!document.body.dataset.readyMs) document.body.dataset.readyMs = String(Math.round(performance.now()));
  }
}

function drawIndicators() {
  const grid = $("tiles");
  for (const old of grid.children) destroyTile(old);
  grid.replaceChildren(...state.tiles.map(renderTile));
  const map = state.map;
  const ind = state.registry.indicators.find((i) => i.id === map.indicator) || {};
  const target = map.target === null || map.target === undefined ? "—" : `${map.target} ${unitOf(ind)}`;
  $("map-period").textContent = map.period ? tx("mapPeriod", { p: map.period, target }) : "";
  $("map").replaceChildren(renderGridMap(map, {
    historical: state.mapUnits === "63", decimals: ind.decimals ?? 2,
    onSelect: (name) => selectScope(name),
  }));
  $("ranking").replaceChildren(renderRanking(map.units, {
    n: 5, direction: ind.direction, decimals: ind.decimals ?? 2, unit: unitOf(ind),
  }));
}

async function refresh() {
  try {
    await loadIndicators();
    showBanner("");
  } catch (err) {
    if (err.status === 401) return goLogin();
    showBanner(err.status ? tx("error", { status: err.status }) : tx("offline"));
  }
}

function selectScope(name) {
  state.scope = name;
  state.rollup = state.rollup && state.registry.provinces.some((p) => p.name === name);
  writeUrl();
  fillControls();
  refresh();
}

// ---------------------------------------------------------------- live feeds
function chosenFeeds() {
  try {
    const saved = JSON.parse(localStorage.getItem(FEEDS_KEY) || "null");
    if (Array.isArray(saved)) return saved.filter((id) => typeof id === "string").slice(0, MAX_FEEDS);
  } catch (_) { /* unreadable: use the default */ }
  return null;
}

function saveFeeds(ids) {
  try {
    localStorage.setItem(FEEDS_KEY, JSON.stringify(ids));
  } catch (_) { /* not remembered; still shown */ }
}

async function pollCameras() {
  try {
    const cameras = await api("/api/cameras");
    state.cameras = Array.isArray(cameras) ? cameras : cameras.cameras || [];
  } catch (err) {
    if (err.status === 401) return goLogin();
    state.cameras = [];
  }
  syncFeeds();
  setTimeout(pollCameras, CAMERA_POLL_MS);
}

function syncFeeds() {
  const known = new Map(state.cameras.map((c) => [c.id, c]));
  let ids = chosenFeeds();
  if (ids === null) ids = state.cameras.slice(0, 2).map((c) => c.id);
  ids = ids.filter((id) => known.has(id));
  for (const [id, view] of state.feeds) {
    if (!ids.includes(id)) {
      view.destroy();
      view.root.remove();
      state.feeds.delete(id);
    }
  }
  const box = $("feeds");
  for (const id of ids) {
    let view = state.feeds.get(id);
    if (!view) {
      const root = $("feed-template").content.firstElementChild.cloneNode(true);
      apply(root);
      view = new CameraView(root, "sub");
      root.querySelector(".feed-remove").addEventListener("click", () => {
        saveFeeds([...state.feeds.keys()].filter((x) => x !== id));
        syncFeeds();
      });
      state.feeds.set(id, view);
    }
    box.append(view.root);
    view.update(known.get(id));
  }
  $("feeds-empty").hidden = state.cameras.length > 0;
  const pick = $("feed-pick");
  pick.replaceChildren(new Option(tx("addFeed"), ""));
  for (const c of state.cameras) if (!state.feeds.has(c.id)) pick.append(new Option(c.name || c.id, c.id));
  pick.hidden = state.feeds.size >= MAX_FEEDS || pick.options.length < 2;
}

function tickFeeds() {
  const now = performance.now();
  let playing = 0;
  for (const view of state.feeds.values()) if (view.tick(now)) playing += 1;
  document.body.dataset.feedsPlaying = `${playing}/${state.feeds.size}`;
}

async function main() {
  apply();
  renderStaticText();
  readUrl();
  let answer;
  try {
    [, state.registry, answer] = await Promise.all([me(), api("/api/indicators"), shell]);
  } catch (err) {
    if (err.status === 401) return goLogin();
    showBanner(err.status ? tx("error", { status: err.status }) : tx("offline"));
    return;
  }
  useDefaultScope(answer);
  fillControls();
  onLangChange(() => {
    renderStaticText();
    fillControls();
    drawIndicators();
    if (state.updatedAt) $("updated").textContent = tx("updated", { t: formatTime(state.updatedAt) });
    for (const view of state.feeds.values()) view.rerender();
  });
  $("scope").addEventListener("change", (ev) => selectScope(ev.target.value));
  $("rollup").addEventListener("change", (ev) => {
    state.rollup = ev.target.checked;
    writeUrl();
    refresh();
  });
  $("map-indicator").addEventListener("change", (ev) => {
    state.mapIndicator = ev.target.value;
    writeUrl();
    refresh();
  });
  $("map-units").addEventListener("change", (ev) => {
    state.mapUnits = ev.target.value;
    writeUrl();
    refresh();
  });
  $("feed-pick").addEventListener("change", (ev) => {
    if (!ev.target.value) return;
    saveFeeds([...state.feeds.keys(), ev.target.value].slice(0, MAX_FEEDS));
    syncFeeds();
  });
  window.addEventListener("pagehide", () => {
    for (const view of state.feeds.values()) view.destroy();
  });
  await refresh();
  setInterval(refresh, REFRESH_MS);
  setInterval(tickFeeds, 250);
  pollCameras();
}

main();
