"""/audit in Debian's chromium against a real `iocwall serve`: an admin pages through the
log by keyset (every entry once, newest first), filters by free text (no diacritics
needed), by province and by time, and the CSV link carries the same filters; no console
errors on the way."""
from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.fixtures.serve_process import ADMIN_PASSWORD, ServeProcess, serve_process

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.timeout(180)]
USER_PASSWORD = "Audit-Page-Pass-1!"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServeProcess]:
    data: Path = tmp_path_factory.mktemp("audit") / "data"
    with serve_process(data) as running:
        yield running


@pytest.fixture(scope="module")
def admin(server: ServeProcess) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=20) as client:
        assert client.post("/api/login", json={"username": "admin",
                                                "password": ADMIN_PASSWORD}).status_code == 200
        for k in range(1, 13):
            r = client.post("/api/users", json={"username": f"op{k:02d}", "role": "operator",
                                                "password": USER_PASSWORD})
            assert r.status_code == 201, r.text
        r = client.post("/api/users", json={"username": "hue-reg", "role": "registrar",
                                            "province": "Thừa Thiên Huế",
                                            "password": USER_PASSWORD})
        assert r.status_code == 201, r.text
        with httpx.Client(base_url=server.url, timeout=20) as registrar:
            assert registrar.post("/api/login", json={"username": "hue-reg", "password":
                                                      USER_PASSWORD}).status_code == 200
        yield client


def _ids(page) -> list[int]:  # type: ignore[no-untyped-def]
    return [int(x) for x in page.eval_on_selector_all("#entries tbody tr",
                                                      "rows => rows.map(r => r.dataset.id)")]


def _wait_load(page, before: int) -> None:  # type: ignore[no-untyped-def]
    page.wait_for_selector(f"body[data-loads='{before + 1}']")


def _loads(page) -> int:  # type: ignore[no-untyped-def]
    return int(page.evaluate("Number(document.body.dataset.loads)"))


def test_filter_and_page_the_audit_log(browser_page, server: ServeProcess,
                                       admin: httpx.Client) -> None:
    page = browser_page
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.goto(f"{server.url}/audit?limit=5")
    page.wait_for_url("**/login?next=**")
    page.fill("#username", "admin")
    page.fill("#password", ADMIN_PASSWORD)
    page.click("#submit")
    page.wait_for_url("**/audit?limit=5")
    problems.clear()                    # the login page's own 401 probe of /api/me is not ours
    page.wait_for_selector("body[data-ready='1']")
    everything = [e["id"] for e in admin.get("/api/audit", params={"limit": 1000}).json()[
        "entries"]]                           # the browser's own login included
    assert len(everything) >= 15

    # keyset pages of 5: older until the end, each entry exactly once, newest first
    pages = [_ids(page)]
    assert len(pages[0]) == 5 and page.is_disabled("#newer")
    while page.is_enabled("#older"):
        before = _loads(page)
        page.click("#older")
        _wait_load(page, before)
        assert "before_id=" in page.url
        pages.append(_ids(page))
    assert [i for p in pages for i in p] == everything
    before = _loads(page)
    page.click("#newer")                     # back one page: the same entries as before
    _wait_load(page, before)
    assert _ids(page) == pages[-2]

    # free text, case and diacritics ignored: "ÓP1" finds op10, op11, op12
    page.fill("#f-q", "ÓP1")
    before = _loads(page)
    page.click("#apply")
    _wait_load(page, before)
    targets = page.eval_on_selector_all("#entries tbody tr td:nth-child(5)",
                                        "cells => cells.map(c => c.textContent)")
    assert sorted(targets) == ["user:op10", "user:op11", "user:op12"]
    assert "q=%C3%93P1" in page.url and page.is_disabled("#newer")

    # by province: the registrar's own login is Huế's
    page.fill("#f-q", "")
    page.select_option("#f-province", "HUE")
    before = _loads(page)
    page.click("#apply")
    _wait_load(page, before)
    rows = page.eval_on_selector_all(
        "#entries tbody tr", "rows => rows.map(r => [...r.cells].map(c => c.textContent))")
    assert [(r[2], r[3], r[5]) for r in rows] == [("hue-reg (registrar)", "login", "HUE")]
    assert rows[0][1].endswith("+07:00")
    href = page.get_attribute("#csv", "href") or ""
    assert "province=HUE" in href
    exported = list(csv.reader(io.StringIO(admin.get(href).text.lstrip("\ufeff"))))
    assert [(r[2], r[5], r[-1]) for r in exported[1:]] == [("hue-reg", "login", "HUE")]

    # by time: nothing before 2020
    page.select_option("#f-province", "")
    page.fill("#f-to", "2020-01-01T00:00:00")
    before = _loads(page)
    page.click("#apply")
    _wait_load(page, before)
    assert _ids(page) == []
    assert "to=2020-01-01T00%3A00%3A00%2B07%3A00" in page.url
    assert page.text_content("#summary") in ("Không có mục nào phù hợp.", "No matching entries.")
    assert problems == []
