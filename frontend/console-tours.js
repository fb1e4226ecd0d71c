// Camera tours in the operator console. Starting a tour pushes the monitor's layout
// with one more tile of kind "tour" (cameras one after another, dwell_s each; the
// display page plays it); stopping pushes the layout without that tile. The server
// audits both (wall.tour.start, wall.tour.stop) besides the push itself.

import { api } from "/static/api.js";
import { t } from "/static/i18n.js";

// Where a new tour goes: the whole monitor when it is empty, else its first free cell.
export function freeCell(layout) {
  const grid = layout ? layout.grid : { columns: 4, rows: 4 };
  const tiles = layout ? layout.tiles : [];
  if (!tiles.length) return { x: 0, y: 0, w: grid.columns, h: grid.rows };
  const used = (x, y) => tiles.some((s) => (s.layer || 0) === 0 &&
    x >= s.x && x < s.x + s.w && y >= s.y && y < s.y + s.h);
  for (let y = 0; y < grid.rows; y += 1) {
    for (let x = 0; x < grid.columns; x += 1) if (!used(x, y)) return { x, y, w: 1, h: 1 };
  }
  return null;
}

export class Tours {
  // ctx: the console's state (grids, wallId, wall, cameras, canPush) and its helpers
  // (layoutOf, loadMonitor, showError, newTileId).
  constructor(ctx) {
    this.c = ctx;
    this.form = document.getElementById("tour-form");
    this.list = document.getElementById("tour-list");
    this.status = document.getElementById("push-status");
    this.banner = document.getElementById("banner");
  }

  bind() {
    const wall = this.c.wall;
    document.getElementById("tour-monitor").replaceChildren(...(wall ? wall.monitors : []).map(
      (m) => Object.assign(document.createElement("option"),
                           { value: m.id, textContent: t("console.monitor", { id: m.id }) })));
    document.getElementById("tour-cameras").replaceChildren(...[...this.c.cameras.values()].map(
      (c) => Object.assign(document.createElement("option"), { value: c.id, textContent: c.name || c.id })));
    for (const el of this.form.elements) el.disabled = !this.c.canPush;
    this.form.addEventListener("submit", (event) => { event.preventDefault(); this.start(); });
  }

  async push(monitor, body) {
    const result = await api(`/api/walls/${this.c.wallId}/monitors/${monitor}/layout?wait=3`,
                             { method: "PUT", body });
    this.status.textContent = this.c.pushedText(result);
    document.body.dataset.pushes = String(Number(document.body.dataset.pushes || 0) + 1);
    await this.c.loadMonitor(monitor);
  }

  async start() {
    const monitor = document.getElementById("tour-monitor").value;
    const picked = [...document.getElementById("tour-cameras").selectedOptions].map((o) => o.value);
    const dwell = Number(document.getElementById("tour-dwell").value);
    if (!monitor || !this.c.grids.has(monitor)) return;
    if (!picked.length) { this.c.showError(new Error(t("console.tour.pick"))); return; }
    const current = this.c.layoutOf(monitor);
    const cell = freeCell(current);
    if (!cell) { this.c.showError(new Error(t("console.tour.full", { monitor }))); return; }
    const tour = { id: this.c.newTileId(), kind: "tour", cameras: picked, dwell_s: dwell, ...cell };
    try {
      await this.push(monitor, { ...current, tiles: [...current.tiles, tour] });
      this.banner.hidden = true;
    } catch (err) {
      this.c.showError(err);        // e.g. 422 dwell_s out_of_range: the layout is unchanged
    }
  }

  async stop(monitor, tileId) {
    const current = this.c.layoutOf(monitor);
    try {
      await this.push(monitor, { ...current, tiles: current.tiles.filter((s) => s.id !== tileId) });
    } catch (err) { this.c.showError(err); }
  }

  // The running tours, one line each, with "stop" for those who may push.
  draw() {
    const items = [];
    for (const [monitor, entry] of this.c.grids) {
      for (const spec of (entry.layout ? entry.layout.tiles : []).filter((s) => s.kind === "tour")) {
        items.push(this.item(monitor, spec));
      }
    }
    if (!items.length) {
      const li = document.createElement("li");
      li.className = "muted";
      li.textContent = t("console.tour.none");
      items.push(li);
    }
    this.list.replaceChildren(...items);
  }

  item(monitor, spec) {
    const li = document.createElement("li");
    li.dataset.monitor = monitor;
    li.dataset.tile = spec.id;
    const text = document.createElement("span");
    text.textContent = t("console.tour.item", { monitor, dwell: spec.dwell_s,
      cameras: spec.cameras.map((c) => (this.c.cameras.get(c) || {}).name || c).join(" → ") });
    li.append(text);
    if (this.c.canPush) {
      const stop = document.createElement("button");
      stop.type = "button";
      stop.className = "btn tour-stop";
      stop.textContent = t("console.tour.stop");
      stop.addEventListener("click", () => this.stop(monitor, spec.id));
      li.append(stop);
    }
    return li;
  }
}
