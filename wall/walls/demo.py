"""The demo wall of ``iocwall demo``: wall ``demo``, monitors 1 and 2, a camera layout each."""
from __future__ import annotations

from iocwall.layouts import Grid, Layout, Tile, TileKind
from iocwall.wall.walls.store import WallStore

DEMO_WALL = "demo"


def demo_layouts(cameras: list[str]) -> dict[str, Layout]:
    """Monitor 1: a 2x2 grid of the first cameras; monitor 2: one large camera, a clock and
    an indicator placeholder beside the next cameras."""
    def cam(i: int) -> str:
        return cameras[i % len(cameras)]
    one = tuple(Tile(f"c{i}", TileKind.CAMERA, i % 2, i // 2, 1, 1, camera=cam(i))
                for i in range(4))
    two = (Tile("big", TileKind.CAMERA, 0, 0, 2, 2, camera=cam(4)),
           Tile("s1", TileKind.CAMERA, 2, 0, 1, 1, camera=cam(5)),
           Tile("clock", TileKind.CLOCK, 2, 1, 1, 1))
    return {"1": Layout("Demo 1", Grid(2, 2), one), "2": Layout("Demo 2", Grid(3, 2), two)}


async def ensure_demo_wall(walls: WallStore, cameras: list[str]) -> bool:
    """Create the demo wall once (a later start keeps what the operator changed)."""
    if not cameras or await walls.find_wall(DEMO_WALL) is not None:
        return False
    await walls.create_wall(DEMO_WALL, "Demo", 2, 1, ["1", "2"])
    for monitor, layout in demo_layouts(sorted(cameras)).items():
        await walls.save_layout(DEMO_WALL, monitor, layout, "demo")
    return True
