"""A place in England and its areas: find a district, ICB or NHS region by name or code, forgivingly,
and give its 2021 LSOAs, 2024 wards or 2024 districts as the areas of a scenario.

The data are the packaged national table (`allocator.build.national`); nothing is
downloaded. Counts (people, age bands, ethnic groups, income-deprived people) add up
over the LSOAs of a ward or district; scores and indicators are population-weighted
means of its LSOAs' (the IoD's own convention for district average scores).
"""

from __future__ import annotations

import difflib
import functools
import re
from dataclasses import dataclass
from importlib.resources import files

import numpy as np
import pandas as pd

from allocator.build.national import AGE_BANDS, DOMAINS, ETHNIC_GROUPS
from allocator.errors import Problem, ScenarioError

KINDS = ("district", "icb", "region", "england")
LEVELS = ("lsoa", "ward", "district")
LEVEL_COLUMNS = {"lsoa": ("lsoa21_code", "lsoa21_name"), "ward": ("ward24_code", "ward24_name"),
                 "district": ("ltla24_code", "ltla24_name")}
PLACE_COLUMNS = {"district": ("ltla24_code", "ltla24_name"), "icb": ("icb24_code", "icb24_name"),
                 "region": ("nhs_region", "nhs_region")}
COUNTS = ("population", *AGE_BANDS, *ETHNIC_GROUPS.values(), "disabled", "not_disabled", "income_deprived",
          "children_income_deprived", "older_income_deprived", "imputed_numerators")
MEANS = (*(f"{d.lower()}_score" for d in DOMAINS), "years_of_potential_life_lost_indicator",
         "comparative_illness_and_disability_ratio_indicator", "acute_morbidity_indicator",
         "mental_health_indicator", "patient_to_gp_ratio", "nhs_need_index")


class PlaceError(ScenarioError):
    """A place that is not in the data, or a level it cannot be split into (exit code 2)."""

    subject = "the place"


@dataclass(frozen=True)
class Place:
    """A district, an ICB, an NHS region or England: what `find` matched."""

    kind: str
    code: str
    name: str


@functools.lru_cache(maxsize=1)
def national() -> pd.DataFrame:
    """The packaged table: one row per English 2021 LSOA (read once)."""
    return pd.read_parquet(files("allocator.build") / "data" / "lsoa21.parquet")


def _key(text: str) -> str:
    """A name as people type it: case, '&', punctuation, 'NHS', 'ICB', 'Integrated Care Board' ignored."""
    text = str(text).casefold().replace("&", " and ")
    text = re.sub(r"\bintegrated care board\b|\bicb\b|\bnhs\b|\bcouncil\b|\bborough of\b", " ", text)
    return " ".join(re.sub(r"[^0-9a-z]+", " ", text).split())


def places(kind: str, table: pd.DataFrame | None = None) -> pd.DataFrame:
    """Every place of ``kind``: ``code``, ``name``, ``lsoas``, ``population``, sorted by name."""
    table = national() if table is None else table
    code, name = PLACE_COLUMNS[kind]
    keys = [code] if code == name else [code, name]
    out = table.groupby(keys, sort=False).agg(lsoas=("lsoa21_code", "size"),
                                              population=("population", "sum")).reset_index()
    out = out.rename(columns={code: "code"}) if code == name else out.rename(columns={code: "code", name: "name"})
    if code == name:
        out["name"] = out["code"]
    return out[["code", "name", "lsoas", "population"]].sort_values("name").reset_index(drop=True)


def find(kind: str, query: str, table: pd.DataFrame | None = None) -> Place:
    """The place of ``kind`` whose code or name ``query`` gives, or `PlaceError` with the nearest names.

    Examples
    --------
    >>> find("district", "blackpool")
    Place(kind='district', code='E06000009', name='Blackpool')
    >>> find("icb", "Cheshire & Merseyside ICB").code
    'E54000008'
    """
    if kind == "england":
        return Place("england", "E92000001", "England")
    if kind not in PLACE_COLUMNS:
        raise PlaceError(f"no kind of place {kind!r}: choose one of {', '.join(KINDS)}")
    known = places(kind, table)
    wanted = _key(query)
    codes = known["code"].str.casefold()
    if kind == "icb":  # the NHS code (QYG) as well as the ONS one (E54000008)
        table = national() if table is None else table
        nhs = table.drop_duplicates("icb24_code").set_index("icb24_code")["icb24_code_nhs"]
        codes = codes.where(known["code"].map(nhs).str.casefold() != str(query).strip().casefold(),
                            str(query).strip().casefold())
    exact = known[(codes == str(query).strip().casefold()) | (known["name"].map(_key) == wanted)]
    if len(exact) == 1:
        return Place(kind, str(exact["code"].iloc[0]), str(exact["name"].iloc[0]))
    if kind == "district":
        _former(query, wanted, national() if table is None else table)
    keys = dict(zip(known["name"].map(_key), known["name"]))
    words = [n for k, n in keys.items() if wanted and f" {wanted} " in f" {k} "]
    partial = words if len(words) == 1 else [n for k, n in keys.items() if wanted and wanted in k]
    if len(partial) == 1:
        row = known[known["name"] == partial[0]].iloc[0]
        return Place(kind, str(row["code"]), str(row["name"]))
    near = partial[:5] or [keys[k] for k in difflib.get_close_matches(wanted, list(keys), n=5, cutoff=0.6)]
    hint = f"; did you mean {', '.join(repr(n) for n in near)}?" if near else \
        f"; `allocator new --list {kind}` lists all {len(known)}"
    what = "matches more than one" if len(partial) > 1 else "is not a"
    raise PlaceError([Problem(f"--{kind}", f"{query!r} {what} 2024 {_plural(kind, 1)} of England" + hint)])


