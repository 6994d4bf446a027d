"""Smoke tests of the wall-unit benchmarks: the port's answers every poll, the PID's runs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench import unit_pid
from bench.unit import run


async def test_the_unit_benchmark_runs_and_every_poll_is_answered() -> None:
    results = await run(units=3, rates=[10.0], seconds=1.0)
    [rate] = results["rates"]
    assert rate["statuses"] == {"200": 10}
    assert rate["errors"] == 0
    assert rate["count"] == 10
    assert results["units"] == 3


def test_the_pid_benchmark_runs_and_writes_its_table(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A short run: too short to learn, so no proposal, and the stock PID's figures."""
    out = tmp_path / "pid.json"
    assert (
        unit_pid.main(
            ["--houses", "new_build", "--learn-days", "0.1", "--days", "1", "--json", str(out)]
        )
        == 0
    )
    printed = capsys.readouterr().out
    assert "new_build       stock" in printed
    assert "no proposal" in printed
    results = json.loads(out.read_text())["results"]
    entry = results["houses"]["new_build"]
    assert entry["proposal"] is None
    assert entry["stock"]["pid"] == {"kp": 15.0, "ti": 3600.0, "td": 0.0}
    assert entry["stock"]["gas_kwh"] > 0
    assert 0 < entry["stock"]["rise_min"] < 24 * 60
