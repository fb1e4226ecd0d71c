// /zones: draw a camera's queue zones on its snapshot and save them (PUT
// /api/cameras/{id}/zones). Points are kept in the snapshot's own pixels, which are
// the pixels analytics counts in (the sub stream; the main one when there is none).
// Click: add a point to the selected zone; drag a point: move it; double-click a
// point, or pick it and press Delete: remove it. The server checks every polygon and
// its words (zone and reason) are shown as they come.

import { api, goLogin, me } from "/static/api.js";
import "/static/shell.js";
import { addTexts, apply, formatTime, onLangChange, t } from "/static/i18n.js";

addTexts({
  vi: {
    "zones.title": "Vùng xếp hàng", "zones.camera": "Camera", "zones.console": "Tường video",
    "zones.help": "Bấm lên ảnh để thêm điểm cho vùng đang chọn; kéo một điểm để di chuyển; bấm đúp vào điểm (hoặc chọn rồi nhấn Delete) để xoá.",
    "zones.list": "Các vùng (mã = tên quầy)", "zones.newId": "Mã vùng, ví dụ c1",
    "zones.add": "+ Vùng", "zones.save": "Lưu", "zones.reload": "Tải lại ảnh",
    "zones.remove": "Xoá vùng", "zones.points": "{n} điểm",
    "zones.saved": "Đã lưu {n} vùng lúc {t}.", "zones.saveError": "Không lưu được: {msg}",
    "zones.loadError": "Không tải được: {msg}", "zones.noPicture": "Không lấy được ảnh của camera này (camera đang mất tín hiệu?).",
    "zones.pickZone": "Hãy thêm hoặc chọn một vùng trước.", "zones.badId": "Mã vùng: 1–64 ký tự A-Z a-z 0-9 _ . -",
    "zones.dupId": "Mã vùng {id} đã có.", "zones.unsaved": "Có thay đổi chưa lưu.",
    "zones.readonly": "Chỉ xem: vai trò của bạn không được sửa vùng.",
  },
  en: {
    "zones.title": "Queue zones", "zones.camera": "Camera", "zones.console": "Video wall",
    "zones.help": "Click the picture to add a point to the selected zone; drag a point to move it; double-click a point (or pick it and press Delete) to remove it.",
    "zones.list": "Zones (id = counter name)", "zones.newId": "Zone id, e.g. c1",
    "zones.add": "+ Zone", "zones.save": "Save", "zones.reload": "Reload picture",
    "zones.remove": "Remove zone", "zones.points": "{n} points",
    "zones.saved": "Saved {n} zones at {t}.", "zones.saveError": "Could not save: {msg}",
    "zones.loadError": "Could not load: {msg}", "zones.noPicture": "No picture from this camera (signal lost?).",
    "zones.pickZone": "Add or select a zone first.", "zones.badId": "Zone id: 1–64 characters A-Z a-z 0-9 _ . -",
    "zones.dupId": "Zone {id} already exists.", "zones.unsaved": "Unsaved changes.",
    "zones.readonly": "Read only: your role may not change zones.",
  },
});

const SVG_NS = "http://www.w3.org/2000/svg";
const ID_RE = /^[A-Za-z0-9_.-]{1,64}$/;
const EDITORS = new Set(["admin", "operator", "registrar"]);
const select = document.getElementById("camera");
const img = document.getElementById("snapshot");
const svg = document.getElementById("draw");
const list = document.getElementById("zone-list");
const banner = document.getElementById("banner");
const statusLine = document.getElementById("status");

let camera = null;
let zones = [];              // [{id, points: [[x, y], ...]}]
let selected = -1;
let picked = null;           // {zone, point}
let dragging = false;
let moved = false;
let canEdit = false;
let lastDown = 0;            // when a point was last pressed (two presses = remove it)
const DOUBLE_MS = 450;
let swallowUp = false;

function showError(text) {
  banner.textContent = text;
  banner.hidden = !text;
}

function say(text) {
  statusLine.textContent = text;
}

function toImage(ev) {
  const m = svg.getScreenCTM();
  if (!m) return null;
  const p = new DOMPoint(ev.clientX, ev.clientY).matrixTransform(m.inverse());
  const w = img.naturalWidth;
  const h = img.naturalHeight;
  return [Math.round(Math.min(Math.max(p.x, 0), w) * 10) / 10,
          Math.round(Math.min(Math.max(p.y, 0), h) * 10) / 10];
}

