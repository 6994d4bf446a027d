"""The energy meter on its own: what it books, and when it books nothing."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bridge.core.clock import VirtualClock
from bridge.learning import Measurement
from bridge.learning.screening import HeatSource
from bridge.opentherm.sim.boiler_spec import efficiency
from bridge.services.energy import MAX_GAP_S, EnergyMeter
from bridge.storage import Database

BOILER = HeatSource.from_opentherm(24.0, 20.0)  # 4.8 to 24 kW


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = await Database.open(tmp_path / "t.db", VirtualClock())
    yield database
    await database.close()


def _m(ts: float, *, mod: float | None = 50.0, dhw: bool = False, **kw: object) -> Measurement:
    values: dict[str, object] = {
        "ts": ts,
        "room_c": 20.0,
        "flame_on": True,
        "modulation_pct": mod,
        "dhw_active": dhw,
        "return_c": 40.0,
        **kw,
    }
    return Measurement(**values)  # type: ignore[arg-type]


async def test_heating_and_hot_water_are_booked_apart(db: Database) -> None:
    meter = EnergyMeter()
    await meter.load(db.energy)
    assert meter.view() is None
    assert await meter.observe(db.energy, _m(0.0), BOILER)  # the counters start at zero
    assert meter.view() == dict.fromkeys(
        ("ch_heat_kwh", "ch_gas_kwh", "dhw_heat_kwh", "dhw_gas_kwh"), 0.0
    )
    # 14.4 kW (half way from 4.8 to 24) for five minutes of heating, then hot water at full power
    assert await meter.observe(db.energy, _m(300.0, mod=100.0, dhw=True), BOILER)
    assert await meter.observe(db.energy, _m(360.0, dhw=False), BOILER)
    totals = await db.energy.totals()
    assert totals["ch_heat"] == pytest.approx(1.2)
    assert totals["ch_gas"] == pytest.approx(1.2 / efficiency(40.0))
    assert totals["dhw_heat"] == pytest.approx(24.0 / 60)
    assert totals["dhw_gas"] == pytest.approx(24.0 / 60 / efficiency(40.0))


async def test_no_counters_for_a_relay_or_an_unknown_boiler(db: Database) -> None:
    meter = EnergyMeter()
    await meter.load(db.energy)
    relay = Measurement(ts=0.0, room_c=20.0, relay_on=True)
    assert not await meter.observe(db.energy, relay, HeatSource(relay_nominal_w=None))
    assert not await meter.observe(db.energy, _m(60.0), None)  # no capacity reported (ID 15)
    assert not await meter.observe(db.energy, _m(120.0), HeatSource())  # size only assumed
    assert meter.view() is None
    assert await db.energy.totals() == {}


async def test_a_gap_is_not_guessed_and_a_restart_continues(db: Database) -> None:
    meter = EnergyMeter()
    await meter.load(db.energy)
    await meter.observe(db.energy, _m(0.0), BOILER)
    await meter.observe(db.energy, _m(60.0), BOILER)
    booked = await db.energy.totals()
    # the bridge was down (or the link stalled) for longer than a few samples
    assert not await meter.observe(db.energy, _m(60.0 + MAX_GAP_S + 1), BOILER)
    assert await db.energy.totals() == booked
    again = EnergyMeter()  # a restart: from the stored totals, no stretch across it
    await again.load(db.energy)
    assert again.view() is not None
    assert not await again.observe(db.energy, _m(10_000.0), BOILER)
    assert await again.observe(db.energy, _m(10_060.0), BOILER)
    after = await db.energy.totals()
    assert after["ch_heat"] == pytest.approx(booked["ch_heat"] + 14.4 / 60)
    assert all(after[name] >= booked[name] for name in booked)
