"""District boundaries for the reports' maps, shipped small: projected, simplified, quantised.

    python -m allocator.build --shared ../shared/data --only boundaries

Reads the ONS district boundaries of 2019 and 2024 (``geography/boundaries_ltla{19,24}.geojson``,
WGS84 longitude and latitude) and the LSOA -> ward -> district lookup, keeps England, and
writes ``ltla19.json.gz``, ``ltla24.json.gz`` and ``lookup_ltla24.json.gz`` for
`allocator.reports.maps` to read. Each boundary file is TopoJSON-like: every shared border is
one *arc*, simplified once (Douglas-Peucker), so neighbours never gap or overlap; a ring is a
list of arc numbers (``~i``, that is ``-i - 1``, for arc ``i`` reversed). Coordinates are
integers of ``unit_m`` metres on a British-National-Grid-like projection, stored as differences.

Exit codes: 0 written; 2 a shared file is missing; 1 the data are not what the build expects.
"""

from __future__ import annotations

import gzip
import json
from itertools import pairwise
from pathlib import Path

import numpy as np

from allocator.build.checks import SHARED_HINT, MissingDataError, check

#: Where the files go by default: the reports' data folder of this checkout.
OUT = Path(__file__).resolve().parents[1] / "reports" / "data"
VINTAGES = {"ltla19": "boundaries_ltla19.geojson", "ltla24": "boundaries_ltla24.geojson"}
LABELS = {"ltla19": "local authority districts of 2019", "ltla24": "local authority districts of 2024"}
LOOKUP = "lookup_lsoa21_ward24_ltla24.csv"
UNIT_M = 20  # the grid the coordinates are rounded to, in metres
TOLERANCE_M = 50  # Douglas-Peucker: no border moves more than this (the source is generalised already)
MIN_ISLAND_KM2 = 1.0  # smaller islands (and holes) are dropped, unless a district's largest part
ENGLAND = ("E06", "E07", "E08", "E09")
FORMAT = "allocator-boundaries/1"

# The National Grid's Transverse Mercator on the Airy 1830 ellipsoid (Ordnance Survey, "A guide
# to coordinate systems in Great Britain", annex C). Applied to WGS84 latitudes without the
# Helmert shift to OSGB36: points land within about 120 m of their true grid reference.
_A, _B, _F0 = 6377563.396, 6356256.909, 0.9996012717
_LAT0, _LON0, _E0, _N0 = np.radians(49.0), np.radians(-2.0), 400000.0, -100000.0


def project(lon, lat) -> tuple[np.ndarray, np.ndarray]:
    """Easting and northing in metres on the National Grid's projection (no datum shift).

    Examples
    --------
    The Ordnance Survey's worked example (52°39'27.2531"N, 1°43'4.5177"E on OSGB36):

    >>> e, n = project(1 + 43 / 60 + 4.5177 / 3600, 52 + 39 / 60 + 27.2531 / 3600)
    >>> round(float(e), 2), round(float(n), 2)
    (651409.9, 313177.27)
    """
    phi, lam = np.radians(np.asarray(lat, float)), np.radians(np.asarray(lon, float))
    n, e2 = (_A - _B) / (_A + _B), (_A**2 - _B**2) / _A**2
    s, c, t = np.sin(phi), np.cos(phi), np.tan(phi)
    nu = _A * _F0 / np.sqrt(1 - e2 * s**2)
    rho = _A * _F0 * (1 - e2) / (1 - e2 * s**2) ** 1.5
    eta2 = nu / rho - 1
    d, m = phi - _LAT0, phi + _LAT0
    arc = _B * _F0 * ((1 + n + 1.25 * n**2 + 1.25 * n**3) * d
                      - (3 * n + 3 * n**2 + 21 / 8 * n**3) * np.sin(d) * np.cos(m)
                      + (15 / 8 * n**2 + 15 / 8 * n**3) * np.sin(2 * d) * np.cos(2 * m)
                      - 35 / 24 * n**3 * np.sin(3 * d) * np.cos(3 * m))
    dl = lam - _LON0
    north = (arc + _N0 + nu / 2 * s * c * dl**2 + nu / 24 * s * c**3 * (5 - t**2 + 9 * eta2) * dl**4
             + nu / 720 * s * c**5 * (61 - 58 * t**2 + t**4) * dl**6)
    east = (_E0 + nu * c * dl + nu / 6 * c**3 * (nu / rho - t**2) * dl**3
            + nu / 120 * c**5 * (5 - 18 * t**2 + t**4 + 14 * eta2 - 58 * t**2 * eta2) * dl**5)
    return east, north


