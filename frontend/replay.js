// Instant replay on a camera tile: back 10 s / 30 s / 2 min or to a point on a small
// timeline, play at 1x or faster, pause, and one action back to live.
//
// The live <video> keeps playing underneath; the replay plays in a second <video>
// laid over it, from the server's MP4 of that span (the browser's own demuxer), so
// going back to live is only hiding the replay: no new session, no waiting. While a
// replay shows, the tile says so in big letters with the picture's time (+07:00).
// The MP4 is fetched (not streamed into the <video>) to read its X-Replay-Start
// header: the wall-clock time of its first picture, which the clock on the tile
// counts from. A span is fetched CHUNK_S at a time; at its end the next one follows,
// and once the replay has caught up with the buffer's end the tile goes live again.
// A span with an end (playSpan: the seconds before an alarm) goes live at that end.
// On a display tile (no pointer, no keyboard) the bar is left out: `controls: false`.

import { t, vnClock } from "/static/i18n.js";

const CHUNK_S = 30;                // seconds fetched per request
const LIVE_MARGIN_S = 3;           // within this of the buffer's end: go live
const SPEEDS = [1, 2, 4];
const BACKS = [10, 30, 120];       // the rewind buttons, seconds

function el(tag, cls, text) {
  const node = document.createElement(tag);
  if (cls) node.className = cls;
  if (text !== undefined) node.textContent = text;
  return node;
}

function vnTime(date) {
  return `${vnClock(date)} +07:00`;
}

export class ReplayControls {
  // root: the tile (holds the live <video>); camera(): the camera shown now;
  // stream: "sub" or "main" (the buffered one is used when this one is not).
  constructor(root, camera, stream, { controls = true } = {}) {
    this.root = root;
    this.camera = camera;
    this.stream = stream;
    this.controls = controls;
    this.active = false;
    this.until = null;             // Date: go live once the picture reaches it
    this.label = "replay.banner";  // the banner's text key
    this.range = null;             // {from: Date, to: Date} of the stream played
    this.chunk = null;             // {start: Date, end: Date, url}
    this.speed = 1;
    this.objectUrl = null;
    this.requestedAt = 0;
    this._build();
  }

  // The replay's own <video>, in the tile only while it replays (a live tile keeps
  // exactly one <video>, which is what every reader of a tile's picture expects).
  _video() {
    const video = el("video", "replay-video");
    video.muted = true;
    video.playsInline = true;
    video.addEventListener("ended", () => this._next());
    video.addEventListener("playing", () => {
      if (this.requestedAt) {
        this.root.dataset.replayFirstFrameMs = String(Math.round(performance.now() - this.requestedAt));
        this.requestedAt = 0;
      }
    });
    return video;
  }

  _build() {
    this.video = this._video();        // detached until a replay starts
    this.banner = el("div", "replay-banner");
    this.banner.hidden = true;
    this.bar = el("div", "replay-bar");
    this.bar.addEventListener("click", (ev) => ev.stopPropagation());
    this.bar.addEventListener("keydown", (ev) => ev.stopPropagation());
    this.backs = BACKS.map((s) => {
      const b = el("button", "btn replay-back");
      b.type = "button";
      b.dataset.seconds = String(s);
      b.addEventListener("click", () => this.back(s));
      return b;
    });
    this.timeline = el("input", "replay-timeline");
    this.timeline.type = "range";
    this.timeline.min = "0";
    this.timeline.max = "1000";
    this.timeline.step = "1";
    this.timeline.addEventListener("change", () => this._pick());
    this.playButton = el("button", "btn replay-play");
    this.playButton.type = "button";
    this.playButton.addEventListener("click", () => this.togglePause());
    this.speedButton = el("button", "btn replay-speed");
    this.speedButton.type = "button";
    this.speedButton.addEventListener("click", () => this.nextSpeed());
    this.liveButton = el("button", "btn btn-primary replay-live");
    this.liveButton.type = "button";
    this.liveButton.addEventListener("click", () => this.goLive());
    this.error = el("span", "replay-error");
    this.bar.append(...this.backs, this.timeline, this.playButton, this.speedButton,
      this.liveButton, this.error);
    this.root.append(this.banner);
    if (this.controls) this.root.append(this.bar);
    this.render();
  }

  cameraId() {
    const cam = this.camera();
    return cam ? cam.id : null;
  }

  async _range() {
    const id = this.cameraId();
    const r = await fetch(`/api/cameras/${encodeURIComponent(id)}/replay`, { credentials: "same-origin" });
    if (!r.ok) throw new Error(String(r.status));
    const streams = (await r.json()).streams || {};
    const name = streams[this.stream] ? this.stream : Object.keys(streams)[0];
    if (!name) return null;
    return { stream: name, from: new Date(streams[name].from), to: new Date(streams[name].to) };
  }

  // Rewind ``seconds`` from now (from the replay's own time when already replaying).
  async back(seconds) {
    const base = this.active ? this.position() : new Date();
    await this.seek(new Date(base.getTime() - seconds * 1000));
  }

  // Play from ``start`` to ``until`` under the banner ``label`` (an i18n key), then go live.
  async playSpan(start, until, label) {
    await this.seek(start, { until, label });
  }

