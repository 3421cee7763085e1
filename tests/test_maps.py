"""Choropleth maps by district (allocator.reports.maps): the shipped boundaries, colours, text, bytes.

Fast and headless: report data are made by hand (no solve), on the boundaries that ship with the
package (never ../shared). `allocator.build.boundaries` is checked on a tiny GeoJSON of its own.
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from allocator.build import boundaries as build
from allocator.reports import maps_draw
from allocator.reports.maps import (
    MEASURES,
    boundaries,
    by_district,
    district_maps,
    place,
)
from allocator.reports.results import ReportData

ROOT = Path(__file__).resolve().parent.parent
SVG = "{http://www.w3.org/2000/svg}"
EXPONENT = re.compile(r"\d[eE][+-]?\d")


def report(areas: pd.DataFrame, values: dict, option: str = "Option A", input_areas=None) -> ReportData:
    """Report data of one option over ``areas`` (area_id, area_name, population), the other
    columns of options_by_area from ``values`` (each a sequence or a constant)."""
    n = len(areas)
    rows = pd.DataFrame({"option": option, "area_id": areas["area_id"].astype(str).to_numpy(),
                         "area_name": areas["area_name"].to_numpy(),
                         "population": areas["population"].astype(float).to_numpy()})
    defaults = {"need_index": 1.0, "fair_share_gbp": 1000.0, "change_gbp": 0.0, "distance_from_target_gbp": 0.0}
    for column, default in defaults.items():
        rows[column] = np.broadcast_to(np.asarray(values.get(column, default), float), n)
    rows["spend_gbp"] = rows["fair_share_gbp"] + rows["distance_from_target_gbp"]
    tables = {"options_by_area": rows, "input_areas": areas if input_areas is None else input_areas}
    return ReportData(meta={"options": [option], "scenario": {"comparator": "baseline"}}, tables=tables)


def england_la() -> pd.DataFrame:
    return pd.read_csv(ROOT / "scenarios" / "england-la" / "areas.csv", usecols=["area_id", "area_name", "population"])


def fills(svg: str, key: str) -> dict[str, str]:
    """District code -> fill colour of every district path of a map's SVG."""
    tree = ET.fromstring(svg)
    return {p.get("id")[len(key) + 1:]: p.get("fill") for p in tree.iter(f"{SVG}path") if p.get("id")}


def texts(svg: str) -> list[str]:
    """Every text and attribute value of an SVG but its colours ('#9e8ac8' is no exponent)."""
    tree = ET.fromstring(svg)
    return [t for element in tree.iter() for t in (element.text, element.tail, *element.attrib.values())
            if t and not re.fullmatch(r"#[0-9a-f]{6}", t)]


# --- the shipped boundaries -------------------------------------------------------------------

def test_the_shipped_boundaries_cover_every_district_of_the_bundled_district_scenarios():
    assert set(england_la()["area_id"]) <= set(boundaries("ltla24").names)
    quickstart = pd.read_csv(ROOT / "scenarios" / "quickstart" / "areas.csv")["area_id"]
    assert set(quickstart) <= set(boundaries("ltla19").names)
    assert len(boundaries("ltla24").names) == 296 and len(boundaries("ltla19").names) == 317


def test_the_shipped_files_are_small_and_every_district_has_a_real_shape():
    folder = ROOT / "allocator" / "reports" / "data"
    assert sum(p.stat().st_size for p in folder.glob("*.json.gz")) < 300_000
    for vintage in ("ltla19", "ltla24"):
        b = boundaries(vintage)
        for code, rings in b.rings.items():
            assert all(len(r) >= 3 for r in rings), code
            x0, y0, x1, y1 = b.boxes[code]
            assert x1 > x0 and y1 > y0, code
        # England, the Isles of Scilly to Lowestoft, is about 570 km wide and 650 km tall on the Grid
        xs = [v for box in b.boxes.values() for v in (box[0], box[2])]
        ys = [v for box in b.boxes.values() for v in (box[1], box[3])]
        assert 540_000 < (max(xs) - min(xs)) * b.unit_m < 600_000
        assert 600_000 < (max(ys) - min(ys)) * b.unit_m < 700_000


