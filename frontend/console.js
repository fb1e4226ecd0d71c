// The operator console: the wall drawn as its monitors, one gridstack grid each.
// Drag a camera from the list onto a monitor, move or resize tiles: each change is
// pushed to that monitor's displays at once (PUT layout), which acknowledge it.

import { allowed, api, ApiError, goLogin, me } from "/static/api.js";
import { shell } from "/static/shell.js";
import { apply, onLangChange, pick, t } from "/static/i18n.js";
import { Tours } from "/static/console-tours.js";
import { Pairings } from "/static/console-pairing.js";
import { QueueOverlay } from "/static/queue-overlay.js";
import { ConsoleKeys } from "/static/console-keys.js";
import { ConsoleReplay } from "/static/console-replay.js";

const GridStack = window.GridStack;
const params = new URLSearchParams(location.search);
const wallBox = document.getElementById("wall");
const statusLine = document.getElementById("push-status");
const banner = document.getElementById("banner");
const grids = new Map();        // monitor id -> { grid, layout, box }
let wallId = null;
let wall = null;
let cameras = new Map();
const indicatorNames = new Map();   // indicator id -> {vi, en}
const thumbUrls = new Map();        // camera -> its newest snapshot URL (a redrawn tile shows it at once)
let canPush = false;
let applying = false;          // true while we load a layout into a grid (no push then)
let replayView = null;         // the replay view (console-replay.js), once the wall is known
const tours = new Tours({
  grids, layoutOf: (m) => layoutOf(m), loadMonitor: (m) => loadMonitor(m), showError: (e) => showError(e),
  pushedText: (r) => pushedText(r),
  newTileId: () => newTileId(), get wallId() { return wallId; }, get wall() { return wall; },
  get cameras() { return cameras; }, get canPush() { return canPush; },
});

const keys = new ConsoleKeys({
  grids, tileLabel: (s) => tileLabel(s), place: (m, item) => place(m, item),
  explainNoRoom: (k, m) => explainNoRoom(k, m), get wall() { return wall; },
  get canPush() { return canPush; },
});

function showError(err) {
  banner.hidden = false;
  banner.textContent = t("console.error", { msg: err.message || String(err) });
}

const cameraName = (id) => (cameras.get(id) || {}).name || id;

// What a tile shows, in the page's language: cameras by name, a tour as its cameras' names,
// an indicator by its name, other kinds by a word (never an id or the kind's code).
function tileLabel(spec) {
  if (spec.kind === "camera") return cameraName(spec.camera);
  if (spec.kind === "tour") return `⟳ ${(spec.cameras || []).map(cameraName).join(" → ")}`;
  if (spec.kind === "indicator") return pick(indicatorNames.get(spec.indicator)) || t("console.kind.indicator");
  if (spec.kind === "text" && spec.text) return spec.text;
  if (spec.kind === "queue" && spec.centre) return `${t("console.kind.queue")} · ${cameraName(spec.centre)}`;
  return t(`console.kind.${spec.kind}`);
}

function relabel() {
  for (const el of wallBox.querySelectorAll(".grid-stack-item[data-spec]")) {
    const label = el.querySelector(".tile-label");
    if (label) label.textContent = tileLabel(JSON.parse(el.dataset.spec));
  }
}

function thumbUrl(camera, at = Date.now()) {
  return `/api/cameras/${encodeURIComponent(camera)}/snapshot.jpg?stream=sub&t=${at}`;
}

