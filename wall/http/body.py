"""Request bodies: a size limit enforced while reading, content types, the JSON reader.

``BodyLimitMiddleware`` wraps every request: a declared ``Content-Length`` over
``[server] max_body_bytes`` is refused (413) before the app runs, and a body
without one (chunked) is counted as it arrives and refused the moment it passes
the limit, so a 10 MB body is never read, let alone held in memory.

``read_json`` is how every API endpoint reads its body: an object, at most
``MAX_DEPTH`` levels deep, whole numbers within int64, other numbers finite (``parse_json``).
``check_content_type`` (run by ``access.route`` for each state-changing request) makes a
body's type match what the route takes: ``application/json`` unless the route says
otherwise (WHEP takes SDP). A cross-site form cannot send JSON without a CORS preflight,
which we never grant.
"""
from __future__ import annotations

import json
import math
from typing import Any

from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from iocwall.wall.errors import ApiError, error_body
from iocwall.wall.http.params import INT64_MAX, INT64_MIN

JSON_TYPE = "application/json"
MAX_DEPTH = 32
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class BodyTooLarge(ApiError):
    def __init__(self, limit: int) -> None:
        super().__init__(413, "too_large",
                         f"request body over {limit} bytes / dữ liệu quá lớn")


def _declared_length(headers: Headers) -> int | None:
    value = headers.get("content-length", "")
    return int(value) if value.isascii() and value.isdigit() else None


class BodyLimitMiddleware:
    """Refuse request bodies over ``limit`` bytes while they are read (413)."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _declared_length(Headers(scope=scope))
        if declared is not None and declared > self.limit:
            refusal = BodyTooLarge(self.limit)
            response = JSONResponse(error_body(refusal.code, refusal.message), status_code=413,
                                    headers={"Connection": "close"})
            await response(scope, receive, send)
            return
        seen = 0

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    # Raised inside the endpoint's read: the app's ApiError handler answers.
                    raise BodyTooLarge(self.limit)
            return message

        await self.app(scope, counted, send)


async def read_bytes(request: Request, limit: int) -> bytes:
    """The body, refusing (413) anything over ``limit`` without reading the rest."""
    declared = _declared_length(request.headers)
    if declared is not None and declared > limit:
        raise BodyTooLarge(limit)
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise BodyTooLarge(limit)
    return bytes(body)


def media_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";")[0].strip().lower()


def check_content_type(request: Request, accepts: str) -> None:
    """415 unless a state-changing request's body (if any) is of type ``accepts``."""
    if request.method not in UNSAFE_METHODS:
        return
    has_body = (_declared_length(request.headers) or 0) > 0 \
        or "transfer-encoding" in request.headers
    given = media_type(request)
    if (has_body or given) and given != accepts:
        raise ApiError(415, "unsupported_media_type",
                       f"send the body as {accepts} / hãy gửi dữ liệu dạng {accepts}")


async def read_json(request: Request, limit: int | None = None) -> dict[str, Any]:
    """The body as a JSON object; 400 for bad JSON, a non-object or nesting past MAX_DEPTH.

    limit: bytes; None = only the app-wide ``[server] max_body_bytes``.
    """
    raw = await (read_bytes(request, limit) if limit is not None else request.body())
    data = parse_json(raw)
    if not isinstance(data, dict):
        raise _bad_json("body must be a JSON object / cần một đối tượng JSON")
    if _depth(data) > MAX_DEPTH:
        raise _bad_json(f"JSON nested over {MAX_DEPTH} levels / JSON lồng quá sâu")
    return data


def parse_json(raw: bytes) -> Any:
    """Any JSON value, with every number one the store and the models can take: whole
    numbers within int64, other numbers finite (``1e999`` is inf), no ``NaN``/``Infinity``
    literals (Python's json takes them, JSON does not). 400 for bad JSON, 422 for a number."""
    try:
        return json.loads(raw or b"null", parse_int=_int64, parse_float=_finite,
                          parse_constant=_no_constant)
    except RecursionError:
        raise _bad_json("JSON nested too deeply / JSON lồng quá sâu") from None
    except ValueError:
        raise _bad_json("body is not valid JSON / dữ liệu không phải JSON") from None


def _finite(text: str) -> float:
    number = float(text)
    if not math.isfinite(number):
        raise _out_of_range()
    return number


def _no_constant(text: str) -> float:
    raise _out_of_range()


def _out_of_range() -> ApiError:
    return ApiError(422, "invalid", "number out of range / số ngoài phạm vi")


def _int64(text: str) -> int:
    """Whole numbers in a body fit SQLite's int64, like those in the query and path."""
    number = int(text)
    if not INT64_MIN <= number <= INT64_MAX:
        raise _out_of_range()
    return number


def _bad_json(message: str) -> ApiError:
    return ApiError(400, "bad_json", message)


def _depth(value: Any) -> int:
    """Nesting depth of parsed JSON, without recursion (the input chooses how deep)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict):
            item = list(item.values())
        if isinstance(item, list):
            deepest = max(deepest, level)
            stack.extend((child, level + 1) for child in item)
    return deepest
