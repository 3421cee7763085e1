"""A MILP proven by a few strong branchings by hand, before HiGHS's branch and bound is called.

`allocator.model.suffix_milp`'s MILPs (an SII or gap reduction near its limit at district scale)
close within a branching or two: branch on the right binary, and the better child's allocation,
put in order, is within the MIP gap of the better child's bound.  HiGHS takes long to get there:
at england-la with an SII reduction of 0.48 it solves the root LP (interior point, 2 s), waits for
an analytic centre (interior point again, without presolve), runs root separation that finds no
cut, and strong-branches on every fractional binary (3,850 simplex iterations): 8.6 s in all.

Here the root LP is solved once (interior point with crossover, for a basis) and every other LP by
dual simplex (Devex pricing) from its parent's basis (0.02 s each at that size), the candidates of
a node split between two HiGHS instances that solve side by side (HiGHS releases the GIL; each
instance takes its share in a fixed order, so a run is repeatable).  The search is best first: the open
node of the best bound is branched on the candidate binary whose two children bound it tightest
(strong branching), both children kept.  No allocation beats the best bound of the open nodes, so
an allocation in order within `MIP_REL_GAP` of it is the MILP's optimum, as HiGHS's own stopping
rule has it.  The binaries of one segment of one service (a run of lines the relaxation filled out
of order) mostly give the same two children, so each run is tried at a few positions only.

Each child LP of a strong branching stops once its dual objective passes the best allocation found
(HiGHS's objective bound): such a child is closed, and its exact value never mattered.  At
england-la's gap limit the children that moved furthest took 1,000-2,235 iterations; cut off,
100-560, and the limit fell from 18 to 10-11 s (benchmarks/README.md "Session 27").

Where strong branching finds no binary that moves the bound (every candidate leaves one child as
good as its node: the bound is right and the allocation is missing), the search dives instead,
one candidate a node, following the child as good as its node until an LP's binaries are whole
(`_Search.dive`): england-la's gap reduction of 0.43, eleven strong branchings and repairs
(12 s) -> one dive (0.1 s), benchmarks/README.md "Session 27".

An allocation in order is sought cheaply at every node (its lines filled in order, kept only if
every row still holds) and, when that finds none close enough, by the caller's repair (an LP) at
the node behind the best bound: after the first branching, and when the search stops.  Unproven,
`prove` says None and the caller hands the MILP to HiGHS (the LPs here then the time lost: a few
seconds at most, `MOST`).
"""

from __future__ import annotations

import dataclasses
import heapq
import time
from collections.abc import Callable, Sequence

import numpy as np

from allocator.model.highs import (
    MIP_REL_GAP,
    keep_basis,
    limited,
    new_highs,
    pass_model,
    warm_basis,
    warm_key,
)
from allocator.model.lp import LinearProgram

POSITIONS = (0.0, 0.25, 0.5, 0.75, 1.0)  # where along each run of binaries a branching is tried
PER_NODE = 12  # candidate binaries strong-branched at one node at most
MOST = 100  # candidate binaries strong-branched in all (two child LPs each)
STALL = 1  # branchings without the bound moving before the node behind it is repaired and, if it needs
# more binaries, the MILP is left: england-la's frontiers, every point and limit branched as often or
# less than with 2 (the gap frontier two branchings fewer, the SII frontier two; session 25)
PAST = 1e-8  # an allocation past the best bound by more than this (relative) is not taken; HiGHS's
# objective and the one recomputed from an allocation put in order differ by about 1e-9 (england-la:
# a repair 1.3e-9 past its node's bound at a gap reduction of 0.45, which 1e-9 refused and nothing proved)
DEVEX = 1  # HiGHS's simplex_dual_edge_weight_strategy for Devex pricing
WORKERS = 2  # HiGHS instances strong branching side by side (threads: 2 cores at most here)
FRACTIONAL = 1e-6  # a binary this far from 0 and 1 is fractional (HiGHS's integrality tolerance)
FLAT = 0.01  # a branching whose better child bounds its node within this share of the distance to the best
# allocation found (of the MIP gap, with none found) leaves the proof to an allocation, not to the bound:
# the search dives (`_Search.dive`), if strong branching chose it among several candidates
DIVE = 16  # branchings of one dive at most
SCORING = 1e-7  # primal feasibility of the strong-branching LPs (HiGHS's default), where the MILP asks for
# less (a pace of change: 1e-9); the chosen children are solved again at the MILP's own.  At 1e-9 a child
# optimal in the scaled LP after 89 iterations can spend 650 more, 13 s, removing unscaled infeasibilities
# of 1e-7 one at a time (england-la's gap reduction of 0.42: one child of 24, 15.7 s of a 16 s branching)


