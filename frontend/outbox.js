// /admin/outbox: every notification the server sent, is trying, or gave up on
// (/api/outbox), with Resend for a sent or failed one and a test message per channel.
// The server masks recipients and audits each resend and test.
import "/static/shell.js";
import { api, goLogin } from "/static/api.js";
import { addTexts, apply, getLang, onLangChange, t, vnClock } from "/static/i18n.js";
import { TEXTS } from "/static/admin-texts.js";

addTexts(TEXTS);

const $ = (id) => document.getElementById(id);
const REFRESH_MS = 3000;          // pending messages change state by themselves
let messages = [];

function note(text, bad = false) {
  $("form-note").textContent = text;
  $("form-note").className = bad ? "note-bad" : "note-ok";
}

function failed(err) {
  if (err.status === 401) return goLogin();
  note(t("users.error", { msg: err.message }), true);
}

const when = (iso) => (iso ? vnClock(new Date(iso)) : "—");

function resendButton(message) {
  const b = document.createElement("button");
  b.type = "button";
  b.className = "btn outbox-resend";
  b.dataset.i18n = "outbox.resend";
  b.textContent = t("outbox.resend");
  b.addEventListener("click", async () => {
    try {
      await api(`/api/outbox/${message.id}/resend`, { method: "POST" });
      note(t("outbox.resent", { id: message.id }));
    } catch (err) { failed(err); }
    await load();
  });
  return b;
}

function row(message) {
  const tr = document.createElement("tr");
  tr.dataset.id = String(message.id);
  tr.dataset.state = message.state;
  const subject = getLang() === "en" ? message.subject_en : message.subject_vi;
  const cells = [String(message.id), t(`outbox.channel.${message.channel}`), message.recipient,
    subject, t(`outbox.state.${message.state}`), String(message.attempts),
    message.last_error || "", when(message.created_at), when(message.sent_at)];
  for (const text of cells) {
    const td = document.createElement("td");
    td.textContent = text;
    tr.append(td);
  }
  const actions = document.createElement("td");
  if (message.state !== "pending") actions.append(resendButton(message));
  tr.append(actions);
  return tr;
}

function draw() {
  $("messages").replaceChildren(...messages.map(row));
}

async function load() {
  const state = $("state-filter").value;
  try {
    messages = (await api(`/api/outbox${state ? `?state=${state}` : ""}`)).messages;
  } catch (err) { failed(err); return; }
  draw();
}

async function sendTest(ev) {
  ev.preventDefault();
  const data = Object.fromEntries(new FormData(ev.target).entries());
  try {
    const made = await api("/api/notify/test", { method: "POST", body: data });
    note(t("outbox.queued", { id: made.id }));
  } catch (err) { failed(err); }
  await load();
}

async function main() {
  apply();
  $("test-form").addEventListener("submit", sendTest);
  $("state-filter").addEventListener("change", load);
  onLangChange(draw);
  await load();
  document.body.dataset.ready = "1";
  setInterval(load, REFRESH_MS);
}

main();
