"""The brief: what each option does, in words and numbers, on one page.

A director of public health or a finance business partner reads this first: for each
option the change in the gap (the SII, and the most against the least deprived fifth),
the health gained or lost against 'before' and against the option that gains most, the
money moved to the most deprived fifth, how many areas gain and lose, and the rules
that bind and what they cost; then the trade-off between the options, stated plainly.
Every number goes through `allocator.format`; the sentences are plain text, escaped by
each renderer.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np
import pandas as pd

from allocator.format import money, number, percent, plain
from allocator.reports.plan_section import plan_brief
from allocator.reports.results import ReportData

GAIN_TOLERANCE = 1e-9  # relative: health gains closer than this count as equal


@dataclass(frozen=True)
class OptionFacts:
    """The brief's numbers for one option (plain floats; None where the data has none)."""

    name: str
    objective: str
    sii_before: float | None
    sii_after: float | None
    fifth_gap_before: float | None
    fifth_gap_after: float | None
    health_gain: float | None
    mean_change: float | None
    to_most_deprived_gbp: float | None
    share_before: float | None
    share_after: float | None
    gaining: int | None
    losing: int | None
    rules: list[str] | None  # None: the rules' prices were not computed (a run without --explain)
    budget_price: str | None = None


@dataclass(frozen=True)
class Brief:
    """The brief as text: a lead paragraph, the verdict, a sentence per option, a table."""

    lead: str
    verdict: list[str]
    options: list[tuple[str, str]]  # (option, what it does in words)
    columns: list[str]  # the brief table: 'Measure', then one column per option
    rows: list[list[str]]
    rules: list[tuple[str, str]]  # (option, the rules that bind and what they cost)
    notes: list[str]


# -- reading the numbers -------------------------------------------------------------------
def _scenario(data: ReportData) -> dict:
    return data.meta.get("scenario", {})


def _names(data: ReportData) -> list[str]:
    return [str(o) for o in data.meta.get("options", [])]


def _metric(data: ReportData, option: str, measure: str, column: str) -> float | None:
    metrics = data.tables.get("options_metrics")
    if metrics is None:
        return None
    rows = metrics[(metrics["option"].astype(str) == option) & (metrics["measure"] == measure)]
    if rows.empty or pd.isna(rows[column].iloc[0]):
        return None
    return float(rows[column].iloc[0])


def fifths(frame: pd.DataFrame, column: str) -> tuple[float, float] | None:
    """Population-weighted ``column`` in the most and the least deprived fifths of the groups
    (the first and last fifth of deciles, of quintiles, ...), or None when the number of groups
    is not a multiple of five.

    >>> f = pd.DataFrame({"g": range(1, 11), "population": [1] * 10, "v": range(10)})
    >>> fifths(f, "v")
    (0.5, 8.5)
    """
    n = len(frame)
    if n == 0 or n % 5:
        return None
    k = n // 5
    weights = frame["population"].to_numpy(float)
    values = frame[column].to_numpy(float)

    def mean(part: slice) -> float:
        return float(np.average(values[part], weights=weights[part]))

    return mean(slice(0, k)), mean(slice(n - k, n))


def _fifth_gaps(data: ReportData, option: str) -> tuple[float | None, float | None]:
    """The outcome's gap, least minus most deprived fifth, before and under ``option``."""
    frame = data.tables.get("outcome_by_group")
    if frame is None or option not in frame.columns:
        return None, None
    frame = frame.sort_values(frame.columns[0], kind="stable")
    before, after = fifths(frame, "before"), fifths(frame, option)
    if before is None or after is None:
        return None, None
    return before[1] - before[0], after[1] - after[0]


def _moved_to_most_deprived(data: ReportData, option: str, share_before, share_after) -> float | None:
    winners = data.tables.get("winners_losers")
    if winners is None or share_before is None or share_after is None:
        return None
    rows = winners[winners["option"].astype(str) == option]
    return share_after * float(rows["spend_gbp"].sum()) - share_before * float(rows["before_gbp"].sum())


def _counts(data: ReportData, option: str) -> tuple[int | None, int | None]:
    frame = data.tables.get("winners_losers_by_group")
    if frame is None:
        return None, None
    rows = frame[frame["option"].astype(str) == option]
    return int(rows["gain"].sum()), int(rows["lose"].sum())


def binding_rules(data: ReportData, option: str) -> list[str] | None:
    """The explanations of the rules that cost something (a rule that costs nothing is left out);
    None when the prices were not computed (never 'no rule costs anything' for want of asking)."""
    prices = data.tables.get("prices")
    if prices is None or "option" not in prices or not (prices["option"].astype(str) == option).any():
        return None
    rows = prices[prices["option"].astype(str) == option]
    return [str(r.text) for r in rows.itertuples(index=False)
            if "cost nothing" not in str(r.text) and not str(r.rule).startswith("budget")]


