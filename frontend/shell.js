// The app shell: one header for every logged-in page (display, pair and login pages aside).
// A page writes <header id="shell" data-title="text.key"> holding only its own controls;
// this module adds the product name, the navigation, the clock, the user and the language
// switch around them. The navigation comes from GET /api/nav, which the server computes from
// its page route table, so the roles each page allows are declared once, in wall/pages.py.
// /api/nav also gives the user's settings (My settings, /settings in the user menu): the
// language is applied here, and a switch of language in the header is remembered for the user.
import { api, logout } from "/static/api.js";
import { apply, getLang, onLangChange, setLang, t, vnClock, vnIso } from "/static/i18n.js";
import { searchBox } from "/static/shell-search.js";

function el(tag, props = {}, children = []) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (key === "dataset") Object.assign(node.dataset, value);
    else if (key in node) node[key] = value;
    else node.setAttribute(key, value);
  }
  for (const child of children) node.append(child);
  return node;
}

function startClock(clock) {
  const draw = () => {
    const now = new Date();
    clock.textContent = vnClock(now);
    clock.dateTime = vnIso(now);
  };
  draw();
  setInterval(draw, 1000);
}

function pageLink(page, className) {
  const link = el("a", { href: page.path, className, dataset: { i18n: page.key } });
  link.textContent = t(page.key);
  if (page.path === window.location.pathname) link.setAttribute("aria-current", "page");
  return link;
}

function drawNav(nav, menu, answer) {
  nav.replaceChildren(...answer.pages.filter((p) => !p.menu).map((p) => pageLink(p, "shell-link")));
  menu.replaceChildren(...answer.pages.filter((p) => p.menu).map((p) => pageLink(p, "shell-link shell-menu-link")));
}

// The user's language wins over this browser's last choice; a switch in the header is
// kept for the user (a token has no settings: the browser keeps it alone).
function bindLanguage(lang, answer) {
  const wanted = answer && answer.prefs && answer.prefs.lang;
  if (wanted && wanted !== getLang()) setLang(wanted);
  lang.addEventListener("click", () => {
    setLang(getLang() === "vi" ? "en" : "vi");
    if (answer && answer.via === "session") {
      api("/api/me/prefs", { method: "PUT", body: { lang: getLang() } }).catch(() => {});
    }
  });
}

function drawUser(user, answer) {
  user.dataset.user = answer.user;
  user.dataset.role = answer.role;
  const unit = answer.unit ? ` · ${answer.unit}` : "";
  user.textContent = `${answer.user} (${t(`role.${answer.role}`)}${unit})`;
}

function mount(header) {
  header.classList.add("topbar", "shell");
  const tools = el("div", { className: "shell-tools" }, [...header.childNodes]);
  // The page's name (a page that words its own title, like /leader, leaves data-title out).
  const title = header.dataset.title
    ? el("h1", { className: "topbar-title", dataset: { i18n: header.dataset.title } }) : "";
  const nav = el("nav", { className: "shell-nav", id: "shell-nav" });
  nav.setAttribute("data-i18n-attr", "aria-label:nav.label");
  const clock = el("time", { id: "clock", className: "clock", title: "Asia/Ho_Chi_Minh (UTC+07:00)" });
  const user = el("span", { id: "user", className: "user" });
  const out = el("button", { type: "button", id: "logout", className: "btn btn-ghost",
    dataset: { i18n: "live.logout" } });
  const lang = el("button", { type: "button", id: "lang", className: "btn btn-ghost",
    dataset: { i18n: "lang.toggle" } });
  lang.setAttribute("data-i18n-attr", "title:lang.toggle.title");
  const menu = el("span", { className: "shell-menu", id: "shell-menu" });
  header.replaceChildren(
    el("a", { className: "brand", href: "/" }, ["iocwall"]), title, nav, tools,
    el("span", { className: "spacer" }), searchBox(), clock,
    el("span", { className: "user-menu" }, [user, menu, out]), lang,
  );
  apply(header);
  startClock(clock);
  out.addEventListener("click", async () => {
    try { await logout(); } catch (_) { /* going to the login page anyway */ }
    window.location.assign("/login");
  });
  return api("/api/nav").then((answer) => {
    bindLanguage(lang, answer);
    drawNav(nav, menu, answer);
    drawUser(user, answer);
    onLangChange(() => drawUser(user, answer));
    header.dataset.ready = "1";
    return answer;
  }, (err) => {
    bindLanguage(lang, null);
    header.dataset.ready = "error";
    if (err.status === 401) {
      window.location.assign("/login?next=" + encodeURIComponent(window.location.pathname));
    }
    return null;
  });
}

const header = document.getElementById("shell");
// What /api/nav answered (user, role, home, pages), or null: pages such as home reuse it.
export const shell = header ? mount(header) : Promise.resolve(null);
