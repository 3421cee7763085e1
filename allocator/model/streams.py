"""Every budget line split by funding stream (and a pooled stream by partner), to the penny.

The LP pays each class of areas x service from its streams (`allocator.model.money`);
here that is turned into pennies per line and stream that add up exactly both ways:
each line's streams to the line's spend, each stream's lines to the stream's total.
Two small steps:

1. blocks (class x service) x streams: the LP's amounts rounded, and the pennies left
   over routed through eligible cells only by a tiny transportation LP (its matrix is
   totally unimodular, so its optimal vertex is whole pennies);
2. within a block every stream may pay every line: each line takes the block's streams
   in proportion, rounded down, and the remainder is filled by the north-west corner rule.

Partners of a pooled stream: each partner's total is its share of the stream's, and every
line is shared out between them the same way (step 2).
"""

from __future__ import annotations

import numpy as np

from allocator.errors import InvariantError
from allocator.model.highs import new_highs

INF = np.inf


def split(scenario, lp, x: np.ndarray, spend: np.ndarray, totals: np.ndarray | None = None) -> np.ndarray:
    """(F, A, S) GBP of each stream on each line; sums to ``spend`` per line.

    ``totals`` (F,): each stream's spend in GBP (default: its amount when it must be spent
    exactly, else what the LP spent of it).  ``spend`` must be lines the streams can pay
    exactly (`settle`).
    """
    money = lp.money
    F, (A, S) = len(scenario.streams), spend.shape
    y, eligible, pennies, line_total, stream_total = _margins(scenario, lp, x, spend, totals)
    blocks = _blocks(np.round(y * 100), eligible, line_total, stream_total)
    out = np.zeros((F, A, S), np.int64)
    for cs in np.flatnonzero(line_total > 0):
        c, s = divmod(int(cs), S)
        areas = np.flatnonzero(money.classes == c)
        out[:, areas, s] = _within(pennies[areas, s], blocks[cs]).T
    return out / 100.0


def _margins(scenario, lp, x: np.ndarray, spend: np.ndarray, totals: np.ndarray | None):
    """The LP's pennies per block (class x service) and stream, which cells are eligible, the
    lines' pennies, and the two margins a split must meet: each block's lines, each stream."""
    money = lp.money
    S = spend.shape[1]
    C = int(money.classes.max()) + 1
    y = np.zeros((C * S, len(scenario.streams)))
    cols = money.stream_cols
    np.add.at(y, (cols[:, 2] * S + cols[:, 3], cols[:, 1]), x[cols[:, 0]] / lp.budget_scale)
    eligible = np.zeros(y.shape, bool)
    eligible[cols[:, 2] * S + cols[:, 3], cols[:, 1]] = True
    pennies = np.round(spend * 100).astype(np.int64)
    line_total = np.bincount(_block_of_line(money.classes, S).ravel(), weights=pennies.ravel(),
                             minlength=C * S).round().astype(np.int64)
    if totals is None:
        totals = np.array([f.amounts[scenario.year] if scenario.budget_mode == "exact" and not f.carry_over
                           else y[:, k].sum() for k, f in enumerate(scenario.streams)])
    stream_total = np.round(np.asarray(totals) * 100).astype(np.int64)
    # the pennies the rounding leaves go to a stream whose total is not fixed, if there is one
    flexible = [k for k, f in enumerate(scenario.streams) if f.carry_over or scenario.budget_mode != "exact"]
    take = flexible[int(np.argmax(stream_total[flexible]))] if flexible else int(np.argmax(stream_total))
    stream_total[take] += line_total.sum() - stream_total.sum()
    return y, eligible, pennies, line_total, stream_total


def _block_of_line(classes: np.ndarray, S: int) -> np.ndarray:
    return classes[:, None] * S + np.arange(S)[None, :]


