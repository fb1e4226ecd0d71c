"""One search over what a caller may see: ``GET /api/search?q=`` (issue 20).

Every kind is matched on folded text (``wall.text.fold``: lower-case ASCII without
diacritics, so ``ha noi``, ``HÀ NỘI`` and ``Hà Nội`` are one query, ``quay 3`` finds
``Quầy 3``). Cameras and audit entries are matched in SQL on their stored folded column
(written with the row, migration 0010); the short lists (provinces, indicators, walls and
presets) are folded in memory. Each kind answers only to the roles of the API it links
to, and a registrar sees only its own province (``registry.scope.province_of``, the one
scope rule). Results are grouped by kind, each with a link and the kind's total.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from iocwall.wall import provinces
from iocwall.wall.access import ANY_USER, Principal, Role, route
from iocwall.wall.api.audit import READERS as AUDIT_READERS
from iocwall.wall.api.common import caller, services
from iocwall.wall.audit import AuditQuery
from iocwall.wall.errors import ApiError
from iocwall.wall.health.api import ALERT_READERS
from iocwall.wall.indicators.api import LISTERS as INDICATOR_READERS
from iocwall.wall.registry.api import READERS as CAMERA_READERS
from iocwall.wall.registry.scope import province_of
from iocwall.wall.services import Services
from iocwall.wall.text import fold
from iocwall.wall.walls.api import VIEW as WALL_READERS
from iocwall.wall.walls.store import WallStore

MAX_QUERY = 100          # characters of q
PER_KIND = 20            # results shown per kind; ``total`` says how many matched
ALERTS_SCANNED = 2000    # the latest alerts searched (a site raises a few a day, not millions)
SEARCH_AUDIT = frozenset({Role.ADMIN})    # audit entries in the search box: admins only


@dataclass
class Group:
    kind: str
    results: list[dict[str, Any]] = field(default_factory=list)
    total: int = 0
    total_exact: bool = True        # False: at least ``total`` match (the audit's COUNT_CAP)

    def public(self) -> dict[str, Any]:
        return {"kind": self.kind, "total": self.total, "total_exact": self.total_exact,
                "results": self.results}


def _matching(folded: str, items: Iterable[tuple[Iterable[str], dict[str, Any]]],
              kind: str) -> Group:
    """The items (texts to match, result) whose folded texts contain ``folded``."""
    group = Group(kind)
    for texts, result in items:
        if any(folded in fold(t) for t in texts):
            group.total += 1
            if len(group.results) < PER_KIND:
                group.results.append(result)
    return group


async def _cameras(svc: Services, who: Principal, folded: str) -> Group:
    rows, total = await svc.registry.search(folded, province_of(who), PER_KIND)
    return Group("cameras", [{**r, "link": f"/register?camera={r['id']}"} for r in rows], total)


def _provinces(who: Principal, folded: str) -> Group:
    """Today's 34 units, and the 63 earlier ones saying which unit they were merged into."""
    limit = province_of(who)
    items: list[tuple[Iterable[str], dict[str, Any]]] = []
    for unit in provinces.all_units():
        if limit is not None and unit.code != limit:
            continue
        link = f"/register?province={unit.code}"
        items.append(([unit.name, unit.code], {"code": unit.code, "name": unit.name,
                                              "kind": unit.kind, "merged_into": None,
                                              "link": link}))
        for member in unit.members_before_2025:
            if fold(member) != fold(unit.name):
                items.append(([member], {"code": unit.code, "name": member, "kind": "merged",
                                         "merged_into": unit.name, "link": link}))
    return _matching(folded, items, "provinces")


def _indicators(svc: Services, folded: str) -> Group:
    items = [([i.id, i.name_vi, i.name_en],
              {"id": i.id, "name_vi": i.name_vi, "name_en": i.name_en, "unit": i.unit,
               "link": f"/leader?indicator={i.id}"})
             for i in svc.indicators.registry.all()]
    return _matching(folded, items, "indicators")


async def _layouts(svc: Services, folded: str) -> Group:
    """Walls (their layouts) and their saved presets."""
    store = WallStore(svc.store)
    items: list[tuple[Iterable[str], dict[str, Any]]] = []
    for wall in await store.walls():
        items.append(([wall.id, wall.name], {"type": "wall", "wall": wall.id, "name": wall.name,
                                             "link": f"/console?wall={wall.id}"}))
        for preset in await store.presets(wall.id):
            items.append(([preset], {"type": "preset", "wall": wall.id, "name": preset,
                                     "link": f"/console?wall={wall.id}&preset={preset}"}))
    return _matching(folded, items, "layouts")


async def _alerts(svc: Services, who: Principal, folded: str) -> Group:
    """The latest alerts (open or not) of the caller's scope, by rule, subject and texts."""
    if svc.health is None:
        return Group("alerts")
    found = await svc.health.alerts.find(None, province_of(who), ALERTS_SCANNED)
    items = [([a.rule, a.subject, a.title_vi, a.title_en, a.province],
              {"id": a.id, "rule": a.rule, "state": a.state, "subject": a.subject,
               "province": a.province, "title_vi": a.title_vi, "title_en": a.title_en,
               "raised_at": a.raised_at, "link": f"/health?alert={a.id}"})
             for a in found]
    return _matching(folded, items, "alerts")


async def _audit(svc: Services, text: str) -> Group:
    page = await svc.audit.query(AuditQuery(text=text, limit=PER_KIND))
    return Group("audit", [{**e.public(), "link": f"/audit?before_id={e.id + 1}"}
                           for e in page.entries], page.total, page.total_exact)


async def search(svc: Services, who: Principal, text: str) -> list[Group]:
    """The groups ``who`` may see, for ``text`` (not yet folded)."""
    folded = fold(text)
    if not folded:
        return []
    groups: list[Group] = []
    if who.role in CAMERA_READERS:
        groups.append(await _cameras(svc, who, folded))
    groups.append(_provinces(who, folded))
    if who.role in INDICATOR_READERS:
        groups.append(_indicators(svc, folded))
    if who.role in WALL_READERS:
        groups.append(await _layouts(svc, folded))
    if who.role in ALERT_READERS:
        groups.append(await _alerts(svc, who, folded))
    if who.role in SEARCH_AUDIT and who.role in AUDIT_READERS:
        groups.append(await _audit(svc, text))
    return groups


async def search_endpoint(request: Request) -> Response:
    text = request.query_params.get("q", "")
    if not text.strip():
        raise ApiError(422, "invalid", "q: type something to search for / hãy nhập từ khoá", "q")
    if len(text) > MAX_QUERY:
        raise ApiError(422, "invalid", f"q: at most {MAX_QUERY} characters "
                       f"/ tối đa {MAX_QUERY} ký tự", "q")
    groups = await search(services(request), caller(request), text)
    return JSONResponse({"q": text, "folded": fold(text),
                         "groups": [g.public() for g in groups]})


def routes() -> list[Route]:
    return [route("/api/search", search_endpoint, roles=ANY_USER, methods=["GET"])]
