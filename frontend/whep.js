// Our own WHEP player (WebRTC-HTTP Egress Protocol): receive-only video.
//
// One WhepSession = one RTCPeerConnection = one POST of an SDP offer. We wait
// for ICE gathering to finish before posting (no trickle: the server does not
// need PATCH support), and DELETE the session's Location when we close so the
// server can stop sending at once instead of waiting for ICE to time out.
//
// WhepPlayer keeps a session alive for a <video>, and is the one place every viewer
// (display tiles, /live, the console, the leader view) re-offers: when a session cannot
// be set up, its connection fails or stays "disconnected" for DISCONNECTED_GRACE_MS, or
// its track stops delivering frames for STALL_MS (a media node that died: the browser's
// ICE would take far longer to notice), it closes that session (DELETE, best effort) and
// offers again after a backoff of 0.25 s doubling to 4 s with jitter, so a restarting
// server is not hammered by every open tile. A 503's Retry-After is honoured. Never two
// offers at once per player: closing a session aborts its POST.

const ICE_GATHER_TIMEOUT_MS = 2000;
const CONNECT_TIMEOUT_MS = 10000;
const POST_TIMEOUT_MS = 8000;           // a controller that died mid-request: give up, re-offer
const DISCONNECTED_GRACE_MS = 2000;     // "disconnected" often heals by itself; not longer
// frames stopped this long on a connected session (or 4 of its own frame gaps: a 1 fps
// stream is not stalled after 1.5 s)
const STALL_MS = 1500;
const FIRST_FRAME_MS = 8000;            // connected, but never a frame: offer again
const WATCH_EVERY_MS = 250;

// H.264 first: the server forwards the camera's H.264 as it is, and would
// otherwise get VP8 chosen by the browser. Packetization-mode 1 before 0.
function preferH264(transceiver) {
  if (typeof RTCRtpReceiver === "undefined" || !RTCRtpReceiver.getCapabilities) return;
  const caps = RTCRtpReceiver.getCapabilities("video");
  if (!caps || !transceiver.setCodecPreferences) return;
  const rank = (c) => {
    const mime = c.mimeType.toLowerCase();
    if (mime !== "video/h264") return 2;
    return /packetization-mode=1/.test(c.sdpFmtpLine || "") ? 0 : 1;
  };
  const codecs = [...caps.codecs].sort((a, b) => rank(a) - rank(b));
  try {
    transceiver.setCodecPreferences(codecs);
  } catch (err) {
    console.warn("setCodecPreferences failed; the browser picks the codec", err);
  }
}

function waitIceGathering(pc) {
  if (pc.iceGatheringState === "complete") return Promise.resolve();
  return new Promise((resolve) => {
    // Loopback and LAN candidates come almost at once; do not wait forever for
    // a candidate type that will never come (e.g. no STUN server configured).
    const timer = setTimeout(done, ICE_GATHER_TIMEOUT_MS);
    function done() {
      clearTimeout(timer);
      pc.removeEventListener("icegatheringstatechange", check);
      resolve();
    }
    function check() {
      if (pc.iceGatheringState === "complete") done();
    }
    pc.addEventListener("icegatheringstatechange", check);
  });
}

export class WhepError extends Error {
  constructor(message, status = 0, retryAfterMs = 0) {
    super(message);
    this.status = status;
    this.retryAfterMs = retryAfterMs;   // the server's Retry-After (503: overloaded)
  }
}

export class WhepSession {
  constructor(url, video) {
    this.url = url;
    this.video = video;
    this.pc = null;
    this.location = null;
    this.closed = false;
    this.abort = new AbortController();   // close() ends a POST still in flight
  }

  // Resolves once the answer is applied; rejects with WhepError.
  async start(onConnectionState) {
    const pc = new RTCPeerConnection({ iceServers: [] });
    this.pc = pc;
    const transceiver = pc.addTransceiver("video", { direction: "recvonly" });
    preferH264(transceiver);
    pc.addEventListener("track", (ev) => {
      const stream = ev.streams && ev.streams[0] ? ev.streams[0] : new MediaStream([ev.track]);
      this.video.srcObject = stream;
      const played = this.video.play();
      if (played && played.catch) played.catch(() => {});
    });
    pc.addEventListener("connectionstatechange", () => onConnectionState(pc.connectionState));
    await pc.setLocalDescription(await pc.createOffer());
    await waitIceGathering(pc);
    if (this.closed) throw new WhepError("closed");
    const timer = setTimeout(() => this.abort.abort(), POST_TIMEOUT_MS);
    let response;
    try {
      response = await fetch(this.url, {
        method: "POST",
        headers: { "Content-Type": "application/sdp" },
        body: pc.localDescription.sdp,
        credentials: "same-origin",
        signal: this.abort.signal,
      });
    } catch (err) {
      throw new WhepError(this.closed ? "closed" : `WHEP POST failed: ${err.message || err}`);
    } finally {
      clearTimeout(timer);
    }
    if (response.status !== 201 && response.status !== 200) {
      const retryAfter = Number(response.headers.get("Retry-After")) || 0;
      throw new WhepError(`WHEP POST ${response.status}`, response.status, retryAfter * 1000);
    }
    const loc = response.headers.get("Location");
    if (loc) this.location = new URL(loc, new URL(this.url, window.location.href)).href;
    const answer = await response.text();
    if (this.closed) {
      this.close();
      throw new WhepError("closed");
    }
    await pc.setRemoteDescription({ type: "answer", sdp: answer });
  }

