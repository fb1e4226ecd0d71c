// Indicator tiles for the leader view, the wall's display page and the console.
//
//   import { renderTile, renderRanking, renderGridMap } from "/static/indicator-tiles.js";
//   grid.append(renderTile(tile));          // tile: one entry of /api/indicators/summary
//
// A tile shows the big value with its unit and period, a sparkline (uPlot,
// served from node_modules through /static/vendor/), the status against the
// target in colour AND as an icon and words (readable without colour), and a
// stale marker. Every rendered tile has data-state="value" or "no_data" and
// data-status, so pages and tests can tell when all tiles are drawn.

import uPlot from "/static/vendor/uPlot.esm.js";
import { formatTime, getLang } from "/static/i18n.js";

const TEXT = {
  vi: {
    meets: "Đạt chỉ tiêu", near: "Gần đạt", below: "Chưa đạt", no_target: "Không có chỉ tiêu",
    no_data: "Chưa có số liệu", target: "Chỉ tiêu", stale: "Số liệu cũ", live: "trực tiếp",
    top: "Cao nhất", bottom: "Thấp nhất", period: "Kỳ", units: "đơn vị",
    reconcile: "chưa có số liệu",
  },
  en: {
    meets: "Meets target", near: "Near target", below: "Below target", no_target: "No target",
    no_data: "No data yet", target: "Target", stale: "Stale data", live: "live",
    top: "Highest", bottom: "Lowest", period: "Period", units: "units",
    reconcile: "no data",
  },
};

// Okabe–Ito colours (distinguishable with the common colour-vision deficiencies),
// always paired with an icon and words.
export const STATUS = {
  meets: { icon: "✓", colour: "#009e73" },
  near: { icon: "▲", colour: "#e69f00" },
  below: { icon: "✗", colour: "#d55e00" },
  no_target: { icon: "•", colour: "#8b949e" },
  no_data: { icon: "—", colour: "#6e7681" },
};

export function tr(key) {
  return (TEXT[getLang()] || TEXT.vi)[key] ?? key;
}

function el(tag, cls, text) {
  const node = document.createElement(tag);
  if (cls) node.className = cls;
  if (text !== undefined && text !== null) node.textContent = String(text);
  return node;
}

export function formatValue(value, decimals = 2) {
  if (value === null || value === undefined || !Number.isFinite(Number(value))) return "—";
  const locale = getLang() === "vi" ? "vi-VN" : "en-GB";
  return Number(value).toLocaleString(locale, {
    minimumFractionDigits: 0, maximumFractionDigits: decimals,
  });
}

// An indicator's or a tile's unit in the page's language ("hồ sơ" / "dossiers").
export function unitOf(item) {
  if (!item) return "";
  return (getLang() === "en" && item.unit_en) || item.unit || "";
}

// A sparkline point's label: a live point is a time, a reported one a period ("2024-08").
function pointLabel(label) {
  return /^\d{4}-\d\d-\d\dT/.test(String(label)) ? formatTime(label) : label;
}

function name(obj) {
  return (obj && (obj[getLang()] || obj.vi)) || "";
}

function statusBadge(status) {
  const s = STATUS[status] || STATUS.no_target;
  const badge = el("span", `kpi-status status-${status}`);
  badge.dataset.status = status;
  badge.append(el("span", "kpi-status-icon", s.icon), el("span", "kpi-status-text", tr(status)));
  badge.querySelector(".kpi-status-icon").setAttribute("aria-hidden", "true");
  return badge;
}

// One tile. Returns the <article>; call destroyTile() before dropping it.
export function renderTile(tile) {
  const root = el("article", "kpi-tile");
  root.dataset.indicator = tile.id;
  root.dataset.scope = tile.scope || "";
  const hasValue = tile.value !== null && tile.value !== undefined;
  root.dataset.state = hasValue ? "value" : "no_data";
  root.dataset.status = hasValue ? tile.status : "no_data";
  root.dataset.stale = tile.stale ? "1" : "0";
  root.style.setProperty("--status-colour", (STATUS[root.dataset.status] || STATUS.no_target).colour);

  const head = el("header", "kpi-head");
  head.append(el("h3", "kpi-name", name(tile.name)));
  if (tile.stale) {
    const stale = el("span", "kpi-stale", `◔ ${tr("stale")}`);
    stale.title = tile.updated ? formatTime(tile.updated) : "";
    head.append(stale);
  }
  root.append(head);

  const main = el("div", "kpi-main");
  const value = el("span", "kpi-value", hasValue ? formatValue(tile.value, tile.decimals) : "—");
  value.dataset.value = hasValue ? String(tile.value) : "";
  main.append(value, el("span", "kpi-unit", hasValue ? unitOf(tile) : ""));
  root.append(main);

  const meta = el("div", "kpi-meta");
  const period = tile.period === "live" ? tr("live") : tile.period;
  meta.append(el("span", "kpi-period", hasValue ? `${tr("period")} ${period}` : tr("no_data")));
  if (hasValue) meta.append(statusBadge(tile.status));
  root.append(meta);

  const foot = el("div", "kpi-foot muted");
  if (tile.target !== null && tile.target !== undefined) {
    const cmp = tile.direction === "lower" ? "≤" : "≥";
    foot.append(el("span", "kpi-target", `${tr("target")} ${cmp} ${formatValue(tile.target, tile.decimals)} ${unitOf(tile)}`));
  }
  if (hasValue && tile.method && name(tile.method)) foot.append(el("span", "kpi-method", name(tile.method)));
  root.append(foot);

  const spark = el("div", "kpi-spark");
  root.append(spark);
  root._spark = drawSpark(spark, tile.spark || []);
  return root;
}

