"""The simulated house, boiler, weather and sim:// link behave physically and like a boiler."""

from __future__ import annotations

import asyncio
import itertools
import math
from typing import Any

import pytest

from bridge.core.clock import VirtualClock
from bridge.opentherm.formats import decode_f8_8, decode_s8, decode_s16
from bridge.opentherm.frame import Direction, Frame, FrameError, MsgType, check_answer
from bridge.opentherm.links.base import LinkError, LinkState, LinkTimeout
from bridge.opentherm.links.sim import SimLink, SimUrlError, parse_sim_url
from bridge.opentherm.sim import (
    BEST_EFFICIENCY,
    DEFAULT_START,
    PROFILE_NAMES,
    SUPPORTED_IDS,
    Boiler,
    ConstantWeather,
    CsvWeather,
    LinkFault,
    OemCode,
    ScaledClock,
    SimTruth,
    SimWorld,
    SyntheticWeather,
    efficiency,
    get_profile,
)

HOUR = 3600.0
J_PER_KWH = 3.6e6


def quiet_world(
    profile: str = "terraced_1970s", outside: float = 0.0, room: float = 20.0, **kw: Any
) -> SimWorld:
    """A world without sun, internal gains or taps, at a constant outside temperature."""
    return SimWorld(
        profile,
        weather=ConstantWeather(outside),
        dhw_taps=False,
        internal_gains=False,
        initial_room_c=room,
        **kw,
    )


def read(boiler: Boiler, did: int) -> Frame:
    answer = boiler.handle(Frame(MsgType.READ_DATA, did, 0))
    assert answer is not None
    check_answer(Frame(MsgType.READ_DATA, did, 0), answer)
    return answer


def write(boiler: Boiler, did: int, value: int) -> Frame:
    request = Frame(MsgType.WRITE_DATA, did, value)
    answer = boiler.handle(request)
    assert answer is not None
    check_answer(request, answer)
    return answer


def f88(value: float) -> int:
    return round(value * 256) & 0xFFFF


def status(boiler: Boiler, master: int = 0x03) -> int:
    answer = boiler.handle(Frame(MsgType.READ_DATA, 0, master << 8))
    assert answer is not None
    assert answer.msg_type is MsgType.READ_ACK
    assert answer.hb == master
    return answer.lb


# ---------------------------------------------------------------- house physics


def test_profiles_have_plausible_true_parameters() -> None:
    assert set(PROFILE_NAMES) == {"new_build", "terraced_1970s", "old_draughty", "underfloor"}
    ua = {n: get_profile(n).heat_loss_w_per_k for n in PROFILE_NAMES}
    assert ua["new_build"] < ua["underfloor"] < ua["terraced_1970s"] < ua["old_draughty"]
    for name in PROFILE_NAMES:
        p = get_profile(name)
        fast, slow = p.time_constants_h
        assert 0.1 < fast < 1.5
        assert 15.0 < slow < 120.0
        assert p.time_constant_h == pytest.approx(slow, rel=0.15)
    assert (
        get_profile("new_build").time_constants_h[1]
        > 2 * get_profile("old_draughty").time_constants_h[1]
    )
    assert get_profile("underfloor").emitter.exponent == pytest.approx(1.1)
    assert get_profile("terraced_1970s").emitter.exponent == pytest.approx(1.3)
    with pytest.raises(ValueError, match="known"):
        get_profile("igloo")


@pytest.mark.parametrize("name", ["terraced_1970s", "new_build"])
def test_house_cools_toward_outside_with_its_slow_time_constant(name: str) -> None:
    world = quiet_world(name, outside=0.0, room=20.0)
    temps = []
    for _ in range(96):
        world.step(HOUR)
        temps.append(world.truth().room_c)
    assert all(b < a for a, b in itertools.pairwise(temps))
    assert temps[-1] > 0.0
    # after the fast air-to-fabric transient, the decay follows the slow mode
    fitted_h = (72 - 24) / math.log(temps[23] / temps[71])
    assert fitted_h == pytest.approx(get_profile(name).time_constants_h[1], rel=0.15)


def test_house_heats_with_the_boiler_on() -> None:
    world = quiet_world("terraced_1970s", outside=0.0, room=15.0)
    world.boiler.command(ch_enable=True, control_setpoint_c=70.0)
    world.step(15 * 60)
    truth = world.truth()
    assert truth.flame
    assert truth.emitter_c > 40.0
    world.step(2 * HOUR - 15 * 60)
    truth = world.truth()
    assert truth.room_c > 17.5
    assert truth.flow_c == pytest.approx(70.0, abs=1.5)
    assert truth.return_c < truth.flow_c