def test_lsoas_and_wards_are_found_in_their_2024_districts_from_the_shipped_lookup():
    p = place(pd.Series(["E01012049", "E01000001", "E05009861", "X1"]), None)
    assert p.vintage == "ltla24" and p.gathered
    assert p.district.tolist()[:3] == ["E06000002", "E09000001", "E06000002"]
    assert pd.isna(p.district.iloc[3])


# --- colours ----------------------------------------------------------------------------------

def test_each_district_is_filled_with_its_value_s_colour_on_the_scale():
    areas = england_la()
    k = np.arange(len(areas))
    data = report(areas, {"change_gbp": (k % 41 - 20) * areas["population"] * 0.37,
                          "need_index": 0.5 + (k % 13) / 10, "distance_from_target_gbp": (k % 7 - 3) * 100.0})
    maps, note = district_maps(data, "Option A")
    assert note is None and [m.key for m in maps] == [f"map-option-a-{m.key}" for m in MEASURES]
    values = by_district(data.tables["options_by_area"], place(areas["area_id"], areas).district)
    for measure, map_ in zip(MEASURES, maps):
        make = maps_draw.diverging if measure.diverging else maps_draw.sequential
        scale = make(values[measure.column].to_numpy(), measure.palette, str)
        drawn = fills(map_.svg, map_.key)
        assert set(drawn) == set(areas["area_id"])
        assert drawn == {code: scale.colour(v) for code, v in values[measure.column].items()}
    assert values.loc["E06000001", "change_per_head_gbp"] == pytest.approx(-20 * 0.37)


def test_a_diverging_scale_is_symmetric_with_zero_at_its_middle_colour():
    scale = maps_draw.diverging([-3.0, 1.0, 7.0], "PuOr", str)
    assert scale.low == -scale.high == -8.0
    assert scale.colour(0.0) == maps_draw.PALETTES["PuOr"][5] == "#f7f7f7"
    assert scale.colour(-8.0) == "#7f3b08" and scale.colour(8.0) == "#2d004b"
    assert scale.colour(100.0) == scale.colour(8.0)  # clamped
    assert scale.ticks == (-8.0, -4.0, 0.0, 4.0, 8.0) and scale.position(0.0) == 0.5
    # the distance-from-target palette too, and a scale of nothing but zeros
    assert maps_draw.diverging([0.0, 0.0], "BrBG", str).colour(0.0) == maps_draw.PALETTES["BrBG"][5]


def test_one_outlier_does_not_wash_out_the_scale_and_the_legend_says_so():
    values = [1.0] * 30 + [-1.0] * 30 + [250.0]
    scale = maps_draw.diverging(values, "PuOr", lambda v: f"{v:g}")
    assert scale.high < 10 and scale.clamped_high and not scale.clamped_low
    assert scale.tick_labels()[-1].startswith("≥ ")


def test_a_district_without_a_value_is_grey_and_named_in_the_caption():
    areas = england_la().head(5)
    data = report(areas, {"fair_share_gbp": [1000.0, 0.0, 1000.0, 1000.0, 1000.0]})
    maps, _ = district_maps(data, "Option A")
    distance = maps[2]
    assert fills(distance.svg, distance.key)[areas["area_id"][1]] == maps_draw.NO_VALUE
    assert f"No value (grey): {areas['area_name'][1]}." in distance.caption


# --- text ---------------------------------------------------------------------------------------

