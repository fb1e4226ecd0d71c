"""Hostile request input on a real server: numbers, body size, depth, content type, log size."""
from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path

import pytest

from iocwall.wall import logs
from iocwall.wall.config import Config, ConfigError, load
from tests.fixtures.app import LiveServer
from tests.waiting import wait_until

OUT_OF_RANGE = [
    ("GET", "/api/audit?offset=9223372036854775808"),
    ("GET", "/api/audit?before_id=1e20"),
    ("GET", "/api/audit?before_id=-9223372036854775809"),
    ("GET", "/api/audit?limit=99999999999999999999999"),
    ("GET", "/api/audit.csv?before_id=9223372036854775808"),
    ("GET", "/api/users/99999999999999999999"),
    ("PATCH", "/api/users/99999999999999999999"),
    ("PUT", "/api/users/99999999999999999999/password"),
    ("DELETE", "/api/tokens/9223372036854775808"),
]


def tracebacks(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]


async def test_numbers_out_of_range_are_4xx_without_a_traceback(
        live_server: LiveServer, caplog: pytest.LogCaptureFixture) -> None:
    async with live_server.client() as http:
        await live_server.login(http)
        with caplog.at_level(logging.INFO):
            for method, path in OUT_OF_RANGE:
                body = {"password": "Long-Enough-123"} if method in ("PATCH", "PUT") else None
                r = await http.request(method, path, json=body)
                assert 400 <= r.status_code < 500, (method, path, r.status_code, r.text)
                assert r.json()["error"]["code"] in ("invalid", "not_found"), r.text
            big = await http.patch("/api/users/1", content='{"display_name": 1' + "0" * 30 + "}",
                                   headers={"Content-Type": "application/json"})
            assert big.status_code == 422 and "range" in big.json()["error"]["message"]
            ok = await http.get("/api/audit?offset=0&before_id=9223372036854775807")
    assert ok.status_code == 200, ok.text
    assert tracebacks(caplog) == []


@pytest.mark.parametrize("text", [
    "[" * 5000 + "]" * 5000,                        # past the interpreter's recursion limit
    '{"username": ' + "[" * 40 + "]" * 40 + "}",    # past our depth limit, still an object
    "[" * 50 + "]" * 50,
])
async def test_deeply_nested_json_is_400_without_a_traceback(
        live_server: LiveServer, caplog: pytest.LogCaptureFixture, text: str) -> None:
    async with live_server.client() as http:
        with caplog.at_level(logging.INFO):
            r = await http.post("/api/login", content=text,
                                headers={"Content-Type": "application/json"})
    assert r.status_code == 400, r.text
    assert r.json()["error"]["code"] == "bad_json"
    assert tracebacks(caplog) == []


