"""My settings and /admin/displays in a real Chromium against a real ``iocwall demo``.

A leader chooses, on /settings, to land on the registry, in English, with Huế as default
province: after logging in again the login page lands there, the pages speak English, the
registry and the leader view open on Huế (?next= still wins), and the header's language switch
is kept as well. The password form changes the password and ends the user's other sessions.
An admin approves a display's pairing on /admin/displays, sees the node among the paired ones,
and revokes it.
"""
from __future__ import annotations

import httpx
import pytest

from tests.fixtures.browser import ADMIN_PASSWORD
from tests.test_app_shell import log_in, watch

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.timeout(240)]

PASSWORD = "settings-Test-pw-7310"
NEW_PASSWORD = "settings-New-pw-9924"


def _user(demo, name: str, role: str) -> None:
    with httpx.Client(base_url=demo.base_url, timeout=10) as http:
        assert http.post("/api/login", json={"username": "admin",
                                             "password": ADMIN_PASSWORD}).status_code == 200
        reply = http.post("/api/users", json={"username": name, "password": PASSWORD,
                                              "role": role})
        assert reply.status_code == 201, reply.text


def test_settings_are_remembered_and_used_at_login(chromium, demo) -> None:
    _user(demo, "set-leader", "leader")
    context = chromium.new_context(viewport={"width": 1280, "height": 800}, locale="vi-VN",
                                   timezone_id="Asia/Ho_Chi_Minh")
    page = context.new_page()
    page.set_default_timeout(20_000)
    errors = watch(page)
    try:
        log_in(page, demo, "set-leader", PASSWORD)
        page.wait_for_url(demo.base_url + "/leader")                  # the role's home
        page.click('#shell-menu a[href="/settings"]')                 # in the user menu
        page.wait_for_selector('body[data-ready="1"]')
        assert "/settings" not in page.eval_on_selector_all(
            "#shell-nav a", "els => els.map(a => a.getAttribute('href'))")
        landing = page.eval_on_selector_all("#prefs [name=landing] option",
                                            "els => els.map(o => o.value)")
        assert "/register" in landing and "/admin/users" not in landing, landing
        page.select_option("#prefs [name=landing]", "/register")
        page.select_option("#prefs [name=lang]", "en")
        page.select_option("#prefs [name=province]", "HUE")
        page.click("#prefs button[type=submit]")
        page.wait_for_selector('#prefs-note[data-code="settings.saved"]')
        assert page.inner_text("#prefs-note") == "Settings saved."     # English at once
        page.click("#logout")
        page.wait_for_url(demo.base_url + "/login")
        page.evaluate("localStorage.clear()")                          # another browser
        log_in(page, demo, "set-leader", PASSWORD)
        page.wait_for_url(demo.base_url + "/register")                 # the chosen landing
        page.wait_for_selector('body[data-ready="1"]')
        assert page.input_value("#province") == "HUE"                   # the default province
        assert page.evaluate("document.documentElement.lang") == "en"
        assert page.inner_text('#shell-nav a[href="/leader"]') != "Lãnh đạo"
        page.goto(demo.base_url + "/leader")
        page.wait_for_selector('body[data-ready="1"]')
        assert page.input_value("#scope") == "Huế"                      # the default province
        page.click("#lang")                                  # the header's switch is kept too
        page.wait_for_function("() => fetch('/api/me/prefs').then(r => r.json())"
                               ".then(p => p.lang === 'vi')")
        assert page.evaluate("document.documentElement.lang") == "vi"
        page.click("#logout")
        page.wait_for_url(demo.base_url + "/login")
        page.goto(demo.base_url + "/login?next=/live")                 # next= still wins
        page.fill("#username", "set-leader")
        page.fill("#password", PASSWORD)
        page.click("#submit")
        page.wait_for_url(demo.base_url + "/live")
        assert errors == [], errors
    finally:
        context.close()


