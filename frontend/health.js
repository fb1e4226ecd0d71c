// /health: the health board (per province and centre, the centre's own components), each
// camera's availability per day, and the open alerts with an Acknowledge button. States are
// shown as a coloured badge WITH its text (never colour alone). Data: GET /api/health,
// /api/health/availability and /api/alerts; the server scopes a registrar to its province and
// decides who may acknowledge (the button is only offered to those roles).

import "/static/shell.js";
import { api, ApiError, goLogin, me } from "/static/api.js";
import { addTexts, apply, getLang, onLangChange, t } from "/static/i18n.js";

addTexts({
  vi: {
    "health.title": "Tình trạng hệ thống", "health.alerts": "Cảnh báo đang mở",
    "health.provinces": "Theo tỉnh và trung tâm", "health.system": "Thành phần hệ thống",
    "health.cameras": "Camera", "health.availability": "Tỷ lệ hoạt động theo ngày (giờ VN)",
    "health.col.unit": "Đơn vị", "health.col.state": "Trạng thái",
    "health.col.cameras": "Camera hoạt động / theo dõi / tổng", "health.col.kind": "Loại",
    "health.col.name": "Tên", "health.col.detail": "Chi tiết", "health.col.camera": "Camera",
    "health.col.fps": "Khung hình/giây (tối thiểu)",
    "health.state.ok": "✓ Bình thường", "health.state.degraded": "▲ Suy giảm",
    "health.state.down": "✕ Hỏng / mất", "health.state.idle": "○ Không theo dõi",
    "health.state.not_configured": "– Chưa cấu hình",
    "health.kind.camera": "Camera", "health.kind.media_node": "Máy chủ media",
    "health.kind.display_node": "Máy hiển thị", "health.kind.analytics_worker": "Máy phân tích",
    "health.kind.controller": "Bộ điều khiển", "health.kind.store": "Cơ sở dữ liệu",
    "health.kind.bus": "Kênh sự kiện", "health.kind.disk": "Ổ đĩa dữ liệu",
    "health.kind.certificate": "Chứng chỉ TLS",
    "health.overall": "Toàn hệ thống: {state} — cập nhật {time}",
    "health.ack": "Xác nhận", "health.acked": "Đã xác nhận bởi {by} lúc {at}",
    "health.raised": "Phát sinh {at}", "health.noalerts": "Không có cảnh báo nào đang mở.",
    "health.sev.critical": "Nghiêm trọng", "health.sev.warning": "Cảnh báo",
    "health.noprovince": "(chưa gán tỉnh)", "health.nodata": "Chưa có dữ liệu.",
    "health.error": "Không tải được: {msg}", "health.day": "Ngày",
    "health.probe.ok": "Không xem, kết nối được", "health.probe.unreachable": "Không tới được",
    "health.probe.wrong_password": "Sai mật khẩu", "health.probe.no_stream": "Không có luồng",
  },
  en: {
    "health.title": "System health", "health.alerts": "Open alerts",
    "health.provinces": "By province and centre", "health.system": "System components",
    "health.cameras": "Cameras", "health.availability": "Availability per day (Vietnam time)",
    "health.col.unit": "Unit", "health.col.state": "State",
    "health.col.cameras": "Cameras online / observed / total", "health.col.kind": "Kind",
    "health.col.name": "Name", "health.col.detail": "Detail", "health.col.camera": "Camera",
    "health.col.fps": "Frames per second (minimum)",
    "health.state.ok": "✓ OK", "health.state.degraded": "▲ Degraded",
    "health.state.down": "✕ Down", "health.state.idle": "○ Not watched",
    "health.state.not_configured": "– Not configured",
    "health.kind.camera": "Camera", "health.kind.media_node": "Media node",
    "health.kind.display_node": "Display node", "health.kind.analytics_worker": "Analytics worker",
    "health.kind.controller": "Controller", "health.kind.store": "Store",
    "health.kind.bus": "Bus", "health.kind.disk": "Data disk",
    "health.kind.certificate": "TLS certificate",
    "health.overall": "Whole system: {state} — updated {time}",
    "health.ack": "Acknowledge", "health.acked": "Acknowledged by {by} at {at}",
    "health.raised": "Raised {at}", "health.noalerts": "No open alerts.",
    "health.sev.critical": "Critical", "health.sev.warning": "Warning",
    "health.noprovince": "(no province)", "health.nodata": "No data yet.",
    "health.error": "Could not load: {msg}", "health.day": "Day",
    "health.probe.ok": "Idle, reachable", "health.probe.unreachable": "Unreachable",
    "health.probe.wrong_password": "Wrong password", "health.probe.no_stream": "No stream",
  },
});

const ACKERS = new Set(["admin", "technician", "operator"]);
const REFRESH_MS = 5000;
const $ = (id) => document.getElementById(id);
let role = "";
let board = null;
let alerts = [];
let avail = null;

function banner(text) {
  $("banner").textContent = text || "";
  $("banner").hidden = !text;
}

function badge(state) {
  const span = document.createElement("span");
  span.className = `state state-${state}`;
  span.dataset.state = state;
  span.textContent = t(`health.state.${state}`);
  return span;
}

function row(cells, cls) {
  const tr = document.createElement("tr");
  if (cls) tr.className = cls;
  for (const c of cells) {
    const td = document.createElement("td");
    if (c instanceof Node) td.append(c); else td.textContent = c ?? "";
    tr.append(td);
  }
  return tr;
}

const when = (iso) => (iso || "").replace("T", " ").slice(0, 19) + (iso ? " (+07:00)" : "");

