"""An SII or gap reduction solved as an LP in suffix form, its optimum proven by a Lagrangian bound.

Under an SII or gap reduction the gains of the least deprived groups count against a constraint,
so the LP would like to fill their curves' segments out of order, and the exact model is a MILP
with a binary a line and breakpoint (`rows._fill_in_order`), in rows form, every line on its own:
at national scale (england-lsoa, 270,040 lines) not even its relaxation finishes in minutes.

Here the relaxation is written in suffix form instead (`lp.build(relaxed=True)`: lines merged,
each segment monotone along its service's need chain, some thirty rows, solved by sifting in
about a second).  Its optimum is the MILP's when a bound says so.  Dualise every row of the LP but
the suffix form's chain rows with the optimum's row prices ``y``; what is left separates by service
into "choose each line's fill, in order along its curve, intensity never falling as need rises",
with a linear cost per line and segment (the reduced costs, differenced along the chain).  That
problem is solved exactly by a dynamic programme over the need levels whose states are the
curve's breakpoints (equal-need lines in any order among themselves, as the MILP allows).  Its
value, plus the priced row bounds, is a lower bound on every allocation the MILP allows (weak
duality); the relaxation's allocation, filled in order, is one of them.  When the two meet (to
``EXACT``, or within HiGHS's own MIP gap), that allocation is the MILP's optimum, proven.

Equal-need lines lie along the chain in an order the suffix form imposes and the MILP does not;
when the bound does not meet, they are put in the order the bound's own solution gives them (each
line's best breakpoint under the prices) and the LP is solved again, a few times at most.  Merged
lines share need, value per pound, deprivation group and stream class, so every row's
coefficients on them are in proportion to their spend, and the bound over the groups is the bound
over the lines.  When nothing is proven `attempt` still says what is known (the best allocation
in order and the best bound, which bracket the optimum); the caller decides whether the MILP in
rows form is worth searching (`too_large_for_the_milp`).
"""

from __future__ import annotations

import dataclasses
import time

import numpy as np

from allocator.errors import InfeasibleError, SolverError
from allocator.format import plain, small_share
from allocator.model.highs import MIP_REL_GAP, Solution, Status, _objective, limited
from allocator.model.lp import LinearProgram, build
from allocator.scenario import Scenario

ROUNDS = 3  # LP solves at most: the first, then the equal-need lines reordered twice
EXACT = 1e-8  # a gap to the bound no further solve is tried for
TOLERANCE = 1e-7  # rows met by the allocation filled in order, relative to each row's scale (HiGHS's own)
PACE_FEASIBILITY = 1e-9  # the pace rows met as the rows form's MILP meets them
PREFIX_LIMIT = 3_000_000  # nonzeros of the pace rows in suffix form, where they apply (district scale)


def applies(scenario: Scenario) -> bool:
    """An SII or gap reduction on a model whose monotone rule is bounds in suffix form: with no
    pace of change, or one whose rows (each area's spend, a prefix of every chain) stay small."""
    return ((scenario.sii_reduction is not None or scenario.gap_reduction is not None)
            and scenario.objective != "fair-share" and scenario.proportionality == "monotone"
            and not np.any(np.asarray(scenario.min_slope) > 0)
            and (scenario.plan is None or scenario.plan.years <= 1)
            and (scenario.pace is None or _prefix_size(scenario) <= PREFIX_LIMIT))


def free_lines(scenario: Scenario) -> np.ndarray:
    """(S,) each service's lines the LP decides (not locked, someone to serve)."""
    return (~scenario.is_locked & (scenario.unit_spend > 0)).sum(axis=0)


def _prefix_size(scenario: Scenario) -> float:
    """The pace rows' nonzeros in suffix form: every line a prefix of its chain, a raise a piece."""
    lines = free_lines(scenario)
    pieces = np.array([len(m.units_per_head) for m in scenario.response_models])
    return float(np.sum(pieces * lines * (lines + 1) / 2))


