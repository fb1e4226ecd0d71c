// /admin/displays: display nodes. The pairings waiting for approval (the console's own
// Pairings class, frontend/console-pairing.js, approving onto the wall chosen here), and the
// paired nodes (GET /api/display/nodes) with their wall, monitors, last seen, address and a
// Revoke button (POST /api/display/nodes/{node}/revoke: its token and sessions end at once).
import { shell } from "/static/shell.js";
import { api, goLogin } from "/static/api.js";
import { addTexts, apply, onLangChange, t, vnClock } from "/static/i18n.js";
import { TEXTS } from "/static/admin-texts.js";
import { Pairings } from "/static/console-pairing.js";

addTexts(TEXTS);

const REFRESH_MS = 3000;
const $ = (id) => document.getElementById(id);
const when = (iso) => (iso ? vnClock(new Date(iso)) : "—");
let nodes = [];

function note(key, vars = {}, bad = false) {
  const box = $("nodes-note");
  box.textContent = t(key, vars);
  box.className = bad ? "note-bad" : "note-ok";
}

function failed(err) {
  if (err.status === 401) return goLogin();
  note("users.error", { msg: err.message }, true);
}

function lastSeen(node) {
  const times = node.connections.map((c) => c.last_seen).sort();
  return times.length ? times[times.length - 1] : "";
}

function monitors(node) {
  if (!node.connections.length) return t("displays.notConnected");
  return node.connections.map((c) => `${c.monitor} (${t(`displays.status.${c.status}`)})`).join(", ");
}

function row(node) {
  const tr = document.createElement("tr");
  tr.dataset.node = node.node;
  tr.dataset.connected = node.connections.some((c) => c.status === "up") ? "1" : "0";
  const seen = lastSeen(node);
  for (const text of [node.name, node.wall, monitors(node), when(seen), node.address,
                      when(node.first_seen)]) {
    const td = document.createElement("td");
    td.textContent = text || "—";                   // textContent: node names come from anyone
    tr.append(td);
  }
  const revoke = document.createElement("button");
  revoke.type = "button";
  revoke.className = "btn node-revoke";
  revoke.textContent = t("displays.revoke");
  revoke.setAttribute("aria-label", `${t("displays.revoke")}: ${node.name}`);
  revoke.addEventListener("click", async () => {
    if (!window.confirm(t("displays.revoke.confirm", { name: node.name }))) return;
    try {
      await api(`/api/display/nodes/${encodeURIComponent(node.node)}/revoke`, { method: "POST" });
      note("displays.revoked", { name: node.name });
    } catch (err) { failed(err); }
    await load();
  });
  const td = document.createElement("td");
  // A page connected without a pairing (someone's preview) has no token to revoke.
  if (node.paired) td.append(revoke);
  else td.textContent = t("displays.unpaired");
  tr.dataset.paired = node.paired ? "1" : "0";
  tr.append(td);
  return tr;
}

function draw() {
  if (!nodes.length) {
    const td = Object.assign(document.createElement("td"), { colSpan: 7, className: "muted",
                                                             textContent: t("displays.none") });
    const tr = document.createElement("tr");
    tr.append(td);
    $("nodes").replaceChildren(tr);
    return;
  }
  $("nodes").replaceChildren(...nodes.map(row));
}

async function load() {
  try { nodes = await api("/api/display/nodes"); } catch (err) { failed(err); return; }
  draw();
}

async function pickWall(ctx, wallId) {
  ctx.wallId = wallId;
  ctx.wall = wallId ? await api(`/api/walls/${encodeURIComponent(wallId)}`) : null;
}

async function main() {
  apply();
  const answer = await shell;
  if (!answer) return;
  const walls = await api("/api/walls");
  const select = $("wall-select");
  select.replaceChildren(...walls.map((w) => new Option(w.name, w.id)));
  const preferred = answer.prefs && walls.some((w) => w.id === answer.prefs.wall) ? answer.prefs.wall : "";
  select.value = preferred || (walls[0] ? walls[0].id : "");
  const ctx = { wallId: "", wall: null, showError: failed,
                said: (text) => { $("nodes-note").textContent = text; $("nodes-note").className = "note-ok"; load(); } };
  await pickWall(ctx, select.value);
  const pairings = new Pairings(ctx, $("pairings"));
  pairings.start();
  select.addEventListener("change", async () => { await pickWall(ctx, select.value); pairings.refresh(); });
  await load();
  setInterval(load, REFRESH_MS);
  onLangChange(draw);
  document.body.dataset.ready = "1";
}

main();
