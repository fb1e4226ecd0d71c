"""The registry's HTTP API: profiles, cameras (create/edit/delete/test), discovery, checklist.

GET /api/cameras and the playback routes stay in wall/media_api.py (scoped the same way).
Credentials are write-only: no response, audit entry or error carries them.
"""
from __future__ import annotations

from typing import Any

from pydantic import Field
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute

from iocwall.streams.clock import now_iso
from iocwall.wall import provinces
from iocwall.wall.access import ANY_USER, Principal, Role, route
from iocwall.wall.api.announced import announced
from iocwall.wall.api.common import Body, audited, caller, read_body, services
from iocwall.wall.errors import ApiError
from iocwall.wall.registry import onboarding, validation, verify
from iocwall.wall.registry.bulk import import_rows, read_table
from iocwall.wall.registry.crypto import Credentials
from iocwall.wall.registry.model import (
    CameraIn,
    CameraPatch,
    CameraTry,
    Profile,
    RegisteredCamera,
)
from iocwall.wall.registry.scope import (
    may_ask_if_taken,
    may_choose_id,
    may_read_province,
    may_write,
    province_of,
    visible_camera,
)

EDITORS = frozenset({Role.ADMIN, Role.OPERATOR, Role.REGISTRAR})
TESTERS = EDITORS | {Role.TECHNICIAN}
READERS = TESTERS | {Role.LEADER}
MAX_IMPORT_BYTES = 4 * 1024 * 1024


class DiscoverBody(Body):
    interface: str = Field(min_length=1, max_length=40)
    timeout_s: float | None = Field(None, gt=0, le=10)


class ProbeBody(Body):
    address: str = Field(min_length=1, max_length=300)
    timeout_s: float | None = Field(None, gt=0, le=10)


class OnvifBody(Body):
    onvif: str = Field(min_length=1, max_length=300)
    username: str = Field("", max_length=128)
    password: str = Field("", max_length=256)


def _province_param(request: Request) -> str:
    try:
        return provinces.resolve(request.path_params["province"]).code
    except provinces.UnknownProvince as exc:
        raise ApiError(404, "not_found", str(exc), "province") from None


async def list_provinces(request: Request) -> Response:
    return JSONResponse([{"code": p.code, "name": p.name, "kind": p.kind}
                         for p in provinces.all_units()])


async def list_profiles(request: Request) -> Response:
    limit = province_of(caller(request))
    found = await services(request).registry.profiles()
    return JSONResponse([p for p in found if limit is None or p["province"] == limit])


async def get_profile(request: Request) -> Response:
    province = _province_param(request)
    may_read_province(caller(request), province)
    profile = await services(request).registry.profile(province)
    if profile is None:
        raise ApiError(404, "not_found", "no profile yet / chưa có hồ sơ", "province")
    return JSONResponse(profile)


async def put_profile(request: Request) -> Response:
    province = _province_param(request)
    may_write(caller(request), province)
    body = await read_body(request, Profile)
    if body.province != province:
        raise ApiError(422, "invalid", "province: the body names another province than the "
                       "URL / tỉnh không khớp", "province")
    registry = services(request).registry
    before = await registry.profile(province)
    after = await registry.save_profile(body, caller(request).name)
    await audited(request, "registry.profile", f"province:{province}", before, after)
    return JSONResponse(after)


async def create_camera(request: Request) -> Response:
    svc = services(request)
    body = await read_body(request, CameraIn)
    may_write(caller(request), body.province)
    may_choose_id(caller(request), body.province, body.id)
    if not body.rtsp_main:
        form = (await onboarding.read_device(body.onvif, body.username, body.password,
                                             svc.config.registry.test_timeout_s))["form"]
        body = body.model_copy(update={"rtsp_main": form["rtsp_main"],
                                       "rtsp_sub": body.rtsp_sub or form["rtsp_sub"]})
        if not body.rtsp_main:
            raise ApiError(422, "invalid", "onvif: the device reports no stream URI "
                           "/ thiết bị không báo địa chỉ luồng", "onvif")
    cam = await svc.registry.add(body)
    await audited(request, "camera.create", f"camera:{cam.id}", None,
                  {**cam.public(), "credentials_set": cam.has_credentials})
    return JSONResponse(await _with_media(request, cam.public()), status_code=201)