@dataclasses.dataclass(frozen=True)
class Proof:
    kind: str  # "proven": ``point`` is the optimum; "more": ``x`` is the MILP's optimum (its binaries
    # whole) or needs more binaries (`incomplete`), no point within the gap; "stopped": the clock or
    # `MOST` ended the search, ``point`` (if any) the best allocation in order found; "grow": the root
    # LP (``x``) is `incomplete` and ``grow_at_root`` was asked
    point: np.ndarray | None  # an allocation in order (the caller's `value` or `repair`)
    found: float | None  # the point's objective (own units)
    bound: float  # no allocation of the MILP does better (own units)
    x: np.ndarray  # the LP solution behind the bound (the MILP's columns)
    tried: int  # candidate binaries branched on
    version: str  # HiGHS's
    root: object = None  # the root LP's optimal basis, for a larger MILP to start from
    branchings: tuple = ()  # (a branched node's fixed binaries, the binary it was branched on), in order


Found = Callable[[np.ndarray], "tuple[float, np.ndarray] | None"]  # an LP's x -> (objective, allocation in order)


@dataclasses.dataclass(order=True)
class _Node:
    key: float  # the bound, negated when maximising: the heap's least is the best
    seq: int
    bound: float = dataclasses.field(compare=False)
    fixed: tuple = dataclasses.field(compare=False)  # (column, 0 or 1) pairs
    x: np.ndarray = dataclasses.field(compare=False, repr=False)
    basis: object = dataclasses.field(compare=False, repr=False)  # where its children's LPs start


