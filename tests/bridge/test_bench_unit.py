"""Smoke tests of the wall-unit benchmarks: the port's answers every poll, the PID's runs."""

from __future__ import annotations

import json
from pathlib import Path
import subprocess
import sys

from bench.unit import run


async def test_the_unit_benchmark_runs_and_every_poll_is_answered() -> None:
    results = await run(units=3, rates=[10.0], seconds=1.0)
    [rate] = results["rates"]
    assert rate["statuses"] == {"200": 10}
    assert rate["errors"] == 0
    assert rate["count"] == 10
    assert results["units"] == 3


def test_the_pid_benchmark_runs_and_writes_its_table(tmp_path: Path) -> None:
    """A short run of the command: too short to learn, so no proposal, and the stock PID's
    figures (in its own process: the command runs its own event loop)."""
    out = tmp_path / "pid.json"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench.unit_pid",
            "--houses",
            "new_build",
            "--learn-days",
            "0.1",
            "--days",
            "1",
            "--json",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "new_build       stock" in done.stdout
    assert "no proposal" in done.stdout
    results = json.loads(out.read_text())["results"]
    entry = results["houses"]["new_build"]
    assert entry["proposal"] is None
    assert entry["stock"]["pid"] == {"kp": 15.0, "ti": 3600.0, "td": 0.0}
    assert entry["stock"]["gas_kwh"] > 0
    assert 0 < entry["stock"]["rise_min"] < 24 * 60
