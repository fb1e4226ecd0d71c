"""Registry pieces on their own: field validation, provinces, sealed credentials, key
rotation, CSV/XLSX reading. Fast; the HTTP paths are in test_registry_api.py."""
from __future__ import annotations

import base64
import io
import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from openpyxl import Workbook
from pydantic import ValidationError

from iocwall.wall import provinces
from iocwall.wall.access import Principal, Role
from iocwall.wall.errors import ApiError
from iocwall.wall.registry import validation
from iocwall.wall.registry.bulk import import_rows, read_table
from iocwall.wall.registry.crypto import Credentials, SecretBox
from iocwall.wall.registry.model import CameraIn, Profile
from iocwall.wall.registry.store import Registry
from iocwall.wall.store import Store

SECRET = "S3cret-cam-pw!"


@pytest.mark.parametrize("raw, normal", [
    ("0912 345 678", "+84912345678"), ("+84 912.345.678", "+84912345678"),
    ("84-389-123-456", "+84389123456"), ("024 3825 1234", "+842438251234"),
    ("(0236) 3822 111", "+842363822111"),
])
def test_vietnamese_phones_are_normalised(raw: str, normal: str) -> None:
    assert validation.phone(raw) == normal


@pytest.mark.parametrize("raw", ["0123 456 789", "091234567", "+1 202 555 0100", "abc", ""])
def test_bad_phones_are_refused(raw: str) -> None:
    with pytest.raises(ValueError, match="Vietnamese phone"):
        validation.phone(raw)


@pytest.mark.parametrize("raw, bps", [("100 Mbps", 100_000_000), ("2,5 Gbit/s", 2_500_000_000),
                                      ("512kbps", 512_000), ("1.20 Mbit/s", 1_200_000)])
def test_bandwidth_units(raw: str, bps: int) -> None:
    assert validation.bandwidth(raw) == bps


@pytest.mark.parametrize("raw", ["100", "100 MB", "fast", "0 kbps", "500 Gbps"])
def test_bad_bandwidth_says_which_units(raw: str) -> None:
    with pytest.raises(ValueError, match="kbps|between"):
        validation.bandwidth(raw)


def test_34_units_and_the_63_earlier_names_only_for_history() -> None:
    units = provinces.all_units()
    assert len(units) == 34 and len({u.code for u in units}) == 34
    earlier = {m for u in units for m in u.members_before_2025}
    assert len(earlier) == 63
    assert provinces.resolve("tp Hồ Chí Minh").code == "HO-CHI-MINH"
    assert provinces.resolve("HA-NOI").name == "Hà Nội"
    with pytest.raises(provinces.UnknownProvince, match="merged into Phú Thọ"):
        provinces.resolve("Vĩnh Phúc")
    assert provinces.resolve("Vĩnh Phúc", historical=True).name == "Phú Thọ"
    with pytest.raises(provinces.UnknownProvince, match="34 provincial units"):
        provinces.resolve("Atlantis")


def test_profile_errors_name_the_field() -> None:
    good = {"province": "Huế", "centre": "TT PVHCC Huế",
            "contacts": [{"name": "Lê Văn A", "phone": "0912345678", "role": "technical"}],
            "path": ["camera", "switch", "firewall", "router", "Internet"],
            "transmission": {"bandwidth": "100 Mbps", "channel": "vpn",
                             "endpoint": "vpn.hue.gov.vn:443"}}
    profile = Profile.model_validate(good)
    assert profile.province == "HUE" and profile.transmission.bandwidth_bps == 100_000_000
    for path, bad in [(("contacts", 0, "phone"), "12345"),
                      (("transmission", "bandwidth"), "lots"),
                      (("transmission", "channel"), "pigeon"),
                      (("province",), "Hà Tây")]:
        data = json.loads(json.dumps(good))
        target = data
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = bad
        with pytest.raises(ValidationError) as info:
            Profile.model_validate(data)
        assert info.value.errors()[0]["loc"] == path


