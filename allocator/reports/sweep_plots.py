"""Summary plots of a sensitivity sweep: each measure against each parameter, and a tornado.

The input is the sweep's tidy table, one row per (sweep point x measure), with one
float column per varied parameter.  Only rows with status "ok" are plotted; a
parameter value where every point failed is simply missing from its line.  Where
several rows share an (option, parameter value) -- Monte Carlo draws, or other
parameters varied in the same grid -- the line is their median and a band their
5%-95% range.  PNGs are written atomically and carry no software or date stamp, so
the same table gives the same bytes.  Names from the input (options, parameters,
units) are only ever drawn as plain text: a '$' is a dollar, never mathtext.

Every tick label goes through `allocator.format` (£3.6bn, 21.5%, 150m: never
'1e9' or an offset like '+3.6e9'); measures are titled by their plain names
(`allocator.reports.markdown.measure_name`); an axis either shows zero or says that
it does not start at 0; and the current budget is marked where budget is swept.
`figures` gives the figures themselves, for the PNGs here and the sweep's HTML report.
"""

from __future__ import annotations

import io
import math
import re
import textwrap
from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.patches import Patch
from matplotlib.ticker import Formatter, MaxNLocator

from allocator.format import aligned, compact, gbp, number, short_gbp
from allocator.reports.markdown import measure_name
from allocator.reports.outputs import atomic_write

DEFAULT_MEASURES = ("sii_outcome", "gap_absolute_outcome", "mean_outcome", "total_gain",
                    "concentration_index_spend", "share_of_spend_most_deprived_fifth")
TORNADO_COLUMNS = ("parameter", "low_value", "high_value", "at_low", "at_high", "base_result", "swing")
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#000000", "#F0E442")  # Okabe-Ito
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")
BEFORE, LOW, HIGH = "#6b6b6b", "#0072B2", "#D55E00"
DPI = 100
RC = {"text.parse_math": False,  # a '$' in a name is a dollar, not mathtext
      "font.family": "sans-serif", "font.sans-serif": ["DejaVu Sans", "Arial", "Helvetica"],
      "font.size": 8, "axes.titlesize": 9, "axes.spines.top": False, "axes.spines.right": False,
      "axes.grid": True, "grid.color": "#dddddd", "grid.linewidth": 0.6, "axes.axisbelow": True,
      "legend.frameon": False}
RTOL = 1e-9  # a parameter is "at its base value" within this relative tolerance
ATOL = 1e-12  # ... or this absolute one, for a base value of 0
CURRENT = "#444444"
SCALES = ((1e9, "bn"), (1e6, "m"), (1e3, "k"))
NOT_FROM_ZERO = "axis does not start at 0"
PARAMETER_NAMES = {"budget": "Budget", "floor_scale": "Floor scale (every floor times this)",
                   "cost_scale": "Cost scale (every unit cost times this)",
                   "response_scale": "Effect-size scale (every response curve times this)"}


def tick_labels(values, units: str = "") -> list[str]:
    """Labels for a row of ticks, by units: £ with k/m/bn for GBP, % for a share; never 'e+'.

    Every label has the same decimals, as few as show each tick exactly.

    Examples
    --------
    >>> tick_labels([3.5e9, 3.75e9, 4e9], "GBP")
    ['£3.50bn', '£3.75bn', '£4.00bn']
    >>> tick_labels([0.215, 0.22, 0.225], "share"), tick_labels([1.45e8, 1.5e8], "years")
    (['21.5%', '22.0%', '22.5%'], ['145m', '150m'])
    >>> tick_labels([-34.7, -34.6, 0.0]), tick_labels([-4e7, 0.0], "GBP"), tick_labels([1e-4, 1.5e-4])
    (['-34.7', '-34.6', '0'], ['-£40m', '£0'], ['0.00010', '0.00015'])
    """
    values = np.asarray(values, dtype=float)
    share, money = units == "share", units == "GBP" or units.startswith("GBP per")
    scaled = values * 100 if share else values
    finite = np.abs(scaled[np.isfinite(scaled)])
    top = float(finite.max()) if finite.size else 0.0
    size, suffix = next(((n, x) for n, x in SCALES if top >= n and not share and units != "GBP per head"), (1, ""))
    scaled, top = scaled / size, top / size
    steps = np.diff(np.unique(scaled[np.isfinite(scaled)]))
    step = float(steps.min()) if steps.size else top
    decimals = 0
    while decimals < 12 and step and np.any(np.abs(np.round(scaled, decimals) - scaled) > 1e-9 * step):
        decimals += 1
    digits = decimals + 1 + (math.floor(math.log10(top)) if top else 0)  # aligned's decimals: `decimals`
    out = []
    for value, text in zip(scaled, aligned(scaled, digits)):
        sign, body = ("-", text[1:]) if text.startswith("-") else ("", text)
        body = "0" if value == 0 else body + suffix
        out.append(sign + ("£" if money else "") + body + ("%" if share else ""))
    return out


