"""The head of an RTSP/1.0 message (RFC 2326 6, 7): a start line and header lines.

The one header parser: the client (``rtsp_client``) reads cameras' answers with
it, the simulator (``hardware.sim.rtsp_message``) reads its clients' requests.
Names are lower-cased; a header that repeats (WWW-Authenticate) keeps every value.
"""
from __future__ import annotations


class HeadError(ValueError):
    """A header line without a name and a colon (only raised when strict)."""


def parse_head(text: str, strict: bool = False) -> tuple[str, dict[str, list[str]]]:
    """``text`` (without the blank line) -> (start line, headers).

    ``strict``: a malformed header line is an error (a server answers 400); otherwise it
    is skipped (a client talks to cameras that send odd lines and still work).
    """
    start, *lines = text.split("\r\n")
    headers: dict[str, list[str]] = {}
    for line in lines:
        name, sep, value = line.partition(":")
        if not sep or not name.strip():
            if strict:
                raise HeadError(f"malformed header line {line[:40]!r}")
            continue
        headers.setdefault(name.strip().lower(), []).append(value.strip())
    return start, headers
