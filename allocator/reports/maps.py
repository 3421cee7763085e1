"""Choropleth maps of an option by district: change in spend per head, need, distance from target.

The district boundaries ship with the package (``allocator/reports/data``, written by
`allocator.build.boundaries` from the ONS boundaries of 2019 and 2024). A scenario's areas are
matched to districts by code: areas that are districts (E06, E07, E08, E09) are drawn as they
are; smaller areas (LSOAs, wards) are gathered into the districts they lie in, found from a
district code or name column of the scenario's areas table or, for 2021 LSOAs and 2024 wards,
from the ONS lookup that ships beside the boundaries. No boundaries are shipped for LSOAs or
wards, so a scenario of one district's small areas gets a note instead of a map.
`allocator.reports.maps_draw` draws them, as inline SVG and as PNG.
"""

from __future__ import annotations

import gzip
import json
import re
from dataclasses import dataclass
from functools import cache, lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

from allocator.errors import AllocatorError
from allocator.format import compact, number, percent, plain
from allocator.reports import maps_draw
from allocator.reports.files import unique_stems

DATA = Path(__file__).resolve().parent / "data"
VINTAGES = ("ltla24", "ltla19")  # newest first: it wins a tie
DISTRICT_CODE = re.compile(r"E0[6-9]\d{6}")
KINDS = {"E01": "LSOAs", "E02": "MSOAs", "E05": "wards"}
ATTRIBUTION = ("Source: Office for National Statistics, licensed under the Open Government Licence v3.0. "
               "Contains OS data © Crown copyright and database right {year}.")
YEARS = {"ltla19": "2019", "ltla24": "2024"}
SHOWN = 10  # areas named in a note, then '+N more'
#: What the change is against, for the legend (short) and the caption (long), as the other reports say it.
COMPARATORS = {"baseline": ("this year's spend", "this year's spend (the baseline table)"),
               "flat": ("a flat spread", "the same budget spread flat (equal units per head everywhere)")}


@dataclass(frozen=True)
class Map:
    """One choropleth: a stable ``key`` (the SVG's id prefix), a plain title, the map as an inline
    SVG and as PNG bytes (``b""`` unless asked for), and a caption: method and attribution."""

    key: str
    title: str
    svg: str
    png: bytes
    caption: str


@dataclass(frozen=True)
class Boundaries:
    """One vintage of district boundaries: each district's rings of integer grid points."""

    vintage: str
    label: str
    unit_m: int
    names: dict[str, str]  # code -> name
    rings: dict[str, tuple[np.ndarray, ...]]  # code -> open rings, outer anticlockwise, holes clockwise
    boxes: dict[str, tuple[int, int, int, int]]  # code -> x0, y0, x1, y1


@cache
def boundaries(vintage: str) -> Boundaries:
    """The shipped boundaries of ``vintage`` ('ltla19' or 'ltla24'), decoded.

    >>> b = boundaries("ltla24")
    >>> b.names["E06000001"], len(b.names)
    ('Hartlepool', 296)
    """
    data = json.loads(gzip.decompress((DATA / f"{vintage}.json.gz").read_bytes()))
    arcs = [np.cumsum(np.asarray(a, np.int64).reshape(-1, 2), axis=0) for a in data["arcs"]]
    names, rings, boxes = {}, {}, {}
    for district in data["districts"]:
        code = district["code"]
        names[code] = district["name"]
        out = []
        for polygon in district["polygons"]:
            for k, refs in enumerate(polygon):
                ring = _ring(arcs, refs)
                area = _signed_area(ring)
                out.append(ring if (area > 0) == (k == 0) else ring[::-1])
        rings[code] = tuple(out)
        points = np.vstack(out)
        boxes[code] = (*(int(v) for v in points.min(axis=0)), *(int(v) for v in points.max(axis=0)))
    return Boundaries(vintage, data["label"], data["unit_m"], names, rings, boxes)


def _signed_area(ring: np.ndarray) -> float:
    """Twice the signed area of an open ring (positive anticlockwise, y northwards)."""
    x, y = ring[:, 0].astype(float), ring[:, 1].astype(float)
    return float(np.dot(x, np.roll(y, -1)) - np.dot(np.roll(x, -1), y))