def ring_area(ring: np.ndarray) -> float:
    """Signed area of a closed or open ring of points (shoelace; positive anticlockwise).

    >>> ring_area(np.array([[0, 0], [2, 0], [2, 1], [0, 1]]))
    2.0
    """
    x, y = ring[:, 0].astype(float), ring[:, 1].astype(float)
    return float(np.dot(x, np.roll(y, -1)) - np.dot(np.roll(x, -1), y)) / 2


def _quantised(ring: list, unit_m: float) -> np.ndarray:
    """A GeoJSON ring as an open ring of grid points, consecutive repeats removed."""
    lonlat = np.asarray(ring, float)
    east, north = project(lonlat[:, 0], lonlat[:, 1])
    points = np.column_stack([np.round(east / unit_m), np.round(north / unit_m)]).astype(np.int64)
    keep = np.any(points != np.roll(points, 1, axis=0), axis=1)
    return points[keep] if keep.any() else points[:1]


def read_districts(path: Path, vintage: str, unit_m: float = UNIT_M,
                   min_island_km2: float = MIN_ISLAND_KM2) -> list[dict]:
    """England's districts of a boundary file: code, name and polygons (lists of open rings of
    grid points, outer ring first), sorted by code; islands and holes under ``min_island_km2``
    dropped, but never a district's largest part."""
    if not path.is_file():
        raise MissingDataError(f"{path}: not found; {SHARED_HINT}")
    features = json.loads(path.read_text(encoding="utf-8"))["features"]
    minimum = min_island_km2 * 1e6 / unit_m**2
    districts = []
    for feature in features:
        props, geometry = feature["properties"], feature["geometry"]
        code, name = props[f"{vintage}_code"], props[f"{vintage}_name"]
        if not code.startswith(ENGLAND):
            continue
        parts = geometry["coordinates"] if geometry["type"] == "MultiPolygon" else [geometry["coordinates"]]
        polygons = [[_quantised(ring, unit_m) for ring in part] for part in parts]
        polygons = [[rings[0], *(h for h in rings[1:] if len(h) >= 3 and abs(ring_area(h)) >= minimum)]
                    for rings in polygons if len(rings[0]) >= 3]
        polygons.sort(key=lambda rings: -abs(ring_area(rings[0])))
        polygons = polygons[:1] + [p for p in polygons[1:] if abs(ring_area(p[0])) >= minimum]
        districts.append({"code": code, "name": name, "polygons": polygons})
    check(len({d["code"] for d in districts}) == len(districts), f"{path.name}: a district code repeats")
    return sorted(districts, key=lambda d: d["code"])


def _key(point) -> tuple[int, int]:
    return int(point[0]), int(point[1])


def _junctions(rings: list[np.ndarray]) -> set:
    """Points where more than two borders meet (or a ring touches itself): arcs end there."""
    neighbours: dict[tuple, set] = {}
    for ring in rings:
        keys = [_key(p) for p in ring]
        for i, key in enumerate(keys):
            neighbours.setdefault(key, set()).update((keys[i - 1], keys[(i + 1) % len(keys)]))
    return {key for key, near in neighbours.items() if len(near) > 2}