def test_steady_state_matches_the_heat_loss_coefficient() -> None:
    profile = get_profile("terraced_1970s")
    world = quiet_world("terraced_1970s", outside=5.0, room=20.0)
    world.boiler.command(ch_enable=True, control_setpoint_c=55.0)
    world.step(6 * 24 * HOUR)
    before = world.truth()
    world.step(24 * HOUR)
    after = world.truth()
    emitted_w = (after.heat_emitted_kwh - before.heat_emitted_kwh) * J_PER_KWH / (24 * HOUR)
    assert after.room_c == pytest.approx(before.room_c, abs=0.1)
    # the radiant share of the output warms the fabric directly, which leaks a
    # little more than the air-referenced heat-loss coefficient accounts for
    radiant_leak = (
        profile.emitter.radiant_fraction
        * profile.h_mass_out_w_per_k
        / (profile.h_air_mass_w_per_k + profile.h_mass_out_w_per_k)
    )
    assert radiant_leak < 0.06
    expected = profile.heat_loss_w_per_k * (after.room_c - 5.0) / (1.0 - radiant_leak)
    assert emitted_w == pytest.approx(expected, rel=0.01)
    assert emitted_w == pytest.approx(profile.heat_loss_w_per_k * (after.room_c - 5.0), rel=0.07)


def test_energy_is_conserved() -> None:
    world = SimWorld("terraced_1970s", seed=3)
    house, boiler = world.house, world.boiler
    stored0 = house.stored_heat_j()
    node0 = boiler.t_flow
    boiler.command(ch_enable=True, dhw_enable=True)
    for _ in range(2 * 24 * 12):
        boiler.command(control_setpoint_c=65.0 if world.truth().room_c < 20.0 else 0.0)
        world.step(300)
    t = world.truth()
    assert t.gas_dhw_kwh > 0.5  # the household drew hot water
    # house: heat in from the loop, sun and people, minus losses, is what it stored
    house_in = (
        t.heat_to_loop_kwh + t.solar_gain_kwh + t.internal_gain_kwh - t.heat_loss_kwh
    ) * J_PER_KWH
    assert house_in == pytest.approx(house.stored_heat_j() - stored0, rel=1e-9, abs=1e3)
    # boiler: burner heat goes to the loop, the tap water, purge losses, or its own mass
    burner = (t.heat_to_ch_kwh + t.heat_to_dhw_kwh) * J_PER_KWH
    out = (t.heat_to_loop_kwh + t.heat_to_tap_kwh + t.purge_loss_kwh) * J_PER_KWH
    node = boiler.spec.heat_exchanger_j_per_k * (boiler.t_flow - node0)
    assert burner == pytest.approx(out + node, rel=1e-9, abs=1e3)
    # gas times efficiency is the heat to water
    heat = t.heat_to_ch_kwh + t.heat_to_dhw_kwh
    assert heat <= t.gas_kwh * BEST_EFFICIENCY + 1e-9
    assert heat >= t.gas_kwh * 0.86
    assert t.gas_kwh == pytest.approx(t.gas_ch_kwh + t.gas_dhw_kwh)


@pytest.mark.parametrize(("setpoint", "low", "high"), [(40.0, 0.965, 0.985), (80.0, 0.86, 0.89)])
def test_condensing_efficiency_follows_the_return_temperature(
    setpoint: float, low: float, high: float
) -> None:
    world = quiet_world("old_draughty", outside=-5.0, room=18.0)
    world.boiler.command(ch_enable=True, control_setpoint_c=setpoint)
    world.step(6 * HOUR)
    before = world.truth()
    world.step(HOUR)
    after = world.truth()
    gas = after.gas_ch_kwh - before.gas_ch_kwh
    heat = after.heat_to_ch_kwh - before.heat_to_ch_kwh
    assert gas > 1.0
    assert low <= heat / gas <= high
    assert heat / gas == pytest.approx(efficiency(after.return_c), abs=0.005)


def test_efficiency_curve() -> None:
    temps = [20 + i for i in range(61)]
    values = [efficiency(t) for t in temps]
    assert all(b <= a for a, b in itertools.pairwise(values))
    assert efficiency(30.0) >= 0.975
    assert efficiency(45.0) >= 0.965
    assert efficiency(58.0) <= 0.88
    assert efficiency(70.0) == pytest.approx(0.87, abs=0.01)


