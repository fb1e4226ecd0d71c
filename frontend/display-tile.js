// One tile of the display page. Camera tiles play WHEP, on the stream the controller
// chose for this screen (the tile's `play`: camera id -> stream; the rule is in
// layouts/streams.py); a switch keeps the old picture until the new stream has its
// first frame, so there is no black gap. A camera tile can replay (replay.js, without its
// bar): an operator's pushed rewind, or the seconds before an alarm on a highlighted tile.

import { WhepPlayer } from "/static/whep.js";
import { vnClock } from "/static/i18n.js";
import { ReplayControls } from "/static/replay.js";
import { QueueOverlay, countsText } from "/static/queue-overlay.js";

const LOST_AFTER_MS = 3000;
const NO_DATA = "chưa có dữ liệu / no data";

class VideoSource {
  constructor(root, url, stream) {
    this.video = document.createElement("video");
    Object.assign(this.video, { muted: true, autoplay: true, playsInline: true });
    this.video.dataset.stream = stream;
    this.stream = stream;
    this.frames = 0;
    this.lastFrames = 0;
    this.lastProgress = performance.now();
    this.rate = 0;
    this.rateAt = performance.now();
    this.rateFrames = 0;
    root.prepend(this.video);
    this.player = new WhepPlayer(url, this.video).start();
  }
  decoded() {
    const q = this.video.getVideoPlaybackQuality && this.video.getVideoPlaybackQuality();
    return q ? { total: q.totalVideoFrames, dropped: q.droppedVideoFrames } : { total: 0, dropped: 0 };
  }
  hasFrame() { return this.video.videoWidth > 0 && this.decoded().total > 0; }
  tick(now) {
    const { total } = this.decoded();
    if (total !== this.lastFrames) { this.lastFrames = total; this.lastProgress = now; }
    if (now - this.rateAt >= 2000) {
      this.rate = ((total - this.rateFrames) * 1000) / (now - this.rateAt);
      this.rateAt = now; this.rateFrames = total;
    }
    return now - this.lastProgress < LOST_AFTER_MS && this.hasFrame();
  }
  stop() { this.player.stop(); this.video.remove(); }
}

export class DisplayTile {
  constructor(grid, spec, cameras) {
    this.spec = spec;
    this.cameras = cameras;
    this.root = document.createElement("section");
    this.root.className = `dtile kind-${spec.kind}`;
    this.root.dataset.tile = spec.id;
    this.root.dataset.playing = "0";
    grid.append(this.root);
    this.source = null;       // what is on screen
    this.next = null;         // a stream switch waiting for its first frame
    this.tourIndex = 0;
    this.place(spec);
    this._build();
  }

  sameSource(spec) {
    const a = this.spec;
    return a.kind === spec.kind && a.camera === spec.camera && a.stream === spec.stream &&
      JSON.stringify([a.cameras, a.indicator, a.centre, a.counters, a.text, a.dwell_s]) ===
      JSON.stringify([spec.cameras, spec.indicator, spec.centre, spec.counters, spec.text, spec.dwell_s]);
  }

  place(spec) {
    this.spec = spec;
    const s = this.root.style;
    s.gridColumn = `${spec.x + 1} / span ${spec.w}`;
    s.gridRow = `${spec.y + 1} / span ${spec.h}`;
    s.zIndex = String(spec.layer || 0);
    this.root.classList.toggle("is-highlight", !!spec.highlight);
    if (this.name) this._pickStream();      // the controller may have chosen another stream
  }

  _build() {
    const k = this.spec.kind;
    if (k === "camera" || k === "tour") {
      this.name = document.createElement("span");
      this.name.className = "dname";
      this.lost = document.createElement("div");
      this.lost.className = "dlost";
      this.lost.textContent = "Mất tín hiệu / Signal lost";
      this.lost.hidden = true;
      this.root.append(this.name, this.lost);
      this.queues = new QueueOverlay(this.root, () => (this.source || this.next || {}).video);
      if (k === "camera") {
        this.replay = new ReplayControls(this.root, () => ({ id: this.cameraId() }), "sub",
                                         { controls: false });
      }
      if (k === "tour") {
        this.tourTimer = setInterval(() => { this.tourIndex += 1; this._pickStream(true); },
                                     (this.spec.dwell_s || 10) * 1000);
      }
      this._pickStream();
      return;
    }
    this.value = document.createElement("div");
    this.value.className = "dvalue";
    this.root.append(this.value);
    if (k === "clock") {
      const draw = () => { this.value.textContent = vnClock(); };
      draw();
      this.clockTimer = setInterval(draw, 1000);
    } else if (k === "text") {
      this.value.textContent = this.spec.text || "";
    } else if (k === "indicator" || k === "queue") {
      this._loadData();
    } else if (k === "alarms") {
      this.value.textContent = "Không có cảnh báo / No alarms";
    }
    this.rendered = true;
  }

  async _loadData() {
    const label = this.spec.kind === "indicator" ? this.spec.indicator
      : `${this.spec.centre} ${(this.spec.counters || []).join(", ")}`;
    this.value.replaceChildren(document.createTextNode(label), document.createElement("small"));
    this.value.lastChild.textContent = NO_DATA;
    if (this.spec.kind === "indicator") {
      try {
        const r = await fetch("/api/indicators", { credentials: "same-origin" });
        if (r.ok) {
          const list = await r.json();
          const found = (Array.isArray(list) ? list : list.indicators || [])
            .find((i) => i.id === this.spec.indicator);
          if (found && found.value !== undefined) this.value.lastChild.textContent = String(found.value);
        }
      } catch (err) { /* no indicators API yet: "no data" stays */ }
    } else {
      await this._loadQueue();
      this.queueTimer = setInterval(() => this._loadQueue(), 2000);
    }
    this.rendered = true;
  }

