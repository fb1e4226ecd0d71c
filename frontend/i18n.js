// Vietnamese (default) and English. Elements carry data-i18n="key" (text) or
// data-i18n-attr="attr:key,attr:key" (attributes); setLang() rewrites them all.

const STORAGE_KEY = "iocwall.lang";

const TEXT = {
  vi: {
    "app.title": "iocwall — Trung tâm điều hành",
    "app.subtitle": "Tường video và giám sát camera",
    "lang.toggle": "EN",
    "lang.toggle.title": "Switch to English",
    "login.title": "Đăng nhập",
    "login.username": "Tên đăng nhập",
    "login.password": "Mật khẩu",
    "login.submit": "Đăng nhập",
    "login.busy": "Đang đăng nhập…",
    "login.err.missing": "Hãy nhập tên đăng nhập và mật khẩu.",
    "login.err.wrong": "Sai tên đăng nhập hoặc mật khẩu.",
    "login.err.limited": "Đăng nhập sai quá nhiều lần. Hãy thử lại sau {s} giây.",
    "login.err.limited.now": "Bạn có thể thử lại ngay bây giờ.",
    "login.err.network": "Không kết nối được máy chủ. Kiểm tra mạng rồi thử lại.",
    "login.err.server": "Máy chủ gặp lỗi ({status}). Hãy thử lại sau.",
    "login.err.busy": "Máy chủ đang bận. Hãy thử lại sau giây lát.",
    "nav.label": "Điều hướng",
    "nav.home": "Tổng quan",
    "nav.live": "Trực tiếp",
    "nav.console": "Tường video",
    "nav.leader": "Lãnh đạo",
    "nav.register": "Đăng ký camera",
    "nav.zones": "Vùng xếp hàng",
    "nav.users": "Người dùng",
    "nav.tokens": "Mã truy cập",
    "nav.audit": "Nhật ký",
    "nav.outbox": "Hộp thư đi",
    "nav.displays": "Màn hình",
    "nav.settings": "Cài đặt của tôi",
    "home.desc.nav.displays": "Máy hiển thị đã ghép nối, duyệt ghép nối mới, thu hồi.",
    "nav.health": "Tình trạng hệ thống",
    "home.title": "Tổng quan",
    "home.hello": "Xin chào {user}. Các trang bạn dùng:",
    "home.desc.nav.home": "Trang này: mọi trang theo vai trò của bạn.",
    "home.desc.nav.live": "Lưới camera (luồng phụ), bấm vào một ô để xem luồng chính toàn màn hình.",
    "home.desc.nav.console": "Điều khiển tường video: kéo camera lên màn hình, cấu hình, tour, cảnh báo.",
    "home.desc.nav.leader": "Chỉ tiêu, bản đồ tỉnh và camera trực tiếp cho lãnh đạo.",
    "home.desc.nav.register": "Hồ sơ kết nối của tỉnh, thêm camera (tìm tự động hoặc nhập tay), kiểm tra kết nối.",
    "home.desc.nav.zones": "Vẽ vùng xếp hàng trên ảnh camera để đếm người chờ.",
    "home.desc.nav.users": "Tạo tài khoản, đổi vai trò, tỉnh, khoá, đặt lại mật khẩu.",
    "home.desc.nav.tokens": "Mã truy cập cho máy và màn hình.",
    "home.desc.nav.audit": "Ai đã làm gì, khi nào, ở tỉnh nào; lọc và xuất CSV.",
    "home.desc.nav.outbox": "Thư, SMS và webhook cảnh báo: đã gửi, đang thử lại, thất bại; gửi lại, gửi thử.",
    "home.desc.nav.health": "Camera, máy chủ, màn hình và cảnh báo: trạng thái và tỷ lệ hoạt động.",
    "home.health.desc": "Trạng thái máy chủ (JSON, cho giám sát).",
    "console.pushed.none": "Đã lưu. Chưa có màn hình nào đang kết nối để hiển thị.",
    "home.live": "Xem trực tiếp tất cả camera",
    "home.live.desc": "Lưới camera (luồng phụ), bấm vào một ô để xem luồng chính toàn màn hình.",
    "home.login": "Đăng nhập",
    "home.register": "Đăng ký camera",
    "home.register.desc": "Hồ sơ kết nối của tỉnh, thêm camera (tìm tự động hoặc nhập tay), kiểm tra kết nối.",
    "home.health": "Tình trạng hệ thống",
    "live.title": "Trực tiếp",
    "live.logout": "Đăng xuất",
    "live.home": "Trang chủ",
    "live.cameras": "{n} camera",
    "live.playing": "{n}/{total} đang phát",
    "live.empty": "Chưa có camera nào được đăng ký.",
    "live.lost": "Mất tín hiệu",
    "replay.back.10": "⟲ 10 giây",
    "replay.back.30": "⟲ 30 giây",
    "replay.back.120": "⟲ 2 phút",
    "replay.play": "▶ Phát",
    "replay.pause": "⏸ Dừng",
    "replay.live": "Về trực tiếp",
    "replay.banner": "XEM LẠI — không phải trực tiếp",
    "replay.timeline": "Chọn thời điểm xem lại",
    "replay.none": "Không có đoạn ghi để xem lại",
    "replay.failed": "Không xem lại được ({status})",
    "replay.alarm": "TRƯỚC CẢNH BÁO — không phải trực tiếp",
    // a display tile speaks both languages (a wall has no language toggle)
    "display.replay": "XEM LẠI / REPLAY — không phải trực tiếp / not live",
    "display.replay.alarm": "TRƯỚC CẢNH BÁO / BEFORE THE ALARM — không phải trực tiếp / not live",
    "console.replay": "Xem lại",
    "console.replay.open": "⟲ Xem lại camera này",
    "console.replay.alarm": "⟲ Xem trước cảnh báo",
    "console.replay.close": "Đóng",
    "console.replay.display": "Trên màn hình {monitor}, ô {tile}:",
    "console.replay.displayLive": "Màn hình về trực tiếp",
    "console.replay.sent": "Đã gửi tới {n} màn hình",
    "live.lost.other": "Signal lost",
    "live.lost.since": "từ {t}",
    "live.close": "Đóng (Esc)",
    "live.main": "Luồng chính",
    "live.sub": "Luồng phụ",
    "live.apiError": "Không tải được danh sách camera ({status}).",
    "live.offline": "Mất kết nối tới máy chủ; đang thử lại…",
    "live.updated": "Cập nhật",
    "state.connecting": "Đang kết nối",
    "state.live": "Trực tiếp",
    "state.stalled": "Gián đoạn",
    "state.lost": "Mất tín hiệu",
    "role.admin": "Quản trị",
    "role.operator": "Điều hành viên",
    "role.leader": "Lãnh đạo",
    "role.registrar": "Cán bộ tỉnh",
    "role.technician": "Kỹ thuật viên",
    "role.display": "Màn hình",
    "console.title": "Tường video",
    "console.search": "Tìm camera…",
    "console.cameras": "Camera",
    "console.presets": "Cấu hình",
    "console.preset.name": "Tên cấu hình",
    "console.preset.save": "Lưu cấu hình",
    "console.preset.recall": "Áp dụng",
    "console.alarms": "Cảnh báo",
    "console.alarms.none": "Không có cảnh báo",
    "console.alarm.ack": "Xác nhận",
    "console.monitor": "Màn hình {id}",
    "console.node.up": "đang chạy",
    "console.node.down": "mất kết nối",
    "console.node.none": "chưa có máy hiển thị",
    "console.pushed": "Đã đẩy lên {n}/{total} màn hình",
    "console.readonly": "Chỉ xem: vai trò của bạn không được thay đổi tường video.",
    "console.error": "Lỗi: {msg}",
    "console.remove": "Bỏ ô này",
    "console.tours": "Tour camera",
    "console.tour.monitor": "Màn hình",
    "console.tour.cameras": "Camera (chọn nhiều)",
    "console.tour.dwell": "Giây mỗi camera",
    "console.tour.start": "Bắt đầu tour",
    "console.tour.stop": "Dừng",
    "console.tour.none": "Không có tour nào đang chạy",
    "console.tour.item": "Màn hình {monitor}: {cameras} ({dwell} giây)",
    "console.tour.pick": "Chọn ít nhất một camera",
    "console.tour.full": "Màn hình {monitor} không còn ô trống",
    "console.zones": "Vùng xếp hàng",
    "console.kind.clock": "Đồng hồ",
    "console.kind.indicator": "Chỉ tiêu",
    "console.kind.queue": "Hàng chờ",
    "console.kind.text": "Dòng chữ",
    "console.kind.tour": "Tour camera",
    "console.kind.camera": "Camera",
    "console.drop.full": "Màn hình {monitor} đã đầy: hãy bỏ bớt hoặc thu nhỏ một ô rồi thêm lại.",
    "console.keys.title": "Phím tắt",
    "console.keys.help.list": "Danh sách camera: ↑ ↓ chọn, Enter thêm vào màn hình.",
    "console.keys.help.move": "Ô trên màn hình: phím mũi tên để di chuyển.",
    "console.keys.help.resize": "Shift + mũi tên: phóng to, thu nhỏ.",
    "console.keys.help.remove": "Delete: bỏ ô. Esc: đóng hộp chọn. ?: hiện/ẩn trợ giúp này.",
    "console.keys.add": "Thêm vào màn hình…",
    "console.keys.addTo": "Thêm “{name}” vào:",
    "console.keys.cancel": "Huỷ",
    "console.keys.placed": "Đã đặt {tile} vào màn hình {monitor}, ô {x},{y}.",
    "console.keys.moved": "Đã chuyển {tile} đến ô {x},{y}.",
    "console.keys.resized": "{tile}: cỡ {w}×{h} ô.",
    "console.keys.removed": "Đã bỏ {tile} khỏi màn hình {monitor}.",
    "console.keys.blocked": "{tile} không chuyển được: mép màn hình {monitor} hoặc ô khác chắn.",
    "console.keys.smallest": "{tile} đã nhỏ nhất (1 ô).",
    "console.keys.tile": "{tile}, màn hình {monitor}, ô {x},{y}, cỡ {w}×{h}",
    "console.resize.full": "Ô này không lớn thêm được: màn hình {monitor} không còn chỗ (ô khác hoặc mép màn hình chắn).",
    "console.preset.saved": "Đã lưu cấu hình “{name}” ({n} màn hình).",
    "console.preset.needName": "Hãy nhập tên cấu hình trước khi lưu.",
    "console.small": "Bảng điều khiển tường video cần màn hình rộng ít nhất 900 px (máy tính, hoặc máy tính bảng đặt ngang). Trên điện thoại, hãy dùng trang Trực tiếp hoặc Lãnh đạo.",
  },
  en: {
    "app.title": "iocwall — Operations Centre",
    "app.subtitle": "Video wall and camera monitoring",
    "lang.toggle": "VI",
    "lang.toggle.title": "Chuyển sang tiếng Việt",
    "login.title": "Sign in",
    "login.username": "Username",
    "login.password": "Password",
    "login.submit": "Sign in",
    "login.busy": "Signing in…",
    "login.err.missing": "Enter your username and password.",
    "login.err.wrong": "Wrong username or password.",
    "login.err.limited": "Too many failed sign-ins. Try again in {s} s.",
    "login.err.limited.now": "You can try again now.",
    "login.err.network": "Cannot reach the server. Check the network and try again.",
    "login.err.server": "The server had an error ({status}). Try again later.",
    "login.err.busy": "The server is busy. Try again in a moment.",
    "nav.label": "Navigation",
    "nav.home": "Overview",
    "nav.live": "Live",
    "nav.console": "Video wall",
    "nav.leader": "Leader view",
    "nav.register": "Camera registry",
    "nav.zones": "Queue zones",
    "nav.users": "Users",
    "nav.tokens": "Access tokens",
    "nav.audit": "Audit log",
    "nav.outbox": "Outbox",
    "nav.displays": "Displays",
    "nav.settings": "My settings",
    "home.desc.nav.displays": "Paired display nodes, new pairing approvals, revoke.",
    "nav.health": "System health",
    "home.title": "Overview",
    "home.hello": "Hello {user}. The pages you use:",
    "home.desc.nav.home": "This page: every page your role uses.",
    "home.desc.nav.live": "Camera grid (sub streams); click a tile for the main stream full-size.",
    "home.desc.nav.console": "Drive the video wall: drag cameras onto monitors, presets, tours, alarms.",
    "home.desc.nav.leader": "Indicators, the province map and live cameras for leaders.",
    "home.desc.nav.register": "A province's connection profile, adding cameras (discovered or by hand), connection tests.",
    "home.desc.nav.zones": "Draw queue zones on a camera snapshot to count people waiting.",
    "home.desc.nav.users": "Create accounts, change role and province, disable, reset passwords.",
    "home.desc.nav.tokens": "Access tokens for machines and displays.",
    "home.desc.nav.audit": "Who did what, when and in which province; filters and CSV export.",
    "home.desc.nav.outbox": "Alert e-mail, SMS and webhooks: sent, retrying, failed; resend, send a test.",
    "home.desc.nav.health": "Cameras, nodes, displays and alerts: their state and availability.",
    "home.health.desc": "Server status (JSON, for monitoring).",
    "console.pushed.none": "Saved. No display is connected to show it yet.",
    "home.live": "Watch every camera live",
    "home.live.desc": "Camera grid (sub streams); click a tile for the main stream full-size.",
    "home.login": "Sign in",
    "home.register": "Camera registration",
    "home.register.desc": "A province's connection profile, adding cameras (discovered or by hand), connection tests.",
    "home.health": "System health",
    "live.title": "Live",
    "live.logout": "Sign out",
    "live.home": "Home",
    "live.cameras": "{n} cameras",
    "live.playing": "{n}/{total} playing",
    "live.empty": "No camera is registered yet.",
    "live.lost": "Signal lost",
    "replay.back.10": "⟲ 10 s",
    "replay.back.30": "⟲ 30 s",
    "replay.back.120": "⟲ 2 min",
    "replay.play": "▶ Play",
    "replay.pause": "⏸ Pause",
    "replay.live": "Back to live",
    "replay.banner": "REPLAY — not live",
    "replay.timeline": "Pick a time to replay",
    "replay.none": "Nothing buffered to replay",
    "replay.failed": "Replay failed ({status})",
    "replay.alarm": "BEFORE THE ALARM — not live",
    "display.replay": "XEM LẠI / REPLAY — không phải trực tiếp / not live",
    "display.replay.alarm": "TRƯỚC CẢNH BÁO / BEFORE THE ALARM — không phải trực tiếp / not live",
    "console.replay": "Replay",
    "console.replay.open": "⟲ Replay this camera",
    "console.replay.alarm": "⟲ Seconds before the alarm",
    "console.replay.close": "Close",
    "console.replay.display": "On monitor {monitor}, tile {tile}:",
    "console.replay.displayLive": "Display back to live",
    "console.replay.sent": "Sent to {n} display(s)",
    "live.lost.other": "Mất tín hiệu",
    "live.lost.since": "since {t}",
    "live.close": "Close (Esc)",
    "live.main": "Main stream",
    "live.sub": "Sub stream",
    "live.apiError": "Cannot load the camera list ({status}).",
    "live.offline": "Lost contact with the server; retrying…",
    "live.updated": "Updated",
    "state.connecting": "Connecting",
    "state.live": "Live",
    "state.stalled": "Stalled",
    "state.lost": "Lost",
    "role.admin": "Administrator",
    "role.operator": "Operator",
    "role.leader": "Leader",
    "role.registrar": "Province registrar",
    "role.technician": "Technician",
    "role.display": "Display",
    "console.title": "Video wall",
    "console.search": "Search cameras…",
    "console.cameras": "Cameras",
    "console.presets": "Presets",
    "console.preset.name": "Preset name",
    "console.preset.save": "Save preset",
    "console.preset.recall": "Recall",
    "console.alarms": "Alarms",
    "console.alarms.none": "No alarms",
    "console.alarm.ack": "Acknowledge",
    "console.monitor": "Monitor {id}",
    "console.node.up": "up",
    "console.node.down": "down",
    "console.node.none": "no display node",
    "console.pushed": "Pushed to {n}/{total} displays",
    "console.readonly": "View only: your role may not change the wall.",
    "console.error": "Error: {msg}",
    "console.remove": "Remove this tile",
    "console.tours": "Camera tours",
    "console.tour.monitor": "Monitor",
    "console.tour.cameras": "Cameras (pick several)",
    "console.tour.dwell": "Seconds per camera",
    "console.tour.start": "Start tour",
    "console.tour.stop": "Stop",
    "console.tour.none": "No tour running",
    "console.tour.item": "Monitor {monitor}: {cameras} ({dwell} s)",
    "console.tour.pick": "Pick at least one camera",
    "console.tour.full": "Monitor {monitor} has no free cell",
    "console.zones": "Queue zones",
    "console.kind.clock": "Clock",
    "console.kind.indicator": "Indicator",
    "console.kind.queue": "Queue",
    "console.kind.text": "Text",
    "console.kind.tour": "Camera tour",
    "console.kind.camera": "Camera",
    "console.drop.full": "Monitor {monitor} is full: remove or shrink a tile, then add it again.",
    "console.keys.title": "Keys",
    "console.keys.help.list": "Camera list: ↑ ↓ choose, Enter adds to a monitor.",
    "console.keys.help.move": "A tile on a monitor: arrow keys move it.",
    "console.keys.help.resize": "Shift + arrows: grow, shrink.",
    "console.keys.help.remove": "Delete: remove the tile. Esc: close the chooser. ?: show/hide this help.",
    "console.keys.add": "Add to monitor…",
    "console.keys.addTo": "Add “{name}” to:",
    "console.keys.cancel": "Cancel",
    "console.keys.placed": "Placed {tile} on monitor {monitor}, cell {x},{y}.",
    "console.keys.moved": "Moved {tile} to cell {x},{y}.",
    "console.keys.resized": "{tile}: {w}×{h} cells.",
    "console.keys.removed": "Removed {tile} from monitor {monitor}.",
    "console.keys.blocked": "{tile} cannot move there: the edge of monitor {monitor} or another tile is in the way.",
    "console.keys.smallest": "{tile} is already the smallest (1 cell).",
    "console.keys.tile": "{tile}, monitor {monitor}, cell {x},{y}, size {w}×{h}",
    "console.resize.full": "This tile cannot grow: monitor {monitor} has no room (another tile or the monitor's edge is in the way).",
    "console.preset.saved": "Preset “{name}” saved ({n} monitors).",
    "console.preset.needName": "Type a name for the preset first.",
    "console.small": "The video wall console needs a screen at least 900 px wide (a computer, or a tablet held sideways). On a phone, use the Live or Leader view.",
  },
};

