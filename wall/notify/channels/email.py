"""E-mail over SMTP (aiosmtplib): STARTTLS or TLS, then login; one message per recipient.

The Message-ID is the outbox's delivery id, the same on every retry of a series, so a
mail server or client that got a copy before a crash can tell the second one apart.
"""
from __future__ import annotations

import logging
import ssl
from email.message import EmailMessage
from email.utils import formatdate

import aiosmtplib

from iocwall.wall.notify.message import Message, SendError
from iocwall.wall.notify.smtp_url import SmtpTarget

log = logging.getLogger(__name__)


def compose(message: Message, sender: str) -> EmailMessage:
    """The mail: the Vietnamese text first, then the English one, plain text."""
    mail = EmailMessage()
    mail["From"] = sender
    mail["To"] = message.recipient
    # one line: a title with a line break must not end the header (or fail every retry)
    mail["Subject"] = " ".join(f"{message.subject_vi} / {message.subject_en}".split())
    mail["Date"] = formatdate(localtime=True)
    domain = sender.rsplit("@", 1)[-1] or "iocwall"
    mail["Message-ID"] = f"<{message.delivery_id}@{domain}>"
    mail.set_content(f"{message.body_vi}\n\n---\n\n{message.body_en}\n")
    return mail


class EmailSender:
    def __init__(self, target: SmtpTarget, password: str, sender: str, timeout_s: float,
                 ca_file: str = "") -> None:
        """``target``: parsed smtp_url; ``password``: IOCWALL_SMTP_PASSWORD (used only when the
        URL names a user); ``ca_file``: extra CAs to trust (a site's own)."""
        self._target = target
        self._password = password
        self._sender = sender
        self._timeout = timeout_s
        self._tls = ssl.create_default_context(cafile=ca_file or None)

    async def send(self, message: Message) -> None:
        target = self._target
        try:
            await aiosmtplib.send(
                compose(message, self._sender), hostname=target.host, port=target.port,
                username=target.username or None,
                password=self._password if target.username else None,
                use_tls=target.security == "tls", start_tls=target.security == "starttls",
                tls_context=self._tls, timeout=self._timeout)
        except aiosmtplib.SMTPRecipientsRefused as exc:
            raise SendError(f"SMTP {target.display()} refused the recipient: "
                            f"{_first_line(exc)}", permanent=True) from None
        except aiosmtplib.SMTPAuthenticationError as exc:
            raise SendError(f"SMTP {target.display()}: login refused ({exc.code})") from None
        except aiosmtplib.SMTPResponseException as exc:
            raise SendError(f"SMTP {target.display()}: {exc.code} {_first_line(exc)}",
                            permanent=500 <= exc.code < 600 and exc.code != 554) from None
        except (aiosmtplib.SMTPException, OSError, ssl.SSLError) as exc:
            raise SendError(f"SMTP {target.display()}: {type(exc).__name__}: "
                            f"{_first_line(exc)}") from None
        log.info("mail %s sent via %s", message.delivery_id, target.display())


def _first_line(exc: BaseException) -> str:
    text = str(getattr(exc, "message", "") or exc)
    return text.splitlines()[0][:200] if text else ""
