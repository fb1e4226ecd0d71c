// Displays waiting to pair, in the operator console (admins only). Each row tells the admin
// which machine it is before approving: its code, name, address, browser (user agent) and
// when it was first seen (+07:00, shown in the page's language). Approving binds it to a monitor of this wall.

import { api } from "/static/api.js";
import { addTexts, formatTime, t } from "/static/i18n.js";

addTexts({
  vi: {
    "pairing.title": "Màn hình chờ ghép nối",
    "pairing.none": "Không có màn hình nào đang chờ",
    "pairing.address": "Địa chỉ",
    "pairing.agent": "Trình duyệt",
    "pairing.first_seen": "Thấy lần đầu",
    "pairing.expires": "Hết hạn",
    "pairing.monitor": "Màn hình",
    "pairing.output": "Cổng ra (vd. HDMI-1)",
    "pairing.approve": "Duyệt",
    "pairing.approved": "Đã duyệt {name} ({address})",
  },
  en: {
    "pairing.title": "Displays waiting to pair",
    "pairing.none": "No display is waiting",
    "pairing.address": "Address",
    "pairing.agent": "Browser",
    "pairing.first_seen": "First seen",
    "pairing.expires": "Expires",
    "pairing.monitor": "Monitor",
    "pairing.output": "Output (e.g. HDMI-1)",
    "pairing.approve": "Approve",
    "pairing.approved": "Approved {name} ({address})",
  },
});

const REFRESH_MS = 3000;

function line(label, value, field) {
  const p = document.createElement("div");
  p.className = "pairing-line";
  p.dataset.field = field;
  p.textContent = `${t(label)}: ${value}`;        // textContent: names come from anyone
  return p;
}

// A time read as people read it (formatTime: +07:00, the page's language); the exact ISO
// instant stays in the <time> element's datetime for anyone who needs it.
function timeLine(label, iso, field) {
  const p = line(label, "", field);
  const when = Object.assign(document.createElement("time"), { textContent: formatTime(iso) });
  when.dateTime = iso || "";
  p.append(when);
  return p;
}

export class Pairings {
  // ctx: { wallId, wall, showError, said? }; box: the <section> to fill (hidden unless admin).
  // said(text, node): where an approval is told (default: the console's #push-status); the
  // console and /admin/displays share this class.
  constructor(ctx, box) {
    this.c = ctx;
    this.box = box;
    this.list = box.querySelector("ul");
  }

  start() {
    this.box.hidden = false;
    this.refresh();
    setInterval(() => this.refresh(), REFRESH_MS);
  }

  async refresh() {
    let open;
    try { open = await api("/api/display/pairings"); } catch (err) { this.c.showError(err); return; }
    if (this.list.querySelector("input:focus, select:focus")) return;   // do not redraw under the cursor
    if (!open.length) {
      const li = document.createElement("li");
      li.className = "muted";
      li.textContent = t("pairing.none");
      this.list.replaceChildren(li);
      return;
    }
    this.list.replaceChildren(...open.map((p) => this.row(p)));
  }

  row(p) {
    const li = document.createElement("li");
    li.className = "pairing";
    li.dataset.node = p.node;
    const code = document.createElement("strong");
    code.className = "pairing-code";
    code.textContent = `${p.code} — ${p.name}`;
    li.append(code, line("pairing.address", p.address, "address"),
              line("pairing.agent", p.user_agent || "-", "user_agent"),
              timeLine("pairing.first_seen", p.first_seen, "first_seen"),
              timeLine("pairing.expires", p.expires_at, "expires_at"));
    const monitors = (this.c.wall ? this.c.wall.monitors : []).map((m) => Object.assign(
      document.createElement("option"), { value: m.id, textContent: t("console.monitor", { id: m.id }) }));
    const monitor = Object.assign(document.createElement("select"), { className: "pairing-monitor" });
    monitor.setAttribute("aria-label", t("pairing.monitor"));
    monitor.replaceChildren(...monitors);
    const output = Object.assign(document.createElement("input"),
                                 { className: "pairing-output", value: "HDMI-1", maxLength: 40 });
    output.setAttribute("aria-label", t("pairing.output"));
    const approve = Object.assign(document.createElement("button"),
                                  { type: "button", className: "btn pairing-approve",
                                    textContent: t("pairing.approve") });
    approve.disabled = !monitors.length;
    approve.addEventListener("click", async () => {
      approve.disabled = true;
      try {
        const node = await api(`/api/display/pairings/${encodeURIComponent(p.code)}/approve`, {
          method: "POST",
          body: { wall: this.c.wallId, monitors: { [monitor.value]: output.value.trim() || "HDMI-1" } },
        });
        const text = t("pairing.approved", { name: node.name, address: node.address });
        if (this.c.said) this.c.said(text, node);
        else document.getElementById("push-status").textContent = text;
      } catch (err) { this.c.showError(err); }
      await this.refresh();
    });
    const form = document.createElement("div");
    form.className = "preset-row";
    form.append(monitor, output, approve);
    li.append(form);
    return li;
  }
}
