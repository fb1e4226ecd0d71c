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


async def main(interface: str, user: str, password: str) -> dict:
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
    return out


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--interface", required=True)
    parser.add_argument("--user", required=True)
    parser.add_argument("--password", required=True)
    args = parser.parse_args()
    result = asyncio.run(main(args.interface, args.user, args.password))
    print("RESULT " + json.dumps(result, ensure_ascii=False), flush=True)
    sys.exit(0)
