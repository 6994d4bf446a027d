"""Online identification of the house model from what the bridge measures.

The :class:`Learner` takes one :class:`~bridge.learning.screening.Measurement`
at a time (room sensor, outside temperature, what the boiler reports) and

* screens it (:mod:`bridge.learning.screening`): absurd values and
  physically impossible jumps are rejected, a room value that stays
  exactly constant for hours while heat goes in marks the sensor as frozen;
* averages it into fixed sample periods (:mod:`bridge.learning.binning`) on
  a chain that restarts after every dropout instead of bridging it; heat
  that goes to hot water (DHW) does not count as heat into the room;
* tracks the model's state (room, mass, emitter) with a Kalman filter and
  keeps score of its own 1-hour and 3-hour forecasts
  (:mod:`bridge.learning.filtering`);
* every 12 hours while learning, daily once ready, refits the model on a
  sliding window (10 days by default) by regularised Levenberg-Marquardt on
  the simulation error (:mod:`bridge.learning.fitting`); without a
  measured irradiance the clear-sky sun at the house's location stands in;
* reports a confidence in [0, 1] from the parameter covariance, its own
  forecast residuals and the excitation seen (free-floating hours, or how
  far the room fell while free-floating, and heating starts), and falls
  back to the default model below the ready threshold.

Pure code: no I/O, no clock; the bridge feeds measurements and stores
:meth:`Learner.to_dict`.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from bridge.learning.binning import Acc, Bin, Window, uses_solar
from bridge.learning.config import LEARNER_VERSION, LearnerConfig
from bridge.learning.filtering import StateFilter
from bridge.learning.fitting import FitResult, chains_of, fit_model
from bridge.learning.model import ModelState, ThermalModel
from bridge.learning.persistence import (
    bins_from_json,
    bins_to_json,
    fit_from_json,
    fit_to_json,
)
from bridge.learning.predict import Predictor
from bridge.learning.screening import (
    ASSUMED_BOILER_W,
    OUTSIDE_RANGE,
    ROOM_RANGE,
    SOLAR_RANGE,
    FrozenDetector,
    HeatSource,
    Measurement,
    Screen,
    clear_sky_w_m2,
)

if TYPE_CHECKING:
    from collections.abc import Callable

STATUS_LEARNING = "learning"
STATUS_READY = "ready"
FALLBACK_FROZEN = "fallback: room sensor frozen"
FALLBACK_NO_ROOM = "fallback: room temperature missing"
FALLBACK_NO_OUTSIDE = "fallback: outside temperature missing"
FALLBACK_NO_HEAT = "fallback: heat input unknown"

_FULL_STARTS = 4
"""Heating starts that fully excite the model."""
_FULL_FREE_H = 12.0
"""Free-floating hours that fully excite the model..."""
_FULL_FREE_FALL_K = 10.0
"""...or the fall of the room while free-floating that does, K (a draughty house
that cools to its setback within the hour shows its cooling in less time)."""


class Learner:
    """Online identification of the house model (see the module docstring).

    Feed :meth:`observe` with measurements in time order, every minute or
    so (at least once per sample period). Read :attr:`model` (the learned
    model when confident, the default otherwise), :attr:`confidence`,
    :attr:`progress`, :attr:`status` and :meth:`predictor`.
    """

    def __init__(
        self, heat_source: HeatSource | None = None, config: LearnerConfig | None = None
    ) -> None:
        self.config = config or LearnerConfig()
        self.heat_source = heat_source or HeatSource()
        self.fitted: ThermalModel | None = None
        """The last fitted model, confident or not."""
        self.fit: FitResult | None = None
        """How the last fit went."""
        self.fit_ts: float | None = None
        self.counters: dict[str, int] = dict.fromkeys(
            (
                "measurements",
                "room_rejected",
                "outside_rejected",
                "out_of_order",
                "gaps",
                "frozen",
                "fits",
            ),
            0,
        )
        self._window = Window(self.config.sample_s)
        self._bins = self._window.bins
        self._acc: Acc | None = None
        self._seg = 0
        self._last_ts: float | None = None
        self._last_heat: float | None = None
        self._last_room_ts: float | None = None
        self._last_room: float | None = None
        self._outside: float | None = None
        self._outside_ts: float | None = None
        self._heat_unknown_since: float | None = None
        self._room_screen = Screen(*ROOM_RANGE, self.config.room_rate_k_per_h, 0.5)
        self._out_screen = Screen(*OUTSIDE_RANGE, self.config.outside_rate_k_per_h, 3.0)
        self._frozen = FrozenDetector()
        self._filter = StateFilter(self.config.sample_s)
        self._factors: dict[str, float] = {}

    # ------------------------------------------------------------ input

    def observe(self, m: Measurement) -> None:
        """Take one measurement (in time order; older ones are ignored)."""
        cfg = self.config
        ts = m.ts
        if not math.isfinite(ts):
            return
        if self._last_ts is not None and ts <= self._last_ts:
            self.counters["out_of_order"] += 1
            return
        self.counters["measurements"] += 1
        heat = self.heat_source.heat_w(m)
        if heat is None:
            if self._heat_unknown_since is None:
                self._heat_unknown_since = ts
        else:
            self._heat_unknown_since = None
        if self._last_ts is not None:
            if ts - self._last_ts > cfg.max_gap_s:
                self.counters["gaps"] += 1
                self._break()
            else:
                self._integrate(self._last_ts, ts, self._last_heat)
        index = int(ts // cfg.sample_s)
        if self._acc is None or self._acc.index != index:
            if self._acc is not None:
                self._close()
            self._acc = Acc(index)
        acc = self._acc

        room, rejected, reset = self._room_screen.check(ts, m.room_c)
        if rejected:
            self.counters["room_rejected"] += 1
        if reset:
            acc.broken = True
        if room is not None:
            step_j = 0.0
            if self._last_room_ts is not None and self._last_heat is not None:
                step_j = self._last_heat * min(ts - self._last_room_ts, cfg.max_gap_s)
            newly, since = self._frozen.update(ts, room, step_j, cfg)
            if newly:
                self.counters["frozen"] += 1
                self._drop_since(since)
            self._last_room_ts = ts
            self._last_room = room
            acc.room_sum += room
            acc.room_n += 1

        out, rejected, reset = self._out_screen.check(ts, m.outside_c)
        if rejected:
            self.counters["outside_rejected"] += 1
        if out is not None:
            acc.out_sum += out
            acc.out_n += 1
            self._outside = out
            self._outside_ts = ts
        sun = m.solar_w_m2
        if sun is not None and math.isfinite(sun) and SOLAR_RANGE[0] <= sun <= SOLAR_RANGE[1]:
            acc.sol_sum += sun
            acc.sol_n += 1
        self._last_ts = ts
        self._last_heat = heat

    def set_heat_source(self, source: HeatSource) -> None:
        """Change how heat is estimated (e.g. once OpenTherm ID 15 has been read)."""
        self.heat_source = source

    def _integrate(self, t0: float, t1: float, heat: float | None) -> None:
        dt = self.config.sample_s
        while self._acc is not None:
            acc = self._acc
            end = (acc.index + 1) * dt
            span = max(0.0, min(t1, end) - t0)
            if heat is None:
                acc.unknown_s += span
            else:
                acc.heat_j += heat * span
                acc.heat_s += span
            if t1 <= end:
                return
            t0 = end
            self._close()
            self._acc = Acc(acc.index + 1)

    def _break(self) -> None:
        """A dropout: drop the period being filled and start a new chain."""
        self._acc = None
        self._seg += 1

    def _drop_since(self, since: float) -> None:
        """Forget the periods a frozen sensor has spoiled."""
        first = int(since // self.config.sample_s)
        self._window.drop_from(first)
        if self._acc is not None:
            self._acc.broken = True
        self._seg += 1
        self._filter.x = None

    # ------------------------------------------------------------ sample periods

    def _close(self) -> None:
        acc = self._acc
        if acc is None:
            return
        cfg = self.config
        dt = cfg.sample_s
        end = (acc.index + 1) * dt
        ok = not acc.broken and acc.room_n > 0 and acc.heat_s >= 0.8 * dt
        outside: float | None = None
        stale = False
        if acc.out_n:
            outside = acc.out_sum / acc.out_n
        elif self._outside is not None and self._outside_ts is not None:
            outside = self._outside
            stale = end - self._outside_ts > cfg.outside_hold_s
        if not ok or outside is None or self._frozen.frozen:
            self._seg += 1
            return
        prev = self._bins[-1] if self._bins else None
        if prev is not None and prev.seg == self._seg and prev.index != acc.index - 1:
            self._seg += 1
        clear = clear_sky_w_m2((acc.index + 0.5) * dt, cfg.latitude, cfg.longitude)
        solar: float | None = None
        if acc.sol_n:
            solar = acc.sol_sum / acc.sol_n
        elif cfg.clear_sky_sun:
            solar = clear
        new = Bin(
            acc.index,
            room=acc.room_sum / acc.room_n,
            heat=acc.heat_j / acc.heat_s,
            outside=outside,
            solar=solar,
            stale=stale,
            seg=self._seg,
        )
        new.clear = clear
        self._window.append(prev, new)
        self._window.trim(int(cfg.window_days * 86400.0 / dt))
        self._track(prev, new)
        if self._should_fit(end):
            self._refit(end)
        self._factors = self._compute_factors()

    def _model_now(self) -> ThermalModel:
        return self.fitted or ThermalModel.default()

    def _track(self, prev: Bin | None, new: Bin) -> None:
        self._filter.track(self._bins, prev, new, self._model_now())

    def _replay(self) -> None:
        """Rerun the filter and the score over the window with the current model."""
        self._filter.replay(self._bins, self._model_now())

    # ------------------------------------------------------------ fitting

    def excitation(self) -> tuple[float, int]:
        """``(free-floating hours, heating starts)`` in the window's usable data."""
        return self._window.excitation()

    def _excitation_shares(self) -> tuple[float, float]:
        """``(starts, free-floating)``: each 0..1 of what fully excites the model."""
        free_h, starts = self.excitation()
        free = max(free_h / _FULL_FREE_H, self._window.free_fall_k / _FULL_FREE_FALL_K)
        return min(1.0, starts / _FULL_STARTS), min(1.0, free)

    def usable_hours(self) -> float:
        """Hours of usable (fresh, unbroken) data in the window."""
        return self._window.usable_hours()

    def _should_fit(self, now: float) -> bool:
        cfg = self.config
        if self.usable_hours() < cfg.min_fit_hours:
            return False
        if self.fit_ts is None:
            return self._window.starts >= 2
        interval = cfg.ready_refit_s if self.ready else cfg.refit_s
        return now - self.fit_ts >= interval

    def _refit(self, now: float) -> None:
        self.fit_ts = now
        solar = uses_solar(self._bins)
        chains = chains_of(self._bins, solar)
        if not chains:
            return
        cfg = self.config
        result = fit_model(
            chains,
            self.fitted or ThermalModel.default(),
            sample_s=cfg.sample_s,
            solar=solar,
            max_iterations=cfg.max_iterations if self.fitted else cfg.first_iterations,
        )
        if result is None:
            return
        self.counters["fits"] += 1
        self.fit = result
        self.fitted = result.model
        self._replay()

    # ------------------------------------------------------------ outputs

    def skill(self) -> dict[str, float | None]:
        """Root mean square error of the learner's own 1 h and 3 h forecasts (last days), K.

        Forecasts from the filtered state with the inputs that then came,
        against the sample means. None until enough have been scored.
        """
        return self._filter.skill()

    def _condition(self) -> tuple[str | None, float]:
        """The standing fault, if any, and the factor it puts on the confidence."""
        now = self._last_ts
        if now is None:
            return None, 1.0
        cfg = self.config
        if self._frozen.frozen:
            return FALLBACK_FROZEN, 0.0
        if self._last_room_ts is None or now - self._last_room_ts > cfg.max_gap_s:
            return FALLBACK_NO_ROOM, 0.0
        if self._heat_unknown_since is not None and now - self._heat_unknown_since > cfg.max_gap_s:
            return FALLBACK_NO_HEAT, 0.0
        if self._outside_ts is None or now - self._outside_ts > cfg.outside_hold_s:
            missing = now - (self._outside_ts or now) - cfg.outside_hold_s
            return FALLBACK_NO_OUTSIDE, max(0.0, 0.8 - missing / 86400.0)
        return None, 1.0

    def _compute_factors(self) -> dict[str, float]:
        fit = self.fit
        starts, free = self._excitation_shares()
        rmse_1h = self.skill()["rmse_1h"]
        params = 0.0
        if fit is not None:
            spread = (fit.sd_log_heat_loss / 0.3) ** 2 + (fit.sd_log_time_constant / 0.6) ** 2
            params = math.exp(-0.5 * spread)
        return {
            "data": min(1.0, self.usable_hours() / 72.0),
            "excitation": starts * free,
            "parameters": params,
            "residuals": _residual_factor(rmse_1h, fit),
        }

    def confidence_factors(self) -> dict[str, float]:
        """The factors whose product is :attr:`confidence`, each 0..1 (for diagnostics)."""
        factors = dict(self._factors or self._compute_factors())
        factors["condition"] = self._condition()[1]
        return factors

    @property
    def confidence(self) -> float:
        """How far the learned model can be trusted, 0..1."""
        if self.fit is None:
            return 0.0
        f = self.confidence_factors()
        return min(f["data"], f["excitation"]) * f["parameters"] * f["residuals"] * f["condition"]

    @property
    def ready(self) -> bool:
        """True when the learned model is in use."""
        return self.fitted is not None and self.confidence >= self.config.ready_confidence

    @property
    def model(self) -> ThermalModel:
        """The model to use: the learned one when confident, the default otherwise."""
        if self.fitted is not None and self.ready:
            return self.fitted
        return ThermalModel.default()

    @property
    def progress(self) -> int:
        """Learning progress for the UI, 0-100 %."""
        if self.ready:
            return 100
        starts, free = self._excitation_shares()
        gathered = min(1.0, self.usable_hours() / 72.0, (starts + free) / 2.0)
        trust = min(1.0, self.confidence / self.config.ready_confidence)
        return min(99, round(100.0 * (0.5 * gathered + 0.5 * trust)))

    @property
    def status(self) -> str:
        """``learning``, ``ready`` or ``fallback: <why>``."""
        fault, _ = self._condition()
        if fault is not None:
            return fault
        return STATUS_READY if self.ready else STATUS_LEARNING

    @property
    def state(self) -> ModelState | None:
        """The state of :attr:`model` at the end of the last sample period; None before any."""
        model = self.model
        if self._filter.x is None or not self._bins:
            if self._last_room is None or self._last_ts is None:
                return None
            outside = self._outside if self._outside is not None else self._last_room - 10.0
            return ModelState.at_rest(model, self._last_ts, self._last_room, outside)
        last = self._bins[-1]
        half = model.discretize(self.config.sample_s / 2.0)
        solar = (last.solar or 0.0) if model.solar_aperture_m2 > 0.0 else 0.0
        x = half.step(self._filter.x, last.heat, last.outside, solar)
        return ModelState((last.index + 1) * self.config.sample_s, x[0], x[1], x[2])

    @property
    def outside_c(self) -> float | None:
        """The last accepted outside temperature."""
        return self._outside

    def warmup_profile_w(self) -> tuple[float, ...]:
        """Heat the boiler delivers in a warm-up, per sample period since the start, W.

        From the warm-ups in the window (heating after 20 minutes or more
        off) that heated for a full hour, if there are two or more, else from
        all of them without their last, partly-off period: the median of each
        of the first periods (the boiler fills cold emitters), then the
        median of the rest as a plateau that holds. Before any warm-up, half
        the boiler's size (or the relay's nominal power).

        The heat of a warm-up also depends on the weather and on how cold
        the emitters are; the median takes none of that, and in a cold night
        the room tends to arrive early rather than late.
        """
        profile = self._window.warmup_profile_w()
        if profile:
            return profile
        src = self.heat_source
        if src.relay_nominal_w is not None:
            return (src.relay_nominal_w,)
        return (0.5 * (src.max_w or ASSUMED_BOILER_W),)

    def predictor(self) -> Predictor | None:
        """Forecasting tools on :attr:`model` and :attr:`state`; None before any room reading."""
        state = self.state
        if state is None:
            return None
        outside = self._outside if self._outside is not None else state.room_c - 10.0
        return Predictor(
            model=self.model,
            state=state,
            confidence=self.confidence,
            warmup_w=self.warmup_profile_w(),
            outside_c=outside,
            warmup_step_s=self.config.sample_s,
            solar_w_m2=self.sun_forecast(),
        )

    def sun_forecast(self) -> Callable[[float], float]:
        """The irradiance to expect at a time (W/m²): clear sky times the recent sunshine ratio.

        With the clear-sky input the ratio is 1; with measured irradiance it
        is measured over clear sky in the last three days of the window.
        """
        cfg = self.config
        recent = list(self._bins)[-int(3 * 86400.0 / cfg.sample_s) :]
        clear = sum(b.clear for b in recent)
        sun = sum(b.solar or 0.0 for b in recent)
        ratio = min(1.5, sun / clear) if clear > 0.0 else 1.0
        lat, lon = cfg.latitude, cfg.longitude

        def sun_at(ts: float) -> float:
            return ratio * clear_sky_w_m2(ts, lat, lon)

        return sun_at

    def notes(self) -> tuple[str, ...]:
        """Standing caveats: assumptions the figures rest on."""
        notes = []
        if self.heat_source.assumed_size:
            notes.append(f"boiler size unknown, {ASSUMED_BOILER_W / 1000:.0f} kW assumed")
        if self._bins and not uses_solar(self._bins):
            notes.append("no solar irradiance: sun counts as unexplained gains")
        elif self._bins and not any(b.solar != b.clear for b in self._bins):
            notes.append("no measured irradiance: the sun is taken from the clear sky")
        return tuple(notes)

    def summary(self) -> dict[str, Any]:
        """The learner's outputs as JSON-able values (for the API and Home Assistant)."""
        model = self.model
        skill = self.skill()
        rmse_1h, rmse_3h = skill["rmse_1h"], skill["rmse_3h"]
        return {
            "status": self.status,
            "confidence": round(self.confidence, 3),
            "progress": self.progress,
            "learned": self.ready,
            "heat_loss_w_per_k": round(model.heat_loss_w_per_k, 1),
            "time_constant_h": round(model.time_constant_h, 1),
            "rmse_1h": None if rmse_1h is None else round(rmse_1h, 3),
            "rmse_3h": None if rmse_3h is None else round(rmse_3h, 3),
            "notes": list(self.notes()),
        }

    # ------------------------------------------------------------ persistence

    def to_dict(self) -> dict[str, Any]:
        """JSON-able state, with a version, for the ``learning`` table.

        Holds the fitted model, the window of sample periods (so a restart
        loses no learning) and the screens; the period being filled is not
        kept (a restart is a gap).
        """
        return {
            "version": LEARNER_VERSION,
            "config": self.config.to_dict(),
            "heat_source": self.heat_source.to_dict(),
            "fitted": None if self.fitted is None else self.fitted.to_dict(),
            "fit": fit_to_json(self.fit),
            "fit_ts": self.fit_ts,
            "counters": dict(self.counters),
            "last_ts": self._last_ts,
            "last_room": self._last_room,
            "last_room_ts": self._last_room_ts,
            "outside": self._outside,
            "outside_ts": self._outside_ts,
            "seg": self._seg,
            "bins": bins_to_json(self._bins),
            "screens": {"room": self._room_screen.to_dict(), "outside": self._out_screen.to_dict()},
            "room_step": self._frozen.step_c,
        }

    @classmethod
    def from_dict(cls, data: object, *, heat_source: HeatSource | None = None) -> Learner:
        """A learner restored from :meth:`to_dict`.

        An unknown version or a damaged document gives a fresh learner on
        the default model. ``heat_source`` overrides the stored one.
        """
        if not isinstance(data, dict) or data.get("version") != LEARNER_VERSION:
            return cls(heat_source)
        try:
            learner = cls(
                heat_source or HeatSource.from_dict(data.get("heat_source")),
                LearnerConfig.from_dict(data.get("config")),
            )
            learner._restore(data)
        except (KeyError, TypeError, ValueError, IndexError, AttributeError):
            return cls(heat_source)
        return learner

    def _restore(self, data: dict[str, Any]) -> None:
        def opt_float(key: str) -> float | None:
            value = data.get(key)
            return None if value is None else float(value)

        fitted = data.get("fitted")
        if fitted is not None:
            self.fitted = ThermalModel.from_dict(fitted)
            self.fit = fit_from_json(self.fitted, data.get("fit"))
        self.fit_ts = opt_float("fit_ts")
        counters = data.get("counters")
        if isinstance(counters, dict):
            for key in self.counters:
                value = counters.get(key)
                if isinstance(value, int):
                    self.counters[key] = value
        self._last_ts = opt_float("last_ts")
        self._last_room = opt_float("last_room")
        self._last_room_ts = opt_float("last_room_ts")
        self._outside = opt_float("outside")
        self._outside_ts = opt_float("outside_ts")
        self._seg = int(data.get("seg", 0)) + 1
        prev: Bin | None = None
        for b in bins_from_json(data["bins"]):
            b.clear = clear_sky_w_m2(
                (b.index + 0.5) * self.config.sample_s, self.config.latitude, self.config.longitude
            )
            self._window.append(prev, b)
            prev = b
        step = data.get("room_step")  # absent in the form before it was kept
        if isinstance(step, (int, float)) and math.isfinite(step) and step > 0.0:
            self._frozen.step_c = float(step)
        screens = data.get("screens")
        if isinstance(screens, dict):
            self._room_screen.restore(screens.get("room"))
            self._out_screen.restore(screens.get("outside"))
        self._replay()
        self._factors = self._compute_factors()


def _residual_factor(rmse_1h: float | None, fit: FitResult | None) -> float:
    """1 up to 0.15 K of 1-hour forecast error, 0 from 0.4 K.

    Without enough scored forecasts (a new learner, frequent dropouts) the
    fit's own simulation error stands in; it runs over days, so it is the
    stricter of the two.
    """
    err = rmse_1h if rmse_1h is not None else (fit.rmse_c if fit is not None else None)
    if err is None:
        return 0.0
    return min(1.0, max(0.0, (0.4 - err) / 0.25))
