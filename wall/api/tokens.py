"""Bearer tokens for scripts and display nodes: create (shown once), list, revoke. Admin only;
creating one needs an admin logged in as a person, not another token."""
from __future__ import annotations

from pydantic import Field
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from iocwall.wall.access import Role, require_person, route
from iocwall.wall.api.common import Body, audited, read_body, services
from iocwall.wall.audit import AuditAction
from iocwall.wall.text import Name

ADMIN = {Role.ADMIN}


class NewToken(Body):
    label: Name = Field(min_length=1, max_length=100)
    role: Role
    unit: str = Field("", max_length=16)
    expires_in_days: int | None = Field(None, description="default [auth] token_ttl_days")


async def list_tokens(request: Request) -> Response:
    tokens = await services(request).tokens.list()
    return JSONResponse({"tokens": [t.public() for t in tokens]})


async def create_token(request: Request) -> Response:
    who = require_person(request)
    body = await read_body(request, NewToken)
    info, token = await services(request).tokens.create(
        body.label, body.role, body.unit, created_by=who.name, created_by_id=who.user_id,
        ttl_days=body.expires_in_days)
    await audited(request, AuditAction.TOKEN_CREATE, f"token:{info.id}", None, info.summary())
    # The only time the token itself is sent: the server keeps just its hash.
    return JSONResponse({**info.public(), "token": token}, status_code=201)


async def revoke_token(request: Request) -> Response:
    tokens = services(request).tokens
    before = await tokens.require(request.path_params["token_id"])
    after = await tokens.revoke(before.id)
    await audited(request, AuditAction.TOKEN_REVOKE, f"token:{after.id}", before.summary(),
                  after.summary())
    return JSONResponse(after.public())


def routes() -> list[Route]:
    return [
        route("/api/tokens", list_tokens, roles=ADMIN, methods=["GET"]),
        route("/api/tokens", create_token, roles=ADMIN, methods=["POST"]),
        route("/api/tokens/{token_id:int}", revoke_token, roles=ADMIN, methods=["DELETE"]),
    ]
