"""Run inside the "wall" network namespace by tests/test_registry_discovery.py: a real
server finds the simulator by WS-Discovery multicast on one interface, reads it over ONVIF,
registers its first camera through the API and plays it over WHEP. Prints one JSON line."""
from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from pathlib import Path

from tests.registry_helpers import play, registry_server


async def main(interface: str, user: str, password: str, browser: bool) -> dict:
    out: dict = {}
    with tempfile.TemporaryDirectory() as tmp:
        async with registry_server(Path(tmp)) as server, server.client() as http:
            await server.login(http)
            found = await http.post("/api/registry/discover",
                                    json={"interface": interface, "timeout_s": 2})
            out["discover"] = found.json()
            devices = found.json().get("devices", [])
            if not devices:
                return out
            onvif = devices[0]["onvif"]
            read = await http.post("/api/registry/onvif", json={
                "onvif": onvif, "username": user, "password": password})
            out["read"] = read.json()
            created = await http.post("/api/cameras", json={
                "province": "Đà Nẵng", "centre": "TT PVHCC Đà Nẵng", "name": "Discovered 1",
                "onvif": onvif, "username": user, "password": password})
            out["created"] = created.json()
            if created.status_code != 201:
                return out
            start = time.monotonic()
            viewer, answer = await play(http, created.json()["id"], "sub")
            try:
                out["whep_status"] = answer.status_code
                out["first_frame_s"] = await viewer.first_frame(timeout=15)
                out["since_register_s"] = time.monotonic() - start
            finally:
                await viewer.close()
            if browser:
                out["browser"] = await asyncio.to_thread(register_in_browser, server.url,
                                                         interface, user, password)
    return out


def register_in_browser(url: str, interface: str, user: str, password: str) -> dict:
    """The same by hand in Chromium: find by multicast, use the device, read it, add it."""
    from playwright.sync_api import sync_playwright

    from tests.fixtures.app import ADMIN_PASSWORD
    from tests.fixtures.browser import CHROMIUM, CHROMIUM_ARGS

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True,
                                     args=CHROMIUM_ARGS, timeout=60_000)
        try:
            page = browser.new_page()
            page.set_default_timeout(20_000)
            page.goto(url + "/login?next=/register")
            page.fill("#username", "admin")
            page.fill("#password", ADMIN_PASSWORD)
            page.click("#submit")
            page.wait_for_selector("body[data-ready='1']")
            page.select_option("#province", "DA-NANG")
            page.wait_for_selector("tr[data-camera-id='da-nang-1']")
            page.select_option("#interface", interface)
            page.click("#discover")
            page.wait_for_selector("#devices li button.use-device")
            found = page.get_attribute("#devices li", "data-onvif")
            page.click("#devices li button.use-device")
            page.fill("#cam-username", user)
            page.fill("#cam-password", password)
            page.click("#read-device")
            page.wait_for_selector("#device-info[data-read='1']")
            page.fill("#cam-main", page.input_value("#cam-main").replace("/cam1/", "/cam2/"))
            page.fill("#cam-sub", page.input_value("#cam-sub").replace("/cam1/", "/cam2/"))
            page.fill("#cam-name", "Discovered 2")
            page.click("#add-camera")
            page.wait_for_selector("tr[data-camera-id='da-nang-2']")
            return {"found": found, "rows": page.eval_on_selector_all(
                "#checklist tr", "els => els.map(e => e.dataset.cameraId)"),
                "password_on_page": password in page.content()}
        finally:
            browser.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--interface", required=True)
    parser.add_argument("--user", required=True)
    parser.add_argument("--password", required=True)
    parser.add_argument("--browser", action="store_true", help="also register one in Chromium")
    args = parser.parse_args()
    result = asyncio.run(main(args.interface, args.user, args.password, args.browser))
    print("RESULT " + json.dumps(result, ensure_ascii=False), flush=True)
    sys.exit(0)