def settle(scenario, lp, x: np.ndarray, spend: np.ndarray, unrounded: np.ndarray,
           totals: np.ndarray | None = None) -> np.ndarray:
    """(A, S) ``spend`` in whole pennies, with the fewest pennies moved between blocks of lines
    (class x service) so that the streams can pay it exactly; the total is unchanged.

    Lines are rounded to the penny one by one.  A stream that must spend all its amount on
    lines only it may fund (a ring-fenced grant larger than those lines would otherwise get)
    meets lines whose rounded total can come out a penny short, and then no split exists.
    Each penny moved goes to (or comes from) the free line whose rounding lost (or gained)
    the most against ``unrounded``, the LP's spend, so every line stays within about a penny
    of it.
    """
    _, eligible, pennies, line_total, stream_total = _margins(scenario, lp, x, spend, totals)
    move = _block_moves(eligible, line_total, stream_total)
    if not move.any():
        return spend
    S = spend.shape[1]
    block = _block_of_line(lp.money.classes, S).ravel()
    free = (lp.groups.line_group >= 0).ravel() & (scenario.unit_spend > 0).ravel()
    lost = (np.asarray(unrounded) * 100 - pennies).ravel()
    out = pennies.ravel().copy()
    for b in np.flatnonzero(move):
        k = int(move[b])
        lines = np.flatnonzero((block == b) & free & ((out > 0) if k < 0 else True))
        if not lines.size:
            raise InvariantError("the funding streams cannot pay the lines as rounded (a bug in "
                                 "allocator; please report it with the scenario)")
        order = lines[np.argsort(-lost[lines] if k > 0 else lost[lines], kind="stable")]
        step = np.full(len(order), abs(k) // len(order))
        step[:abs(k) % len(order)] += 1
        out[order] += np.sign(k) * step
    if (out < 0).any():
        raise InvariantError("the funding streams cannot pay the lines as rounded (a bug in allocator; "
                             "please report it with the scenario)")
    return out.reshape(spend.shape) / 100.0


def _block_moves(eligible: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """(blocks,) whole pennies to add to each block's lines (summing to 0, as few as can be) so
    that the streams' totals ``cols`` can be paid from eligible cells only."""
    import highspy

    cells = np.argwhere(eligible)
    n, R = len(cells), len(rows)
    h = new_highs()
    h.setOptionValue("solver", "simplex")
    # cells (>= 0, free cost), then each block's pennies added and taken away (cost 1 each)
    h.addVars(n + 2 * R, np.zeros(n + 2 * R), np.full(n + 2 * R, INF))
    h.changeColsCost(2 * R, np.arange(n, n + 2 * R, dtype=np.int32), np.ones(2 * R))
    for r in range(R):
        mine = np.flatnonzero(cells[:, 0] == r)
        idx = np.concatenate([mine, [n + r, n + R + r]]).astype(np.int32)
        vals = np.concatenate([np.ones(len(mine)), [-1.0, 1.0]])
        h.addRow(float(rows[r]), float(rows[r]), len(idx), idx, vals)
    for f, total in enumerate(cols):
        mine = np.flatnonzero(cells[:, 1] == f).astype(np.int32)
        h.addRow(float(total), float(total), len(mine), mine, np.ones(len(mine)))
    h.run()
    if h.getModelStatus() != highspy.HighsModelStatus.kOptimal:
        raise InvariantError("the funding streams cannot pay the lines as rounded (a bug in allocator; "
                             "please report it with the scenario)")
    d = np.round(np.asarray(h.getSolution().col_value))
    return (d[n:n + R] - d[n + R:]).astype(np.int64)


def _blocks(y: np.ndarray, eligible: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """Whole pennies near ``y``, on eligible cells only, with these row and column sums."""
    base = np.where(eligible, np.maximum(y, 0), 0).astype(np.int64)
    need_r, need_c = rows - base.sum(axis=1), cols - base.sum(axis=0)
    if not need_r.any() and not need_c.any():
        return base
    import highspy

    cells = np.argwhere(eligible)
    n, R = len(cells), len(rows)
    h = new_highs()
    h.setOptionValue("solver", "simplex")
    lower = np.concatenate([np.zeros(n), np.zeros(n)])
    upper = np.concatenate([np.full(n, INF), base[cells[:, 0], cells[:, 1]].astype(float)])
    h.addVars(2 * n, lower, upper)
    h.changeColsCost(2 * n, np.arange(2 * n, dtype=np.int32), np.ones(2 * n))
    for r, need in enumerate(np.concatenate([need_r, need_c])):
        mine = np.flatnonzero(cells[:, 0] == r) if r < R else np.flatnonzero(cells[:, 1] == r - R)
        idx = np.concatenate([mine, mine + n]).astype(np.int32)
        h.addRow(float(need), float(need), len(idx), idx, np.concatenate([np.ones(len(mine)), -np.ones(len(mine))]))
    h.run()
    if h.getModelStatus() != highspy.HighsModelStatus.kOptimal:
        raise InvariantError("the funding streams' pennies could not be reconciled with the lines' "
                             "(a bug in allocator; please report it with the scenario)")
    d = np.round(np.asarray(h.getSolution().col_value))
    out = base.copy()
    np.add.at(out, (cells[:, 0], cells[:, 1]), (d[:n] - d[n:]).astype(np.int64))
    if (out < 0).any() or (out.sum(axis=1) != rows).any() or (out.sum(axis=0) != cols).any():
        raise InvariantError("the funding streams' pennies do not reconcile with the lines' (a bug in "
                             "allocator; please report it with the scenario)")
    return out


def _within(lines: np.ndarray, streams: np.ndarray) -> np.ndarray:
    """(n, F) whole pennies: rows sum to ``lines``, columns to ``streams`` (equal totals)."""
    total = streams.sum()
    if total == 0:
        return np.zeros((len(lines), len(streams)), np.int64)
    share = np.floor(lines[:, None] * (streams[None, :] / total)).astype(np.int64)
    row_left = lines - share.sum(axis=1)
    col_left = streams - share.sum(axis=0)
    # north-west corner on what is left: line a's interval of pennies against stream f's
    r_end, c_end = np.cumsum(row_left), np.cumsum(col_left)
    r_start, c_start = r_end - row_left, c_end - col_left
    overlap = (np.minimum(r_end[:, None], c_end[None, :]) - np.maximum(r_start[:, None], c_start[None, :]))
    return share + np.maximum(overlap, 0)


def partners(scenario, by_stream: np.ndarray) -> list[tuple[int, str, np.ndarray]]:
    """[(stream, partner, (A, S) GBP)] for every partner of a pooled stream, to the penny:
    each partner's total is its share of the stream's (rounded), each line is shared out."""
    out = []
    for f, stream in enumerate(scenario.streams):
        if not stream.partners:
            continue
        pennies = np.round(by_stream[f] * 100).astype(np.int64)
        parts = _within(pennies.ravel(), _apportion(np.array([p.share for p in stream.partners]),
                                                    int(pennies.sum())))
        parts = parts.reshape(*pennies.shape, len(stream.partners))
        out += [(f, p.name, parts[..., k] / 100.0) for k, p in enumerate(stream.partners)]
    return out


def _apportion(shares: np.ndarray, total: int) -> np.ndarray:
    """Whole pennies summing to ``total``, each within a penny of its share (largest remainders).

    Giving every leftover penny to the largest share instead could leave it several pennies off
    (three equal partners of 2p: 2p, 0p, 0p).

    Examples
    --------
    >>> _apportion(np.array([1, 1, 1]) / 3, 2).tolist()
    [1, 1, 0]
    """
    quota = shares / shares.sum() * total
    out = np.floor(quota).astype(np.int64)
    left = total - int(out.sum())  # 0 <= left < len(shares), but for rounding of the quotas
    order = np.argsort(-(quota - out), kind="stable")
    out += left // len(out)
    out[order[:left % len(out)]] += 1
    return out


def violations(scenario, spend: np.ndarray, by_stream: np.ndarray, spent: np.ndarray | None = None) -> list[str]:
    """Streams re-checked from the split alone: lines add up, eligibility, amounts, pennies.

    ``spent`` (F,): the stream totals the plan allows this year (default: the amounts).
    """
    problems = []
    A = scenario.n_areas
    if np.abs(by_stream.sum(axis=0) - spend).max(initial=0) > 0.005:
        problems.append("a line's streams do not add up to its spend")
    if (by_stream < 0).any():
        problems.append("a stream pays a negative amount")
    for f, stream in enumerate(scenario.streams):
        outside = by_stream[f][~stream.eligible(A)]
        if np.abs(outside).max(initial=0) > 0.005:
            problems.append(f"stream {stream.id} pays for lines it may not fund")
        total = by_stream[f].sum()
        amount = stream.amounts[scenario.year] if spent is None else spent[f]
        exact = scenario.budget_mode == "exact" and (spent is not None or not stream.carry_over)
        if (exact and abs(total - amount) > 0.005) or total > amount + 0.005:
            problems.append(f"stream {stream.id} spends {total:,.2f}, against {amount:,.2f}")
    return problems
