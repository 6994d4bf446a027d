"""The owner's options: heating system, maximum flow and hot water reach the boiler."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bridge.core import options as opts
from bridge.core.clock import VirtualClock
from bridge.core.validation import ValidationError
from bridge.daemon import Bridge
from bridge.opentherm.links.sim import SimLink
from bridge.opentherm.sim.boiler import Boiler
from bridge.storage import OPTIONS

from .native_helpers import call, fields_of, make_token, virtual_bridge

DEFAULTS = {
    "preheat": True,
    "heating_system": "radiators",
    "max_ch_setpoint": None,
    "dhw_enable": True,
    "dhw_setpoint": None,
    "unit_brightness": None,
    "unit_status_led": None,
    "unit_display": None,
    "unit_calibration": None,
    "unit_language": None,
    "unit_poll_throttle": None,
    "unit_pid_tuning": False,
}


def sim_boiler(b: Bridge) -> Boiler:
    assert isinstance(b.link, SimLink)
    return b.link.world.boiler


async def until(clock: VirtualClock, done: Callable[[], bool], seconds: int = 300) -> None:
    """Advance the clock a second at a time until ``done()`` (at most ``seconds``)."""
    for _ in range(seconds):
        if done():
            return
        await clock.advance(1)
    assert done()


async def test_options_reach_the_boiler_and_survive_a_restart(tmp_path: Path) -> None:
    async with virtual_bridge(tmp_path) as (b, clock):
        boiler = sim_boiler(b)
        token = await make_token(b)
        # the boiler's capabilities (IDs 3, 48, 49) are read at start
        await until(clock, lambda: b.thermostat.boiler_limits().dhw_bounds is not None)
        async with aiohttp.ClientSession() as http:
            assert await call(http, b, "GET", "/api/v1/options", token) == (200, DEFAULTS)
            change = {"max_ch_setpoint": 60, "dhw_enable": False, "dhw_setpoint": 52.5}
            status, body = await call(http, b, "PUT", "/api/v1/options", token, json=change)
        assert status == 200, body
        assert body == {**DEFAULTS, **change}
        assert await b.db.settings.get(OPTIONS) == body
        # ID 0 master status loses DHW enable; IDs 56 and 57 are written
        await until(
            clock,
            lambda: (
                not boiler.dhw_enable
                and boiler.dhw_setpoint_c == 52.5
                and boiler.max_ch_setpoint_c == 60.0
            ),
        )
        command = b.thermostat.last_command
        assert command is not None
        assert command.dhw_enable is False
        assert command.dhw_setpoint == 52.5
        assert command.max_ch_setpoint == 60.0
        assert command.control_setpoint <= 60.0
        # back to the heating system's default and the boiler's own hot water
        async with aiohttp.ClientSession() as http:
            status, body = await call(
                http,
                b,
                "PUT",
                "/api/v1/options",
                token,
                json={"max_ch_setpoint": None, "dhw_enable": True},
            )
        assert status == 200, body
        await until(clock, lambda: boiler.dhw_enable and boiler.max_ch_setpoint_c == 75.0)
        assert boiler.dhw_setpoint_c == 52.5  # left as it was
    async with virtual_bridge(tmp_path) as (b2, _):
        assert b2.thermostat.options() == {**DEFAULTS, "dhw_setpoint": 52.5}


async def test_underfloor_heating_changes_the_curve_and_the_emitter_model(
    vb: tuple[Bridge, VirtualClock],
) -> None:
    b, clock = vb
    boiler = sim_boiler(b)
    token = await make_token(b)
    assert b.thermostat.control.base_config.max_ch_setpoint == 75.0
    assert b.thermostat.learning.emitter_exponent == 1.3
    async with aiohttp.ClientSession() as http:
        status, body = await call(
            http, b, "PUT", "/api/v1/options", token, json={"heating_system": "underfloor"}
        )
    assert status == 200, body
    assert body["heating_system"] == "underfloor"
    base = b.thermostat.control.base_config
    assert base.max_ch_setpoint == 45.0
    assert base.curve.design_flow == 35.0
    assert b.thermostat.learning.emitter_exponent == 1.1
    await until(clock, lambda: boiler.max_ch_setpoint_c == 45.0)
    for _ in range(30):
        await clock.advance(60)
        command = b.thermostat.last_command
        assert command is not None
        assert command.control_setpoint <= 45.0
    # the owner's maximum goes over the heating system's default
    async with aiohttp.ClientSession() as http:
        status, body = await call(
            http, b, "PUT", "/api/v1/options", token, json={"max_ch_setpoint": 40}
        )
    assert status == 200, body
    assert b.thermostat.control.base_config.max_ch_setpoint == 40.0
    assert b.thermostat.control.base_config.min_flow == 22.0


BAD: list[tuple[Any, set[str]]] = [
    ({}, {"(body)"}),
    ([True], {"(body)"}),
    ({"preheat": "yes"}, {"preheat"}),
    ({"preheat": True, "other": 1}, {"other"}),
    ({"heating_system": "floor"}, {"heating_system"}),
    ({"heating_system": None}, {"heating_system"}),
    ({"dhw_enable": 1}, {"dhw_enable"}),
    ({"max_ch_setpoint": "60"}, {"max_ch_setpoint"}),
    ({"max_ch_setpoint": True}, {"max_ch_setpoint"}),
    ({"max_ch_setpoint": 19.5}, {"max_ch_setpoint"}),  # below what any boiler takes
    ({"max_ch_setpoint": 86}, {"max_ch_setpoint"}),  # above this boiler's 85
    ({"dhw_setpoint": 39}, {"dhw_setpoint"}),  # below this boiler's 40
    ({"dhw_setpoint": 66}, {"dhw_setpoint"}),
    # one bad field spoils the whole change
    ({"preheat": False, "dhw_setpoint": 70}, {"dhw_setpoint"}),
    ({"max_ch_setpoint": 10, "dhw_setpoint": 10}, {"max_ch_setpoint", "dhw_setpoint"}),
]


async def test_bad_options_change_nothing(vb: tuple[Bridge, VirtualClock]) -> None:
    b, clock = vb
    token = await make_token(b)
    await until(clock, lambda: b.thermostat.boiler_limits().max_ch_bounds is not None)
    async with aiohttp.ClientSession() as http:
        status, _ = await call(http, b, "PUT", "/api/v1/options", token, json={"preheat": False})
        assert status == 200
        stored = await b.db.settings.get(OPTIONS)
        for bad, fields in BAD:
            status, body = await call(http, b, "PUT", "/api/v1/options", token, json=bad)
            assert status == 400, bad
            assert body["error"] == "invalid"
            assert fields_of(body) == fields, (bad, body)
        # the rule names the bounds the boiler gave
        _, body = await call(http, b, "PUT", "/api/v1/options", token, json={"max_ch_setpoint": 86})
        assert body["errors"][0]["rule"] == "must be from 25 to 85 °C (the boiler's bounds)"
    assert await b.db.settings.get(OPTIONS) == stored
    assert b.thermostat.options() == {**DEFAULTS, "preheat": False}
    assert b.thermostat.control.base_config.max_ch_setpoint == 75.0


def test_boiler_options_are_refused_for_a_relay_and_hot_water_without_it() -> None:
    relay = opts.BoilerLimits(opentherm=False)
    with pytest.raises(ValidationError) as err:
        opts.check({"preheat": False, "dhw_enable": True, "max_ch_setpoint": 60}, relay)
    assert {e["field"] for e in err.value.errors} == {"dhw_enable", "max_ch_setpoint"}
    assert "relay" in str(err.value)
    assert opts.check({"heating_system": "underfloor"}, relay) == {"heating_system": "underfloor"}
    no_dhw = opts.BoilerLimits(opentherm=True, dhw_present=False)
    with pytest.raises(ValidationError, match="no domestic hot water"):
        opts.check({"dhw_setpoint": 50}, no_dhw)
    # bounds not yet known: the usual ranges
    unknown = opts.BoilerLimits(opentherm=True)
    assert opts.check({"dhw_setpoint": 65, "max_ch_setpoint": 90}, unknown) == {
        "dhw_setpoint": 65.0,
        "max_ch_setpoint": 90.0,
    }
    with pytest.raises(ValidationError, match="usual hot-water range"):
        opts.check({"dhw_setpoint": 66}, unknown)
    with pytest.raises(ValidationError, match="any boiler"):
        opts.check({"max_ch_setpoint": 91}, unknown)


def test_stored_options_fall_back_to_defaults() -> None:
    assert opts.current({}) == DEFAULTS
    assert opts.current({"heating_system": "?", "junk": 1}) == DEFAULTS
    config = opts.control_config({"heating_system": "radiators", "max_ch_setpoint": 22.0})
    assert config.max_ch_setpoint == 22.0
    assert config.min_flow == 22.0