def prove(milp: LinearProgram, runs: Sequence, value: Found, repair: Found,
          incomplete: Callable[[np.ndarray], bool], time_limit: float | None = None, start=None,
          grow_at_root: bool = False, plan: dict | None = None) -> Proof | None:
    """``milp`` searched by strong branching (`Proof.kind`), or None if its root LP has no optimum
    (or no time to find one).  ``runs[i]``: the run the i-th binary belongs to (binaries in column
    order, positions rising within a run); ``value(x)`` and ``repair(x)``: an allocation in order
    made from an LP's ``x`` and its objective (own units), cheaply or by an LP, or None;
    ``incomplete(x)``: ``x`` fills out of order lines that have no binary, so that a larger MILP is
    needed whatever this one's optimum (the search gives up on it once the bound stops moving,
    `STALL`, and returns ``x`` without a point).  ``start``: a basis of the root LP to solve it
    from by dual simplex (a smaller MILP's root, `Proof.root`); ``grow_at_root``: a root LP that is
    `incomplete` says "grow" at once, before any branching (its binaries are not the MILP's);
    ``plan``: {a node's fixed binaries (a frozenset of pairs): the binary to branch it on}, a
    smaller MILP's `Proof.branchings`, branched on without strong branching (any branching is
    valid, and the binaries that moved a smaller MILP's bound mostly move a larger's)."""
    began = time.perf_counter()
    h = new_highs()
    from allocator.errors import SolverError
    from allocator.model.solver import _configure

    relaxed = dataclasses.replace(milp, integrality=None)
    key = warm_key(relaxed)  # inside a `warm_starts` block (a frontier): the root LP of the point before
    basis = warm_basis(key) if start is None else start
    try:
        _configure(h, relaxed, "ipm" if basis is None else "simplex", time_limit)
    except SolverError:  # the command's time is up before the search starts
        return None
    pass_model(h, relaxed)
    if basis is not None:
        h.setBasis(basis)
    h.run()
    if not _optimal(h):
        return None
    keep_basis(key, h.getBasis())
    root = np.asarray(h.getSolution().col_value, dtype=float)
    if grow_at_root and incomplete(root):
        return Proof("grow", None, None, _units(milp, h), root, 0, h.version(), h.getBasis())
    _for_children(h, relaxed)
    hs = [h] + [t for t in (_twin(relaxed, time_limit) for _ in range(1, WORKERS)) if t is not None]
    search = _Search(hs, milp, runs, value, plan or {})
    search.root = h.getBasis()
    search.push((), (_units(milp, h), root, h.getBasis()))
    repaired, moved = set(), [search.best().bound]  # the best bound after each branching
    while True:
        node = search.best()
        if search.proven(node.bound):
            return _proof(search, node, h)
        stop = search.tried >= MOST or _out_of_time(time_limit, began, hs)
        stalled = len(moved) > STALL and abs(moved[-1 - STALL] - node.bound) <= 1e-9 * max(1.0, abs(node.bound))
        if (stop or stalled or search.branched == 1) and node.seq not in repaired:
            repaired.add(node.seq)
            search.offer(repair(node.x))
            continue
        if stalled:
            if incomplete(node.x):  # more binaries are needed whatever this MILP's optimum
                return _proof(search, node, h, "more")
            moved = moved[-1:]  # STALL more branchings before the next repair
        if stop:  # the clock or `MOST`: what is known, for HiGHS (or the error) to go on from
            return _proof(search, node, h, "stopped")
        if not search.branch(node):
            if not search.open:  # every node closed: by the best allocation (`_Search._cutoff`), or none
                return _proof(search, node, h, "proven" if search.found is not None else "stopped")
            if _out_of_time(time_limit, began, hs):
                return _proof(search, node, h, "stopped")
            if search.whole is node or incomplete(node.x):  # solved, or more binaries needed
                return _proof(search, node, h, "more")
            return _proof(search, node, h, "stopped")
        if search.flat is not None:
            short = search.dive(incomplete)
            if short is not None:  # as good as the bound, but more binaries needed: the next round's
                return _proof(search, short, h, "more")
            if not search.open:
                return _proof(search, node, h, "proven" if search.found is not None else "stopped")
        moved.append(search.best().bound)


def _proof(search, node: _Node, h, kind: str = "proven") -> Proof:
    point, found = (search.point, search.found) if kind != "more" else (None, None)
    # ``node``'s, or a better open node's (a dive's); with every node closed, the best allocation's
    bound = search.best().bound if search.open else (found if kind == "proven" else node.bound)
    if kind == "proven":  # a point a hair past the bound (`PAST`): no allocation does better than it
        bound = max(bound, found) if search.maximize else min(bound, found)
    return Proof(kind, point, found, bound, node.x, search.tried, h.version(), search.root, tuple(search.branchings))


