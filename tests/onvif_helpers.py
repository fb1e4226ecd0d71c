"""Shared pieces for the ONVIF tests: a running simulated device and raw SOAP builders."""
from __future__ import annotations

import base64
import contextlib
import hashlib
import os
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import cv2
import numpy as np

from iocwall.hardware.sim.onvif_device import OnvifDevice, default_cameras
from iocwall.hardware.sim.people import assets_dir
from tests.fixtures.ports import free_port

USER = "admin"
PASSWORD = "Sim-pass:1"  # a colon and dash on purpose: must survive digest and URL handling
ENV = "http://www.w3.org/2003/05/soap-envelope"
TDS = "http://www.onvif.org/ver10/device/wsdl"
WSSE = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
WSU = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"
DIGEST_TYPE = ("http://docs.oasis-open.org/wss/2004/01/"
               "oasis-200401-wss-username-token-profile-1.0#PasswordDigest")
_PHOTO = (assets_dir() or Path("/nonexistent")) / "bus.jpg"


def snapshot_source(index: int, kind: str) -> bytes:
    """A real JPEG: the ultralytics sample photo (or a gradient) at the stream's size."""
    w, h = (1920, 1080) if kind == "main" else (640, 360)
    frame = cv2.imread(str(_PHOTO)) if _PHOTO.exists() else None
    if frame is None:
        frame = np.tile(np.linspace(0, 255, w, dtype=np.uint8), (h, 1))[..., None].repeat(3, 2)
    frame = cv2.resize(frame, (w, h))
    cv2.putText(frame, f"cam{index} {kind}", (40, 120), cv2.FONT_HERSHEY_SIMPLEX, 3,
                (255, 255, 255), 6)
    ok, buf = cv2.imencode(".jpg", frame)
    assert ok
    return buf.tobytes()


@contextlib.asynccontextmanager
async def running_device(cameras: int = 1, rtsp_port: int = 8554) -> AsyncIterator[OnvifDevice]:
    device = OnvifDevice("127.0.0.1", free_port(), default_cameras(cameras), USER, PASSWORD,
                         snapshot_source, rtsp_port)
    await device.start()
    try:
        yield device
    finally:
        await device.stop()


def security_header(user: str = USER, password: str = PASSWORD, nonce: bytes | None = None,
                    created: str | None = None) -> str:
    nonce = nonce if nonce is not None else os.urandom(16)
    created = created or datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    digest = base64.b64encode(hashlib.sha1(nonce + created.encode() + password.encode()).digest())
    return (
        f'<wsse:Security xmlns:wsse="{WSSE}" xmlns:wsu="{WSU}"><wsse:UsernameToken>'
        f"<wsse:Username>{user}</wsse:Username>"
        f'<wsse:Password Type="{DIGEST_TYPE}">{digest.decode()}</wsse:Password>'
        f"<wsse:Nonce>{base64.b64encode(nonce).decode()}</wsse:Nonce>"
        f"<wsu:Created>{created}</wsu:Created>"
        "</wsse:UsernameToken></wsse:Security>"
    )


def soap(operation: str, header: str = "", ns: str = TDS) -> bytes:
    return (f'<?xml version="1.0"?><s:Envelope xmlns:s="{ENV}" xmlns:o="{ns}">'
            f"<s:Header>{header}</s:Header><s:Body><o:{operation}/></s:Body></s:Envelope>").encode()
