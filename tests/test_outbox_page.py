"""/admin/outbox and the users page's contact fields in Debian's chromium, against a real
`iocwall serve` whose webhook goes to a real HTTP receiver on 127.0.0.1: a test message
that the receiver refuses fails with its reason; the receiver comes back; Resend delivers
it. Both languages; no console errors."""
from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from tests.fixtures.serve_process import ADMIN_PASSWORD, serve_env, serve_process

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.timeout(180)]


class _Hook(BaseHTTPRequestHandler):
    status = 503                       # the class is the receiver's state: down, then up
    keys: list[str] = []

    def do_POST(self) -> None:  # noqa: N802  (the stdlib's name)
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        type(self).keys.append(self.headers.get("Idempotency-Key", ""))
        self.send_response(type(self).status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def hook() -> Iterator[tuple[str, type[_Hook]]]:
    _Hook.status, _Hook.keys = 503, []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Hook)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/hook", _Hook
    finally:
        server.shutdown()
        server.server_close()


def test_outbox_page_test_message_fails_then_resend(browser_page, tmp_path: Path,
                                                    hook: tuple[str, type[_Hook]]) -> None:
    url, receiver = hook
    config = tmp_path / "config.toml"
    config.write_text("[streams]\nprocesses = 1\n\n[notify]\n"
                      f'webhook_url = "{url}"\nmax_attempts = 1\npoll_s = 0.2\n')
    env = serve_env(IOCWALL_WEBHOOK_SECRET="page-secret")
    with serve_process(tmp_path / "data", config=config, env=env) as server:
        page = browser_page
        problems: list[str] = []
        page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: problems.append(str(e)))
        page.goto(f"{server.url}/admin/outbox")
        page.wait_for_url("**/login?next=**")
        page.fill("#username", "admin")
        page.fill("#password", ADMIN_PASSWORD)
        page.click("#submit")
        page.wait_for_url("**/admin/outbox")
        problems.clear()                # the login page's own 401 probe is not ours
        page.wait_for_selector("body[data-ready='1']")
        page.wait_for_selector("#shell-nav a[href='/admin/outbox']")

        page.select_option("#test-form select[name=channel]", "webhook")
        page.click("#test-form button[type=submit]")
        page.wait_for_selector("#messages tr[data-state='failed']", timeout=20_000)
        row = page.locator("#messages tr").first
        cells = row.locator("td").all_text_contents()
        assert cells[1] == "Webhook" and cells[4] == "Thất bại" and cells[5] == "1"
        assert "503" in cells[6] and "/hook" not in cells[2]         # reason; masked URL

        receiver.status = 200
        row.locator("button.outbox-resend").click()
        page.wait_for_selector("#messages tr[data-state='sent']", timeout=20_000)
        assert len(receiver.keys) == 2 and receiver.keys[0] != receiver.keys[1]
        assert page.locator("#messages tr").first.locator("td").nth(4).text_content() \
            == "Đã gửi"
        page.click("#lang")
        page.wait_for_function(
            "document.querySelector('#messages tr td:nth-child(5)').textContent === 'Sent'")
        assert page.text_content("#list-title") == "Messages sent and to send"

        # the users page: an admin's e-mail for notifications, saved when the field is left
        page.goto(f"{server.url}/admin/users")
        page.wait_for_selector("body[data-ready='1']")
        field = page.locator("tr[data-user='admin'] input.user-email")
        field.fill("admin@ioc.gov.vn")
        field.press("Tab")
        with httpx.Client(base_url=server.url, timeout=20) as admin:
            assert admin.post("/api/login", json={"username": "admin", "password":
                                                  ADMIN_PASSWORD}).status_code == 200

            def saved() -> bool:
                users = admin.get("/api/users").json()["users"]
                return any(u["email"] == "admin@ioc.gov.vn" for u in users)
            from tests.waiting import wait_until_sync
            wait_until_sync(saved, 10, "e-mail saved")
        assert problems == []
