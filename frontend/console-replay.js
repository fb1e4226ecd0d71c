// The console's replay view: one camera, live, with the same replay bar as every camera
// tile (tile.js's CameraView owns replay.js's ReplayControls). It opens from a console
// tile's ⟲ (the camera that tile shows) or from an alarm (its seconds before, then live).
// Opened from a wall tile, it also sends a rewind to that tile on the wall's displays
// (POST .../monitors/{m}/replay): they play it with their own display session.

import { api } from "/static/api.js";
import { onLangChange, t } from "/static/i18n.js";
import { CameraView } from "/static/tile.js";

const DISPLAY_BACKS = [10, 30, 120];

function el(tag, cls, text) {
  const node = document.createElement(tag);
  if (cls) node.className = cls;
  if (text !== undefined) node.textContent = text;
  return node;
}

export class ConsoleReplay {
  // box: the panel (hidden until opened); ctx: { wallId, cameras (Map), canPush, showError }
  constructor(box, ctx) {
    this.box = box;
    this.ctx = ctx;
    this.view = null;
    this.target = null;            // {monitor, tile} on the wall, when opened from a tile
    this.timer = null;
    this._build();
    onLangChange(() => this._texts());
  }

  _build() {
    this.title = el("h2", "", "");
    this.tile = el("div", "tile console-replay-tile");
    this.tile.append(el("video"), el("div", "lost-overlay"));
    this.tile.querySelector("video").muted = true;
    this.tile.querySelector("video").playsInline = true;
    this.tile.querySelector("video").autoplay = true;
    this.tile.querySelector(".lost-overlay").hidden = true;
    const bar = el("div", "tile-bar");
    bar.append(el("span", "tile-name"), el("span", "badge"), el("span", "fps"));
    this.tile.append(bar);
    this.push = el("div", "replay-push");
    this.pushLabel = el("span", "replay-push-label");
    this.pushBacks = DISPLAY_BACKS.map((s) => {
      const b = el("button", "btn replay-push-back");
      b.type = "button";
      b.dataset.seconds = String(s);
      b.addEventListener("click", () => this.sendToDisplay({ back_s: s }));
      return b;
    });
    this.pushLive = el("button", "btn replay-push-live");
    this.pushLive.type = "button";
    this.pushLive.addEventListener("click", () => this.sendToDisplay({ live: true }));
    this.pushStatus = el("span", "muted replay-push-status");
    this.push.append(this.pushLabel, ...this.pushBacks, this.pushLive, this.pushStatus);
    this.close = el("button", "btn replay-close");
    this.close.type = "button";
    this.close.addEventListener("click", () => this.hide());
    this.box.replaceChildren(this.title, this.tile, this.push, this.close);
    this._texts();
  }

  _texts() {
    this.title.textContent = t("console.replay");
    this.close.textContent = t("console.replay.close");
    this.pushBacks.forEach((b) => { b.textContent = t(`replay.back.${b.dataset.seconds}`); });
    this.pushLive.textContent = t("console.replay.displayLive");
    if (this.target) this.pushLabel.textContent = t("console.replay.display", this.target);
    if (this.view) this.view.rerender();
  }

  async _open(cameraId) {
    let camera = this.ctx.cameras.get(cameraId);
    if (!camera || !camera.whep) camera = await api(`/api/cameras/${encodeURIComponent(cameraId)}`);
    if (!this.view || (this.view.camera && this.view.camera.id !== cameraId)) {
      this._drop();
      this.view = new CameraView(this.tile, "sub");
    }
    this.view.update(camera);
    this.box.hidden = false;
    this.box.dataset.camera = cameraId;
    clearInterval(this.timer);
    this.timer = setInterval(() => this.view && this.view.tick(performance.now()), 250);
  }

  // From a console tile: that camera, rewound 10 s, and the rewind buttons for the wall.
  async openTile(monitor, spec) {
    this.target = this.ctx.canPush ? { monitor, tile: spec.id } : null;
    this.push.hidden = !this.target;
    this._texts();
    await this._open(spec.camera);
    await this.view.replay.back(10);
  }

  // From an alarm: the seconds before it was raised, then live by itself.
  async openAlarm(alarm, seconds) {
    this.target = null;
    this.push.hidden = true;
    await this._open(alarm.camera);
    const raised = new Date(alarm.raised_at);
    await this.view.replay.playSpan(new Date(raised.getTime() - seconds * 1000), raised,
                                    "replay.alarm");
  }

  async sendToDisplay(body) {
    if (!this.target) return;
    const { monitor, tile } = this.target;
    try {
      const r = await api(`/api/walls/${encodeURIComponent(this.ctx.wallId)}/monitors/` +
                          `${encodeURIComponent(monitor)}/replay`, { method: "POST", body: { tile, ...body } });
      this.pushStatus.textContent = t("console.replay.sent", { n: r.displays });
    } catch (err) { this.ctx.showError(err); }
  }

  // The view's player and its replay bar go (a new camera gets a new view on the same tile).
  _drop() {
    if (!this.view) return;
    this.view.destroy();
    this.view.replay.destroy();
    this.view = null;
    this.tile.querySelector("video").srcObject = null;
  }

  hide() {
    clearInterval(this.timer);
    this._drop();
    this.box.hidden = true;
  }
}
