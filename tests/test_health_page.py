"""/health in Debian's chromium against a real `iocwall serve`: the board, the open alerts and
availability, in Vietnamese and English, at 1280 px and 390 px, states as text as well as
colour; an admin acknowledges an alert with the button; a registrar gets no system parts and
no button; no console errors. The alerts are real: the data disk's rule with its threshold at
100 % free (always under), and a certificate that expires in two days."""
from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.fixtures.serve_process import ADMIN_PASSWORD, ServeProcess, serve_process
from tests.waiting import wait_until_sync

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.timeout(180)]
USER_PASSWORD = "Health-Page-Pass-1!"


def short_lived_cert(path: Path, days: int) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "iocwall.test")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=days)).sign(key, hashes.SHA256()))
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServeProcess]:
    root = tmp_path_factory.mktemp("health")
    short_lived_cert(root / "tls.pem", days=2)
    config = root / "config.toml"
    config.write_text(
        "[alerts]\nsample_s = 0.3\nraise_hold_s = 0.3\nresolve_hold_s = 1.0\n"
        "disk_free_min_percent = 100.0\n"
        f'certificate_file = "{root / "tls.pem"}"\ncertificate_warn_days = 14\n'
        'disabled = ["report_late"]\n'
        # the demo wall (loopback display pages, no pairing) needs one camera: another province
        '[wall]\ndemo_open_display = true\n[[cameras]]\nid = "dn-1"\nname = "Sảnh A"\n'
        'main_url = "rtsp://127.0.0.1:9/a"\nprovince = "Đà Nẵng"\n', encoding="utf-8")
    with serve_process(root / "data", config=config) as running:
        yield running


@pytest.fixture(scope="module")
def admin(server: ServeProcess) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=20) as client:
        assert client.post("/api/login", json={"username": "admin",
                                                "password": ADMIN_PASSWORD}).status_code == 200
        r = client.post("/api/users", json={"username": "hn-reg", "role": "registrar",
                                            "province": "Hà Nội", "password": USER_PASSWORD})
        assert r.status_code == 201, r.text
        wait_until_sync(lambda: len(client.get("/api/alerts").json()["alerts"]) >= 2, 20,
                        "the disk and certificate alerts raised")
        yield client


def watch(page) -> list[str]:  # type: ignore[no-untyped-def]
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    return problems


def log_in(page, server: ServeProcess, username: str, password: str) -> None:  # type: ignore[no-untyped-def]
    page.goto(f"{server.url}/health")
    page.wait_for_url("**/login?next=**")
    page.fill("#username", username)
    page.fill("#password", password)
    page.click("#submit")
    page.wait_for_url("**/health")
    page.wait_for_selector("body[data-ready='1']")


def test_board_alerts_and_acknowledge_in_both_languages(browser_page, server: ServeProcess,
                                                        admin: httpx.Client) -> None:
    page = browser_page
    problems = watch(page)
    log_in(page, server, "admin", ADMIN_PASSWORD)
    problems.clear()                    # the login page's own 401 probe of /api/me is not ours
    disk = page.wait_for_selector("#alerts li[data-rule='disk_low']")
    assert "Ổ đĩa dữ liệu sắp đầy" in disk.inner_text()
    assert page.query_selector("#alerts li[data-rule='certificate_expiring']") is not None
    system = page.inner_text("#system")
    assert "Chứng chỉ TLS" in system and "Cơ sở dữ liệu" in system
    # every badge says its state in words, not colour alone
    badges = page.eval_on_selector_all(".state", "els => els.map(e => [e.dataset.state, "
                                       "e.textContent])")
    assert badges and all(text.strip() for _, text in badges)
    assert ["down", "✕ Hỏng / mất"] in badges and ["ok", "✓ Bình thường"] in badges
    assert "+07:00" in page.inner_text("#overall") and "+07:00" in disk.inner_text()

    page.click("#lang")
    page.wait_for_selector("#h-alerts:text-is('Open alerts')")
    assert "Data disk nearly full" in page.inner_text("#alerts")
    system = page.inner_text("#system")
    assert "✕ Down" in system and "TLS certificate" in system

    page.click("#alerts li[data-rule='disk_low'] button.ack")
    page.wait_for_selector("#alerts li[data-rule='disk_low'][data-state='acknowledged']")
    assert "Acknowledged by admin" in page.inner_text("#alerts li[data-rule='disk_low']")
    acked = admin.get("/api/alerts", params={"state": "acknowledged"}).json()["alerts"]
    assert [(a["rule"], a["acknowledged_by"]) for a in acked] == [("disk_low", "admin")]

    page.set_viewport_size({"width": 390, "height": 800})
    page.reload()
    page.wait_for_selector("body[data-ready='1']")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the page is {width} px wide on a 390 px phone"
    assert page.is_visible("#alerts li[data-rule='certificate_expiring'] button.ack")
    page.click("#lang")                 # back to Vietnamese for the next test's context
    page.wait_for_selector("#h-alerts:text-is('Cảnh báo đang mở')")
    assert problems == [], problems


def test_a_registrar_sees_its_province_only(browser_page, server: ServeProcess,
                                            admin: httpx.Client) -> None:
    page = browser_page
    problems = watch(page)
    log_in(page, server, "hn-reg", USER_PASSWORD)
    problems.clear()
    assert page.is_hidden("#system-section")         # the centre's own parts are not theirs
    assert page.query_selector("button.ack") is None
    assert "Không có cảnh báo nào đang mở." in page.inner_text("#alerts")
    assert problems == [], problems


def test_an_alert_reaches_the_walls_alarms_tile(chromium, server: ServeProcess,
                                               admin: httpx.Client) -> None:
    r = admin.put("/api/walls/demo/monitors/1/layout", json={
        "name": "alarms", "grid": {"columns": 1, "rows": 1},
        "tiles": [{"id": "al", "kind": "alarms", "x": 0, "y": 0, "w": 1, "h": 1}]})
    assert r.status_code == 200, r.text
    context = chromium.new_context(viewport={"width": 1280, "height": 720})
    try:
        page = context.new_page()
        problems = watch(page)
        page.goto(f"{server.url}/display/demo/1")
        page.wait_for_selector("body[data-ready='1']", timeout=45_000)
        tile = page.wait_for_selector(".dtile[data-tile='al'] .dvalue")
        # the open alerts from the start (the layout message carries them), newest shown
        assert "No alarms" not in tile.inner_text()
        assert re.search(r"\(\+\d+\)$", tile.inner_text()), tile.inner_text()   # 2+ open
        cert = next(a for a in admin.get("/api/alerts").json()["alerts"]
                    if a["rule"] == "certificate_expiring")
        assert admin.post(f"/api/alerts/{cert['id']}/ack").status_code == 200
        page.wait_for_selector(".dtile[data-tile='al'] .dvalue:has-text('TLS certificate "
                               "expiring')")
        assert tile.inner_text().startswith("✓ Chứng chỉ TLS sắp hết hạn")
        page.reload()                           # a display that restarts shows it again
        page.wait_for_selector("body[data-ready='1']", timeout=45_000)
        page.wait_for_selector(".dtile[data-tile='al'] .dvalue:has-text('TLS certificate "
                               "expiring')")
        assert problems == [], problems
    finally:
        context.close()
