// /live: every camera's sub stream in a grid; click a tile for the main stream.
//
// body[data-ready="1"] is set once every tile is playing (a frame decoded and
// currentTime advancing); body[data-playing-count] follows it live, so outside
// checks can time the page without knowing its internals.

import { api, goLogin, me } from "/static/api.js";
import "/static/shell.js";
import { apply, onLangChange, t } from "/static/i18n.js";
import { fitGrid } from "/static/fit.js";
import { QueueOverlay } from "/static/queue-overlay.js";
import { CameraView } from "/static/tile.js";

const POLL_MS = 1500;
const TICK_MS = 250;

const grid = document.getElementById("grid");
const empty = document.getElementById("empty");
const banner = document.getElementById("banner");
const counts = document.getElementById("counts");
const template = document.getElementById("tile-template");
const tiles = new Map();             // camera id -> CameraView
let full = null;                     // CameraView of the full-size main stream
let loadedOnce = false;

// ---------------------------------------------------------------- camera list
async function poll() {
  try {
    const cameras = await api("/api/cameras");
    sync(Array.isArray(cameras) ? cameras : cameras.cameras || []);
    banner.hidden = true;
  } catch (err) {
    if (err.status === 401) return goLogin();
    showBanner(err.status ? t("live.apiError", { status: err.status }) : t("live.offline"));
  } finally {
    setTimeout(poll, POLL_MS);
  }
}

function sync(cameras) {
  const seen = new Set();
  for (const camera of cameras) {
    seen.add(camera.id);
    let view = tiles.get(camera.id);
    if (!view) view = addTile(camera.id);
    view.update(camera);
    if (full && full.camera && full.camera.id === camera.id) full.update(camera);
  }
  for (const [id, view] of tiles) {
    if (!seen.has(id)) {
      view.destroy();
      view.queues.destroy();
      view.root.remove();
      tiles.delete(id);
    }
  }
  // keep the grid in the API's order
  for (const camera of cameras) grid.appendChild(tiles.get(camera.id).root);
  loadedOnce = true;
  empty.hidden = cameras.length > 0;
  grid.dataset.count = String(cameras.length);
  fit();
}

// Fill the window below the header: as many columns as give the largest 16:9 tiles.
function fit() {
  fitGrid(grid, tiles.size, aspectOf([...tiles.values()][0]));
}

function aspectOf(view) {
  const sub = view && view.camera && view.camera.streams && view.camera.streams.sub;
  return sub && sub.width > 0 && sub.height > 0 ? sub.width / sub.height : 16 / 9;
}

function addTile(id) {
  const root = template.content.firstElementChild.cloneNode(true);
  apply(root);
  const view = new CameraView(root, "sub");
  view.queues = new QueueOverlay(root, () => view.video);
  view.queues.setCamera(id);
  root.addEventListener("click", () => openFull(view.camera));
  // a group, not a button: it holds the replay buttons, whose own Enter must stay theirs
  root.addEventListener("keydown", (ev) => {
    if (ev.target === root && (ev.key === "Enter" || ev.key === " ")) {
      ev.preventDefault();
      openFull(view.camera);
    }
  });
  tiles.set(id, view);
  grid.appendChild(root);
  return view;
}

function showBanner(text) {
  banner.textContent = text;
  banner.hidden = false;
}

// ---------------------------------------------------------------- full view
const fullRoot = document.getElementById("full");

function openFull(camera) {
  if (!camera) return;
  closeFull();
  full = new CameraView(fullRoot.querySelector(".full-stage"), "main");
  full.badge = document.getElementById("full-badge");
  full.fps = document.getElementById("full-fps");
  document.getElementById("full-name").textContent = camera.name || camera.id;
  fullRoot.dataset.cameraId = camera.id;
  fullRoot.hidden = false;
  document.body.classList.add("has-full");
  full.update(camera);
  document.getElementById("full-close").focus();
}

function closeFull() {
  if (!full) return;
  full.destroy();               // stops the WHEP session: DELETE on the server
  full.root.dataset.playing = "0";
  full = null;
  fullRoot.hidden = true;
  delete fullRoot.dataset.cameraId;
  document.body.classList.remove("has-full");
}

document.getElementById("full-close").addEventListener("click", closeFull);
document.addEventListener("keydown", (ev) => {
  if (ev.key === "Escape") closeFull();
});

// ---------------------------------------------------------------- readiness
function tick() {
  const now = performance.now();
  let playing = 0;
  for (const view of tiles.values()) if (view.tick(now)) playing += 1;
  if (full) full.tick(now);
  const total = tiles.size;
  document.body.dataset.playingCount = String(playing);
  counts.textContent = loadedOnce
    ? `${t("live.cameras", { n: total })} · ${t("live.playing", { n: playing, total })}`
    : "";
  if (document.body.dataset.ready !== "1" && total > 0 && playing === total) {
    document.body.dataset.ready = "1";
    document.body.dataset.readyMs = String(Math.round(now));
  }
}

async function main() {
  apply();
  onLangChange(() => {
    for (const view of tiles.values()) view.rerender();
    if (full) full.rerender();
  });
  // The shell's header shows the clock, the user and the logout button.
  try {
    await me();
  } catch (err) {
    if (err.status === 401) return goLogin();
    showBanner(t("live.offline"));
  }
  window.addEventListener("pagehide", () => {
    closeFull();
    for (const view of tiles.values()) view.destroy();
  });
  setInterval(tick, TICK_MS);
  window.addEventListener("resize", fit);
  poll();
}

main();
