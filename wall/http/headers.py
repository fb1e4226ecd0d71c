"""Security headers on every response, whatever produced it (page, API, error, file).

The CSP lets pages load only our own files. WebRTC media is not governed by
CSP; the WHEP offer is a same-origin ``fetch`` (``connect-src 'self'``) and the
``<video>`` elements get a MediaStream, so nothing else is needed for the live
page. A response that sets one of these headers itself keeps its own value.
HSTS is sent only when ``public_url`` is https: over plain http it would be ignored
at best, and at worst pin a name to https that has no certificate.
"""
from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
       "media-src 'self' blob:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; "
       "form-action 'self'")
HSTS = "max-age=31536000"


def security_headers(https: bool) -> dict[str, str]:
    headers = {
        "Content-Security-Policy": CSP,
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "same-origin",
        "X-Frame-Options": "DENY",          # frame-ancestors for browsers without CSP 2
    }
    if https:
        headers["Strict-Transport-Security"] = HSTS
    return headers


class SecurityHeadersMiddleware:
    def __init__(self, app: ASGIApp, https: bool) -> None:
        self.app = app
        self.headers = security_headers(https)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in self.headers.items():
                    if name not in headers:
                        headers[name] = value
            await send(message)

        await self.app(scope, receive, with_headers)
