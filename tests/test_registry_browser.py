"""/register in a real Chromium: a province fills its profile (with a field error first),
adds the simulator's cameras by reading the ONVIF device and by hand, tests one, sees the
checklist, deletes one, and the remaining camera plays on /live. No password on any page."""
from __future__ import annotations

import asyncio
import re
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fixtures.app import ADMIN_PASSWORD, LiveServer
from tests.fixtures.simulator import SimProcess
from tests.registry_helpers import registry_server

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.timeout(240)]


@pytest.fixture
def server(tmp_path: Path) -> Iterator[LiveServer]:
    """The server on its own event loop in a thread (Playwright's sync API owns this one)."""
    ready = threading.Event()
    holder: list[LiveServer] = []
    stop: list[asyncio.Event] = []
    loop_box: list[asyncio.AbstractEventLoop] = []

    async def run() -> None:
        stop.append(asyncio.Event())
        loop_box.append(asyncio.get_running_loop())
        async with registry_server(tmp_path) as live:
            holder.append(live)
            ready.set()
            await stop[0].wait()

    thread = threading.Thread(target=lambda: asyncio.run(run()), daemon=True)
    thread.start()
    assert ready.wait(60), "server did not start"
    try:
        yield holder[0]
    finally:
        loop_box[0].call_soon_threadsafe(stop[0].set)
        thread.join(30)


def test_register_a_centre_and_its_cameras_in_the_browser(server: LiveServer,
                                                          simulator: SimProcess,
                                                          browser_page) -> None:
    page = browser_page
    page.goto(server.url + "/register")
    page.wait_for_url("**/login?next=**")
    page.fill("#username", "admin")
    page.fill("#password", ADMIN_PASSWORD)
    page.click("#submit")
    page.wait_for_url("**/register")
    page.wait_for_selector("body[data-ready='1']")
    assert page.input_value("#province") == "HA-NOI"

    # the profile: a bad phone is named, then fixed
    page.fill("[name=centre]", "Trung tâm PVHCC Hà Nội")
    page.click("#add-contact")
    page.fill("#contacts .contact [data-k=name]", "Nguyễn Văn A")
    page.fill("#contacts .contact [data-k=phone]", "12345")
    page.fill("[name='transmission.bandwidth']", "50 Mbps")
    page.fill("[name=path]", "camera -> switch -> firewall -> router -> Internet")
    page.click("#save-profile")
    page.wait_for_selector("#profile-error:not([hidden])")
    assert page.get_attribute("#profile-error", "data-field") == "contacts.0.phone"
    assert "phone" in page.text_content("#profile-error")
    page.fill("#contacts .contact [data-k=phone]", "0912 345 678")
    page.click("#save-profile")
    page.wait_for_selector("#profile-saved:not([hidden])")
    assert page.input_value("#contacts .contact [data-k=phone]") == "+84912345678"

    # camera 1: read the ONVIF device, the form is prefilled
    page.fill("#cam-onvif", f"127.0.0.1:{simulator.onvif_port}")
    page.fill("#cam-username", simulator.user)
    page.fill("#cam-password", simulator.password)
    page.click("#read-device")
    page.wait_for_selector("#device-info[data-read='1']")
    assert page.input_value("#cam-main") == simulator.url(1, "main", auth=False)
    assert page.input_value("#cam-sub") == simulator.url(1, "sub", auth=False)
    page.fill("#cam-location", "Sảnh A")
    # test connection before saving: a wrong password is said in words, nothing is stored
    page.fill("#cam-password", "not-the-password")
    page.click("#try-camera")
    page.wait_for_selector("#try-result[data-code='wrong_password']", timeout=60_000)
    assert "Sai tài khoản hoặc mật khẩu" in page.text_content("#try-result")
    assert page.evaluate("async () => (await fetch('/api/cameras')).json()") == []
    page.fill("#cam-password", simulator.password)
    page.click("#try-camera")
    page.wait_for_selector("#try-result[data-code='ok']", timeout=60_000)
    name = page.input_value("#cam-name")
    page.click("#add-camera")
    page.wait_for_selector("tr[data-camera-id='ha-noi-1']")
    assert page.input_value("#cam-password") == ""
    added = page.text_content("#device-info")
    assert f"“{name}”" in added and "ha-noi-1" not in added     # by its name, not its id

    # a bad URL typed by hand is refused with the field named
    page.fill("#cam-name", "Sai")
    page.fill("#cam-main", "http://10.0.0.1/x")
    page.click("#add-camera")
    page.wait_for_selector("#camera-error:not([hidden])")
    assert page.get_attribute("#camera-error", "data-field") == "rtsp_main"
    assert page.get_attribute("#cam-main", "aria-invalid") == "true"

    # camera 2 by hand
    page.fill("#cam-onvif", "")
    page.fill("#cam-name", "Quầy 2")
    page.fill("#cam-main", simulator.url(2, "main", auth=False))
    page.fill("#cam-sub", simulator.url(2, "sub", auth=False))
    page.fill("#cam-username", simulator.user)
    page.fill("#cam-password", simulator.password)
    page.select_option("[name=transport]", "tcp")
    assert "mật khẩu dạng đọc được" in page.text_content("#cam-basic-hint")
    page.check("#cam-basic")
    page.click("#add-camera")
    page.wait_for_selector("tr[data-camera-id='ha-noi-2']")
    assert not page.is_checked("#cam-basic")          # the form is reset after adding
    saved = page.evaluate("async () => (await fetch('/api/cameras')).json()")
    assert {c["id"]: c["allow_basic_auth"] for c in saved} == {"ha-noi-1": False,
                                                               "ha-noi-2": True}

    # test connection: stored, shown in the checklist
    page.click("tr[data-camera-id='ha-noi-2'] button.test")
    page.wait_for_selector("tr[data-camera-id='ha-noi-2'] .last-test[data-status='PASS'], "
                           "tr[data-camera-id='ha-noi-2'] .last-test[data-status='WARN']",
                           timeout=60_000)
    row = "tr[data-camera-id='ha-noi-2']"
    assert page.get_attribute(f"{row} td:nth-child(4)", "data-value") == "yes"
    assert page.get_attribute(f"{row} td:nth-child(5)", "data-value") == "yes"
    assert page.get_attribute(f"{row} td:nth-child(6)", "data-value") == "no"   # no wall shows it
    last = page.text_content(f"{row} .last-test")
    assert re.fullmatch(r"(Đạt|Cảnh báo) · \d\d/\d\d/\d{4} \d\d:\d\d:\d\d", last), last

    page.click("#lang")
    assert page.text_content("h1") == "Camera registration"
    assert page.text_content(f"{row} td:nth-child(3)") == "Yes"
    assert re.fullmatch(r"(Passed|Warning) · \d{1,2} [A-Z][a-z]{2} \d{4} \d\d:\d\d:\d\d",
                        page.text_content(f"{row} .last-test"))
    assert "password readable on the network" in page.text_content("#cam-basic-hint")
    assert simulator.password not in page.content()

    page.click("tr[data-camera-id='ha-noi-1'] button.delete")
    page.wait_for_selector("tr[data-camera-id='ha-noi-1']", state="detached")

    # the camera registered in the browser plays on /live
    page.goto(server.url + "/live")
    page.wait_for_selector("body[data-ready='1']", timeout=45_000)
    ids = page.eval_on_selector_all("[data-camera-id]", "els => els.map(e => e.dataset.cameraId)")
    assert ids == ["ha-noi-2"]
    assert simulator.password not in page.content()
