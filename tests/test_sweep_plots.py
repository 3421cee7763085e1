"""Sweep summary plots: valid, deterministic PNGs from tidy frames built by hand with known numbers."""

from __future__ import annotations

import io
import itertools
import re

import matplotlib
import matplotlib.image
import numpy as np
import pandas as pd
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg

from allocator.reports.markdown import measure_name
from allocator.reports.sweep_plots import (
    NOT_FROM_ZERO,
    Ticks,
    compact,
    distribution_figure,
    figures,
    measure_figure,
    measure_plot,
    plot_sweep,
    safe_name,
    tornado_figure,
    tornado_plot,
    tornado_table,
)

PNG = b"\x89PNG\r\n\x1a\n"
MEASURES = {"sii_outcome": "years", "mean_outcome": "years", "total_gain": "person-years",
            "share_of_spend_most_deprived_fifth": "share"}
HOSTILE = ("=cmd|' /C calc'!A0", "<script>alert(1)</script>", "Steeper $slope$", "_hidden", r"$\frac{")


def tidy_frame(points, options=("base",), draws=(None,), after=None) -> pd.DataFrame:
    """One row per (point x option x draw x measure); ``points`` are dicts of parameter values.

    A point with ``"status"`` other than "ok" gets one row with no measure, as a failed sweep point has.
    ``after(option, point, draw, measure)`` gives the measure after; by default a known linear function.
    """
    after = after or (lambda option, p, draw, m: -1.0 - 1e-9 * p.get("budget", 0) + p.get("floor", 0)
                      + 0.1 * options.index(option) + 0.01 * (draw or 0))
    rows = []
    for point, (values, option, draw) in enumerate(itertools.product(points, options, draws)):
        values = dict(values)
        status = values.pop("status", "ok")
        common = {"point": point, "option": option, "draw": draw, **values, "status": status, "seconds": 0.1}
        if status != "ok":
            rows.append({**common, "reason": "floors exceed the budget", "measure": "", "units": "",
                         "before": np.nan, "after": np.nan, "change": np.nan})
            continue
        for measure, units in MEASURES.items():
            value = after(option, values, draw, measure)
            rows.append({**common, "reason": "", "measure": measure, "units": units, "before": -1.0,
                         "after": value, "change": value + 1.0})
    frame = pd.DataFrame(rows)
    frame["draw"] = frame["draw"].astype("Int64")
    return frame


def budget_points(*budgets, **fixed):
    return [{"budget": b, **fixed} for b in budgets]


def check_png(path, height, width):
    data = path.read_bytes()
    assert data.startswith(PNG)
    assert matplotlib.image.imread(path).shape == (height, width, 4)


def test_measure_plot_writes_a_png_with_one_subplot_per_measure_in_three_columns(tmp_path):
    tidy = tidy_frame(budget_points(1e9, 2e9, 3e9), options=("base", "Fair share"))
    path = measure_plot(tidy, "budget", list(MEASURES), tmp_path / "budget.png", title="Budget")
    assert path == tmp_path / "budget.png"
    check_png(path, height=650, width=1200)  # 3 columns x 4 in, 2 rows x 3 in + 0.5 in, at 100 dpi
    one = measure_plot(tidy, "budget", ["sii_outcome"], tmp_path / "one.png")
    check_png(one, height=350, width=400)


def test_same_input_gives_the_same_bytes(tmp_path):
    tidy = tidy_frame(budget_points(1e9, 2e9, 3e9), options=("base", "Fair share"), draws=(1, 2, 3))
    first = measure_plot(tidy, "budget", list(MEASURES), tmp_path / "a.png").read_bytes()
    second = measure_plot(tidy.copy(), "budget", list(MEASURES), tmp_path / "b.png").read_bytes()
    assert first == second
    table = tornado_table(tidy, ["budget"], {"budget": 2e9}, "sii_outcome")
    assert (tornado_plot(table, "sii_outcome", "years", tmp_path / "t1.png").read_bytes()
            == tornado_plot(table, "sii_outcome", "years", tmp_path / "t2.png").read_bytes())