def test_burner_cycles_at_low_load_and_counts_starts() -> None:
    world = quiet_world("new_build", outside=10.0)
    world.boiler.command(ch_enable=True, control_setpoint_c=33.0)
    world.step(6 * HOUR)
    before = world.truth()
    flame_steps = 0
    for _ in range(2 * 360):
        world.step(10)
        flame_steps += world.truth().flame
    after = world.truth()
    starts = after.burner_starts - before.burner_starts
    assert starts / 2 >= 4  # short cycling: the load is below the minimum output
    assert flame_steps / 720 < 0.6
    assert read(world.boiler, 116).value == after.burner_starts
    # with a load above the minimum output, the burner modulates instead
    big = quiet_world("old_draughty", outside=0.0)
    big.boiler.command(ch_enable=True, control_setpoint_c=70.0)
    big.step(2 * HOUR)
    starts_before = big.truth().burner_starts
    big.step(2 * HOUR)
    assert big.truth().burner_starts == starts_before
    assert 0.0 < big.truth().modulation_pct < 100.0


def test_max_modulation_limits_the_output() -> None:
    world = quiet_world("old_draughty", outside=-5.0, room=15.0)
    world.boiler.command(ch_enable=True, control_setpoint_c=80.0, max_modulation_pct=0.0)
    world.step(HOUR)
    t = world.truth()
    assert t.flame
    assert t.burner_power_w == pytest.approx(world.boiler.spec.min_w)
    assert t.modulation_pct == 0.0


def test_relay_demand_heats_to_the_max_ch_setpoint() -> None:
    world = quiet_world("old_draughty", outside=-5.0, room=15.0)
    world.boiler.set_relay_demand(True)
    world.step(2 * HOUR)
    assert world.truth().flow_c == pytest.approx(80.0, abs=1.0)
    world.boiler.set_relay_demand(False)
    world.step(HOUR)
    assert not world.truth().flame
    assert not world.truth().ch_pump  # pump overrun is over


# ---------------------------------------------------------------- hot water


def test_dhw_tap_interrupts_ch_and_is_counted() -> None:
    world = quiet_world("terraced_1970s", outside=0.0)
    boiler = world.boiler
    boiler.command(ch_enable=True, control_setpoint_c=60.0, dhw_enable=True)
    world.step(HOUR)
    assert status(boiler) & 0x02  # CH active
    world.tap_dhw(300, 8.0)
    world.step(180)
    flags = status(boiler)
    assert flags & 0x04  # DHW active
    assert not flags & 0x02
    assert flags & 0x08  # flame
    assert not boiler.ch_pump
    assert decode_f8_8(read(boiler, 19).value) == pytest.approx(8.0, abs=0.01)
    assert decode_f8_8(read(boiler, 26).value) > 50.0
    assert read(boiler, 118).value == 1
    world.step(400)
    assert not status(boiler) & 0x04
    assert status(boiler) & 0x02
    assert world.truth().heat_to_dhw_kwh > 1.0
    # with DHW disabled by the master, the tap runs cold
    boiler.command(dhw_enable=False)
    world.tap_dhw(120, 8.0)
    world.step(60)
    assert not status(boiler, master=0x01) & 0x04


def test_household_taps_are_seeded() -> None:
    a = SimWorld("terraced_1970s", seed=5)
    b = SimWorld("terraced_1970s", seed=5)
    c = SimWorld("terraced_1970s", seed=6)
    days = [a.taps.flow_at(DEFAULT_START + i * 60) for i in range(3 * 1440)]
    assert days == [b.taps.flow_at(DEFAULT_START + i * 60) for i in range(3 * 1440)]
    assert days != [c.taps.flow_at(DEFAULT_START + i * 60) for i in range(3 * 1440)]
    minutes_on = sum(1 for f in days if f > 0)
    assert 3 * 8 <= minutes_on <= 3 * 60


# ---------------------------------------------------------------- faults


def test_low_water_pressure_blocks_the_burner() -> None:
    world = quiet_world("terraced_1970s", outside=0.0)
    boiler = world.boiler
    boiler.command(ch_enable=True, control_setpoint_c=60.0)
    world.step(HOUR)
    assert world.truth().flame
    assert decode_f8_8(read(boiler, 18).value) > 1.0
    boiler.start_leak(1.5)
    world.step(HOUR)
    assert decode_f8_8(read(boiler, 18).value) < 0.7
    assert status(boiler) & 0x01  # fault
    assert not status(boiler) & 0x08  # no flame
    asf = read(boiler, 5)
    assert asf.hb & 0x04
    assert asf.lb == OemCode.LOW_WATER_PRESSURE
    starts = world.truth().burner_starts
    world.step(HOUR)
    assert world.truth().burner_starts == starts
    boiler.refill()
    world.step(10 * 60)
    assert not status(boiler) & 0x01
    assert read(boiler, 5).value == 0
    assert world.truth().flame


