"""API errors as JSON: {"error": {"code", "message", "field"}}, never an HTML traceback."""
from __future__ import annotations

import logging

from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger(__name__)


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str, field: str | None = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.field = status, code, message, field
        self.headers = headers      # e.g. Retry-After on a 503


def error_body(code: str, message: str, field: str | None = None) -> dict:
    return {"error": {"code": code, "message": message, "field": field}}


async def api_error_handler(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return JSONResponse(error_body(exc.code, exc.message, exc.field), status_code=exc.status,
                        headers=exc.headers)


async def http_error_handler(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
    return JSONResponse(error_body(code, str(exc.detail)), status_code=exc.status_code,
                        headers=getattr(exc, "headers", None))


async def client_gone_handler(request: Request, exc: Exception) -> Response:
    """The client closed its connection before its request's body arrived (a page left while
    its WHEP offer was on the way): nobody is left to answer, and it is not our error."""
    assert isinstance(exc, ClientDisconnect)
    log.info("%s %s: the client went away before its request was read",
             request.method, request.url.path)
    return Response(status_code=499)


async def server_error_handler(request: Request, exc: Exception) -> Response:
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    # Starlette answers a 500 from its outermost layer, outside every user middleware
    # (the security headers' included), so the headers are set here too: build_app keeps
    # them on app.state.
    headers = getattr(request.app.state, "security_headers", None)
    return JSONResponse(error_body("internal", "internal error; see the server log"),
                        status_code=500, headers=headers)


class MiddlewareApiErrors:
    """An ``ApiError`` raised by a middleware (outside the router, whose handler answers
    the endpoints' own): the session lookup while the store is down is a 503 in the
    one error shape, not a 500 with a traceback in the log."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = False

        async def tracking(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)
        try:
            await self.app(scope, receive, tracking)
        except ApiError as exc:
            if started or scope["type"] != "http":
                raise
            log.warning("%s %s: %s", scope.get("method"), scope.get("path"), exc)
            response = JSONResponse(error_body(exc.code, exc.message, exc.field),
                                    status_code=exc.status, headers=exc.headers)
            await response(scope, receive, send)