def budget_price(data: ReportData, option: str) -> str | None:
    """What one more £ of budget buys, in words (from the prices table), or None."""
    prices = data.tables.get("prices")
    if prices is None:
        return None
    rows = prices[(prices["option"].astype(str) == option) & prices["rule"].astype(str).str.startswith("budget")]
    return str(rows["text"].iloc[0]) if len(rows) else None


def option_facts(data: ReportData, option: str) -> OptionFacts:
    summary = data.tables.get("options_summary")
    row = summary[summary["option"].astype(str) == option].iloc[0] if summary is not None else {}
    share_before = _metric(data, option, "share_of_spend_most_deprived_fifth", "before")
    share_after = _metric(data, option, "share_of_spend_most_deprived_fifth", "after")
    gaining, losing = _counts(data, option)
    gap_before, gap_after = _fifth_gaps(data, option)
    return OptionFacts(
        name=option, objective=str(row.get("objective", "")),
        sii_before=_metric(data, option, "sii_outcome", "before"),
        sii_after=_metric(data, option, "sii_outcome", "after"),
        fifth_gap_before=gap_before, fifth_gap_after=gap_after,
        health_gain=_metric(data, option, "total_gain", "change"),
        mean_change=_metric(data, option, "mean_outcome", "change"),
        to_most_deprived_gbp=_moved_to_most_deprived(data, option, share_before, share_after),
        share_before=share_before, share_after=share_after, gaining=gaining, losing=losing,
        rules=binding_rules(data, option), budget_price=budget_price(data, option))


# -- saying it -----------------------------------------------------------------------------
def amount(value: float, units: str) -> str:
    """A change in the outcome in its units, in days or weeks when the units are years and the
    change is under a year.

    >>> amount(0.041, "years"), amount(0.5, "years"), amount(2.5, "years"), amount(0.24, "YPLL points")
    ('15 days', '26 weeks', '2.5 years', '0.24 YPLL points')
    """
    size = abs(value)
    if units.strip().lower() in ("years", "year"):
        if size < 1 / 12:
            return f"{plain(size * 365.25, 2)} days"
        if size < 1:
            return f"{plain(size * 52.18, 2)} weeks"
    return f"{plain(size, 3)} {units}".strip()


def gap_sentence(before: float | None, after: float | None, units: str, what: str) -> str | None:
    """'narrows the gap ... by 15 days (3.1%)' or 'widens ...', from the gap's size before and after.

    >>> gap_sentence(-34.7, -34.5, "YPLL points", "the SII")
    'narrows the SII by 0.2 YPLL points (0.58%)'
    """
    if before is None or after is None or not np.isfinite([before, after]).all():
        return None
    change = abs(before) - abs(after)
    if abs(change) <= 1e-12 * max(abs(before), 1.0):
        return f"leaves {what} unchanged"
    verb = "narrows" if change > 0 else "widens"
    share = f" ({plain(abs(change) / abs(before) * 100, 2)}%)" if before else ""
    return f"{verb} {what} by {amount(change, units)}{share}"


def health_text(value: float | None, units: str) -> str:
    if value is None:
        return "n/a"
    word = "gains" if value >= 0 else "loses"
    return f"{word} {number(abs(value))} {units} × people of health"


def _best_health(facts: list[OptionFacts]) -> OptionFacts | None:
    known = [f for f in facts if f.health_gain is not None]
    return max(known, key=lambda f: f.health_gain) if known else None


def _narrowest(facts: list[OptionFacts]) -> OptionFacts | None:
    known = [f for f in facts if f.sii_after is not None]
    return min(known, key=lambda f: abs(f.sii_after)) if known else None


def option_sentence(f: OptionFacts, best: OptionFacts | None, units: str, groups: str) -> str:
    """What one option does, in words and numbers."""
    parts = []
    sii = gap_sentence(f.sii_before, f.sii_after, units, "the gap measured by the slope index of inequality")
    if sii:
        parts.append(sii)
    fifth = gap_sentence(f.fifth_gap_before, f.fifth_gap_after, units,
                         "the gap between the most and least deprived fifths")
    if fifth:
        parts.append(fifth)
    if f.health_gain is not None:
        health = health_text(f.health_gain, units) + " against 'before'"
        if best is not None and best.name != f.name and best.health_gain is not None:
            health += f" ({number(best.health_gain - f.health_gain)} less than “{best.name}”)"
        parts.append(health)
    if f.to_most_deprived_gbp is not None:
        verb = "moves" if f.to_most_deprived_gbp >= 0 else "takes"
        where = "to" if f.to_most_deprived_gbp >= 0 else "from"
        parts.append(f"{verb} {money(abs(f.to_most_deprived_gbp))} {where} the most deprived fifth "
                     f"(its share of spend {percent(f.share_before)} → {percent(f.share_after)})")
    text = "; ".join(parts)
    if f.gaining is not None:
        gain = f"{f.gaining:,} area gains" if f.gaining == 1 else f"{f.gaining:,} areas gain"
        text += f". {gain} and {f.losing:,} lose money"
    return (text[:1].upper() + text[1:] + ".") if text else "No measures to report."