def test_flame_loss_locks_out_until_reset() -> None:
    world = quiet_world("terraced_1970s", outside=0.0)
    boiler = world.boiler
    boiler.command(ch_enable=True, control_setpoint_c=60.0)
    world.step(HOUR)
    boiler.inject_flame_loss()
    assert not boiler.flame
    world.step(5 * 60)
    t = world.truth()
    assert t.lockout
    assert t.failed_ignitions == boiler.spec.max_ignition_attempts
    assert status(boiler) & 0x01
    asf = read(boiler, 5)
    assert asf.hb & 0x08  # gas/flame fault
    assert asf.hb & 0x02  # remote reset possible
    assert asf.lb == OemCode.IGNITION_FAILURE
    assert read(boiler, 115).value != 0
    world.step(HOUR)
    assert not world.truth().flame
    # BLOR: remote command 1
    ack = write(boiler, 4, 1 << 8)
    assert ack.msg_type is MsgType.WRITE_ACK
    assert ack.hb == 1
    assert ack.lb >= 128
    world.step(60)
    assert world.truth().flame
    assert not status(boiler) & 0x01
    assert read(boiler, 5).value == 0


def test_single_flame_loss_recovers_by_itself() -> None:
    world = quiet_world("terraced_1970s", outside=0.0)
    boiler = world.boiler
    boiler.command(ch_enable=True, control_setpoint_c=60.0)
    world.step(HOUR)
    starts = boiler.burner_starts
    boiler.inject_flame_loss(failed_ignitions=1)
    world.step(120)
    assert not boiler.lockout
    assert boiler.flame
    assert boiler.failed_ignitions == 1
    assert boiler.burner_starts == starts + 1


def test_forced_lockout_and_front_panel_reset() -> None:
    world = quiet_world()
    boiler = world.boiler
    boiler.command(ch_enable=True, control_setpoint_c=60.0)
    world.step(HOUR)
    boiler.force_lockout(OemCode.FLAME_LOSS)
    world.step(HOUR)
    assert not boiler.flame
    assert read(boiler, 5).lb == OemCode.FLAME_LOSS
    assert boiler.reset_lockout()
    world.step(60)
    assert boiler.flame


def test_link_faults_at_the_frame_level() -> None:
    boiler = SimWorld("terraced_1970s").boiler
    request = Frame(MsgType.READ_DATA, 25, 0)
    boiler.set_link_fault(LinkFault.SILENT)
    assert boiler.handle(request) is None
    assert boiler.handle_raw(request.to_int()) is None
    boiler.set_link_fault(LinkFault.GARBLE_PARITY)
    raw = boiler.handle_raw(request.to_int())
    assert raw is not None
    with pytest.raises(FrameError) as err:
        Frame.from_int(raw, direction=Direction.SLAVE_TO_MASTER)
    assert err.value.reason == "parity"
    boiler.set_link_fault(LinkFault.GARBLE_DATA_ID)
    answer = boiler.handle(request)
    assert answer is not None
    assert answer.data_id != 25
    with pytest.raises(FrameError):
        check_answer(request, answer)
    boiler.set_link_fault(LinkFault.SILENT, probability=0.5)
    answers = [boiler.handle(request) for _ in range(200)]
    silent = sum(a is None for a in answers)
    assert 60 < silent < 140
    boiler.set_link_fault(LinkFault.NONE)
    assert boiler.handle(request) is not None


# ---------------------------------------------------------------- OpenTherm answers


def test_status_exchange_sets_master_flags() -> None:
    world = quiet_world("terraced_1970s", outside=0.0)
    boiler = world.boiler
    assert write(boiler, 1, f88(60.0)).msg_type is MsgType.WRITE_ACK
    flags = status(boiler, master=0x00)
    assert flags == 0
    world.step(HOUR)
    assert not world.truth().flame  # CH not enabled
    flags = status(boiler, master=0x03)
    assert boiler.ch_enable
    assert boiler.dhw_enable
    world.step(HOUR)
    flags = status(boiler, master=0x03)
    assert flags & 0x02
    assert flags & 0x08
    # WRITE-DATA on id 0 is still answered with READ-ACK
    answer = boiler.handle(Frame(MsgType.WRITE_DATA, 0, 0x0300))
    assert answer is not None
    assert answer.msg_type is MsgType.READ_ACK


