"""Instant replay on the wall, in Chromium against a real ``iocwall demo`` (simulator cameras,
real analytics counts, the real display page): an alarm's camera tile first plays the seconds
before the alarm (the simulator's stamp read from the replayed picture is from before
raised_at), then goes live by itself, and the console shows the same seconds; an operator's
rewind pushed onto a display tile plays there and an operator sends it back to live; a
display cannot fetch the replay of a camera its layouts do not show."""
from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import datetime

import httpx
import pytest

from tests.fixtures.browser import ADMIN_PASSWORD, RunningDemo, login
from tests.test_replay_browser import BUFFERED, READ_STAMP
from tests.waiting import wait_until_sync

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.timeout(300)]
PRE_ALARM_S = 4


@pytest.fixture(scope="module")
def wall_demo(tmp_path_factory) -> Iterator[RunningDemo]:  # noqa: ANN001
    """A demo of its own (it raises an alarm and changes layouts), with a short alarm context."""
    base = tmp_path_factory.mktemp("replay-wall")
    config = base / "demo.toml"
    config.write_text(f"[replay]\npre_alarm_seconds = {PRE_ALARM_S}\n")
    running = RunningDemo(base / "data", cameras=2, extra_args=("--config", str(config)))
    try:
        running.wait_ready()
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="module")
def admin(wall_demo: RunningDemo) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=wall_demo.base_url, timeout=20) as http:
        r = http.post("/api/login", json={"username": "admin", "password": ADMIN_PASSWORD})
        assert r.status_code == 200, r.text
        yield http


@pytest.fixture(scope="module")
def display(chromium, wall_demo: RunningDemo) -> Iterator[object]:  # noqa: ANN001
    """Monitor 1 of the demo wall (a 2x2 of cam1, cam2, cam1, cam2) as a display page."""
    context = chromium.new_context(viewport={"width": 1280, "height": 720})
    page = context.new_page()
    page.goto(wall_demo.base_url + "/display/demo/1")
    page.wait_for_selector("body[data-ready='1']", timeout=60_000)
    try:
        yield page
    finally:
        context.close()


def _stamp_of(page, tile: str) -> int:  # noqa: ANN001
    """The simulator's stamp (ms) of the replayed picture shown in ``tile`` now."""
    video = page.locator(f".dtile[data-tile='{tile}'] video.replay-video")
    page.wait_for_function("v => v.readyState >= 2 && v.videoWidth > 0",
                           arg=video.element_handle(), timeout=10_000)
    stamp = video.evaluate(READ_STAMP)
    assert stamp is not None, "no stamp in the replayed picture"
    return int(stamp)


def test_an_alarm_tile_shows_the_seconds_before_it_then_goes_live(display, admin,  # noqa: ANN001
                                                                  wall_demo, chromium) -> None:
    page = display
    wait_until_sync(lambda: page.evaluate(BUFFERED, ["cam2", PRE_ALARM_S + 2]), 60,
                    "cam2 buffered", step=0.5)
    # a queue that has people now: a rule over 0 people fires at its next reading (<= 5 s)
    def queue() -> dict | None:
        rows = admin.get("/api/queues").json()
        return next((q for q in rows if (q["waiting"] or 0) >= 1), None)
    counted = wait_until_sync(queue, 60, "a counter with people waiting", step=0.5)
    r = admin.post("/api/walls/demo/rules", json={
        "name": "Hàng chờ", "centre": counted["camera"], "counter": counted["zone"],
        "threshold": 0, "duration_s": 0, "camera": "cam2", "monitor": "1", "auto_clear": False})
    assert r.status_code == 201, r.text

    tile = ".dtile[data-tile='c1']"            # cam2 on monitor 1: highlighted by the alarm
    page.wait_for_selector(f"{tile}.is-highlight[data-replay='1']", timeout=15_000)
    raised = admin.get("/api/walls/demo/alarms").json()[0]
    raised_ms = datetime.fromisoformat(raised["raised_at"]).timestamp() * 1000
    assert page.get_attribute(tile, "data-replay-label") == "display.replay.alarm"
    banner = page.locator(f"{tile} .replay-banner").text_content()
    assert "TRƯỚC CẢNH BÁO" in banner and "BEFORE THE ALARM" in banner and "+07:00" in banner
    stamp = _stamp_of(page, "c1")
    # a picture from the seconds before the alarm (the span starts at a keyframe: <= 1 s more)
    assert raised_ms - (PRE_ALARM_S + 1.5) * 1000 <= stamp <= raised_ms + 300, \
        (stamp - raised_ms)
    # ... then live by itself, the replay's <video> gone
    page.wait_for_selector(f"{tile}[data-replay='0']", timeout=(PRE_ALARM_S + 10) * 1000)
    assert page.locator(f"{tile} video.replay-video").count() == 0
    assert page.locator(f"{tile} .replay-banner").is_hidden()

    # the console: the alarm's "seconds before" opens the same replay view, then live
    context = chromium.new_context(viewport={"width": 1400, "height": 900}, locale="vi-VN",
                                   timezone_id="Asia/Ho_Chi_Minh")
    try:
        console = context.new_page()
        login(console, wall_demo, target="/console")
        console.click(f"#alarm-list li[data-alarm='{raised['id']}'] .alarm-replay",
                      timeout=15_000)
        view = "#replay-panel .tile"
        console.wait_for_selector(f"{view}[data-replay='1']", timeout=15_000)
        assert console.get_attribute(view, "data-replay-label") == "replay.alarm"
        assert "TRƯỚC CẢNH BÁO" in console.locator(f"{view} .replay-banner").text_content()
        stamp = console.locator(f"{view} video.replay-video").evaluate(READ_STAMP)
        assert stamp is None or stamp <= raised_ms + 300, stamp - raised_ms
        console.wait_for_selector(f"{view}[data-replay='0']", timeout=(PRE_ALARM_S + 10) * 1000)
    finally:
        context.close()


