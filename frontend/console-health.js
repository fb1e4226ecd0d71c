// The console's "system alerts" panel: the open health alerts (GET /api/alerts?state=open,
// wall/health/), newest first, each with Acknowledge for the roles the API lets acknowledge.
// The full board is on /health; each alert links there.

import { api } from "/static/api.js";
import { addTexts, getLang, onLangChange, t } from "/static/i18n.js";

addTexts({
  vi: { "console.health": "Cảnh báo hệ thống", "console.health.none": "Hệ thống bình thường",
        "console.health.ack": "Xác nhận", "console.health.acked": "đã xác nhận" },
  en: { "console.health": "System alerts", "console.health.none": "System healthy",
        "console.health.ack": "Acknowledge", "console.health.acked": "acknowledged" },
});

const ACKERS = new Set(["admin", "technician", "operator"]);
const EVERY_MS = 5000;
let role = "";
let open = [];

function draw() {
  const list = document.getElementById("health-alerts");
  if (!list) return;
  list.replaceChildren();
  if (!open.length) {
    const li = document.createElement("li");
    li.className = "muted alarm-none";
    li.textContent = t("console.health.none");
    list.append(li);
  }
  for (const a of open) {
    const li = document.createElement("li");
    li.dataset.alert = String(a.id);
    const link = document.createElement("a");
    link.href = `/health#alert-${a.id}`;
    link.textContent = `${a.severity === "critical" ? "✕" : "▲"} ${getLang() === "en" ? a.title_en : a.title_vi}`;
    li.append(link, a.state === "acknowledged" ? ` (${t("console.health.acked")}) ` : " ");
    if (a.state === "raised" && ACKERS.has(role)) {
      const ack = document.createElement("button");
      ack.type = "button";
      ack.className = "btn";
      ack.textContent = t("console.health.ack");
      ack.addEventListener("click", async () => {
        ack.disabled = true;
        try { await api(`/api/alerts/${a.id}/ack`, { method: "POST" }); } catch (_) { /* next poll shows it */ }
        await poll();
      });
      li.append(ack);
    }
    list.append(li);
  }
}

async function poll() {
  try {
    open = (await api("/api/alerts?state=open&limit=20")).alerts;
  } catch (_) {
    open = [];      // a role that may not read alerts, or the server restarting
  }
  draw();
}

async function start() {
  try { role = (await api("/api/me")).role; } catch (_) { return; }
  onLangChange(draw);
  await poll();
  setInterval(poll, EVERY_MS);
}

start();
