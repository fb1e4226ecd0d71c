"""Camera tours from the operator console, in Debian's chromium against ``iocwall demo``.

The operator frees a cell of monitor 2, starts a tour of two cameras (3 s each) from
the console's tour form; the display page /display/demo/2 plays the first camera,
then switches to the second by itself; "stop" removes the tour. Both are audited.
"""
from __future__ import annotations

import httpx
import pytest

from tests.fixtures.browser import ADMIN_PASSWORD, login

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.timeout(180)]

TOUR = """(id) => { const t = window.iocwallDisplay.tiles.get(id);
  if (!t) return null;
  const v = t.source ? t.source.video : null;
  return {camera: t.cameraId(), url: t.source ? t.source.url : '',
          playing: t.root.dataset.playing, width: v ? v.videoWidth : 0,
          frames: v ? v.getVideoPlaybackQuality().totalVideoFrames : 0}; }"""


def audit(demo, action: str) -> list[dict]:
    with httpx.Client(base_url=demo.base_url, timeout=10) as http:
        r = http.post("/api/login", json={"username": "admin", "password": ADMIN_PASSWORD})
        assert r.status_code == 200, r.text
        return http.get("/api/audit", params={"action": action}).json()["entries"]


def test_console_starts_and_stops_a_tour(chromium, demo) -> None:
    displays = chromium.new_context(viewport={"width": 960, "height": 540})
    operator = chromium.new_context(viewport={"width": 1600, "height": 900})
    try:
        display = displays.new_page()
        display.goto(demo.base_url + "/display/demo/2")
        display.wait_for_selector("body[data-ready='1']", timeout=45_000)
        console = operator.new_page()
        console.set_default_timeout(15_000)
        login(console, demo, target="/console?wall=demo")
        console.wait_for_selector("body[data-ready='1']")
        assert console.inner_text("#tour-list").strip() in ("Không có tour nào đang chạy",
                                                             "No tour running")
        # monitor 2 is full: with no cell free the console refuses and pushes nothing
        pushes = int(console.evaluate("() => document.body.dataset.pushes || '0'"))
        console.select_option("#tour-monitor", "2")
        console.select_option("#tour-cameras", ["cam1", "cam2"])
        console.fill("#tour-dwell", "3")
        console.click("#tour-start")
        console.wait_for_selector("#banner:not([hidden])")
        assert "2" in console.inner_text("#banner")
        # free the clock's cell (labelled as a clock in words), then start the tour there
        clock = console.locator(".monitor[data-monitor='2'] .grid-stack-item[gs-x='2'][gs-y='1']")
        assert clock.locator(".tile-label").inner_text() == "Đồng hồ"
        console.wait_for_function("""() => [...document.querySelectorAll(
            ".monitor[data-monitor='2'] img.thumb")].every(i => i.naturalWidth > 0)""")
        clock.locator(".tile-remove").click()
        console.wait_for_function(f"() => Number(document.body.dataset.pushes || 0) > {pushes}")
        console.click("#tour-start")
        console.wait_for_selector("#tour-list li[data-monitor='2'] .tour-stop")
        # the redrawn camera tiles keep their picture (not blank until the next refresh)
        kept = console.evaluate("""() => [...document.querySelectorAll(
            ".monitor[data-monitor='2'] img.thumb")].map(i => i.getAttribute('src') || '')""")
        assert kept and all(kept), kept
        tile = console.get_attribute("#tour-list li[data-monitor='2']", "data-tile")
        label = console.inner_text(f".grid-stack-item[gs-id='{tile}'] .tile-label")
        assert label == "⟳ Quầy 1 → Quầy 2", label          # camera names, not ids
        layout = console.evaluate("() => fetch('/api/walls/demo/monitors/2/layout')"
                                  ".then(r => r.json())")
        tour = next(t for t in layout["tiles"] if t["id"] == tile)
        assert (tour["kind"], tour["cameras"], tour["dwell_s"]) == ("tour", ["cam1", "cam2"], 3)
        assert (tour["x"], tour["y"]) == (2, 1)

        # the display plays cam1, then switches to cam2 by itself within a dwell or two
        display.evaluate(f"() => {{ window.tourState = {TOUR}; }}")
        shows = ("([id, cam]) => { const s = window.tourState(id); return !!s && s.camera === cam"
                 " && s.playing === '1' && s.url.includes(cam) && s.width > 0; }")
        display.wait_for_function(shows, arg=[tile, "cam1"], timeout=30_000)
        display.wait_for_function(shows, arg=[tile, "cam2"], timeout=15_000)
        seen = display.evaluate("(id) => window.tourState(id)", tile)
        display.wait_for_timeout(800)      # a time window: cam2's frames must advance in it
        now = display.evaluate("(id) => window.tourState(id)", tile)
        assert now["camera"] == "cam2" and now["frames"] > seen["frames"], "cam2 frozen"

        # stop: the tile leaves the display, the others keep playing
        console.click(f"#tour-list li[data-tile='{tile}'] .tour-stop")
        display.wait_for_function(f"() => !document.querySelector(\"[data-tile='{tile}']\")",
                                  timeout=15_000)
        console.wait_for_function("() => !document.querySelector('#tour-list .tour-stop')")
        layout = console.evaluate("() => fetch('/api/walls/demo/monitors/2/layout')"
                                  ".then(r => r.json())")
        assert all(t["kind"] != "tour" for t in layout["tiles"])
        assert {t["id"] for t in layout["tiles"]} == {"big", "s1"}
    finally:
        operator.close()
        displays.close()

    started, stopped = audit(demo, "wall.tour.start"), audit(demo, "wall.tour.stop")
    assert [e["after"]["cameras"] for e in started] == [["cam1", "cam2"]], started
    assert started[0]["after"]["dwell_s"] == 3 and started[0]["target"] == "wall:demo/2"
    assert [e["before"]["tile"] for e in stopped] == [tile], stopped