function el(name, attrs) {
  const node = document.createElementNS(SVG_NS, name);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  return node;
}

function draw() {
  const r = Math.max(4, img.naturalWidth / 120);
  const shapes = [];
  zones.forEach((z, zi) => {
    const pts = z.points.map(([x, y]) => `${x},${y}`).join(" ");
    const cls = zi === selected ? "is-selected" : "";
    shapes.push(el(z.points.length >= 3 ? "polygon" : "polyline", { points: pts, class: cls, "data-zone": z.id }));
    if (z.points.length) {
      const label = el("text", { x: z.points[0][0] + r, y: z.points[0][1] - r });
      label.textContent = z.id;
      shapes.push(label);
    }
    z.points.forEach(([x, y], pi) => {
      const isPicked = picked && picked.zone === zi && picked.point === pi;
      shapes.push(el("circle", { cx: x, cy: y, r, class: isPicked ? "is-picked" : "",
                                 "data-zone": zi, "data-point": pi }));
    });
  });
  svg.replaceChildren(...shapes);
  drawList();
}

function drawList() {
  list.replaceChildren(...zones.map((z, zi) => {
    const li = document.createElement("li");
    li.dataset.zone = z.id;
    li.classList.toggle("is-selected", zi === selected);
    const name = Object.assign(document.createElement("span"), { className: "zone-name", textContent: z.id });
    const count = Object.assign(document.createElement("span"), { className: "muted",
                                textContent: t("zones.points", { n: z.points.length }) });
    li.append(name, count);
    if (canEdit) {
      const remove = Object.assign(document.createElement("button"), { type: "button", className: "btn",
                                   textContent: "×", title: t("zones.remove") });
      remove.addEventListener("click", (ev) => {
        ev.stopPropagation();
        zones.splice(zi, 1);
        selected = Math.min(selected, zones.length - 1);
        picked = null;
        changed();
      });
      li.append(remove);
    }
    li.addEventListener("click", () => { selected = zi; picked = null; draw(); });
    return li;
  }));
}

function changed() {
  say(t("zones.unsaved"));
  draw();
}

function onPointerDown(ev) {
  if (!canEdit) return;
  const target = ev.target;
  if (target.tagName !== "circle") return;
  const hit = { zone: Number(target.dataset.zone), point: Number(target.dataset.point) };
  const now = performance.now();
  const again = picked && picked.zone === hit.zone && picked.point === hit.point &&
    now - lastDown < DOUBLE_MS;
  lastDown = now;
  ev.preventDefault();
  if (again) {                                     // a double press on a point removes it
    swallowUp = true;
    removePicked();
    return;
  }
  picked = hit;
  selected = hit.zone;
  dragging = true;
  moved = false;
  svg.setPointerCapture(ev.pointerId);
  draw();
}

function onPointerMove(ev) {
  if (!dragging || !picked) return;
  const p = toImage(ev);
  if (!p) return;
  zones[picked.zone].points[picked.point] = p;
  moved = true;
  draw();
}

function onPointerUp(ev) {
  if (swallowUp) { swallowUp = false; return; }   // the release of a double press
  if (dragging) {
    dragging = false;
    if (svg.hasPointerCapture(ev.pointerId)) svg.releasePointerCapture(ev.pointerId);
    if (moved) changed();
    return;
  }
  if (!canEdit || ev.target.tagName === "circle" || ev.button !== 0) return;
  if (selected < 0) { say(t("zones.pickZone")); return; }
  const p = toImage(ev);
  if (!p) return;
  zones[selected].points.push(p);
  picked = { zone: selected, point: zones[selected].points.length - 1 };
  changed();
}

function removePicked() {
  if (!picked || !canEdit) return;
  zones[picked.zone].points.splice(picked.point, 1);
  picked = null;
  changed();
}

