"""The outbox API and page: who may see and resend, hostile inputs, contact fields, and
[notify] settings refused at start with clear messages."""
from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest

from iocwall.wall.access import Role
from iocwall.wall.config import ConfigError, load
from iocwall.wall.notify.backoff import retry_delay
from iocwall.wall.notify.message import Channel, Draft
from iocwall.wall.notify.smtp_url import SmtpUrlError, parse_smtp_url
from tests.fixtures.app import USER_PASSWORD, LiveServer, make_config, start_live_server
from tests.notify_helpers import WEBHOOK_SECRET, fast_retries, http_receiver, notice
from tests.waiting import wait_until


async def _as(server: LiveServer, http: httpx.AsyncClient, role: Role) -> None:
    name = f"u-{role.value}"
    await server.add_user(name, role)
    await server.login(http, name, USER_PASSWORD)


async def test_outbox_roles_hostile_inputs_and_test_message(tmp_path: Path) -> None:
    async with http_receiver(fail_first=100) as hook:
        config = make_config(tmp_path / "data")
        config.streams.processes = 1
        fast_retries(config, max_attempts=2)
        config.notify.webhook_url = hook.url
        config.notify.use_env({"IOCWALL_WEBHOOK_SECRET": WEBHOOK_SECRET})
        async with start_live_server(config) as server:
            notify = server.services.notify
            await notify.notifier.alert_changed(notice())

            async def failed() -> bool:
                return (await notify.outbox.list())[0].state.value == "failed"
            await wait_until(failed, 15, "message failed after max_attempts")
            message = (await notify.outbox.list())[0]
            assert message.attempts == 2 and "503" in message.last_error
            assert WEBHOOK_SECRET not in message.last_error

            for role in (Role.REGISTRAR, Role.OPERATOR, Role.LEADER):
                async with server.client() as http:
                    await _as(server, http, role)
                    assert (await http.get("/api/outbox")).status_code == 403
                    r = await http.post(f"/api/outbox/{message.id}/resend")
                    assert r.status_code == 403
                    r = await http.post("/api/notify/test", json={"channel": "webhook"})
                    assert r.status_code == 403
            async with server.client() as http:
                await _as(server, http, Role.TECHNICIAN)        # reads, cannot resend
                r = await http.get("/api/outbox", params={"state": "failed"})
                assert r.status_code == 200 and r.json()["messages"][0]["id"] == message.id
                assert (await http.post(f"/api/outbox/{message.id}/resend")).status_code == 403

            async with server.client() as http:
                await server.login(http)
                listed = (await http.get("/api/outbox")).json()["messages"][0]
                assert set(listed) >= {"id", "channel", "recipient", "state", "attempts",
                                       "last_error", "created_at", "sent_at"}
                assert listed["created_at"].endswith("+07:00")
                assert "/hook" not in listed["recipient"]            # masked
                r = await http.get("/api/outbox", params={"state": "lost"})
                assert r.status_code == 422 and r.json()["error"]["field"] == "state"
                r = await http.post("/api/outbox/999999/resend")
                assert r.status_code == 404
                r = await http.post("/api/notify/test", json={"channel": "pigeon"})
                assert r.status_code == 422 and r.json()["error"]["field"] == "channel"
                assert "email, webhook or sms" in r.json()["error"]["message"]
                r = await http.post("/api/notify/test", json={"channel": "email"})
                assert r.status_code == 409 and r.json()["error"]["code"] == "not_configured"
                r = await http.post("/api/notify/test", json={"channel": "webhook",
                                                              "recipient": "http://evil/"})
                assert r.status_code == 422 and r.json()["error"]["field"] == "recipient"
                r = await http.post("/api/notify/test", json={"channel": "webhook"})
                assert r.status_code == 202
                test_id = r.json()["id"]
                hook.fail_first = 0                   # the gateway is back
                r = await http.post(f"/api/outbox/{message.id}/resend")
                assert r.status_code == 202 and r.json()["state"] == "pending"
                later = await notify.outbox.enqueue(Draft(      # pending, due in an hour
                    Channel.WEBHOOK, hook.url, "alert:99:raised:t", "s", "s", "b", "b", {}),
                    now=time.time() + 3600)
                r = await http.post(f"/api/outbox/{later}/resend")
                assert r.status_code == 409 and r.json()["error"]["code"] == "pending"
                await wait_until(lambda: len(hook.accepted) >= 2, 15, "resend and test sent")
                kinds = sorted(__import__("json").loads(a["body"])["event"]
                               for a in hook.accepted.values())
                assert kinds == ["alert", "test"]
                audit = (await http.get("/api/audit", params={"action": "notify.*"})).json()
                done = {(e["action"], e["actor"]) for e in audit["entries"]}
                assert {("notify.resend", "admin"), ("notify.test", "admin"),
                        ("notify.failed", "system")} <= done
                assert test_id > message.id