function fillContent(el, spec) {
  el.dataset.spec = JSON.stringify(spec);
  // a tile is one keyboard stop (console-keys.js moves, resizes, removes it); a dropped
  // clone of a camera-list option sheds the option's role
  el.removeAttribute("aria-selected");
  el.setAttribute("role", "group");
  el.setAttribute("aria-label", tileLabel(spec));
  if (canPush) el.tabIndex = 0;
  el.classList.toggle("is-highlight", !!spec.highlight);
  const box = el.querySelector(".grid-stack-item-content");
  const label = document.createElement("span");
  label.className = "tile-label";
  label.textContent = tileLabel(spec);
  box.replaceChildren(label);
  if (spec.kind === "camera") {
    // a live thumbnail: what the monitor shows now, refreshed by refreshThumbs()
    const img = document.createElement("img");
    img.className = "thumb";
    img.alt = "";
    img.dataset.camera = spec.camera;
    // a tile redrawn after a push keeps its picture: the last snapshot (in the browser's cache)
    if (thumbUrls.has(spec.camera)) img.src = thumbUrls.get(spec.camera);
    box.append(img);
    // people waiting per queue zone, and the zones' outlines on the thumbnail
    new QueueOverlay(box, () => img).setCamera(spec.camera);
    // rewind: the same replay view as every camera tile (and, for operators, on the wall)
    const rewind = document.createElement("button");
    rewind.type = "button";
    rewind.className = "tile-replay";
    rewind.textContent = "⟲";
    rewind.title = t("console.replay.open");
    rewind.addEventListener("click", () => {
      if (replayView) replayView.openTile(el.dataset.monitor, spec).catch(showError);
    });
    box.append(rewind);
  }
  if (canPush) {
    const remove = document.createElement("button");
    remove.type = "button";
    remove.className = "tile-remove";
    remove.textContent = "×";
    remove.title = t("console.remove");
    remove.setAttribute("aria-label", t("console.remove"));
    remove.tabIndex = -1;          // the keyboard removes a focused tile with Delete
    remove.addEventListener("click", () => { grids.get(el.dataset.monitor).grid.removeWidget(el); });
    box.prepend(remove);
  }
}

function layoutOf(monitor) {
  const entry = grids.get(monitor);
  const base = entry.layout || { name: `${wallId}-${monitor}`, grid: { columns: 4, rows: 4 } };
  const tiles = entry.grid.engine.nodes.filter((n) => n.el && n.el.dataset.spec).map((n) => {
    const spec = JSON.parse(n.el.dataset.spec);
    return { ...spec, id: spec.id, x: n.x, y: n.y, w: n.w, h: n.h };
  });
  return { name: base.name, grid: base.grid, tiles };
}

// "Pushed to 0/0" told an operator nothing: with no display connected, say so.
function pushedText(result) {
  return result.expected ? t("console.pushed", { n: result.acked, total: result.expected })
    : t("console.pushed.none");
}

async function push(monitor) {
  if (applying || !canPush) return;
  try {
    const result = await api(`/api/walls/${wallId}/monitors/${monitor}/layout?wait=3`,
                             { method: "PUT", body: layoutOf(monitor) });
    grids.get(monitor).layout = { ...layoutOf(monitor), version: result.versions[monitor] };
    statusLine.textContent = pushedText(result);
    document.body.dataset.pushes = String(Number(document.body.dataset.pushes || 0) + 1);
  } catch (err) {
    showError(err);
    await loadMonitor(monitor);            // refused: show what the monitor really shows
  }
}

function newTileId() {
  return `t${Date.now().toString(36)}${Math.floor(Math.random() * 1296).toString(36)}`;
}

function buildMonitor(m) {
  const box = document.createElement("section");
  box.className = "monitor";
  box.dataset.monitor = m.id;
  box.style.gridColumn = String(m.col + 1);
  box.style.gridRow = String(m.row + 1);
  const bar = document.createElement("div");
  bar.className = "monitor-bar";
  const name = document.createElement("strong");
  name.textContent = t("console.monitor", { id: m.id });
  const node = document.createElement("span");
  node.className = "node-state";
  bar.append(name, node);
  const gridEl = document.createElement("div");
  gridEl.className = "grid-stack";
  box.append(bar, gridEl);
  wallBox.append(box);
  return { box, gridEl };
}

// GridStack refuses a drop or a resize that does not fit without a word: say why.
const pointer = { down: [0, 0], now: [0, 0] };
document.addEventListener("pointerdown", (ev) => { pointer.down = pointer.now = [ev.clientX, ev.clientY]; });
document.addEventListener("pointermove", (ev) => { pointer.now = [ev.clientX, ev.clientY]; });

function explainNoRoom(key, monitor) {
  showError(new Error(t(key, { monitor })));
  document.body.dataset.refused = key;
  keys.say(t(key, { monitor }));
}

// One rule for a new tile, dropped or added from the keyboard: a 1x1 cell must be free.
const hasRoom = (grid) => grid.willItFit({ w: 1, h: 1 });

