"""The app shell in a real Chromium against a real ``iocwall demo``.

Each role logs in through the login page (no ?next=) and lands on its home. An admin creates a
registrar on /admin/users, and the registrar lands on the registry; tokens, the console's
messages and the header's search. Every page as every role, on three screens:
tests/test_every_page.py (which uses this module's PAGES, log_in and watch).
"""
from __future__ import annotations

import re

import httpx
import pytest

from tests.fixtures.browser import ADMIN_PASSWORD, CAMERA_PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.timeout(300)]

PASSWORD = "shell-Test-pw-4821"
# What each role may open (wall/pages.py and wall/walls/ws.py declare it) and where it lands.
PAGES = {
    "admin": {"/", "/live", "/console", "/leader", "/register", "/zones", "/admin/users",
              "/admin/tokens", "/admin/displays", "/admin/outbox", "/audit", "/health"},
    "operator": {"/", "/live", "/console", "/leader", "/register", "/zones"},
    "leader": {"/", "/live", "/console", "/leader", "/register", "/audit"},
    "registrar": {"/", "/live", "/register", "/zones", "/health"},
    "technician": {"/", "/live", "/console", "/register", "/health"},
}
HOMES = {"admin": "/", "operator": "/console", "leader": "/leader", "registrar": "/register",
         "technician": "/health"}
EVERY_PAGE = set().union(*PAGES.values())
# Pages whose script sets body[data-ready="1"] once drawn (/live waits for video: not here).
READY = {"/", "/console", "/leader", "/register", "/zones", "/admin/users", "/admin/tokens",
         "/admin/displays", "/admin/outbox", "/audit", "/health"}
BAD_TEXT = re.compile(r"\[object Object\]|\bundefined\b|\bNaN\b")
BROWSER = {"Accept": "text/html"}
# Answers a page expects and handles, which Chromium still logs as "Failed to load resource":
# the login page asks whether someone is already signed in; a province without a profile yet.
# No 403: a page asks /api/allowed (or /api/registry/access) before calling what a role
# may not use.
EXPECTED_4XX = (("/api/me", 401), ("/api/registry/profiles/", 404))


def watch(page) -> list[str]:
    """Script errors, console errors and unexpected 4xx/5xx answers on ``page``."""
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(f"{page.url}: {exc}"))

    def console(msg) -> None:  # type: ignore[no-untyped-def]
        if msg.type == "error" and not msg.text.startswith("Failed to load resource"):
            errors.append(f"{page.url}: {msg.text}")

    def answer(response) -> None:  # type: ignore[no-untyped-def]
        if response.status >= 400 and not any(part in response.url and response.status == code
                                               for part, code in EXPECTED_4XX):
            errors.append(f"{response.status} {response.url}")

    page.on("console", console)
    page.on("response", answer)
    return errors


def make_accounts(demo, prefix: str, password: str) -> dict[str, str]:  # type: ignore[no-untyped-def]
    """One user per person role besides the demo's admin (``{prefix}-{role}``, made through
    the API as an admin does): role -> username."""
    names = {"admin": "admin"}
    with httpx.Client(base_url=demo.base_url, timeout=10) as http:
        assert http.post("/api/login", json={"username": "admin",
                                             "password": ADMIN_PASSWORD}).status_code == 200
        for role in ("operator", "leader", "registrar", "technician"):
            body = {"username": f"{prefix}-{role}", "password": password, "role": role}
            if role == "registrar":
                body["province"] = "Hà Nội"
            reply = http.post("/api/users", json=body)
            assert reply.status_code in (201, 409), reply.text
            names[role] = body["username"]
    return names


@pytest.fixture(scope="module")
def accounts(demo) -> dict[str, str]:
    return make_accounts(demo, "shell", PASSWORD)


@pytest.mark.parametrize("role", sorted(PAGES))
def test_each_role_lands_on_its_home(chromium, demo, accounts, role: str) -> None:
    context = chromium.new_context(viewport={"width": 1280, "height": 800}, locale="vi-VN")
    page = context.new_page()
    page.set_default_timeout(20_000)
    try:
        log_in(page, demo, accounts[role], ADMIN_PASSWORD if role == "admin" else PASSWORD)
        page.wait_for_url(demo.base_url + HOMES[role])
        assert nav_links(page) == PAGES[role]
    finally:
        context.close()


