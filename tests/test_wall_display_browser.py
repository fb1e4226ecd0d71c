"""The display pages of ``iocwall demo`` in Debian's chromium: real video, pushes, stream switch.

The demo wall has monitors 1 and 2; each is a display page (loopback, no pairing).
Screenshots go to test-artifacts/ (git-ignored).
"""
from __future__ import annotations

import contextlib
import re
import time
from pathlib import Path

import httpx
import pytest

from tests.fixtures.browser import ADMIN_PASSWORD
from tests.waiting import wait_until_sync

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.timeout(240)]
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
VIDEOS = """() => [...document.querySelectorAll('.dtile')].map(t => {
  const v = t.querySelector('video');
  return {tile: t.dataset.tile, stream: t.dataset.stream || '', switches: t.dataset.switches || '0',
          width: v ? v.videoWidth : 0, time: v ? v.currentTime : 0,
          frames: v ? v.getVideoPlaybackQuality().totalVideoFrames : 0};
})"""


def state(page) -> dict[str, dict]:
    return {t["tile"]: t for t in page.evaluate(VIDEOS)}


def assert_playing(page, tiles: list[str]) -> None:
    before = state(page)
    time.sleep(1.5)
    after = state(page)
    for tid in tiles:
        assert after[tid]["width"] > 0, f"{tid}: no picture"
        assert after[tid]["time"] > before[tid]["time"], f"{tid}: currentTime stuck"
        assert after[tid]["frames"] > before[tid]["frames"] + 5, f"{tid}: no new frames"


def told(page, tile: str) -> dict[str, str]:
    """The streams the controller told the page to play in ``tile`` (camera -> stream)."""
    return page.evaluate("(id) => window.iocwallDisplay.layout.tiles.find(t => t.id === id).play",
                         tile)


def admin(demo) -> httpx.Client:
    http = httpx.Client(base_url=demo.base_url, timeout=10)
    r = http.post("/api/login", json={"username": "admin", "password": ADMIN_PASSWORD})
    assert r.status_code == 200, r.text
    return http


def test_two_display_pages_play_and_follow_a_push(chromium, demo) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    context = chromium.new_context(viewport={"width": 1280, "height": 720})
    try:
        one, two = context.new_page(), context.new_page()
        one.goto(demo.base_url + "/display/demo/1")
        two.goto(demo.base_url + "/display/demo/2")
        for page in (one, two):
            page.wait_for_selector("body[data-ready='1']", timeout=45_000)
        assert sorted(state(one)) == ["c0", "c1", "c2", "c3"]
        assert_playing(one, ["c0", "c1", "c2", "c3"])
        assert_playing(two, ["big", "s1"])
        one.screenshot(path=str(ARTIFACTS / "display-demo-1.png"))
        two.screenshot(path=str(ARTIFACTS / "display-demo-2.png"))

        # an operator puts another camera on monitor 1: c1 changes, the others keep playing
        frames_before = state(one)["c0"]["frames"]
        http = admin(demo)
        try:
            current = http.get("/api/walls/demo/monitors/1/layout").json()
            current["tiles"][1]["camera"] = "cam4"
            r = http.put("/api/walls/demo/monitors/1/layout?wait=5", json=current)
            assert r.status_code == 200 and r.json()["complete"], r.text
            # the pages' heartbeats carry each tile's decoded fps (simulator: 15 fps)
            def big_fps() -> float:
                nodes = http.get("/api/walls/demo").json()["nodes"]
                return max([n["health"]["tiles"].get("big", {}).get("fps", 0) for n in nodes
                            if n["monitor"] == "2" and n["status"] == "up"], default=0)
            assert wait_until_sync(lambda: big_fps() >= 10, 10, "monitor 2 reports >= 10 fps",
                                   step=0.5)
        finally:
            http.close()
        one.wait_for_function("() => document.querySelector(\"[data-tile='c1']\")"
                              " && document.body.dataset.ready === '1'", timeout=30_000)
        assert_playing(one, ["c0", "c1"])
        assert state(one)["c0"]["frames"] > frames_before        # c0 was not restarted
        assert_playing(two, ["big"])
    finally:
        context.close()


def test_resize_across_threshold_switches_stream_without_black(chromium, demo) -> None:
    context = chromium.new_context(viewport={"width": 480, "height": 300})
    try:
        page = context.new_page()
        page.goto(demo.base_url + "/display/demo/2")
        page.wait_for_selector("body[data-ready='1']", timeout=45_000)
        assert state(page)["big"]["stream"] == "sub"          # 320x300 px: the 640x360 sub covers
        assert list(told(page, "big").values()) == ["sub"]    # ... as the controller decided
        # sample the tile every 40 ms while the window grows past the sub stream's size
        page.evaluate("""() => { window.gaps = 0; window.samples = 0;
          window.sampler = setInterval(() => {
            const t = document.querySelector("[data-tile='big']");
            const shown = [...t.querySelectorAll('video')].some(v => v.videoWidth > 0);
            window.samples += 1; if (!shown) window.gaps += 1; }, 40); }""")
        page.set_viewport_size({"width": 1900, "height": 1060})
        page.wait_for_function("() => document.querySelector(\"[data-tile='big']\")"
                               ".dataset.stream === 'main'", timeout=30_000)
        time.sleep(0.5)            # a sampling window after the switch: still no gap
        gaps, samples = page.evaluate("() => [window.gaps, window.samples]")
        assert samples > 10 and gaps == 0, f"{gaps} of {samples} samples without a picture"
        assert_playing(page, ["big"])
        assert len(page.query_selector_all("[data-tile='big'] video")) == 1   # old one gone
        assert list(told(page, "big").values()) == ["main"]   # the page plays what it was told
    finally:
        context.close()


