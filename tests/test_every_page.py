"""Every page as every role, on three screens, in one real Chromium against one ``iocwall demo``.

For each role (admin, operator, leader, registrar, technician) one browser context logs in and
visits every page its navigation lists, each at 1920x1080, 1280x800 and 390x844 (the page is
loaded once and the window resized, as a user turning a tablet does). On each screen: no script
or console error, no visible text reading ``[object Object]``, ``undefined`` or ``NaN``, no
horizontal scroll on the pages that claim to fit every screen, no id used twice (the shell's
and the page's share a document), and the console says plainly
that it needs a larger screen on a phone. axe-core (npm, frontend/node_modules) finds no serious
or critical WCAG 2.1 A/AA violation on any page at 1280x800 and 390x844 (each page checked once
per screen, by the first role to open it, to keep the file near a minute). The navigation
lists exactly the pages the role may open, each answers 200, the others 403; a display token
opens none of them.
"""
from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest

from tests.fixtures.browser import ADMIN_PASSWORD
from tests.test_app_shell import EXPECTED_4XX, PAGES, log_in, make_accounts

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.timeout(300)]

AXE = Path(__file__).resolve().parent.parent / "frontend/node_modules/axe-core/axe.min.js"
PASSWORD = "every-Page-pw-5517"
SCREENS = {"desktop": (1920, 1080), "laptop": (1280, 800), "phone": (390, 844)}
MENU = {"/settings"}                         # in every role's user menu
EVERY_PAGE = set().union(*PAGES.values()) | MENU
# Pages that claim to fit every screen: no horizontal scroll at any width.
FITS = {"/", "/live", "/leader", "/register", "/admin/users", "/admin/tokens",
        "/admin/displays", "/admin/outbox", "/audit", "/settings"}
# Pages whose script sets body[data-ready="1"] once drawn (/live waits for video: not here).
READY = {"/", "/console", "/leader", "/register", "/zones", "/admin/users", "/admin/tokens",
         "/admin/displays", "/admin/outbox", "/audit", "/settings"}
BAD_TEXT = re.compile(r"\[object Object\]|\bundefined\b|\bNaN\b")
BROWSER = {"Accept": "text/html"}
AXE_RUN = """async () => {
  const result = await axe.run(document, {
    runOnly: {type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]},
    resultTypes: ["violations"]});
  return result.violations.filter((v) => v.impact === "serious" || v.impact === "critical")
    .map((v) => `${v.id} (${v.impact}): ` +
         v.nodes.slice(0, 3).map((n) => n.target.join(" ")).join(" | "));
}"""
AXED: set[tuple[str, str]] = set()       # (path, screen) pairs axe has checked in this run
OVERFLOW = "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"


def watch(page, problems: list[str]) -> None:
    """Script errors, console errors and unexpected 4xx/5xx answers, into ``problems``."""
    page.on("pageerror", lambda exc: problems.append(f"{page.url}: {exc}"))

    def console(msg) -> None:  # type: ignore[no-untyped-def]
        if msg.type == "error" and not msg.text.startswith("Failed to load resource"):
            problems.append(f"{page.url}: console: {msg.text}")

    def answer(response) -> None:  # type: ignore[no-untyped-def]
        if response.status >= 400 and not any(part in response.url and response.status == code
                                               for part, code in EXPECTED_4XX):
            problems.append(f"{page.url}: {response.status} {response.url}")

    page.on("console", console)
    page.on("response", answer)


@pytest.fixture(scope="module")
def accounts(demo) -> dict[str, str]:
    return make_accounts(demo, "every", PASSWORD)


# The shell's ids and a page's own share one document: each id once (the console's camera
# filter was once #search, the header's search box too, and typing in it filtered nothing).
DUPLICATE_IDS = """() => {
  const seen = new Map();
  for (const el of document.querySelectorAll("[id]")) seen.set(el.id, (seen.get(el.id) || 0) + 1);
  return [...seen].filter(([, n]) => n > 1).map(([id]) => id);
}"""