def _ring(arcs: list[np.ndarray], refs: list[int]) -> np.ndarray:
    """A ring from its arcs (``~i``: arc ``i`` backwards), as an open ring of points."""
    pieces = [arcs[r] if r >= 0 else arcs[~r][::-1] for r in refs]
    return np.vstack([p[:-1] for p in pieces])


@lru_cache(maxsize=1)
def district_lookup() -> dict[str, str]:
    """2021 LSOA and 2024 ward codes -> 2024 district code (England), from the shipped lookup.

    >>> district_lookup()["E01012049"]
    'E06000002'
    """
    data = json.loads(gzip.decompress((DATA / "lookup_ltla24.json.gz").read_bytes()))
    districts = data["districts"]
    out = {}
    for prefix in ("E01", "E05"):
        for first, count, district in data[prefix]:
            for n in range(first, first + count):
                out[f"{prefix}{n:06d}"] = districts[district]
    return out


@dataclass(frozen=True)
class Placement:
    """The district of each area (``district``: area_id -> code, NaN where none was found)."""

    vintage: str
    district: pd.Series
    source: str  # how the districts were found, for a note
    gathered: bool  # areas were gathered into districts (they are not districts themselves)


def _candidates(ids: pd.Series, areas: pd.DataFrame | None):
    """(source, gathered, vintage, area -> district code) for every way of placing the areas."""
    for vintage in VINTAGES:
        b = boundaries(vintage)
        yield "their codes", False, vintage, ids.where(ids.isin(b.names.keys()))
    columns = {}
    if areas is not None and "area_id" in areas:
        table = areas.assign(area_id=areas["area_id"].astype(str)).drop_duplicates("area_id").set_index("area_id")
        columns = {c: ids.map(table[c]) for c in table.columns if not pd.api.types.is_numeric_dtype(table[c])}
    for column, values in columns.items():
        text = values.astype("string").str.strip()
        for vintage in VINTAGES:
            b = boundaries(vintage)
            by_name = {name.casefold(): code for code, name in b.names.items()}
            codes = text.where(text.isin(b.names.keys())).fillna(text.str.casefold().map(by_name))
            gathered = column != "area_name"
            yield f"the '{column}' column of the areas table", gathered, vintage, codes.astype(object)
    yield "the ONS lookup of 2021 LSOAs and 2024 wards to districts", True, "ltla24", ids.map(district_lookup())


def place(ids: pd.Series, areas: pd.DataFrame | None) -> Placement:
    """The districts the areas ``ids`` lie in, found the way that places the most of them
    (ties: the areas' own codes, then a column of ``areas``, then the lookup; newer boundaries).

    >>> p = place(pd.Series(["E01012049", "E01012053", "E01000001"]), None)
    >>> p.vintage, p.district.tolist(), p.gathered
    ('ltla24', ['E06000002', 'E06000002', 'E09000001'], True)
    """
    ids = ids.astype(str).reset_index(drop=True)
    best = None
    for source, gathered, vintage, codes in _candidates(ids, areas):
        found = int(codes.notna().sum())
        if best is None or found > best[0]:
            best = (found, Placement(vintage, codes.set_axis(ids.to_numpy()), source, gathered))
    placement = best[1]
    if not placement.gathered and placement.district.dropna().duplicated().any():
        placement = Placement(placement.vintage, placement.district, placement.source, True)
    return placement


def by_district(rows: pd.DataFrame, district: pd.Series) -> pd.DataFrame:
    """An option's areas gathered into districts: pounds and people summed, per-head values
    weighted by population. One row per district code (sorted), with ``areas`` (how many),
    ``population``, ``change_per_head_gbp``, ``need_index`` (population-weighted) and
    ``distance_from_target_share`` (spend less the fair share, over the fair share)."""
    frame = rows.assign(district=rows["area_id"].astype(str).map(district).to_numpy())
    frame = frame[frame["district"].notna()]
    frame = frame.assign(need_x_pop=frame["need_index"].astype(float) * frame["population"].astype(float))
    columns = ["population", "change_gbp", "need_x_pop", "distance_from_target_gbp", "fair_share_gbp"]
    grouped = frame.groupby("district", sort=True)
    sums = grouped[columns].sum(min_count=1)  # a district of blanks stays blank, never 0
    sums["areas"] = grouped.size()
    people = sums["population"].where(sums["population"] > 0)
    fair = sums["fair_share_gbp"].where(sums["fair_share_gbp"] > 0)
    return pd.DataFrame({
        "areas": sums["areas"], "population": sums["population"],
        "change_per_head_gbp": sums["change_gbp"] / people,
        "need_index": sums["need_x_pop"] / people,
        "distance_from_target_share": sums["distance_from_target_gbp"] / fair,
    })


