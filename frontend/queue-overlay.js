// Queue counts over a camera picture: "c1: 3 người · 0,4 s" per zone (the page's
// language), from /api/queues (one poll a second for the whole page), with the count's
// age: a count past the server's limit reads "no current count", and "analytics off"
// when no worker can run. The zones' outlines are scaled onto the picture; videos and
// thumbnails keep their aspect ratio (object-fit: contain), so the outlines are placed
// inside the letterbox, never over the black bars. A toggle per tile (remembered per
// camera) draws the worker's boxes of the counted frame in a canvas over the picture.
// Only roles that may read /api/queues poll it; for the others one line says why there
// are no counts, and a zone nobody counts yet says so.
//
//   const overlay = new QueueOverlay(tileRoot, () => tileRoot.querySelector("video"));
//   overlay.setCamera("cam1");   ...   overlay.destroy();

import { allowed } from "/static/api.js";
import { addTexts, getLang, onLangChange, t } from "/static/i18n.js";

addTexts({
  vi: {
    "queue.count": "{zone}: {n} người · {age}",
    "queue.none": "{zone}: –",
    "queue.stale": "{zone}: không có số liệu mới ({age})",
    "queue.off": "{zone}: tắt phân tích",
    "queue.boxes": "Hiện khung người",
    "queue.forbidden": "Không hiện số người chờ cho vai trò của bạn.",
    "queue.notCounted": "Chưa có số đếm: phân tích hình ảnh đang tắt hoặc đang khởi động cho camera này.",
  },
  en: {
    "queue.count": "{zone}: {n} people · {age}",
    "queue.none": "{zone}: –",
    "queue.stale": "{zone}: no current count ({age})",
    "queue.off": "{zone}: analytics off",
    "queue.boxes": "Show people's boxes",
    "queue.forbidden": "Queue counts are not shown to your role.",
    "queue.notCounted": "No count yet: analytics is off or starting for this camera.",
  },
});

const POLL_MS = 1000;
const ZONES_TTL_MS = 10000;
const RETRY_MS = 2000;
const SVG_NS = "http://www.w3.org/2000/svg";

const overlays = new Set();
const counts = new Map();          // camera -> [row of /api/queues, + at: when fetched]
const zoneCache = new Map();       // camera -> {at, zones, size} (a promise while loading)
let timer = null;
let mayRead = null;                // may this role read /api/queues? (null: not asked yet)
let polls = 0;

// Where a w×h picture lands in a box of boxW×boxH with object-fit: contain.
export function letterbox(boxW, boxH, w, h) {
  if (!(w > 0 && h > 0 && boxW > 0 && boxH > 0)) return null;
  const scale = Math.min(boxW / w, boxH / h);
  const width = w * scale;
  const height = h * scale;
  return { x: (boxW - width) / 2, y: (boxH - height) / 2, width, height };
}

// "0,4 s" / "0.4 s", "12 s", "3 min": how old a count is, in the page's language.
export function ageText(ms) {
  if (!(ms >= 0)) return "–";
  const s = ms / 1000;
  const text = s < 10 ? s.toFixed(1) : s < 120 ? String(Math.round(s)) : null;
  if (text === null) return `${Math.round(s / 60)} ${getLang() === "vi" ? "phút" : "min"}`;
  return `${getLang() === "vi" ? text.replace(".", ",") : text} s`;
}

// One zone's line: its count and age, or why there is no current count.
export function countsText(zone, row, now = performance.now()) {
  if (!row) return t("queue.none", { zone });
  const age = row.age_ms === null || row.age_ms === undefined ? null
    : row.age_ms + (row.at === undefined ? 0 : now - row.at);
  if (row.state === "off") return t("queue.off", { zone });
  if (row.state === "stale" || row.waiting === null || row.waiting === undefined) {
    return t("queue.stale", { zone, age: ageText(age) });
  }
  return t("queue.count", { zone, n: row.waiting, age: ageText(age) });
}

function wantsBoxes() {
  for (const o of overlays) if (o.boxesOn) return true;
  return false;
}

async function poll() {
  try {
    const url = wantsBoxes() ? "/api/queues?boxes=1" : "/api/queues";
    const r = await fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } });
    if (r.status === 401 || r.status === 403) { stopPolling(); return; }   // logged out
    if (!r.ok) return;
    const rows = await r.json();
    const at = performance.now();
    counts.clear();
    for (const row of rows) {
      if (!counts.has(row.camera)) counts.set(row.camera, []);
      counts.get(row.camera).push({ ...row, at });
    }
    polls += 1;
    document.body.dataset.queuePolls = String(polls);
  } catch (_) {
    return;                        // the server is away: keep the last figures
  }
  for (const o of overlays) o.render();
}