async def update_camera(request: Request) -> Response:
    registry = services(request).registry
    who = caller(request)
    camera_id = request.path_params["camera"]
    current = await visible_camera(registry, who, camera_id)
    if current is None:
        raise ApiError(404, "not_found", "no such camera in the registry / không có camera này")
    body = await read_body(request, CameraPatch)
    may_write(who, current.province)
    if body.province is not None:
        may_write(who, body.province)
    _may_allow_basic(who, current, body)
    done = await registry.update(camera_id, body)
    before, after = done.before, done.after
    changed = body.username is not None or body.password is not None
    target = f"camera:{camera_id}"
    await audited(request, "camera.update", target, before.public(),
                  {**after.public(), "credentials_changed": changed})
    if done.credentials_cleared_by:
        await audited(request, "camera.credentials_cleared", target, {"has_credentials": True},
                      {"has_credentials": False, "reason": "address_changed",
                       "fields": list(done.credentials_cleared_by)})
    if before.allow_basic_auth != after.allow_basic_auth:
        await audited(request, "camera.allow_basic_auth", target,
                      {"allow_basic_auth": before.allow_basic_auth},
                      {"allow_basic_auth": after.allow_basic_auth,
                       "with_new_password": bool(body.password)})
    return JSONResponse(await _with_media(request, after.public()))


def _may_allow_basic(who: Principal, current: RegisteredCamera, body: CameraPatch) -> None:
    """Basic sends the password in clear to whoever answers at the camera's address: turning
    it on is for an admin, or for whoever gives the (new) password in the same edit, so an
    editor never gets to expose a password they were not trusted with."""
    if not body.allow_basic_auth or current.allow_basic_auth or who.role is Role.ADMIN:
        return
    if not body.password:
        raise ApiError(403, "forbidden", "allow_basic_auth: only an admin may allow Basic "
                       "authentication, or send the camera's password in the same request "
                       "/ chỉ quản trị viên được bật xác thực Basic, hoặc gửi kèm mật khẩu",
                       "allow_basic_auth")


async def delete_camera(request: Request) -> Response:
    registry = services(request).registry
    who = caller(request)
    current = await visible_camera(registry, who, request.path_params["camera"])
    if current is None:
        raise ApiError(404, "not_found", "no such camera in the registry / không có camera này")
    may_write(who, current.province)
    before = await registry.remove(current.id)
    await audited(request, "camera.delete", f"camera:{current.id}", before.public(), None)
    return JSONResponse({"ok": True, "id": current.id, "state": "removed"})


async def test_camera(request: Request) -> Response:
    svc = services(request)
    registry = svc.registry
    cam = await visible_camera(registry, caller(request), request.path_params["camera"])
    if cam is None:
        raise ApiError(404, "not_found", "no such camera in the registry / không có camera này")
    profile = await registry.profile(cam.province) or {}
    declared = (profile.get("transmission") or {}).get("bandwidth") or ""
    declared_bps = validation.bandwidth(declared) if declared else None
    cfg = svc.config.registry
    report, summary = await verify.run_test(cam, await registry.credentials(cam.id),
                                            declared_bps, cfg.test_seconds, cfg.test_timeout_s)
    when = await registry.record_test(cam.id, summary["status"],
                                      {"summary": summary, "report": report.as_dict()})
    result = {"camera": cam.id, "time": when, **summary, "report": report.as_dict()}
    await audited(request, "camera.test", f"camera:{cam.id}", None,
                  {"status": summary["status"], "time": when})
    return JSONResponse(result)