def log_in(page, demo, username: str, password: str) -> None:
    page.goto(demo.base_url + "/login")
    page.fill("#username", username)
    page.fill("#password", password)
    page.click("#submit")


def nav_links(page) -> set[str]:
    page.wait_for_selector('#shell[data-ready="1"]')
    return set(page.eval_on_selector_all("#shell-nav a",
                                         "els => els.map(a => a.getAttribute('href'))"))


def test_admin_creates_a_registrar_who_lands_on_the_registry(chromium, demo) -> None:
    admin = chromium.new_context(viewport={"width": 1280, "height": 800})
    registrar = chromium.new_context(viewport={"width": 1280, "height": 800})
    try:
        page = admin.new_page()
        page.set_default_timeout(20_000)
        errors = watch(page)
        log_in(page, demo, "admin", ADMIN_PASSWORD)
        page.wait_for_url(demo.base_url + "/")
        page.click('#shell-nav a[href="/admin/users"]')
        page.wait_for_selector('body[data-ready="1"]')
        form = "#new-user"
        page.fill(f"{form} [name=username]", "reg-page")
        page.fill(f"{form} [name=password]", PASSWORD)
        page.select_option(f"{form} [name=role]", "registrar")
        provinces = page.eval_on_selector_all(f"{form} [name=province] option",
                                              "els => els.map(o => o.value)")
        assert len(provinces) == 35                    # "none" and the 34 current units
        page.select_option(f"{form} [name=province]", "HNI" if "HNI" in provinces else provinces[1])
        page.click(f"{form} button[type=submit]")
        row = page.wait_for_selector('tr[data-user="reg-page"]')
        assert "reg-page" in page.inner_text("#form-note")
        assert row.eval_on_selector(".role-select", "s => s.value") == "registrar"

        other = registrar.new_page()
        other.set_default_timeout(20_000)
        log_in(other, demo, "reg-page", PASSWORD)
        other.wait_for_url(demo.base_url + "/register")
        assert nav_links(other) == PAGES["registrar"]
        # the demo shows its simulated cameras' login, marked demo, so a camera can be added
        other.wait_for_selector("#demo-login:not([hidden])")
        assert other.inner_text("#demo-password") == CAMERA_PASSWORD
        assert other.inner_text("#demo-user") == "demo"

        # disabled on the page: the registrar can no longer log in
        page.click('tr[data-user="reg-page"] .user-toggle')
        page.wait_for_selector('tr[data-user="reg-page"][data-disabled="1"]')
        with httpx.Client(base_url=demo.base_url, timeout=10) as http:
            reply = http.post("/api/login", json={"username": "reg-page", "password": PASSWORD})
        assert reply.status_code in (401, 403)
        assert errors == [], errors
    finally:
        admin.close()
        registrar.close()


def test_console_says_plainly_when_no_display_is_connected(chromium, demo) -> None:
    context = chromium.new_context(viewport={"width": 1280, "height": 800}, locale="vi-VN")
    try:
        page = context.new_page()
        page.set_default_timeout(20_000)
        log_in(page, demo, "admin", ADMIN_PASSWORD)
        page.wait_for_url(demo.base_url + "/")
        page.goto(demo.base_url + "/console?wall=demo")
        page.wait_for_selector('body[data-ready="1"]')
        # indicators in the camera list carry their name in the page's language
        items = page.eval_on_selector_all(".indicator-item", "els => els.map(e => e.textContent)")
        assert items and not any("[object Object]" in i for i in items), items
        # "no alarms" is good news: not in the alarm-red box
        none = page.wait_for_selector("#alarm-list li")
        background = none.evaluate("li => getComputedStyle(li).backgroundColor")
        assert background in ("rgba(0, 0, 0, 0)", "transparent"), background
        page.fill("#preset-name", "shell-check")
        page.click("#preset-save")
        page.wait_for_selector('#preset-select option[value="shell-check"]', state="attached")
        # saving says so; then the recall's own answer replaces it
        page.wait_for_function("() => document.getElementById('push-status').textContent"
                               ".includes('shell-check')")
        page.select_option("#preset-select", "shell-check")
        page.click("#preset-recall")
        page.wait_for_function("() => !document.getElementById('push-status').textContent"
                               ".includes('shell-check')")
        status = page.inner_text("#push-status")
        assert "0/0" not in status and "Chưa có màn hình nào" in status, status
    finally:
        context.close()