// The tile a camera-list entry becomes (a camera, or an indicator for the roles that list them).
function specFor(item) {
  const cam = item.dataset.camera;
  const indicator = item.dataset.indicator;
  if (cam) return { id: newTileId(), kind: "camera", camera: cam, stream: "auto" };
  if (indicator) return { id: newTileId(), kind: "indicator", indicator, style: "number" };
  return null;
}

// The keyboard's drop: the entry goes to the first free cell of the monitor and is pushed
// like a dropped one; a full monitor is refused with the drop's words.
function place(monitor, item) {
  const entry = grids.get(monitor);
  const spec = entry && canPush ? specFor(item) : null;
  if (!spec) return null;
  if (!hasRoom(entry.grid)) { explainNoRoom("console.drop.full", monitor); return null; }
  let el;
  applying = true;                  // addWidget's own change event must not push a bare tile
  try {
    el = entry.grid.addWidget({ w: 1, h: 1, autoPosition: true, id: spec.id });
    el.dataset.monitor = monitor;
    fillContent(el, spec);
  } finally {
    applying = false;
  }
  banner.hidden = true;
  push(monitor);
  return el;
}

function makeGrid(monitor, gridEl, layout) {
  const columns = layout ? layout.grid.columns : 4;
  const rows = layout ? layout.grid.rows : 4;
  const width = gridEl.clientWidth || 480;
  let grid = null;
  const accepts = (el) => {
    const ok = el.classList.contains("camera-item") || el.classList.contains("grid-stack-item");
    const incoming = !el.gridstackNode || el.gridstackNode.grid !== grid;
    if (ok && canPush && incoming && grid && !hasRoom(grid)) {
      explainNoRoom("console.drop.full", monitor);
    }
    return ok;
  };
  grid = GridStack.init({
    column: columns, maxRow: rows, row: rows, float: true, margin: 2,
    cellHeight: Math.max(20, Math.floor((width * 9) / 16 / rows)),
    acceptWidgets: accepts,
    disableResize: !canPush, disableDrag: !canPush, staticGrid: !canPush,
    columnOpts: { breakpoints: [] },
  }, gridEl);
  grid.on("dropped", (_ev, _prev, node) => {
    const spec = specFor(node.el);
    if (spec) {
      node.el.dataset.monitor = monitor;
      node.el.classList.remove("camera-item");
      node.el.replaceChildren(Object.assign(document.createElement("div"),
                                            { className: "grid-stack-item-content" }));
      fillContent(node.el, spec);
    } else if (node.el) {
      node.el.dataset.monitor = monitor;
    }
    push(monitor);
  });
  grid.on("change", () => push(monitor));
  grid.on("removed", () => push(monitor));
  let before = null;
  grid.on("resizestart", (_ev, el) => { before = el.gridstackNode && { w: el.gridstackNode.w, h: el.gridstackNode.h }; });
  grid.on("resizestop", (_ev, el) => {
    const node = el.gridstackNode;
    const moved = Math.hypot(pointer.now[0] - pointer.down[0], pointer.now[1] - pointer.down[1]);
    if (before && node && node.w === before.w && node.h === before.h && moved > 16) {
      explainNoRoom("console.resize.full", monitor);
    }
  });
  return grid;
}

function loadInto(monitor, layout) {
  const entry = grids.get(monitor);
  // a keyboard user's focused tile keeps the focus through a redraw
  const focused = entry.box.contains(document.activeElement) && document.activeElement.getAttribute("gs-id");
  applying = true;
  try {
    entry.grid.removeAll(true, false);
    for (const spec of (layout ? layout.tiles : [])) {
      const el = entry.grid.addWidget({ x: spec.x, y: spec.y, w: spec.w, h: spec.h, id: spec.id });
      el.dataset.monitor = monitor;
      fillContent(el, spec);
      if (focused && spec.id === focused) el.focus();
    }
  } finally {
    applying = false;
  }
  entry.layout = layout;
  tours.draw();
}

async function loadMonitor(monitor) {
  loadInto(monitor, await api(`/api/walls/${wallId}/monitors/${monitor}/layout`));
}