async function startPolling() {
  if (mayRead === null) {
    mayRead = "asking";
    try {
      mayRead = (await allowed("/api/queues"))["/api/queues"];
    } catch (_) {
      mayRead = null;              // ask again with the next overlay
      return;
    }
    for (const o of overlays) o.render();
  }
  if (mayRead === true && timer === null && overlays.size) {
    timer = setInterval(poll, POLL_MS);
    poll();
  }
}

function stopPolling() {
  clearInterval(timer);
  timer = null;
}

async function zonesOf(camera) {
  const cached = zoneCache.get(camera);
  if (cached && (cached.then || performance.now() - cached.at < ZONES_TTL_MS)) return cached;
  const loading = fetch(`/api/cameras/${encodeURIComponent(camera)}/zones`,
                        { credentials: "same-origin", headers: { Accept: "application/json" } })
    .then((r) => (r.ok ? r.json() : null))
    .catch(() => null)
    .then((data) => {
      // a failed answer (server busy, restarting) is retried after RETRY_MS, not kept a TTL
      const at = data ? performance.now() : performance.now() - ZONES_TTL_MS + RETRY_MS;
      const entry = { at, zones: (data && data.zones) || [], size: data && data.size };
      zoneCache.set(camera, entry);
      return entry;
    });
  zoneCache.set(camera, loading);
  return loading;
}

function boxesRemembered(camera) {
  try {
    return localStorage.getItem(`iocwall.boxes.${camera}`) === "1";
  } catch (_) {
    return false;
  }
}

export class QueueOverlay {
  // box: the positioned tile element; picture(): its <video> or <img> now (may change)
  constructor(box, picture) {
    this.box = box;
    this.picture = picture;
    this.camera = null;
    this.zones = null;
    this.shown = false;
    this.svg = document.createElementNS(SVG_NS, "svg");
    this.svg.setAttribute("class", "zone-outlines");
    this.svg.setAttribute("aria-hidden", "true");
    this.canvas = document.createElement("canvas");
    this.canvas.className = "queue-boxes";
    this.canvas.setAttribute("aria-hidden", "true");
    this.list = document.createElement("ul");
    this.list.className = "queue-counts";
    this.toggle = document.createElement("button");
    this.toggle.type = "button";
    this.toggle.className = "queue-boxes-toggle";
    this.toggle.textContent = "▢";
    this.toggle.hidden = true;
    this.toggle.addEventListener("click", (ev) => {
      ev.stopPropagation();                  // the tile's own click opens the full view
      this.setBoxes(!this.boxesOn);
    });
    this.boxesOn = false;
    box.append(this.svg, this.canvas, this.list, this.toggle);
    onLangChange(() => this.render());
    this.resize = new ResizeObserver(() => this.render());
    this.resize.observe(box);
    overlays.add(this);
    startPolling();
  }

  setCamera(camera) {
    if (camera === this.camera) return;
    this.camera = camera;
    this.zones = null;
    this.boxesOn = boxesRemembered(camera);
    this.render();
    this.refreshZones();
  }

  // Draw the worker's boxes on this tile (remembered per camera in this browser).
  setBoxes(on) {
    this.boxesOn = Boolean(on);
    try {
      localStorage.setItem(`iocwall.boxes.${this.camera}`, this.boxesOn ? "1" : "0");
    } catch (_) { /* not remembered, still switched on this page */ }
    this.render();
    if (this.boxesOn) poll();
  }

  async refreshZones() {
    const camera = this.camera;
    if (!camera) return;
    const entry = await zonesOf(camera);
    if (camera === this.camera) {
      this.zones = entry;
      this.render();
    }
  }

