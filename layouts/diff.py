"""What changed between two layouts, tile by tile, so a display restarts only those tiles."""
from __future__ import annotations

from dataclasses import dataclass

from iocwall.layouts.model import Layout


@dataclass(frozen=True)
class LayoutDiff:
    added: tuple[str, ...]
    removed: tuple[str, ...]
    changed: tuple[str, ...]     # same id, different content (moved, resized, other camera)
    grid_changed: bool

    @property
    def empty(self) -> bool:
        return not (self.added or self.removed or self.changed or self.grid_changed)


def diff(old: Layout | None, new: Layout) -> LayoutDiff:
    before = {t.id: t for t in (old.tiles if old else ())}
    after = {t.id: t for t in new.tiles}
    return LayoutDiff(
        added=tuple(i for i in after if i not in before),
        removed=tuple(i for i in before if i not in after),
        changed=tuple(i for i in after if i in before and before[i] != after[i]),
        grid_changed=old is None or old.grid != new.grid,
    )
