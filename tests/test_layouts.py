"""layouts/: parsing, every validation error, presets, diff, and the stream choice rule."""
from __future__ import annotations

import pytest

from iocwall.layouts import (
    Layout,
    LayoutError,
    Preset,
    Size,
    StreamPref,
    TileKind,
    choose_stream,
    diff,
    problems,
    tile_pixels,
    validate,
    validate_preset,
)

CAMS = {"cam-1", "cam-2", "cam-3"}


def cam(tid: str, x: int, y: int, w: int = 1, h: int = 1, camera: str = "cam-1",
        **extra: object) -> dict:
    return {"id": tid, "kind": "camera", "camera": camera, "x": x, "y": y, "w": w, "h": h,
            **extra}


def layout(*tiles: dict, columns: int = 2, rows: int = 2) -> Layout:
    return Layout.from_json({"name": "t", "grid": {"columns": columns, "rows": rows},
                             "tiles": list(tiles)})


def codes(lay: Layout, indicators: set[str] | None = None) -> list[str]:
    return [e.code for e in problems(lay, CAMS, indicators)]


def test_round_trip_of_every_kind() -> None:
    data = {"name": "Sảnh", "version": 0, "grid": {"columns": 4, "rows": 3}, "tiles": [
        cam("a", 0, 0, 2, 2, stream="main", highlight=True),
        {"id": "b", "kind": "tour", "cameras": ["cam-2", "cam-3"], "dwell_s": 5,
         "x": 2, "y": 0, "w": 1, "h": 1, "stream": "sub"},
        {"id": "c", "kind": "indicator", "indicator": "hn.dossiers", "style": "gauge",
         "x": 3, "y": 0, "w": 1, "h": 1},
        {"id": "d", "kind": "queue", "centre": "hn-01", "counters": ["1", "2"],
         "x": 2, "y": 1, "w": 2, "h": 1},
        {"id": "e", "kind": "clock", "x": 0, "y": 2, "w": 1, "h": 1},
        {"id": "f", "kind": "text", "text": "Trung tâm IOC", "x": 1, "y": 2, "w": 1, "h": 1},
        {"id": "g", "kind": "alarms", "x": 2, "y": 2, "w": 2, "h": 1},
        cam("pip", 1, 1, layer=1, camera="cam-3"),
    ]}
    lay = Layout.from_json(data)
    assert [t.kind for t in lay.tiles] == [TileKind.CAMERA, TileKind.TOUR, TileKind.INDICATOR,
                                           TileKind.QUEUE, TileKind.CLOCK, TileKind.TEXT,
                                           TileKind.ALARMS, TileKind.CAMERA]
    assert Layout.from_json(lay.to_json()) == lay
    assert lay.cameras() == CAMS and lay.indicators() == {"hn.dossiers"}
    assert problems(lay, CAMS, {"hn.dossiers"}) == []     # pip overlaps on layer 1 on purpose
    assert lay.tile("a").stream is StreamPref.MAIN and lay.tile("a").highlight


@pytest.mark.parametrize("data, code, field", [
    ([], "bad_type", None),
    ({"name": ""}, "bad_value", "name"),
    ({"name": "x", "grid": {"columns": 0}}, "out_of_range", "grid.columns"),
    ({"name": "x", "grid": {"columns": "4"}}, "bad_type", "grid.columns"),
    ({"name": "x", "tiles": {}}, "bad_type", "tiles"),
    ({"name": "x", "tiles": [cam("a", 0, 0)] * 65}, "too_many_tiles", "tiles"),
    ({"name": "x", "tiles": ["a"]}, "bad_type", "tiles[0]"),
    ({"name": "x", "tiles": [{"id": "a", "kind": "video"}]}, "bad_value", "tiles[0].kind"),
    ({"name": "x", "tiles": [cam("a b", 0, 0)]}, "bad_value", "tiles[0].id"),
    ({"name": "x", "tiles": [cam("a", -1, 0)]}, "out_of_range", "tiles[0].x"),
    ({"name": "x", "tiles": [cam("a", 0, 0, w=0)]}, "out_of_range", "tiles[0].w"),
    ({"name": "x", "tiles": [cam("a", 0, 0, h=True)]}, "bad_type", "tiles[0].h"),
    ({"name": "x", "tiles": [cam("a", 0, 0, stream="hd")]}, "bad_value", "tiles[0].stream"),
    ({"name": "x", "tiles": [{"id": "a", "kind": "camera", "camera": 3}]}, "bad_type",
     "tiles[0].camera"),
    ({"name": "x", "tiles": [{"id": "t", "kind": "tour", "cameras": []}]}, "empty_tour",
     "tiles[0].cameras"),
    ({"name": "x", "tiles": [{"id": "t", "kind": "tour", "cameras": ["c"], "dwell_s": 1}]},
     "out_of_range", "tiles[0].dwell_s"),
    ({"name": "x", "tiles": [{"id": "q", "kind": "queue", "centre": "c", "counters": "1"}]},
     "bad_type", "tiles[0].counters"),
    ({"name": "x", "tiles": [{"id": "t", "kind": "text", "text": "x" * 201}]}, "too_long",
     "tiles[0].text"),
])
def test_parse_errors_name_the_field(data: object, code: str, field: str | None) -> None:
    with pytest.raises(LayoutError) as info:
        Layout.from_json(data)
    assert (info.value.code, info.value.field) == (code, field)