SAME = 1e-7  # options whose every measure agrees to this share (solver tolerance) come out the same


def _same(a: OptionFacts, b: OptionFacts) -> bool:
    """Every measure of the brief the same for ``a`` and ``b`` (to `SAME`, relative)."""
    def close(x, y) -> bool:
        return (x is None) == (y is None) and (x is None or abs(x - y) <= SAME * max(1.0, abs(x), abs(y)))

    return (close(a.health_gain, b.health_gain) and close(a.sii_after, b.sii_after)
            and close(a.fifth_gap_after, b.fifth_gap_after) and close(a.to_most_deprived_gbp, b.to_most_deprived_gbp)
            and a.gaining == b.gaining and a.losing == b.losing)


def _alike(facts: list[OptionFacts]) -> list[list[OptionFacts]]:
    """The options that come out the same on every measure, in groups of two or more."""
    groups: list[list[OptionFacts]] = []
    for f in facts:
        group = next((g for g in groups if _same(g[0], f)), None)
        if group is None:
            groups.append([f])
        else:
            group.append(f)
    return [g for g in groups if len(g) > 1]


def _names_and(names: list[str]) -> str:
    quoted = [f"“{n}”" for n in names]
    return quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + " and " + quoted[-1]


def verdict(facts: list[OptionFacts], units: str) -> list[str]:
    """The trade-off between the options, stated plainly (empty for a single run)."""
    if len(facts) < 2:
        return []
    best, narrow = _best_health(facts), _narrowest(facts)
    alike = _alike(facts)
    top = next((g for g in alike if best in g), [best])  # the options tied with the healthiest
    out = []
    if best is not None:
        verb = "gains" if len(top) == 1 else "gain"
        out.append(f"{_names_and([f.name for f in top])} {verb} the most health ({number(best.health_gain)} "
                   f"{units} × people against 'before').")
    if narrow is not None and best is not None and not _same(narrow, best):
        cost = best.health_gain - narrow.health_gain
        out.append(f"“{narrow.name}” narrows the gap in the outcome the most (SII {plain(narrow.sii_before, 4)} "
                   f"→ {plain(narrow.sii_after, 4)}), but gives up {number(cost)} {units} × people of health "
                   f"against “{best.name}” to do so ({plain(cost / abs(best.health_gain) * 100, 3)}% of its "
                   "gain)." if best.health_gain else f"“{narrow.name}” narrows the gap in the outcome the most.")
        if narrow.health_gain is not None and narrow.health_gain < 0:
            out.append(f"“{narrow.name}” leaves total health lower than 'before': it narrows the gradient partly "
                       "by giving up health, not only by levelling up.")
    elif narrow is not None and best is not None:
        verb = "narrows" if len(top) == 1 else "narrow"
        if len(top) < len(facts):
            out.append(f"{_names_and([f.name for f in top])} also {verb} the gap in the outcome the most: no "
                       "trade-off between total health and equity among these options.")
    out += [f"{_names_and([f.name for f in g])} come out the same on every measure here (health, the SII, the "
            "gap, the money moved and the areas gaining and losing)." for g in alike]
    return out