def test_read_answers_for_each_supported_id() -> None:
    world = quiet_world("terraced_1970s", outside=3.0)
    boiler = world.boiler
    boiler.command(ch_enable=True, control_setpoint_c=60.0)
    world.step(HOUR)
    assert read(boiler, 3).hb & 0x01  # DHW present
    assert read(boiler, 3).hb & 0x40  # remote water filling not available
    assert read(boiler, 5).value == 0
    assert read(boiler, 6).value == 0x0303
    assert (read(boiler, 15).hb, read(boiler, 15).lb) == (24, 20)
    mod = decode_f8_8(read(boiler, 17).value)
    assert 0.0 <= mod <= 100.0
    assert mod == pytest.approx(boiler.modulation_pct, abs=0.01)
    assert decode_f8_8(read(boiler, 18).value) == pytest.approx(boiler.pressure_bar, abs=0.01)
    assert decode_f8_8(read(boiler, 19).value) == 0.0
    assert decode_f8_8(read(boiler, 25).value) == pytest.approx(60.0, abs=1.0)
    assert decode_f8_8(read(boiler, 26).value) == pytest.approx(boiler.t_dhw, abs=0.01)
    assert read(boiler, 27).msg_type is MsgType.DATA_INVALID  # no outside sensor
    ret = decode_f8_8(read(boiler, 28).value)
    assert 30.0 < ret < 60.0
    exhaust = decode_s16(read(boiler, 33).value)
    assert ret < exhaust < ret + 30
    a48 = read(boiler, 48)
    assert (decode_s8(a48.hb), decode_s8(a48.lb)) == (65, 40)
    a49 = read(boiler, 49)
    assert (decode_s8(a49.hb), decode_s8(a49.lb)) == (85, 25)
    assert decode_f8_8(read(boiler, 56).value) == 60.0
    assert decode_f8_8(read(boiler, 57).value) == 80.0
    assert read(boiler, 115).value == 0
    assert read(boiler, 116).value == 1
    assert read(boiler, 117).value == 1
    assert read(boiler, 118).value == 0
    assert read(boiler, 119).value == 0
    assert read(boiler, 120).value == 1
    assert read(boiler, 121).value == 1
    assert read(boiler, 122).value == 0
    assert read(boiler, 123).value == 0
    assert decode_f8_8(read(boiler, 125).value) == pytest.approx(2.2, abs=0.01)
    assert read(boiler, 127).msg_type is MsgType.READ_ACK
    # underfloor heating: the installer capped the flow temperature
    assert decode_f8_8(read(quiet_world("underfloor").boiler, 57).value) == 50.0
    # a boiler with an outside sensor reports it
    sensed = quiet_world("new_build", outside=3.0)
    sensed.step(60)
    assert decode_f8_8(read(sensed.boiler, 27).value) == pytest.approx(3.0, abs=0.01)


def test_writes_are_clamped_and_acknowledged_with_the_value_taken() -> None:
    boiler = quiet_world().boiler
    assert decode_f8_8(write(boiler, 1, f88(90.0)).value) == 80.0  # capped by max CH setpoint
    assert write(boiler, 1, f88(-5.0)).msg_type is MsgType.DATA_INVALID
    assert write(boiler, 1, f88(101.0)).msg_type is MsgType.DATA_INVALID
    assert decode_f8_8(write(boiler, 14, f88(40.0)).value) == 40.0
    assert boiler.max_modulation_pct == 40.0
    assert write(boiler, 14, f88(150.0)).msg_type is MsgType.DATA_INVALID
    assert decode_f8_8(write(boiler, 56, f88(70.0)).value) == 65.0
    assert decode_f8_8(write(boiler, 56, f88(50.0)).value) == 50.0
    assert decode_f8_8(write(boiler, 57, f88(90.0)).value) == 85.0
    assert decode_f8_8(write(boiler, 57, f88(20.0)).value) == 25.0
    assert boiler.control_setpoint_c == 25.0  # the control setpoint follows a lower maximum
    assert decode_f8_8(read(boiler, 57).value) == 25.0
    assert write(boiler, 57, f88(-1.0)).msg_type is MsgType.DATA_INVALID
    assert write(boiler, 124, f88(2.2)).msg_type is MsgType.WRITE_ACK
    assert write(boiler, 126, 0x0102).value == 0x0102
    assert write(boiler, 2, 0x0001).msg_type is MsgType.WRITE_ACK
    assert write(boiler, 16, f88(20.5)).msg_type is MsgType.WRITE_ACK
    assert write(boiler, 24, f88(19.8)).msg_type is MsgType.WRITE_ACK
    assert boiler.room_temperature_c == pytest.approx(19.8, abs=0.01)
    rejected = write(boiler, 4, 2 << 8)  # remote water filling: not available
    assert rejected.msg_type is MsgType.WRITE_ACK
    assert rejected.lb < 128