def solve(scenario: Scenario, time_limit: float | None = None, transform=None,
          gap: float = MIP_REL_GAP, key: np.ndarray | None = None) -> tuple[LinearProgram, Solution] | None:
    """The MILP's optimum and the LP it solves (module docstring), or None if not proven within
    ``gap`` (relative).  ``transform(lp) -> lp``: another objective or rows over the same
    allocations (`allocator.model.diagnose.reduction_limit` minimises a gradient row).  A
    relaxation with no allocation proves nothing (its chain orders equal-need lines): None.
    ``key``: the first order of equal-need lines (`order_of` another solve's LP), if not by value."""
    found = attempt(scenario, time_limit, transform, gap, key)
    return None if found.solution is None else (found.lp, found.solution)


@dataclasses.dataclass(frozen=True)
class Attempt:
    """What `attempt` found: the proven optimum (``solution``), or else the best allocation in order
    (``incumbent``, in the objective's units, None if none) and the best bound (``bound``, None if none)."""

    lp: LinearProgram | None = None
    solution: Solution | None = None
    incumbent: float | None = None
    bound: float | None = None
    first: np.ndarray | None = None  # the relaxation's own allocation (where a MILP over it starts)


def attempt(scenario: Scenario, time_limit: float | None = None, transform=None, gap: float = MIP_REL_GAP,
            key: np.ndarray | None = None) -> Attempt:
    """`solve`, saying what is known when nothing is proven.  Every bound holds for every allocation
    (any prices give one), so the best of the rounds' bounds is taken with the best allocation."""
    began = time.perf_counter()
    limit = limited(time_limit)
    kept, bound, solved = None, -np.inf, (None, None)
    for rounds in range(1, ROUNDS + 1):
        lp = build(scenario, relaxed=True, tie_key=key)
        if transform is not None:
            lp = transform(lp)
        if scenario.pace is not None:
            lp = dataclasses.replace(lp, feasibility_tolerance=PACE_FEASIBILITY)
        if lp.integrality is not None or not lp.spend_sets[1]:
            return Attempt()
        left = None if limit is None else limit - (time.perf_counter() - began)
        if left is not None and left <= 0:
            break
        relaxed = _relaxation(lp, left)
        if relaxed is None or relaxed.row_dual is None:
            break
        solved = (lp, relaxed.x) if solved[0] is None else solved
        found = certify(lp, relaxed.x, relaxed.row_dual)
        bound = max(bound, found.bound)
        if found.x is not None and (kept is None or lp.cost @ found.x < kept[0].cost @ kept[2]):
            kept = (lp, relaxed, found.x, rounds)
        if kept is not None and _gap(kept[0].cost @ kept[2], bound) <= EXACT:
            break
        if key is not None and np.array_equal(np.argsort(found.key, kind="stable"), np.argsort(key, kind="stable")):
            break  # the same order again: the same optimum
        if key is None and _keeps_order(lp, found.key):
            break  # built in the default order, which the prices' order leaves as it is
        key = found.key
    if kept is None:
        return Attempt(lp=solved[0], bound=_in_units(lp, bound) if np.isfinite(bound) else None, first=solved[1])
    lp, relaxed, x, rounds = kept
    apart = _gap(lp.cost @ x, bound)
    if apart > gap:
        return Attempt(lp=lp, incumbent=_objective(lp, x), bound=_in_units(lp, bound) if np.isfinite(bound) else None,
                       first=relaxed.x)
    again = "" if rounds == 1 else f", equal-need lines reordered {rounds - 1}x"
    name = (f"{relaxed.solver}; the relaxation in suffix form fills in order and meets its Lagrangian "
            f"bound to {max(apart, 0.0):.1e}{again}")
    return Attempt(lp=lp, solution=dataclasses.replace(
        relaxed, x=x, objective=_objective(lp, x), status=Status.OPTIMAL, solver=name,
        seconds=time.perf_counter() - began), incumbent=_objective(lp, x), bound=_in_units(lp, bound),
        first=relaxed.x)


MILP_LINES = 50_000  # free lines above which the MILP in rows form is not searched (it would run for hours)


def too_large_for_the_milp(scenario: Scenario) -> bool:
    """More free lines than the rows form's MILP can search (england-lsoa: 270,040)."""
    return int(free_lines(scenario).sum()) > MILP_LINES


