"""Who may see which province: a registrar only its own (Principal.unit), everyone else all.

Reading another province's camera answers 404, as if it did not exist (its id tells a
registrar nothing); writing into another province answers 403. Camera ids that start with a
province's code ("ha-noi-3") belong to that province, and a registrar may choose only such
ids: so a "taken" answer can only be about a camera of the registrar's own province
(issue 17: a 409 about another province's id told that the id existed there).
"""
from __future__ import annotations

from iocwall.wall import provinces
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


def id_prefix(province: str) -> str:
    """The prefix of the ids of ``province``'s cameras: generated ones ('ha-noi-3') too."""
    return province.lower() + "-"


def id_problem(who: Principal, province: str, camera_id: str | None) -> str | None:
    """Why ``who`` may not give a camera of ``province`` the id ``camera_id`` (None: may).
    Never depends on which ids exist, so it tells nothing about other provinces."""
    if not camera_id:
        return None
    own = id_prefix(province)
    other = next((p for p in provinces.all_units() if p.code != province
                  and camera_id.startswith(id_prefix(p.code))), None)
    if other is not None:
        return (f"ids starting with '{id_prefix(other.code)}' belong to {other.name}'s cameras;"
                f" use '{own}...' / mã camera này thuộc tỉnh khác, hãy dùng '{own}...'")
    limit = province_of(who)
    if limit is not None and not camera_id.startswith(mine := id_prefix(limit)):
        return (f"a registrar's camera ids start with '{mine}', e.g. '{mine}quay-1' (or leave "
                f"the id empty) / mã camera của tỉnh bắt đầu bằng '{mine}'")
    return None


def may_ask_if_taken(who: Principal, province: str, camera_id: str | None) -> bool:
    """Whether telling ``who`` that ``camera_id`` is taken tells nothing about a province
    ``who`` may not see."""
    limit = province_of(who)
    return bool(camera_id) and id_problem(who, province, camera_id) is None and \
        (limit is None or province == limit)


def may_choose_id(who: Principal, province: str, camera_id: str | None) -> None:
    problem = id_problem(who, province, camera_id)
    if problem is not None:
        raise ApiError(422, "invalid", f"id: {problem}", "id")