def test_out_of_bounds() -> None:
    assert codes(layout(cam("a", 1, 0, w=2))) == ["out_of_bounds"]
    assert codes(layout(cam("a", 0, 1, h=2))) == ["out_of_bounds"]
    assert codes(layout(cam("a", 0, 0, w=2, h=2))) == []


def test_overlap_refused_unless_on_another_layer() -> None:
    assert codes(layout(cam("a", 0, 0, 2, 1), cam("b", 1, 0))) == ["overlap"]
    assert codes(layout(cam("a", 0, 0, 2, 1), cam("b", 1, 0, layer=1))) == []
    assert codes(layout(cam("a", 0, 0), cam("b", 1, 0), cam("c", 0, 1, 2, 1))) == []


def test_duplicate_tile_ids() -> None:
    assert codes(layout(cam("a", 0, 0), cam("a", 1, 0))) == ["duplicate_tile"]


def test_unknown_camera_and_indicator() -> None:
    errors = problems(layout(cam("a", 0, 0, camera="cam-9")), CAMS)
    assert [(e.code, e.field) for e in errors] == [("unknown_camera", "tiles[0].camera")]
    tour = {"id": "t", "kind": "tour", "cameras": ["cam-1", "gone"], "x": 1, "y": 0}
    assert [(e.code, e.field) for e in problems(layout(tour), CAMS)] == [
        ("unknown_camera", "tiles[0].cameras")]
    ind = {"id": "i", "kind": "indicator", "indicator": "nope", "x": 0, "y": 0}
    assert codes(layout(ind), {"hn.rate"}) == ["unknown_indicator"]
    assert codes(layout(ind), None) == []        # no indicator source yet: not checked
    with pytest.raises(LayoutError) as info:
        validate(layout(cam("a", 0, 0, camera="x")), CAMS)
    assert info.value.code == "unknown_camera"


def test_every_problem_is_listed() -> None:
    lay = layout(cam("a", 0, 0, 2, 1), cam("b", 1, 0, camera="zz"), cam("c", 1, 1, w=2))
    assert sorted(codes(lay)) == ["out_of_bounds", "overlap", "unknown_camera"]


def test_preset_parse_and_validate() -> None:
    data = {"name": "Ca sáng", "monitors": {"1": {"name": "a", "tiles": [cam("a", 0, 0)]},
                                            "2": {"name": "b", "tiles": [cam("b", 0, 0)]}}}
    preset = Preset.from_json(data)
    assert Preset.from_json(preset.to_json()) == preset
    assert validate_preset(preset, {"1", "2"}, CAMS) is preset
    with pytest.raises(LayoutError) as info:
        validate_preset(preset, {"1"}, CAMS)
    assert (info.value.code, info.value.field) == ("unknown_monitor", "monitors.2")
    bad = {"name": "p", "monitors": {"1": {"name": "a", "tiles": [cam("a", 0, 0, camera="q")]}}}
    with pytest.raises(LayoutError) as info:
        validate_preset(Preset.from_json(bad), {"1"}, CAMS)
    assert info.value.field == "monitors.1.tiles[0].camera"
    with pytest.raises(LayoutError) as info:
        Preset.from_json({"name": "p", "monitors": {}})
    assert info.value.code == "empty_preset"
    with pytest.raises(LayoutError) as info:
        Preset.from_json({"name": "p", "monitors": {"1": {"name": "a", "grid": {"rows": 99}}}})
    assert info.value.field == "monitors.1.grid.rows"


def test_diff_names_only_changed_tiles() -> None:
    old = layout(cam("a", 0, 0), cam("b", 1, 0))
    new = layout(cam("a", 0, 0), cam("b", 1, 0, camera="cam-2"), cam("c", 0, 1))
    d = diff(old, new)
    assert (d.added, d.removed, d.changed, d.grid_changed) == (("c",), (), ("b",), False)
    assert diff(new, layout(cam("a", 0, 0))).removed == ("b", "c")
    assert diff(old, old).empty
    assert diff(None, old).grid_changed


SUB, MAIN = Size(640, 360), Size(1920, 1080)


def test_stream_choice_smallest_covering() -> None:
    streams = {"sub": SUB, "main": MAIN}
    assert choose_stream(Size(480, 270), streams) == "sub"
    assert choose_stream(Size(640, 360), streams) == "sub"
    assert choose_stream(Size(641, 300), streams) == "main"       # wider than sub
    assert choose_stream(Size(400, 361), streams) == "main"       # taller than sub
    assert choose_stream(Size(3840, 2160), streams) == "main"     # nothing covers: the largest
    assert choose_stream(Size(100, 100), {"main": MAIN}) == "main"
    assert choose_stream(Size(100, 100), {}) is None


def test_stream_choice_uses_device_pixels_and_preference() -> None:
    streams = {"sub": SUB, "main": MAIN}
    assert choose_stream(tile_pixels(480, 270, 1.0), streams) == "sub"
    assert choose_stream(tile_pixels(480, 270, 2.0), streams) == "main"   # HiDPI
    assert choose_stream(Size(100, 100), streams, StreamPref.MAIN) == "main"
    assert choose_stream(Size(1900, 1000), streams, StreamPref.SUB) == "sub"
    assert choose_stream(Size(100, 100), {"main": MAIN}, StreamPref.SUB) == "main"
