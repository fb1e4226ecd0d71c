"""The registry's tables: profiles, cameras (credentials sealed), test results; and who to
tell when a camera changes (the media sync, see sync.py).

Every write happens in one SQLite transaction; listeners run after the commit, so the
media server never follows a change that was rolled back.
"""
from __future__ import annotations

import enum
import json
import logging
import re
import sqlite3
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from iocwall.streams.clock import now_iso
from iocwall.wall import provinces
from iocwall.wall.errors import ApiError
from iocwall.wall.registry import origin
from iocwall.wall.registry.crypto import Credentials, SecretBox
from iocwall.wall.registry.model import CameraIn, CameraPatch, Profile, RegisteredCamera, Transport
from iocwall.wall.store import Store
from iocwall.wall.text import fold

log = logging.getLogger(__name__)

_COLUMNS = ("id, province, centre, name, location, onvif, rtsp_main, rtsp_sub, transport, "
            "allow_basic_auth, secret IS NOT NULL AS has_secret, tags, source, created_at, "
            "updated_at")


class ChangeKind(str, enum.Enum):
    ADDED = "added"
    UPDATED = "updated"
    REMOVED = "removed"


@dataclass(frozen=True)
class Updated:
    """What an edit did: the camera before and after, and the address fields whose move
    dropped the stored credentials (empty when they were kept or replaced)."""
    before: RegisteredCamera
    after: RegisteredCamera
    credentials_cleared_by: tuple[str, ...] = ()


@dataclass(frozen=True)
class Change:
    kind: ChangeKind
    camera_id: str
    camera: RegisteredCamera | None      # None when removed


Listener = Callable[[Change], Awaitable[None]]