  render() {
    if (!this.list.isConnected) {          // not on the page yet, or its tile went / was redrawn
      if (this.shown) this.destroy();
      return;
    }
    this.shown = true;
    const camera = this.camera;
    const rows = (camera && counts.get(camera)) || [];
    const ids = [...new Set([...((this.zones && this.zones.zones) || []).map((z) => z.id),
                             ...rows.map((r) => r.zone)])];
    const now = performance.now();
    const items = ids.map((id) => {
      const row = rows.find((r) => r.zone === id);
      const li = document.createElement("li");
      li.dataset.zone = id;
      li.dataset.state = row ? row.state || "live" : "none";
      if (row && row.age_ms !== null && row.age_ms !== undefined) {
        li.dataset.ageMs = String(Math.round(row.age_ms + now - row.at));
      }
      li.textContent = mayRead === false ? id : countsText(id, row, now);
      return li;
    });
    // a zone without a figure says why: counts not for this role, or nobody counts it yet
    const why = !ids.length ? "" : mayRead === false ? "queue.forbidden"
      : mayRead === true && polls > 0 && !rows.length ? "queue.notCounted" : "";
    if (why) {
      const note = document.createElement("li");
      note.className = "queue-note";
      note.dataset.why = why;
      note.textContent = t(why);
      items.push(note);
    }
    this.list.replaceChildren(...items);
    this.list.hidden = items.length === 0;
    this.box.dataset.queueZones = String(items.length);
    this.toggle.hidden = items.length === 0;
    this.toggle.title = t("queue.boxes");
    this.toggle.setAttribute("aria-label", t("queue.boxes"));
    this.toggle.setAttribute("aria-pressed", String(this.boxesOn));
    this._outline();
    this._boxes(rows);
    if (this.zones && performance.now() - this.zones.at > ZONES_TTL_MS) this.refreshZones();
  }

  // Where zone pixels land on the tile: {x, y, sx, sy} or null (no picture or size yet).
  _mapping() {
    const pic = this.picture();
    const size = this.zones && this.zones.size;
    const natW = (pic && (pic.videoWidth || pic.naturalWidth)) || (size && size.width) || 0;
    const natH = (pic && (pic.videoHeight || pic.naturalHeight)) || (size && size.height) || 0;
    const zw = (size && size.width) || natW;
    const zh = (size && size.height) || natH;
    const fit = pic ? letterbox(pic.clientWidth, pic.clientHeight, natW, natH) : null;
    if (!fit || !zw || !zh) return null;
    return { x: fit.x + pic.offsetLeft, y: fit.y + pic.offsetTop, sx: fit.width / zw, sy: fit.height / zh };
  }

  _boxes(rows) {
    const boxes = this.boxesOn ? ((rows.find((r) => r.boxes) || {}).boxes || []) : [];
    const fresh = rows.some((r) => r.state === "live");
    const w = this.box.clientWidth;
    const h = this.box.clientHeight;
    if (this.canvas.width !== w) this.canvas.width = w;
    if (this.canvas.height !== h) this.canvas.height = h;
    const ctx = this.canvas.getContext("2d");
    ctx.clearRect(0, 0, w, h);
    const map = this._mapping();
    this.canvas.dataset.boxes = String(fresh && map ? boxes.length : 0);
    if (!fresh || !map) return;                 // a stale count's boxes are not drawn as now
    ctx.strokeStyle = "#00e5ff";
    ctx.lineWidth = 2;
    for (const [x1, y1, x2, y2] of boxes) {
      ctx.strokeRect(map.x + x1 * map.sx, map.y + y1 * map.sy, (x2 - x1) * map.sx, (y2 - y1) * map.sy);
    }
  }

  _outline() {
    const pic = this.picture();
    const zones = (this.zones && this.zones.zones) || [];
    const size = this.zones && this.zones.size;
    const natW = (pic && (pic.videoWidth || pic.naturalWidth)) || (size && size.width) || 0;
    const natH = (pic && (pic.videoHeight || pic.naturalHeight)) || (size && size.height) || 0;
    const zw = (size && size.width) || natW;
    const zh = (size && size.height) || natH;
    const boxW = this.box.clientWidth;
    const boxH = this.box.clientHeight;
    const fit = pic ? letterbox(pic.clientWidth, pic.clientHeight, natW, natH) : null;
    this.svg.setAttribute("viewBox", `0 0 ${boxW || 1} ${boxH || 1}`);
    if (!fit || !zw || !zh || !zones.length) {
      this.svg.replaceChildren();
      return;
    }
    const ox = fit.x + pic.offsetLeft;
    const oy = fit.y + pic.offsetTop;
    const shapes = zones.map((z) => {
      const poly = document.createElementNS(SVG_NS, "polygon");
      poly.setAttribute("points", z.polygon
        .map(([x, y]) => `${(ox + (x / zw) * fit.width).toFixed(1)},${(oy + (y / zh) * fit.height).toFixed(1)}`)
        .join(" "));
      poly.dataset.zone = z.id;
      return poly;
    });
    this.svg.replaceChildren(...shapes);
  }

  destroy() {
    this.shown = false;             // a language change later finds it gone and does nothing
    overlays.delete(this);
    this.resize.disconnect();
    this.svg.remove();
    this.canvas.remove();
    this.list.remove();
    this.toggle.remove();
    if (!overlays.size) stopPolling();
  }
}
