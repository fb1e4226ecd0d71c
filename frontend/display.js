// The display page: one monitor of a wall, full screen. It follows the controller
// over a WebSocket (layout pushes, acks, heartbeats). When that socket goes (its
// controller died), nothing on screen is torn down: the layout stays and its video keeps
// playing (media does not go through the socket), a corner mark says the server
// connection is lost, and the page reconnects at once, then every 0.25 s doubling to 1 s:
// through HAProxy that lands on another controller within about a second of it being
// reachable. The layout it then gets rebuilds only tiles whose content changed.

import { DisplayTile } from "/static/display-tile.js";

const [, , WALL, MONITOR] = location.pathname.split("/").map(decodeURIComponent);
const grid = document.getElementById("wall");
const statusLine = document.getElementById("status");
const tiles = new Map();        // tile id -> DisplayTile
const started = performance.now();
let cameras = new Map();
let layout = null;
let socket = null;
let retryMs = 0;                // the first retry at once; then 0.25 s doubling to 1 s
const DEGRADED = "Mất kết nối máy chủ — đang kết nối lại / Server connection lost — reconnecting";
let handling = Promise.resolve();
// Fence (streams/leadership.py): what a leader sends carries its epoch; a message from an
// older leader than one already heard (it was paused while another took over) is dropped.
let leaderEpoch = 0;

// A raised alarm highlights its camera on this monitor: that tile first shows the seconds
// before the alarm ([replay] pre_alarm_seconds, sent with the alarm), then goes live.
function alarmContext(msg) {
  if (msg.state !== "raised" || !msg.camera || !msg.raised_at || !(msg.pre_alarm_s > 0)) return;
  if (msg.monitor !== undefined && String(msg.monitor) !== MONITOR) return;
  for (const t of tiles.values()) {
    if (t.spec.kind === "camera" && t.spec.highlight && t.spec.camera === msg.camera) {
      t.alarmContext(new Date(msg.raised_at), msg.pre_alarm_s);
    }
  }
}

async function loadCameras() {
  try {
    const r = await fetch("/api/cameras", { credentials: "same-origin" });
    if (r.ok) cameras = new Map((await r.json()).map((c) => [c.id, c]));
  } catch (err) { /* keep the cameras we knew */ }
}

function placeGrid(grid_) {
  grid.style.gridTemplateColumns = `repeat(${grid_.columns}, minmax(0, 1fr))`;
  grid.style.gridTemplateRows = `repeat(${grid_.rows}, minmax(0, 1fr))`;
}

// Only tiles that changed are rebuilt: the others keep their video running.
async function apply(next) {
  if (!next) { for (const t of tiles.values()) t.destroy(); tiles.clear(); layout = null; return; }
  const wanted = new Set(next.tiles.map((t) => t.id));
  for (const [id, tile] of tiles) {
    if (!wanted.has(id)) { tile.destroy(); tiles.delete(id); }
  }
  if (next.tiles.some((t) => t.kind === "camera" || t.kind === "tour") &&
      next.tiles.some((t) => !cameras.has(t.camera))) await loadCameras();
  placeGrid(next.grid);
  for (const spec of next.tiles) {
    const tile = tiles.get(spec.id);
    if (tile && tile.sameSource(spec)) tile.place(spec);
    else {
      if (tile) tile.destroy();
      tiles.set(spec.id, new DisplayTile(grid, spec, cameras));
    }
  }
  layout = next;
  try { localStorage.setItem(`iocwall.display.${WALL}.${MONITOR}`, JSON.stringify(next)); }
  catch (err) { /* private mode: no offline copy */ }
}

function showStatus(text) {
  statusLine.hidden = !text;
  statusLine.textContent = text || "";
}

// The screen in device pixels: the controller chooses each tile's stream from it.
function screenSize() {
  const dpr = window.devicePixelRatio || 1;
  const rect = grid.getBoundingClientRect();
  return { width: Math.max(1, Math.round(rect.width * dpr)),
           height: Math.max(1, Math.round(rect.height * dpr)) };
}