  async seek(when, { until = null, label = "replay.banner" } = {}) {
    this.until = until;
    this.label = label;
    this.requestedAt = performance.now();
    this.error.textContent = "";
    try {
      this.range = await this._range();
    } catch (_) {
      this.range = null;
    }
    this.root.dataset.replayRangeMs = String(Math.round(performance.now() - this.requestedAt));
    if (!this.range) {
      this.error.textContent = t("replay.none");
      return;
    }
    const from = this.range.from.getTime();
    const target = Math.min(Math.max(when.getTime(), from), this.range.to.getTime() - 1000);
    await this._load(new Date(target));
  }

  async _load(start) {
    const id = encodeURIComponent(this.cameraId());
    const url = `/api/cameras/${id}/replay/${this.range.stream}.mp4?start=` +
      `${encodeURIComponent(start.toISOString())}&duration=${CHUNK_S}`;
    const r = await fetch(url, { credentials: "same-origin" });
    if (!r.ok) {
      this.error.textContent = r.status === 404 ? t("replay.none") : t("replay.failed", { status: r.status });
      return;
    }
    const blob = await r.blob();
    if (this.requestedAt) {
      this.root.dataset.replayFetchMs = String(Math.round(performance.now() - this.requestedAt));
    }
    this.chunk = {
      start: new Date(r.headers.get("X-Replay-Start")),
      end: new Date(r.headers.get("X-Replay-End")),
      url,
    };
    if (this.objectUrl) URL.revokeObjectURL(this.objectUrl);
    this.objectUrl = URL.createObjectURL(blob);
    this.active = true;
    if (!this.video.isConnected) {
      // over the live picture (a display tile may not have one yet: then first in the tile)
      const live = this.root.querySelector("video:not(.replay-video)");
      if (live) live.after(this.video);
      else this.root.prepend(this.video);
    }
    this.video.src = this.objectUrl;
    this.video.playbackRate = this.speed;
    this.root.classList.add("is-replay");
    this.root.dataset.replay = "1";
    this.root.dataset.replayLabel = this.label;
    this.root.dataset.replayStart = this.chunk.start.toISOString();
    try {
      await this.video.play();
    } catch (_) { /* paused by the user meanwhile, or autoplay refused: the bar still works */ }
    this.render();
  }

  async _next() {
    if (!this.active || !this.chunk) return;
    if (this.until && this.chunk.end.getTime() >= this.until.getTime()) {
      this.goLive();
      return;
    }
    const range = await this._range().catch(() => null);
    if (!range || range.to.getTime() - this.chunk.end.getTime() < LIVE_MARGIN_S * 1000) {
      this.goLive();
      return;
    }
    this.range = range;
    await this._load(this.chunk.end);
  }

  _pick() {
    if (!this.range) return;
    const from = this.range.from.getTime();
    const span = this.range.to.getTime() - from;
    this.seek(new Date(from + (span * Number(this.timeline.value)) / 1000));
  }

  togglePause() {
    if (!this.active) return;
    if (this.video.paused) this.video.play().catch(() => {});
    else this.video.pause();
    this.render();
  }

  nextSpeed() {
    this.speed = SPEEDS[(SPEEDS.indexOf(this.speed) + 1) % SPEEDS.length];
    this.video.playbackRate = this.speed;
    this.render();
  }

  goLive() {
    this.active = false;
    this.until = null;
    this.chunk = null;
    this.video.pause();
    this.video.removeAttribute("src");
    this.video.load();
    this.video.remove();
    if (this.objectUrl) URL.revokeObjectURL(this.objectUrl);
    this.objectUrl = null;
    this.root.classList.remove("is-replay");
    this.root.dataset.replay = "0";
    this.render();
  }

  // The wall-clock time of the picture shown now.
  position() {
    if (!this.chunk) return new Date();
    return new Date(this.chunk.start.getTime() + this.video.currentTime * 1000);
  }

  // Called by the page's tick and on a language change.
  render() {
    this.backs.forEach((b) => { b.textContent = t(`replay.back.${b.dataset.seconds}`); });
    this.playButton.textContent = this.video.paused && this.active ? t("replay.play") : t("replay.pause");
    this.playButton.disabled = !this.active;
    this.speedButton.textContent = `${this.speed}×`;
    this.liveButton.textContent = t("replay.live");
    this.liveButton.disabled = !this.active;
    this.timeline.disabled = !this.active;
    this.timeline.setAttribute("aria-label", t("replay.timeline"));
    this.banner.hidden = !this.active;
    if (!this.active) return;
    const at = this.position();
    if (this.until && at.getTime() >= this.until.getTime()) {
      this.goLive();                   // the span asked for is over: live again
      return;
    }
    this.root.dataset.replayAt = at.toISOString();
    this.banner.textContent = `${t(this.label)} · ${vnTime(at)}`;
    if (this.range) {
      const from = this.range.from.getTime();
      const span = Math.max(1, this.range.to.getTime() - from);
      if (document.activeElement !== this.timeline) {
        this.timeline.value = String(Math.round(((at.getTime() - from) * 1000) / span));
      }
    }
  }

  destroy() {
    this.goLive();
    this.banner.remove();
    this.bar.remove();
  }
}