const listeners = [];

export function getLang() {
  try {
    const saved = localStorage.getItem(STORAGE_KEY);
    if (saved === "vi" || saved === "en") return saved;
  } catch (_) { /* storage blocked: fall back to the default */ }
  return "vi";
}

export function t(key, vars = {}) {
  const table = TEXT[getLang()];
  let text = table[key] ?? TEXT.vi[key] ?? key;
  for (const [name, value] of Object.entries(vars)) text = text.replaceAll(`{${name}}`, String(value));
  return text;
}

export function apply(root = document) {
  document.documentElement.lang = getLang();
  for (const el of root.querySelectorAll("[data-i18n]")) el.textContent = t(el.dataset.i18n);
  for (const el of root.querySelectorAll("[data-i18n-attr]")) {
    for (const pair of el.dataset.i18nAttr.split(",")) {
      const [attr, key] = pair.split(":");
      el.setAttribute(attr.trim(), t(key.trim()));
    }
  }
}

export function setLang(lang) {
  try {
    localStorage.setItem(STORAGE_KEY, lang);
  } catch (_) { /* not remembered, still switched for this page */ }
  apply();
  for (const fn of listeners) fn(lang);
}

export function onLangChange(fn) {
  listeners.push(fn);
}

// Wire a button that flips VI <-> EN.
export function bindToggle(button) {
  button.addEventListener("click", () => setLang(getLang() === "vi" ? "en" : "vi"));
}