def test_an_operator_rewinds_a_display_tile_and_sends_it_back_to_live(display,  # noqa: ANN001
                                                                      admin) -> None:
    page = display
    url = "/api/walls/demo/monitors/1/replay"
    wait_until_sync(lambda: page.evaluate(BUFFERED, ["cam1", 14]), 60, "cam1 buffered",
                    step=0.5)
    sent = time.time()
    r = admin.post(url, json={"tile": "c0", "back_s": 10})
    assert r.status_code == 200 and r.json()["camera"] == "cam1", r.text
    assert r.json()["displays"] >= 1 and r.json()["start"].endswith("+07:00"), r.text
    tile = ".dtile[data-tile='c0']"
    page.wait_for_selector(f"{tile}[data-replay='1']", timeout=10_000)
    assert page.get_attribute(tile, "data-replay-label") == "display.replay"
    assert "+07:00" in page.locator(f"{tile} .replay-banner").text_content()
    stamp = _stamp_of(page, "c0")
    assert 7.0 < sent - stamp / 1000 < 14.0, sent - stamp / 1000     # about 10 s before
    assert page.get_attribute(".dtile[data-tile='c2']", "data-replay") in (None, "0")

    r = admin.post(url, json={"tile": "c0", "live": True})
    assert r.status_code == 200 and r.json()["live"], r.text
    page.wait_for_selector(f"{tile}[data-replay='0']", timeout=5_000)
    assert page.locator(f"{tile} video.replay-video").count() == 0

    # a display that reconnects comes back live
    assert admin.post(url, json={"tile": "c0", "back_s": 20}).status_code == 200
    page.wait_for_selector(f"{tile}[data-replay='1']", timeout=10_000)
    page.evaluate("() => window.iocwallDisplay.socket.close()")
    # well before the replay would reach the buffer's end (>= 14 s) and go live by itself
    page.wait_for_selector(f"{tile}[data-replay='0']", timeout=5_000)
    page.wait_for_selector("body[data-connected='1']", timeout=10_000)

    # bad requests are refused with the field, and change nothing
    for body, status, field in (({"tile": "c0"}, 422, "back_s"),
                                ({"tile": "c0", "back_s": 5, "live": True}, 422, "back_s"),
                                ({"tile": "c0", "at": "yesterday"}, 422, "at"),
                                ({"tile": "nope", "back_s": 5}, 404, "tile")):
        r = admin.post(url, json=body)
        assert r.status_code == status and r.json()["error"]["field"] == field, r.text
    assert admin.post("/api/walls/demo/monitors/9/replay",
                      json={"tile": "c0", "back_s": 5}).status_code == 404
    assert page.get_attribute(tile, "data-replay") == "0"


def test_a_display_cannot_fetch_replay_of_a_camera_not_on_its_layouts(display,  # noqa: ANN001
                                                                       admin) -> None:
    page = display
    for monitor in ("1", "2"):           # the demo wall shows cam1 only from now on
        layout = admin.get(f"/api/walls/demo/monitors/{monitor}/layout").json()
        layout["tiles"] = [{**t, "camera": "cam1"} if t["kind"] == "camera" else t
                           for t in layout["tiles"]]
        r = admin.put(f"/api/walls/demo/monitors/{monitor}/layout?wait=5", json=layout)
        assert r.status_code == 200, r.text
    statuses = page.evaluate("""async () => {
      const get = async (url) => (await fetch(url)).status;
      const now = encodeURIComponent(new Date(Date.now() - 5000).toISOString());
      return [await get('/api/cameras/cam2/replay'),
              await get(`/api/cameras/cam2/replay/sub.mp4?start=${now}&duration=2`),
              await get('/api/cameras/cam1/replay')];
    }""")
    assert statuses[0] in (403, 404) and statuses[1] in (403, 404), statuses
    assert statuses[2] == 200, statuses