def test_counters_reset_by_writing_zero() -> None:
    world = quiet_world("new_build", outside=10.0)
    world.boiler.command(ch_enable=True, control_setpoint_c=33.0)
    world.step(4 * HOUR)
    starts = read(world.boiler, 116).value
    assert starts > 3
    assert write(world.boiler, 116, 0).value == 0
    assert read(world.boiler, 116).value == 0
    assert write(world.boiler, 116, 5).msg_type is MsgType.DATA_INVALID
    assert world.truth().burner_starts == starts  # the truth is never reset
    world.step(HOUR)
    assert read(world.boiler, 116).value == world.truth().burner_starts - starts


@pytest.mark.parametrize("did", [1, 2, 4, 14, 16, 24, 124, 126])
def test_read_of_a_write_only_id_is_data_invalid(did: int) -> None:
    assert read(quiet_world().boiler, did).msg_type is MsgType.DATA_INVALID


@pytest.mark.parametrize("did", [3, 17, 25, 28, 125])
def test_write_of_a_read_only_id_is_data_invalid(did: int) -> None:
    assert write(quiet_world().boiler, did, 0).msg_type is MsgType.DATA_INVALID


@pytest.mark.parametrize("did", [7, 8, 9, 20, 23, 31, 50, 70, 100, 128, 200, 255])
def test_unknown_ids(did: int) -> None:
    boiler = quiet_world().boiler
    assert did not in SUPPORTED_IDS
    assert read(boiler, did).msg_type is MsgType.UNKNOWN_DATAID
    assert write(boiler, did, 1).msg_type is MsgType.UNKNOWN_DATAID
    invalid = Frame(MsgType.INVALID_DATA, did, 0)
    answer = boiler.handle(invalid)
    assert answer is not None
    assert answer.msg_type is MsgType.UNKNOWN_DATAID


def test_invalid_data_request_for_a_known_id() -> None:
    boiler = quiet_world().boiler
    request = Frame(MsgType.INVALID_DATA, 25, 0)
    answer = boiler.handle(request)
    assert answer is not None
    check_answer(request, answer)
    assert answer.msg_type is MsgType.DATA_INVALID


def test_every_supported_id_answers_validly() -> None:
    boiler = quiet_world().boiler
    for did in sorted(SUPPORTED_IDS):
        for msg_type in (MsgType.READ_DATA, MsgType.WRITE_DATA, MsgType.INVALID_DATA):
            if did == 0 and msg_type is not MsgType.READ_DATA:
                continue
            request = Frame(msg_type, did, 0)
            answer = boiler.handle(request)
            assert answer is not None
            check_answer(request, answer)
            assert answer.msg_type is not MsgType.UNKNOWN_DATAID


def test_a_bad_master_frame_gets_no_answer() -> None:
    boiler = quiet_world().boiler
    good = Frame(MsgType.READ_DATA, 25, 0).to_int()
    assert boiler.handle_raw(good ^ 0x1) is None  # parity broken
    assert boiler.handle_raw(Frame(MsgType.READ_ACK, 25, 0).to_int()) is None  # slave type


# ---------------------------------------------------------------- weather and sensor


def test_synthetic_weather_is_seeded_and_plausible() -> None:
    a = SyntheticWeather(7, mean_c=3.5)
    b = SyntheticWeather(7, mean_c=3.5)
    week = [DEFAULT_START + i * 600 for i in range(7 * 144)]
    late_first = [b.sample(t) for t in reversed(week)][::-1]  # access order does not matter
    samples = [a.sample(t) for t in week]
    assert samples == late_first
    assert samples != [SyntheticWeather(8, mean_c=3.5).sample(t) for t in week]
    temps = [s[0] for s in samples]
    assert -15.0 < min(temps) < max(temps) < 20.0
    assert max(temps) - min(temps) > 4.0
    # sun: none at night, some around noon; afternoons warmer than early mornings
    assert all(s[1] == 0.0 for t, s in zip(week, samples, strict=True) if (t % 86400) < 5 * 3600)
    assert max(s[1] for s in samples) > 50.0
    early = [s[0] for t, s in zip(week, samples, strict=True) if 4 <= (t % 86400) / 3600 < 6]
    after = [s[0] for t, s in zip(week, samples, strict=True) if 13 <= (t % 86400) / 3600 < 15]
    assert sum(after) / len(after) > sum(early) / len(early) + 1.0


def test_dutch_winter_weeks() -> None:
    week = [DEFAULT_START + i * 1800 for i in range(7 * 48)]
    spans = []
    for seed in range(10):
        w = SyntheticWeather.dutch_winter(seed)
        temps = [w.sample(t)[0] for t in week]
        assert -14.0 < min(temps) < 6.0
        assert -2.0 < max(temps) < 19.0
        spans.append(max(temps) - min(temps))
    assert 7.0 < sum(spans) / len(spans) < 20.0


