"""Who may see which province: a registrar only its own (Principal.unit), everyone else all.

Reading another province's camera answers 404, as if it did not exist (its id tells a
registrar nothing); writing into another province answers 403.
"""
from __future__ import annotations

from iocwall.wall.access import Principal, Role
from iocwall.wall.errors import ApiError
from iocwall.wall.registry.model import RegisteredCamera
from iocwall.wall.registry.store import Registry


def province_of(who: Principal) -> str | None:
    """The one province ``who`` is limited to, or None for all."""
    return who.unit if who.role is Role.REGISTRAR else None


def may_write(who: Principal, province: str) -> None:
    limit = province_of(who)
    if limit is not None and province != limit:
        raise ApiError(403, "forbidden", f"a registrar of {limit} cannot change {province} "
                       "/ cán bộ tỉnh chỉ sửa được tỉnh của mình", "province")


def may_read_province(who: Principal, province: str) -> None:
    limit = province_of(who)
    if limit is not None and province != limit:
        raise ApiError(404, "not_found", "no such province profile / không tìm thấy")


async def visible_camera(registry: Registry, who: Principal, camera_id: str
                         ) -> RegisteredCamera | None:
    """The registered camera if ``who`` may see it; raises 404 otherwise (registrars only:
    other roles also see cameras that exist only in the media server)."""
    cam = await registry.get(camera_id)
    limit = province_of(who)
    if limit is not None and (cam is None or cam.province != limit):
        raise ApiError(404, "not_found", "no such camera / không có camera này")
    return cam