async function drawWall() {
  wall = await api(`/api/walls/${wallId}`);
  wallBox.replaceChildren();
  for (const entry of grids.values()) entry.grid.destroy(false);
  grids.clear();
  wallBox.style.gridTemplateColumns = `repeat(${wall.columns}, minmax(0, 1fr))`;
  for (const m of wall.monitors) {
    const layout = await api(`/api/walls/${wallId}/monitors/${m.id}/layout`);
    const { box, gridEl } = buildMonitor(m);
    grids.set(m.id, { grid: makeGrid(m.id, gridEl, layout), layout, box });
    loadInto(m.id, layout);
  }
  showState(wall);
  drawPresets(wall.presets || []);
}

function showState(info) {
  for (const [id, entry] of grids) {
    const nodes = (info.nodes || []).filter((n) => n.monitor === id && n.status !== "gone");
    const up = nodes.filter((n) => n.status === "up");
    const label = entry.box.querySelector(".node-state");
    label.textContent = !nodes.length ? t("console.node.none")
      : up.length ? `${t("console.node.up")} · ${up.map((n) => Object.values(n.health.tiles)
          .map((h) => `${h.fps}fps`).join(" ")).join(" | ")}` : t("console.node.down");
    entry.box.classList.toggle("is-down", nodes.length > 0 && !up.length);
  }
  const list = document.getElementById("alarm-list");
  list.replaceChildren();
  if (!(info.alarms || []).length) {
    const li = document.createElement("li");
    li.className = "muted alarm-none";
    li.textContent = t("console.alarms.none");
    list.append(li);
  }
  for (const alarm of info.alarms || []) {
    const li = document.createElement("li");
    li.textContent = `${alarm.name} (${alarm.count}) → ${alarm.camera} @ ${alarm.monitor} `;
    li.dataset.alarm = String(alarm.id);
    if (info.pre_alarm_s > 0 && replayView) {
      // the seconds before it was raised, then live ([replay] pre_alarm_seconds)
      const before = document.createElement("button");
      before.type = "button";
      before.className = "btn alarm-replay";
      before.textContent = t("console.replay.alarm");
      before.addEventListener("click", () => {
        replayView.openAlarm(alarm, info.pre_alarm_s).catch(showError);
      });
      li.append(before);
    }
    if (canPush) {
      const ack = document.createElement("button");
      ack.type = "button";
      ack.className = "btn";
      ack.textContent = t("console.alarm.ack");
      ack.addEventListener("click", async () => {
        try { await api(`/api/walls/${wallId}/alarms/${alarm.id}/clear`, { method: "POST" }); }
        catch (err) { showError(err); }
      });
      li.append(ack);
    }
    list.append(li);
  }
}

function drawPresets(names) {
  const select = document.getElementById("preset-select");
  select.replaceChildren(...names.map((n) => Object.assign(document.createElement("option"),
                                                           { value: n, textContent: n })));
}

const THUMB_EVERY_MS = 5000;

function refreshThumbs() {
  const now = Date.now();
  for (const img of wallBox.querySelectorAll("img.thumb")) {
    const url = thumbUrl(img.dataset.camera, now);
    // remembered once shown: a tile redrawn before the next refresh starts from it
    img.addEventListener("load", () => thumbUrls.set(img.dataset.camera, url), { once: true });
    img.src = url;
  }
}

async function refresh() {
  try {
    const info = await api(`/api/walls/${wallId}`);
    const changed = info.monitors.some((m) => grids.has(m.id) &&
      (grids.get(m.id).layout || { version: 0 }).version !== m.layout_version);
    if (changed) for (const m of info.monitors) await loadMonitor(m.id);   // pushed elsewhere
    showState(info);
  } catch (err) { /* transient: try again on the next tick */ }
}

function drawCameras() {
  const list = document.getElementById("camera-list");
  list.replaceChildren(...[...cameras.values()].map((c) => {
    const li = document.createElement("li");
    li.className = "camera-item grid-stack-item";
    li.dataset.camera = c.id;
    li.setAttribute("gs-w", "1");
    li.setAttribute("gs-h", "1");
    li.textContent = `${c.name || c.id}${c.location ? ` — ${c.location}` : ""}`;
    return li;
  }));
  if (canPush) GridStack.setupDragIn(".camera-list .camera-item", { appendTo: "body", helper: "clone" });
  const search = document.getElementById("camera-search");
  search.addEventListener("input", () => {
    const q = search.value.trim().toLowerCase();
    for (const li of list.children) {
      const text = `${li.dataset.camera} ${li.textContent}`.toLowerCase();
      li.classList.toggle("is-hidden", !text.includes(q));
    }
  });
}

