"""The monitoring report's charts: the gradient's trend, and spend per head by deprivation group,
planned against actual.

`trend_figure` draws the SII of the outcome by year: the baseline (hollow grey), the plan's
projection (blue) and each observed year (orange) with PHE's confidence limits as error bars,
and beside each observed year the projection over the same areas (hollow blue diamond).
`spend_figure` draws each deprivation group's spend per head, planned (hollow grey, dashed) and
actual (blue), one panel per year with spend. Both axes start at zero, as the run's and the
plan's charts do: a change is shown at its true size, never stretched to fill the chart. Every
label goes through `allocator.format`; names from the input (the year labels) are escaped by
matplotlib's SVG writer (`allocator.reports.html.Charts`).
"""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter

from allocator.analysis.monitor import Monitoring
from allocator.format import percent, plain
from allocator.reports.html import BEFORE, WIDTH
from allocator.reports.monitor_tables import spent_years

PLANNED, OBSERVED = "#0072B2", "#D55E00"  # the report's palette (Okabe-Ito): the plan, what happened
MAX_PANELS = 5  # years of spend drawn side by side (the latest)
TREND_TITLE = "The gradient's trend: SII by year"
SPEND_TITLE = "Spend per head by deprivation group, planned and actual"


def from_zero(ax, values) -> tuple[float, float]:
    """Set the y axis to hold zero and every finite value, with a little room: no exaggeration."""
    v = np.asarray(values, dtype=float)
    finite = v[np.isfinite(v)]
    low, high = (min(0.0, finite.min()), max(0.0, finite.max())) if finite.size else (0.0, 1.0)
    pad = 0.12 * ((high - low) or 1.0)
    limits = (low - (pad if low < 0 else 0.0), high + (pad if high > 0 else 0.0 if high > low else 1.0))
    ax.set_ylim(*limits)
    return limits


def _units(m: Monitoring) -> str:
    return m.scenario.gradient.outcome_units or "outcome units"


def trend_figure(m: Monitoring) -> Figure:
    """SII by year: baseline, projected and observed (with its confidence limits), from zero."""
    t = m.trend.sort_values("order", kind="stable")
    labels = list(dict.fromkeys(t["year"].astype(str)))
    at = {label: k for k, label in enumerate(labels)}
    fig = Figure(figsize=(WIDTH, 3.4))
    ax = fig.subplots()
    handles, names = [], []

    def rows(source: str):
        part = t[t["source"] == source]
        return part, np.array([at[str(y)] for y in part["year"]], dtype=float), part["sii"].to_numpy(float)

    _, x, y = rows("baseline")
    handles.append(ax.plot(x, y, "o", mfc="white", color=BEFORE, ms=7, ls="none")[0])
    names.append("baseline")
    _, x, y = rows("projected")
    handles.append(ax.plot(x, y, color=PLANNED, marker="o", lw=1.5, ms=5)[0])
    names.append("projected by the plan")
    observed, x, y = rows("observed")
    extra = []
    if len(observed):
        handles.append(ax.plot(x, y, color=OBSERVED, marker="s", lw=1.2, ms=5)[0])
        lower, upper = observed["sii_lower"].to_numpy(float), observed["sii_upper"].to_numpy(float)
        limits = np.isfinite(lower) & np.isfinite(upper)
        if limits.any():
            ax.errorbar(x[limits], y[limits], yerr=np.vstack([y - lower, upper - y])[:, limits], fmt="none",
                        ecolor=OBSERVED, elinewidth=1.2, capsize=4)
            confidence = float(observed["confidence"].dropna().iloc[0])
            names.append(f"observed, with {percent(confidence).replace('.0%', '%')} confidence limits")
        else:
            names.append("observed (no standard errors: no limits)")
        same = observed["projected_sii"].to_numpy(float)
        if np.isfinite(same).any():
            handles.append(ax.plot(x, same, "D", mfc="white", color=PLANNED, ms=5, ls="none")[0])
            names.append("projected over the same areas")
        extra = [lower, upper, same]
    for year, value in zip(t["year"].astype(str), t["sii"].to_numpy(float)):
        if np.isfinite(value):
            ax.annotate(plain(value, 4), (at[year], value), xytext=(0, 9 if value >= 0 else -14),
                        textcoords="offset points", ha="center", fontsize=7.5)
    ax.axhline(0, color="#333", lw=0.8)
    from_zero(ax, np.concatenate([t["sii"].to_numpy(float), *extra]))
    ax.set_xticks(np.arange(len(labels)), [_clip(label) for label in labels], fontsize=8)
    ax.set_xlim(-0.5, len(labels) - 0.3)
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: plain(v, 4)))
    ax.set_ylabel(f"SII ({_clip(_units(m), 40)})")
    ax.legend(handles, names, loc="upper center", bbox_to_anchor=(0.5, -0.12), ncols=min(4, len(names)),
              fontsize=8)
    return fig


