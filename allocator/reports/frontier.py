"""The frontier's chart: total health against the SII, and the health equity impact plane."""

from __future__ import annotations

import pandas as pd


def plot(table: pd.DataFrame, outcome_units: str, path_svg, path_png=None) -> None:
    """The frontier (total health against SII) and the health equity impact plane."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams["svg.hashsalt"] = "allocator-frontier"
    plt.rcParams["svg.fonttype"] = "none"
    curve = table[table["point"].str.isdigit()]
    refs = table[~table["point"].str.isdigit()]
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.5))
    left.plot(curve["sii_reduction"], curve["total_gain"], "o-", color="#1f5f8b", label="frontier")
    for _, r in refs.iterrows():
        left.plot(r["sii_reduction"], r["total_gain"], "s", label=r["point"])
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
        right.plot(base_sii - abs(r["sii"]), r["total_gain"] - base_gain, "s", label=r["point"])
    right.set_xlabel("fall in inequality (SII, vs before)")
    right.set_ylabel("change in total health vs health-gain optimum")
    right.set_title("Health equity impact plane")
    right.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path_svg, format="svg", metadata={"Date": None})
    if path_png is not None:
        fig.savefig(path_png, format="png", dpi=110, metadata={"Software": None})
    plt.close(fig)