class Ticks(Formatter):
    """A matplotlib tick formatter through `tick_labels`: no offset, no scientific notation."""

    def __init__(self, units: str = ""):
        self.units, self.labels = units, {}

    def set_locs(self, locs):
        super().set_locs(locs)
        self.labels = dict(zip((float(v) for v in locs), tick_labels(locs, self.units)))

    def __call__(self, x, pos=None):
        return self.labels.get(float(x)) or tick_labels([x], self.units)[0]


def money_parameter(name: str) -> bool:
    """Whether a parameter is an amount of pounds (the budget, a unit cost)."""
    return name == "budget" or str(name).startswith("unit_cost.")


def value_text(parameter: str, value: float) -> str:
    """A parameter's value for a chart: £3.6bn for money, else 3 significant figures."""
    return short_gbp(value) if money_parameter(parameter) else compact(value)


def parameter_label(name: str) -> str:
    """A parameter's name for an axis: 'Budget (£)', 'Unit cost of stop_smoking (£ per unit)'."""
    if name in PARAMETER_NAMES:
        return PARAMETER_NAMES[name] + (" (£)" if name == "budget" else "")
    if str(name).startswith("unit_cost."):
        return f"Unit cost of {name[len('unit_cost.'):]} (£ per unit)"
    return str(name)


def _axis(ax, which: str, units: str, label: str = "", honest: bool = True) -> None:
    """Format one axis by its units and, for a value axis (``honest``), show 0 when it is near
    (no more than the data's own range away) or else say in the label that it is not shown."""
    axis = ax.yaxis if which == "y" else ax.xaxis
    axis.set_major_formatter(Ticks(units))
    low, high = ax.get_ylim() if which == "y" else ax.get_xlim()
    text = label or _label(units, 40)
    if honest and (low > 0 or high < 0):
        gap = low if low > 0 else -high
        if gap <= high - low:  # zero is near: show it
            (ax.set_ylim if which == "y" else ax.set_xlim)((0, high) if low > 0 else (low, 0))
        else:
            text = f"{text}\n({NOT_FROM_ZERO})" if text else f"({NOT_FROM_ZERO})"
    (ax.set_ylabel if which == "y" else ax.set_xlabel)(text)


def safe_name(name: str) -> str:
    """A file name stem for a parameter: characters outside [A-Za-z0-9_.-] become '_'.

    Examples
    --------
    >>> safe_name("response.york-le-stop-smoking.scale")
    'response.york-le-stop-smoking.scale'
    >>> safe_name("floor/stop smoking")
    'floor_stop_smoking'
    """
    return re.sub(r"[^A-Za-z0-9_.-]", "_", str(name))[:120] or "_"


def measure_plot(tidy: pd.DataFrame, parameter: str, measures, path, *, title: str | None = None,
                 current: float | None = None) -> Path:
    """Plot measures after allocation against one parameter, one line per option; write a PNG.

    Parameters
    ----------
    tidy : pandas.DataFrame
        The sweep's tidy results (one row per sweep point x measure).
    parameter : str
        The parameter column to put on the x axis.
    measures : sequence of str
        The measures to plot, one subplot each, in a grid of up to three columns.
    path : path-like
        Where to write the PNG.
    title : str, optional
        The figure's title; by default "Sensitivity to <parameter>".
    current : float, optional
        The parameter's value in the scenario as loaded: for the budget, a dotted line
        labelled "Current budget £3.60bn".

    Returns
    -------
    pathlib.Path
        ``path``.

    Notes
    -----
    Where several ok rows share an (option, parameter value) the line is their median
    and the shaded band their 5%-95% range.  The value before allocation is a dashed
    grey line when it is the same in every row.
    """
    return _save(measure_figure(tidy, parameter, measures, title=title, current=current), path)