def test_default_weather_follows_the_season() -> None:
    w = SyntheticWeather(1)
    jan = [w.sample(DEFAULT_START + i * 3600)[0] for i in range(24 * 28)]
    jul = [w.sample(DEFAULT_START + 181 * 86400 + i * 3600)[0] for i in range(24 * 28)]
    assert sum(jul) / len(jul) > sum(jan) / len(jan) + 8.0


def test_csv_weather(tmp_path: object) -> None:
    lines = [
        "timestamp,outside_c,solar_w_m2",
        "2026-01-01T00:00:00Z,2.0,0",
        "2026-01-01T01:00:00,4.0,100",
        f"{DEFAULT_START + 7200:.0f},0.0,50",
    ]
    w = CsvWeather.from_lines(lines)
    assert w.sample(DEFAULT_START) == (2.0, 0.0)
    assert w.sample(DEFAULT_START + 1800) == pytest.approx((3.0, 50.0))
    assert w.sample(DEFAULT_START + 5400) == pytest.approx((2.0, 75.0))
    assert w.sample(DEFAULT_START - 99999) == (2.0, 0.0)
    assert w.sample(DEFAULT_START + 99999) == (0.0, 50.0)
    with pytest.raises(ValueError, match="columns"):
        CsvWeather.from_lines(["time,temp", "1,2"])
    with pytest.raises(ValueError, match="line 2"):
        CsvWeather.from_lines(["timestamp,outside_c,solar_w_m2", "x,1,2"])
    world = SimWorld("terraced_1970s", weather=w, dhw_taps=False)
    world.step(1800)
    assert world.truth().outside_c == pytest.approx(3.0, abs=0.3)


def test_room_sensor_is_noisy_rounded_and_seeded() -> None:
    world = quiet_world(room=20.0, seed=4)
    readings = [world.room_sensor_c() for _ in range(400)]
    assert all(abs(r * 10 - round(r * 10)) < 1e-9 for r in readings)
    assert len(set(readings)) > 1
    truth = world.sensor.t_sensor
    assert sum(readings) / len(readings) == pytest.approx(truth, abs=0.02)
    again = quiet_world(room=20.0, seed=4)
    assert [again.room_sensor_c() for _ in range(400)] == readings
    # the sensor lags the air by minutes
    world.boiler.command(ch_enable=True, control_setpoint_c=70.0)
    world.step(HOUR)
    assert world.sensor.t_sensor < world.truth().room_c


# ---------------------------------------------------------------- a week, determinism


def _drive_week(seed: int, profile: str = "terraced_1970s") -> tuple[SimTruth, list[float]]:
    world = SimWorld(profile, seed=seed)
    boiler = world.boiler
    readings = []
    for _ in range(7 * 24 * 60):
        room = world.room_sensor_c()
        readings.append(room)
        boiler.handle(Frame(MsgType.READ_DATA, 0, 0x0300))
        setpoint = 65.0 if room < 20.0 else 10.0
        boiler.handle(Frame(MsgType.WRITE_DATA, 1, f88(setpoint)))
        world.step(60)
    return world.truth(), readings


@pytest.mark.slow
def test_a_simulated_week_runs_and_is_deterministic() -> None:
    truth_a, readings_a = _drive_week(11)
    truth_b, readings_b = _drive_week(11)
    assert truth_a == truth_b
    assert readings_a == readings_b
    truth_c, _ = _drive_week(12)
    assert truth_c != truth_a
    assert truth_a.time == DEFAULT_START + 7 * 86400
    # the thermostat held the room near 20 °C once warm
    assert 19.0 < sum(readings_a[1440:]) / len(readings_a[1440:]) < 21.0


def test_physics_does_not_depend_on_how_the_world_is_stepped() -> None:
    a = quiet_world(seed=2)
    b = quiet_world(seed=2)
    for w in (a, b):
        w.boiler.command(ch_enable=True, control_setpoint_c=60.0)
    a.step(6 * HOUR)
    for _ in range(6 * 60 * 7):
        b.step(60 / 7)
    assert b.now == pytest.approx(a.now)
    assert a.truth().room_c == b.truth().room_c
    assert a.truth().gas_kwh == b.truth().gas_kwh


# ---------------------------------------------------------------- clocks and the sim:// link


async def test_world_runs_on_a_virtual_clock_at_speed() -> None:
    clock = VirtualClock()
    world = quiet_world()
    task = asyncio.create_task(world.run(clock, speed=60.0, until=world.now + 2 * HOUR))
    await clock.advance(60.0)
    assert world.now == pytest.approx(DEFAULT_START + HOUR, abs=11.0)
    await clock.advance(61.0)
    await task
    assert world.now >= DEFAULT_START + 2 * HOUR


