"""Issue 8: a UDP-only RTSP server we did not write (VLC's) plays through /live. The camera is
registered with transport auto through the registry API of a real server, its tile plays in
Debian's chromium, and the stream's health says the RTP came over UDP."""
from __future__ import annotations

import time

import pytest

from tests.fixtures.app import ADMIN_PASSWORD, LiveServer
from tests.test_registry_browser import server  # noqa: F401 - the server fixture
from tests.test_streams_udp_ingest import vlc_server  # noqa: F401 - VLC's RTSP server fixture

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.timeout(120)]

TILE = """() => { const v = document.querySelector("[data-camera-id='vlc'] video");
  return v ? {width: v.videoWidth, time: v.currentTime,
              frames: v.getVideoPlaybackQuality().totalVideoFrames} : null; }"""

REGISTER = """async (body) => {
  const r = await fetch("/api/cameras", {method: "POST", credentials: "same-origin",
    headers: {"Content-Type": "application/json", Accept: "application/json"},
    body: JSON.stringify(body)});
  return {status: r.status, body: await r.json()}; }"""

HEALTH = """async () => (await (await fetch("/api/streams/health",
  {headers: {Accept: "application/json"}})).json()).filter(h => h.camera === "vlc")"""


def test_a_udp_only_camera_registered_with_auto_plays_on_live(
        server: LiveServer, vlc_server: str, browser_page) -> None:  # noqa: F811
    page = browser_page
    started = time.monotonic()
    page.goto(server.url + "/register")
    page.wait_for_url("**/login?next=**")
    page.fill("#username", "admin")
    page.fill("#password", ADMIN_PASSWORD)
    page.click("#submit")
    page.wait_for_url("**/register")
    page.wait_for_selector("body[data-ready='1']")
    created = page.evaluate(REGISTER, {"id": "vlc", "province": "Hà Nội", "centre": "TT",
                                       "name": "VLC (UDP only)", "rtsp_main": vlc_server})
    assert created["status"] == 201, created
    assert created["body"]["transport"] == "auto"

    page.goto(server.url + "/live")
    page.wait_for_function("() => { const v = document.querySelector("
                           "\"[data-camera-id='vlc'] video\"); return v && v.videoWidth > 0; }",
                           timeout=20_000)
    before = page.evaluate(TILE)
    time.sleep(1.5)            # a time window: the picture must advance within it
    after = page.evaluate(TILE)
    assert after["width"] == 320, after
    assert after["time"] > before["time"] + 0.5, f"currentTime stuck: {before} -> {after}"
    assert after["frames"] > before["frames"] + 5, f"no new decoded frames: {before} -> {after}"

    health = page.evaluate(HEALTH)
    assert [(h["stream"], h["state"], h["transport"]) for h in health] == [
        ("main", "live", "udp")], health
    assert health[0]["rtp_corrupt"] == 0
    print(f"\nregistered VLC camera playing on /live over UDP "
          f"{time.monotonic() - started:.1f} s after the first page load")