def measure_figure(tidy: pd.DataFrame, parameter: str, measures, *, title: str | None = None,
                   current: float | None = None) -> Figure:
    """The figure of `measure_plot`."""
    measures = list(measures)
    if parameter not in tidy.columns:
        raise ValueError(f"no column {parameter!r} in the sweep table: expected one of the parameters")
    if not measures:
        raise ValueError("no measures to plot: give at least one")
    rows = _ok(tidy)
    rows = rows[rows["measure"].isin(measures).to_numpy()]
    rows = rows.assign(_x=_numbers(rows[parameter]), _y=_numbers(rows["after"])).dropna(subset=["_x", "_y"])
    options = list(dict.fromkeys(rows["option"]))
    columns = min(3, len(measures))
    grid_rows = math.ceil(len(measures) / columns)
    with matplotlib.rc_context(RC):
        fig = Figure(figsize=(4.0 * columns, 0.5 + 3.0 * grid_rows))
        axes = fig.subplots(grid_rows, columns, squeeze=False, gridspec_kw=_margins(fig, columns, grid_rows)).ravel()
        for ax in axes[len(measures):]:
            ax.set_visible(False)
        handles, marked = {}, current is not None and np.isfinite(current) and parameter == "budget"
        for ax, measure in zip(axes, measures):
            if marked:
                handles[None] = ax.axvline(current, color=CURRENT, ls=":", lw=1.2,
                                           label=f"Current budget {gbp(current)}")
            lines = _measure_axes(ax, rows[(rows["measure"] == measure).to_numpy()], measure, parameter, options)
            handles = {**lines, **handles}
        shown = [handles[o] for o in options if o in handles and len(options) > 1] + ([handles[None]] if marked else [])
        if shown:  # under the title, never on a line or a label
            fig.legend(handles=shown, fontsize=7, loc="upper center", ncol=min(len(shown), 4),
                       bbox_to_anchor=(0.5, 1 - 0.3 / fig.get_size_inches()[1]))
        fig.suptitle(_label(title if title is not None else f"Sensitivity to {parameter}", 15 + 25 * columns),
                     fontsize=10)
    return fig


def _margins(fig: Figure, columns: int, rows: int) -> dict:
    """Fixed margins in inches for a grid of subplots: the labels are clipped, so they fit, and
    a layout engine's dry-run drawing would nearly triple the time to save."""
    width, height = fig.get_size_inches()
    left, right, top, bottom, across, down = 0.9, 0.15, 0.9, 0.5, 0.95, 0.9  # inches
    axis_width = (width - left - right - (columns - 1) * across) / columns
    axis_height = (height - top - bottom - (rows - 1) * down) / rows
    return {"left": left / width, "right": 1 - right / width, "top": 1 - top / height, "bottom": bottom / height,
            "wspace": across / axis_width, "hspace": down / axis_height}


def _title(ax, measure: str) -> None:
    ax.set_title(textwrap.fill(_label(measure_name(measure), 90), 46), fontsize=8.5)


def _measure_axes(ax, rows: pd.DataFrame, measure: str, parameter: str, options: list) -> dict:
    """Draw one measure's subplot; return each plotted option's line, for the legend."""
    lines = {}
    _title(ax, measure)
    ax.xaxis.set_major_locator(MaxNLocator(4))  # room for labels like '£2.25bn'
    units = [u for u in rows["units"].astype("string").fillna("") if u.strip()]
    for k, option in enumerate(options):
        values = rows[(rows["option"] == option).to_numpy()]
        if values.empty:
            continue
        by_x = values.groupby("_x")["_y"]
        median, low, high = by_x.median(), by_x.quantile(0.05), by_x.quantile(0.95)
        colour = PALETTE[k % len(PALETTE)]
        if (by_x.size() > 1).any():
            ax.fill_between(median.index, low.to_numpy(), high.to_numpy(), color=colour, alpha=0.2, lw=0)
        lines[option], = ax.plot(median.index, median.to_numpy(), marker=MARKERS[k % len(MARKERS)], ms=4,
                                 lw=1.5, color=colour, label=_label(option))
    if rows.empty:
        ax.text(0.5, 0.5, "no successful points", ha="center", va="center", transform=ax.transAxes, color=BEFORE)
    before = _numbers(rows["before"]).dropna()
    if len(before) and np.allclose(before, before.iloc[0], rtol=RTOL, atol=ATOL):
        ax.axhline(before.iloc[0], ls="--", lw=1, color=BEFORE)
        ax.text(0.99, before.iloc[0], "before", transform=ax.get_yaxis_transform(), ha="right", va="bottom",
                fontsize=7, color=BEFORE)
    _axis(ax, "x", "GBP" if money_parameter(parameter) else "", _label(parameter_label(parameter), 50),
          honest=False)
    _axis(ax, "y", units[0] if units else "", _label(units[0], 40) if units else "after allocation")
    return lines


