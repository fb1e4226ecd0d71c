"""The ways a message leaves: e-mail (SMTP), a signed webhook, an SMS gateway.

Each channel has one coroutine, ``send(message)``, that returns when the receiver accepted
the message and raises ``SendError`` (message.py) with a readable reason otherwise.
"""
from __future__ import annotations

from typing import Protocol

from iocwall.wall.notify.message import Message


class Sender(Protocol):
    async def send(self, message: Message) -> None: ...
