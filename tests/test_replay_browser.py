"""Instant replay in a real Chromium against a real ``iocwall demo``: a /live tile rewinds,
shows that it is not live, and the picture it shows carries the simulator's stamp of
the time the tile displays (read from the replayed <video> in the browser); pause,
speed and back to live work; an export plays in a plain <video>."""
from __future__ import annotations

import time

import pytest

from tests.fixtures.browser import login
from tests.waiting import wait_until_sync

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.timeout(240)]

# The simulator's stamp (hardware/stamp.py: 2 rows of 24 cells of 16 px, 48 bits of ms),
# read from a <video>'s current picture through a canvas.
READ_STAMP = """video => {
  const c = document.createElement('canvas');
  c.width = video.videoWidth; c.height = video.videoHeight;
  const g = c.getContext('2d');
  g.drawImage(video, 0, 0);
  const px = g.getImageData(0, 0, 384, 32).data;
  let value = 0;
  for (let i = 0; i < 48; i++) {
    const x0 = (i % 24) * 16 + 4, y0 = Math.floor(i / 24) * 16 + 4;
    let sum = 0;
    for (let y = y0; y < y0 + 8; y++) for (let x = x0; x < x0 + 8; x++) {
      const k = (y * 384 + x) * 4;
      sum += (px[k] + px[k + 1] + px[k + 2]) / 3;
    }
    const level = sum / 64;
    if (level > 70 && level < 185) return null;
    value = value * 2 + (level >= 185 ? 1 : 0);
  }
  return value;
}"""

BUFFERED = """async ([camera, seconds]) => {
  const r = await fetch(`/api/cameras/${camera}/replay`);
  const sub = (await r.json()).streams.sub;
  return !!sub && (new Date(sub.to) - new Date(sub.from)) / 1000 >= seconds;
}"""


def test_a_tile_rewinds_shows_the_picture_of_that_time_and_goes_back_to_live(browser_page,
                                                                              demo) -> None:  # noqa: ANN001
    page = browser_page
    login(page, demo)
    page.wait_for_selector("body[data-ready='1']", timeout=45_000)
    wait_until_sync(lambda: page.evaluate(BUFFERED, ["cam1", 14]), 60, "14 s of cam1 buffered",
                    step=0.5)
    tile = page.locator(".tile[data-camera-id='cam1']")
    tile.hover()
    clicked = time.time()
    tile.locator(".replay-back[data-seconds='10']").click()
    page.wait_for_function("t => t.dataset.replayFirstFrameMs", arg=tile.element_handle(),
                           timeout=10_000)
    assert "/live" in page.url and page.locator("#full").is_hidden()   # the tile, not the full view
    assert tile.get_attribute("data-replay") == "1"
    banner = tile.locator(".replay-banner")
    assert banner.is_visible() and "+07:00" in banner.text_content()
    assert "XEM LẠI" in banner.text_content()                  # the page's language (vi)
    first_ms = int(tile.get_attribute("data-replay-first-frame-ms"))
    print(f"\nclick -> buffer range {tile.get_attribute('data-replay-range-ms')} ms, clip "
          f"{tile.get_attribute('data-replay-fetch-ms')} ms, first replayed frame {first_ms} ms")

    replay = tile.locator("video.replay-video")
    page.wait_for_function("v => v.readyState >= 2 && v.currentTime > 0.3",
                           arg=replay.element_handle(), timeout=10_000)
    replay.evaluate("v => v.pause()")
    page.wait_for_timeout(300)          # the tick shows the paused picture's time
    stamp = replay.evaluate(READ_STAMP)
    shown = page.evaluate("t => new Date(t.dataset.replayAt).getTime()", tile.element_handle())
    assert stamp is not None, "no stamp in the replayed picture"
    # the picture is the one of the time the tile shows, about 10 s before the click
    assert abs(stamp - shown) < 400, (stamp, shown)
    assert 8.0 < clicked - stamp / 1000 < 14.0, clicked - stamp / 1000

    # paused stays paused; play at 2x runs faster than the clock; back to live
    at = replay.evaluate("v => v.currentTime")
    page.wait_for_timeout(500)
    assert replay.evaluate("v => v.currentTime") == at
    tile.locator(".replay-speed").click()
    tile.locator(".replay-play").click()
    t0 = replay.evaluate("v => v.currentTime")
    page.wait_for_timeout(1500)
    assert replay.evaluate("v => v.playbackRate") == 2
    assert replay.evaluate("v => v.currentTime") - t0 > 2.0
    tile.locator(".replay-live").click()
    assert tile.get_attribute("data-replay") == "0"
    assert tile.locator("video").count() == 1 and banner.is_hidden()
    page.wait_for_selector(".tile[data-camera-id='cam1'][data-playing='1']", timeout=5_000)


def test_an_export_plays_in_a_plain_video_element(browser_page, demo) -> None:  # noqa: ANN001
    page = browser_page
    login(page, demo)
    page.wait_for_selector("body.page-live")     # logged in (login's URL pattern matches early)
    wait_until_sync(lambda: page.evaluate(BUFFERED, ["cam2", 6]), 60, "6 s of cam2 buffered",
                    step=0.5)
    played = page.evaluate("""async () => {
      const r = await fetch('/api/cameras/cam2/replay');
      const from = (await r.json()).streams.sub.from;
      const url = `/api/cameras/cam2/replay/sub.mp4?start=${encodeURIComponent(from)}` +
        '&duration=4&download=1';
      const head = await fetch(url);
      const v = document.createElement('video');
      v.muted = true; v.src = url; document.body.append(v);
      await v.play();
      await new Promise(ok => setTimeout(ok, 1500));
      return {ready: v.readyState, time: v.currentTime, width: v.videoWidth,
              disposition: head.headers.get('Content-Disposition'),
              me: (await (await fetch('/api/me')).json()).user};
    }""")
    assert played["ready"] >= 2 and played["time"] > 0.5 and played["width"] == 640, played
    assert played["disposition"].startswith('attachment; filename="cam2-sub-'), played
    assert played["me"] == "admin", played