def test_failed_points_are_left_out_of_the_plot(tmp_path):
    good = budget_points(1e9, 2e9, 3e9, floor=0.0)
    # 4e9 fails everywhere (no point on the line), 2e9 fails in one of two grid points (one left)
    failed = [*good, {"budget": 4e9, "floor": 0.0, "status": "infeasible"},
              {"budget": 2e9, "floor": 0.0, "status": "solver error"}]
    tidy_failed = tidy_frame(failed, options=("base", "Fair share"))
    tidy_failed.loc[tidy_failed["status"] == "solver error", "measure"] = pd.NA
    tidy_good = tidy_frame(good, options=("base", "Fair share"))
    with_failures = measure_plot(tidy_failed, "budget", ["sii_outcome", "total_gain"], tmp_path / "failed.png")
    without = measure_plot(tidy_good, "budget", ["sii_outcome", "total_gain"], tmp_path / "good.png")
    assert with_failures.read_bytes() == without.read_bytes()


def test_monte_carlo_draws_and_a_measure_with_no_results_still_plot(tmp_path):
    tidy = tidy_frame(budget_points(1e9, 2e9), draws=(1, 2, 3, 4, 5))
    path = measure_plot(tidy, "budget", ["sii_outcome", "not_a_measure"], tmp_path / "mc.png")
    check_png(path, height=350, width=800)
    no_mc = measure_plot(tidy[tidy["draw"] == 3], "budget", ["sii_outcome", "not_a_measure"], tmp_path / "no.png")
    assert path.read_bytes() != no_mc.read_bytes()  # the 5%-95% band


def tornado_input() -> pd.DataFrame:
    """Base: budget 2e9, floor 0, scale 1; after = -1 - budget/1e9 + floor - scale (base option)."""
    points = [{"budget": 2e9, "floor": 0.0, "scale": 1.0},  # all at base: -4
              {"budget": 1e9, "floor": 0.0, "scale": 1.0},  # -3
              {"budget": 3e9, "floor": 0.0, "scale": 1.0},  # -5
              {"budget": 3.5e9, "floor": 0.0, "scale": 1.0, "status": "infeasible"},  # failed: not the high end
              {"budget": 2e9, "floor": 0.5, "scale": 1.0},  # -3.5
              {"budget": 2e9, "floor": 1.0, "scale": 1.0},  # -3
              {"budget": 2e9, "floor": 0.0, "scale": 0.8},  # -3.8
              {"budget": 2e9, "floor": 0.0, "scale": 1.2},  # -4.2
              {"budget": 1e9, "floor": 1.0, "scale": 0.8},  # two off base: ignored (-1.8)
              {"budget": 0.5e9, "floor": 1.0, "scale": 1.0}]  # two off base: ignored (-1.5)
    return tidy_frame(points, options=("base", "Fair share"),
                      after=lambda o, p, d, m: (-1 - p["budget"] / 1e9 + p["floor"] - p["scale"]
                                                + (10.0 if o == "Fair share" else 0.0)))


def test_tornado_table_reads_one_at_a_time_rows_and_sorts_by_swing():
    table = tornado_table(tornado_input(), ["scale", "floor", "budget"],
                          {"budget": 2e9, "floor": 0.0, "scale": 1.0}, "sii_outcome")
    assert list(table.columns) == ["parameter", "low_value", "high_value", "at_low", "at_high", "base_result",
                                   "swing"]
    expected = pd.DataFrame({"parameter": ["budget", "floor", "scale"], "low_value": [1e9, 0.0, 0.8],
                             "high_value": [3e9, 1.0, 1.2], "at_low": [-3.0, -4.0, -3.8],
                             "at_high": [-5.0, -3.0, -4.2], "base_result": [-4.0, -4.0, -4.0],
                             "swing": [2.0, 1.0, 0.4]})
    pd.testing.assert_frame_equal(table, expected, rtol=1e-12)


def test_tornado_table_reads_the_option_asked_for_and_medians_of_draws():
    tidy = tornado_input()
    base = {"budget": 2e9, "floor": 0.0, "scale": 1.0}
    fair = tornado_table(tidy, list(base), base, "sii_outcome", option="Fair share")
    assert fair.loc[0, ["parameter", "at_low", "at_high", "base_result"]].tolist() == ["budget", 7.0, 5.0, 6.0]
    draws = tidy_frame(budget_points(1e9, 2e9, 3e9), draws=(1, 2, 3),
                       after=lambda o, p, d, m: p["budget"] / 1e9 + [0.0, 5.0, 0.5][d - 1])
    table = tornado_table(draws, ["budget"], {"budget": 2e9}, "mean_outcome")
    assert table.loc[0, ["at_low", "at_high", "base_result", "swing"]].tolist() == pytest.approx(
        [1.5, 3.5, 2.5, 2.0])