class _Search:
    """The open nodes (a heap, best bound first) and the best allocation in order found."""

    def __init__(self, hs: list, milp: LinearProgram, runs: Sequence, value: Found, plan: dict):
        self.hs, self.milp, self.runs, self.value, self.plan = hs, milp, runs, value, plan
        self.branchings: list = []
        self.binaries = np.flatnonzero(milp.integrality == 1)
        self.maximize = milp.maximize
        self.open: list[_Node] = []
        self.found, self.point, self.tried, self.pushed, self.branched = None, None, 0, 0, 0
        self.whole = None  # a node whose binaries are all whole, found best
        self.flat = None  # the better child of the last branching, if it bounds its parent as well (`FLAT`)
        self.root = None  # the root LP's basis

    def push(self, fixed: tuple, solved: tuple) -> None:
        """An open node: its binaries ``fixed`` and its LP ``solved`` (bound, solution, basis)."""
        bound, x, basis = solved
        self.pushed += 1
        heapq.heappush(self.open, _Node(-bound if self.maximize else bound, self.pushed, bound, fixed, x, basis))
        self.offer(self.value(x))

    def offer(self, found: tuple[float, np.ndarray] | None) -> None:
        """Keep ``found`` if better than the best so far, unless it passes the best bound: an
        allocation of the MILP cannot, so that one meets some row only within its tolerance (filling
        a child's lines in order can push the gradient row that far) and is no proof."""
        if found is None or (self.found is not None and (found[0] <= self.found) == self.maximize):
            return
        bound = self.open[0].bound
        if ((found[0] - bound) if self.maximize else (bound - found[0])) > PAST * max(1.0, abs(bound)):
            return
        self.found, self.point = found

    def best(self) -> _Node:
        return self.open[0]

    def proven(self, bound: float) -> bool:
        if self.found is None:
            return False
        worse = (bound - self.found) if self.maximize else (self.found - bound)
        past = -worse > PAST * max(1.0, abs(bound))  # taken when the bound was looser: no proof
        return not past and worse / max(abs(self.found), 1e-12) <= MIP_REL_GAP

    def branch(self, node: _Node) -> bool:
        """Replace ``node`` (the best open one) by its children on the candidate binary that bounds
        them tightest; False if it has no fractional binary left or no candidate's LPs finished."""
        candidates = _candidates(node.x, self.binaries, self.runs, {c for c, _ in node.fixed})
        if not candidates:
            self.whole = node
        chosen, planned = None, self.plan.get(frozenset(node.fixed))
        if planned is not None and candidates and FRACTIONAL < node.x[planned] < 1.0 - FRACTIONAL:
            chosen = self._scored(node, [planned])  # as a smaller MILP was branched here: no strong branching
        strong = chosen is None  # (or HiGHS left a planned child short: the candidates after all)
        if strong:
            chosen = self._scored(node, candidates[:min(PER_NODE, MOST - self.tried)])
        if chosen is None:
            return False
        kept = self._exact(chosen[1])
        if kept is None:
            return False
        heapq.heappop(self.open)
        self._replace(node, chosen[2], kept)
        if not strong or len(candidates) < 2:
            self.flat = None  # one candidate tried: another might have moved the bound
        return bool(self.open)

    def _replace(self, node: _Node, j: int, kept: list) -> None:
        """``node`` (out of the heap) branched on binary ``j``: its children ``kept`` pushed, and
        `flat` set to the better one if that bounds ``node`` within `FLAT` of what a proof needs."""
        self.branched += 1
        self.branchings.append((node.fixed, j))
        for fixed, solved in kept:
            self.push(fixed, solved)
        children = [c for c in self.open if c.seq > self.pushed - len(kept)]
        better = min(children, default=None)  # the heap's order: the best bound first
        need = MIP_REL_GAP * max(abs(node.bound), 1e-12) if self.found is None else abs(node.bound - self.found)
        self.flat = better if better is not None and abs(node.bound - better.bound) <= FLAT * need else None

    def dive(self, incomplete: Callable[[np.ndarray], bool]) -> _Node | None:
        """Down from the last branching's `flat` child: when strong branching cannot move the bound
        (every candidate leaves one child as good as its node), only an allocation as good as the
        bound proves the MILP, and an LP whose binaries are whole gives one.  Each node on the way is
        branched on its first candidate only (two LPs, where strong branching solves 24), both
        children kept as open nodes, the flat one followed; until an allocation proves the MILP, a
        branching moves the bound, the node needs binaries it does not have (returned), `DIVE` or `MOST`."""
        node, steps = self.flat, 0
        while node is not None and steps < DIVE and self.open and not self.proven(self.best().bound) \
                and self.tried < MOST:
            if incomplete(node.x):
                return node
            steps += 1
            candidates = _candidates(node.x, self.binaries, self.runs, {c for c, _ in node.fixed})
            chosen = self._scored(node, candidates[:1]) if candidates else None
            kept = None if chosen is None else self._exact(chosen[1])
            if kept is None:
                return None
            self.open.remove(node)
            heapq.heapify(self.open)
            self._replace(node, chosen[2], kept)
            node = self.flat
        return None

    def _scored(self, node: _Node, tried: list[int]) -> tuple | None:
        """(the bound of the worse child, the children kept, the binary) of the candidate in
        ``tried`` whose children bound ``node`` tightest; None if no candidate's LPs finished."""
        chosen = None
        self.tried += len(tried)
        for j, children in zip(tried, self._strong(node, tried)):
            if any(c is _UNKNOWN for c in children):
                continue  # HiGHS left a child short of feasible (or the clock stopped it): no bound
            kept = [(node.fixed + ((j, v),), c) for v, c in zip((0.0, 1.0), children) if c is not None]
            worst = max((c[0] for _, c in kept), default=-np.inf) if self.maximize else \
                min((c[0] for _, c in kept), default=np.inf)
            if chosen is None or (worst < chosen[0]) == self.maximize:
                chosen = (worst, kept, j)
        return chosen

    def _exact(self, kept: list) -> list | None:
        """The chosen children solved again at the MILP's own feasibility tolerance, from their bases
        (`SCORING`), the infeasible ones dropped; None if HiGHS stops short on one."""
        if not _strict(self.milp):
            return kept
        h = self.hs[0]
        h.setOptionValue("primal_feasibility_tolerance", self.milp.feasibility_tolerance)
        try:
            again = [(fixed, _child(h, self.milp, solved[2], fixed)) for fixed, solved in kept]
        finally:
            h.setOptionValue("primal_feasibility_tolerance", SCORING)
        if any(solved is _UNKNOWN for _, solved in again):
            return None
        return [(fixed, solved) for fixed, solved in again if solved is not None]

    def _strong(self, node: _Node, tried: list[int]) -> list[list]:
        """Both children of each candidate in ``tried``, from ``node``'s basis: the candidates split
        between the HiGHS instances by position (the i-th to instance i mod `WORKERS`, each taking
        its share in order, so that every run does the same solves on the same instance)."""
        def share(k: int) -> list:
            h = self.hs[k]
            h.setOptionValue("objective_bound", self._cutoff())
            try:
                return [[_child(h, self.milp, node.basis, node.fixed + ((j, v),)) for v in (0.0, 1.0)]
                        for j in tried[k::len(self.hs)]]
            finally:
                h.setOptionValue("objective_bound", np.inf)

        if len(self.hs) == 1 or len(tried) < 2:
            shares = [share(0)] + [[] for _ in self.hs[1:]]
        else:  # HiGHS releases the GIL while it solves: the instances run side by side
            from concurrent.futures import ThreadPoolExecutor

            with ThreadPoolExecutor(len(self.hs)) as pool:
                shares = list(pool.map(share, range(len(self.hs))))
        out = [None] * len(tried)
        for k, done in enumerate(shares):
            out[k::len(self.hs)] = done
        return out

    def _cutoff(self) -> float:
        """The best allocation's objective in HiGHS's terms (minimised, scaled): a child LP whose
        dual simplex passes it is no better than that allocation, and HiGHS stops it there (its
        objective then exact, not perturbed); infinite with none found."""
        if self.found is None:
            return np.inf
        return (-self.found if self.maximize else self.found) * self.milp.objective_scale


