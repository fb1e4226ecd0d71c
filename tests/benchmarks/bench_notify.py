"""Alert to inbox: from ``Notifier.alert_changed`` to the mail accepted by a real SMTP server
(aiosmtpd on 127.0.0.1, STARTTLS + AUTH LOGIN, the self-signed certificate of the tests).

- baseline: the same mail sent straight with aiosmtplib (connect, STARTTLS, login, send),
  one after another: what any sender pays;
- notify: ``alert_changed`` (render, recipients, outbox row) and the sender loop (claim,
  send, record), one alert after another, until the server has the mail.
The issue's budget is "a camera that stops -> its e-mail accepted: p95 <= lost-timeout + 5 s";
this measures the part after the alert is raised, which must stay well under those 5 s.
"""
from __future__ import annotations

import ssl
import time
from pathlib import Path

import aiosmtplib
import pytest

from iocwall.wall.notify.channels.email import compose
from iocwall.wall.notify.message import Channel, Message, State
from tests.benchmarks.common import isize, ratio, summary, table, write_results
from tests.fixtures.app import make_config, start_live_server
from tests.notify_helpers import SMTP_PASSWORD, SMTP_USER, notice, smtp_server
from tests.waiting import wait_until

pytestmark = pytest.mark.timeout(900)

ALERTS = isize("notify_alerts", 50, 5)


async def test_alert_to_inbox_latency(tmp_path: Path) -> None:
    with smtp_server(tmp_path) as (port, box, cert):
        tls = ssl.create_default_context(cafile=str(cert))
        message = Message(1, Channel.EMAIL, "a@ioc.gov.vn", "alert", None, "s", "s", "b", "b",
                          {}, "k", 1, State.PENDING, 0, "", "", "", None)
        baseline = []
        for _ in range(ALERTS):
            start = time.monotonic()
            await aiosmtplib.send(compose(message, "ioc@ioc.gov.vn"), hostname="127.0.0.1",
                                  port=port, username=SMTP_USER, password=SMTP_PASSWORD,
                                  start_tls=True, tls_context=tls)
            baseline.append((box.times[-1] - start) * 1000)
        config = make_config(tmp_path / "data")
        config.streams.processes = 1
        config.notify.smtp_url = f"smtp://{SMTP_USER}@127.0.0.1:{port}"
        config.notify.smtp_ca_file = str(cert)
        config.notify.email_to = ["truc.ban@ioc.gov.vn"]
        config.notify.use_env({"IOCWALL_SMTP_PASSWORD": SMTP_PASSWORD})
        measured = []
        async with start_live_server(config) as server:
            notifier = server.services.notify.notifier
            for n in range(ALERTS):
                before = len(box.times)
                start = time.monotonic()
                await notifier.alert_changed(notice(alert_id=1000 + n))
                await wait_until(lambda b=before: len(box.times) > b, 30, f"mail {n}",
                                 step=0.002)
                measured.append((box.times[before] - start) * 1000)
    results = {"aiosmtplib.send (baseline)": summary(baseline),
               "alert_changed -> accepted": summary(measured)}
    base = results["aiosmtplib.send (baseline)"]["p95"]
    table(f"alert to inbox, {ALERTS} alerts, ms (SMTP STARTTLS + login on 127.0.0.1)",
          ["path", "n", "p50", "p95", "p95 / baseline"],
          [(k, v["n"], v["p50"], v["p95"], ratio(v["p95"], base)) for k, v in results.items()])
    write_results("notify", {"alerts": ALERTS, **results})
    assert len(measured) == ALERTS