def test_names_from_the_input_are_escaped_and_nothing_runs():
    areas = england_la().head(6)
    areas.loc[5, "area_id"] = "NOT-A-DISTRICT"
    areas.loc[5, "area_name"] = '<script>alert("x")</script>'
    option = '<img src=x onerror=alert(1)> & "friends"'
    maps, note = district_maps(report(areas, {}, option=option), option)
    assert "Not on the map" in note and '<script>alert("x")</script>' in note  # plain text: escape it where shown
    for m in maps:
        assert "<script" not in m.svg and "<img" not in m.svg and "onerror=alert" not in m.svg.replace(
            "&lt;img src=x onerror=alert(1)&gt;", "")
        assert "&lt;script&gt;" in m.svg and "&amp;" in m.svg
        ET.fromstring(m.svg)  # well-formed
        assert 'role="img"' in m.svg and "<title" in m.svg and "aria-label=" in m.svg
        assert "href=\"http" not in m.svg and "xlink" not in m.svg  # no external references


def test_no_number_on_a_map_is_in_scientific_notation():
    areas = england_la()
    huge = np.where(np.arange(len(areas)) % 2, 3.6e12, -2.2e12)
    data = report(areas, {"change_gbp": huge, "need_index": np.linspace(1e-7, 4e-7, len(areas)),
                          "distance_from_target_gbp": huge, "fair_share_gbp": 1e-3})
    maps, _ = district_maps(data, "Option A")
    for m in maps:
        assert not [t for t in texts(m.svg) if EXPONENT.search(t)], m.key
        assert not EXPONENT.search(m.caption)


def test_the_caption_states_the_method_and_the_attribution():
    maps, _ = district_maps(report(england_la(), {}), "Option A")
    for m in maps:
        assert "Office for National Statistics" in m.caption
        assert "Open Government Licence v3.0" in m.caption
        assert "Contains OS data © Crown copyright and database right 2024" in m.caption


# --- bytes ------------------------------------------------------------------------------------

def test_the_same_data_give_the_same_bytes():
    areas = england_la().iloc[::25].reset_index(drop=True)
    data = report(areas, {"change_gbp": np.arange(len(areas)) * 1000.0 - 4000.0})
    first, _ = district_maps(data, "Option A", png=True)
    second, _ = district_maps(report(areas, {"change_gbp": np.arange(len(areas)) * 1000.0 - 4000.0}),
                              "Option A", png=True)
    assert [(m.svg, m.png) for m in first] == [(m.svg, m.png) for m in second]
    assert first[0].png.startswith(b"\x89PNG") and b"Software" not in first[0].png
    assert all(len(m.svg) < 400_000 for m in first)
    assert district_maps(data, "Option A")[0][0].png == b""


def test_a_map_of_england_stays_under_400_kb():
    maps, _ = district_maps(report(england_la(), {"change_gbp": 5.0}), "Option A")
    assert all(60_000 < len(m.svg.encode()) < 400_000 for m in maps)


def test_an_unknown_option_is_an_error_naming_the_options():
    from allocator.errors import AllocatorError

    with pytest.raises(AllocatorError, match="no option 'B'.*'Option A'"):
        district_maps(report(england_la().head(3), {}), "B")


# --- small areas --------------------------------------------------------------------------------

def lsoas(districts: list[str]) -> pd.DataFrame:
    n = len(districts)
    return pd.DataFrame({"area_id": [f"E0199{i:04d}" for i in range(n)],  # not real: the column decides
                         "area_name": [f"Small area {i}" for i in range(n)],
                         "population": [100, 300, 200, 200, 500][:n], "district_code": districts})