  close() {
    this.closed = true;
    this.abort.abort();
    // DELETE first: the server then ends the session on our word instead of
    // noticing the closed peer later. keepalive lets it finish during unload.
    if (this.location) {
      fetch(this.location, { method: "DELETE", credentials: "same-origin", keepalive: true })
        .catch(() => {});
      this.location = null;
    }
    if (this.pc) {
      this.pc.close();
      this.pc = null;
    }
  }
}

// Keeps one <video> playing one WHEP URL until stop(), re-offering by itself.
export class WhepPlayer {
  constructor(url, video, { onStatus = () => {}, minDelayMs = 250, maxDelayMs = 4000 } = {}) {
    this.url = url;
    this.video = video;
    this.onStatus = onStatus;
    this.minDelayMs = minDelayMs;
    this.maxDelayMs = maxDelayMs;
    this.failures = 0;        // in a row, since frames last flowed: the backoff grows with it
    this.reoffers = 0;        // sessions replaced after a failure (for pages and tests)
    this.session = null;
    this.stopped = false;
    this.retryTimer = null;
    this.watchTimer = null;
    this.frameTimer = null;
  }

  start() {
    this.stopped = false;
    this._connect();
    clearInterval(this.frameTimer);
    this.frameTimer = setInterval(() => this._watchFrames(), WATCH_EVERY_MS);
    return this;
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    clearTimeout(this.watchTimer);
    clearInterval(this.frameTimer);
    if (this.session) this.session.close();
    this.session = null;
    this.video.srcObject = null;
  }

  // Drop the current session and connect again now (e.g. the picture froze).
  restart() {
    if (this.stopped) return;
    this._fail("restart requested", false);
  }

  async _connect() {
    if (this.stopped) return;
    const session = new WhepSession(this.url, this.video);
    session.connectedAt = 0;
    session.frames = -1;           // the <video>'s decoded-frame count when last looked at
    session.progressAt = 0;        // when that count last moved (0: no frame yet)
    session.gapMs = 0;             // the usual time between moves (smoothed)
    this.session = session;
    this.onStatus("connecting");
    clearTimeout(this.watchTimer);
    this.watchTimer = setTimeout(() => {
      if (this.session === session && session.pc && session.pc.connectionState !== "connected") {
        this._fail("connect timeout");
      }
    }, CONNECT_TIMEOUT_MS);
    try {
      await session.start((state) => this._onConnectionState(session, state));
    } catch (err) {
      if (this.session === session && !this.stopped) {
        this._fail(err.message || String(err), true, err.retryAfterMs || 0);
      }
    }
  }

  _decodedFrames() {
    const v = this.video;
    if (v.getVideoPlaybackQuality) return v.getVideoPlaybackQuality().totalVideoFrames;
    return Math.floor(v.currentTime * 1000);       // no frame count: time moves instead
  }

  // The track stopped delivering frames (its media node died, the camera's relay broke)
  // while the peer connection still looks fine: offer again rather than wait for ICE.
  _watchFrames() {
    const session = this.session;
    if (this.stopped || !session || !session.connectedAt) return;
    const now = performance.now();
    const frames = this._decodedFrames();
    if (frames !== session.frames) {
      const first = session.progressAt === 0 && session.frames !== -1;
      session.frames = frames;
      // the first look only takes the count: a new session on the same <video> may
      // still show the old one's count until its own first frame
      if (session.progressAt !== 0 || first) {
        if (session.progressAt) {
          const gap = now - session.progressAt;
          session.gapMs = session.gapMs ? session.gapMs * 0.8 + gap * 0.2 : gap;
        }
        session.progressAt = now;
        if (this.failures) { this.failures = 0; this.onStatus("playing"); }
      }
      return;
    }
    if (document.hidden) { if (session.progressAt) session.progressAt = now; return; }
    if (session.progressAt && now - session.progressAt > Math.max(STALL_MS, 4 * session.gapMs)) {
      this._fail("no frames");
    } else if (!session.progressAt && now - session.connectedAt > FIRST_FRAME_MS) {
      this._fail("no first frame");
    }
  }

  _onConnectionState(session, state) {
    if (this.session !== session || this.stopped) return;
    if (state === "connected") {
      clearTimeout(this.watchTimer);
      if (!session.connectedAt) session.connectedAt = performance.now();
      this.onStatus("connected");
    } else if (state === "failed" || state === "closed") {
      this._fail(`connection ${state}`);
    } else if (state === "disconnected") {
      clearTimeout(this.watchTimer);
      this.watchTimer = setTimeout(() => {
        if (this.session === session && session.pc && session.pc.connectionState !== "connected") {
          this._fail("disconnected");
        }
      }, DISCONNECTED_GRACE_MS);
    }
  }

  _fail(reason, countIt = true, notBeforeMs = 0) {
    if (this.session) {
      this.session.close();          // DELETE the old session, best effort
      this.reoffers += 1;
      this.video.dataset.whepReoffers = String(this.reoffers);
    }
    this.session = null;
    clearTimeout(this.watchTimer);
    clearTimeout(this.retryTimer);
    if (this.stopped) return;
    if (countIt) this.failures += 1;
    const base = Math.min(this.maxDelayMs, this.minDelayMs * 2 ** Math.max(0, this.failures - 1));
    // an overloaded or restarting server says when to come back: never sooner, spread a little
    const delay = Math.max(countIt ? base / 2 + Math.random() * (base / 2) : 0,
                           notBeforeMs ? notBeforeMs * (1 + Math.random() / 4) : 0);
    this.onStatus("retrying", { reason, delayMs: Math.round(delay) });
    this.retryTimer = setTimeout(() => this._connect(), delay);
  }
}