def _pieces(ring: np.ndarray, junctions: set) -> list[np.ndarray]:
    """A ring cut at its junctions into arcs (each with both end points); a ring with none is one
    closed arc, started at its least point so that its neighbour's copy starts there too."""
    keys = [_key(p) for p in ring]
    cuts = [i for i, key in enumerate(keys) if key in junctions]
    if not cuts:
        start = min(range(len(keys)), key=keys.__getitem__)
        rolled = np.roll(ring, -start, axis=0)
        return [np.vstack([rolled, rolled[:1]])]
    rolled = np.roll(ring, -cuts[0], axis=0)
    closed = np.vstack([rolled, rolled[:1]])
    ends = [c - cuts[0] for c in cuts] + [len(ring)]
    return [closed[a:b + 1] for a, b in pairwise(ends)]


def douglas_peucker(points: np.ndarray, tolerance: float) -> np.ndarray:
    """The points of a line kept by Douglas-Peucker: both ends, every point further than
    ``tolerance`` from the simplified line, and always the point furthest from the chord (so
    that no arc, and so no ring, collapses to a line). A closed line is split at its point
    furthest from the start.

    >>> line = np.array([[0, 0], [1, 0], [2, 0], [3, 5], [4, 0], [5, 0], [6, 0], [6, 1]])
    >>> douglas_peucker(line, 1.0).tolist()
    [[0, 0], [2, 0], [3, 5], [4, 0], [6, 1]]
    """
    n = len(points)
    if n <= 2:
        return points
    keep = np.zeros(n, bool)
    keep[[0, n - 1]] = True
    closed = bool(np.all(points[0] == points[-1]))
    stack = [(0, n - 1, 2 if closed else 1)]  # the last number: levels still split whatever the distance
    while stack:
        i, j, force = stack.pop()
        if j - i < 2:
            continue
        inner = points[i + 1:j].astype(float)
        a, chord = points[i].astype(float), (points[j] - points[i]).astype(float)
        length = np.hypot(*chord)
        if length == 0:
            dist = np.hypot(*(inner - a).T)
        else:
            dist = np.abs(chord[0] * (inner[:, 1] - a[1]) - chord[1] * (inner[:, 0] - a[0])) / length
        k = i + 1 + int(np.argmax(dist))
        if dist[k - i - 1] > tolerance or force:
            keep[k] = True
            stack += [(i, k, max(force - 1, 0)), (k, j, max(force - 1, 0))]
    return points[keep]


def topology(districts: list[dict], tolerance: float) -> tuple[list[np.ndarray], list[dict]]:
    """Shared arcs, simplified once, and each district's polygons as lists of arc references."""
    rings = [ring for d in districts for rings in d["polygons"] for ring in rings]
    junctions = _junctions(rings)
    index: dict[tuple, int] = {}
    arcs: list[np.ndarray] = []
    out = []
    for district in districts:
        polygons = []
        for rings in district["polygons"]:
            polygons.append([[_reference(piece, index, arcs) for piece in _pieces(ring, junctions)]
                             for ring in rings])
        out.append({"code": district["code"], "name": district["name"], "polygons": polygons})
    return [douglas_peucker(arc, tolerance) for arc in arcs], out


def _reference(piece: np.ndarray, index: dict, arcs: list) -> int:
    """The number of ``piece``'s arc (``~n`` if it runs backwards), adding the arc if new."""
    forward = tuple(_key(p) for p in piece)
    backward = forward[::-1]
    if forward[0] == forward[-1] and len(forward) > 2:  # a closed arc: one direction is canonical
        backward = forward[:1] + forward[1:-1][::-1] + forward[:1]
    if forward <= backward:
        if forward not in index:
            index[forward] = len(arcs)
            arcs.append(piece)
        return index[forward]
    if backward not in index:
        index[backward] = len(arcs)
        arcs.append(piece[::-1] if forward[0] != forward[-1] else np.vstack([piece[:1], piece[-2:0:-1],
                                                                             piece[:1]]))
    return ~index[backward]