  // A queue tile: people waiting at each listed counter (zone) of the counting camera
  // (`centre`), from /api/queues; "no data" until analytics has counted them.
  async _loadQueue() {
    try {
      const r = await fetch(`/api/queues?camera=${encodeURIComponent(this.spec.centre)}`,
                            { credentials: "same-origin" });
      if (!r.ok) return;
      const rows = await r.json();
      const wanted = this.spec.counters || [];
      // each counter with its count's age; a stale count or analytics off says so
      const shown = rows.filter((q) => !wanted.length || wanted.includes(q.zone))
        .map((q) => countsText(q.zone, q));
      this.value.lastChild.textContent = shown.length ? shown.join(" · ") : NO_DATA;
    } catch (err) { /* the controller is away: keep the last figures */ }
  }

  cameraId() {
    if (this.spec.kind === "tour") {
      const list = this.spec.cameras || [];
      return list[this.tourIndex % list.length];
    }
    return this.spec.camera;
  }

  _pickStream(force = false) {
    if (this.spec.kind !== "camera" && this.spec.kind !== "tour") return;
    const cam = this.cameras.get(this.cameraId());
    if (!cam) { this.lost.hidden = false; return; }
    this.name.textContent = cam.name || cam.id;
    this.queues.setCamera(cam.id);
    const stream = (this.spec.play || {})[cam.id];
    const url = stream && cam.whep[stream];
    if (!url) return;
    const current = this.next || this.source;
    if (!force && current && current.url === url) return;
    if (this.next) this.next.stop();
    this.next = new VideoSource(this.root, url, stream);
    this.next.url = url;
    this.root.dataset.wantedStream = stream;
  }

  // An operator's rewind (start: Date) on this tile; the display's own session fetches it.
  replayFrom(start) {
    if (this.replay) this.replay.seek(start, { label: "display.replay" });
  }

  // The seconds before an alarm raised at ``raisedAt`` (Date), then live by itself.
  alarmContext(raisedAt, seconds) {
    if (!this.replay || !(seconds > 0)) return;
    this.replay.playSpan(new Date(raisedAt.getTime() - seconds * 1000), raisedAt,
                         "display.replay.alarm");
  }

  goLive() {
    if (this.replay && this.replay.active) this.replay.goLive();
  }

  tick(now) {
    if (this.replay) this.replay.render();
    if (this.next && this.next.hasFrame()) {
      // the new stream has its first frame: only now does the old one go
      if (this.source) this.source.stop();
      this.source = this.next;
      this.next = null;
      this.root.dataset.stream = this.source.stream;
      this.root.dataset.switches = String(Number(this.root.dataset.switches || 0) + 1);
    }
    if (!this.source) {
      if (this.next === null && this.lost) this.lost.hidden = false;
      return !!this.rendered;
    }
    const playing = this.source.tick(now);
    this.root.dataset.playing = playing ? "1" : "0";
    this.lost.hidden = playing || !!this.next;
    return playing;
  }

  health() {
    const s = this.source;
    if (!s) return { fps: 0, dropped: 0, stream: "", playing: false };
    return { fps: Math.round(s.rate * 10) / 10, dropped: s.decoded().dropped, stream: s.stream,
             playing: this.root.dataset.playing === "1" };
  }

  // Queue alarms (wall/walls/alarms.py: raised/cleared, with a count) and health alerts
  // (wall/health/: raised/acknowledged/resolved, with "alert" and both languages' titles)
  // arrive on the same path; the tile keeps every open one and shows the newest.
  resetAlarms(list) {
    if (this.spec.kind !== "alarms") return;
    this.open = new Map();
    for (const msg of list) this.onAlarm(msg);
    if (!list.length) this.onAlarm({ state: "cleared", alarm: -1 });
  }

  onAlarm(msg) {
    if (this.spec.kind !== "alarms") return;
    this.open = this.open || new Map();
    const key = msg.alert ? `alert:${msg.alert}` : `alarm:${msg.alarm}`;
    if (msg.state === "cleared" || msg.state === "resolved") this.open.delete(key);
    else {
      this.open.delete(key);
      const text = msg.alert ? `${msg.name} / ${msg.name_en}` : `${msg.name}: ${msg.count}`;
      this.open.set(key, msg.state === "acknowledged" ? `✓ ${text}` : `⚠ ${text}`);
    }
    const shown = [...this.open.values()];
    this.value.textContent = shown.length
      ? shown[shown.length - 1] + (shown.length > 1 ? ` (+${shown.length - 1})` : "")
      : "Không có cảnh báo / No alarms";
  }

  destroy() {
    clearInterval(this.clockTimer);
    clearInterval(this.queueTimer);
    clearInterval(this.tourTimer);
    if (this.queues) this.queues.destroy();
    if (this.replay) this.replay.destroy();
    if (this.source) this.source.stop();
    if (this.next) this.next.stop();
    this.root.remove();
  }
}