def tornado_table(tidy: pd.DataFrame, parameters, base: dict, measure: str, *, option=None) -> pd.DataFrame:
    """One-at-a-time sensitivities of a measure, for a tornado chart.

    For each parameter, the ok rows of ``measure`` (for ``option``) where every other
    parameter is at its base value give the measure after allocation at the
    parameter's lowest and highest values (the median, if several rows share one).

    Parameters
    ----------
    tidy : pandas.DataFrame
        The sweep's tidy results.
    parameters : sequence of str
        The varied parameters (columns of ``tidy``).
    base : dict
        Each parameter's base value.
    measure : str
        The measure, e.g. "sii_outcome".
    option : str, optional
        The option to read; by default the first option in ``tidy``.

    Returns
    -------
    pandas.DataFrame
        Columns parameter, low_value, high_value, at_low, at_high, base_result (the
        measure where every parameter is at base, NaN if no row is), swing
        (``|at_high - at_low|``); sorted by swing, largest first.  Parameters with no
        usable row are left out.

    Examples
    --------
    >>> tidy = pd.DataFrame({"option": "base", "status": "ok", "measure": "sii_outcome",
    ...                      "budget": [1.0, 2.0, 2.0, 3.0], "floor": [0.0, 0.0, 0.5, 0.0],
    ...                      "after": [-1.0, -2.0, -4.0, -3.0]})
    >>> tornado_table(tidy, ["budget", "floor"], {"budget": 2.0, "floor": 0.0}, "sii_outcome")
      parameter  low_value  high_value  at_low  at_high  base_result  swing
    0    budget        1.0         3.0    -1.0     -3.0         -2.0    2.0
    1     floor        0.0         0.5    -2.0     -4.0         -2.0    2.0
    """
    parameters = list(parameters)
    absent = [p for p in parameters if p not in tidy.columns]
    if absent:
        raise ValueError(f"no column {absent[0]!r} in the sweep table: expected one of the parameters")
    unknown = [p for p in parameters if p not in base]
    if unknown:
        raise ValueError(f"no base value for parameter {unknown[0]!r}: give every parameter's base value")
    rows = _ok(tidy)
    if option is None:
        option = tidy["option"].iloc[0] if len(tidy) else None
    rows = rows[((rows["measure"] == measure) & (rows["option"] == option)).to_numpy()]
    after = _numbers(rows["after"]).to_numpy(float)
    values = {p: _numbers(rows[p]).to_numpy(float) for p in parameters}
    at_base = {p: np.isclose(values[p], float(base[p]), rtol=RTOL, atol=ATOL) for p in parameters}
    usable = np.isfinite(after)
    everywhere = np.logical_and.reduce([usable, *at_base.values()])
    base_result = float(np.median(after[everywhere])) if everywhere.any() else np.nan
    out = []
    for p in parameters:
        use = np.logical_and.reduce([usable, np.isfinite(values[p]), *(at_base[q] for q in parameters if q != p)])
        if not use.any():
            continue
        x, y = values[p][use], after[use]
        low, high = x.min(), x.max()
        at_low, at_high = float(np.median(y[x == low])), float(np.median(y[x == high]))
        out.append((p, float(low), float(high), at_low, at_high, base_result, abs(at_high - at_low)))
    table = pd.DataFrame(out, columns=list(TORNADO_COLUMNS))
    table = table.astype({c: float for c in TORNADO_COLUMNS[1:]})
    return table.sort_values("swing", ascending=False, kind="mergesort").reset_index(drop=True)


