// /settings (My settings): the landing page, language, default province and wall, from the
// choices GET /api/me/prefs gives for the caller's role (the server checks them again on PUT),
// and a change of the caller's own password (POST /api/me/password: the server's password
// policy; every other session of this user ends; audited).
import { shell } from "/static/shell.js";
import { api, goLogin } from "/static/api.js";
import { addTexts, apply, onLangChange, setLang, t } from "/static/i18n.js";

addTexts({
  vi: {
    "settings.title": "Cài đặt của tôi",
    "settings.prefs": "Trang và mặc định",
    "settings.landing": "Trang mở sau khi đăng nhập",
    "settings.lang": "Ngôn ngữ",
    "settings.province": "Tỉnh mặc định",
    "settings.wall": "Tường video mặc định",
    "settings.default": "— theo vai trò —",
    "settings.nation": "— cả nước —",
    "settings.lang.vi": "Tiếng Việt",
    "settings.lang.en": "English",
    "settings.save": "Lưu",
    "settings.saved": "Đã lưu cài đặt.",
    "settings.password": "Đổi mật khẩu",
    "settings.current": "Mật khẩu hiện tại",
    "settings.new": "Mật khẩu mới",
    "settings.repeat": "Nhập lại mật khẩu mới",
    "settings.change": "Đổi mật khẩu",
    "settings.changed": "Đã đổi mật khẩu. Các phiên đăng nhập khác của bạn đã kết thúc.",
    "settings.mismatch": "Hai lần nhập mật khẩu mới không giống nhau.",
    "settings.missing": "Hãy nhập mật khẩu hiện tại và mật khẩu mới.",
    "settings.wrong": "Mật khẩu hiện tại không đúng.",
    "settings.token": "Bạn đang dùng mã truy cập: không có cài đặt riêng.",
    "settings.error": "Không thực hiện được: {msg}",
  },
  en: {
    "settings.title": "My settings",
    "settings.prefs": "Pages and defaults",
    "settings.landing": "Page after login",
    "settings.lang": "Language",
    "settings.province": "Default province",
    "settings.wall": "Default video wall",
    "settings.default": "— my role's default —",
    "settings.nation": "— whole country —",
    "settings.lang.vi": "Tiếng Việt",
    "settings.lang.en": "English",
    "settings.save": "Save",
    "settings.saved": "Settings saved.",
    "settings.password": "Change password",
    "settings.current": "Current password",
    "settings.new": "New password",
    "settings.repeat": "New password again",
    "settings.change": "Change password",
    "settings.changed": "Password changed. Your other sessions have ended.",
    "settings.mismatch": "The two new passwords differ.",
    "settings.missing": "Enter your current password and a new one.",
    "settings.wrong": "The current password is wrong.",
    "settings.token": "You are signed in with an access token: it has no settings.",
    "settings.error": "Could not do it: {msg}",
  },
});

const $ = (id) => document.getElementById(id);
const prefsForm = $("prefs");
const passwordForm = $("password");
let current = null;

function note(box, key, vars = {}, bad = false) {
  box.textContent = t(key, vars);
  box.className = bad ? "note-bad" : "note-ok";
  box.dataset.code = key;
}

function failed(box, err) {
  if (err.status === 401) return goLogin();
  if (err.status === 403 && err.code === "bad_credentials") return note(box, "settings.wrong", {}, true);
  return note(box, "settings.error", { msg: err.message }, true);
}

function options(select, first, items, value) {
  select.replaceChildren(new Option(t(first), ""), ...items.map(([v, text]) => new Option(text, v)));
  select.value = value || "";
}

function draw() {
  const c = current.choices;
  const f = prefsForm.elements;
  options(f.landing, "settings.default", c.landing.map((p) => [p.path, t(p.key)]), current.landing);
  options(f.lang, "settings.default", c.lang.map((l) => [l, t(`settings.lang.${l}`)]), current.lang);
  options(f.province, "settings.nation", c.province.map((p) => [p.code, p.name]), current.province);
  options(f.wall, "settings.default", c.wall.map((w) => [w.id, w.name]), current.wall);
  $("wall-field").hidden = !c.wall.length;            // roles that see no wall have none to pick
}

async function savePrefs(event) {
  event.preventDefault();
  const f = prefsForm.elements;
  const body = { landing: f.landing.value, lang: f.lang.value, province: f.province.value };
  if (current.choices.wall.length) body.wall = f.wall.value;
  try {
    current = await api("/api/me/prefs", { method: "PUT", body });
    if (current.lang) setLang(current.lang);
    draw();
    note($("prefs-note"), "settings.saved");
  } catch (err) { failed($("prefs-note"), err); }
}

async function changePassword(event) {
  event.preventDefault();
  const f = passwordForm.elements;
  const box = $("password-note");
  if (!f.current_password.value || !f.new_password.value) return note(box, "settings.missing", {}, true);
  if (f.new_password.value !== f.repeat.value) return note(box, "settings.mismatch", {}, true);
  try {
    await api("/api/me/password", { method: "POST", body: {
      current_password: f.current_password.value, new_password: f.new_password.value } });
    passwordForm.reset();
    note(box, "settings.changed");
  } catch (err) { failed(box, err); }
}

async function main() {
  apply();
  const answer = await shell;
  if (!answer) return;
  try {
    current = await api("/api/me/prefs");
  } catch (err) { failed($("prefs-note"), err); return; }
  draw();
  if (answer.via !== "session") {            // a token: nothing to keep, no password
    prefsForm.hidden = true;
    $("password-panel").hidden = true;
    note($("prefs-note"), "settings.token");
  }
  prefsForm.addEventListener("submit", savePrefs);
  passwordForm.addEventListener("submit", changePassword);
  onLangChange(draw);
  document.body.dataset.ready = "1";
}

main();
