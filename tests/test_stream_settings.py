"""Every documented [streams] and [webrtc] key of config.toml reaches the process that uses it.

config.toml's keys are set, each to a value that is not its default, in a real config
file; it is loaded as the server loads it, turned into StreamSettings in the one place
that does it, and a real media process is started with them: what arrives in the
process must be every value written, and the web process's own settings (admission
limits, heartbeat timeout, memory cap) must be the ones written too.
"""
from __future__ import annotations

import asyncio
import dataclasses
import tomllib
from pathlib import Path
from typing import Any

import pytest

from iocwall.streams import ice
from iocwall.streams.cluster import MediaCluster
from iocwall.streams.server import MediaServer
from iocwall.streams.settings import DEFAULTS, ReplaySettings, StreamSettings
from iocwall.streams.source import Ingest
from iocwall.wall.config import ReplayConfig, StreamsConfig, WebRTCConfig, load

ROOT = Path(__file__).resolve().parents[1]
SECTIONS = ("streams", "webrtc")
REPLAY_WEB_ONLY = {"export_roles", "pre_alarm_seconds"}   # [replay] keys the web side reads


def documented() -> dict[str, dict[str, Any]]:
    """The [streams] and [webrtc] keys config.toml documents, with their shipped values."""
    shipped = tomllib.loads((ROOT / "config.toml").read_text(encoding="utf-8"))
    return {section: shipped[section] for section in SECTIONS}


def documented_replay() -> dict[str, Any]:
    """[replay]'s media keys (StreamSettings.replay) as config.toml ships them."""
    shipped = tomllib.loads((ROOT / "config.toml").read_text(encoding="utf-8"))["replay"]
    return {k: v for k, v in shipped.items() if k not in REPLAY_WEB_ONLY}


def other_than(name: str, default: object) -> object:
    """A valid value for ``name`` that is not its default."""
    special: dict[str, object] = {"ingest": "pyav" if default == "rtp" else "rtp",
                                  "cameras": "all",
                                  "ice_addresses": ["127.0.0.1"],
                                  "udp_port_min": 41000, "udp_port_max": 41050}
    if name in special:
        return special[name]
    if isinstance(default, bool):
        return not default
    if isinstance(default, int):
        return default + 3
    if isinstance(default, float):
        return default + 1.5
    raise AssertionError(f"no test value for {name} = {default!r}: add one here")


def written_toml(values: dict[str, dict[str, object]]) -> str:
    lines = []
    for section, keys in values.items():
        lines.append(f"[{section}]")
        for key, value in keys.items():
            shown = f'"{value}"' if isinstance(value, str) else \
                ("[" + ", ".join(f'"{v}"' for v in value) + "]" if isinstance(value, list)
                 else repr(value).lower() if isinstance(value, bool) else repr(value))
            lines.append(f"{key} = {shown}")
    return "\n".join(lines) + "\n"


def expected(values: dict[str, dict[str, object]]) -> StreamSettings:
    flat = {k: v for section, keys in values.items() if section != "replay"
            for k, v in keys.items()}
    flat["ice_addresses"] = tuple(flat["ice_addresses"])  # type: ignore[arg-type]
    return StreamSettings(**flat, replay=ReplaySettings(**values["replay"]))  # type: ignore[arg-type]


def test_config_toml_the_pydantic_sections_and_the_settings_model_name_the_same_keys() -> None:
    docs = documented()
    fields = {f.name for f in dataclasses.fields(StreamSettings)}
    assert set(docs["streams"]) == set(StreamsConfig.model_fields), \
        "config.toml's [streams] and StreamsConfig differ"
    assert set(docs["webrtc"]) == set(WebRTCConfig.model_fields), \
        "config.toml's [webrtc] and WebRTCConfig differ"
    assert set(docs["streams"]) | set(docs["webrtc"]) | {"replay"} == fields, \
        "a documented key has no StreamSettings field (or the other way round)"
    replay = documented_replay()
    assert set(replay) | REPLAY_WEB_ONLY == set(ReplayConfig.model_fields)
    assert set(replay) == {f.name for f in dataclasses.fields(ReplaySettings)}


def test_defaults_live_in_streams_settings_only() -> None:
    """The pydantic sections take their defaults from StreamSettings, and config.toml
    ships those same values (the earlier code had node_memory_mb 1024 here, 0 there)."""
    docs = documented()
    defaults = dataclasses.asdict(DEFAULTS)
    made = {**StreamsConfig().model_dump(), **WebRTCConfig().model_dump()}
    for section in SECTIONS:
        for key, value in docs[section].items():
            want = list(defaults[key]) if isinstance(defaults[key], tuple) else defaults[key]
            assert made[key] == want, f"[{section}] {key}: pydantic default {made[key]!r}"
            assert value == want, f"config.toml ships [{section}] {key} = {value!r}, " \
                f"the default is {want!r}"
    replay_defaults = dataclasses.asdict(DEFAULTS.replay)
    for key, value in documented_replay().items():
        assert ReplayConfig().model_dump()[key] == replay_defaults[key] == value, key


@pytest.mark.timeout(120)
async def test_every_documented_key_reaches_the_media_process(tmp_path: Path) -> None:
    values = {section: {k: other_than(k, v) for k, v in keys.items()}
              for section, keys in documented().items()}
    values["replay"] = {k: other_than(k, v) for k, v in documented_replay().items()}
    path = tmp_path / "config.toml"
    path.write_text(written_toml(values), encoding="utf-8")
    settings = load(path, env={}).stream_settings()
    want = expected(values)
    for field in dataclasses.fields(StreamSettings):
        assert getattr(settings, field.name) != getattr(DEFAULTS, field.name), field.name
    assert settings == want

    # in the web process: what MediaServer builds from them
    media = MediaServer(settings)
    assert media.settings == want
    assert (media._pull.open_timeout_s, media._pull.read_timeout_s,   # noqa: SLF001
            media._pull.reconnect_min_s, media._pull.reconnect_max_s,  # noqa: SLF001
            media._pull.ingest) == (want.open_timeout_s, want.lost_timeout_s,  # noqa: SLF001
                                    want.reconnect_min_s, want.reconnect_max_s,
                                    Ingest(want.ingest))
    assert (media._stall_s, media._linger_s) == (want.stall_timeout_s, want.linger_s)  # noqa: SLF001
    assert media._ice == ice.IceSettings(want.ice_addresses, want.udp_port_min,  # noqa: SLF001
                                         want.udp_port_max)
    assert (media.limits.per_server, media.limits.per_user, media.limits.per_camera,
            media.limits.retry_after_s) == (want.max_sessions, want.max_sessions_per_user,
                                            want.max_sessions_per_camera, want.retry_after_s)

    # in a real media process: the same values, bar the admission limits, which the
    # web process counts across processes (each process admits all)
    cluster = MediaCluster(settings, [], 1)
    assert cluster.limits == media.limits
    assert cluster.node_table.timeout_s == want.node_timeout_s
    assert cluster.watchdog.memory_limit_bytes == want.node_memory_mb << 20
    await cluster.start()
    try:
        arrived = await asyncio.wait_for(cluster.node_settings("media-0"), 30)
    finally:
        await cluster.stop()
    assert arrived == dataclasses.replace(want, max_sessions=0, max_sessions_per_user=0,
                                          max_sessions_per_camera=0)