def test_tornado_table_drops_parameters_with_no_usable_rows_and_may_lack_a_base_result(tmp_path):
    points = [{"budget": 1e9, "floor": 0.0, "scale": 1.0}, {"budget": 3e9, "floor": 0.0, "scale": 1.0},
              {"budget": 2e9, "floor": 0.0, "scale": 0.5, "status": "infeasible"},
              {"budget": 1e9, "floor": 1.0, "scale": 1.0}]  # floor off base and budget off base: unusable
    tidy = tidy_frame(points, after=lambda o, p, d, m: p["budget"] / 1e9)
    table = tornado_table(tidy, ["budget", "floor", "scale"], {"budget": 2e9, "floor": 0.0, "scale": 1.0},
                          "sii_outcome")
    assert table["parameter"].tolist() == ["budget"]
    assert table.loc[0, ["at_low", "at_high", "swing"]].tolist() == [1.0, 3.0, 2.0]
    assert np.isnan(table.loc[0, "base_result"])  # no point has every parameter at base
    check_png(tornado_plot(table, "sii_outcome", "years", tmp_path / "t.png"), height=205, width=750)
    empty = tornado_table(tidy, ["floor", "scale"], {"floor": 0.5, "scale": 0.5}, "sii_outcome")
    assert empty.empty and list(empty.columns)[-1] == "swing"
    assert plot_sweep(tidy, ["floor", "scale"], tmp_path / "sweep", base={"floor": 0.5, "scale": 0.5},
                      measures=["sii_outcome"])[-1].name == "floor.png"  # no tornado.png
    with pytest.raises(ValueError, match="no base value for parameter 'scale'"):
        tornado_table(tidy, ["scale"], {}, "sii_outcome")


def test_plot_sweep_writes_one_plot_per_varied_parameter_and_a_tornado(tmp_path):
    tidy = tornado_input().rename(columns={"floor": "floor/stop smoking"})
    tidy["unvaried"] = 7.0
    parameters = ["budget", "floor/stop smoking", "scale", "unvaried"]
    base = {"budget": 2e9, "floor/stop smoking": 0.0, "scale": 1.0, "unvaried": 7.0}
    folder = tmp_path / "plots" / "sweep"
    written = plot_sweep(tidy, parameters, folder, base=base)
    assert [p.name for p in written] == ["budget.png", "floor_stop_smoking.png", "scale.png", "tornado.png"]
    assert sorted(p.name for p in folder.iterdir()) == sorted(p.name for p in written)  # no temporary files
    for path in written:
        assert path.read_bytes().startswith(PNG)
    check_png(folder / "budget.png", height=650, width=1200)  # the four MEASURES present, in default order
    assert [p.name for p in plot_sweep(tidy, ["budget"], tmp_path / "no-base")] == ["budget.png"]


def test_plot_sweep_keeps_clashing_and_hostile_parameter_names_inside_the_folder(tmp_path):
    names = ["../../escape", "a/b", "a_b", "tornado"]
    points = [dict(zip(names, [v, 0.0, 0.0, 0.0])) for v in (1.0, 2.0)]
    points += [dict(zip(names, [1.0, v, v, v])) for v in (1.0, 2.0)]
    tidy = tidy_frame(points, after=lambda o, p, d, m: sum(p.values()))
    written = plot_sweep(tidy, names, tmp_path / "out", base=dict.fromkeys(names, 0.0), measures=["sii_outcome"])
    assert [p.name for p in written] == [".._.._escape.png", "a_b.png", "a_b_2.png", "tornado_2.png",
                                         "tornado.png"]
    assert all(p.parent == tmp_path / "out" for p in written)
    assert safe_name("") == "_"