async def test_unsaved(request: Request) -> Response:
    """Test connection on a camera form's values before it is saved: nothing is stored,
    the reason comes back in words (wrong password, unreachable, no picture)."""
    svc = services(request)
    who = caller(request)
    body = await read_body(request, CameraTry)
    if body.province:
        may_write(who, body.province)
    cfg = svc.config.registry
    rtsp_main, rtsp_sub = body.rtsp_main, body.rtsp_sub
    if not rtsp_main:
        form = (await onboarding.read_device(body.onvif, body.username, body.password,
                                             cfg.test_timeout_s))["form"]
        rtsp_main, rtsp_sub = form["rtsp_main"], rtsp_sub or form["rtsp_sub"]
    now = now_iso()
    cam = RegisteredCamera("unsaved", body.province, "", "", "", body.onvif, rtsp_main,
                           rtsp_sub, body.transport, [], bool(body.username or body.password),
                           "form", now, now, body.allow_basic_auth)
    report, summary = await verify.run_test(cam, Credentials(body.username, body.password),
                                            None, cfg.test_seconds, cfg.test_timeout_s)
    await audited(request, "camera.test_unsaved", f"address:{_address(cam)}", None,
                  {"status": summary["status"], "explain": summary["explain"]["code"]})
    return JSONResponse({"time": now, **summary, "report": report.as_dict()})


def _address(cam: RegisteredCamera) -> str:
    """host:port tested, for the audit log (never a URL's path or credentials)."""
    from iocwall.streams.urls import UrlError, parse
    try:
        url = parse(cam.rtsp_main)
    except UrlError:
        return cam.onvif
    return f"{url.host}:{url.port}"


async def access(request: Request) -> Response:
    """What the caller may do on the registry page (so it calls nothing it would be refused,
    from the same role sets as the routes), and in `iocwall demo` the simulated cameras'
    login (``demo_camera``, null elsewhere) so a registrar can connect a camera by hand."""
    role = caller(request).role
    tester = role in TESTERS
    return JSONResponse({"edit": role in EDITORS, "test": tester,
                         "demo_camera": services(request).demo_camera_login if tester else None})


async def checklist(request: Request) -> Response:
    svc = services(request)
    who = caller(request)
    wanted = request.query_params.get("province", "")
    limit = province_of(who)
    if wanted:
        try:
            wanted = provinces.resolve(wanted).code
        except provinces.UnknownProvince as exc:
            raise ApiError(422, "invalid", f"province: {exc}", "province") from None
        may_read_province(who, wanted)
    province = limit or wanted or None
    media = svc.media
    shown = await svc.wall.cameras_shown() if svc.wall is not None else None
    rows = []
    for cam in await svc.registry.cameras(province):
        status = await media.camera(cam.id) if media is not None else None
        rows.append({"province": cam.province,
                     **verify.checklist_row(cam, status.state.value if status else None,
                                            None if shown is None else cam.id in shown)})
    totals = {k: sum(1 for r in rows if r[k] is True)
              for k in ("registered", "reachable", "streaming")}
    return JSONResponse({"province": province, "cameras": rows, "totals": totals})


async def list_interfaces(request: Request) -> Response:
    return JSONResponse(onboarding.discovery.interfaces())


async def discover(request: Request) -> Response:
    body = await read_body(request, DiscoverBody)
    timeout = body.timeout_s or services(request).config.registry.discovery_timeout_s
    return JSONResponse({"devices": await onboarding.discover(body.interface, timeout)})


async def probe(request: Request) -> Response:
    body = await read_body(request, ProbeBody)
    timeout = body.timeout_s or services(request).config.registry.discovery_timeout_s
    return JSONResponse({"devices": await onboarding.probe_one(body.address, timeout)})


async def read_onvif(request: Request) -> Response:
    body = await read_body(request, OnvifBody)
    timeout = services(request).config.registry.test_timeout_s
    return JSONResponse(await onboarding.read_device(body.onvif, body.username, body.password,
                                                     timeout))