def tornado_plot(table: pd.DataFrame, measure: str, units: str, path, *, base_result: float | None = None) -> Path:
    """Draw a tornado chart of a `tornado_table` (the largest swing on top); write a PNG.

    ``base_result`` is the measure at the base values; by default the table's
    ``base_result``.  Where it is NaN, each bar is centred on the mean of its two ends.
    Returns ``path``.
    """
    return _save(tornado_figure(table, measure, units, base_result=base_result), path)


def tornado_figure(table: pd.DataFrame, measure: str, units: str, *, base_result: float | None = None) -> Figure:
    """The figure of `tornado_plot`."""
    if table.empty:
        raise ValueError("the tornado table is empty: no parameter has a row with the others at base")
    t = table.sort_values("swing", ascending=False, kind="mergesort").reset_index(drop=True)
    if base_result is None:
        known = _numbers(t["base_result"]).dropna() if "base_result" in t else pd.Series(dtype=float)
        base_result = float(known.iloc[0]) if len(known) else np.nan
    at_low, at_high = t["at_low"].to_numpy(float), t["at_high"].to_numpy(float)
    centre = np.full(len(t), base_result) if np.isfinite(base_result) else (at_low + at_high) / 2
    y = np.arange(len(t))[::-1]
    low_longer = np.abs(at_low - centre) >= np.abs(at_high - centre)
    with matplotlib.rc_context(RC):
        fig = Figure(figsize=(7.5, 1.6 + 0.45 * len(t)), layout="constrained")
        ax = fig.subplots()
        # the longer bar first, so that when both ends fall on one side the shorter stays visible
        for first in (True, False):
            ends = np.where(low_longer == first, at_low, at_high)
            ax.barh(y, ends - centre, left=centre, height=0.6, color=list(np.where(low_longer == first, LOW, HIGH)))
        for i, row in enumerate(t.itertuples(index=False)):
            ends = ((row.at_low, row.low_value, row.at_high), (row.at_high, row.high_value, row.at_low))
            for end, value, other in ends:
                left = end < centre[i] or (end == centre[i] and other > centre[i])  # a bar of zero length
                ax.text(end, y[i], f" {value_text(row.parameter, value)} ", fontsize=7, va="center",
                        ha="right" if left else "left")
        if np.isfinite(base_result):
            ax.axvline(base_result, color=BEFORE, lw=1)
        ax.set_yticks(y, [_label(parameter_label(p)) for p in t["parameter"]])
        ax.grid(axis="y", visible=False)
        ax.margins(x=0.15)
        ax.xaxis.set_major_locator(MaxNLocator(5))
        name = measure_name(measure)
        _axis(ax, "x", str(units), _label(f"{name} after ({units})" if str(units).strip() else name, 90))
        base_text = f", at base {number(base_result, str(units))}" if np.isfinite(base_result) else ""
        ax.set_title(_label(f"One at a time: {name}{base_text}", 100))
        ax.legend(handles=[Patch(color=LOW, label="parameter at its lowest value"),
                           Patch(color=HIGH, label="parameter at its highest value")], fontsize=7,
                  loc="upper center", bbox_to_anchor=(0.5, -0.25), ncol=2)  # below the axis: never on a bar
    return fig


def figures(tidy: pd.DataFrame, parameters, *, measures=None, base: dict | None = None,
            current: dict | None = None) -> list[tuple[str, Figure]]:
    """A sweep's summary figures as (file stem, figure): one per varied parameter, the Monte
    Carlo distributions, a tornado.  The arguments are those of `plot_sweep`."""
    rows = _ok(tidy)
    present = list(dict.fromkeys(rows["measure"]))
    measures = [m for m in DEFAULT_MEASURES if m in present] if measures is None else list(measures)
    current = {**(base or {}), **(current or {})}
    out, taken = [], {"tornado", "distributions"}
    for parameter in parameters:
        if parameter not in tidy.columns:
            raise ValueError(f"no column {parameter!r} in the sweep table: expected one of the parameters")
        if not measures or _numbers(rows[parameter]).dropna().nunique() < 2:
            continue
        stem = safe_name(parameter)
        stem = next(s for s in (stem, *(f"{stem}_{k}" for k in range(2, len(taken) + 2))) if s.lower() not in taken)
        taken.add(stem.lower())
        if base is not None:  # one at a time: only the points where every other parameter is at base
            keep = np.ones(len(tidy), dtype=bool)
            for other in parameters:
                if other != parameter and other in base:
                    keep &= np.isclose(_numbers(tidy[other]).to_numpy(float), base[other], rtol=RTOL, atol=ATOL)
            rows_for = tidy[keep]
        else:
            rows_for = _one_line_per_other_value(tidy, rows, parameter, parameters)
        out.append((stem, measure_figure(rows_for, parameter, measures, current=current.get(parameter))))
    if measures and rows["draw"].notna().any():
        out.append(("distributions", distribution_figure(tidy, measures, grid=parameters, current=current)))
    if base is not None:
        measure = next((m for m in ("sii_outcome", *DEFAULT_MEASURES) if m in present), None)
        table = tornado_table(tidy, parameters, base, measure) if measure else pd.DataFrame()
        if len(table):
            units = [u for u in rows.loc[(rows["measure"] == measure).to_numpy(), "units"].astype("string")
                     .fillna("") if u.strip()]
            out.append(("tornado", tornado_figure(table, measure, units[0] if units else "")))
    return out