class Registry:
    def __init__(self, store: Store, box: SecretBox) -> None:
        self._store = store
        self.box = box
        self._listeners: list[Listener] = []
        # tells the other controllers (wall/registry/follow.py); last, after this process's
        # own listeners, and never for a change heard from elsewhere (no echo)
        self.announce: Listener | None = None

    def listen(self, listener: Listener) -> None:
        self._listeners.append(listener)

    async def changed_elsewhere(self, change: Change) -> None:
        """Another controller changed a camera (the bus said so): act as on a local edit."""
        await self._tell([change], local=False)

    async def _tell(self, changes: Sequence[Change], local: bool = True) -> None:
        announce = [self.announce] if local and self.announce is not None else []
        for change in changes:
            for listener in [*self._listeners, *announce]:
                try:
                    await listener(change)
                except Exception:       # a listener's failure must not undo a committed change
                    log.exception("registry listener failed on %s %s", change.kind.value,
                                  change.camera_id)

    # -- profiles ------------------------------------------------------------------------
    async def profile(self, province: str) -> dict[str, Any] | None:
        row = await self._store.fetchone(
            "SELECT data, updated_at, updated_by FROM registry_profiles WHERE province = ?",
            (province,))
        if row is None:
            return None
        return {**json.loads(row["data"]), "updated_at": row["updated_at"],
                "updated_by": row["updated_by"]}

    async def profiles(self) -> list[dict[str, Any]]:
        rows = await self._store.fetchall(
            "SELECT data, updated_at, updated_by FROM registry_profiles ORDER BY province")
        return [{**json.loads(r["data"]), "updated_at": r["updated_at"],
                 "updated_by": r["updated_by"]} for r in rows]

    async def save_profile(self, profile: Profile, by: str) -> dict[str, Any]:
        data = json.dumps(profile.model_dump(mode="json"), ensure_ascii=False)
        await self._store.execute(
            "INSERT INTO registry_profiles(province, data, updated_at, updated_by) "
            "VALUES(?, ?, ?, ?) ON CONFLICT(province) DO UPDATE SET data = excluded.data, "
            "updated_at = excluded.updated_at, updated_by = excluded.updated_by",
            (profile.province, data, now_iso(), by))
        saved = await self.profile(profile.province)
        assert saved is not None
        return saved

    # -- cameras: reading -----------------------------------------------------------------
    async def cameras(self, province: str | None = None) -> list[RegisteredCamera]:
        where, params = ("WHERE province = ?", (province,)) if province else ("", ())
        rows = await self._store.fetchall(
            f"SELECT {_COLUMNS} FROM registry_cameras {where} ORDER BY province, id", params)
        tests = await self._last_tests()
        return [_camera(r, tests.get(r["id"])) for r in rows]

    async def get(self, camera_id: str) -> RegisteredCamera | None:
        row = await self._store.fetchone(
            f"SELECT {_COLUMNS} FROM registry_cameras WHERE id = ?", (camera_id,))
        if row is None:
            return None
        return _camera(row, (await self._last_tests(camera_id)).get(camera_id))

    async def require(self, camera_id: str) -> RegisteredCamera:
        camera = await self.get(camera_id)
        if camera is None:
            raise ApiError(404, "not_found", "no such camera / không có camera này")
        return camera

    async def credentials(self, camera_id: str) -> Credentials:
        row = await self._store.fetchone("SELECT secret FROM registry_cameras WHERE id = ?",
                                         (camera_id,))
        return self.box.open(row["secret"] if row else None)

    async def search(self, folded: str, province: str | None, limit: int
                     ) -> tuple[list[dict[str, Any]], int]:
        """Cameras whose folded text (``search_text``) contains ``folded`` (already folded:
        [a-z0-9 ] only, so no LIKE wildcards), in ``province`` when given: up to ``limit``
        rows (id, province, centre, name, location, tags) and how many match in all."""
        where = "WHERE search_folded LIKE ?" + (" AND province = ?" if province else "")
        params: list[Any] = [f"%{folded}%", *([province] if province else [])]
        total = await self._store.fetchone(f"SELECT COUNT(*) AS n FROM registry_cameras {where}",
                                           params)
        rows = await self._store.fetchall(
            "SELECT id, province, centre, name, location, tags FROM registry_cameras "
            f"{where} ORDER BY province, id LIMIT ?", [*params, limit])
        return ([{**r, "tags": json.loads(r["tags"])} for r in rows],
                int(total["n"]) if total else 0)

    async def count(self) -> int:
        row = await self._store.fetchone("SELECT COUNT(*) AS n FROM registry_cameras")
        return int(row["n"]) if row else 0

    async def _last_tests(self, camera_id: str | None = None) -> dict[str, dict[str, Any]]:
        where = "WHERE camera = ?" if camera_id else ""
        rows = await self._store.fetchall(
            "SELECT camera, time, status, result FROM registry_tests WHERE id IN "
            f"(SELECT MAX(id) FROM registry_tests {where} GROUP BY camera)",
            (camera_id,) if camera_id else ())
        return {r["camera"]: {"time": r["time"], "status": r["status"],
                              **json.loads(r["result"]).get("summary", {})} for r in rows}

    # -- cameras: writing -----------------------------------------------------------------
    async def add(self, cam: CameraIn, source: str = "api") -> RegisteredCamera:
        return (await self.add_many([cam], source))[0]

    async def add_many(self, cams: Sequence[CameraIn], source: str) -> list[RegisteredCamera]:
        """All or nothing: one transaction; raises ApiError 409 on a taken id."""
        sealed = [self.box.seal(Credentials(c.username, c.password)) for c in cams]

        def work(conn: sqlite3.Connection) -> list[str]:
            ids = []
            for cam, secret in zip(cams, sealed, strict=True):
                camera_id = cam.id or _next_id(conn, cam.province)
                now = now_iso()
                try:
                    conn.execute(
                        "INSERT INTO registry_cameras(id, province, centre, name, location, onvif,"
                        " rtsp_main, rtsp_sub, transport, allow_basic_auth, secret, tags, source,"
                        " created_at, updated_at, search_folded)"
                        " VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                        (camera_id, cam.province, cam.centre, cam.name, cam.location, cam.onvif,
                         cam.rtsp_main, cam.rtsp_sub, cam.transport.value,
                         int(cam.allow_basic_auth), secret,
                         json.dumps(cam.tags, ensure_ascii=False), source, now, now,
                         search_text(camera_id, cam.province, cam.centre, cam.name,
                                     cam.location, cam.tags)))
                except sqlite3.IntegrityError:
                    raise ApiError(409, "exists", f"camera id '{camera_id}' is taken "
                                   "/ mã camera đã tồn tại", "id") from None
                ids.append(camera_id)
            return ids

        ids = await self._store.transaction(work)
        added = [await self.require(i) for i in ids]
        await self._tell([Change(ChangeKind.ADDED, c.id, c) for c in added])
        return added

    async def update(self, camera_id: str, patch: CameraPatch) -> Updated:
        """Apply ``patch``. Stored credentials never follow a moved address (origin.py):
        when an address moves, the old username and password are dropped, and only the
        credentials sent in ``patch`` (if any) are stored for the new address."""
        before = await self.require(camera_id)
        values = patch.model_dump(exclude_unset=True, exclude={"username", "password"})
        if "transport" in values and values["transport"] is not None:
            values["transport"] = Transport(values["transport"]).value
        if values.get("allow_basic_auth") is not None:
            values["allow_basic_auth"] = int(values["allow_basic_auth"])
        if "tags" in values:
            values["tags"] = json.dumps(values["tags"] or [], ensure_ascii=False)
        values = {k: v for k, v in values.items() if v is not None}
        moved = origin.moved(before, values)
        sent = patch.username is not None or patch.password is not None
        if moved:
            # nothing of the old secret may be combined with a new address (not even the
            # user name: half of what a Digest guess needs)
            values["secret"] = self.box.seal(Credentials(patch.username or "",
                                                         patch.password or ""))
        elif sent:
            old = await self.credentials(camera_id)
            values["secret"] = self.box.seal(Credentials(
                old.username if patch.username is None else patch.username,
                old.password if patch.password is None else patch.password))
        main = values.get("rtsp_main", before.rtsp_main)
        if not main and not values.get("onvif", before.onvif):
            raise ApiError(422, "invalid", "rtsp_main: a camera needs an RTSP URL or an ONVIF "
                           "address / cần địa chỉ RTSP hoặc ONVIF", "rtsp_main")
        if values.get("rtsp_sub", before.rtsp_sub) and not main:
            raise ApiError(422, "invalid", "rtsp_sub needs rtsp_main / cần luồng chính",
                           "rtsp_sub")
        values["updated_at"] = now_iso()
        values["search_folded"] = search_text(
            camera_id, values.get("province", before.province),
            values.get("centre", before.centre), values.get("name", before.name),
            values.get("location", before.location),
            json.loads(values["tags"]) if "tags" in values else before.tags)
        sets = ", ".join(f"{k} = ?" for k in values)
        await self._store.execute(f"UPDATE registry_cameras SET {sets} WHERE id = ?",
                                  [*values.values(), camera_id])
        after = await self.require(camera_id)
        await self._tell([Change(ChangeKind.UPDATED, camera_id, after)])
        # the old password dropped, no new one given (a user name alone keeps no password)
        cleared = tuple(moved) if moved and before.has_credentials and patch.password is None \
            else ()
        if cleared:
            log.info("camera %s: stored credentials cleared, address moved (%s)", camera_id,
                     ", ".join(cleared))
        return Updated(before, after, cleared)

    async def remove(self, camera_id: str) -> RegisteredCamera:
        before = await self.require(camera_id)
        await self._store.execute("DELETE FROM registry_cameras WHERE id = ?", (camera_id,))
        await self._tell([Change(ChangeKind.REMOVED, camera_id, None)])
        return before

    async def record_test(self, camera_id: str, status: str, result: dict[str, Any]) -> str:
        when = now_iso()
        await self._store.execute(
            "INSERT INTO registry_tests(camera, time, status, result) VALUES(?, ?, ?, ?)",
            (camera_id, when, status, json.dumps(result, ensure_ascii=False)))
        return when

    async def rotate_key(self, new_key: bytes) -> int:
        """Re-encrypt every secret under ``new_key`` in one transaction; returns how many."""
        both, new = self.box.rotated(new_key)

        def work(conn: sqlite3.Connection) -> int:
            rows = conn.execute(
                "SELECT id, secret FROM registry_cameras WHERE secret IS NOT NULL").fetchall()
            for row in rows:
                conn.execute("UPDATE registry_cameras SET secret = ? WHERE id = ?",
                             (new.encrypt(both.decrypt(row["secret"])), row["id"]))
            return len(rows)

        return await self._store.transaction(work)