def _table(facts: list[OptionFacts], units: str) -> tuple[list[str], list[list[str]]]:
    def row(label, values):
        return [label] + [v for v in values]

    best = _best_health(facts)
    rows = [
        row(f"SII in the outcome ({units}), before → after",
            [f"{plain(f.sii_before, 4)} → {plain(f.sii_after, 4)}" if f.sii_after is not None else "n/a"
             for f in facts]),
        row(f"Gap, least − most deprived fifth ({units}), before → after",
            [f"{plain(f.fifth_gap_before, 4)} → {plain(f.fifth_gap_after, 4)}"
             if f.fifth_gap_after is not None else "n/a" for f in facts]),
        row(f"Health gain against 'before' ({units} × people)",
            [number(f.health_gain, signed=True) if f.health_gain is not None else "n/a" for f in facts]),
    ]
    if best is not None and len(facts) > 1:
        rows.append(row(f"Against the option gaining most (“{best.name}”)",
                        [number(f.health_gain - best.health_gain, signed=True) if f.health_gain is not None
                         else "n/a" for f in facts]))
    rows += [
        row("Money moved to the most deprived fifth",
            [money(f.to_most_deprived_gbp, signed=True) if f.to_most_deprived_gbp is not None else "n/a"
             for f in facts]),
        row("Share of spend in the most deprived fifth, before → after",
            [f"{percent(f.share_before)} → {percent(f.share_after)}" for f in facts]),
        row("Areas gaining / losing money",
            [f"{f.gaining:,} / {f.losing:,}" if f.gaining is not None else "n/a" for f in facts]),
        row("Rules that bind", [str(len(f.rules)) if f.rules is not None else "not computed" for f in facts]),
    ]
    return ["Measure", *[f.name for f in facts]], rows


def lead(data: ReportData) -> str:
    s = _scenario(data)
    names = _names(data)
    before = ("this year's spend (the baseline table)" if s.get("comparator", "baseline") == "baseline"
              else "the same budget spread flat (equal units per head everywhere)")
    what = (f"{len(names)} options for" if len(names) > 1 else "The allocation of")
    budget = f" {money(float(s['budget_gbp']))}" if s.get("budget_gbp") is not None else ""
    better = "higher" if s.get("higher_is_better", True) else "lower"
    outcome = s.get("outcome_label") or "the outcome"
    plan = plan_brief(data)
    left = "".join(f" “{name}” is not among them: {why.rstrip('.')}." for name, why in
                   (data.meta.get("not_solved") or {}).items())
    return (f"{what}{budget} across {s.get('areas', '?')} areas and {s.get('services', '?')} services, "
            f"against {before}. The outcome is {outcome} ({better} is better); areas are grouped into "
            f"{s.get('groups', 'group')}s of deprivation, the most deprived first." + (f" {plan}" if plan else "")
            + left)


def brief(data: ReportData, notes: list[str] | None = None) -> Brief:
    """The brief of a run or comparison."""
    s = _scenario(data)
    units = str(s.get("outcome_units", "") or "")
    facts = [option_facts(data, name) for name in _names(data)]
    best = _best_health(facts)
    groups = str(s.get("groups", "group"))
    columns, rows = _table(facts, units)
    unpriced = ["The rules' prices were not computed: `allocator run --explain` (or `allocator compare`) "
                "re-solves without each rule to price it."]
    rules = [(f.name, " ".join((unpriced if f.rules is None else
                                f.rules or ["No rule costs anything: the optimum meets them all."])
                               + ([f.budget_price] if f.budget_price else []))) for f in facts]
    return Brief(lead=lead(data), verdict=verdict(facts, units),
                 options=[(f.name, option_sentence(f, best if len(facts) > 1 else None, units, groups))
                          for f in facts],
                 columns=columns, rows=rows, rules=rules, notes=list(notes or []))


def runs_of(manifest: dict | None) -> list[dict]:
    """A run manifest (run.json) and, for a comparison, each option's: where dates and inputs are."""
    runs = [manifest or {}, *((manifest or {}).get("options") or {}).values()]
    return [r for r in runs if isinstance(r, dict)]


def solved_on(manifest: dict | None) -> str | None:
    """The date the run was solved (``written``, YYYY-MM-DD), or None if the manifest has none."""
    return next((r["written"] for r in runs_of(manifest) if isinstance(r.get("written"), str)), None)


def notes_from(manifest: dict | None) -> list[str]:
    """When the result was made and from which inputs (short hashes), from its run manifest."""
    if not manifest:
        return []
    runs = runs_of(manifest)
    written = solved_on(manifest)
    inputs = sorted({(str(path), str(digest)) for run in runs for path, digest in (run.get("inputs") or {}).items()})
    out = [f"Solved on {written}."] if written else []
    if inputs:
        fingerprint = hashlib.sha256("\n".join(f"{p} {d}" for p, d in inputs).encode()).hexdigest()[:12]
        out.append(f"Inputs: {len(inputs)} files, fingerprint {fingerprint} (each file's sha256 is in run.json).")
    return out


def input_hashes(manifest: dict | None) -> list[str]:
    """'name sha256' of each input, for the full report's footer."""
    named = {str(p).replace("\\", "/").rsplit("/", 1)[-1]: str(d)
             for r in runs_of(manifest) for p, d in (r.get("inputs") or {}).items()}
    return [f"{name} {digest}" for name, digest in sorted(named.items())]
