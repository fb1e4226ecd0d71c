"""The alert book on a real store: hold-downs before raising and resolving (no flapping), one
open alert per rule and subject, "cannot tell" changes nothing, a restart adopts open alerts;
and the [alerts] section's validation."""
from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from iocwall.wall.config import ConfigError, load
from iocwall.wall.health.alerts import AlertBook
from iocwall.wall.health.rules import Condition, Severity
from iocwall.wall.store import Store


def lost(active: bool | None, subject: str = "cam1", hold: float = 10.0) -> Condition:
    return Condition("camera_lost", subject, active, hold, Severity.WARNING, "HA-NOI",
                     "Mất tín hiệu", "Lost", "", "")


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    s = Store(tmp_path / "x.sqlite3")
    await s.open()
    try:
        yield s
    finally:
        await s.close()


async def rows(store: Store) -> list[dict]:
    return await store.fetchall("SELECT * FROM health_alerts ORDER BY id")


async def test_raise_only_after_the_hold_and_once(store: Store) -> None:
    book = AlertBook(store, resolve_hold_s=5.0)
    assert await book.step([lost(True)], now=0.0) == []
    assert await book.step([lost(True)], now=9.9) == []          # inside the hold-down
    raised = await book.step([lost(True)], now=10.0)
    assert [(a.rule, a.subject, a.state) for a in raised] == [("camera_lost", "cam1", "raised")]
    assert raised[0].raised_at.endswith("+07:00")
    for t in (11.0, 12.0, 30.0):                                  # still lost: no duplicate
        assert await book.step([lost(True)], now=t) == []
    assert len(await rows(store)) == 1


async def test_a_blip_inside_the_hold_down_never_raises(store: Store) -> None:
    book = AlertBook(store, resolve_hold_s=5.0)
    for t in range(0, 60, 2):                 # down 8 s, up 2 s, over and over: under 10 s
        await book.step([lost(t % 10 != 8)], now=float(t))
    assert await rows(store) == []


async def test_resolve_after_the_hold_and_a_return_inside_it_keeps_one_alert(store: Store) -> None:
    book = AlertBook(store, resolve_hold_s=5.0)
    await book.step([lost(True)], now=0.0)
    [alert] = await book.step([lost(True)], now=10.0)
    assert await book.step([lost(False)], now=11.0) == []       # back, but not for long
    assert await book.step([lost(True)], now=13.0) == []        # down again: same alert
    assert await book.step([lost(False)], now=14.0) == []
    assert await book.step([lost(False)], now=18.9) == []
    [resolved] = await book.step([lost(False)], now=19.0)
    assert (resolved.id, resolved.state) == (alert.id, "resolved")
    assert resolved.resolved_at is not None
    # a new outage is a new alert, after its own hold-down
    await book.step([lost(True)], now=20.0)
    [again] = await book.step([lost(True)], now=30.0)
    assert again.id != alert.id and len(await rows(store)) == 2


async def test_unknown_changes_nothing_and_a_vanished_subject_resolves(store: Store) -> None:
    book = AlertBook(store, resolve_hold_s=5.0)
    await book.step([lost(True)], now=0.0)
    await book.step([lost(True)], now=10.0)
    assert await book.step([lost(None)], now=100.0) == []       # nobody pulls it: keep
    assert (await rows(store))[0]["state"] == "raised"
    assert await book.step([], now=101.0) == []                 # removed: clears after hold
    [gone] = await book.step([], now=106.0)
    assert gone.state == "resolved"


async def test_open_alerts_survive_a_restart_and_acknowledge(store: Store) -> None:
    book = AlertBook(store, resolve_hold_s=0.0)
    await book.step([lost(True, hold=0.0)], now=0.0)
    again = AlertBook(store, resolve_hold_s=0.0)                # the next run of the server
    await again.load()
    assert await again.step([lost(True, hold=0.0)], now=50.0) == []   # adopted, not repeated
    [alert] = again.open_alerts()
    acked = await again.acknowledge(alert.id, "op1")
    assert (acked.state, acked.acknowledged_by) == ("acknowledged", "op1")
    [resolved] = await again.step([lost(False, hold=0.0)], now=51.0)
    assert resolved.state == "resolved" and resolved.acknowledged_by == "op1"
    assert len(await rows(store)) == 1


def test_alerts_section_is_validated(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text('[alerts]\ncamera_lost_s = 60\ndisabled = ["camera_lots"]\n')
    with pytest.raises(ConfigError) as err:
        load(path, env={})
    text = str(err.value)
    assert "alerts.disabled" in text and "camera_lots" in text and "camera_lost" in text
    path.write_text("[alerts]\nresolve_hold_s = -1\n")
    with pytest.raises(ConfigError, match="alerts.resolve_hold_s"):
        load(path, env={})
    path.write_text("[alerts]\ncamera_lost_s = 90\n")
    assert load(path, env={}).alerts.camera_lost_s == 90


async def test_the_store_down_alert_is_told_even_though_it_cannot_be_stored(
        store: Store) -> None:
    book = AlertBook(store, resolve_hold_s=0.0)
    down = Condition("store_down", "store", True, 0.0, Severity.CRITICAL, "", "CSDL", "Store")
    await store.close()                       # the store really is unreachable now
    [told] = await book.step([down, lost(True, hold=0.0)], now=0.0)
    assert (told.id, told.rule, told.state) == (0, "store_down", "raised")
    assert await book.step([down, lost(True, hold=0.0)], now=1.0) == []    # told once
    await store.open()                        # back: the camera's alert is written now
    cleared = Condition("store_down", "store", False, 0.0, Severity.CRITICAL, "", "", "")
    changed = await book.step([cleared, lost(True, hold=0.0)], now=2.0)
    assert sorted((a.rule, a.state) for a in changed) == [("camera_lost", "raised"),
                                                           ("store_down", "resolved")]
    assert [r["rule"] for r in await rows(store)] == ["camera_lost"]


async def test_two_controllers_keep_one_alert_and_tell_it_once(store: Store) -> None:
    a, b = AlertBook(store, resolve_hold_s=0.0), AlertBook(store, resolve_hold_s=0.0)
    told = [*await a.step([lost(True, hold=0.0)], now=0.0),
            *await b.step([lost(True, hold=0.0)], now=0.0)]
    assert [x.state for x in told] == ["raised"] and len(await rows(store)) == 1
    told = [*await a.step([lost(False, hold=0.0)], now=1.0),
            *await b.step([lost(False, hold=0.0)], now=1.0)]
    assert [x.state for x in told] == ["resolved"]