@dataclass(frozen=True)
class Measure:
    """One map of an option: which value, its scale and its words."""

    key: str
    title: str
    column: str
    palette: str
    diverging: bool
    legend: str  # the legend's title ({comparator} is filled in)
    about: str  # the caption's first sentence ({option}, {comparator})

    def tick(self, value: float) -> str:
        if self.column == "change_per_head_gbp":
            text = compact(abs(value))
            return ("-" if value < 0 else "+" if value > 0 else "") + f"£{text}"
        if self.column == "distance_from_target_share":
            return ("+" if value > 0 else "") + f"{compact(value * 100)}%"
        return plain(value, 3)

    def text(self, value: float) -> str:
        if not np.isfinite(value):
            return "no value"
        if self.column == "change_per_head_gbp":
            return f"{number(value, 'GBP per head', signed=True)} a head"
        if self.column == "distance_from_target_share":
            side = "above" if value > 0 else "below" if value < 0 else "on"
            return "on target" if side == "on" else f"{percent(abs(value))} {side} target"
        return f"need index {plain(value, 3)}"


MEASURES = (
    Measure("change-per-head", "Change in spend per head, by district", "change_per_head_gbp", "PuOr", True,
            "Change in spend per head against {comparator}",
            "Each district's change in spend per head under '{option}' against {comparator}: purple "
            "districts gain and orange districts lose, on colours symmetric around no change."),
    Measure("need", "Need index, by district", "need_index", "viridis_r", False,
            "Need index (fair share per head over budget per head; 1 is average)",
            "Each district's need index: its need-weighted fair share per head over the scenario's "
            "budget per head (1 is the average); darker districts need more."),
    Measure("distance-from-target", "Distance from target, by district", "distance_from_target_share", "BrBG",
            True, "Spend less its fair-share target, as % of the target",
            "How far each district's spend under '{option}' is from its fair-share target, as a "
            "percentage of the target: teal districts above it and brown below, on colours symmetric "
            "around on target."),
)


def _listed(names) -> str:
    names = sorted(str(n) for n in names)
    more = f", +{len(names) - SHOWN} more" if len(names) > SHOWN else ""
    return ", ".join(names[:SHOWN]) + more


def _kind(ids: pd.Series) -> str:
    prefixes = set(ids.astype(str).str[:3])
    return KINDS[prefixes.pop()] if len(prefixes) == 1 and next(iter(prefixes)) in KINDS else "areas"


def district_maps(data, option: str, *, png: bool = False) -> tuple[list[Map], str | None]:
    """The maps of one option, and a note when none can be drawn (or when the areas were
    gathered into districts, or some are not on the map).

    Three maps: change in spend per head, need index, distance from target. ``data`` is a
    `allocator.reports.results.ReportData`; ``png`` also draws each map as PNG (slower).
    """
    table = data.tables["options_by_area"]
    rows = table[table["option"].astype(str) == str(option)]
    if rows.empty:
        known = ", ".join(repr(o) for o in table["option"].astype(str).unique())
        raise AllocatorError(f"no option {option!r} in these results: the options are {known}")
    areas = data.tables.get("input_areas")
    areas = areas if areas is not None else rows[["area_id", "area_name"]]
    placement = place(rows["area_id"], areas)
    kind, found = _kind(rows["area_id"]), placement.district.dropna()
    if found.empty:
        return [], (f"No boundaries for these areas: the maps need 2019 or 2024 district codes (E06, E07, "
                    f"E08, E09) as area ids or in a column of the areas table, or 2021 LSOA or 2024 ward "
                    f"codes; none of the {len(rows):,} {kind} matched.")
    b = boundaries(placement.vintage)
    if placement.gathered and found.nunique() == 1:
        return [], (f"All {len(found):,} {kind} lie in one district ({b.names[found.iloc[0]]}), and no "
                    f"boundaries are shipped for {kind}: no map is drawn.")
    values = by_district(rows, placement.district)
    notes = _notes(rows, placement, kind, values, b)
    options = [str(o) for o in data.meta.get("options", [])]
    options += [str(option)] if str(option) not in options else []
    stem = dict(zip(options, unique_stems(options, lower=True, fallback="option")))[str(option)]  # unique ids
    flat = data.meta.get("scenario", {}).get("comparator") == "flat"
    comparator = COMPARATORS["flat" if flat else "baseline"]
    about = _About(b, str(option), comparator, kind if placement.gathered else None, tuple(notes))
    maps = [_map(measure, values, about, f"map-{stem}-{measure.key}", png) for measure in MEASURES]
    return maps, (" ".join(notes) or None)


