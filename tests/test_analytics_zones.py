"""Queue zone geometry: validation messages and who counts as inside."""
from __future__ import annotations

import pytest

from iocwall.analytics.zones import Zone, ZoneError, count_in, feet
from iocwall.wall.config import ConfigError, load


def test_rectangle_inside_outside_and_edges() -> None:
    z = Zone.rect("c1", 100, 200, 50, 100)
    assert z.contains(120, 250)
    assert not z.contains(99, 250) and not z.contains(151, 250)
    assert z.contains(100, 200) and z.contains(150, 300)      # corners and edges count
    assert z.contains(125, 300)


def test_concave_polygon_notch_is_outside() -> None:
    # a U shape: the notch between the arms is not in the zone
    u = Zone.build("u", [(0, 0), (30, 0), (30, 100), (70, 100), (70, 0), (100, 0),
                         (100, 130), (0, 130)])
    assert u.contains(15, 50) and u.contains(85, 50)
    assert not u.contains(50, 50)
    assert u.contains(50, 120)


def test_feet_decide_not_the_box() -> None:
    z = Zone.rect("q", 0, 100, 100, 100)
    standing_in = (40.0, 20.0, 60.0, 150.0)     # head far above the zone, feet inside
    head_only = (40.0, 120.0, 60.0, 260.0)      # box overlaps the zone, feet below it
    assert feet(standing_in) == (50.0, 150.0)
    assert count_in(z, [standing_in, head_only]) == 1


@pytest.mark.parametrize("points, reason", [
    ([(0, 0), (10, 0)], "needs 3 to"),
    ([(0, 0), (10, 0), (20, 0)], "no area"),
    ([(0, 0), (20, 20), (20, 0), (0, 10)], "edges cross"),
    ([(0, 0), (10, 0), (10, 0), (0, 10)], "repeated"),
    ([(0, 0), (10, "x"), (0, 10)], "numbers"),
    ([(0, 0), (10, float("nan")), (0, 10)], "finite"),
    ([(i, i * i) for i in range(70)], "needs 3 to 64"),
])
def test_bad_polygons_are_refused_with_a_reason(points: list, reason: str) -> None:
    with pytest.raises(ZoneError, match=reason):
        Zone.build("c9", points)


def test_scaled_zone_follows_the_stream_size() -> None:
    main = Zone.rect("c1", 600, 600, 300, 300)
    sub = main.scaled(1 / 3, 1 / 3)
    assert sub.contains(250, 250) and not sub.contains(310, 250)


def test_config_refuses_a_crossing_polygon_naming_the_key(tmp_path) -> None:  # type: ignore[no-untyped-def]
    cfg = tmp_path / "config.toml"
    cfg.write_text('[[analytics.zones]]\ncamera = "cam1"\nid = "c1"\n'
                   "polygon = [[0, 0], [20, 20], [20, 0], [0, 10]]\n")
    with pytest.raises(ConfigError) as err:
        load(cfg, env={})
    text = str(err.value)
    assert "analytics.zones.0.polygon" in text and "edges cross" in text