async def test_users_have_contact_fields(live_server: LiveServer) -> None:
    async with live_server.client() as http:
        await live_server.login(http)
        r = await http.post("/api/users", json={
            "username": "kt-hn", "password": USER_PASSWORD, "role": "technician",
            "email": "kt@hanoi.gov.vn", "phone": "091 234 5678"})
        assert r.status_code == 201, r.text
        user = r.json()
        assert user["email"] == "kt@hanoi.gov.vn" and user["phone"] == "0912345678"
        r = await http.patch(f"/api/users/{user['id']}", json={"email": "not-an-address"})
        assert r.status_code == 422 and r.json()["error"]["field"] == "email"
        r = await http.patch(f"/api/users/{user['id']}", json={"phone": "call me"})
        assert r.status_code == 422 and r.json()["error"]["field"] == "phone"
        r = await http.patch(f"/api/users/{user['id']}", json={"phone": "+84912000111"})
        assert r.status_code == 200 and r.json()["phone"] == "+84912000111"
        assert r.json()["email"] == "kt@hanoi.gov.vn"


@pytest.mark.parametrize(("toml", "env", "expected"), [
    ('[notify]\nsmtp_url = "smtp://u:hunter2@mail.vn:587"\n', {},
     "put the password in IOCWALL_SMTP_PASSWORD"),
    ('[notify]\nsmtp_url = "http://mail.vn"\n', {}, "expected smtp://user@host:587"),
    ('[notify]\nsmtp_url = "smtp://u@mail.vn:99999"\n', {}, "not a valid URL"),
    ('[notify]\nsmtp_url = "smtp://u@mail.vn:587"\n', {},
     "IOCWALL_SMTP_PASSWORD is not set"),
    ('[notify]\nemail_to = ["lan"]\n', {}, "not an e-mail address"),
    ('[notify]\nwebhook_url = "ftp://x"\n', {}, "expected an http:// or https:// URL"),
    ('[notify]\nwebhook_url = "https://x.vn/h"\n', {}, "IOCWALL_WEBHOOK_SECRET (the HMAC"),
    ('[notify]\nchannel = "pigeon"\n', {}, "unknown key 'notify.channel'"),
    ('[notify]\nall_roles = ["boss"]\n', {}, "unknown role 'boss'"),
    ('[notify]\nbackoff_min_s = 60\nbackoff_max_s = 5\n', {}, "at least backoff_min_s"),
    ('[notify]\nmax_attempts = 0\n', {}, "notify.max_attempts"),
    ('[notify]\nclaim_s = 10\n', {}, "claim_s (10) must be at least twice"),
])
def test_bad_notify_settings_are_refused_clearly(tmp_path: Path, toml: str,
                                                 env: dict[str, str], expected: str) -> None:
    path = tmp_path / "config.toml"
    path.write_text(toml)
    with pytest.raises(ConfigError) as error:
        load(path, env)
    assert expected in str(error.value)
    assert "hunter2" not in str(error.value)


def test_good_notify_settings_load(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text('[notify]\nsmtp_url = "smtp://canhbao@mail.gov.vn:587"\n'
                    'email_to = ["a@ioc.gov.vn"]\nwebhook_url = "https://hook.vn/x"\n')
    config = load(path, {"IOCWALL_SMTP_PASSWORD": "pw", "IOCWALL_WEBHOOK_SECRET": "s"})
    target = parse_smtp_url(config.notify.smtp_url)
    assert (target.host, target.port, target.security, target.username) == \
        ("mail.gov.vn", 587, "starttls", "canhbao")
    assert config.notify.smtp_password() == "pw"
    with pytest.raises(SmtpUrlError):
        parse_smtp_url("smtp://mail.gov.vn/path")


def test_backoff_doubles_with_jitter_and_is_capped() -> None:
    import random
    rng = random.Random(7)
    for attempt, ceiling in ((1, 30), (2, 60), (3, 120), (8, 3600), (50, 3600)):
        delays = [retry_delay(attempt, 30, 3600, rng) for _ in range(50)]
        assert all(ceiling / 2 <= d <= ceiling for d in delays)
        assert max(delays) - min(delays) > ceiling / 10       # jittered, not all equal


def test_a_title_with_a_line_break_stays_one_subject_line() -> None:
    from iocwall.wall.notify.channels.email import compose
    from iocwall.wall.notify.message import Channel, Message, State
    message = Message(1, Channel.EMAIL, "a@ioc.gov.vn", "alert", None, "Camera\nQuầy 3",
                      "Camera\r\nBcc: x@evil.example", "b", "b", {}, "k", 1, State.PENDING,
                      0, "", "", "", None)
    mail = compose(message, "ioc@ioc.gov.vn")
    assert mail["Subject"] == "Camera Quầy 3 / Camera Bcc: x@evil.example"
    assert mail["Bcc"] is None and mail["Message-ID"] == "<iocwall-1-1@ioc.gov.vn>"