export function destroyTile(root) {
  if (root && root._spark) root._spark.destroy();
}

// Sparkline of [[label, value], ...]; uPlot for two points or more.
function drawSpark(box, points) {
  box.dataset.points = String(points.length);
  if (points.length < 2) return null;
  const xs = points.map((_, i) => i);
  const ys = points.map((p) => p[1]);
  box.title = points.map((p) => `${pointLabel(p[0])}: ${formatValue(p[1])}`).join("\n");
  const opts = {
    width: 220, height: 36, pxAlign: false, cursor: { show: false }, legend: { show: false },
    scales: { x: { time: false } }, axes: [{ show: false }, { show: false }],
    series: [{}, { stroke: "#58a6ff", width: 2, points: { show: false } }],
  };
  return new uPlot(opts, [xs, ys], box);
}

// Top and bottom N of the units that have a value; "better" follows the direction.
export function renderRanking(units, { n = 5, direction = "higher", decimals = 2, unit = "" } = {}) {
  const valued = units.filter((u) => u.value !== null && u.value !== undefined);
  const sorted = [...valued].sort((a, b) => (direction === "lower" ? a.value - b.value : b.value - a.value));
  const root = el("div", "kpi-ranking");
  root.dataset.count = String(valued.length);
  const list = (title, items, cls) => {
    const box = el("section", `rank-list ${cls}`);
    box.append(el("h4", null, `${title} ${items.length}`));
    const ol = el("ol");
    for (const u of items) {
      const li = el("li");
      li.dataset.province = u.province;
      li.dataset.status = u.status;
      const s = STATUS[u.status] || STATUS.no_target;
      li.append(el("span", "rank-name", u.province),
        el("span", "rank-value", `${formatValue(u.value, decimals)} ${unit}`),
        el("span", `rank-icon status-${u.status}`, s.icon));
      li.lastChild.title = tr(u.status);
      ol.append(li);
    }
    box.append(ol);
    return box;
  };
  const k = Math.min(n, Math.ceil(sorted.length / 2));
  root.append(list(tr("top"), sorted.slice(0, k), "rank-top"),
    list(tr("bottom"), sorted.slice(-k).reverse(), "rank-bottom"));
  return root;
}

// Sequential colour (light to dark blue) by value between lo and hi; the text in
// each cell carries the value and the status icon, so colour is never alone.
// A value's lightness on the map's blue scale (82% lowest .. 30% highest).
function lightness(value, lo, hi) {
  const t = hi > lo ? Math.min(1, Math.max(0, (value - lo) / (hi - lo))) : 0.5;
  return 82 - 52 * t;
}

function shade(value, lo, hi) {
  if (value === null || value === undefined) return "#30363d";
  return `hsl(210 70% ${lightness(value, lo, hi)}%)`;
}

// White text from 47% lightness down, black above: both keep WCAG AA (4.5:1) on every shade.
const DARK_FROM = 47;

// Tile-grid cartogram: one cell per today's unit at (row, col). With
// historical=true each cell lists the earlier units merged into it.
export function renderGridMap(map, { historical = false, decimals = 2, onSelect = null } = {}) {
  const units = map.units || [];
  const values = units.map((u) => u.value).filter((v) => v !== null && v !== undefined);
  const lo = Math.min(...values, 0);
  const hi = Math.max(...values, lo + 1);
  const root = el("div", "kpi-map");
  root.dataset.units = String(units.length);
  const cells = new Map();
  for (const u of units) {
    const key = u.current;
    let cell = cells.get(key);
    if (!cell) {
      cell = el("div", "map-cell");
      cell.dataset.province = key;
      cell.style.gridRow = String((u.row || 0) + 1);
      cell.style.gridColumn = String((u.col || 0) + 1);
      cells.set(key, cell);
      root.append(cell);
      if (onSelect) {
        cell.tabIndex = 0;
        cell.addEventListener("click", () => onSelect(key));
      }
    }
    const part = el("div", "map-unit");
    const has = u.value !== null && u.value !== undefined;
    part.dataset.unit = u.province;
    part.dataset.status = u.status;
    part.dataset.state = has ? "value" : "no_data";
    part.style.background = shade(u.value, lo, hi);
    part.classList.toggle("is-dark", has && lightness(u.value, lo, hi) <= DARK_FROM);
    const s = STATUS[u.status] || STATUS.no_target;
    part.append(el("span", "map-name", u.province),
      el("span", "map-value", has ? formatValue(u.value, decimals) : tr("reconcile")),
      el("span", "map-icon", s.icon));
    part.title = `${u.province}: ${has ? formatValue(u.value, decimals) : tr("no_data")} · ${tr(u.status)}` +
      (u.method && u.method !== "reported" && u.label ? ` (${name(u.label)})` : "");
    cell.append(part);
  }
  root.classList.toggle("is-historical", historical);
  return root;
}
