"""`iocwall demo --config F` reads [notify] from F: a demo sends real mail (aiosmtpd on
127.0.0.1 with STARTTLS and AUTH LOGIN), and its banner says where alerts go."""
from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.fixtures.browser import ADMIN_PASSWORD, RunningDemo
from tests.notify_helpers import SMTP_PASSWORD, SMTP_USER, smtp_server
from tests.waiting import wait_until_sync

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]


def test_demo_sends_real_mail_from_its_config(tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    with smtp_server(tmp_path) as (port, box, cert):
        config = tmp_path / "demo.toml"
        config.write_text(f'[notify]\nsmtp_url = "smtp://{SMTP_USER}@127.0.0.1:{port}"\n'
                          f'smtp_ca_file = "{cert}"\nemail_from = "demo@ioc.gov.vn"\n'
                          'email_to = ["truc.ban@ioc.gov.vn"]\n')
        monkeypatch.setenv("IOCWALL_SMTP_PASSWORD", SMTP_PASSWORD)
        demo = RunningDemo(tmp_path / "data", cameras=1, extra_args=("--config", str(config)))
        try:
            demo.wait_ready()
            assert f"e-mail starttls://{SMTP_USER}@127.0.0.1:{port} -> 1 + subscribers" \
                in demo.output
            with httpx.Client(base_url=demo.base_url, timeout=20) as http:
                r = http.post("/api/login", json={"username": "admin",
                                                  "password": ADMIN_PASSWORD})
                assert r.status_code == 200, r.text
                r = http.post("/api/notify/test", json={"channel": "email"})
                assert r.status_code == 202, r.text
                wait_until_sync(lambda: len(box.mails) == 1, 30, "the demo's mail")
            assert box.mails[0]["To"] == "truc.ban@ioc.gov.vn"
            assert box.logins == [("LOGIN", SMTP_USER)] and box.tls == [True]
        finally:
            demo.stop()
        log = (tmp_path / "data" / "logs" / "iocwall.log").read_text()
        assert "sent via starttls://" in log                  # the send was logged ...
        assert SMTP_PASSWORD not in log + demo.output + demo.errors    # ... never the secret
