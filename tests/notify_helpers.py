"""Real receivers for the notification tests: an SMTP server (aiosmtpd, STARTTLS with a
self-signed certificate made here, AUTH LOGIN) and an HTTP receiver (aiohttp) that refuses
the first N requests before it accepts, keeping every request it saw."""
from __future__ import annotations

import contextlib
import datetime
import ipaddress
import socket
import ssl
import threading
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import Message as EmailMessage
from pathlib import Path
from typing import Any

from aiohttp import web
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from iocwall.wall.notify.notice import AlertNotice

SMTP_USER = "canhbao@ioc.gov.vn"
SMTP_PASSWORD = "smtp-Secret-789"
WEBHOOK_SECRET = "hook-secret-123"
SMS_KEY = "sms-key-456"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def self_signed(folder: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and localhost, signed by its own key: (cert, key)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "iocwall test smtp")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([
                x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = folder / "smtp-cert.pem", folder / "smtp-key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


@dataclass
class MailBox:
    """What the SMTP server received, and how each session logged in."""
    mails: list[EmailMessage] = field(default_factory=list)
    envelopes: list[tuple[str, list[str]]] = field(default_factory=list)
    logins: list[tuple[str, str]] = field(default_factory=list)     # (mechanism, user)
    tls: list[bool] = field(default_factory=list)
    times: list[float] = field(default_factory=list)     # time.monotonic() of each mail
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self.lock:
            self.mails.append(message_from_bytes(envelope.content, policy=policy.default))
            self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
            self.tls.append(session.ssl is not None)
            self.times.append(time.monotonic())
        return "250 OK"

    def authenticate(self, server: Any, session: Any, envelope: Any, mechanism: str,
                     data: Any) -> AuthResult:
        if not isinstance(data, LoginPassword):
            return AuthResult(success=False, handled=False)
        user, password = data.login.decode(), data.password.decode()
        ok = user == SMTP_USER and password == SMTP_PASSWORD
        if ok:
            with self.lock:
                self.logins.append((mechanism, user))
        return AuthResult(success=ok, handled=False)


@contextlib.contextmanager
def smtp_server(folder: Path) -> Iterator[tuple[int, MailBox, Path]]:
    """aiosmtpd on 127.0.0.1: STARTTLS required, then AUTH LOGIN only (PLAIN excluded).
    Yields (port, mailbox, certificate file to trust)."""
    cert, key = self_signed(folder)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    box = MailBox()
    port = free_port()
    controller = Controller(box, hostname="127.0.0.1", port=port, tls_context=context,
                            require_starttls=True, auth_required=True, auth_require_tls=True,
                            auth_exclude_mechanism=["PLAIN"], authenticator=box.authenticate,
                            server_hostname="127.0.0.1", ready_timeout=10)
    controller.start()
    try:
        yield port, box, cert
    finally:
        controller.stop()


@dataclass
class Receiver:
    """HTTP receiver: answers ``fail_first`` requests with 503, then 200. ``accepted`` holds
    one entry per Idempotency-Key (a repeat is answered 200 and not counted twice)."""
    fail_first: int = 0
    requests: list[dict[str, Any]] = field(default_factory=list)
    accepted: dict[str, dict[str, Any]] = field(default_factory=dict)
    duplicates: int = 0
    url: str = ""

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        seen = {"headers": dict(request.headers), "body": body, "path": request.path}
        self.requests.append(seen)
        if len(self.requests) <= self.fail_first:
            return web.Response(status=503, text="gateway down for maintenance")
        key = request.headers.get("Idempotency-Key", "") or f"#{len(self.requests)}"
        if key in self.accepted:
            self.duplicates += 1
        else:
            self.accepted[key] = seen
        return web.json_response({"ok": True})


@contextlib.asynccontextmanager
async def http_receiver(fail_first: int = 0) -> AsyncIterator[Receiver]:
    receiver = Receiver(fail_first)
    app = web.Application()
    app.router.add_post("/{tail:.*}", receiver.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    port = free_port()
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    receiver.url = f"http://127.0.0.1:{port}/hook"
    try:
        yield receiver
    finally:
        await runner.cleanup()


def notice(alert_id: int = 12, state: str = "raised", province: str | None = "HA-NOI",
           **changes: Any) -> AlertNotice:
    values: dict[str, Any] = dict(
        alert_id=alert_id, rule="camera_lost", state=state, subject="hn-01",
        province=province, title_vi="Mất tín hiệu camera Quầy 3",
        title_en="Camera lost: Counter 3", detail_vi="Không nhận được hình từ 10 phút.",
        detail_en="No video for 10 minutes.", link=f"/health?alert={alert_id}",
        raised_at="2026-12-07T02:10:00.000+07:00")
    values.update(changes)
    return AlertNotice(**values)


def fast_retries(config: Any, max_attempts: int = 6) -> None:
    """[notify] pacing for tests: tries a few tens of milliseconds apart."""
    n = config.notify
    n.max_attempts = max_attempts
    n.backoff_min_s = 0.05
    n.backoff_max_s = 0.2
    n.poll_s = 0.05
