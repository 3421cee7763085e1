"""A reduction of the SII or the gap is of its size: never met by pushing it past zero.

The LP's row counts the change in the baseline's direction; without its mirror an allocation could
turn the gradient round (an SII of 0 to -0.0156, "a reduction" of 0.0156) and the invariant, which
reads |after| <= |before| - asked, caught it as an `InvariantError`.  A found example (Hypothesis,
tests/test_gradient_bound.py): four areas, one service, a response only in the least deprived.
"""

from __future__ import annotations

import numpy as np
import pytest

import allocator
from allocator.errors import InfeasibleError
from allocator.model import diagnose, equity
from tests import strategies as gen
from tests.strategies import NeedSpec, ResponseSpec, ServiceSpec, Spec


@pytest.fixture(scope="module")
def level():
    """An SII of 0 before: every area's outcome the same; money helps only the least deprived area."""
    spec = Spec(
        area_ids=("A00", "A01", "A02", "A03"),
        columns={"population": [1000] * 4, "pop_young": [0] * 4, "pop_old": [100] * 4, "dep": [1.0] * 4,
                 "dep2": [0.5] * 4, "decile": [1] * 4, "quintile": [1, 1, 1, 3], "imd": [1, 1, 1, 2],
                 "le": [70.0, 70.5, 71.0, 71.5], "region": ["north", "south", "west", "north"]},
        services=(ServiceSpec(service_id="early_years", unit_cost=100.0, target="population", floor=0.0,
                              cap=np.inf, need_model="need0", response_model="resp0", min_slope=0.0,
                              budget_share=1.0),),
        need_models={"need0": NeedSpec(constant=1.0, terms=(), lookup=None)},
        response_models={"resp0": ResponseSpec(units=(0.0, 0.25, 0.5, 0.75, 1.0),
                                               gains=(0.0, 0.015625, 0.03125, 0.046875, 0.0625),
                                               modifier=("quintile", {"1": 0.0, "2": 0.0, "3": 0.5}))},
        budget=200000.0, mode="exact", objective="health-gain", proportionality="monotone", min_slope=0.0,
        slope_column=False, tolerance=0.0, pace=None, baseline=None, locked_rows=(), share_column=True,
        quantiles=2, most_deprived="high", group_columns=(), witness=np.full((4, 1), 50000.0))
    return allocator.load(gen.write(spec, gen.fresh_folder()))


def test_a_gradient_of_zero_cannot_be_reduced(level):
    assert equity.size_before(level, "sii_reduction") == pytest.approx(0.0, abs=1e-12)
    assert diagnose.reduction_limit(level.with_(sii_reduction=0.0), "sii_reduction") == pytest.approx(0.0, abs=1e-12)
    with pytest.raises(InfeasibleError, match="cannot fall at all"):
        allocator.run(level.with_(sii_reduction=0.0046875))  # was: InvariantError, the SII 0 -> -0.0156


def test_the_mirror_row_holds_the_size_not_the_direction(level):
    terms = equity.group_terms(level)
    asked = level.with_(sii_reduction=0.01)
    assert [name for name, _, _ in equity.constraint_rows(asked, terms)] == ["sii_reduction"]  # lazy: not by default
    with equity.mirrored():
        rows = {name: (coef, bound) for name, coef, bound in equity.constraint_rows(asked, terms)}
    (coef, bound), (mirror, mirror_bound) = rows["sii_reduction"], rows["sii_reduction_mirror"]
    assert np.array_equal(mirror, -coef)
    before = equity.size_before(level, "sii_reduction")
    # d = coef . (gain + constant): d <= -asked and d >= asked - 2 before, i.e. |before + d| <= before - asked
    fixed = float(np.dot(coef, np.nan_to_num(terms.constant)))
    assert bound == pytest.approx(-0.01 - fixed) and mirror_bound == pytest.approx(2 * before - 0.01 + fixed)


def test_the_mirror_is_added_only_when_the_gradient_turns_round():
    from pathlib import Path

    from allocator.model.diagnose import _rows_named

    england = allocator.load(Path(__file__).resolve().parents[1] / "scenarios" / "england-la")
    result = allocator.run(england.with_(sii_reduction=0.3))  # far from zero: the mirror cannot bind
    assert _rows_named(result.lp, "sii_reduction_mirror").size == 0
