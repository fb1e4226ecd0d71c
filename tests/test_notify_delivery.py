"""Notifications through real receivers: an SMTP server (STARTTLS + AUTH LOGIN), a webhook
receiver that fails before it accepts, a templated SMS gateway; retries counted, exactly
one delivery, a restart in the middle, an operator's resend."""
from __future__ import annotations

import hashlib
import hmac
import json
from pathlib import Path

from iocwall.wall.access import Role
from iocwall.wall.audit import AuditQuery
from iocwall.wall.auth.users import User
from iocwall.wall.config import Config, NotifyConfig
from iocwall.wall.notify.message import Channel, Draft, State
from iocwall.wall.notify.outbox import Outbox
from iocwall.wall.notify.recipients import recipients
from iocwall.wall.store import Store
from tests.fixtures.app import LiveServer, make_config, start_live_server
from tests.notify_helpers import (
    SMS_KEY,
    SMTP_PASSWORD,
    SMTP_USER,
    WEBHOOK_SECRET,
    fast_retries,
    http_receiver,
    notice,
    smtp_server,
)
from tests.waiting import wait_until

ENV = {"IOCWALL_SMTP_PASSWORD": SMTP_PASSWORD, "IOCWALL_WEBHOOK_SECRET": WEBHOOK_SECRET,
       "IOCWALL_SMS_API_KEY": SMS_KEY}


def config_for(data: Path, **notify: object) -> Config:
    config = make_config(data)
    config.streams.processes = 1          # no media processes to spawn: these tests send mail
    config.notify.public_url = "https://ioc.example.vn"
    fast_retries(config)
    for key, value in notify.items():
        setattr(config.notify, key, value)
    config.notify.use_env(ENV)
    return config


async def messages(server: LiveServer) -> list:
    return await server.services.notify.outbox.list()


async def actions(server: LiveServer, prefix: str = "notify.*") -> list[str]:
    page = await server.services.audit.query(AuditQuery(action=prefix, limit=100))
    return [e.action for e in reversed(page.entries)]


async def test_email_over_starttls_with_login(tmp_path: Path) -> None:
    with smtp_server(tmp_path) as (port, box, cert):
        config = config_for(tmp_path / "data", smtp_url=f"smtp://{SMTP_USER}@127.0.0.1:{port}",
                            smtp_ca_file=str(cert), email_from="ioc@ioc.gov.vn",
                            email_to=["truc.ban@ioc.gov.vn"])
        async with start_live_server(config) as server:
            uid = await server.add_user("kt-hn", Role.TECHNICIAN, "HA-NOI")
            await server.services.users.update(uid, email="kt.hanoi@hanoi.gov.vn")
            other = await server.add_user("kt-hue", Role.TECHNICIAN, "HUE")
            await server.services.users.update(other, email="kt.hue@hue.gov.vn")
            notifier = server.services.notify.notifier
            await notifier.alert_changed(notice())
            await notifier.alert_changed(notice())          # the same event again: no new mail
            await wait_until(lambda: len(box.mails) >= 2, 15, "two mails accepted")
            rows = await messages(server)
            assert sorted(m.recipient for m in rows) == ["kt.hanoi@hanoi.gov.vn",
                                                         "truc.ban@ioc.gov.vn"]
            await wait_until(lambda: len(box.mails) == 2, 1, "no third mail")
            assert all(m.state is State.SENT and m.attempts == 1 for m in await messages(server))
    assert box.tls == [True, True]                           # STARTTLS before the data
    assert box.logins == [("LOGIN", SMTP_USER)] * 2
    mail = box.mails[0]
    assert mail["From"] == "ioc@ioc.gov.vn"
    assert "Mất tín hiệu camera Quầy 3" in mail["Subject"]
    assert "Camera lost" in mail["Subject"]
    text = mail.get_content()  # type: ignore[attr-defined]
    assert "https://ioc.example.vn/health?alert=12" in text
    assert "Không nhận được hình" in text and "No video for 10 minutes" in text
    ids = {m["Message-ID"] for m in box.mails}
    assert len(ids) == 2 and all(i.startswith("<iocwall-") for i in ids)


