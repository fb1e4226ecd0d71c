"""A signed generic webhook: a JSON POST that the receiver can authenticate and de-duplicate.

Headers:
    Idempotency-Key: iocwall-<id>-<series>   (the same on every retry of a series)
    X-Iocwall-Timestamp: <unix seconds>
    X-Iocwall-Signature: sha256=<hex HMAC-SHA256 over "<timestamp>.<body>", shared secret>
The timestamp is signed with the body so a captured request cannot be replayed later
(the receiver refuses old timestamps); see ``signature`` for the receiver's side.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import time

import httpx

from iocwall.wall.notify.channels.http_post import post
from iocwall.wall.notify.message import Message

SIGNATURE_HEADER = "X-Iocwall-Signature"
TIMESTAMP_HEADER = "X-Iocwall-Timestamp"


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """``sha256=<hex>`` over ``timestamp + "." + body``: what the receiver recomputes."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def event_body(message: Message) -> bytes:
    data = {"id": message.delivery_id, "kind": message.kind,
            "subject_vi": message.subject_vi, "subject_en": message.subject_en,
            "text_vi": message.body_vi, "text_en": message.body_en, **message.payload}
    return json.dumps(data, ensure_ascii=False, sort_keys=True).encode()


class WebhookSender:
    def __init__(self, client: httpx.AsyncClient, secret: str) -> None:
        """``secret``: the HMAC key, from the environment variable [notify] names."""
        self._client = client
        self._secret = secret

    async def send(self, message: Message) -> None:
        body = event_body(message)
        stamp = str(int(time.time()))
        await post(self._client, message.recipient, "webhook", body, {
            "Content-Type": "application/json",
            "Idempotency-Key": message.delivery_id,
            TIMESTAMP_HEADER: stamp,
            SIGNATURE_HEADER: signature(self._secret, stamp, body),
        })