def _twin(relaxed: LinearProgram, time_limit: float | None):
    """Another HiGHS instance holding the root LP, for child LPs solved beside the first's (None if
    the command's time is up)."""
    from allocator.errors import SolverError
    from allocator.model.solver import _configure

    h = new_highs()
    try:
        _configure(h, relaxed, "simplex", time_limit)
    except SolverError:  # the command's time is up: the search goes on with one instance
        return None
    pass_model(h, relaxed)
    _for_children(h, relaxed)
    return h


def _for_children(h, relaxed: LinearProgram) -> None:
    """Dual simplex with Devex pricing for the child LPs.  With HiGHS's default (dual steepest edge,
    its weights set up again after every `setBasis`) a child on a second instance took 0.1-0.3 s where
    the first instance took 0.02 s (england-la's SII limit: branchings of 2.1-2.7 s against 0.5-0.9 s);
    with Devex both take the same, and the SII limit's search fell from 10.0 to 5.8 s."""
    h.setOptionValue("solver", "simplex")
    h.setOptionValue("simplex_dual_edge_weight_strategy", DEVEX)
    if _strict(relaxed):
        h.setOptionValue("primal_feasibility_tolerance", SCORING)


def _strict(milp: LinearProgram) -> bool:
    """Whether the MILP asks for a primal feasibility tighter than the strong branching's."""
    return milp.feasibility_tolerance is not None and milp.feasibility_tolerance < SCORING