def test_password_change_ends_the_other_sessions(chromium, demo) -> None:
    _user(demo, "set-operator", "operator")
    context = chromium.new_context(viewport={"width": 1280, "height": 800}, locale="vi-VN")
    page = context.new_page()
    page.set_default_timeout(20_000)
    try:
        with httpx.Client(base_url=demo.base_url, timeout=10) as other:
            assert other.post("/api/login", json={"username": "set-operator",
                                                  "password": PASSWORD}).status_code == 200
            log_in(page, demo, "set-operator", PASSWORD)
            page.wait_for_url(demo.base_url + "/console")
            page.goto(demo.base_url + "/settings")
            page.wait_for_selector('body[data-ready="1"]')
            form = "#password"
            page.fill(f"{form} [name=current_password]", "not-the-password")
            page.fill(f"{form} [name=new_password]", NEW_PASSWORD)
            page.fill(f"{form} [name=repeat]", NEW_PASSWORD)
            page.click(f"{form} button[type=submit]")
            page.wait_for_selector('#password-note[data-code="settings.wrong"]')
            page.fill(f"{form} [name=current_password]", PASSWORD)
            page.fill(f"{form} [name=new_password]", NEW_PASSWORD)
            page.fill(f"{form} [name=repeat]", NEW_PASSWORD)
            page.click(f"{form} button[type=submit]")
            page.wait_for_selector('#password-note[data-code="settings.changed"]')
            assert other.get("/api/me").status_code == 401              # the other session
        page.reload()                                                   # this one lives on
        page.wait_for_selector('body[data-ready="1"]')
        with httpx.Client(base_url=demo.base_url, timeout=10) as http:
            assert http.post("/api/login", json={"username": "set-operator",
                                                 "password": NEW_PASSWORD}).status_code == 200
            audit = http.get("/api/audit", params={"action": "user.password"})
        assert audit.status_code == 403                                 # operators read no audit
    finally:
        context.close()


def test_admin_approves_and_revokes_a_display_on_the_displays_page(chromium, demo) -> None:
    with httpx.Client(base_url=demo.base_url, timeout=10) as node:
        started = node.post("/api/display/pair", json={"name": "hall-pc-7"})
        assert started.status_code == 201, started.text
        pairing = started.json()
    context = chromium.new_context(viewport={"width": 1280, "height": 800}, locale="vi-VN",
                                   timezone_id="Asia/Ho_Chi_Minh")
    page = context.new_page()
    page.set_default_timeout(20_000)
    errors = watch(page)
    page.on("dialog", lambda dialog: dialog.accept())
    try:
        log_in(page, demo, "admin", ADMIN_PASSWORD)
        page.wait_for_url(demo.base_url + "/")
        page.click('#shell-nav a[href="/admin/displays"]')
        page.wait_for_selector('body[data-ready="1"]')
        waiting = page.wait_for_selector(f'li.pairing[data-node="{pairing["node"]}"]')
        assert pairing["code"] in waiting.inner_text() and "127.0.0.1" in waiting.inner_text()
        waiting.query_selector(".pairing-approve").click()
        row = page.wait_for_selector(f'tr[data-node="{pairing["node"]}"]')
        text = row.inner_text()
        assert "hall-pc-7" in text and "demo" in text and "127.0.0.1" in text, text
        with httpx.Client(base_url=demo.base_url, timeout=10) as node:
            polled = node.post(f"/api/display/pair/{pairing['node']}/poll",
                               json={"secret": pairing["secret"]}).json()
            assert polled["state"] == "approved" and polled["token"]
            row.query_selector(".node-revoke").click()
            page.wait_for_selector(f'tr[data-node="{pairing["node"]}"]', state="detached")
            bearer = {"Authorization": f"Bearer {polled['token']}"}
            assert node.get("/api/me", headers=bearer).status_code == 401
        assert errors == [], errors
    finally:
        context.close()
