"""The frontier's chart: total health against the SII, and the health equity impact plane."""

from __future__ import annotations

import io
from pathlib import Path

import pandas as pd

from allocator.format import plain

RC = {"text.parse_math": False,  # a '$' in a label (the outcome's units) is a dollar, never mathtext
      "svg.hashsalt": "allocator-frontier", "svg.fonttype": "none"}


def figures(table: pd.DataFrame, outcome_units: str) -> tuple[bytes, bytes]:
    """The chart as SVG and PNG bytes (no date or software stamp: the same table, the same bytes)."""
    import matplotlib
    from matplotlib.figure import Figure

    with matplotlib.rc_context(RC):
        fig = Figure(figsize=(11, 4.5))
        left, right = fig.subplots(1, 2)
        _draw(left, right, table, outcome_units)
        fig.tight_layout()
        svg, png = io.BytesIO(), io.BytesIO()
        fig.savefig(svg, format="svg", metadata={"Date": None})
        fig.savefig(png, format="png", dpi=110, metadata={"Software": None})
    return svg.getvalue(), png.getvalue()


QUADRANTS = (("more health, less inequality", 0.98, 0.97, "right", "top"),
             ("more health, more inequality", 0.02, 0.97, "left", "top"),
             ("less health, less inequality", 0.98, 0.03, "right", "bottom"),
             ("less health, more inequality", 0.02, 0.03, "left", "bottom"))
MARKERS = {"health-gain": "s", "maximin": "^", "level-up": "v"}


def _parts(table: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """(the frontier's points, the reference runs, the scenario's options)."""
    point = table["point"].astype(str)
    options = point.str.startswith("option: ")
    return table[point.str.isdigit()], table[~point.str.isdigit() & ~options], table[options]


def _draw(left, right, table: pd.DataFrame, outcome_units: str) -> None:
    from matplotlib.ticker import FuncFormatter

    curve, refs, options = _parts(table)
    best = float(table["total_gain"].max())  # the health-gain optimum: what equity is priced against
    given_up = lambda frame: frame["total_gain"] - best  # noqa: E731
    left.plot(curve["sii_reduction"], given_up(curve), "o-", color="#1f5f8b", label="frontier")
    right.plot(curve["sii_reduction"], curve["health_gain"], "o-", color="#1f5f8b", label="frontier")
    for _, r in refs.iterrows():
        marker = MARKERS.get(str(r["point"]), "s")
        left.plot(r["sii_reduction"], r["total_gain"] - best, marker, label=str(r["point"]))
        right.plot(r["sii_reduction"], r["health_gain"], marker, label=str(r["point"]))
    for _, r in options.iterrows():
        name = str(r["point"])[len("option: "):]
        for ax, y in ((left, r["total_gain"] - best), (right, r["health_gain"])):
            ax.plot(r["sii_reduction"], y, "D", markerfacecolor="white", markeredgecolor="#b35806")
            ax.annotate(name, (r["sii_reduction"], y), textcoords="offset points", xytext=(5, 4), fontsize=7,
                        color="#b35806")
    left.axhline(0, color="grey", lw=0.8)
    left.set_ylim(top=max(left.get_ylim()[1], 0.0))
    left.set_xlabel(f"SII reduction against before\n({outcome_units})")
    left.set_ylabel(f"health given up against the\nhealth-gain optimum\n({outcome_units} x people)")
    left.set_title("What equity costs: the frontier (options: diamonds)")
    left.legend(fontsize=7, loc="lower left")
    _impact_plane(right, outcome_units)
    for ax in (left, right):  # every number in plain figures, never 1e6
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: plain(v, 4)))
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: plain(v, 3)))


def _impact_plane(ax, outcome_units: str) -> None:
    """The health equity impact plane about the status quo ('before', at the origin), quadrants named."""
    ax.axhline(0, color="grey", lw=0.8)
    ax.axvline(0, color="grey", lw=0.8)
    ax.plot(0, 0, "o", color="#6b6b6b", label="before (the status quo)")
    x0, x1 = ax.get_xlim()
    y0, y1 = ax.get_ylim()
    ax.set_xlim(min(x0, -0.05 * (x1 - x0)), max(x1, 0.05 * (x1 - x0)))  # both sides of the origin show
    ax.set_ylim(min(y0, -0.05 * (y1 - y0)), max(y1, 0.05 * (y1 - y0)))
    for text, x, y, h, v in QUADRANTS:
        ax.text(x, y, text, transform=ax.transAxes, ha=h, va=v, fontsize=7, color="#555555",
                bbox={"facecolor": "white", "edgecolor": "none", "alpha": 0.8, "pad": 1})
    ax.set_xlabel(f"fall in inequality: SII reduction against before\n({outcome_units})")
    ax.set_ylabel(f"health change against before\n({outcome_units} x people)")
    ax.set_title("Health equity impact plane (against the status quo)")
    ax.legend(fontsize=7, loc="center left")


def plot(table: pd.DataFrame, outcome_units: str, path_svg, path_png=None, protected=frozenset()) -> None:
    """Write the frontier chart as SVG (and PNG), through the output layer."""
    from allocator.reports.files import atomic_write

    svg, png = figures(table, outcome_units)
    atomic_write(Path(path_svg), svg, protected)
    if path_png is not None:
        atomic_write(Path(path_png), png, protected)
