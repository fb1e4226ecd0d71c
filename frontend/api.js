// Small helpers around the JSON API (same origin, session cookie).

export class ApiError extends Error {
  constructor(status, code, message, retryAfterS = null) {
    super(message || code || `HTTP ${status}`);
    this.status = status;
    this.code = code;
    this.retryAfterS = retryAfterS;
  }
}

function retryAfter(response, body) {
  const header = response.headers.get("Retry-After");
  if (header && /^\d+$/.test(header.trim())) return Number(header.trim());
  const fromBody = body && body.error && (body.error.retry_after_s ?? body.error.retry_after);
  return typeof fromBody === "number" ? Math.ceil(fromBody) : null;
}

// fetch + JSON, throwing ApiError with the server's {"error": {...}} body.
export async function api(path, { method = "GET", body = undefined, signal = undefined } = {}) {
  const init = { method, credentials: "same-origin", headers: { Accept: "application/json" }, signal };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const response = await fetch(path, init);
  let data = null;
  const text = await response.text();
  if (text) {
    try {
      data = JSON.parse(text);
    } catch (_) {
      data = null;
    }
  }
  if (!response.ok) {
    const err = (data && data.error) || {};
    throw new ApiError(response.status, err.code, err.message, retryAfter(response, data));
  }
  return data;
}

export function me() {
  return api("/api/me");
}

export function logout() {
  return api("/api/logout", { method: "POST" });
}

// Only paths of this server may be a post-login target: an attacker-made link like
// /login?next=https://evil.example must not bounce the user off-site. The URL parser drops
// tabs, CR and LF anywhere and reads "\" as "/", so "/<tab>/evil.example" would become
// "//evil.example": refuse any such character, then let the parser itself confirm that the
// result stays on our origin with a path that does not start with "//", and hand back only its
// path, query and fragment.
export function safeNext(raw, fallback = "/live") {
  if (typeof raw !== "string" || !raw.startsWith("/") || /[\u0000-\u0020\u007f\\]/.test(raw)) {
    return fallback;
  }
  let url;
  try {
    url = new URL(raw, window.location.origin);
  } catch (_) {
    return fallback;
  }
  if (url.origin !== window.location.origin || raw.startsWith("//")) return fallback;
  // The parser also removes dot segments ("/.//evil", "/%2e//evil", "/x/..//evil"), which
  // can leave a path starting with "//": handed to location.assign, that is a host. Refuse it,
  // and confirm the path we hand back means the same path when parsed again.
  const target = url.pathname + url.search + url.hash;
  if (url.pathname.startsWith("//")) return fallback;
  let again;
  try {
    again = new URL(target, window.location.origin);
  } catch (_) {
    return fallback;
  }
  if (again.origin !== window.location.origin || again.pathname !== url.pathname) return fallback;
  return target;
}

export function goLogin() {
  const here = window.location.pathname + window.location.search;
  window.location.assign("/login?next=" + encodeURIComponent(here));
}

// Which API routes this user may call ({"/api/queues": true, "POST /api/x": false}), as the
// server's route table says: a page asks before calling, instead of absorbing 403s.
const allowedCache = new Map();
export function allowed(...paths) {
  const key = paths.join("\n");
  if (!allowedCache.has(key)) {
    const query = new URLSearchParams();
    for (const path of paths) query.append("path", path);
    allowedCache.set(key, api(`/api/allowed?${query}`).catch((err) => {
      allowedCache.delete(key);
      throw err;
    }));
  }
  return allowedCache.get(key);
}