def _former(query: str, wanted: str, table: pd.DataFrame) -> None:
    """A district abolished since 2021 (e.g. South Lakeland): say where its LSOAs are now."""
    old = table.drop_duplicates(["ltla22_code", "ltla24_code"])
    match = old[(old["ltla22_code"].str.casefold() == str(query).strip().casefold())
                | (old["ltla22_name"].map(_key) == wanted)]
    if len(match) and (match["ltla22_code"] != match["ltla24_code"]).all():
        now = ", ".join(sorted(set(match["ltla24_name"])))
        raise PlaceError([Problem("--district", f"{match['ltla22_name'].iloc[0]} was a district until 2023; "
                                  f"its LSOAs are now in {now}: give --district {now!r} (the data are on "
                                  f"2024 districts)")])


def _plural(kind: str, n: int) -> str:
    name = {"district": "district", "icb": "Integrated Care Board", "region": "NHS region"}[kind]
    return name if n == 1 else name + "s"


def lsoas_of(place: Place, table: pd.DataFrame | None = None) -> pd.DataFrame:
    """The 2021 LSOAs of ``place``."""
    table = national() if table is None else table
    if place.kind == "england":
        return table
    return table[table[PLACE_COLUMNS[place.kind][0]] == place.code]


def areas(place: Place, level: str, table: pd.DataFrame | None = None) -> pd.DataFrame:
    """The areas of ``place`` at ``level`` (LSOAs, wards or districts), with the columns scenarios use.

    Every area has ``area_id``, ``area_name``, the counts and population-weighted scores of its
    LSOAs, the need models' rates, ``imd_quintile`` (the national IMD quintile where most of
    its people live), and its ward, district, ICB and NHS region where it lies in one.
    """
    if level not in LEVELS:
        raise PlaceError([Problem("--level", f"no level {level!r}: choose one of {', '.join(LEVELS)}")])
    lsoas = lsoas_of(place, table)
    code, name = LEVEL_COLUMNS[level]
    n = lsoas[code].nunique()
    if n < 2:
        raise PlaceError([Problem("--level", f"{place.name} is one {level} at --level {level}: an allocation "
                                  f"needs at least two areas; choose a finer level ("
                                  f"{', '.join(LEVELS[:LEVELS.index(level)]) or 'none'})")])
    frame = lsoas.assign(imd_quintile=(lsoas["imd_decile"] + 1) // 2)
    if level == "lsoa":
        out = frame.rename(columns={code: "area_id", name: "area_name"})
    else:
        out = _aggregate(frame, code, name)
    out["income_deprivation_rate"] = out["income_score"].clip(0, 1)
    out["child_income_deprivation_rate"] = (out["children_income_deprived"] / out["pop_0_15"]).clip(0, 1)
    out["older_income_deprivation_rate"] = (out["older_income_deprived"] / out["pop_60_plus"]).clip(0, 1)
    out = out.rename(columns={"ward24_name": "ward", "ltla24_name": "district", "icb24_name": "icb"})
    return out.sort_values("area_id").reset_index(drop=True)


def _aggregate(frame: pd.DataFrame, code: str, name: str) -> pd.DataFrame:
    weight = frame["population"]
    grouped = frame.groupby([code, name], sort=True)
    out = grouped[list(COUNTS)].sum()
    for column in MEANS:
        out[column] = (frame[column] * weight).groupby([frame[code], frame[name]]).sum() / out["population"]
    by_quintile = frame.groupby([code, name, "imd_quintile"])["population"].sum().reset_index()
    modal = (by_quintile.sort_values([code, "population", "imd_quintile"], ascending=[True, False, True])
             .drop_duplicates(code).set_index([code, name])["imd_quintile"])
    out["imd_quintile"] = modal
    for column in ("ward24_name", "ltla24_name", "icb24_name", "nhs_region"):
        if column in (code, name):
            continue
        one = grouped[column].agg(lambda s: s.iloc[0] if s.nunique() == 1 else "several")
        out[column] = one
    out["lsoas"] = grouped.size()
    out = out.reset_index().rename(columns={code: "area_id", name: "area_name"})
    out["imputed_numerators"] = out["imputed_numerators"].astype(int)
    out["imd_quintile"] = out["imd_quintile"].astype(int)
    return out.replace([np.inf, -np.inf], np.nan)