// Wall-clock time as the project shows it: Asia/Ho_Chi_Minh, whatever the
// browser's own zone is (a leader's laptop abroad still shows Vietnam time).
const VN_FORMAT = new Intl.DateTimeFormat("sv-SE", {
  timeZone: "Asia/Ho_Chi_Minh",
  year: "numeric", month: "2-digit", day: "2-digit",
  hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false,
});

// ISO 8601 with +07:00, e.g. 2026-11-23T14:05:09+07:00
export function vnIso(date = new Date()) {
  return VN_FORMAT.format(date).replace(" ", "T") + "+07:00";
}

const MONTHS_EN = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

// THE way a page shows a time to a person (one rule for every page): Vietnam time
// (+07:00), 24-hour, the date in the page's language: 23/11/2026 14:05:09 in
// Vietnamese, 23 Nov 2026 14:05:09 in English. `when`: a Date, an ISO string or
// epoch ms; { date: false } gives the time of day only, { seconds: false } drops
// the seconds. Something that is not a time comes back as it was given.
export function formatTime(when = new Date(), { date = true, seconds = true } = {}) {
  const moment = when instanceof Date ? when : new Date(when);
  if (when === null || when === "" || Number.isNaN(moment.getTime())) return when ? String(when) : "";
  const [day, time] = VN_FORMAT.format(moment).split(" ");
  const clock = seconds ? time : time.slice(0, 5);
  if (!date) return clock;
  const [y, m, d] = day.split("-");
  const shown = getLang() === "en" ? `${Number(d)} ${MONTHS_EN[Number(m) - 1]} ${y}` : `${d}/${m}/${y}`;
  return `${shown} ${clock}`;
}

// The header's clock: formatTime with the date and seconds.
export function vnClock(date = new Date()) {
  return formatTime(date);
}

// A text the API gives in both languages ({"vi": ..., "en": ...}), in the page's language.
export function pick(both) {
  if (typeof both === "string") return both;
  return (both && (both[getLang()] || both.vi || both.en)) || "";
}

// A page's own strings (e.g. register-texts.js), merged into the tables above.
export function addTexts(extra) {
  for (const lang of Object.keys(TEXT)) Object.assign(TEXT[lang], extra[lang] || {});
}