async def import_cameras(request: Request) -> Response:
    """{"format": "csv"|"xlsx", "content": text (csv) or base64 (xlsx)}: all or nothing."""
    svc = services(request)
    raw = await request.body()
    if len(raw) > MAX_IMPORT_BYTES:
        raise ApiError(413, "too_large", "import over 4 MB / tệp quá lớn")
    rows = await svc.imports.run(read_table, raw)     # parsing blocks: off the event loop
    who = caller(request)
    report, cams = import_rows(rows, who)
    # rows that failed validation have no camera: match the taken ids by the row's id; only
    # ids in the caller's own namespace are looked up (the others are refused by id anyway)
    taken = {cam.id for cam in cams if cam.id and may_ask_if_taken(who, cam.province, cam.id)
             and await svc.registry.get(cam.id) is not None}
    for line in report:
        if line["id"] in taken:
            line["ok"] = False
            line["errors"].append({"field": "id", "message": f"camera id '{line['id']}' is "
                                   "taken / mã camera đã tồn tại"})
    if any(not r["ok"] for r in report):
        return JSONResponse({"imported": 0, "rows": report,
                             "error": {"code": "invalid", "field": "rows",
                                       "message": "nothing imported: fix the rows marked "
                                       "with errors / chưa nhập dòng nào: hãy sửa các dòng lỗi"}},
                            status_code=422)
    added = await svc.registry.add_many(cams, "import")
    for n, made in enumerate(added):
        report[n]["id"] = made.id
        await audited(request, "camera.create", f"camera:{made.id}", None,
                      {**made.public(), "credentials_set": made.has_credentials})
    await audited(request, "registry.import", "cameras", None,
                  {"imported": len(added), "ids": [c.id for c in added]})
    return JSONResponse({"imported": len(added), "rows": report}, status_code=201)


async def _with_media(request: Request, data: dict[str, Any]) -> dict[str, Any]:
    media = services(request).media
    status = await media.camera(data["id"]) if media is not None else None
    data["state"] = status.state.value if status else "unregistered_media"
    data["whep"] = {s: f"/api/cameras/{data['id']}/whep/{s}" for s in ("main", "sub")
                    if data.get(f"rtsp_{s}")}
    return data


def routes() -> list[BaseRoute]:
    cam = "/api/cameras/{camera}"
    reg = "/api/registry"
    return [
        route(f"{reg}/provinces", list_provinces, roles=ANY_USER, methods=["GET"]),
        route(f"{reg}/profiles", list_profiles, roles=READERS, methods=["GET"]),
        route(f"{reg}/profiles/{{province}}", get_profile, roles=READERS, methods=["GET"]),
        route(f"{reg}/profiles/{{province}}", put_profile, roles=EDITORS, methods=["PUT"]),
        route(f"{reg}/checklist", checklist, roles=READERS, methods=["GET"]),
        route(f"{reg}/interfaces", list_interfaces, roles=TESTERS, methods=["GET"]),
        route(f"{reg}/discover", discover, roles=TESTERS, methods=["POST"]),
        route(f"{reg}/probe", probe, roles=TESTERS, methods=["POST"]),
        route(f"{reg}/onvif", read_onvif, roles=TESTERS, methods=["POST"]),
        route(f"{reg}/import", announced(import_cameras), roles=EDITORS, methods=["POST"]),
        route("/api/cameras", announced(create_camera), roles=EDITORS, methods=["POST"]),
        route(cam, announced(update_camera), roles=EDITORS, methods=["PATCH"]),
        route(cam, announced(delete_camera), roles=EDITORS, methods=["DELETE"]),
        route(f"{cam}/test", test_camera, roles=TESTERS, methods=["POST"]),
        route(f"{reg}/test", test_unsaved, roles=TESTERS, methods=["POST"]),
        route(f"{reg}/access", access, roles=READERS, methods=["GET"]),
    ]