def search_text(camera_id: str, province: str, centre: str, name: str, location: str,
                tags: Sequence[str]) -> str:
    """The folded text a search matches a camera by (column ``search_folded``): id, the
    province's code and name, centre, name, location and tags."""
    unit = provinces.by_code(province)
    return fold(" ".join([camera_id, province, unit.name if unit else "", centre, name,
                          location, *tags]))


def _next_id(conn: sqlite3.Connection, province: str) -> str:
    prefix = province.lower()
    rows = conn.execute("SELECT id FROM registry_cameras WHERE id LIKE ?", (f"{prefix}-%",))
    numbers = [int(m.group(1)) for (i,) in rows
               if (m := re.fullmatch(re.escape(prefix) + r"-(\d+)", i))]
    return f"{prefix}-{max(numbers, default=0) + 1}"


def _camera(row: dict[str, Any], last_test: dict[str, Any] | None) -> RegisteredCamera:
    return RegisteredCamera(
        id=row["id"], province=row["province"], centre=row["centre"], name=row["name"],
        location=row["location"], onvif=row["onvif"], rtsp_main=row["rtsp_main"],
        rtsp_sub=row["rtsp_sub"], transport=Transport(row["transport"]),
        tags=json.loads(row["tags"]), has_credentials=bool(row["has_secret"]),
        source=row["source"], created_at=row["created_at"], updated_at=row["updated_at"],
        allow_basic_auth=bool(row["allow_basic_auth"]), last_test=last_test)