def plot_sweep(tidy: pd.DataFrame, parameters, folder, *, measures=None, base: dict | None = None,
               current: dict | None = None) -> list[Path]:
    """Write a sweep's summary plots to a folder: one per varied parameter, and a tornado.

    Parameters
    ----------
    tidy : pandas.DataFrame
        The sweep's tidy results.
    parameters : sequence of str
        The varied parameters (columns of ``tidy``).
    folder : path-like
        The folder to write to (created if needed).
    measures : sequence of str, optional
        The measures to plot; by default those of `DEFAULT_MEASURES` in the results.
    base : dict, optional
        Each parameter's base value (a one-at-a-time design): each parameter's plot
        then shows only the points where every other parameter is at its base, and
        ``tornado.png`` shows the one-at-a-time sensitivity of "sii_outcome" (or the
        first default measure present).
    current : dict, optional
        Each parameter's value in the scenario as loaded (``base`` counts too): the
        current budget is marked, and the Monte Carlo plot is drawn there.

    Returns
    -------
    list of pathlib.Path
        The files written: ``<parameter>.png`` (see `safe_name`; a clash gets a
        suffix "_2", ...) for each parameter with more than one value among the ok
        rows, ``distributions.png`` for draws, then ``tornado.png``.
    """
    folder = Path(folder)
    return [_save(fig, folder / f"{stem}.png")
            for stem, fig in figures(tidy, parameters, measures=measures, base=base, current=current)]


def distribution_plot(tidy: pd.DataFrame, measures, path, *, grid=(), current: dict | None = None) -> Path:
    """Monte Carlo: each measure's spread over the draws, one box per option; write a PNG.

    Boxes span the 25th-75th percentiles with the median marked; whiskers reach the
    5th and 95th percentiles; the grey dashed line is the value before allocation when
    it is the same for every draw.  With several values of the ``grid`` parameters the
    boxes are at one of them: the ``current`` values if swept, else the middle one (the
    per-parameter plots show the same percentiles as bands at every value).
    """
    return _save(distribution_figure(tidy, measures, grid=grid, current=current), path)


def distribution_figure(tidy: pd.DataFrame, measures, *, grid=(), current: dict | None = None) -> Figure:
    """The figure of `distribution_plot`."""
    measures = list(measures)
    rows = _ok(tidy)
    rows = rows[rows["measure"].isin(measures).to_numpy() & rows["draw"].notna().to_numpy()]
    rows, at = one_grid_point(rows.assign(_y=_numbers(rows["after"])).dropna(subset=["_y"]), grid, current)
    options = list(dict.fromkeys(rows["option"]))
    columns = min(3, len(measures))
    grid_rows = math.ceil(len(measures) / columns)
    with matplotlib.rc_context(RC):
        fig = Figure(figsize=(4.0 * columns, 0.9 + 3.0 * grid_rows))
        margins = _margins(fig, columns, grid_rows)
        margins["bottom"] = 1.1 / fig.get_size_inches()[1]
        axes = fig.subplots(grid_rows, columns, squeeze=False, gridspec_kw=margins).ravel()
        for ax in axes[len(measures):]:
            ax.set_visible(False)
        for ax, measure in zip(axes, measures):
            _boxes(ax, rows[(rows["measure"] == measure).to_numpy()], measure, options)
        draws = int(rows["draw"].nunique()) if len(rows) else 0
        where = f" at {at}" if at else ""
        fig.suptitle(_label(f"Monte Carlo{where}: {draws} draws (boxes 25-75%, whiskers 5-95%)", 140), fontsize=10)
    return fig


