// /admin/users: list, create, change role, province and contacts (e-mail, phone for
// notifications), disable/enable, reset password,
// all through /api/users (admin only; the server audits every change).
import "/static/shell.js";
import { api, goLogin } from "/static/api.js";
import { addTexts, apply, onLangChange, t } from "/static/i18n.js";
import { TEXTS } from "/static/admin-texts.js";

addTexts(TEXTS);

const ROLES = ["admin", "operator", "leader", "registrar", "technician"];
const $ = (id) => document.getElementById(id);
let provinces = [];
let users = [];

function note(key, vars = {}, bad = false) {
  const box = $("form-note");
  box.textContent = t(key, vars);
  box.className = bad ? "note-bad" : "note-ok";
}

function failed(err) {
  if (err.status === 401) return goLogin();
  note("users.error", { msg: err.message }, true);
}

function roleOptions(select, value) {
  select.replaceChildren(...ROLES.map((r) => new Option(t(`role.${r}`), r)));
  select.value = value;
}

function provinceOptions(select, value) {
  select.replaceChildren(new Option(t("users.province.none"), ""),
                         ...provinces.map((p) => new Option(p.name, p.code)));
  select.value = value || "";
}

function button(key, onClick) {
  const b = document.createElement("button");
  b.type = "button";
  b.className = "btn";
  b.dataset.i18n = key;
  b.textContent = t(key);
  b.addEventListener("click", onClick);
  return b;
}

async function change(user, body) {
  try {
    await api(`/api/users/${user.id}`, { method: "PATCH", body });
    note("users.changed", { user: user.username });
  } catch (err) { failed(err); }
  await load();
}

function row(user) {
  const tr = document.createElement("tr");
  tr.dataset.user = user.username;
  tr.dataset.disabled = user.disabled ? "1" : "0";
  const cell = (...children) => {
    const td = document.createElement("td");
    td.append(...children);
    return td;
  };
  const role = document.createElement("select");
  role.className = "role-select";
  role.setAttribute("aria-label", `${t("users.role")}: ${user.username}`);
  roleOptions(role, user.role);
  const unit = document.createElement("select");
  unit.className = "province-select";
  unit.setAttribute("aria-label", `${t("users.province")}: ${user.username}`);
  provinceOptions(unit, user.unit);
  // Role and province change together: a registrar needs one, the others none.
  const save = () => {
    if (role.value === "registrar" && !unit.value) return note("users.needProvince", {}, true);
    return change(user, { role: role.value, province: role.value === "registrar" ? unit.value : "" });
  };
  role.addEventListener("change", save);
  unit.addEventListener("change", save);
  // Contacts for notifications (alerts by e-mail and SMS): saved when the field is left.
  const contact = (field, type) => {
    const input = document.createElement("input");
    input.type = type;
    input.className = `user-${field}`;
    input.value = user[field] || "";
    input.setAttribute("aria-label", `${t(`users.${field}`)}: ${user.username}`);
    input.addEventListener("change", () => change(user, { [field]: input.value }));
    return input;
  };
  const state = document.createElement("span");
  state.textContent = t(user.disabled ? "users.disabled" : "users.active");
  const toggle = button(user.disabled ? "users.enable" : "users.disable",
                        () => change(user, { disabled: !user.disabled }));
  toggle.classList.add("user-toggle");
  const reset = button("users.reset", async () => {
    const password = window.prompt(t("users.reset.prompt", { user: user.username }));
    if (!password) return;
    try {
      await api(`/api/users/${user.id}/password`, { method: "PUT", body: { password } });
      note("users.resetDone", { user: user.username });
    } catch (err) { failed(err); }
  });
  reset.classList.add("user-reset");
  tr.append(cell(user.username), cell(user.display_name || ""), cell(role), cell(unit),
            cell(contact("email", "email")), cell(contact("phone", "tel")),
            cell(state), cell(toggle, reset));
  return tr;
}

function draw() {
  $("users").replaceChildren(...users.map(row));
}

async function load() {
  try {
    users = (await api("/api/users")).users;
  } catch (err) { failed(err); return; }
  draw();
}

async function create(ev) {
  ev.preventDefault();
  const form = ev.target;
  const data = Object.fromEntries(new FormData(form).entries());
  if (data.role !== "registrar") data.province = "";
  else if (!data.province) return note("users.needProvince", {}, true);
  try {
    const user = await api("/api/users", { method: "POST", body: data });
    note("users.created", { user: user.username });
    form.reset();
    roleOptions(form.elements.role, "operator");
  } catch (err) { failed(err); }
  await load();
}

async function main() {
  apply();
  try {
    provinces = await api("/api/registry/provinces");
  } catch (err) { failed(err); }
  const form = $("new-user");
  roleOptions(form.elements.role, "operator");
  provinceOptions(form.elements.province, "");
  form.addEventListener("submit", create);
  onLangChange(() => {
    roleOptions(form.elements.role, form.elements.role.value);
    provinceOptions(form.elements.province, form.elements.province.value);
    draw();
  });
  await load();
  document.body.dataset.ready = "1";
}

main();