async def test_wrong_smtp_password_is_retried_then_failed(tmp_path: Path) -> None:
    with smtp_server(tmp_path) as (port, box, cert):
        config = config_for(tmp_path / "data", smtp_url=f"smtp://{SMTP_USER}@127.0.0.1:{port}",
                            smtp_ca_file=str(cert), email_to=["a@ioc.gov.vn"], max_attempts=2)
        config.notify.use_env({**ENV, "IOCWALL_SMTP_PASSWORD": "wrong"})
        async with start_live_server(config) as server:
            await server.services.notify.notifier.alert_changed(notice())

            async def failed() -> bool:
                return (await messages(server))[0].state is State.FAILED
            await wait_until(failed, 15, "message failed")
            row = (await messages(server))[0]
            assert row.attempts == 2
            assert "login refused" in row.last_error and "wrong" not in row.last_error
            assert await actions(server) == ["notify.retry", "notify.failed"]
    assert box.mails == []


async def test_webhook_retries_restart_and_resend(tmp_path: Path) -> None:
    """The receiver fails 4 times; the server is restarted after the second try; the
    message is delivered once, with 5 tries counted and one Idempotency-Key throughout.
    Then an operator resends it: a new series, delivered again under a new key."""
    async with http_receiver(fail_first=4) as hook:
        config = config_for(tmp_path / "data", webhook_url=hook.url)
        config.notify.backoff_min_s = 1.0          # room to stop between tries (the restarted
        config.notify.backoff_max_s = 2.0          # server below tries fast again)
        async with start_live_server(config) as server:
            await server.services.notify.notifier.alert_changed(notice())
            notify = server.services.notify

            async def tried_twice() -> bool:
                return (await notify.outbox.list())[0].attempts >= 2
            await wait_until(tried_twice, 15, "two tries")
            await notify.stop()             # the process goes down between two tries
        # the row is pending, its tries counted, nothing lost
        tried = len(hook.requests)
        assert 2 <= tried < 5 and not hook.accepted
        store = Store(config.data_path / config.storage.path)
        await store.open()
        rows = await Outbox(store).list()
        await store.close()
        assert len(rows) == 1 and rows[0].state is State.PENDING
        assert rows[0].attempts == tried
        fast_retries(config)
        async with start_live_server(config) as server:
            assert "503" in rows[0].last_error

            async def sent() -> bool:
                return (await messages(server))[0].state is State.SENT
            await wait_until(sent, 20, "webhook delivered")
            row = (await messages(server))[0]
            assert row.attempts == 5 and len(hook.requests) == 5
            assert len(hook.accepted) == 1 and hook.duplicates == 0
            keys = {r["headers"]["Idempotency-Key"] for r in hook.requests}
            assert keys == {f"iocwall-{row.id}-1"}
            # the signature covers timestamp + body with the shared secret
            delivered = next(iter(hook.accepted.values()))
            stamp = delivered["headers"]["X-Iocwall-Timestamp"]
            expected = hmac.new(WEBHOOK_SECRET.encode(), stamp.encode() + b"." +
                                delivered["body"], hashlib.sha256).hexdigest()
            assert delivered["headers"]["X-Iocwall-Signature"] == f"sha256={expected}"
            event = json.loads(delivered["body"])
            assert event["alert"]["url"] == "https://ioc.example.vn/health?alert=12"
            assert event["alert"]["state"] == "raised"

            # an operator resends it
            async with server.client() as http:
                await server.login(http)
                r = await http.post(f"/api/outbox/{row.id}/resend")
                assert r.status_code == 202, r.text
                assert r.json()["series"] == 2 and r.json()["attempts"] == 0
                await wait_until(lambda: len(hook.accepted) == 2, 10, "resent delivery")
                await wait_until(sent, 10, "resend recorded")
                again = (await messages(server))[0]
                assert again.state is State.SENT and again.attempts == 1
                assert f"iocwall-{row.id}-2" in hook.accepted
                r = await http.get("/api/outbox", params={"state": "sent"})
                shown = r.json()["messages"][0]
                assert shown["recipient"] == "http://127.0.0.1:" + \
                    hook.url.split(":")[2].split("/")[0] + "/…"
            assert await actions(server, "notify.re*") == ["notify.retry"] * 4 + \
                ["notify.resend"]
            resend = await server.services.audit.query(AuditQuery(action="notify.resend"))
            assert resend.entries[0].actor == "admin"
            assert await actions(server, "notify.sent") == ["notify.sent"] * 2