async def _raw_post(port: int, head: str, first: bytes, timeout: float = 5.0) -> bytes:
    """Send the head and ``first`` body bytes but never the rest; return the response."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(head.encode() + first)
        await writer.drain()
        return await asyncio.wait_for(reader.read(4096), timeout)
    finally:
        writer.close()


async def test_oversized_login_body_is_refused_while_reading(live_server: LiveServer) -> None:
    limit = live_server.services.config.server.max_body_bytes
    port = live_server.info.port
    # Declared 10 MB, only 2 x limit sent: refused at once, not after waiting for 10 MB.
    head = ("POST /api/login HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            "Content-Type: application/json\r\nContent-Length: 10000000\r\n\r\n")
    reply = await _raw_post(port, head, b" " * (2 * limit))
    assert reply.startswith(b"HTTP/1.1 413"), reply[:200]
    # No length given (chunked): refused once the limit is passed, while the client still sends.
    head = ("POST /api/login HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n")
    chunk = b" " * 16384
    chunks = b"".join(b"%x\r\n%s\r\n" % (len(chunk), chunk) for _ in range(limit // 16384 + 2))
    reply = await _raw_post(port, head, chunks)
    assert reply.startswith(b"HTTP/1.1 413"), reply[:200]
    assert b'"too_large"' in reply
    async with live_server.client() as http:          # and the server is fine afterwards
        await live_server.login(http)


async def test_state_changes_need_application_json(live_server: LiveServer) -> None:
    login = json.dumps({"username": "admin", "password": "x"})
    async with live_server.client() as http:
        for ctype, body in [("text/plain", login), ("text/plain;charset=utf-8", login),
                            ("application/x-www-form-urlencoded", "username=admin&password=x"),
                            ("multipart/form-data; boundary=b", "--b--"), (None, login)]:
            headers = {"Content-Type": ctype} if ctype else {}
            r = await http.post("/api/login", content=body, headers=headers)
            assert r.status_code == 415, (ctype, r.text)
            assert r.json()["error"]["code"] == "unsupported_media_type"
        await live_server.login(http)
        r = await http.patch("/api/users/1", content="display_name=x",
                             headers={"Content-Type": "application/x-www-form-urlencoded"})
        assert r.status_code == 415
        ok = await http.patch("/api/users/1", content='{"display_name": "Quản trị"}',
                              headers={"Content-Type": "application/json; charset=utf-8"})
        assert ok.status_code == 200, ok.text
        assert (await http.post("/api/logout")).status_code == 200   # no body: no type needed


async def test_whep_offer_takes_sdp_and_nothing_else(live_server: LiveServer) -> None:
    """The one state change that is not JSON: its content type passes, JSON does not."""
    path = "/api/cameras/nope/whep/sub"
    async with live_server.client() as http:
        await live_server.login(http)
        sdp = await http.post(path, content="v=0\r\n", headers={"Content-Type": "application/sdp"})
        as_json = await http.post(path, json={"sdp": "v=0"})
        big = await http.post(path, content="v=0\n" + "a" * 70_000,
                              headers={"Content-Type": "application/sdp"})
    assert sdp.status_code == 404 and sdp.json()["error"]["code"] == "not_found", sdp.text
    assert as_json.status_code == 415
    assert big.status_code == 413


def test_log_file_rotates_by_size_and_count(tmp_path: Path) -> None:
    file = tmp_path / "logs" / "iocwall.log"
    try:
        logs.setup("INFO", file, json_lines=True, max_bytes=2000, backup_count=2)
        for n in range(200):
            logging.getLogger("iocwall.test").info("line %d %s", n, "x" * 50)
    finally:
        logs.setup("INFO", None)
    names = sorted(p.name for p in file.parent.iterdir())
    assert names == ["iocwall.log", "iocwall.log.1", "iocwall.log.2"]
    assert all(p.stat().st_size <= 2000 for p in file.parent.iterdir())
    assert '"line 199' in file.read_text()


def test_logging_and_body_limit_keys_are_config(tmp_path: Path) -> None:
    config = Config()
    assert config.logging.max_bytes == 10 * 1024 * 1024 and config.logging.backup_count == 5
    assert config.server.max_body_bytes == 256 * 1024
    toml = tmp_path / "c.toml"
    toml.write_text("[logging]\nmax_bytes = 0\n")
    with pytest.raises(ConfigError, match="max_bytes"):
        load(toml, env={})


RULE = ('{"name": "Quầy 3", "centre": "hn-01", "counter": "3", "threshold": %s, '
        '"duration_s": %s, "camera": "cam-1", "monitor": "2"}')
BAD_RULES = [("1e999", "1"), ("100000000000000000000000000", "1"), ("1e26", "1"),
             ("5", '"NaN"'), ("5", "NaN"), ("5", "Infinity"), ("5", "1e999"), ("-1", "1"),
             ("5", '"inf"'), ("5", "-0.5")]


async def test_bad_numbers_on_alarm_routes_and_imports_are_4xx_without_a_traceback(
        live_server: LiveServer, caplog: pytest.LogCaptureFixture) -> None:
    import base64
    import io

    from openpyxl import Workbook

    from tests.wall_helpers import make_wall
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["Tỉnh/Thành phố", "Tên camera"])
    sheet.append(["Hà Nội", "ENTITY"])
    out = io.BytesIO()
    book.save(out)
    entity = out.getvalue()           # the cell's text becomes an undefined XML entity
    import zipfile
    patched = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(entity)) as src, \
            zipfile.ZipFile(patched, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            data = src.read(info.filename)
            dst.writestr(info.filename, data.replace(b">ENTITY<", b">&undefined;<"))
    json_type = {"Content-Type": "application/json"}
    async with live_server.client() as http:
        await live_server.login(http)
        await make_wall(http)
        with caplog.at_level(logging.INFO):
            for alarm in ("99999999999999999999999", "9223372036854775808", "1e5", "-1"):
                r = await http.post(f"/api/walls/w1/alarms/{alarm}/clear")
                assert r.status_code == 404, (alarm, r.status_code, r.text)
                assert r.json()["error"]["code"] == "not_found"
            for threshold, duration in BAD_RULES:
                r = await http.post("/api/walls/w1/rules", content=RULE % (threshold, duration),
                                    headers=json_type)
                assert r.status_code == 422, (threshold, duration, r.status_code, r.text)
                assert set(r.json()["error"]) == {"code", "message", "field"}
            r = await http.put("/api/walls/w1/monitors/2/layout", headers=json_type,
                               content='{"name": "l", "grid": {"columns": 2, "rows": 1e999}}')
            assert r.status_code == 422, r.text
            csv = "Tỉnh/Thành phố,Tên camera,RTSP luồng chính\rHà Nội,Quầy 1,http://x/y\r"
            r = await http.post("/api/registry/import", json={"format": "csv", "content": csv})
            assert r.status_code == 422 and r.json()["rows"][0]["name"] == "Quầy 1", r.text
            r = await http.post("/api/registry/import", json={
                "format": "xlsx", "content": base64.b64encode(patched.getvalue()).decode()})
            assert r.status_code == 422 and r.json()["error"]["field"] == "content", r.text
            good = await http.post("/api/walls/w1/rules", content=RULE % ("5", "0.5"),
                                   headers=json_type)
            assert good.status_code == 201, good.text
            assert (good.json()["threshold"], good.json()["duration_s"]) == (5, 0.5)
    assert tracebacks(caplog) == []


async def test_a_client_that_leaves_mid_body_is_no_server_error(
        live_server: LiveServer, caplog: pytest.LogCaptureFixture) -> None:
    """A page left while its WHEP offer was on the way (seen at a demo's Ctrl+C): the
    server logs that the client went away, never an unhandled error with a traceback."""
    async with live_server.client() as http:
        await live_server.login(http)
        cookie = "; ".join(f"{k}={v}" for k, v in http.cookies.items())
    with caplog.at_level(logging.INFO):
        reader, writer = await asyncio.open_connection("127.0.0.1", live_server.info.port)
        writer.write((f"POST /api/cameras/cam1/whep/sub HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                      f"Cookie: {cookie}\r\nContent-Type: application/sdp\r\n"
                      "Content-Length: 4000\r\n\r\nv=0\r\n").encode())
        await writer.drain()
        writer.close()                                   # gone with 3,990 bytes unsent
        await writer.wait_closed()
        await wait_until(lambda: any("went away" in r.getMessage() for r in caplog.records),
                         10, "the server noticing the client left")
    assert tracebacks(caplog) == []
    assert not [r for r in caplog.records if "unhandled error" in r.getMessage()]