def drag(page, source, target_box: dict, fx: float, fy: float) -> None:
    """Drag with real mouse events (gridstack has its own drag code, not HTML5 DnD)."""
    box = source.bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.mouse.down()
    tx = target_box["x"] + target_box["width"] * fx
    ty = target_box["y"] + target_box["height"] * fy
    page.mouse.move(tx - 30, ty - 30, steps=8)
    page.mouse.move(tx, ty, steps=8)
    page.mouse.up()


def test_console_drags_a_camera_onto_a_monitor(chromium, demo) -> None:
    from tests.fixtures.browser import login
    ARTIFACTS.mkdir(exist_ok=True)
    displays = chromium.new_context(viewport={"width": 960, "height": 540})
    operator = chromium.new_context(viewport={"width": 1600, "height": 900})
    try:
        one, two = displays.new_page(), displays.new_page()
        one.goto(demo.base_url + "/display/demo/1")
        two.goto(demo.base_url + "/display/demo/2")
        console = operator.new_page()
        console.set_default_timeout(15_000)
        login(console, demo, target="/console?wall=demo")
        console.wait_for_selector("body[data-ready='1']")
        console.wait_for_selector(".monitor[data-monitor='1'] .grid-stack-item")
        # free the bottom-right cell of monitor 1, then drop cam2 there
        pushes = int(console.evaluate("() => document.body.dataset.pushes || '0'"))
        monitor = console.locator(".monitor[data-monitor='1'] .grid-stack")
        last = console.locator(".monitor[data-monitor='1'] .grid-stack-item[gs-x='1'][gs-y='1']")
        last.locator(".tile-remove").click()
        console.wait_for_function(f"() => Number(document.body.dataset.pushes || 0) > {pushes}")
        console.fill("#camera-search", "cam2")
        source = console.locator(".camera-list li[data-camera='cam2']")
        drag(console, source, monitor.bounding_box(), 0.75, 0.75)
        console.wait_for_function(f"() => Number(document.body.dataset.pushes || 0) > {pushes + 1}")
        console.screenshot(path=str(ARTIFACTS / "console.png"))

        layout = console.evaluate("() => fetch('/api/walls/demo/monitors/1/layout')"
                                  ".then(r => r.json())")
        placed = [t for t in layout["tiles"] if (t["x"], t["y"]) == (1, 1)]
        assert placed and placed[0]["camera"] == "cam2", layout
        one.wait_for_function(f"() => document.querySelector(\"[data-tile='{placed[0]['id']}']\")"
                              " && document.body.dataset.ready === '1'", timeout=30_000)
        assert_playing(one, [t["id"] for t in layout["tiles"]])
        two.wait_for_selector("body[data-ready='1']", timeout=30_000)
        assert_playing(two, ["big", "s1"])
        one.screenshot(path=str(ARTIFACTS / "console-display-1.png"))
    finally:
        operator.close()
        displays.close()


def test_browser_pairs_gets_approved_and_plays_its_monitor(chromium, demo) -> None:
    http = admin(demo)
    context = chromium.new_context(viewport={"width": 800, "height": 450})
    try:
        r = http.post("/api/walls", json={"id": "paired", "name": "Paired", "columns": 1,
                                          "rows": 1, "monitors": ["1"]})
        assert r.status_code == 201, r.text
        r = http.put("/api/walls/paired/monitors/1/layout", json={
            "name": "p", "grid": {"columns": 1, "rows": 1},
            "tiles": [{"id": "a", "kind": "camera", "camera": "cam3", "x": 0, "y": 0}]})
        assert r.status_code == 200, r.text
        page = context.new_page()
        page.goto(demo.base_url + "/pair?name=kiosk-test")
        page.wait_for_selector("body[data-ready='1']")
        code = page.inner_text("#code").strip()
        assert len(code) == 9 and code[4] == "-"     # ABCD-EFGH, typed from the screen
        r = http.post(f"/api/display/pairings/{code}/approve",
                      json={"wall": "paired", "monitors": {"1": "HDMI-1"}})
        assert r.status_code == 200, r.text
        page.wait_for_url("**/display/paired/1", timeout=15_000)
        page.wait_for_selector("body[data-ready='1']", timeout=45_000)
        assert_playing(page, ["a"])
        cookie = next(c for c in context.cookies() if c["name"] == "iocwall_display")
        assert cookie["httpOnly"]
        # the session reaches this display only: not the demo wall, not another camera
        assert page.evaluate("() => fetch('/display/demo/1').then(r => r.status)") == 403
        status = "() => fetch('/api/cameras/cam1/snapshot.jpg').then(r => r.status)"
        assert page.evaluate(status) == 403
    finally:
        context.close()
        http.close()