def encoded(vintage: str, districts: list[dict], unit_m: float = UNIT_M,
            tolerance_m: float = TOLERANCE_M) -> dict:
    """The boundary file of ``districts`` (`read_districts`) as a JSON-able dict."""
    arcs, shapes = topology(districts, tolerance_m / unit_m)
    points = np.vstack(arcs)
    low, high = points.min(axis=0), points.max(axis=0)
    return {
        "format": FORMAT, "vintage": vintage, "label": LABELS[vintage], "unit_m": unit_m,
        "origin_m": [int(v) * unit_m for v in low], "size": [int(v) for v in high - low],
        "projection": "Transverse Mercator of the British National Grid (Airy 1830, 49N 2W, scale "
                      "0.9996012717) applied to WGS84 coordinates; y grows northwards",
        "simplified": f"Douglas-Peucker, {tolerance_m:g} m, on shared borders; islands and holes under "
                      f"{MIN_ISLAND_KM2:g} km2 dropped",
        "arcs": [_deltas(arc - low) for arc in arcs],
        "districts": shapes,
    }


def _deltas(arc: np.ndarray) -> list[int]:
    """An arc as [x0, y0, dx1, dy1, ...]: small numbers, which compress well."""
    return np.vstack([arc[:1], np.diff(arc, axis=0)]).ravel().astype(int).tolist()


def lookup(path: Path) -> dict:
    """England's 2021 LSOAs and 2024 wards -> 2024 district, as runs of consecutive code numbers:
    ``{"districts": [...], "E01": [[first number, count, district], ...], "E05": [...]}``."""
    import pandas as pd

    if not path.is_file():
        raise MissingDataError(f"{path}: not found; {SHARED_HINT}")
    table = pd.read_csv(path, dtype=str)
    table = table[table["ltla24_code"].str.startswith(ENGLAND)]
    districts = sorted(table["ltla24_code"].unique())
    number = {code: i for i, code in enumerate(districts)}
    out: dict = {"districts": districts}
    for prefix, column in (("E01", "lsoa21_code"), ("E05", "ward24_code")):
        pairs = table[[column, "ltla24_code"]].drop_duplicates()
        check(pairs[column].is_unique, f"{path.name}: a {column} lies in two 2024 districts")
        check(pairs[column].str.fullmatch(prefix + r"\d{6}").all(), f"{path.name}: {column} not {prefix}nnnnnn")
        pairs = pairs.assign(n=pairs[column].str[3:].astype(int)).sort_values("n")
        runs: list[list[int]] = []
        for n, code in zip(pairs["n"], pairs["ltla24_code"].map(number)):
            if runs and runs[-1][0] + runs[-1][1] == n and runs[-1][2] == code:
                runs[-1][1] += 1
            else:
                runs.append([int(n), 1, int(code)])
        out[prefix] = runs
    return out


def _write_gzip_json(path: Path, data: dict) -> int:
    """Write ``data`` as gzip JSON with no time stamp in it (the same data, the same bytes)."""
    text = json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    blob = gzip.compress(text, compresslevel=9, mtime=0)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(blob)
    tmp.replace(path)
    return len(blob)


def build(shared: Path, out: Path = OUT) -> dict[str, int]:
    """Write the boundary files and the lookup from the shared data; their sizes in bytes."""
    folder = Path(shared) / "geography"
    if not folder.is_dir():
        raise MissingDataError(f"{folder}: not found; {SHARED_HINT}")
    out.mkdir(parents=True, exist_ok=True)
    sizes = {}
    for vintage, name in VINTAGES.items():
        districts = read_districts(folder / name, vintage)
        check(len(districts) > 250, f"{name}: {len(districts)} English districts, expected about 300")
        sizes[f"{vintage}.json.gz"] = _write_gzip_json(out / f"{vintage}.json.gz", encoded(vintage, districts))
    sizes["lookup_ltla24.json.gz"] = _write_gzip_json(out / "lookup_ltla24.json.gz", lookup(folder / LOOKUP))
    return sizes