def test_camera_url_with_credentials_is_refused_without_echoing_them() -> None:
    with pytest.raises(ValidationError) as info:
        CameraIn(province="Hà Nội", centre="c", name="n",
                 rtsp_main=f"rtsp://admin:{SECRET}@10.0.0.2:554/ch1")
    assert SECRET not in str(info.value.errors()[0]["msg"])
    with pytest.raises(ValidationError, match="RTSP URL or ONVIF|rtsp_main"):
        CameraIn(province="Hà Nội", centre="c", name="n")


async def test_credentials_are_sealed_at_rest_and_rotation_keeps_them(tmp_path: Path) -> None:
    key_file = tmp_path / "data" / "registry.key"
    store = Store(tmp_path / "data" / "db.sqlite3")
    await store.open()
    try:
        box = SecretBox(key_file, env={})
        registry = Registry(store, box)
        cam = await registry.add(CameraIn(province="Đà Nẵng", centre="c", name="Quầy 1",
                                          rtsp_main="rtsp://10.0.0.2:554/ch1",
                                          username="viewer", password=SECRET))
        assert cam.id == "da-nang-1" and cam.has_credentials
        assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
        assert SECRET.encode() not in (tmp_path / "data" / "db.sqlite3").read_bytes() + \
            (tmp_path / "data" / "db.sqlite3-wal").read_bytes()
        assert await registry.credentials(cam.id) == Credentials("viewer", SECRET)
        assert SECRET not in repr(await registry.credentials(cam.id))
        old_key = key_file.read_bytes()
        new_key = Fernet.generate_key()
        assert await registry.rotate_key(new_key) == 1
        key_file.write_bytes(new_key)
        fresh = Registry(store, SecretBox(key_file, env={}))
        assert await fresh.credentials(cam.id) == Credentials("viewer", SECRET)
        stale = Registry(store, SecretBox(tmp_path / "old.key", env={}))
        (tmp_path / "old.key").write_bytes(old_key)
        with pytest.raises(Exception, match="does not open"):
            await stale.credentials(cam.id)
    finally:
        await store.close()


