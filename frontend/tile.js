// One camera on screen: a <video> fed by a WhepPlayer, its name, state badge,
// fps, and the "signal lost" overlay. Used by the grid and the full view.

import { t, vnClock } from "/static/i18n.js";
import { WhepPlayer } from "/static/whep.js";

const LOST_STATES = new Set(["stalled", "lost"]);
const KNOWN_STATES = new Set(["connecting", "live", "stalled", "lost"]);
const PROGRESS_WINDOW_MS = 2500;   // no new frame for this long = not playing
const FROZEN_RESTART_MS = 6000;    // server says live but our picture froze: reconnect
const MIN_RESTART_GAP_MS = 8000;

export class CameraView {
  // root holds: video, .lost-overlay, .connecting-overlay?, .badge, .fps, .tile-name?
  constructor(root, stream) {
    this.root = root;
    this.stream = stream;            // "sub" or "main"
    this.video = root.querySelector("video");
    this.overlay = root.querySelector(".lost-overlay");
    this.badge = root.querySelector(".badge");
    this.fps = root.querySelector(".fps");
    this.camera = null;
    this.player = null;
    this.url = null;
    this.lastTime = -1;
    this.lastProgressAt = 0;
    this.frames = 0;                 // decoded frames presented (requestVideoFrameCallback)
    this.lastFrames = 0;
    this._watchFrames();
    this.startedAt = 0;
    this.lostSince = null;
    this.playing = false;
  }

  // currentTime of a MediaStream keeps running on a frozen picture, so real
  // progress is counted in presented frames where the browser can tell us.
  _watchFrames() {
    if (!this.video.requestVideoFrameCallback) return;
    const onFrame = () => {
      this.frames += 1;
      this.video.requestVideoFrameCallback(onFrame);
    };
    this.video.requestVideoFrameCallback(onFrame);
  }

  _framesAdvanced() {
    const v = this.video;
    let count = this.frames;
    if (!v.requestVideoFrameCallback && v.getVideoPlaybackQuality) {
      count = v.getVideoPlaybackQuality().totalVideoFrames;
    } else if (!v.requestVideoFrameCallback) {
      return true;                   // no way to count: trust currentTime
    }
    const advanced = count > this.lastFrames;
    this.lastFrames = count;
    return advanced;
  }

  update(camera) {
    this.camera = camera;
    this.root.dataset.cameraId = camera.id;
    const name = this.root.querySelector(".tile-name");
    if (name) name.textContent = camera.name || camera.id;
    const where = this.root.querySelector(".tile-location");
    if (where) where.textContent = camera.location || "";
    this.root.title = camera.name || camera.id;
    this._render();
    const whep = camera.whep || {};
    const url = whep[this.stream] || whep.main || whep.sub;
    if (url && url !== this.url) this._play(url);
  }

  _play(url) {
    if (this.player) this.player.stop();
    this.url = url;
    this.startedAt = performance.now();
    this.player = new WhepPlayer(url, this.video, {
      onStatus: (status) => { this.root.dataset.session = status; },
    }).start();
  }

  state() {
    const s = this.camera && this.camera.state;
    return KNOWN_STATES.has(s) ? s : "connecting";
  }

  // Called by the page every few hundred ms: is the picture really moving?
  tick(now) {
    const v = this.video;
    const timeAdvanced = v.currentTime > this.lastTime;
    this.lastTime = v.currentTime;
    if (this._framesAdvanced() && timeAdvanced && v.videoWidth > 0) this.lastProgressAt = now;
    const playing = v.videoWidth > 0 && now - this.lastProgressAt < PROGRESS_WINDOW_MS;
    if (playing !== this.playing) {
      this.playing = playing;
      this.root.dataset.playing = playing ? "1" : "0";
    }
    this.root.dataset.videoWidth = String(v.videoWidth);
    this._maybeRestart(now);
    return playing && !LOST_STATES.has(this.state());
  }

  // The server reconnects the camera under our session; if the picture still
  // does not move while the server reports "live", our session is the
  // problem (e.g. it broke during a server restart): open a new one.
  _maybeRestart(now) {
    if (!this.player || this.state() !== "live" || this.playing) return;
    const since = Math.max(this.lastProgressAt, this.startedAt);
    if (now - since > FROZEN_RESTART_MS && now - this.startedAt > MIN_RESTART_GAP_MS) {
      this.startedAt = now;
      this.player.restart();
    }
  }

  _render() {
    const state = this.state();
    this.root.dataset.state = state;
    const lost = LOST_STATES.has(state);
    if (lost && this.lostSince === null) this.lostSince = new Date();
    if (!lost) this.lostSince = null;
    this.overlay.hidden = !lost;
    this.root.classList.toggle("is-lost", lost);
    const since = this.overlay.querySelector(".lost-since");
    if (since) since.textContent = this.lostSince ? t("live.lost.since", { t: vnClock(this.lostSince) }) : "";
    if (this.badge) {
      this.badge.className = `badge state-${state}`;
      this.badge.dataset.i18n = `state.${state}`;
      this.badge.textContent = t(`state.${state}`);
    }
    if (this.fps) {
      const own = this.camera && this.camera.streams && this.camera.streams[this.stream];
      const fps = Number(own && own.fps !== undefined ? own.fps : this.camera && this.camera.fps);
      this.fps.textContent = Number.isFinite(fps) && !lost ? `${fps.toFixed(1)} fps` : "";
    }
  }

  rerender() {
    if (this.camera) this._render();
  }

  destroy() {
    if (this.player) this.player.stop();
    this.player = null;
    this.url = null;
  }
}
