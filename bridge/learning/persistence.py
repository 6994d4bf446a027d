"""The JSON form of the learner's window of sample periods and of its last fit.

:meth:`~bridge.learning.learner.Learner.to_dict` stores the window as
columns (one list per field, rounded to what the sensors resolve) and the
fit's figures next to the fitted model; :meth:`Learner.from_dict` reads them
back through here. Damaged columns raise (``KeyError``, ``TypeError``,
``ValueError``, ``IndexError``), which the learner takes as a damaged
document.

Pure code: no I/O.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from bridge.learning.binning import Bin
from bridge.learning.fitting import FitResult

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator

    from bridge.learning.model import ThermalModel


def bins_to_json(bins: Iterable[Bin]) -> dict[str, list[Any]]:
    """The bins as columns."""
    rows = list(bins)
    return {
        "index": [b.index for b in rows],
        "room": [round(b.room, 4) for b in rows],
        "heat": [round(b.heat, 1) for b in rows],
        "outside": [round(b.outside, 3) for b in rows],
        "solar": [None if b.solar is None else round(b.solar, 1) for b in rows],
        "stale": [int(b.stale) for b in rows],
        "seg": [b.seg for b in rows],
    }


def bins_from_json(cols: Any) -> Iterator[Bin]:
    """The bins stored by :func:`bins_to_json`, one at a time; raises on damage or disorder."""
    prev: Bin | None = None
    for i in range(len(cols["index"])):
        solar = cols["solar"][i]
        b = Bin(
            int(cols["index"][i]),
            room=float(cols["room"][i]),
            heat=float(cols["heat"][i]),
            outside=float(cols["outside"][i]),
            solar=None if solar is None else float(solar),
            stale=bool(cols["stale"][i]),
            seg=int(cols["seg"][i]),
        )
        if prev is not None and b.index <= prev.index:
            raise ValueError("sample periods out of order")
        yield b
        prev = b


def fit_to_json(fit: FitResult | None) -> dict[str, Any] | None:
    """The fit's figures (its model is stored on its own)."""
    if fit is None:
        return None
    return {
        "rmse_c": fit.rmse_c,
        "sd_log_heat_loss": fit.sd_log_heat_loss,
        "sd_log_time_constant": fit.sd_log_time_constant,
        "samples": fit.samples,
        "iterations": fit.iterations,
    }


def fit_from_json(model: ThermalModel, data: object) -> FitResult | None:
    """The fit of ``model`` stored by :func:`fit_to_json`; None if none was stored."""
    if not isinstance(data, dict):
        return None
    return FitResult(
        model,
        float(data["rmse_c"]),
        float(data["sd_log_heat_loss"]),
        float(data["sd_log_time_constant"]),
        int(data["samples"]),
        int(data["iterations"]),
    )
