// /register: a province's connection profile, adding cameras (WS-Discovery, reading an
// ONVIF device, or by hand), test connection and the checklist.
//
// The camera password goes out in one POST/PATCH and is never shown again: the API only
// says whether credentials are set. body[data-ready="1"] once the first load is done.

import { api, goLogin, me } from "/static/api.js";
import { shell } from "/static/shell.js";
import { addTexts, apply, formatTime, onLangChange, pick, t } from "/static/i18n.js";
import { TEXTS } from "/static/register-texts.js";

addTexts(TEXTS);
const $ = (id) => document.getElementById(id);
const provinceSelect = $("province");
const profileForm = $("profile-form");
const cameraForm = $("camera-form");
let who = null;
let lastChecklist = null;
// What this role may do here (GET /api/registry/access, from the routes' own role sets):
// the page calls nothing it would be refused.
let access = { edit: false, test: false, demo_camera: null };
let lastTry = null;

// ---------------------------------------------------------------- errors
function showError(box, err, form) {
  if (form) for (const el of form.querySelectorAll("[aria-invalid]")) el.removeAttribute("aria-invalid");
  if (!err) { box.hidden = true; box.textContent = ""; delete box.dataset.field; return; }
  if (err.status === 401) { goLogin(); return; }
  const field = err.field || "";
  box.textContent = err.status ? (err.message || `HTTP ${err.status}`) : t("reg.err.network");
  box.dataset.field = field;
  box.dataset.code = err.code || "";
  box.hidden = false;
  const input = form && field && form.querySelector(`[name="${field}"]`);
  if (input) input.setAttribute("aria-invalid", "true");
}

// api.js keeps the server's code/message; the field is read from the body here.
async function call(path, options = {}) {
  const init = { method: options.method || "GET", credentials: "same-origin",
                 headers: { Accept: "application/json" } };
  if (options.body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(options.body);
  }
  let response;
  try {
    response = await fetch(path, init);
  } catch (_) {
    throw { status: 0 };
  }
  const text = await response.text();
  const data = text ? JSON.parse(text) : null;
  if (!response.ok) {
    const e = (data && data.error) || {};
    throw { status: response.status, code: e.code, message: e.message, field: e.field, data };
  }
  return data;
}

// ---------------------------------------------------------------- profile
function rowOf(templateId, values) {
  const row = $(templateId).content.firstElementChild.cloneNode(true);
  apply(row);
  for (const el of row.querySelectorAll("[data-k]")) el.value = values[el.dataset.k] ?? el.value;
  row.querySelector(".remove").addEventListener("click", () => row.remove());
  return row;
}

function rowsValue(containerId) {
  return [...$(containerId).children].map((row) => Object.fromEntries(
    [...row.querySelectorAll("[data-k]")].map((el) => [el.dataset.k, el.value.trim()])))
    .filter((r) => Object.entries(r).some(([k, v]) => k !== "role" && v));
}

function fillProfile(p) {
  profileForm.reset();
  $("contacts").replaceChildren();
  $("iocs").replaceChildren();
  if (!p) return;
  for (const el of profileForm.elements) {
    if (!el.name) continue;
    const [a, b] = el.name.split(".");
    const value = b ? (p[a] || {})[b] : p[a];
    if (el.name === "path") el.value = (p.path || []).join(" -> ");
    else if (el.type === "checkbox") el.checked = Boolean(value);
    else if (value !== undefined && value !== null) el.value = value;
  }
  for (const c of p.contacts || []) $("contacts").appendChild(rowOf("contact-row", c));
  for (const s of p.ioc_systems || []) $("iocs").appendChild(rowOf("ioc-row", s));
}

function profileValue() {
  const body = { province: provinceSelect.value, system: {}, transmission: {} };
  for (const el of profileForm.elements) {
    if (!el.name) continue;
    const [a, b] = el.name.split(".");
    let value = el.type === "checkbox" ? el.checked : el.value.trim();
    if (el.type === "number") value = Number(value || 0);
    if (el.name === "path") value = value ? value.split("->").map((h) => h.trim()) : [];
    if (b) body[a][b] = value; else body[a] = value;
  }
  body.contacts = rowsValue("contacts");
  body.ioc_systems = rowsValue("iocs");
  return body;
}

async function loadProfile() {
  try {
    fillProfile(await call(`/api/registry/profiles/${provinceSelect.value}`));
  } catch (err) {
    if (err.status === 404) fillProfile(null); else showError($("profile-error"), err);
  }
}

async function saveProfile(ev) {
  ev.preventDefault();
  $("profile-saved").hidden = true;
  try {
    fillProfile(await call(`/api/registry/profiles/${provinceSelect.value}`,
                           { method: "PUT", body: profileValue() }));
    showError($("profile-error"), null, profileForm);
    $("profile-saved").hidden = false;
  } catch (err) {
    showError($("profile-error"), err, profileForm);
  }
}