def unproven(found: Attempt, scenario: Scenario) -> SolverError:
    """`SolverError` (exit code 1) for a national-scale gradient constraint not proven: the best
    allocation in order and the bound, as a time limit reports them."""
    text = ("the gradient constraint's relaxation in suffix form could not be proven optimal, and the MILP in "
            f"rows form is too large to search at this scale ({scenario.n_areas:,} areas)")
    if found.incumbent is not None and found.bound is not None:
        gap = abs(found.bound - found.incumbent) / max(abs(found.incumbent), 1e-12)
        text += (f": the best allocation found reaches an objective of {plain(found.incumbent, 6)} and none can "
                 f"reach more than {plain(found.bound, 6)} (a gap of {small_share(gap)}); ask for a little less")
    else:
        text += ": no allocation meeting every rule was found; ask for less"
    error = SolverError(text)
    error.incumbent, error.bound = found.incumbent, found.bound
    return error


def _gap(found: float, bound: float) -> float:
    """How far the allocation's cost lies above the bound, relative to it (minimising)."""
    return float((found - bound) / max(abs(found), 1e-12))


def _in_units(lp: LinearProgram, cost: float) -> float:
    """A value of the LP's cost in the objective's units (as `highs._objective`)."""
    value = float(cost) / lp.objective_scale
    return -value if lp.maximize else value


def _relaxation(lp: LinearProgram, time_limit: float | None) -> Solution | None:
    """The relaxation's optimum with its row prices; None if it has none (or sifting failed on it:
    a wide LP is not handed to interior point, which takes minutes at national scale)."""
    from allocator.model import sifting, solver

    try:
        if sifting.applies(lp):
            return sifting.solve(lp, time_limit)
        return solver.solve(lp, time_limit=time_limit)
    except InfeasibleError:
        return None


def _keeps_order(lp: LinearProgram, key: np.ndarray) -> bool:
    """True when ``lp`` (built in the default order) would be built again in the same order with
    ``key`` as its order of equal-need groups (`build` sorts each chain stably by need, then key)."""
    need = lp.groups.need
    return all(np.array_equal(mine, mine[np.lexsort((key[mine], need[mine]))])
               for mine in map(np.asarray, lp.groups.order))


def order_of(lp: LinearProgram) -> np.ndarray:
    """Each line group's position along its chain in ``lp``: a ``key`` for `solve`."""
    key = np.zeros(len(lp.groups.service))
    for mine in lp.groups.order:
        key[mine] = np.arange(len(mine))
    return key


@dataclasses.dataclass(frozen=True)
class Certificate:
    """The allocation filled in order (None if it breaks a row), the bound (the LP's cost: no
    allocation in order costs less), and each line group's best breakpoint under the prices (the
    next chain order of equal-need groups)."""

    x: np.ndarray | None
    bound: float
    key: np.ndarray


def certify(lp: LinearProgram, x: np.ndarray, y: np.ndarray) -> Certificate:
    """The Lagrangian bound of the module docstring for ``lp`` at prices ``y``, and ``x`` in order."""
    chain = _chain_rows(lp)
    priced = np.where(chain, 0.0, y)
    # any prices bound every allocation (weak duality) if each pushes against a finite side
    priced = np.where(np.isinf(lp.row_lower), np.minimum(priced, 0.0), priced)
    priced = np.where(np.isinf(lp.row_upper), np.maximum(priced, 0.0), priced)
    reduced = lp.cost - lp.matrix.T @ priced
    # the priced rows at the bound their price pushes against (minimising: y > 0 at the lower)
    side = np.where(priced > 0, lp.row_lower, lp.row_upper)
    with np.errstate(invalid="ignore"):
        rows = np.where(priced != 0, priced * side, 0.0)
    bound = float(rows.sum())
    key = np.zeros(len(lp.groups.service))
    inside = np.zeros(lp.n_cols, bool)
    filled = x.copy()
    for s, sets in _by_service(lp).items():
        mine = sets[0][0]
        cols = np.stack([c for _, c, _, _ in sets])  # (K, n)
        inside[cols.ravel()] = True
        length = lp.col_upper[cols[:, 0]]
        d = reduced[cols]
        e = d - np.concatenate([d[:, 1:], np.zeros((len(d), 1))], axis=1)  # per line and segment
        value, best = _least(e, length, lp.groups.need[mine])
        bound += value
        key[mine] = best
        filled[cols] = _in_order(x[cols], length)
    others = ~inside
    r = reduced[others]
    low = np.where(r > 0, lp.col_lower[others], lp.col_upper[others])
    r = np.where(np.isinf(low) & (np.abs(r) <= 1e-9 * max(1.0, np.abs(lp.cost).max(initial=0))), 0.0, r)
    with np.errstate(invalid="ignore"):
        bound += float(np.where(r != 0, r * low, 0.0).sum())
    if not np.isfinite(bound):
        return Certificate(None, bound, key)
    activity = lp.matrix @ filled
    scale = np.maximum(1.0, abs(lp.matrix) @ np.abs(filled))
    meets = (np.all(activity >= lp.row_lower - TOLERANCE * scale)
             and np.all(activity <= lp.row_upper + TOLERANCE * scale))
    return Certificate(filled if meets else None, bound, key)


