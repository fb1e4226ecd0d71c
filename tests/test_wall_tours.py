"""Which tours a push starts and stops (wall/walls/tours.py), as the audit records them."""
from __future__ import annotations

from iocwall.layouts import Grid, Layout, Tile, TileKind
from iocwall.wall.walls.tours import tour_audit, tour_changes


def tour(tid: str, cameras: tuple[str, ...], dwell: int = 10, x: int = 0) -> Tile:
    return Tile(tid, TileKind.TOUR, x, 0, 1, 1, cameras=cameras, dwell_s=dwell)


def lay(*tiles: Tile) -> Layout:
    return Layout("l", Grid(4, 1), tiles)


def test_started_stopped_and_changed_tours() -> None:
    cam = Tile("c", TileKind.CAMERA, 3, 0, 1, 1, camera="cam1")
    a, b = tour("a", ("cam1", "cam2")), tour("b", ("cam3",), 5, 1)
    change = tour_changes(None, lay(cam, a))
    assert [t.id for t in change.started] == ["a"] and change.stopped == ()
    assert tour_audit(a) == {"tile": "a", "cameras": ["cam1", "cam2"], "dwell_s": 10}
    # moving a tour (same cameras, same dwell) neither stops nor starts it
    moved = tour("a", ("cam1", "cam2"), x=2)
    assert tour_changes(lay(cam, a), lay(cam, moved, b)).started == (b,)
    assert tour_changes(lay(cam, a), lay(cam, moved)).stopped == ()
    # new cameras or dwell: the old tour stopped, the new one started
    again = tour("a", ("cam2",), 10)
    change = tour_changes(lay(a), lay(again))
    assert (change.started, change.stopped) == ((again,), (a,))
    assert tour_changes(lay(cam, a, b), lay(cam)).stopped == (a, b)
    assert tour_changes(lay(cam), None) == tour_changes(lay(cam), lay(cam))
