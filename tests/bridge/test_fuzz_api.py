"""Schemathesis against a real bridge's own ``/openapi.json``, every route, with and
without a token: no 5xx, and a refused request changes nothing.

A few examples per route and kind here; ``python -m bench.fuzz --examples N``
runs the same with more (see ``bench/fuzz.py`` for the rules).
"""

from __future__ import annotations

import pytest

pytest.importorskip("schemathesis")

from bench.fuzz import KINDS, run

EXAMPLES = 4


@pytest.mark.timeout(300)
def test_every_route_answers_generated_requests_without_5xx_and_refusals_change_nothing() -> None:
    results = run(EXAMPLES, seed=0)
    assert results["failures"] == []
    assert results["held"]
    # every operation of the served document was tried, in every kind it has input for
    assert sorted(results["per_operation"]) == results["documented_operations"]
    assert len(results["documented_operations"]) >= 30
    for label, row in results["per_operation"].items():
        assert row["cases"] >= 2, label  # valid data, with and without a token
    assert results["cases"] >= len(results["per_operation"]) * len(KINDS) * EXAMPLES // 2
    assert results["statuses"].keys() - {str(s) for s in range(200, 500)} == set()
