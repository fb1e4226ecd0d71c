"""The operator console by keyboard alone, in Debian's chromium against ``iocwall demo``.

Monitor 2 of the demo wall keeps only its large camera (2x2 of a 3x2 grid; the test puts the
layout back at the end). With keys only, the operator adds a camera to monitor 2 (it lands in
the first free cell), moves it, grows it, meets the monitor's edge, removes it; the display
page /display/demo/2 shows each change. Adding to the full monitor 1 gives the drop's
"monitor is full" words. The tab order runs list → add → presets → tours; the keys' help is
in the page; axe-core finds no serious or critical violation with the chooser and help open.
"""
from __future__ import annotations

import httpx
import pytest

from tests.fixtures.browser import ADMIN_PASSWORD, login
from tests.test_every_page import AXE, AXE_RUN

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.timeout(120)]

SHOWN = "(id) => { const t = window.iocwallDisplay.layout.tiles.find(t => t.id === id);" \
        " return t ? [t.x, t.y, t.w, t.h] : null; }"
FOCUSED = "() => document.activeElement.id || document.activeElement.getAttribute('gs-id')"


def shows(display, tile: str, where: list[int] | None) -> None:
    """Wait until the display page shows ``tile`` at ``where`` (x, y, w, h), or not at all."""
    same = f"([id, want]) => JSON.stringify(({SHOWN})(id)) === JSON.stringify(want)"
    display.wait_for_function(same, arg=[tile, where], timeout=10_000)


def said(console, words: str) -> None:
    console.wait_for_function(
        "(w) => document.getElementById('key-status').textContent.includes(w)", arg=words)


def test_keyboard_places_moves_resizes_and_removes_a_tile(chromium, demo) -> None:
    http = httpx.Client(base_url=demo.base_url, timeout=10)
    assert http.post("/api/login", json={"username": "admin",
                                         "password": ADMIN_PASSWORD}).status_code == 200
    original = http.get("/api/walls/demo/monitors/2/layout").json()
    only_big = {**original, "tiles": [t for t in original["tiles"] if t["id"] == "big"]}
    assert only_big["tiles"] and original["grid"] == {"columns": 3, "rows": 2}
    assert http.put("/api/walls/demo/monitors/2/layout", json=only_big).status_code == 200
    displays = chromium.new_context(viewport={"width": 960, "height": 540})
    operator = chromium.new_context(viewport={"width": 1600, "height": 900})
    operator.add_init_script(path=str(AXE))         # through DevTools: the page's CSP holds
    try:
        display = displays.new_page()
        display.goto(demo.base_url + "/display/demo/2")
        display.wait_for_selector("body[data-ready='1']", timeout=45_000)
        console = operator.new_page()
        console.set_default_timeout(15_000)
        login(console, demo, target="/console?wall=demo")
        console.wait_for_selector("body[data-ready='1']")
        keys = console.keyboard

        # the help says the keys, in the page's language
        console.focus("#keys-help-toggle")
        keys.press("Enter")
        assert "Shift + mũi tên" in console.inner_text("#keys-help")
        # tab order: search, the list (one stop), "add", then presets and tours
        keys.press("Tab")
        order = [console.evaluate(FOCUSED)]
        for _ in range(7):
            keys.press("Tab")
            order.append(console.evaluate(FOCUSED))
        assert order[0] == "camera-search", order
        assert order[2:] == ["place-open", "preset-select", "preset-recall", "preset-name",
                             "preset-save", "tour-monitor"], order
        keys.press("Shift+Tab")
        for _ in range(5):
            keys.press("Shift+Tab")
        assert console.evaluate("() => document.activeElement.dataset.camera") == "cam1"

        # a full monitor: the drop's words, nothing pushed
        keys.press("Enter")
        assert console.evaluate(FOCUSED) is None        # the chooser's first monitor button
        keys.press("Enter")
        console.wait_for_selector("body[data-refused='console.drop.full']")
        assert "Màn hình 1 đã đầy" in console.inner_text("#banner")
        said(console, "Màn hình 1 đã đầy")
        assert console.evaluate("() => document.activeElement.dataset.camera") == "cam1"

        # the second camera onto monitor 2: the first free cell is (2, 0)
        keys.press("ArrowDown")
        keys.press("Enter")
        console.wait_for_selector("#place-chooser:not([hidden])")
        axe_problems = console.evaluate(AXE_RUN)
        keys.press("Tab")
        assert console.evaluate("() => document.activeElement.dataset.monitor") == "2"
        keys.press("Enter")
        said(console, "vào màn hình 2, ô 3,1")
        tile = console.evaluate(FOCUSED)
        assert tile and tile.startswith("t"), tile
        spec = console.evaluate("() => JSON.parse(document.activeElement.dataset.spec)")
        assert (spec["kind"], spec["camera"]) == ("camera", "cam2")
        shows(display, tile, [2, 0, 1, 1])

        keys.press("ArrowDown")                 # move
        said(console, "đến ô 3,2")
        shows(display, tile, [2, 1, 1, 1])
        keys.press("ArrowLeft")                 # the large camera is in the way
        said(console, "không chuyển được")
        keys.press("ArrowUp")
        shows(display, tile, [2, 0, 1, 1])
        keys.press("Shift+ArrowDown")           # resize
        said(console, "cỡ 1×2 ô")
        shows(display, tile, [2, 0, 1, 2])
        keys.press("Shift+ArrowRight")          # the monitor's edge: the resize's words
        console.wait_for_selector("body[data-refused='console.resize.full']")
        assert "không lớn thêm được" in console.inner_text("#key-status")
        assert console.evaluate(FOCUSED) == tile
        keys.press("Delete")                    # remove
        said(console, "Đã bỏ")
        shows(display, tile, None)
        layout = http.get("/api/walls/demo/monitors/2/layout").json()
        assert [t["id"] for t in layout["tiles"]] == ["big"], layout
        assert axe_problems == [], axe_problems
    finally:
        operator.close()
        displays.close()
        http.put("/api/walls/demo/monitors/2/layout", json={
            k: v for k, v in original.items() if k in ("name", "grid", "tiles")})
        http.close()