def test_admin_creates_a_token_with_an_expiry_and_revokes_it(chromium, demo) -> None:
    context = chromium.new_context(viewport={"width": 1280, "height": 800})
    try:
        page = context.new_page()
        page.set_default_timeout(20_000)
        errors = watch(page)
        log_in(page, demo, "admin", ADMIN_PASSWORD)
        page.wait_for_url(demo.base_url + "/")
        page.goto(demo.base_url + "/admin/tokens")
        page.wait_for_selector('body[data-ready="1"]')
        page.fill("#new-token [name=label]", "shell-probe")
        page.select_option("#new-token [name=role]", "technician")
        page.fill("#new-token [name=expires_in_days]", "7")
        page.click("#new-token button[type=submit]")
        page.wait_for_selector("#secret-box:not([hidden])")
        secret = page.inner_text("#secret").strip()
        row = page.wait_for_selector('tr[data-token="shell-probe"][data-revoked="0"]')
        assert "+07:00" not in row.inner_text() and re.search(r"\d\d/\d\d/\d{4}", row.inner_text())
        bearer = {"Authorization": f"Bearer {secret}"}
        with httpx.Client(base_url=demo.base_url, timeout=10, headers=bearer) as http:
            assert http.get("/api/me").json()["role"] == "technician"
            page.click('tr[data-token="shell-probe"] .token-revoke')
            page.wait_for_selector('tr[data-token="shell-probe"][data-revoked="1"]')
            assert http.get("/api/me").status_code == 401
        page.reload()                                     # the secret is never shown again
        page.wait_for_selector('body[data-ready="1"]')
        assert secret not in page.content()
        assert errors == [], errors
    finally:
        context.close()


def _search(page, text: str) -> list[str]:
    """Type ``text`` into the header's search box; the result links once they are shown."""
    page.press("#search", "Escape")                   # hides the last answer
    page.wait_for_selector("#search-results", state="hidden")
    page.fill("#search", text)
    page.wait_for_selector("#search-results:not([hidden])")
    return page.eval_on_selector_all("#search-results a",
                                     "els => els.map(a => a.getAttribute('href'))")


def test_header_search_ignores_diacritics_and_keeps_to_the_callers_province(
        chromium, demo, accounts) -> None:
    """The demo's cameras are in Hà Nội: the admin finds them typing "HA NOI" without marks;
    a registrar of Huế finds its own unit, and nothing of Hà Nội."""
    with httpx.Client(base_url=demo.base_url, timeout=10) as http:
        assert http.post("/api/login", json={"username": "admin",
                                             "password": ADMIN_PASSWORD}).status_code == 200
        reply = http.post("/api/users", json={"username": "shell-hue", "password": PASSWORD,
                                              "role": "registrar", "province": "Huế"})
        assert reply.status_code in (201, 409), reply.text
    context = chromium.new_context(viewport={"width": 1280, "height": 800}, locale="vi-VN",
                                   timezone_id="Asia/Ho_Chi_Minh")
    page = context.new_page()
    page.set_default_timeout(20_000)
    errors = watch(page)
    try:
        log_in(page, demo, "admin", ADMIN_PASSWORD)
        page.wait_for_url(demo.base_url + "/")
        page.wait_for_selector('#shell[data-ready="1"]')
        links = _search(page, "HA NOI")
        assert any(link.startswith("/register?camera=cam") for link in links), links
        assert "Hà Nội" in page.inner_text("#search-results")
        page.click("#logout")
        page.wait_for_url(demo.base_url + "/login")
        log_in(page, demo, "shell-hue", PASSWORD)
        page.wait_for_url(demo.base_url + "/register")
        page.wait_for_selector('#shell[data-ready="1"]')
        assert _search(page, "ha noi") == []            # another province: nothing of it
        assert page.inner_text("#search-results") == "Không tìm thấy"
        links = _search(page, "HUE")                    # its own unit, found without marks
        assert "Huế" in page.inner_text("#search-results"), links
        assert errors == [], errors
    finally:
        context.close()