def check_screen(page, path: str, screen: str, problems: list[str]) -> None:
    where = f"{path} @ {screen}"
    if screen == "desktop" and (twice := page.evaluate(DUPLICATE_IDS)):
        problems.append(f"{where}: ids used twice: {twice}")
    text = page.inner_text("body")
    if found := BAD_TEXT.findall(text):
        problems.append(f"{where}: text reads {found}")
    overflow = page.evaluate(OVERFLOW)
    if path in FITS and overflow > 1:
        problems.append(f"{where}: scrolls sideways by {overflow} px")
    if path == "/console":
        notice = page.is_visible("#console-too-small")
        if notice != (screen == "phone"):
            problems.append(f"{where}: larger-screen notice visible={notice}")


@pytest.mark.parametrize("role", sorted(PAGES))
def test_every_page_on_every_screen(chromium, demo, accounts, role: str) -> None:
    if not AXE.exists():
        pytest.fail(f"{AXE} missing: run `make setup` (npm install in frontend/)")
    width, height = SCREENS["desktop"]
    context = chromium.new_context(viewport={"width": width, "height": height}, locale="vi-VN",
                                   timezone_id="Asia/Ho_Chi_Minh")
    context.add_init_script(path=str(AXE))         # through DevTools: the pages' CSP holds
    page = context.new_page()
    page.set_default_timeout(20_000)
    problems: list[str] = []
    watch(page, problems)
    try:
        log_in(page, demo, accounts[role], ADMIN_PASSWORD if role == "admin" else PASSWORD)
        page.wait_for_selector('#shell[data-ready="1"]')
        for path in sorted(PAGES[role] | MENU):
            page.set_viewport_size({"width": width, "height": height})
            page.goto(demo.base_url + path)
            page.wait_for_selector('#shell[data-ready="1"]')
            if path in READY:
                page.wait_for_selector('body[data-ready="1"]')
            links = set(page.eval_on_selector_all(
                "#shell-nav a", "els => els.map(a => a.getAttribute('href'))"))
            assert links == PAGES[role], (role, path, links)
            menu = set(page.eval_on_selector_all(
                "#shell-menu a", "els => els.map(a => a.getAttribute('href'))"))
            assert menu == MENU, (role, path, menu)
            for screen, (w, h) in SCREENS.items():
                page.set_viewport_size({"width": w, "height": h})
                page.evaluate("() => new Promise(r => requestAnimationFrame(() => r()))")
                check_screen(page, path, screen, problems)
                # axe takes about a second a page: each page once per screen (laptop, phone),
                # by the first role that opens it (admin opens them all; same markup, rules)
                if screen != "desktop" and (path, screen) not in AXED:
                    AXED.add((path, screen))
                    problems.extend(f"{path} @ {screen}: axe {v}" for v in page.evaluate(AXE_RUN))
        for path in sorted(PAGES[role] | MENU):                  # every link answers
            assert context.request.get(demo.base_url + path, headers=BROWSER).status == 200
        for path in sorted(EVERY_PAGE - PAGES[role] - MENU):       # the others refuse
            assert context.request.get(demo.base_url + path, headers=BROWSER).status == 403
        assert problems == [], "\n".join(problems)
    finally:
        context.close()


def test_a_display_token_opens_no_page(demo) -> None:
    with httpx.Client(base_url=demo.base_url, timeout=10) as http:
        assert http.post("/api/login", json={"username": "admin",
                                             "password": ADMIN_PASSWORD}).status_code == 200
        made = http.post("/api/tokens", json={"label": "every-page-display", "role": "display"})
        assert made.status_code == 201, made.text
        secret = made.json()["token"]
    bearer = {"Authorization": f"Bearer {secret}", **BROWSER}
    with httpx.Client(base_url=demo.base_url, timeout=10, headers=bearer) as display:
        for path in sorted(EVERY_PAGE):
            assert display.get(path).status_code == 403, path
        assert display.get("/api/nav").status_code == 403