def _boxes(ax, mine: pd.DataFrame, measure: str, options: list) -> None:
    """One measure's boxes, one per option."""
    _title(ax, measure)
    data = [mine.loc[(mine["option"] == o).to_numpy(), "_y"].to_numpy() for o in options]
    keep = [k for k, d in enumerate(data) if d.size]
    if not keep:
        ax.text(0.5, 0.5, "no successful points", ha="center", va="center", transform=ax.transAxes, color=BEFORE)
        return
    box = ax.boxplot([data[k] for k in keep], whis=(5, 95), showfliers=False, patch_artist=True,
                     widths=0.6, medianprops={"color": "#000000"})
    for patch, k in zip(box["boxes"], keep):
        patch.set_facecolor(PALETTE[k % len(PALETTE)])
        patch.set_alpha(0.5)
    ax.set_xticks(range(1, len(keep) + 1), [_label(options[k], 18) for k in keep], rotation=20, ha="right")
    before = _numbers(mine["before"]).dropna()
    if len(before) and np.allclose(before, before.iloc[0], rtol=RTOL, atol=ATOL):
        ax.axhline(before.iloc[0], ls="--", lw=1, color=BEFORE)
    units = [u for u in mine["units"].astype("string").fillna("") if u.strip()]
    _axis(ax, "y", units[0] if units else "", _label(units[0], 40) if units else "after allocation")


def one_grid_point(rows: pd.DataFrame, grid, current: dict | None = None) -> tuple[pd.DataFrame, str]:
    """The rows at one value of the ``grid`` parameters that vary, and that value as text
    (e.g. 'budget £3.6bn'): the ``current`` values if swept, else the middle one."""
    varied = [g for g in grid if g in rows.columns and _numbers(rows[g]).nunique() > 1]
    if not varied:
        return rows, ""
    keys = rows[varied].astype(float).drop_duplicates().sort_values(varied).reset_index(drop=True)
    at_current = np.logical_and.reduce([np.isclose(keys[g], float((current or {}).get(g, np.nan)), rtol=RTOL,
                                                   atol=ATOL) for g in varied])
    pick = keys[at_current].iloc[0] if at_current.any() else keys.iloc[len(keys) // 2]
    keep = np.logical_and.reduce([np.isclose(_numbers(rows[g]), pick[g], rtol=RTOL, atol=ATOL) for g in varied])
    return rows[keep], ", ".join(f"{g} {value_text(g, pick[g])}" for g in varied)


def _one_line_per_other_value(tidy: pd.DataFrame, rows: pd.DataFrame, parameter: str, parameters) -> pd.DataFrame:
    """A two-parameter grid without draws: one line per option and value of the other
    parameter (when that makes at most 8 lines), rather than a band pooling them."""
    others = [q for q in parameters if q != parameter and _numbers(rows[q]).dropna().nunique() > 1]
    if len(others) != 1 or rows["draw"].notna().any():
        return tidy
    other = others[0]
    if rows["option"].nunique() * _numbers(rows[other]).dropna().nunique() > len(PALETTE):
        return tidy
    label = _label(other, 30)
    return tidy.assign(option=tidy["option"].astype(str) + f", {label} = "
                       + _numbers(tidy[other]).map(lambda v: value_text(other, v)))


def _ok(tidy: pd.DataFrame) -> pd.DataFrame:
    """The rows of successful points that carry a measure."""
    ok = tidy["status"].astype("string").eq("ok").fillna(False).astype(bool)
    measured = tidy["measure"].astype("string").fillna("").ne("").astype(bool)
    return tidy[(ok & measured).to_numpy()]


def _numbers(column: pd.Series) -> pd.Series:
    return pd.to_numeric(column, errors="coerce").astype(float)


def _label(text, length: int = 40) -> str:
    """A name as chart text: one line, clipped, never hidden from a legend by a leading '_'."""
    text = " ".join(str(text).split())
    text = text if len(text) <= length else text[:length - 1] + "…"
    return " " + text if text.startswith("_") else text


def _save(fig: Figure, path) -> Path:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI, metadata={"Software": None})
    path = Path(path)
    atomic_write(path, buffer.getvalue())
    return path
