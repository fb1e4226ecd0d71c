// Login form: POST /api/login, then go to ?next= (same-site paths only), or without one to the
// home of the user's role (the server's /api/nav says which: wall/pages.py HOME_BY_ROLE).
import { api, me, safeNext } from "/static/api.js";
import { apply, bindToggle, onLangChange, t } from "/static/i18n.js";

const form = document.getElementById("login-form");
const errorBox = document.getElementById("login-error");
const submit = document.getElementById("submit");
const next = safeNext(new URLSearchParams(window.location.search).get("next"), null);

async function target() {
  if (next) return next;
  try {
    return (await api("/api/nav")).home || "/";
  } catch (_) {
    return "/";
  }
}
let lastError = null;          // {key, vars} so a language switch re-renders it
let countdown = null;

function showError(key, vars = {}) {
  lastError = { key, vars };
  errorBox.textContent = t(key, vars);
  errorBox.hidden = false;
  errorBox.dataset.code = key;
}

function clearError() {
  lastError = null;
  errorBox.hidden = true;
  errorBox.textContent = "";
  delete errorBox.dataset.code;
}

// Rate limited: count down so the user sees when the form works again.
function startCountdown(seconds) {
  clearInterval(countdown);
  let left = Math.max(1, seconds);
  submit.disabled = true;
  showError("login.err.limited", { s: left });
  countdown = setInterval(() => {
    left -= 1;
    if (left <= 0) {
      clearInterval(countdown);
      submit.disabled = false;
      showError("login.err.limited.now");
    } else {
      showError("login.err.limited", { s: left });
    }
  }, 1000);
}

async function onSubmit(event) {
  event.preventDefault();
  const username = form.username.value.trim();
  const password = form.password.value;
  if (!username || !password) {
    showError("login.err.missing");
    return;
  }
  clearError();
  submit.disabled = true;
  submit.textContent = t("login.busy");
  try {
    await api("/api/login", { method: "POST", body: { username, password } });
    window.location.assign(await target());
    return;
  } catch (err) {
    if (err.status === 401 || err.status === 403) {
      showError("login.err.wrong");
      form.password.value = "";
      form.password.focus();
    } else if (err.status === 429) {
      startCountdown(err.retryAfterS ?? 60);
      return;   // the countdown re-enables the button
    } else if (err.status === 503 && err.code === "busy") {
      showError("login.err.busy");     // too many password checks at once: not our error
    } else if (err.status === 400 || err.status === 422) {
      showError("login.err.missing");
    } else if (err.status) {
      showError("login.err.server", { status: err.status });
    } else {
      showError("login.err.network");
    }
  } finally {
    submit.textContent = t("login.submit");
  }
  submit.disabled = false;
}

apply();
bindToggle(document.getElementById("lang"));
onLangChange(() => {
  if (lastError) errorBox.textContent = t(lastError.key, lastError.vars);
});
form.addEventListener("submit", onSubmit);

// Already signed in (e.g. the back button): go straight on.
me().then(async () => window.location.replace(await target())).catch(() => {});