def _notes(rows, placement: Placement, kind: str, values: pd.DataFrame, b: Boundaries) -> list[str]:
    notes = []
    if placement.gathered:
        notes.append(f"No boundaries are shipped for {kind}; the maps show the {len(values):,} districts "
                     f"these {placement.district.notna().sum():,} {kind} lie in, found from {placement.source}: "
                     f"pounds and people summed, per-head values weighted by population.")
    missing = rows.loc[placement.district.isna().to_numpy(), "area_name"]
    if len(missing):
        notes.append(f"Not on the map ({len(missing):,} of {len(rows):,} {kind}; no district found): "
                     f"{_listed(missing)}.")
    return notes


@dataclass(frozen=True)
class _About:
    """What every map of one option shares."""

    boundaries: Boundaries
    option: str
    comparator: tuple[str, str]  # short, long
    gathered: str | None  # the kind of areas gathered into districts ('LSOAs'), or None
    notes: tuple[str, ...]


def _map(measure: Measure, values: pd.DataFrame, about: _About, key: str, png: bool) -> Map:
    b = about.boundaries
    column = values[measure.column].astype(float)
    make = maps_draw.diverging if measure.diverging else maps_draw.sequential
    scale = make(column.to_numpy(), measure.palette, measure.tick)
    view = _view([b.boxes[c] for c in values.index])
    context = sorted(c for c in b.names if c not in values.index and _overlaps(b.boxes[c], view))
    shapes = [maps_draw.Shape(c, b.rings[c], maps_draw.CONTEXT, None) for c in context]
    no_value = []
    for code, value in column.items():
        colour = scale.colour(value)
        if colour is None:
            no_value.append(b.names[code])
        count = f" ({values.at[code, 'areas']:,} {about.gathered})" if about.gathered else ""
        shapes.append(maps_draw.Shape(code, b.rings[code], colour or maps_draw.NO_VALUE,
                                      f"{b.names[code]}: {measure.text(value)}{count}"))
    caption = _caption(measure, about, scale, no_value)
    legend = measure.legend.format(comparator=about.comparator[0])
    picture = maps_draw.Picture(key, f"{measure.title}: {about.option}", caption, legend, tuple(shapes),
                                view, scale, bool(no_value), bool(context))
    return Map(key, measure.title, maps_draw.svg(picture), maps_draw.png(picture) if png else b"", caption)


def _caption(measure: Measure, about: _About, scale, no_value: list[str]) -> str:
    b = about.boundaries
    parts = [measure.about.format(option=about.option, comparator=about.comparator[1])]
    if scale.clamped_low or scale.clamped_high:
        parts.append("Districts beyond the legend's ends take its end colours.")
    if no_value:
        parts.append(f"No value (grey): {_listed(no_value)}.")
    parts += list(about.notes)
    parts.append(f"Boundaries: ONS {b.label}, simplified.")
    parts.append(ATTRIBUTION.format(year=YEARS[b.vintage]))
    return " ".join(parts)


def _view(boxes: list[tuple[int, int, int, int]]) -> tuple[int, int, int, int]:
    """The box around ``boxes``, with a margin of 2% of its larger side."""
    x0, y0 = min(b[0] for b in boxes), min(b[1] for b in boxes)
    x1, y1 = max(b[2] for b in boxes), max(b[3] for b in boxes)
    pad = max(x1 - x0, y1 - y0) // 50 + 1
    return x0 - pad, y0 - pad, x1 + pad, y1 + pad


def _overlaps(a, b) -> bool:
    return a[0] <= b[2] and b[0] <= a[2] and a[1] <= b[3] and b[1] <= a[3]
