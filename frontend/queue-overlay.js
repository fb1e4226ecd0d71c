// Queue counts over a camera picture: "c1: 3 người" ("c1: 3 people" in English) per
// zone, from /api/queues (one poll every 2 s for the whole page, only for roles that may
// read it: otherwise one line says why there are no counts), and the zones' outlines
// scaled onto the picture. Videos and thumbnails keep their aspect ratio (object-fit: contain), so the
// outlines are placed inside the letterbox, never over the black bars.
//
//   const overlay = new QueueOverlay(tileRoot, () => tileRoot.querySelector("video"));
//   overlay.setCamera("cam1");   ...   overlay.destroy();

import { allowed } from "/static/api.js";
import { onLangChange, t } from "/static/i18n.js";

const POLL_MS = 2000;
const ZONES_TTL_MS = 10000;
const RETRY_MS = 2000;
const SVG_NS = "http://www.w3.org/2000/svg";


const overlays = new Set();
const counts = new Map();          // camera -> [{zone, waiting}]
const zoneCache = new Map();       // camera -> {at, zones, size} (a promise while loading)
let timer = null;
let polls = 0;
let mayRead = null;                // may this role read /api/queues? (null: not asked yet)

// Where a w×h picture lands in a box of boxW×boxH with object-fit: contain.
export function letterbox(boxW, boxH, w, h) {
  if (!(w > 0 && h > 0 && boxW > 0 && boxH > 0)) return null;
  const scale = Math.min(boxW / w, boxH / h);
  const width = w * scale;
  const height = h * scale;
  return { x: (boxW - width) / 2, y: (boxH - height) / 2, width, height };
}

export function countsText(zone, waiting) {
  if (waiting === null || waiting === undefined) return t("queue.none", { zone });
  return t("queue.count", { zone, n: waiting });
}

async function poll() {
  try {
    const r = await fetch("/api/queues", { credentials: "same-origin", headers: { Accept: "application/json" } });
    if (r.status === 401 || r.status === 403) { stopPolling(); return; }   // logged out
    if (!r.ok) return;
    const rows = await r.json();
    counts.clear();
    for (const row of rows) {
      if (!counts.has(row.camera)) counts.set(row.camera, []);
      counts.get(row.camera).push({ zone: row.zone, waiting: row.waiting });
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

onLangChange(() => { for (const o of overlays) o.render(); });

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
    this.list = document.createElement("ul");
    this.list.className = "queue-counts";
    box.append(this.svg, this.list);
    this.resize = new ResizeObserver(() => this.render());
    this.resize.observe(box);
    overlays.add(this);
    startPolling();
  }

  setCamera(camera) {
    if (camera === this.camera) return;
    this.camera = camera;
    this.zones = null;
    this.render();
    this.refreshZones();
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
    const items = ids.map((id) => {
      const row = rows.find((r) => r.zone === id);
      const li = document.createElement("li");
      li.dataset.zone = id;
      li.textContent = mayRead === false ? id : countsText(id, row ? row.waiting : null);
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
    this._outline();
    if (this.zones && performance.now() - this.zones.at > ZONES_TTL_MS) this.refreshZones();
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
    overlays.delete(this);
    this.resize.disconnect();
    this.svg.remove();
    this.list.remove();
    if (!overlays.size) stopPolling();
  }
}