function detailText(c) {
  const d = c.detail || {};
  return Object.entries(d).filter(([, v]) => v !== null && v !== "" && typeof v !== "object")
    .map(([k, v]) => `${k}: ${v}`).join(", ");
}

function renderBoard() {
  if (!board) return;
  $("overall").replaceChildren(...t("health.overall", { state: "\u0000", time: when(board.time) })
    .split("\u0000").flatMap((part, i) => (i ? [badge(board.state), part] : [part])));
  const pb = $("provinces").tBodies[0];
  pb.replaceChildren();
  // online: live, or idle and answering the probe (the server counts it, not the page)
  const counts = (c) => `${c.online} / ${c.observed} / ${c.total}`;
  for (const p of board.provinces) {
    const tr = row([p.province ? `${p.name} (${p.province})` : t("health.noprovince"),
                    badge(p.state), counts(p.cameras)], "province");
    tr.id = `province-${p.province}`;
    pb.append(tr);
    for (const c of p.centres) pb.append(row([c.centre || "—", badge(c.state), counts(c.cameras)], "centre"));
  }
  if (!board.provinces.length) pb.append(row([t("health.nodata"), "", ""]));
  $("system-section").hidden = !board.system.length;
  const sb = $("system").tBodies[0];
  sb.replaceChildren(...board.system.map((c) => row(
    [t(`health.kind.${c.kind}`), c.name, badge(c.state), detailText(c)])));
  const cb = $("cameras").tBodies[0];
  cb.replaceChildren(...board.cameras.map((c) => {
    const d = c.detail || {};
    const tr = row([`${c.name} (${c.id})`, [c.province, c.centre].filter(Boolean).join(" · "),
                    badge(c.state), d.probe ? t(`health.probe.${d.probe.reason}`)
                      : d.expected_fps ? `${d.fps} (${d.expected_fps})` : `${d.fps}`]);
    tr.id = `camera-${c.id}`;
    return tr;
  }));
}

function renderAlerts() {
  const ul = $("alerts");
  ul.replaceChildren();
  const open = alerts.filter((a) => a.state !== "resolved");
  if (!open.length) {
    const li = document.createElement("li");
    li.className = "none";
    li.textContent = t("health.noalerts");
    ul.append(li);
  }
  const en = getLang() === "en";
  for (const a of open) {
    const li = document.createElement("li");
    li.id = `alert-${a.id}`;
    li.className = `sev-${a.severity}`;
    li.dataset.rule = a.rule;
    li.dataset.state = a.state;
    const title = document.createElement("span");
    title.className = "title";
    title.textContent = `${t(`health.sev.${a.severity}`)}: ${en ? a.title_en : a.title_vi}`;
    const meta = document.createElement("span");
    meta.className = "meta";
    meta.textContent = [en ? a.detail_en : a.detail_vi, t("health.raised", { at: when(a.raised_at) }),
      a.acknowledged_at ? t("health.acked", { by: a.acknowledged_by, at: when(a.acknowledged_at) }) : ""]
      .filter(Boolean).join(" · ");
    li.append(title, meta);
    if (a.state === "raised" && ACKERS.has(role)) {
      const button = document.createElement("button");
      button.type = "button";
      button.className = "btn ack";
      button.textContent = t("health.ack");
      button.addEventListener("click", async () => {
        button.disabled = true;
        try {
          await api(`/api/alerts/${a.id}/ack`, { method: "POST" });
          await load();
        } catch (err) {
          banner(t("health.error", { msg: err.message }));
          button.disabled = false;
        }
      });
      li.append(button);
    }
    ul.append(li);
  }
}

function renderAvailability() {
  if (!avail) return;
  const days = [];
  for (let i = avail.days - 1; i >= 0; i--) {
    const d = new Date(Date.now() + 7 * 3600e3 - i * 86400e3);
    days.push(d.toISOString().slice(0, 10));
  }
  const head = $("availability").tHead.rows[0];
  head.replaceChildren(...[t("health.col.camera"), ...days.map((d) => d.slice(5))].map((text) => {
    const th = document.createElement("th");
    th.textContent = text;
    return th;
  }));
  const body = $("availability").tBodies[0];
  const pct = (x) => (x === null || x === undefined ? "—" : `${x}%`);
  const line = (label, list) => {
    const byDay = Object.fromEntries(list.map((d) => [d.day, d]));
    const tr = row([label, ...days.map((d) => pct(byDay[d] && byDay[d].availability))]);
    for (const td of [...tr.cells].slice(1)) td.className = "num";
    return tr;
  };
  body.replaceChildren(...avail.provinces.map((p) => line(p.province || t("health.noprovince"), p.days)),
                       ...avail.cameras.map((c) => line(c.camera, c.days)));
  if (!avail.cameras.length) body.append(row([t("health.nodata")]));
}

function render() {
  renderBoard();
  renderAlerts();
  renderAvailability();
}

async function load() {
  try {
    [board, alerts, avail] = await Promise.all([
      api("/api/health"), api("/api/alerts?state=open").then((r) => r.alerts),
      api("/api/health/availability?days=7")]);
    banner("");
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) return goLogin();
    banner(t("health.error", { msg: err.message }));
  }
  render();
  document.body.dataset.loads = String(Number(document.body.dataset.loads) + 1);
}

async function start() {
  apply();
  onLangChange(render);
  try {
    role = (await me()).role;
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) return goLogin();
  }
  await load();
  document.body.dataset.ready = "1";
  setInterval(load, REFRESH_MS);
}

start();