function addZone() {
  const input = document.getElementById("new-id");
  let id = input.value.trim();
  if (!id) {
    let n = zones.length + 1;
    while (zones.some((z) => z.id === `c${n}`)) n += 1;
    id = `c${n}`;
  }
  if (!ID_RE.test(id)) { say(t("zones.badId")); return; }
  if (zones.some((z) => z.id === id)) { say(t("zones.dupId", { id })); return; }
  zones.push({ id, points: [] });
  selected = zones.length - 1;
  picked = null;
  input.value = "";
  changed();
}

async function save() {
  showError("");
  try {
    const body = { zones: zones.map((z) => ({ id: z.id, polygon: z.points })) };
    const saved = await api(`/api/cameras/${encodeURIComponent(camera)}/zones`, { method: "PUT", body });
    say(t("zones.saved", { n: saved.zones.length, t: formatTime(new Date(), { date: false }) }));
    document.body.dataset.saves = String(Number(document.body.dataset.saves) + 1);
  } catch (err) {
    if (err.status === 401) { goLogin(); return; }
    showError(t("zones.saveError", { msg: err.message }));
    document.body.dataset.saveErrors = String(Number(document.body.dataset.saveErrors || 0) + 1);
  }
}

function loadPicture() {
  return new Promise((resolve) => {
    const stamp = Date.now();
    const base = `/api/cameras/${encodeURIComponent(camera)}/snapshot.jpg`;
    img.onload = () => { resolve(true); };
    img.onerror = () => {
      if (img.src.includes("stream=sub")) { img.src = `${base}?stream=main&t=${stamp}`; return; }
      resolve(false);            // no sub stream: analytics counts the main one
    };
    img.src = `${base}?stream=sub&t=${stamp}`;
  });
}

async function loadCamera(id) {
  camera = id;
  const url = new URL(location.href);
  url.searchParams.set("camera", id);
  history.replaceState(null, "", url);
  showError("");
  say("");
  document.body.dataset.ready = "0";
  const [pictured, data] = await Promise.all([
    loadPicture(),
    api(`/api/cameras/${encodeURIComponent(id)}/zones`).catch((err) => {
      showError(t("zones.loadError", { msg: err.message }));
      return { zones: [] };
    }),
  ]);
  if (!pictured) showError(t("zones.noPicture"));
  const w = img.naturalWidth || (data.size && data.size.width) || 640;
  const h = img.naturalHeight || (data.size && data.size.height) || 360;
  svg.setAttribute("viewBox", `0 0 ${w} ${h}`);
  zones = (data.zones || []).map((z) => ({ id: z.id, points: z.polygon.map((p) => [...p]) }));
  selected = zones.length ? 0 : -1;
  picked = null;
  draw();
  document.body.dataset.camera = id;
  document.body.dataset.ready = "1";
}

async function main() {
  apply();
  onLangChange(draw);
  let who;
  try {
    who = await me();
  } catch (err) {
    if (err.status === 401) { goLogin(); return; }
    showError(t("zones.loadError", { msg: err.message }));
    return;
  }
  canEdit = EDITORS.has(who.role);
  for (const id of ["save", "add", "new-id"]) document.getElementById(id).disabled = !canEdit;
  if (!canEdit) say(t("zones.readonly"));
  svg.addEventListener("pointerdown", onPointerDown);
  svg.addEventListener("pointermove", onPointerMove);
  svg.addEventListener("pointerup", onPointerUp);
  document.addEventListener("keydown", (ev) => {
    if ((ev.key === "Delete" || ev.key === "Backspace") && ev.target === document.body) removePicked();
  });
  document.getElementById("add").addEventListener("click", addZone);
  document.getElementById("save").addEventListener("click", save);
  document.getElementById("reload").addEventListener("click", async () => {
    if (!(await loadPicture())) showError(t("zones.noPicture"));
  });
  const cameras = await api("/api/cameras").catch((err) => {
    showError(t("zones.loadError", { msg: err.message }));
    return [];
  });
  select.replaceChildren(...cameras.map((c) => Object.assign(document.createElement("option"),
    { value: c.id, textContent: `${c.name || c.id} (${c.id})` })));
  select.addEventListener("change", () => loadCamera(select.value));
  const wanted = new URLSearchParams(location.search).get("camera");
  const first = cameras.find((c) => c.id === wanted) || cameras[0];
  if (!first) { document.body.dataset.ready = "1"; return; }
  select.value = first.id;
  await loadCamera(first.id);
}

main();