def _candidates(x: np.ndarray, binaries: np.ndarray, runs: Sequence, fixed: set) -> list[int]:
    """Fractional binaries to branch on: a few positions along each run, the largest runs first."""
    keyed: dict = {}
    for col, run in zip(binaries, runs):
        if col not in fixed and FRACTIONAL < x[col] < 1.0 - FRACTIONAL:
            keyed.setdefault(run, []).append(int(col))
    out = []
    for members in sorted(keyed.values(), key=len, reverse=True):
        picks = sorted({round(p * (len(members) - 1)) for p in POSITIONS})
        out += [members[i] for i in picks]
    return out


_UNKNOWN = object()  # an LP HiGHS stopped short on (time limit, numerical trouble)


def _child(h, milp: LinearProgram, basis, fixed: tuple):
    """The LP with the binaries ``fixed``, from ``basis`` (its parent's): (objective in own units,
    solution, basis); None if it has no allocation; `_UNKNOWN` if HiGHS stopped short."""
    import highspy

    cols = np.array([c for c, _ in fixed], dtype=np.int32)
    values = np.array([v for _, v in fixed], dtype=float)
    h.changeColsBounds(len(cols), cols, values, values)
    h.clearSolver()  # the simplex's state from the child before set aside: a child solved after others
    # on the same instance took 1.1 s where a fresh instance from the same basis took 0.2 s (england-la's
    # gap limit alone 23 -> 18 s, benchmarks/README.md "Session 26")
    h.setBasis(basis)
    try:
        h.run()
        if h.getModelStatus() in (highspy.HighsModelStatus.kInfeasible, highspy.HighsModelStatus.kObjectiveBound):
            return None  # no allocation, or none better than the best found (`_Search._cutoff`)
        if not _optimal(h):
            return _UNKNOWN
        return _units(milp, h), np.asarray(h.getSolution().col_value, dtype=float), h.getBasis()
    finally:
        h.changeColsBounds(len(cols), cols, np.zeros(len(cols)), np.ones(len(cols)))


def _optimal(h) -> bool:
    import highspy

    info = h.getInfo()  # an LP's objective bounds its node only if both its solutions are feasible
    return (h.getModelStatus() == highspy.HighsModelStatus.kOptimal and info.primal_solution_status == 2
            and info.dual_solution_status == 2)


def _units(milp: LinearProgram, h) -> float:
    value = float(h.getInfo().objective_function_value) / milp.objective_scale
    return -value if milp.maximize else value


def _out_of_time(time_limit: float | None, began: float, hs: list) -> bool:
    """Whether the search's time (its own limit, or the command's: `highs.limited`) is up; else
    HiGHS's limit set to what is left.  HiGHS counts an instance's time over all its runs, so the
    limit is its clock so far plus what is left."""
    from allocator.errors import SolverError

    try:
        left = limited(None if time_limit is None else max(time_limit - (time.perf_counter() - began), 1e-3))
    except SolverError:  # the command's time is up
        return True
    if left is not None:
        for h in hs:
            h.setOptionValue("time_limit", float(h.getRunTime() + left))
    return left is not None and left <= 1e-3
