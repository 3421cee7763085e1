"""The frontier's chart: total health against the SII, and the health equity impact plane."""

from __future__ import annotations

import io
from pathlib import Path

import pandas as pd

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


def _draw(left, right, table: pd.DataFrame, outcome_units: str) -> None:
    curve = table[table["point"].str.isdigit()]
    refs = table[~table["point"].str.isdigit()]
    left.plot(curve["sii_reduction"], curve["total_gain"], "o-", color="#1f5f8b", label="frontier")
    for _, r in refs.iterrows():
        left.plot(r["sii_reduction"], r["total_gain"], "s", label=str(r["point"]))
    left.set_xlabel(f"SII reduction ({outcome_units})")
    left.set_ylabel(f"total health ({outcome_units} x people)")
    left.set_title("Equity-efficiency frontier")
    left.legend(fontsize=8)
    base_gain = curve["total_gain"].iloc[0]
    base_sii = abs(curve["sii_before"].iloc[0])
    right.axhline(0, color="grey", lw=0.8)
    right.axvline(0, color="grey", lw=0.8)
    right.plot(base_sii - curve["sii"].abs(), curve["total_gain"] - base_gain, "o-", color="#1f5f8b")
    for _, r in refs.iterrows():
        right.plot(base_sii - abs(r["sii"]), r["total_gain"] - base_gain, "s", label=str(r["point"]))
    right.set_xlabel("fall in inequality (SII, vs before)")
    right.set_ylabel("change in total health vs health-gain optimum")
    right.set_title("Health equity impact plane")
    right.legend(fontsize=8)


def plot(table: pd.DataFrame, outcome_units: str, path_svg, path_png=None, protected=frozenset()) -> None:
    """Write the frontier chart as SVG (and PNG), through the output layer."""
    from allocator.reports.files import atomic_write

    svg, png = figures(table, outcome_units)
    atomic_write(Path(path_svg), svg, protected)
    if path_png is not None:
        atomic_write(Path(path_png), png, protected)
