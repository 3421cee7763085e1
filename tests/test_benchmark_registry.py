"""The benchmark registry's cases stay runnable: each one, at a few areas, through the registry's
own child (write the scenario, solve it, solve the same arrays with raw HiGHS), with the two
objectives equal.  A case the scenario checks refuse (as "proportional + minimum slope" came to be)
fails here rather than as a row of `make bench-quick` nobody reads."""

from __future__ import annotations

import json

import pytest

from benchmarks import registry


@pytest.mark.parametrize("name", sorted(registry.CASES))
def test_every_registry_case_runs_and_matches_raw_highs(name, tmp_path):
    target = tmp_path / "case.json"
    registry.child(name, 40, str(target))
    found = json.loads(target.read_text())
    assert found["raw_status"] == "Optimal", found
    scale = max(1.0, abs(found["objective"]))
    assert abs(found["objective"] - found["raw_objective"]) <= 1e-6 * scale, found