def spend_figure(m: Monitoring) -> Figure | None:
    """Each deprivation group's spend per head, planned and actual, over the areas that reported every
    line: one panel per year with spend (the latest `MAX_PANELS`); None when nothing was spent."""
    years = spent_years(m)[-MAX_PANELS:]
    if not years:
        return None
    fig = Figure(figsize=(WIDTH, 3.2))
    axes = np.atleast_1d(fig.subplots(1, len(years), sharey=True, squeeze=False).ravel())
    column, n = m.group_column, m.scenario.gradient.quantiles
    handles = []
    values = [0.0]
    for ax, year in zip(axes, years):
        g = m.by_group[m.by_group["year"] == year].sort_values(column)
        x = g[column].to_numpy(int)
        planned, actual = g["planned_per_head_gbp"].to_numpy(float), g["actual_per_head_gbp"].to_numpy(float)
        handles = [ax.plot(x, planned, color=BEFORE, ls="--", marker="o", mfc="white", lw=1.5, ms=5)[0],
                   ax.plot(x, actual, color=PLANNED, marker="s", lw=1.5, ms=4.5)[0]]
        values += [*planned[np.isfinite(planned)], *actual[np.isfinite(actual)]]
        ticks = [str(k) for k in range(1, n + 1)]
        if n > 1:
            ticks[0], ticks[-1] = f"{ticks[0]}\nmost\ndeprived", f"{ticks[-1]}\nleast\ndeprived"
        ax.set_xticks(np.arange(1, n + 1), ticks, fontsize=7.5)
        if len(years) > 1:
            ax.set_title(_clip(year, 24), loc="left")
        ax.set_xlabel(f"deprivation {column.removeprefix('deprivation_')}", fontsize=8.5)
    from_zero(axes[0], values)  # shared: spend from zero, the gradient at its true size
    axes[0].yaxis.set_major_formatter(FuncFormatter(lambda v, _: "£" + plain(v, 4)))
    axes[0].set_ylabel("Spend per head (£)")
    fig.legend(handles, ["planned", "actual"], loc="upper right", ncols=2, bbox_to_anchor=(0.98, 1.04),
               frameon=False)
    return fig


def trend_chart(m: Monitoring, charts) -> str:
    """`trend_figure` as inline SVG (``charts``: `allocator.reports.html.Charts`)."""
    observed = (m.trend["source"] == "observed").sum()
    return charts.svg(trend_figure(m), TREND_TITLE,
                      f"Chart of the slope index of inequality in {m.scenario.gradient.outcome_label} by year: the "
                      f"baseline, the plan's projection and {observed} observed year{'s' if observed != 1 else ''} "
                      "with confidence limits as error bars; the axis starts at zero. The numbers are in the table "
                      "'The gradient by year'.")


def spend_chart(m: Monitoring, charts) -> str | None:
    """`spend_figure` as inline SVG, or None."""
    fig = spend_figure(m)
    if fig is None:
        return None
    label = m.group_column.removeprefix("deprivation_")
    return charts.svg(fig, SPEND_TITLE,
                      f"Line chart of spend per head in each deprivation {label}, planned (hollow grey, dashed) and "
                      "actual (blue), over the areas that reported every line; the axis starts at zero. The numbers "
                      f"are in the table 'Spend per head by deprivation {label}'.")


def _clip(name, length: int = 18) -> str:
    name = " ".join(str(name).split())
    return name if len(name) <= length else name[:length - 1] + "…"