// ---------------------------------------------------------------- cameras
async function loadInterfaces() {
  try {
    const list = await call("/api/registry/interfaces");
    $("interface").replaceChildren(...list.map((i) => new Option(`${i.name} (${i.address})`, i.name)));
  } catch (_) { /* technicians without this right still add by hand */ }
}

async function discover() {
  const status = $("discover-status");
  status.textContent = t("reg.searching");
  $("devices").replaceChildren();
  try {
    const { devices } = await call("/api/registry/discover",
                                   { method: "POST", body: { interface: $("interface").value } });
    status.textContent = t("reg.found", { n: devices.length });
    for (const d of devices) {
      const li = document.createElement("li");
      li.dataset.onvif = d.onvif;
      const label = document.createElement("span");
      label.textContent = `${d.name || d.hardware || d.urn} — ${d.onvif}`;
      const use = document.createElement("button");
      use.type = "button";
      use.className = "btn use-device";
      use.textContent = t("reg.use");
      use.addEventListener("click", () => { $("cam-onvif").value = d.onvif; $("cam-username").focus(); });
      li.append(label, use);
      $("devices").appendChild(li);
    }
  } catch (err) {
    status.textContent = err.message || t("reg.err.network");
  }
}

async function readDevice() {
  const info = $("device-info");
  info.textContent = t("reg.reading");
  try {
    const found = await call("/api/registry/onvif", { method: "POST", body: {
      onvif: $("cam-onvif").value.trim(), username: $("cam-username").value,
      password: $("cam-password").value } });
    $("cam-name").value = $("cam-name").value || found.channels[0]?.name || found.form.name;
    $("cam-main").value = found.form.rtsp_main;
    $("cam-sub").value = found.form.rtsp_sub;
    info.textContent = t("reg.device", { maker: found.form.name, n: found.channels.length,
                                         skew: found.device.clock_skew_s ?? "?" });
    info.dataset.read = "1";
    showError($("camera-error"), null, cameraForm);
  } catch (err) {
    info.textContent = "";
    showError($("camera-error"), err, cameraForm);
  }
}

async function addCamera(ev) {
  ev.preventDefault();
  const v = Object.fromEntries(new FormData(cameraForm).entries());
  const body = { province: provinceSelect.value,
                 centre: profileForm.elements.centre.value.trim() || provinceSelect.selectedOptions[0].text,
                 name: v.name.trim(), location: v.location.trim(), onvif: v.onvif.trim(),
                 rtsp_main: v.rtsp_main.trim(), rtsp_sub: v.rtsp_sub.trim(), transport: v.transport,
                 username: v.username, password: v.password,
                 allow_basic_auth: $("cam-basic").checked,
                 tags: v.tags.split(",").map((s) => s.trim()).filter(Boolean) };
  try {
    const cam = await call("/api/cameras", { method: "POST", body });
    cameraForm.reset();                   // the password leaves the page with the form
    lastTry = null;
    $("try-result").hidden = true;
    $("device-info").textContent = t("reg.added", { name: cam.name });
    showError($("camera-error"), null, cameraForm);
    await loadChecklist();
  } catch (err) {
    showError($("camera-error"), err, cameraForm);
  }
}

// "Test connection" on the form's values, before anything is saved.
function formConnection() {
  const v = Object.fromEntries(new FormData(cameraForm).entries());
  return { province: provinceSelect.value, onvif: v.onvif.trim(), rtsp_main: v.rtsp_main.trim(),
           rtsp_sub: v.rtsp_sub.trim(), transport: v.transport, username: v.username,
           password: v.password, allow_basic_auth: $("cam-basic").checked };
}

function renderTry() {
  const box = $("try-result");
  if (!lastTry) return;
  box.dataset.code = lastTry.explain.code;
  box.textContent = pick(lastTry.explain);
  box.hidden = false;
}

async function tryCamera() {
  const button = $("try-camera");
  const box = $("try-result");
  button.disabled = true;
  lastTry = null;
  box.removeAttribute("data-code");
  box.textContent = t("reg.trying");
  box.hidden = false;
  try {
    lastTry = await call("/api/registry/test", { method: "POST", body: formConnection() });
    showError($("camera-error"), null, cameraForm);
    renderTry();
  } catch (err) {
    box.hidden = true;
    showError($("camera-error"), err, cameraForm);
  } finally {
    button.disabled = false;
  }
}

// In `iocwall demo` only: the simulated cameras' login, marked as demo.
function showDemoLogin() {
  const demo = access.demo_camera;
  $("demo-login").hidden = !demo;
  if (!demo) return;
  $("demo-user").textContent = demo.username;
  $("demo-password").textContent = demo.password;
  $("demo-rtsp").textContent = demo.rtsp_main;
  $("demo-fill").addEventListener("click", () => {
    $("cam-username").value = demo.username;
    $("cam-password").value = demo.password;
    $("cam-main").value = demo.rtsp_main;
    $("cam-sub").value = demo.rtsp_sub;
  });
}