def _chain_rows(lp: LinearProgram) -> np.ndarray:
    """The suffix form's chain rows (``sum_t raise[s,k,t] <= length``): kept, not priced."""
    chain = np.zeros(lp.n_rows, bool)
    csc = lp.matrix.tocsc()
    row_nnz = np.diff(lp.matrix.tocsr().indptr)
    for _, cols, _, _ in lp.spend_sets[1]:
        first = cols[0]
        rows = csc.indices[csc.indptr[first]:csc.indptr[first + 1]]
        vals = csc.data[csc.indptr[first]:csc.indptr[first + 1]]
        for r, v in zip(rows, vals):
            if v == 1.0 and row_nnz[r] == len(cols) and np.isinf(lp.row_lower[r]):
                chain[r] = True
    return chain


def _by_service(lp: LinearProgram) -> dict[int, list]:
    out: dict[int, list] = {}
    for item in lp.spend_sets[1]:
        out.setdefault(item[2], []).append(item)
    return {s: sorted(sets, key=lambda item: item[3]) for s, sets in out.items()}


def _in_order(x: np.ndarray, length: np.ndarray) -> np.ndarray:
    """Raise columns (K, n) whose lines keep their intensity with every segment filled in order."""
    above = np.cumsum(x, axis=1).sum(axis=0)  # each line's intensity above the floor
    starts = np.concatenate([[0.0], np.cumsum(length)[:-1]])
    fill = np.clip(above[None, :] - starts[:, None], 0.0, length[:, None])
    return np.diff(fill, axis=1, prepend=0.0)


def _least(e: np.ndarray, length: np.ndarray, need: np.ndarray) -> tuple[float, np.ndarray]:
    """min sum_t e[k,t] fill[k,t] over fills in order along the curve, intensity never falling as
    need rises (equal needs in any order), and each line's best breakpoint: the dynamic programme
    of the module docstring, by state, each state's pass a running minimum over the levels."""
    K, n = e.shape
    if not np.isfinite(length[-1]):
        if np.any(e[-1] < 0):
            return -np.inf, np.zeros(n)
        e, length, K = e[:-1], length[:-1], K - 1  # never worth entering: stop at its start
    P = K + 1
    at = np.zeros((n, P))  # cost of each line at each breakpoint
    at[:, 1:] = np.cumsum(e * length[:, None], axis=0).T
    best = np.argmin(at, axis=1).astype(float)
    starts = np.concatenate([[0], np.flatnonzero(np.diff(need) > 0) + 1])
    # h[l, i, j]: a level's least cost with its lines between breakpoints i <= j
    h = np.full((len(starts), P, P), np.inf)
    for i in range(P):
        low = at[:, i].copy()
        for j in range(i, P):
            low = np.minimum(low, at[:, j])
            h[:, i, j] = np.add.reduceat(low, starts)
    W = np.full((P, len(starts)), np.inf)  # least cost up to each level, its top breakpoint j
    for j in range(P):
        if j == 0:
            T = np.full(len(starts), np.inf)
            T[0] = h[0, 0, 0]
        else:
            prev = np.vstack([np.concatenate([[0.0 if i == 0 else np.inf], W[i, :-1]]) for i in range(j)])
            T = (prev + h[:, :j, j].T).min(axis=0)
        S = np.cumsum(h[:, j, j])
        with np.errstate(invalid="ignore"):
            W[j] = S + np.minimum.accumulate(np.where(np.isfinite(T), T - S, np.inf))
    return float(W[:, -1].min()), best