def test_live_grid_fills_a_1600x900_window(chromium, demo) -> None:
    from tests.fixtures.browser import login
    context = chromium.new_context(viewport={"width": 1600, "height": 900})
    try:
        page = context.new_page()
        login(page, demo)
        page.wait_for_selector("body[data-ready='1']", timeout=45_000)
        boxes = page.evaluate("() => [...document.querySelectorAll('#grid .tile')].map(t => {"
                              " const r = t.getBoundingClientRect();"
                              " return [r.left, r.top, r.width, r.height]; })")
        assert len(boxes) == 4
        rows = sorted({round(b[1]) for b in boxes})
        assert len(rows) == 2, f"4 tiles should sit 2x2, got rows at {rows}"
        used = sum(b[2] * b[3] for b in boxes) / (1600 * 900)
        assert used > 0.6, f"the tiles cover only {used:.0%} of the window"
        for _, _, w, h in boxes:
            assert abs(w / h - 16 / 9) < 0.05
        page.set_viewport_size({"width": 900, "height": 1600})     # portrait: one column
        wait_until_sync(lambda: len(set(page.evaluate(
            "() => [...document.querySelectorAll('#grid .tile')]"
            ".map(t => Math.round(t.getBoundingClientRect().left))"))) == 1,
            5, "one column of tiles", step=0.05)
    finally:
        context.close()


def test_console_shows_which_node_waits_and_approves_it(chromium, demo) -> None:
    """The admin sees a waiting node's address, browser and first-seen time, then approves it
    from the console; names are shown as text, never as markup."""
    from tests.fixtures.browser import login
    http = admin(demo)
    context = chromium.new_context(viewport={"width": 1600, "height": 900})
    try:
        r = http.post("/api/walls", json={"id": "approvals", "name": "Approvals", "columns": 2,
                                          "rows": 1, "monitors": ["1", "2"]})
        assert r.status_code == 201, r.text
        with httpx.Client(base_url=demo.base_url, timeout=10,
                          headers={"User-Agent": "kiosk-<b>x</b>/2"}) as node:
            r = node.post("/api/display/pair", json={"name": "<img src=x onerror=alert(1)>"})
            assert r.status_code == 201, r.text
            started = r.json()
            page = context.new_page()
            page.set_default_timeout(15_000)
            login(page, demo, target="/console?wall=approvals")
            page.wait_for_selector("body[data-ready='1']")
            row = page.locator(f"#pairing-list li[data-node='{started['node']}']")
            row.wait_for()
            assert started["code"] in row.inner_text()
            assert row.locator("img").count() == 0               # the name stayed text
            assert row.locator("[data-field='address']").inner_text().endswith("127.0.0.1")
            assert "kiosk-<b>x</b>/2" in row.locator("[data-field='user_agent']").inner_text()
            seen = row.locator("[data-field='first_seen'] time")
            iso = seen.get_attribute("datetime") or ""
            assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?\+07:00", iso), iso
            shown = seen.inner_text()                # read as people read it: no "T", no offset
            assert re.search(r"\d\d:\d\d:\d\d$", shown) and "T" not in shown, shown
            assert iso[11:19] == shown[-8:]          # the same +07:00 wall-clock time
            row.locator(".pairing-monitor").select_option("2")
            row.locator(".pairing-approve").click()
            page.wait_for_function("() => document.getElementById('push-status')"
                                   ".textContent.includes('127.0.0.1')")
            row.wait_for(state="detached")
            poll = node.post(f"/api/display/pair/{started['node']}/poll",
                             json={"secret": started["secret"]}).json()
            assert poll["state"] == "approved" and poll["wall"] == "approvals"
            assert poll["monitors"] == [{"id": "2", "output": "HDMI-1"}]
    finally:
        context.close()
        http.close()


def test_pair_page_starts_over_when_its_pairing_expires(chromium, demo) -> None:
    """The server forgets an expired pairing (poll answers 404): the page shows a new code."""
    import sqlite3
    context = chromium.new_context(viewport={"width": 800, "height": 450})
    try:
        page = context.new_page()
        page.goto(demo.base_url + "/pair?name=expiring")
        page.wait_for_selector("body[data-ready='1']")
        first = page.inner_text("#code").strip()
        with contextlib.closing(sqlite3.connect(demo.data_dir / "iocwall.sqlite3")) as db:
            db.execute("UPDATE display_nodes SET expires = 0 WHERE code = ?",
                       (first.replace("-", ""),))
            db.commit()
        page.wait_for_function(f"() => document.getElementById('code').textContent.trim() "
                               f"!== {first!r}", timeout=15_000)
        second = page.inner_text("#code").strip()
        assert len(second) == 9 and second[4] == "-"
    finally:
        context.close()