async def test_scaled_clock_runs_faster() -> None:
    base = VirtualClock()
    fast = ScaledClock(base, 10.0, start=DEFAULT_START)
    world = quiet_world()
    world.attach(fast)
    done = asyncio.Event()

    async def sleeper() -> None:
        await fast.sleep(600.0)
        done.set()

    task = asyncio.create_task(sleeper())
    await base.advance(59.0)
    assert not done.is_set()
    await base.advance(1.0)
    await task
    assert done.is_set()
    assert fast.time() == pytest.approx(DEFAULT_START + 600.0)
    world.sync()
    assert world.now == pytest.approx(DEFAULT_START + 600.0)


async def _transact(
    link: SimLink, clock: VirtualClock, request: Frame, timeout: float = 0.8
) -> Frame:
    task = asyncio.create_task(link.transact(request, timeout))
    await clock.advance(1.0)
    return await task


async def test_sim_link_answers_with_latency_and_follows_the_clock() -> None:
    clock = VirtualClock()
    world = quiet_world()
    link = SimLink(world, clock)
    assert link.kind == "sim"
    assert link.opentherm is True
    states: list[LinkState] = []
    remove = link.add_state_listener(states.append)
    with pytest.raises(LinkError):
        await link.transact(Frame(MsgType.READ_DATA, 25, 0))
    await link.start()
    assert states == [LinkState.CONNECTING, LinkState.CONNECTED]
    t0 = clock.time()
    task = asyncio.create_task(link.transact(Frame(MsgType.READ_DATA, 0, 0x0300)))
    await clock.advance(0.02)
    assert not task.done()
    await clock.advance(0.06)
    answer = await task
    assert answer.msg_type is MsgType.READ_ACK
    assert world.boiler.ch_enable
    assert link.counters.requests == link.counters.answers == 1
    assert clock.time() == t0 + 0.08
    # the world catches up with the clock on each conversation
    await _transact(link, clock, Frame(MsgType.WRITE_DATA, 1, f88(60.0)))
    await clock.advance(HOUR)
    flow = await _transact(link, clock, Frame(MsgType.READ_DATA, 25, 0))
    assert world.now == pytest.approx(clock.time() - 1.0, abs=0.2)
    assert decode_f8_8(flow.value) > 50.0
    with pytest.raises(LinkError):
        await link.set_heat_demand(True)
    remove()
    await link.stop()
    assert link.state is LinkState.STOPPED
    assert states[-1] is LinkState.CONNECTED


async def test_sim_link_silent_and_garbled_boiler() -> None:
    clock = VirtualClock()
    world = quiet_world()
    link = SimLink(world, clock)
    await link.start()
    request = Frame(MsgType.READ_DATA, 25, 0)
    world.boiler.set_link_fault(LinkFault.SILENT)
    t0 = clock.time()
    with pytest.raises(LinkTimeout):
        await _transact(link, clock, request, timeout=0.5)
    assert link.counters.timeouts == 1
    assert clock.time() - t0 >= 0.5
    world.boiler.set_link_fault(LinkFault.GARBLE_PARITY)
    with pytest.raises(LinkError, match="parity"):
        await _transact(link, clock, request)
    world.boiler.set_link_fault(LinkFault.GARBLE_DATA_ID)
    with pytest.raises(LinkError, match="data_id"):
        await _transact(link, clock, request)
    assert link.counters.bad_frames == 2
    world.boiler.set_link_fault(LinkFault.NONE)
    answer = await _transact(link, clock, request)
    assert answer.msg_type is MsgType.READ_ACK
    assert link.counters.answers == 1


def test_sim_urls() -> None:
    assert parse_sim_url("sim://") == {}
    assert parse_sim_url("sim://?profile=underfloor&seed=3&dhw_taps=0") == {
        "profile": "underfloor",
        "seed": "3",
        "dhw_taps": "0",
    }
    for bad in (
        "otgw+tcp://h:1",
        "sim://?profile=igloo",
        "sim://?seed=x",
        "sim://?colour=red",
        "sim://host",
    ):
        with pytest.raises(SimUrlError):
            parse_sim_url(bad)
    clock = VirtualClock(DEFAULT_START + 86400)
    link = SimLink.from_url("sim://?profile=new_build&seed=2&dhw_taps=0", clock=clock)
    assert link.world.profile.name == "new_build"
    assert link.world.seed == 2
    assert link.world.now == DEFAULT_START + 86400
    assert not link.world.taps.automatic
