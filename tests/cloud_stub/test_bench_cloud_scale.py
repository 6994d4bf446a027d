"""Smoke test of the cloud scale benchmark: a few simulated bridges, every command confirmed."""

from __future__ import annotations

import pytest

from bench.cloud_scale import MAX_BRIDGES, main, run


async def test_the_benchmark_links_connects_and_confirms_every_command() -> None:
    results = await run(bridges=3, uploads=2, commands=6)
    assert results["bridges"] == 3
    assert results["uploads"] == 6
    assert results["commands"]["statuses"] == {"200": 6}  # each one the bridge confirmed
    assert results["commands"]["count"] == 6
    assert results["rss_connected_mb"] > 0
    assert len(results["load_average"]) == 3


def test_the_number_of_bridges_is_bounded(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["--bridges", str(MAX_BRIDGES + 1)])
    assert f"--bridges must be 1-{MAX_BRIDGES}" in capsys.readouterr().err
