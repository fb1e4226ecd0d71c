// Keyboard operation of the operator console, for those who cannot drag.
// The camera list is one tab stop (arrows choose an entry); Enter or "Add to monitor…" puts
// the entry in the first free cell of the monitor picked. A focused tile moves with the
// arrows, grows or shrinks with Shift+arrows, leaves with Delete. The console's own
// functions do the work (place, then GridStack's update/removeWidget, whose events push the
// layout as a mouse change does); each result is said in #key-status, a live region.

import { t } from "/static/i18n.js";

const STEP = { ArrowLeft: [-1, 0], ArrowRight: [1, 0], ArrowUp: [0, -1], ArrowDown: [0, 1] };

const typing = (el) => el && (el.isContentEditable || /^(INPUT|SELECT|TEXTAREA)$/.test(el.tagName));

export class ConsoleKeys {
  // ctx: grids (monitor -> {grid, box}), wall, canPush, tileLabel(spec),
  // place(monitor, item) -> the new tile or null, explainNoRoom(key, monitor)
  constructor(ctx) {
    this.c = ctx;
    this.list = document.getElementById("camera-list");
    this.live = document.getElementById("key-status");
    this.chooser = document.getElementById("place-chooser");
    this.wallBox = document.getElementById("wall");
    this.current = null;            // the camera-list entry holding the list's tab stop
  }

  say(text) {
    this.live.textContent = text;
  }

  bind() {
    for (const li of this.list.querySelectorAll(".camera-item")) {
      li.setAttribute("role", "option");
      li.setAttribute("aria-selected", "false");
      li.tabIndex = -1;
    }
    this.rove(null);
    this.list.addEventListener("keydown", (ev) => this.onListKey(ev));
    this.list.addEventListener("click", (ev) => {
      const li = ev.target.closest(".camera-item");
      if (li) this.rove(li);
    });
    document.getElementById("camera-search").addEventListener("input", () => this.rove(null));
    const add = document.getElementById("place-open");
    add.disabled = !this.c.canPush;
    add.addEventListener("click", () => { if (this.current) this.open(this.current); });
    document.getElementById("place-cancel").addEventListener("click", () => this.close());
    this.chooser.addEventListener("keydown", (ev) => {
      if (ev.key === "Escape") { ev.preventDefault(); this.close(); }
    });
    this.wallBox.addEventListener("keydown", (ev) => this.onTileKey(ev));
    this.wallBox.addEventListener("focusin", (ev) => this.describe(ev.target));
    this.bindHelp();
  }

  // The list's one tab stop: `li`, else the current entry while shown, else the first shown.
  rove(li) {
    const shown = [...this.list.querySelectorAll(".camera-item:not(.is-hidden)")];
    const next = li || (shown.includes(this.current) ? this.current : shown[0]) || null;
    for (const item of this.list.querySelectorAll(".camera-item")) {
      item.tabIndex = item === next ? 0 : -1;
      item.setAttribute("aria-selected", String(item === next));
    }
    this.current = next;
    return shown;
  }

  onListKey(ev) {
    const li = ev.target.closest(".camera-item");
    if (!li) return;
    const shown = this.rove(li);
    const at = shown.indexOf(li);
    const to = { ArrowDown: at + 1, ArrowUp: at - 1, Home: 0, End: shown.length - 1 }[ev.key];
    if (to !== undefined) {
      ev.preventDefault();
      const target = shown[Math.max(0, Math.min(shown.length - 1, to))];
      if (target) { this.rove(target); target.focus(); }
    } else if (ev.key === "Enter" || ev.key === " ") {
      ev.preventDefault();
      this.open(li);
    }
  }

  // "Add <entry> to:" with one button per monitor of the wall.
  open(li) {
    if (!this.c.canPush || !this.c.wall) return;
    const name = li.textContent;
    document.getElementById("place-title").textContent = t("console.keys.addTo", { name });
    const buttons = this.c.wall.monitors.map((m) => {
      const b = document.createElement("button");
      b.type = "button";
      b.className = "btn";
      b.dataset.monitor = m.id;
      b.textContent = t("console.monitor", { id: m.id });
      b.addEventListener("click", () => this.place(li, m.id));
      return b;
    });
    this.chooser.querySelector(".place-monitors").replaceChildren(...buttons);
    this.chooser.hidden = false;
    if (buttons[0]) buttons[0].focus();
  }

