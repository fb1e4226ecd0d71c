// The header's search box: GET /api/search?q= (the server folds case and Vietnamese
// diacritics, and answers only what the caller's role and province may see), shown as a short
// list per kind, each entry a link to its page. The full lists live on the pages themselves.
import { api } from "/static/api.js";
import { addTexts, pick, t } from "/static/i18n.js";

const SHOWN_PER_KIND = 5;
const WAIT_MS = 250;          // typing pauses this long before a request goes out

addTexts({
  vi: {
    "search.label": "Tìm kiếm", "search.placeholder": "Tìm camera, tỉnh, chỉ tiêu…",
    "search.none": "Không tìm thấy", "search.more": "và {n} kết quả khác",
    "search.kind.cameras": "Camera", "search.kind.provinces": "Tỉnh, thành",
    "search.kind.indicators": "Chỉ tiêu", "search.kind.layouts": "Bố cục, cảnh",
    "search.kind.audit": "Nhật ký", "search.merged": "đã hợp nhất vào {unit}",
    "search.kind.alerts": "Cảnh báo",
  },
  en: {
    "search.label": "Search", "search.placeholder": "Find cameras, provinces, indicators…",
    "search.none": "Nothing found", "search.more": "and {n} more",
    "search.kind.cameras": "Cameras", "search.kind.provinces": "Provinces",
    "search.kind.indicators": "Indicators", "search.kind.layouts": "Layouts and presets",
    "search.kind.audit": "Audit log", "search.merged": "merged into {unit}",
    "search.kind.alerts": "Alerts",
  },
});

// What one result reads as: its own name where it has one.
function label(kind, item) {
  if (kind === "audit") return `${item.time.slice(0, 16).replace("T", " ")} ${item.actor} ${item.action}`;
  if (kind === "provinces" && item.merged_into) {
    return `${item.name} (${t("search.merged").replace("{unit}", item.merged_into)})`;
  }
  if (kind === "indicators") return item.name || item.id;
  if (kind === "alerts") return pick({ vi: item.title_vi, en: item.title_en });
  const where = kind === "cameras" ? ` · ${item.province}` : "";
  return `${item.name || item.id || item.code}${where}`;
}

function drawGroup(group) {
  const section = document.createElement("li");
  section.className = "search-group";
  const head = document.createElement("span");
  head.className = "search-kind";
  head.textContent = t(`search.kind.${group.kind}`);
  const list = document.createElement("ul");
  for (const item of group.results.slice(0, SHOWN_PER_KIND)) {
    const link = document.createElement("a");
    link.href = item.link;
    link.textContent = label(group.kind, item);
    const row = document.createElement("li");
    row.append(link);
    list.append(row);
  }
  section.append(head, list);
  const hidden = group.total - Math.min(group.results.length, SHOWN_PER_KIND);
  if (hidden > 0) {
    const more = document.createElement("span");
    more.className = "search-more";
    more.textContent = t("search.more").replace("{n}", `${hidden}${group.total_exact ? "" : "+"}`);
    section.append(more);
  }
  return section;
}

function draw(results, answer) {
  const groups = answer.groups.filter((g) => g.total > 0);
  if (!groups.length) {
    const none = document.createElement("li");
    none.className = "search-none";
    none.textContent = t("search.none");
    results.replaceChildren(none);
  } else {
    results.replaceChildren(...groups.map(drawGroup));
  }
  results.hidden = false;
}

export function searchBox() {
  const form = document.createElement("form");
  form.className = "shell-search";
  form.setAttribute("role", "search");
  const input = document.createElement("input");
  input.type = "search";
  input.id = "search";
  input.maxLength = 100;                      // the API's limit (wall/search.py)
  input.dataset.i18nAttr = "placeholder:search.placeholder,aria-label:search.label";
  const results = document.createElement("ul");
  results.id = "search-results";
  results.className = "search-results";
  results.hidden = true;
  form.append(input, results);
  let timer = null;
  let asked = 0;
  const ask = async () => {
    const q = input.value.trim();
    if (!q) { results.hidden = true; return; }
    const mine = ++asked;
    try {
      const answer = await api(`/api/search?q=${encodeURIComponent(q)}`);
      if (mine === asked) draw(results, answer);     // only the newest question's answer
    } catch (_) {
      results.hidden = true;                         // the box stays usable; nothing to show
    }
  };
  input.addEventListener("input", () => { clearTimeout(timer); timer = setTimeout(ask, WAIT_MS); });
  form.addEventListener("submit", (event) => { event.preventDefault(); clearTimeout(timer); ask(); });
  input.addEventListener("keydown", (event) => {
    if (event.key === "Escape") { results.hidden = true; input.blur(); }
  });
  document.addEventListener("click", (event) => { if (!form.contains(event.target)) results.hidden = true; });
  return form;
}