def test_console_explains_what_does_not_fit_confirms_presets_and_needs_a_wide_screen(
        chromium, demo) -> None:
    operator = chromium.new_context(viewport={"width": 1600, "height": 900})
    try:
        console = operator.new_page()
        console.set_default_timeout(15_000)
        login(console, demo, target="/console?wall=demo")
        console.wait_for_selector("body[data-ready='1']")
        # the preset rows fit on one line each
        heights = console.evaluate("() => [...document.querySelectorAll('.preset-row')]"
                                   ".map(r => r.getBoundingClientRect().height)")
        assert heights and max(heights) < 48, heights
        # monitor 1 (2x2) is full: a camera dropped on it is refused in words
        source = console.locator("#camera-list .camera-item[data-camera='cam1']").bounding_box()
        target = console.locator(".monitor[data-monitor='1'] .grid-stack").bounding_box()
        assert source and target
        console.mouse.move(source["x"] + 20, source["y"] + 8)
        console.mouse.down()
        console.mouse.move(target["x"] + 40, target["y"] + 40, steps=12)
        console.mouse.move(target["x"] + 60, target["y"] + 50, steps=4)
        console.mouse.up()
        console.wait_for_selector("body[data-refused='console.drop.full']")
        assert "đã đầy" in console.inner_text("#banner")
        # a tile of the full monitor cannot grow: said in words, not silently undone
        console.evaluate("() => { delete document.body.dataset.refused; }")
        item = console.locator(".monitor[data-monitor='1'] .grid-stack-item[gs-x='0'][gs-y='0']")
        item.hover()
        handle = item.locator(".ui-resizable-se").bounding_box()
        assert handle
        console.mouse.move(handle["x"] + handle["width"] / 2, handle["y"] + handle["height"] / 2)
        console.mouse.down()
        console.mouse.move(handle["x"] + 160, handle["y"] + 20, steps=12)
        console.mouse.up()
        console.wait_for_selector("body[data-refused='console.resize.full']")
        assert "không lớn thêm được" in console.inner_text("#banner")
        # saving a preset says so
        console.fill("#preset-name", "kiểm tra")
        console.click("#preset-save")
        console.wait_for_function("() => document.getElementById('push-status')"
                                  ".textContent.includes('kiểm tra')")
        assert "Đã lưu cấu hình" in console.inner_text("#push-status")
        # below its minimum width the console says plainly that it needs a larger screen
        console.set_viewport_size({"width": 390, "height": 844})
        assert console.is_visible("#console-too-small") and console.is_hidden(".console")
        assert "900 px" in console.inner_text("#console-too-small")
        width = console.evaluate("() => document.documentElement.scrollWidth")
        assert width <= 390, width
    finally:
        operator.close()