  close() {
    this.chooser.hidden = true;
    if (this.current) this.current.focus();
  }

  place(li, monitor) {
    const el = this.c.place(monitor, li);
    if (!el) { this.close(); return; }          // refused: the reason is on the page already
    this.chooser.hidden = true;
    el.focus();
    const n = el.gridstackNode;
    this.say(t("console.keys.placed", { tile: this.label(el), monitor, x: n.x + 1, y: n.y + 1 }));
  }

  label(el) {
    return this.c.tileLabel(JSON.parse(el.dataset.spec));
  }

  // A focused tile's name says where it is, so a screen reader user knows the layout.
  describe(el) {
    if (!el.matches || !el.matches(".grid-stack-item[data-spec]") || !el.gridstackNode) return;
    const n = el.gridstackNode;
    el.setAttribute("aria-label", t("console.keys.tile", {
      tile: this.label(el), monitor: el.dataset.monitor, x: n.x + 1, y: n.y + 1, w: n.w, h: n.h }));
  }

  onTileKey(ev) {
    const el = ev.target;
    if (!this.c.canPush || !el.matches(".grid-stack-item[data-spec]") || !el.gridstackNode) return;
    if (ev.key === "Delete" || ev.key === "Backspace") {
      ev.preventDefault();
      this.remove(el);
    } else if (STEP[ev.key]) {
      ev.preventDefault();
      this.shift(el, STEP[ev.key], ev.shiftKey);
    }
  }

  // Move (or with `resize`, grow/shrink from the bottom-right corner) by one cell. GridStack's
  // engine says what is in the way; update() then fires the change event that pushes.
  shift(el, [dx, dy], resize) {
    const monitor = el.dataset.monitor;
    const { grid } = this.c.grids.get(monitor);
    const n = el.gridstackNode;
    const to = resize ? { x: n.x, y: n.y, w: n.w + dx, h: n.h + dy }
      : { x: n.x + dx, y: n.y + dy, w: n.w, h: n.h };
    const tile = this.label(el);
    if (to.w < 1 || to.h < 1) { this.say(t("console.keys.smallest", { tile })); return; }
    const inside = to.x >= 0 && to.y >= 0 && to.x + to.w <= grid.getColumn() &&
      to.y + to.h <= (grid.opts.maxRow || Infinity);
    if (!inside || grid.engine.collide(n, to)) {
      if (resize) this.c.explainNoRoom("console.resize.full", monitor);
      else this.say(t("console.keys.blocked", { tile, monitor }));
      return;
    }
    grid.update(el, to);
    el.focus();
    this.describe(el);
    this.say(resize ? t("console.keys.resized", { tile, w: to.w, h: to.h })
      : t("console.keys.moved", { tile, x: to.x + 1, y: to.y + 1 }));
  }

  remove(el) {
    const monitor = el.dataset.monitor;
    const { grid, box } = this.c.grids.get(monitor);
    const tile = this.label(el);
    const tiles = [...box.querySelectorAll(".grid-stack-item[data-spec]")];
    const next = tiles[tiles.indexOf(el) + 1] || tiles[tiles.indexOf(el) - 1] || this.current;
    grid.removeWidget(el);
    if (next) next.focus();
    this.say(t("console.keys.removed", { tile, monitor }));
  }

  // The "?" button (or the ? key anywhere but a field) shows the keys.
  bindHelp() {
    const button = document.getElementById("keys-help-toggle");
    const help = document.getElementById("keys-help");
    const toggle = () => {
      help.hidden = !help.hidden;
      button.setAttribute("aria-expanded", String(!help.hidden));
    };
    button.addEventListener("click", toggle);
    document.addEventListener("keydown", (ev) => {
      if (ev.key === "?" && !typing(ev.target)) { ev.preventDefault(); toggle(); button.focus(); }
    });
  }
}
