// /admin/tokens: access tokens for machines and displays. Create one with an expiry (the
// secret is shown once, here, and never again), list them, revoke one (/api/tokens, admin).
import "/static/shell.js";
import { api, goLogin } from "/static/api.js";
import { addTexts, apply, onLangChange, t, vnClock } from "/static/i18n.js";
import { TEXTS } from "/static/admin-texts.js";

addTexts(TEXTS);

const ROLES = ["display", "operator", "leader", "technician", "registrar", "admin"];
const $ = (id) => document.getElementById(id);
let tokens = [];
let provinces = [];

function note(text, bad = false) {
  $("form-note").textContent = text;
  $("form-note").className = bad ? "note-bad" : "note-ok";
}

function failed(err) {
  if (err.status === 401) return goLogin();
  note(t("users.error", { msg: err.message }), true);
}

const when = (iso) => (iso ? vnClock(new Date(iso)) : t("tokens.never"));

function row(token) {
  const tr = document.createElement("tr");
  tr.dataset.token = token.label;
  tr.dataset.revoked = token.revoked_at ? "1" : "0";
  const cells = [token.label, t(`role.${token.role}`) + (token.unit ? ` · ${token.unit}` : ""),
    when(token.created_at), when(token.expires_at), when(token.last_used),
    token.revoked_at ? t("tokens.revoked", { t: when(token.revoked_at) }) : t("tokens.active")];
  for (const text of cells) {
    const td = document.createElement("td");
    td.textContent = text;
    tr.append(td);
  }
  const td = document.createElement("td");
  if (!token.revoked_at) {
    const revoke = document.createElement("button");
    revoke.type = "button";
    revoke.className = "btn token-revoke";
    revoke.textContent = t("tokens.revoke");
    revoke.addEventListener("click", async () => {
      try {
        await api(`/api/tokens/${token.id}`, { method: "DELETE" });
        note(t("tokens.revokeDone", { label: token.label }));
      } catch (err) { failed(err); }
      await load();
    });
    td.append(revoke);
  }
  tr.append(td);
  return tr;
}

function draw() {
  $("tokens").replaceChildren(...tokens.map(row));
}

async function load() {
  try {
    tokens = (await api("/api/tokens")).tokens;
  } catch (err) { failed(err); return; }
  draw();
}

function fillSelects(form) {
  const role = form.elements.role.value || "display";
  form.elements.role.replaceChildren(...ROLES.map((r) => new Option(t(`role.${r}`), r)));
  form.elements.role.value = role;
  const unit = form.elements.unit.value;
  form.elements.unit.replaceChildren(new Option(t("users.province.none"), ""),
                                     ...provinces.map((p) => new Option(p.name, p.code)));
  form.elements.unit.value = unit;
}

async function create(ev) {
  ev.preventDefault();
  const form = ev.target;
  const data = Object.fromEntries(new FormData(form).entries());
  data.expires_in_days = Number(data.expires_in_days);
  try {
    const made = await api("/api/tokens", { method: "POST", body: data });
    $("secret").textContent = made.token;             // shown once: never stored by the page
    $("secret-box").hidden = false;
    note("");
    form.reset();
    fillSelects(form);
  } catch (err) { failed(err); }
  await load();
}

async function main() {
  apply();
  try {
    provinces = await api("/api/registry/provinces");
  } catch (err) { failed(err); }
  const form = $("new-token");
  fillSelects(form);
  form.addEventListener("submit", create);
  onLangChange(() => { fillSelects(form); draw(); });
  await load();
  document.body.dataset.ready = "1";
}

main();
