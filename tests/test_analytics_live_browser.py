"""Live counts on the tiles of a real ``iocwall demo`` in Debian's chromium: every count with
its age in the page's language, the worker's boxes on a tile when its toggle is on, and
"analytics off" (once, clearly, no restart loop) when the analytics extra is missing."""
from __future__ import annotations

import os
from pathlib import Path

import httpx
import pytest

from tests.fixtures.browser import ADMIN_PASSWORD, RunningDemo, login
from tests.waiting import wait_until_sync

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.timeout(300)]

AGED = r"/^c[1-4]: \d+ người · [\d,]+ s$/"
AGED_EN = r"/^c[1-4]: \d+ people · [\d.]+ s$/"


def test_tiles_show_each_count_with_its_age_and_boxes_on_demand(demo, chromium) -> None:
    context = chromium.new_context(viewport={"width": 1280, "height": 720})
    try:
        page = context.new_page()
        page.set_default_timeout(45_000)
        login(page, demo)
        cam1 = '[data-camera-id="cam1"]'
        page.wait_for_function(
            f"""() => [...document.querySelectorAll('{cam1} .queue-counts li')]
                     .filter(li => {AGED}.test(li.textContent)).length === 4""")
        ages = page.eval_on_selector_all(f"{cam1} .queue-counts li",
                                         "els => els.map(li => Number(li.dataset.ageMs))")
        assert all(0 <= a < 5000 for a in ages), ages
        assert page.locator(f"{cam1} canvas.queue-boxes").get_attribute("data-boxes") == "0"
        # boxes on for cam1 only: drawn from the counted frame, cam2's tile stays clean
        page.click(f"{cam1} .queue-boxes-toggle")
        assert page.locator(f"{cam1} .queue-boxes-toggle").get_attribute("aria-pressed") \
            == "true"
        assert page.locator(f"{cam1} .full-stage, #full:not([hidden])").count() == 0
        page.wait_for_function(
            f"""() => Number(document.querySelector('{cam1} canvas.queue-boxes')
                             .dataset.boxes) > 0""")
        assert page.locator('[data-camera-id="cam2"] canvas.queue-boxes') \
            .get_attribute("data-boxes") == "0"
        # the page in English: the same counts, in English
        page.evaluate("() => localStorage.setItem('iocwall.lang', 'en')")
        page.reload()
        page.wait_for_function(
            f"""() => [...document.querySelectorAll('{cam1} .queue-counts li')]
                     .some(li => {AGED_EN}.test(li.textContent))""")
        # the toggle was remembered for cam1 in this browser
        page.wait_for_function(
            f"""() => Number(document.querySelector('{cam1} canvas.queue-boxes')
                             .dataset.boxes) > 0""")
    finally:
        context.close()


def test_without_the_analytics_extra_the_demo_says_analytics_off_once(
        tmp_path: Path, chromium, monkeypatch: pytest.MonkeyPatch) -> None:
    fake = tmp_path / "no-extra" / "torch"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text(
        'raise ModuleNotFoundError("No module named \'torch\'", name="torch")\n')
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(fake.parent),
                                                      os.environ.get("PYTHONPATH", "")]))
    demo = RunningDemo(tmp_path / "data", cameras=1)
    try:
        demo.wait_ready()
        with httpx.Client(base_url=demo.base_url, timeout=10) as client:
            assert client.post("/api/login", json={"username": "admin",
                                                    "password": ADMIN_PASSWORD}).status_code == 200
            rows = wait_until_sync(lambda: client.get("/api/queues").json(), 60,
                                   "the zones listed as off", step=0.5)
        assert {r["state"] for r in rows} == {"off"} and len(rows) == 4
        assert all(r["waiting"] is None for r in rows)
        assert 'pip install -e ".[analytics]"' in rows[0]["reason"]
        context = chromium.new_context(viewport={"width": 1280, "height": 720})
        try:
            page = context.new_page()
            page.set_default_timeout(45_000)
            login(page, demo)
            page.wait_for_function(
                """() => [...document.querySelectorAll('[data-camera-id="cam1"] .queue-counts li')]
                         .filter(li => li.textContent.endsWith(': tắt phân tích')).length === 4""")
        finally:
            context.close()
    finally:
        demo.stop()
    files = "".join(p.read_text(errors="replace") for p in (tmp_path / "data").rglob("*.log"))
    for log in (demo.errors, files):        # the terminal and the log file: once each
        assert log.count("analytics off: the analytics extra is not installed") == 1, log[-3000:]
        assert "restarting" not in log
