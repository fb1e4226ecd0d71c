"""``iocwall smoke display://host:port``: asks a display-node agent how its monitors are.

Checks: the agent answers GET /health; it is paired; it reaches its controller; each
monitor's kiosk window runs (a window that had to be restarted is a warning).
"""
from __future__ import annotations

import httpx

from iocwall.hardware.smoke.report import Check, Report, Result, Row
from iocwall.hardware.smoke.target import Target


async def smoke_display(target: Target, timeout_s: float, report: Report) -> None:
    url = f"http://{target.url.host}:{target.url.port}/health"
    try:
        async with httpx.AsyncClient(timeout=timeout_s) as http:
            response = await http.get(url)
        health = response.json()
    except httpx.HTTPError as exc:
        report.rows.append(Row("", Check.REACH, Result.FAIL, type(exc).__name__,
                               "no display agent answers there: is `iocwall display-agent` "
                               "running, and is --health-port open in the firewall?"))
        return
    except ValueError:
        report.rows.append(Row("", Check.REACH, Result.FAIL, "not JSON",
                               "something else listens on this port"))
        return
    if response.status_code != 200 or health.get("agent") != "iocwall-display-agent":
        report.rows.append(Row("", Check.REACH, Result.FAIL, f"HTTP {response.status_code}",
                               "this is not an iocwall display agent"))
        return
    report.rows.append(Row("", Check.REACH, Result.PASS, "agent answers"))
    paired = bool(health.get("paired"))
    report.rows.append(Row("", Check.DISPLAY, Result.PASS if paired else Result.WARN,
                           f"paired: {health.get('wall') or '-'}" if paired else "not paired",
                           "" if paired else "approve the code on its screen in the console"))
    ok = bool(health.get("controller_ok"))
    report.rows.append(Row("", Check.DISPLAY, Result.PASS if ok else Result.FAIL,
                           f"controller {'reachable' if ok else 'unreachable'}",
                           "" if ok else f"check the network to {health.get('controller')}"))
    for window in health.get("windows", []):
        name = str(window.get("output", "?"))
        if not window.get("alive"):
            result, hint = Result.FAIL, "the kiosk window is not running"
        elif window.get("restarts"):
            result, hint = Result.WARN, f"restarted {window['restarts']} times: see the agent log"
        else:
            result, hint = Result.PASS, ""
        report.rows.append(Row(name, Check.DISPLAY, result,
                               f"{window.get('geometry', '')} up {window.get('uptime_s', 0)} s",
                               hint))
