"""Debian's Chromium plays the simulated cameras' Main... and High profile streams by WHEP.

The media server runs with uvicorn in a thread of its own (Playwright's sync API
owns this test's thread); a bare page does the WHEP exchange, as any player would.
"""
from __future__ import annotations

import asyncio
import contextlib
import threading
import time

import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.middleware.base import BaseHTTPMiddleware
from starlette.responses import HTMLResponse
from starlette.routing import Route

from iocwall.wall import media_api
from iocwall.wall.access import Principal, Role
from iocwall.wall.errors import ApiError, api_error_handler
from tests.fixtures.ports import free_port
from tests.streams_helpers import media_server, sim_cameras
from tests.waiting import wait_until

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.timeout(180)]

PAGE = """<!doctype html><html><body><video id=v autoplay muted playsinline></video><script>
async function play(url) {
  const pc = new RTCPeerConnection();
  pc.addTransceiver('video', {direction: 'recvonly'});
  pc.ontrack = e => { document.getElementById('v').srcObject = new MediaStream([e.track]); };
  await pc.setLocalDescription(await pc.createOffer());
  await new Promise(ok => { if (pc.iceGatheringState === 'complete') ok();
    pc.onicegatheringstatechange = () => pc.iceGatheringState === 'complete' && ok();
    setTimeout(ok, 2000); });
  const r = await fetch(url, {method: 'POST', headers: {'Content-Type': 'application/sdp'},
                              body: pc.localDescription.sdp});
  await pc.setRemoteDescription({type: 'answer', sdp: await r.text()});
  window.pc = pc;
}
async function codec() {
  const stats = await window.pc.getStats();
  for (const s of stats.values()) if (s.type === 'codec') return s.mimeType + ' ' + s.sdpFmtpLine;
  return '';
}
</script></body></html>"""


@contextlib.contextmanager
def served(simulator):  # noqa: ANN001, ANN201
    """The media server + routes + page on http://127.0.0.1:PORT, in a thread."""
    port, ready, box = free_port(), threading.Event(), {}

    async def main() -> None:
        async with media_server(sim_cameras(simulator, 1)) as media:
            async def page(request):  # noqa: ANN001, ANN202
                return HTMLResponse(PAGE)

            app = Starlette(routes=[Route("/", page), *media_api.routes(media)],
                            exception_handlers={ApiError: api_error_handler})

            async def as_display(request, call_next):  # noqa: ANN001, ANN202
                request.state.principal = Principal("wall-1", Role.DISPLAY, via="token")
                return await call_next(request)

            app.add_middleware(BaseHTTPMiddleware, dispatch=as_display)
            server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port,
                                                   log_level="warning", lifespan="off"))
            box["server"] = server
            task = asyncio.create_task(server.serve())
            await wait_until(lambda: server.started, 30, "uvicorn started")
            ready.set()
            await task

    thread = threading.Thread(target=asyncio.run, args=(main(),), daemon=True)
    thread.start()
    assert ready.wait(30), "media server did not start"
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        box["server"].should_exit = True
        thread.join(15)


@pytest.mark.parametrize("stream,width", [("sub", 640), ("main", 1920)])
def test_chromium_plays_stream(simulator, browser_page, stream, width):
    with served(simulator) as base:
        page = browser_page
        page.goto(base + "/")
        page.evaluate(f"play('/api/cameras/cam1/whep/{stream}')")
        page.wait_for_function("document.getElementById('v').videoWidth > 0", timeout=20_000)
        t0 = page.evaluate("document.getElementById('v').currentTime")
        time.sleep(1.5)            # a time window: the video must advance within it
        t1 = page.evaluate("document.getElementById('v').currentTime")
        assert page.evaluate("document.getElementById('v').videoWidth") == width
        assert t1 - t0 > 0.8, (t0, t1)
        codec = page.evaluate("codec()")
        print(f"{stream}: chromium negotiated {codec}")
        assert codec.startswith("video/H264")