def test_rotate_key_command(tmp_path: Path) -> None:
    """The CLI rotates the key file of a data dir; secrets still open afterwards."""
    import asyncio

    data = tmp_path / "data"

    async def setup() -> None:
        store = Store(data / "iocwall.sqlite3")
        await store.open()
        await Registry(store, SecretBox(data / "registry.key", env={})).add(
            CameraIn(province="Huế", centre="c", name="n", rtsp_main="rtsp://h:554/a",
                     password=SECRET))
        await store.close()

    asyncio.run(setup())
    before = (data / "registry.key").read_bytes()
    env = {k: v for k, v in os.environ.items() if not k.startswith("IOCWALL_REGISTRY")}
    done = subprocess.run([sys.executable, "-m", "iocwall.wall.cli", "registry", "rotate-key",
                           "--data-dir", str(data), "--config", os.devnull],
                          check=False, capture_output=True, text=True, env=env, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "re-encrypted 1 camera credentials" in done.stdout and SECRET not in done.stdout
    assert (data / "registry.key").read_bytes() != before
    assert stat.S_IMODE((data / "registry.key").stat().st_mode) == 0o600

    async def check() -> Credentials:
        store = Store(data / "iocwall.sqlite3")
        await store.open()
        try:
            return await Registry(store, SecretBox(data / "registry.key", env={})).credentials(
                "hue-1")
        finally:
            await store.close()

    assert asyncio.run(check()).password == SECRET


HEADER = ["STT", "Tỉnh/Thành phố", "Trung tâm", "Tên camera", "Vị trí", "Địa chỉ ONVIF",
          "RTSP luồng chính", "RTSP luồng phụ", "Giao thức", "Tài khoản", "Mật khẩu", "Nhãn"]
ROWS = [
    ["1", "Hà Nội", "TT PVHCC", "Quầy 1", "Sảnh A", "", "rtsp://10.1.1.1:554/main",
     "rtsp://10.1.1.1:554/sub", "tcp", "viewer", SECRET, "sảnh;quầy"],
    ["2", "Hà Tây", "TT PVHCC", "Quầy 2", "", "", "rtsp://10.1.1.2:554/main", "", "", "", "", ""],
    ["3", "Hà Nội", "TT PVHCC", "Quầy 3", "", "", "http://10.1.1.3/x", "", "udp", "", "", ""],
    ["4", "Hà Nội", "TT PVHCC", "Quầy 4", "", "", "rtsp://10.1.1.4:554/main", "", "pigeon", "",
     "", ""],
]


def _xlsx(rows: list[list[str]]) -> str:
    book = Workbook()
    sheet = book.active
    sheet.append(["BIỂU MẪU ĐĂNG KÝ CAMERA"])          # a title row above the header
    sheet.append(HEADER)
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return base64.b64encode(out.getvalue()).decode()


def _csv(rows: list[list[str]]) -> str:
    import csv
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(HEADER)
    writer.writerows(rows)
    return out.getvalue()


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_import_reports_each_row(fmt: str) -> None:
    content = _csv(ROWS) if fmt == "csv" else _xlsx(ROWS)
    rows = read_table(json.dumps({"format": fmt, "content": content}).encode())
    report, cams = import_rows(rows, Principal("op", Role.OPERATOR))
    assert [r["ok"] for r in report] == [True, False, False, False]
    assert report[0]["row"] == (2 if fmt == "csv" else 3)
    assert cams[0].tags == ["quầy", "sảnh"] and cams[0].password == SECRET
    assert report[1]["errors"][0]["field"] == "province"
    assert "merged" not in report[1]["errors"][0]["message"]     # Hà Tây: not a unit at all
    assert report[2]["errors"][0]["field"] == "rtsp_main"
    assert report[3]["errors"][0]["field"] == "transport"
    assert SECRET not in json.dumps(report)


def test_import_by_a_registrar_only_its_province() -> None:
    rows = read_table(json.dumps({"format": "csv", "content": _csv(ROWS[:1])}).encode())
    report, _ = import_rows(rows, Principal("reg", Role.REGISTRAR, unit="HUE"))
    assert not report[0]["ok"] and report[0]["errors"][0]["field"] == "province"


@pytest.mark.parametrize("body, field", [
    (b"{", None), (json.dumps({"format": "pdf", "content": ""}).encode(), "format"),
    (json.dumps({"format": "xlsx", "content": "%%%"}).encode(), "content"),
    (json.dumps({"format": "xlsx", "content": base64.b64encode(b"PK nope").decode()}).encode(),
     "content"),
    (json.dumps({"format": "csv", "content": "a,b\n1,2\n"}).encode(), "content"),
])
def test_unreadable_imports_get_clear_errors(body: bytes, field: str | None) -> None:
    with pytest.raises(ApiError) as info:
        read_table(body)
    assert info.value.status in (400, 422) and info.value.field == field


def test_key_from_the_environment(tmp_path: Path) -> None:
    key = Fernet.generate_key().decode()
    box = SecretBox(tmp_path / "unused.key", env={"IOCWALL_REGISTRY_KEY": key})
    sealed = box.seal(Credentials("u", SECRET))
    assert sealed is not None and SECRET.encode() not in sealed
    assert Fernet(key.encode()).decrypt(sealed)            # really under the env key
    assert not (tmp_path / "unused.key").exists()
    bad = SecretBox(tmp_path / "unused.key", env={"IOCWALL_REGISTRY_KEY": "short"})
    with pytest.raises(Exception, match="IOCWALL_REGISTRY_KEY: not a Fernet key"):
        bad.seal(Credentials("u", SECRET))