let sentSize = "";
function reportSize() {
  const size = screenSize();
  if (JSON.stringify(size) === sentSize || !socket || socket.readyState !== WebSocket.OPEN) return;
  sentSize = JSON.stringify(size);
  socket.send(JSON.stringify({ type: "viewport", ...size }));
}

function connect() {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  const size = screenSize();
  sentSize = JSON.stringify(size);
  socket = new WebSocket(`${scheme}://${location.host}/ws/display/${encodeURIComponent(WALL)}/` +
                         `${encodeURIComponent(MONITOR)}?w=${size.width}&h=${size.height}`);
  let fresh = false;            // a new connection: what it replayed before is over
  socket.onopen = () => {
    retryMs = 0; fresh = true; document.body.dataset.connected = "1"; showStatus("");
    document.body.classList.remove("is-degraded");
  };
  // One message at a time, in order: an alarm's replay needs the layout pushed just before it.
  socket.onmessage = (event) => {
    const msg = JSON.parse(event.data);
    if (typeof msg.epoch === "number") {
      const seen = document.body.dataset;
      if (msg.epoch < leaderEpoch) {
        seen.staleRefused = String(Number(seen.staleRefused || 0) + 1);
        return;
      }
      leaderEpoch = msg.epoch;
      seen.epoch = String(leaderEpoch);
    }
    handling = handling.then(() => handle(msg)).catch((err) => console.error(err));
  };
  const handle = async (msg) => {
    if (msg.type === "layout") {
      await apply(msg.layout);
      if (fresh) { fresh = false; for (const t of tiles.values()) t.goLive(); }
      // the open alarms and alerts now, for alarms tiles (a display that restarts shows them)
      for (const t of tiles.values()) t.resetAlarms(msg.alarms || []);
      socket.send(JSON.stringify({ type: "ack", push_id: msg.push_id,
                                   version: msg.layout ? msg.layout.version : 0 }));
    } else if (msg.type === "alarm") {
      for (const t of tiles.values()) t.onAlarm(msg);
      alarmContext(msg);
    } else if (msg.type === "replay") {
      const tile = tiles.get(msg.tile);
      if (!tile || tile.cameraId() !== msg.camera) return;   // the layout changed meanwhile
      if (msg.live) tile.goLive();
      else tile.replayFrom(new Date(msg.start));
    }
  };
  socket.onclose = () => {
    if (document.body.dataset.connected === "1") {
      // counted once per loss, for the console's health view and browser checks
      document.body.dataset.losses = String(Number(document.body.dataset.losses || 0) + 1);
    }
    document.body.dataset.connected = "0";
    document.body.classList.add("is-degraded");
    showStatus(DEGRADED);
    setTimeout(connect, retryMs);
    retryMs = Math.min(1000, Math.max(250, retryMs * 2));   // back within ~1 s of a controller
  };
}

function heartbeat() {
  if (socket && socket.readyState === WebSocket.OPEN) {
    const health = { tiles: {}, uptime_s: (performance.now() - started) / 1000,
                     version: layout ? layout.version : 0,
                     memory_mb: performance.memory ? performance.memory.usedJSHeapSize / 1048576 : 0 };
    for (const [id, t] of tiles) health.tiles[id] = t.health();
    socket.send(JSON.stringify({ type: "heartbeat", health }));
  }
}

function tick() {
  const now = performance.now();
  let ready = layout !== null;
  for (const t of tiles.values()) ready = t.tick(now) && ready;
  document.body.dataset.ready = ready ? "1" : "0";
}

async function main() {
  await loadCameras();
  const saved = localStorage.getItem(`iocwall.display.${WALL}.${MONITOR}`);
  if (saved) { try { await apply(JSON.parse(saved)); } catch (err) { /* stale copy */ } }
  connect();
  let resizing = null;       // one report once a resize settles, not one per frame
  new ResizeObserver(() => { clearTimeout(resizing); resizing = setTimeout(reportSize, 100); })
    .observe(grid);
  setInterval(heartbeat, 1000);
  setInterval(tick, 250);
  window.iocwallDisplay = { tiles, get layout() { return layout; },    // for browser checks
                            get socket() { return socket; } };
}

main();
