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
        # free the clock's cell, then start the tour there
        clock = console.locator(".monitor[data-monitor='2'] .grid-stack-item[gs-x='2'][gs-y='1']")
        clock.locator(".tile-remove").click()
        console.wait_for_function(f"() => Number(document.body.dataset.pushes || 0) > {pushes}")
        console.click("#tour-start")
        console.wait_for_selector("#tour-list li[data-monitor='2'] .tour-stop")
        tile = console.get_attribute("#tour-list li[data-monitor='2']", "data-tile")
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
