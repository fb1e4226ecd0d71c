"""SMS through a templated HTTP gateway request: what Vietnamese SMS gateways accept.

A gateway is a JSON API with its own field names; [notify] gives the URL, the headers and
the body as a template whose strings may hold {phone}, {text}, {request_id} and {api_key}.
The values are put into the parsed template (never into JSON text), so a message cannot
break out of its string. {request_id} is the delivery id: gateways use it to drop a repeat.
"""
from __future__ import annotations

import json
from typing import Any

import httpx

from iocwall.wall.notify.channels.http_post import post
from iocwall.wall.notify.message import Message

PLACEHOLDERS = ("phone", "text", "request_id", "api_key")
SMS_MAX_CHARS = 320          # two or three segments; the link matters more than the prose


def fill(template: Any, values: dict[str, str]) -> Any:
    """``template`` with each ``{name}`` in its strings replaced by ``values[name]``."""
    if isinstance(template, str):
        for name, value in values.items():
            template = template.replace("{" + name + "}", value)
        return template
    if isinstance(template, dict):
        return {key: fill(value, values) for key, value in template.items()}
    if isinstance(template, list):
        return [fill(value, values) for value in template]
    return template


def sms_text(message: Message) -> str:
    text = message.body_vi if len(message.body_vi) <= SMS_MAX_CHARS else message.subject_vi
    return text[:SMS_MAX_CHARS]


class SmsSender:
    def __init__(self, client: httpx.AsyncClient, url: str, headers: dict[str, str],
                 body: dict[str, Any], api_key: str) -> None:
        self._client = client
        self._url = url
        self._headers = headers
        self._body = body
        self._api_key = api_key

    async def send(self, message: Message) -> None:
        values = {"phone": message.recipient, "text": sms_text(message),
                  "request_id": message.delivery_id, "api_key": self._api_key}
        body = json.dumps(fill(self._body, values), ensure_ascii=False).encode()
        headers = {"Content-Type": "application/json", **fill(self._headers, values)}
        await post(self._client, self._url, "SMS gateway", body, headers)