def test_lsoas_are_gathered_into_districts_with_population_weights():
    areas = lsoas(["E06000001", "E06000001", "E06000002", "E06000002", "E06000003"])
    data = report(areas, {"change_gbp": [1000.0, -200.0, 0.0, 400.0, 0.0],
                          "need_index": [1.0, 2.0, 1.0, 1.0, 0.5],
                          "distance_from_target_gbp": [-100.0, 300.0, 0.0, 0.0, 0.0],
                          "fair_share_gbp": [1000.0, 1000.0, 500.0, 500.0, 800.0]})
    maps, note = district_maps(data, "Option A")
    values = by_district(data.tables["options_by_area"], place(areas["area_id"], areas).district)
    hartlepool = values.loc["E06000001"]
    assert hartlepool["areas"] == 2 and hartlepool["population"] == 400
    assert hartlepool["change_per_head_gbp"] == pytest.approx(800 / 400)  # £ summed, over people summed
    assert hartlepool["need_index"] == pytest.approx((100 * 1.0 + 300 * 2.0) / 400)  # population-weighted
    assert hartlepool["distance_from_target_share"] == pytest.approx(200 / 2000)
    assert values.loc["E06000002", "change_per_head_gbp"] == pytest.approx(1.0)
    assert "No boundaries are shipped for LSOAs" in note and "3 districts" in note and "'district_code'" in note
    titles = {p.get("id"): p.find(f"{SVG}title").text for p in ET.fromstring(maps[0].svg).iter(f"{SVG}path")
              if p.get("id")}
    assert titles[f"{maps[0].key}-E06000001"] == "Hartlepool: +£2.00 a head (2 LSOAs)"
    assert "No boundaries are shipped for LSOAs" in maps[1].caption


def test_the_lsoas_of_one_district_get_a_note_and_no_map():
    areas = lsoas(["E06000009"] * 3)
    maps, note = district_maps(report(areas, {}), "Option A")
    assert maps == []
    assert note == "All 3 LSOAs lie in one district (Blackpool), and no boundaries are shipped for LSOAs: no map is drawn."


def test_areas_with_no_district_get_a_note_and_no_map():
    areas = pd.DataFrame({"area_id": ["A", "B"], "area_name": ["North", "South"], "population": [1, 2]})
    maps, note = district_maps(report(areas, {}), "Option A")
    assert maps == [] and note.startswith("No boundaries for these areas")


def test_districts_outside_the_scenario_are_drawn_around_it_hatched():
    quickstart = pd.read_csv(ROOT / "scenarios" / "quickstart" / "areas.csv", usecols=["area_id", "area_name",
                                                                                       "population"])
    maps, note = district_maps(report(quickstart, {}), "Option A")
    assert note is None
    assert len(fills(maps[0].svg, maps[0].key)) == 12
    assert 'fill="url(#map-option-a-change-per-head-context)"' in maps[0].svg  # neighbours, e.g. Cumbria's


# --- the build, on a tiny GeoJSON ---------------------------------------------------------------

def test_the_build_stores_a_shared_border_once_and_drops_small_islands(tmp_path):
    def square(x, y, size):
        return [[x, y], [x + size, y], [x + size, y + size], [x, y + size], [x, y]]

    features = [
        {"properties": {"ltla24_code": "E06000001", "ltla24_name": "West"},
         "geometry": {"type": "MultiPolygon", "coordinates": [[square(-2.0, 53.0, 0.1)], [square(-1.5, 53.0, 0.001)]]}},
        {"properties": {"ltla24_code": "E06000002", "ltla24_name": "East"},
         "geometry": {"type": "Polygon", "coordinates": [square(-1.9, 53.0, 0.1)]}},
        {"properties": {"ltla24_code": "W06000001", "ltla24_name": "Wales"},
         "geometry": {"type": "Polygon", "coordinates": [square(-3.0, 53.0, 0.1)]}},
    ]
    path = tmp_path / "b.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}))
    districts = build.read_districts(path, "ltla24")
    assert [d["code"] for d in districts] == ["E06000001", "E06000002"]  # England only
    assert len(districts[0]["polygons"]) == 1  # the 0.001 degree island is under 1 km2
    data = build.encoded("ltla24", districts)
    west, east = (d["polygons"][0][0] for d in data["districts"])
    shared = {r if r >= 0 else ~r for r in west} & {r if r >= 0 else ~r for r in east}
    assert len(shared) == 1  # the border between them is one arc, used once each way
    (arc,) = shared
    assert (arc in west) != (arc in east)