// Indicators for the roles that may list them (the route table says which); the others
// get the cameras only, and the page asks nothing it would be refused.
async function addIndicators() {
  let list = [];
  try {
    if (!(await allowed("/api/indicators"))["/api/indicators"]) return;
    list = await api("/api/indicators");
  } catch (err) { return; }
  const items = Array.isArray(list) ? list : list.indicators || [];
  const ul = document.getElementById("camera-list");
  for (const ind of items) {
    if (!ind || !ind.id) continue;
    indicatorNames.set(ind.id, ind.name);
    const li = document.createElement("li");
    li.className = "camera-item grid-stack-item indicator-item";
    li.dataset.indicator = ind.id;
    li.dataset.camera = "";
    li.setAttribute("gs-w", "1");
    li.setAttribute("gs-h", "1");
    // The API names an indicator in both languages ({"vi", "en"}): show the page's one.
    const label = () => { li.textContent = `▦ ${pick(ind.name) || ind.id}`; };
    label();
    onLangChange(label);
    ul.append(li);
  }
  if (canPush && items.length) GridStack.setupDragIn(".camera-list .indicator-item", { appendTo: "body", helper: "clone" });
}

function bindPresets() {
  document.getElementById("preset-save").addEventListener("click", async () => {
    const name = document.getElementById("preset-name").value.trim();
    if (!name) { showError(new Error(t("console.preset.needName"))); return; }
    const monitors = {};
    for (const id of grids.keys()) monitors[id] = layoutOf(id);
    try {
      await api(`/api/walls/${wallId}/presets/${encodeURIComponent(name)}`, { method: "PUT", body: { monitors } });
      drawPresets((await api(`/api/walls/${wallId}`)).presets);
      document.getElementById("preset-select").value = name;
      banner.hidden = true;
      statusLine.textContent = t("console.preset.saved", { name, n: Object.keys(monitors).length });
    } catch (err) { showError(err); }
  });
  document.getElementById("preset-recall").addEventListener("click", async () => {
    const name = document.getElementById("preset-select").value;
    if (!name) return;
    try {
      const r = await api(`/api/walls/${wallId}/presets/${encodeURIComponent(name)}/recall?wait=3`, { method: "POST" });
      statusLine.textContent = pushedText(r);
      for (const id of grids.keys()) await loadMonitor(id);
    } catch (err) { showError(err); }
  });
}

async function main() {
  apply();
  let who;
  try { who = await me(); } catch (err) {
    if (err instanceof ApiError && err.status === 401) { goLogin(); return; }
    throw err;
  }
  canPush = who.role === "admin" || who.role === "operator";
  if (!canPush) { banner.hidden = false; banner.textContent = t("console.readonly"); }
  const walls = await api("/api/walls");
  const select = document.getElementById("wall-select");
  select.replaceChildren(...walls.map((w) => Object.assign(document.createElement("option"),
                                                           { value: w.id, textContent: w.name })));
  // ?wall= first, then the user's default wall (My settings), then the first wall
  const answer = await shell;
  const preferred = answer && answer.prefs && walls.find((w) => w.id === answer.prefs.wall);
  wallId = params.get("wall") || (preferred && preferred.id) || (walls[0] && walls[0].id);
  select.value = wallId || "";
  select.addEventListener("change", () => { location.search = `?wall=${encodeURIComponent(select.value)}`; });
  cameras = new Map((await api("/api/cameras")).map((c) => [c.id, c]));
  drawCameras();
  await addIndicators();
  onLangChange(() => { relabel(); tours.draw(); });
  bindPresets();
  replayView = new ConsoleReplay(document.getElementById("replay-panel"),
                                 { wallId, cameras, canPush, showError });
  if (wallId) await drawWall();
  tours.bind();
  keys.bind();
  if (who.role === "admin") {
    new Pairings({ wallId, wall, showError }, document.getElementById("pairings")).start();
  }
  setInterval(refresh, 2000);
  refreshThumbs();
  setInterval(refreshThumbs, THUMB_EVERY_MS);
  document.body.dataset.ready = "1";
}

main().catch(showError);
