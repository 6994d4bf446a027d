"""Smoke test of the wall-unit port benchmark: it runs, and every poll is answered."""

from __future__ import annotations

from bench.unit import run


async def test_the_unit_benchmark_runs_and_every_poll_is_answered() -> None:
    results = await run(units=3, rates=[10.0], seconds=1.0)
    [rate] = results["rates"]
    assert rate["statuses"] == {"200": 10}
    assert rate["errors"] == 0
    assert rate["count"] == 10
    assert results["units"] == 3
