"""The outbox over HTTP: list (admin, technician read-only), resend and test (admin).

    GET  /api/outbox?state=failed&limit=100&before_id=0
    POST /api/outbox/{id}/resend          a failed or sent message, as a new attempt series
    POST /api/notify/test {"channel": "email", "recipient": ""}   "" = the configured one
Every resend and test is audited with the caller; sends and failures are audited by the
sender (sender.py). Recipients are masked in every answer.
"""
from __future__ import annotations

from pydantic import Field
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from iocwall.wall.access import Role, route
from iocwall.wall.api.common import Body, audited, caller, query_int, read_body, services
from iocwall.wall.errors import ApiError
from iocwall.wall.notify.contacts import ContactError, check_email, check_phone, mask
from iocwall.wall.notify.message import Channel, Message, State
from iocwall.wall.notify.service import NotifyService

READERS = frozenset({Role.ADMIN, Role.TECHNICIAN})
ADMIN = frozenset({Role.ADMIN})


class TestRequest(Body):
    channel: str = Field(description="email, webhook or sms")
    recipient: str = Field("", max_length=320, description="\"\" = the configured one")


def _notify(request: Request) -> NotifyService:
    return services(request).notify


def _view(message: Message) -> dict[str, object]:
    return message.public(mask(message.channel.value, message.recipient))


async def list_outbox(request: Request) -> Response:
    raw_state = request.query_params.get("state", "")
    try:
        state = State(raw_state) if raw_state else None
    except ValueError:
        raise ApiError(422, "invalid", "state: one of pending, sent, failed "
                       "/ trạng thái không hợp lệ", "state") from None
    limit = query_int(request, "limit", 100, minimum=1, maximum=500)
    before = query_int(request, "before_id", 0, minimum=0)
    messages = await _notify(request).outbox.list(state, limit, before)
    return JSONResponse({"messages": [_view(m) for m in messages],
                         "next_before_id": messages[-1].id if len(messages) == limit else None})


async def resend(request: Request) -> Response:
    notify = _notify(request)
    message_id = request.path_params["message_id"]
    before = await notify.outbox.get(message_id)
    if before is None:
        raise ApiError(404, "not_found", "no such message / không có tin này")
    if before.state is State.PENDING:
        raise ApiError(409, "pending", "the message is still being tried "
                       "/ tin đang được gửi, chưa thể gửi lại")
    after = await notify.outbox.resend(message_id)
    assert after is not None
    notify.wake()
    await audited(request, "notify.resend", f"outbox:{message_id}",
                  {"state": before.state.value, "attempts": before.attempts,
                   "series": before.series},
                  {"state": after.state.value, "series": after.series,
                   "channel": after.channel.value,
                   "recipient": mask(after.channel.value, after.recipient)})
    return JSONResponse(_view(after), status_code=202)


async def send_test(request: Request) -> Response:
    body = await read_body(request, TestRequest)
    try:
        channel = Channel(body.channel)
    except ValueError:
        raise ApiError(422, "invalid", f"channel: unknown channel {body.channel[:40]!r}; "
                       "expected email, webhook or sms / kênh không hợp lệ", "channel") from None
    recipient = _check_recipient(channel, body.recipient)
    who = caller(request).name
    message_id = await _notify(request).notifier.test(channel, recipient, who)
    await audited(request, "notify.test", f"outbox:{message_id}", None,
                  {"channel": channel.value, "recipient": mask(channel.value, recipient)
                   if recipient else "(configured)"})
    return JSONResponse({"id": message_id}, status_code=202)


def _check_recipient(channel: Channel, recipient: str) -> str:
    """An operator-typed recipient must be an address of the channel. A webhook test goes
    to the configured URL only: the API must not become a way to POST anywhere."""
    try:
        if channel is Channel.EMAIL:
            return check_email(recipient)
        if channel is Channel.SMS:
            return check_phone(recipient)
    except ContactError as exc:
        raise ApiError(422, "invalid", f"recipient: {exc}", "recipient") from None
    if recipient:
        raise ApiError(422, "invalid", "recipient: a webhook test goes to [notify] webhook_url"
                       " / thử webhook chỉ gửi tới địa chỉ đã cấu hình", "recipient")
    return ""


def routes() -> list[Route]:
    return [
        route("/api/outbox", list_outbox, roles=READERS, methods=["GET"]),
        route("/api/outbox/{message_id:int}/resend", resend, roles=ADMIN, methods=["POST"]),
        route("/api/notify/test", send_test, roles=ADMIN, methods=["POST"]),
    ]