async def test_sms_gateway_template(tmp_path: Path) -> None:
    async with http_receiver() as gateway:
        config = config_for(
            tmp_path / "data", sms_url=gateway.url, sms_to=["0912 345 678"],
            sms_headers={"Authorization": "Bearer {api_key}"},
            sms_body={"Phone": "{phone}", "Content": "{text}", "RequestId": "{request_id}",
                      "Brandname": "IOC-VN", "SmsType": 2})
        async with start_live_server(config) as server:
            await server.services.notify.notifier.alert_changed(
                notice(title_vi='Camera "Quầy 3"\nmất tín hiệu'))
            await wait_until(lambda: len(gateway.accepted) == 1, 15, "SMS accepted")
            async with server.client() as http:
                await server.login(http)
                shown = (await http.get("/api/outbox")).json()["messages"][0]
            assert shown["recipient"] == "091*****78" and shown["channel"] == "sms"
    request = next(iter(gateway.accepted.values()))
    assert request["headers"]["Authorization"] == f"Bearer {SMS_KEY}"
    body = json.loads(request["body"])
    assert body["Phone"] == "0912345678" and body["Brandname"] == "IOC-VN"
    assert body["SmsType"] == 2 and body["RequestId"].startswith("iocwall-")
    assert 'Camera "Quầy 3"\nmất tín hiệu' in body["Content"]
    assert "https://ioc.example.vn/health?alert=12" in body["Content"]


async def test_sender_that_died_mid_send_is_taken_over(tmp_path: Path) -> None:
    """A sender claimed a message and died without a word (kill -9): once its claim expires
    the next server sends it, with the same delivery id, exactly once."""
    async with http_receiver() as hook:
        config = config_for(tmp_path / "data", webhook_url=hook.url)
        store = Store(config.data_path / config.storage.path)
        await store.open()
        outbox = Outbox(store)
        draft = Draft(Channel.WEBHOOK, hook.url, "alert:7:raised:x", "s", "s", "b", "b", {})
        message_id = await outbox.enqueue(draft)
        assert await outbox.enqueue(draft) is None          # the same event: one message
        claimed = await outbox.claim("dead-sender", 10, lease_s=1.0)
        assert [m.id for m in claimed] == [message_id]
        assert await outbox.claim("other", 10, lease_s=1.0) == []   # leased: not taken twice
        await store.close()
        async with start_live_server(config) as server:
            await wait_until(lambda: len(hook.accepted) == 1, 15, "taken over")
            row = (await messages(server))[0]
            assert row.state is State.SENT and row.attempts == 1
            assert list(hook.accepted) == [f"iocwall-{message_id}-1"]
            # the dead sender's late answer cannot overwrite the outcome
            assert not await server.services.notify.outbox.sent(
                row.id, "dead-sender")
        assert len(hook.requests) == 1


def test_subscriptions_by_role_and_province() -> None:
    def user(name: str, role: Role, unit: str, phone: str, email: str = "",
             disabled: bool = False) -> User:
        return User(0, name, role, unit, name, disabled, "", "", email, phone)
    people = [user("boss", Role.ADMIN, "", "0900000001", "boss@ioc.gov.vn"),
              user("kt-hn", Role.TECHNICIAN, "HA-NOI", "0900000002"),
              user("dk-hn", Role.REGISTRAR, "HA-NOI", "0900000003"),
              user("kt-hue", Role.TECHNICIAN, "HUE", "0900000004"),
              user("op", Role.OPERATOR, "", "0900000005"),
              user("gone", Role.ADMIN, "", "0900000006", disabled=True)]
    config = NotifyConfig(email_to=["Boss@ioc.gov.vn", "truc@ioc.gov.vn"],
                          webhook_url="https://hook.example.vn/x")
    every = [Channel.EMAIL, Channel.SMS, Channel.WEBHOOK]

    def to(province: str | None, channels: list[Channel] = every) -> list[str]:
        return sorted(r.address for r in recipients(config, people, province, channels))
    expected_hn = ["0900000001", "0900000002", "0900000003", "Boss@ioc.gov.vn",
                   "https://hook.example.vn/x", "truc@ioc.gov.vn"]
    assert to("Hà Nội") == expected_hn and to("HA-NOI") == expected_hn
    assert to(None) == ["0900000001", "Boss@ioc.gov.vn", "https://hook.example.vn/x",
                        "truc@ioc.gov.vn"]
    assert to("HUE", [Channel.SMS]) == ["0900000001", "0900000004"]
