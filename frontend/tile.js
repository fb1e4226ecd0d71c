// One camera on screen: a <video> fed by a WhepPlayer, its name, state badge,
// fps, the "signal lost" overlay, and instant replay (replay.js). Used by the grid,
// the full view and the leader page.

import { t, vnClock } from "/static/i18n.js";
import { ReplayControls } from "/static/replay.js";
import { WhepPlayer } from "/static/whep.js";

const LOST_STATES = new Set(["stalled", "lost"]);
const KNOWN_STATES = new Set(["connecting", "live", "stalled", "lost"]);
const PROGRESS_WINDOW_MS = 2500;   // no new frame for this long = not playing
const FROZEN_RESTART_MS = 6000;    // server says live but our picture froze: reconnect
const MIN_RESTART_GAP_MS = 8000;
const RATE_WINDOW_MS = 2000;       // decoded fps measured over this window
const SLUGGISH_WINDOWS = 2;        // this many slow windows in a row: reconnect

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
    this.lastFrames = 0;
    this.restarts = 0;
    this.rate = { at: 0, frames: 0, slow: 0 };
    this.startedAt = 0;
    this.lostSince = null;
    this.playing = false;
    this.replay = new ReplayControls(root, () => this.camera, stream === "main" ? "main" : "sub");
  }

  // currentTime of a MediaStream keeps running on a frozen picture, so real
  // progress is counted in decoded frames where the browser can tell us.
  _framesAdvanced() {
    const v = this.video;
    if (!v.getVideoPlaybackQuality) return true;     // no way to count: trust currentTime
    const count = v.getVideoPlaybackQuality().totalVideoFrames;
    // a new session on the same <video> starts the count again
    const advanced = count > this.lastFrames || (count < this.lastFrames && count > 0);
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
    this.replay.render();
    this._measureRate(now);
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
      this._restart(now);
    }
  }

  // A session can survive a camera reconnect yet deliver only a trickle of
  // decodable frames (broken references until the decoder gets a clean
  // keyframe). If the server receives at full rate while we decode far less,
  // a new session (which starts from the server's keyframe cache) fixes it.
  _measureRate(now) {
    const q = this.video.getVideoPlaybackQuality ? this.video.getVideoPlaybackQuality() : null;
    if (!q) return;
    const r = this.rate;
    if (now - r.at < RATE_WINDOW_MS) return;
    const frames = q.totalVideoFrames;
    const fps = r.at && frames >= r.frames ? ((frames - r.frames) * 1000) / (now - r.at) : null;
    r.at = now;
    r.frames = frames;
    if (fps === null) return;
    this.root.dataset.clientFps = fps.toFixed(1);
    const own = this.camera && this.camera.streams && this.camera.streams[this.stream];
    const serverFps = Number(own && own.fps !== undefined ? own.fps : this.camera && this.camera.fps);
    const sluggish = this.state() === "live" && serverFps >= 5 && fps < serverFps * 0.3;
    r.slow = sluggish ? r.slow + 1 : 0;
    if (r.slow >= SLUGGISH_WINDOWS && now - this.startedAt > MIN_RESTART_GAP_MS && this.player) {
      r.slow = 0;
      this._restart(now);
    }
  }

  _restart(now) {
    this.startedAt = now;
    this.restarts += 1;
    this.root.dataset.restarts = String(this.restarts);
    this.player.restart();
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
    this.replay.render();
  }

  destroy() {
    this.replay.goLive();
    if (this.player) this.player.stop();
    this.player = null;
    this.url = null;
  }
}