def test_hostile_option_and_parameter_names_are_only_text(tmp_path):
    tidy = tidy_frame(budget_points(1e9, 2e9, 3e9), options=HOSTILE, draws=(1, 2))
    tidy = tidy.rename(columns={"budget": "$\\sqrt{<b>budget</b>}$ =SUM(A1)"})
    parameter = "$\\sqrt{<b>budget</b>}$ =SUM(A1)"
    path = measure_plot(tidy, parameter, ["sii_outcome", "total_gain"], tmp_path / "hostile.png", title=HOSTILE[0])
    check_png(path, height=350, width=800)
    for option in HOSTILE:
        table = tornado_table(tidy, [parameter], {parameter: 2e9}, "sii_outcome", option=option)
        assert len(table) == 1
    tornado_plot(table, "$\\frac{", "=cmd|' /C calc'!A0", tmp_path / "tornado.png")
    written = plot_sweep(tidy, [parameter], tmp_path / "sweep", base={parameter: 2e9}, measures=["sii_outcome"])
    assert [p.name for p in written] == [safe_name(parameter) + ".png", "distributions.png", "tornado.png"]
    assert written[0].name.startswith("__sqrt__b_budget__b_")


def test_monte_carlo_sweeps_get_a_distribution_plot_per_option(tmp_path):
    tidy = tidy_frame([{"budget": 1e9}], options=("base", "Fair share"), draws=(0, 1, 2, 3, 4, 5))
    written = plot_sweep(tidy, [], tmp_path)
    assert [p.name for p in written] == ["distributions.png"]
    path = written[0]
    assert path.read_bytes().startswith(PNG)
    no_spread = tidy.assign(after=-1.0)  # every draw the same: the boxes collapse to lines
    other = plot_sweep(no_spread, [], tmp_path / "flat")[0]
    assert other.read_bytes() != path.read_bytes()
    assert plot_sweep(tidy[tidy["draw"].isna()], [], tmp_path / "none") == []  # no draws, no plot


def test_a_two_parameter_grid_draws_one_line_per_value_of_the_other(tmp_path):
    points = [{"budget": b, "floor": f} for b in (1e9, 2e9, 3e9) for f in (0.0, 0.5)]
    tidy = tidy_frame(points)
    written = plot_sweep(tidy, ["budget", "floor"], tmp_path / "grid", measures=["sii_outcome"])
    pooled = measure_plot(tidy, "budget", ["sii_outcome"], tmp_path / "pooled.png")
    assert written[0].name == "budget.png"
    assert written[0].read_bytes() != pooled.read_bytes()  # two lines (floor 0, 0.5), not one band
    lines = tidy.assign(option=tidy["option"] + ", floor = " + tidy["floor"].map(compact))
    by_hand = measure_plot(lines, "budget", ["sii_outcome"], tmp_path / "by_hand.png",
                           title="Sensitivity to budget")
    assert written[0].read_bytes() == by_hand.read_bytes()


SCIENTIFIC = re.compile(r"\d[eE][+-]?\d|×\s*10")


def svg_text(fig) -> str:
    """The text a person reads in a figure saved as SVG with text kept as text."""
    buffer = io.StringIO()
    with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": "x"}):
        fig.savefig(buffer, format="svg", metadata={"Date": None})
    return " ".join(re.findall(r"<text[^>]*>([^<]*)</text>", buffer.getvalue()))


def big_and_small(option, p, draw, measure):
    """Values that matplotlib's own formatter writes as '1e8' with an offset like '+1.5e8'."""
    scale = {"total_gain": 1.5e8, "mean_outcome": 1e-5, "sii_outcome": 79.0}.get(measure, 0.2)
    return scale * (1 + 1e-3 * (p["budget"] / 1e9) + 1e-4 * (draw or 0) + 1e-3 * options_index(option))


def options_index(option):
    return ("base", "Fair share").index(option)


