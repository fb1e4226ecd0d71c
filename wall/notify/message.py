"""What travels between the outbox, the sender and the channels."""
from __future__ import annotations

import enum
import json
from dataclasses import dataclass
from typing import Any


class Channel(str, enum.Enum):
    EMAIL = "email"
    WEBHOOK = "webhook"
    SMS = "sms"


class State(str, enum.Enum):
    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"


@dataclass(frozen=True)
class Draft:
    """A message about to be enqueued. ``key``: what makes it the same message when the same
    event is enqueued twice (e.g. ``alert:12:raised``); channel and recipient are added."""
    channel: Channel
    recipient: str
    key: str
    subject_vi: str
    subject_en: str
    body_vi: str
    body_en: str
    payload: dict[str, Any]
    kind: str = "alert"
    province: str | None = None

    @property
    def idem_key(self) -> str:
        return f"{self.key}|{self.channel.value}|{self.recipient}"


@dataclass(frozen=True)
class Message:
    """A row of the outbox."""
    id: int
    channel: Channel
    recipient: str
    kind: str
    province: str | None
    subject_vi: str
    subject_en: str
    body_vi: str
    body_en: str
    payload: dict[str, Any]
    idem_key: str
    series: int
    state: State
    attempts: int
    next_attempt_at: str
    last_error: str
    created_at: str
    sent_at: str | None

    @classmethod
    def from_row(cls, row: Any) -> Message:
        """From a store row: a dict, or the row a transaction's connection returns (only
        ``row["col"]`` is used, which both kinds of store support)."""
        return cls(id=int(row["id"]), channel=Channel(row["channel"]),
                   recipient=row["recipient"], kind=row["kind"], province=row["province"],
                   subject_vi=row["subject_vi"], subject_en=row["subject_en"],
                   body_vi=row["body_vi"], body_en=row["body_en"],
                   payload=json.loads(row["payload"] or "{}"), idem_key=row["idem_key"],
                   series=int(row["series"]), state=State(row["state"]),
                   attempts=int(row["attempts"]), next_attempt_at=row["next_attempt_at"],
                   last_error=row["last_error"], created_at=row["created_at"],
                   sent_at=row["sent_at"])

    @property
    def delivery_id(self) -> str:
        """Stable across the retries of one attempt series, new for an operator's resend:
        the webhook's Idempotency-Key, the SMS request id, the e-mail's Message-ID."""
        return f"iocwall-{self.id}-{self.series}"

    def public(self, recipient: str) -> dict[str, Any]:
        """The outbox API's view; ``recipient`` is already masked."""
        return {"id": self.id, "channel": self.channel.value, "recipient": recipient,
                "kind": self.kind, "state": self.state.value, "attempts": self.attempts,
                "series": self.series, "subject_vi": self.subject_vi,
                "subject_en": self.subject_en, "next_attempt_at": self.next_attempt_at,
                "last_error": self.last_error, "created_at": self.created_at,
                "sent_at": self.sent_at}


class SendError(Exception):
    """A try failed. ``reason``: for people, without secrets; ``permanent``: retrying cannot
    help (e.g. the gateway refused the request as malformed)."""

    def __init__(self, reason: str, permanent: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason[:500]
        self.permanent = permanent
