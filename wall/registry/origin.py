"""Where a camera's stored credentials may be sent: the origins (scheme, host, port) of its
addresses as they were when the credentials were given.

Issue 17: anyone who could edit a camera could point its RTSP URL at a host of their own and
press "Test connection" (or just wait for the media server to reconnect), and the stored
password went there. So an edit that moves any address to another origin drops the stored
credentials unless the same edit sends credentials for the new address; a new path on the
same origin keeps them.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from iocwall.streams.urls import UrlError, parse
from iocwall.wall.registry import validation as check
from iocwall.wall.registry.model import RegisteredCamera

Origin = tuple[str, str, int]
ADDRESS_FIELDS = ("rtsp_main", "rtsp_sub", "onvif")


def rtsp_origin(url: str) -> Origin | None:
    """(scheme, host, effective port) of an RTSP URL, lower-cased; None when empty or bad."""
    if not url:
        return None
    try:
        parsed = parse(url)
    except UrlError:
        return None
    return parsed.scheme, parsed.host.lower().strip("[]"), parsed.port


def onvif_origin(address: str) -> Origin | None:
    """('onvif', host, port) of an ONVIF host:port; None when empty or bad."""
    if not address:
        return None
    try:
        host, port = check.host_port(address)
    except ValueError:
        return None
    return "onvif", host.lower().strip("[]"), port


def moved(before: RegisteredCamera, values: Mapping[str, Any]) -> list[str]:
    """The address fields of ``values`` (an edit's new column values) that send the camera's
    credentials to an origin they were not given for.

    An RTSP URL may move between the camera's own RTSP origins (a sub stream added on the
    main stream's host keeps them); the ONVIF address must keep its own host and port.
    Clearing an address ("") moves nothing."""
    known = {o for o in (rtsp_origin(before.rtsp_main), rtsp_origin(before.rtsp_sub)) if o}
    found = []
    for name in ("rtsp_main", "rtsp_sub"):
        new = values.get(name)
        if new and new != getattr(before, name) and rtsp_origin(new) not in known:
            found.append(name)
    new_onvif = values.get("onvif")
    if new_onvif and onvif_origin(new_onvif) != onvif_origin(before.onvif):
        found.append("onvif")
    return found