def test_tick_labels_never_use_scientific_notation_or_an_offset():
    tidy = tidy_frame(budget_points(3.5e9, 3.6e9, 3.7e9, 3.8e9), options=("base", "Fair share"), draws=(0, 1, 2),
                      after=big_and_small)
    made = [measure_figure(tidy, "budget", list(MEASURES), current=3.6e9),
            distribution_figure(tidy, list(MEASURES)),
            tornado_figure(tornado_table(tidy, ["budget"], {"budget": 3.6e9}, "total_gain"), "total_gain", "years")]
    for fig in made:
        FigureCanvasAgg(fig).draw()
        for ax in [ax for ax in fig.axes if ax.get_visible()]:
            for axis in (ax.xaxis, ax.yaxis):
                labels = [t.get_text() for t in axis.get_ticklabels()]
                named = labels and not any(ch.isdigit() for ch in "".join(labels))  # options, parameters
                assert isinstance(axis.get_major_formatter(), Ticks) or named, labels
                assert axis.get_offset_text().get_text() == ""
                labels = [t.get_text() for t in axis.get_ticklabels()]
                assert not any(SCIENTIFIC.search(text) for text in labels), labels
        text = svg_text(fig)
        assert "e+" not in text and not SCIENTIFIC.search(text), text
    labels = " ".join(t.get_text() for ax in made[0].axes for t in ax.xaxis.get_ticklabels())
    assert "£3.6bn" in labels or "£3.60bn" in labels  # money on the budget axis
    assert "150m" in svg_text(made[0]) or "150.0m" in svg_text(made[0])  # k/m/bn, not 1e8


def test_titles_are_plain_measure_names_and_axes_show_zero_or_say_they_do_not():
    tidy = tidy_frame(budget_points(1e9, 2e9, 3e9), after=lambda o, p, d, m: {
        "sii_outcome": 79.0 + p["budget"] / 1e9 / 100, "mean_outcome": p["budget"] / 1e9 / 2}.get(m, -1.0))
    tidy.loc[tidy["measure"] == "total_gain", "measure"] = "rii_alternative_outcome"
    tidy["before"] = np.nan  # no 'before' line: the axes hold only the values after
    fig = measure_figure(tidy, "budget", ["sii_outcome", "mean_outcome", "rii_alternative_outcome"])
    FigureCanvasAgg(fig).draw()
    titles = [ax.get_title() for ax in fig.axes if ax.get_visible()]
    assert titles == [measure_name("sii_outcome"), measure_name("mean_outcome"),
                      measure_name("rii_alternative_outcome")]
    assert "rii_alternative_outcome" not in svg_text(fig) and "RII in the outcome (SII / mean)" in svg_text(fig)
    sii, mean, _ = fig.axes[:3]
    assert NOT_FROM_ZERO in sii.get_ylabel()  # 79.01 to 79.03: zero is far, so the label says so
    assert mean.get_ylim()[0] == 0 and NOT_FROM_ZERO not in mean.get_ylabel()  # 0.5 to 1.5: zero is near, so shown


def test_the_current_budget_is_marked_when_the_budget_is_swept(tmp_path):
    tidy = tidy_frame(budget_points(3.5e9, 3.6e9, 3.9e9), options=("base", "Fair share"))
    fig = measure_figure(tidy, "budget", ["sii_outcome"], current=3.6e9)
    assert "Current budget £3.60bn" in svg_text(fig)
    lines = [line for ax in fig.axes for line in ax.get_lines() if line.get_label().startswith("Current budget")]
    assert len(lines) == 1 and list(lines[0].get_xdata()) == [3.6e9, 3.6e9]
    assert "Current budget" not in svg_text(measure_figure(tidy, "budget", ["sii_outcome"]))
    floors = tidy.rename(columns={"budget": "floor_scale"})
    assert "Current budget" not in svg_text(measure_figure(floors, "floor_scale", ["sii_outcome"], current=1.0))
    stems = [stem for stem, fig in figures(tidy, ["budget"], current={"budget": 3.6e9})]
    assert stems == ["budget"]
    written = plot_sweep(tidy, ["budget"], tmp_path, current={"budget": 3.6e9})
    assert written[0].read_bytes() != plot_sweep(tidy, ["budget"], tmp_path / "plain")[0].read_bytes()


def test_the_monte_carlo_boxes_are_drawn_at_the_current_budget_not_pooled_over_the_grid():
    tidy = tidy_frame(budget_points(1e9, 2e9, 3e9), options=("base", "Fair share"), draws=(0, 1, 2, 3))
    fig = distribution_figure(tidy, ["sii_outcome"], grid=["budget"], current={"budget": 2e9})
    assert fig.get_suptitle().startswith("Monte Carlo at budget £2bn: 4 draws")
    middle = distribution_figure(tidy, ["sii_outcome"], grid=["budget"])
    assert middle.get_suptitle().startswith("Monte Carlo at budget £2bn")  # no current value: the middle one