// ---------------------------------------------------------------- checklist
function cell(value) {
  const td = document.createElement("td");
  const state = value === true ? "yes" : value === false ? "no" : "unknown";
  td.className = state;
  td.dataset.value = state;
  td.textContent = t(`reg.${state}`);
  return td;
}

function renderChecklist() {
  const data = lastChecklist;
  if (!data) return;
  $("totals").textContent = t("reg.totals", data.totals);
  $("checklist-empty").hidden = data.cameras.length > 0;
  $("checklist").replaceChildren(...data.cameras.map((c) => {
    const tr = document.createElement("tr");
    tr.dataset.cameraId = c.id;
    const name = document.createElement("td");
    name.textContent = c.name;
    const where = document.createElement("td");
    where.textContent = c.location;
    const test = document.createElement("td");
    test.className = "last-test";
    const last = c.last_test;
    test.textContent = last ? `${t(`reg.st.${last.status}`)} · ${formatTime(last.time)}` : "—";
    const why = last && last.explain;
    if (why && why.code !== "ok") test.append(document.createElement("br"), pick(why));
    test.dataset.status = last ? last.status : "";
    const act = document.createElement("td");
    if (access.test) {
      const run = document.createElement("button");
      run.type = "button"; run.className = "btn test"; run.textContent = t("reg.test");
      run.addEventListener("click", () => testCamera(c.id, run));
      act.append(run);
    }
    if (access.edit) {
      const del = document.createElement("button");
      del.type = "button"; del.className = "btn btn-ghost delete"; del.textContent = t("reg.delete");
      del.addEventListener("click", () => deleteCamera(c.id));
      act.append(del);
    }
    const wall = cell(c.on_wall);
    if (c.on_wall === null) wall.title = t("reg.noWall");
    tr.append(name, where, cell(c.registered), cell(c.reachable), cell(c.streaming),
              wall, test, act);
    return tr;
  }));
}

async function loadChecklist() {
  try {
    lastChecklist = await call(`/api/registry/checklist?province=${encodeURIComponent(provinceSelect.value)}`);
    renderChecklist();
  } catch (err) {
    showBanner(err.message || t("reg.err.network"));
  }
}

async function testCamera(id, button) {
  button.disabled = true;
  button.textContent = t("reg.testing");
  try {
    await call(`/api/cameras/${encodeURIComponent(id)}/test`, { method: "POST", body: {} });
  } catch (err) {
    showBanner(err.message || t("reg.err.network"));
  }
  await loadChecklist();
}

async function deleteCamera(id) {
  try {
    await call(`/api/cameras/${encodeURIComponent(id)}`, { method: "DELETE" });
  } catch (err) {
    showBanner(err.message || t("reg.err.network"));
  }
  await loadChecklist();
}

function showBanner(text) {
  $("banner").textContent = text;
  $("banner").hidden = false;
}

// ---------------------------------------------------------------- start
async function start() {
  apply();
  onLangChange(() => { renderChecklist(); renderTry(); });
  try {
    [who, access] = await Promise.all([me(), call("/api/registry/access")]);
  } catch (err) {
    if (err.status === 401) return goLogin();
  }
  $("camera-panel").hidden = !access.edit && !access.test;
  $("add-camera").hidden = !access.edit;
  $("save-profile").hidden = !access.edit;
  $("discover").parentElement.hidden = !access.test;
  showDemoLogin();
  const units = await api("/api/registry/provinces");
  const mine = who && who.role === "registrar" ? units.filter((u) => u.code === who.unit) : units;
  provinceSelect.replaceChildren(...mine.map((u) => new Option(u.name, u.code)));
  provinceSelect.disabled = mine.length <= 1;
  const answer = await shell;                     // the user's default province (My settings)
  const preferred = answer && answer.prefs && answer.prefs.province;
  if (preferred && mine.some((u) => u.code === preferred)) provinceSelect.value = preferred;
  provinceSelect.addEventListener("change", () => { loadProfile(); loadChecklist(); });
  $("add-contact").addEventListener("click", () => $("contacts").appendChild(rowOf("contact-row", {})));
  $("add-ioc").addEventListener("click", () => $("iocs").appendChild(rowOf("ioc-row", {})));
  profileForm.addEventListener("submit", saveProfile);
  cameraForm.addEventListener("submit", addCamera);
  $("discover").addEventListener("click", discover);
  $("read-device").addEventListener("click", readDevice);
  $("try-camera").addEventListener("click", tryCamera);
  await Promise.all([loadProfile(), access.test ? loadInterfaces() : null, loadChecklist()]);
  document.body.dataset.ready = "1";
}

start();
