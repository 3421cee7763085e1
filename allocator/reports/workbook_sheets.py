"""What the workbook's data sheets hold: a result's tables as columns with plain-English headers,
units, number formats and totals, for `allocator.reports.workbook` to write.

Every data sheet is one Excel Table.  A comparison's sheets start with an 'Option' column, so a
filter on it shows one option, and the totals row (SUBTOTAL formulas) that option's totals.
Money is in pounds, every percentage is a fraction shown as ``0.0%`` (a saved ``change_pct`` of
12.2 becomes 0.122, shown as 12.2%), and every number has a number format, so no cell shows
scientific notation.  Sums by service, by deprivation group and by each grouping column are
added up from the allocation and by-area tables, so they reconcile to the budget to the penny.
Nothing here writes a file.

Examples
--------
>>> frame = pd.DataFrame({"option": ["A", "A"], "area_id": ["E1", "E2"], "spend_gbp": [1.5, 2.5],
...                       "change_pct": [12.2, -3.0]})
>>> sheet = generic_sheet("my_table", frame, Labels.of({}))
>>> [(c.header, c.kind) for c in sheet.columns]
[('Option', 'text'), ('Area code', 'text'), ('Spend (£)', 'money'), ('Change (%)', 'percent')]
>>> sheet.columns[3].values.tolist()
[0.122, -0.03]
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from allocator.reports.markdown import measure_name
from allocator.reports.results import ReportData

TEXT, BOOL = "text", "bool"
MONEY, PERCENT, COUNT, LABEL, INDEX, RATE, NUMBER = "money", "percent", "count", "label", "index", "rate", "number"
FORMATS = {MONEY: "£#,##0.00", PERCENT: "0.0%", COUNT: "#,##0", LABEL: "0", INDEX: "0.0000",
           RATE: "#,##0.0000##", NUMBER: "#,##0.00##"}
SUM = "sum"
FLOOR_TOLERANCE = 1e-9  # relative: a line this close to its floor (or cap) is at it
ACRONYMS = {"id": "code", "nhs": "NHS", "icb": "ICB", "imd": "IMD", "sii": "SII", "rii": "RII", "lsoa": "LSOA",
            "lsoas": "LSOAs", "msoa": "MSOA", "ccg": "CCG", "gp": "GP", "la": "LA", "ypll": "YPLL", "pct": "(%)",
            "gbp": "(£)"}
COUNTS = {"population", "areas", "services", "gain", "lose", "unchanged", "amount_pennies", "lsoas"}
LABELS = ("_decile", "_quintile", "_group", "quintile", "decile")
INDICES = ("sii_", "rii_", "concentration_", "atkinson_")
BEFORE = {"baseline": "Baseline", "flat": "Flat spread (before)"}
OBJECTIVES = {"health-gain": "maximises health gain", "fair-share": "keeps areas as close to their fair shares "
              "as the rules allow", "equity-weighted": "maximises health gain weighted towards the deprived",
              "level-up": "maximises health gain up to the best-off group's level",
              "maximin": "raises the worst-off deprivation group's outcome as far as it can"}


@dataclass(frozen=True)
class Column:
    """One column: its header (plain English, with units), its values and how they are shown.

    ``kind`` is a key of `FORMATS`, `TEXT` or `BOOL`, or an array of them (one per row, for a
    column of measures in mixed units).  ``total`` is what the totals row shows: `SUM`, a
    ``(numerator, denominator)`` pair of headers (a ratio of their sums: a percentage or an
    amount per head), or None.
    """

    header: str
    values: np.ndarray  # float or int for numbers; object (str, bool or None) otherwise
    kind: str | np.ndarray
    total: str | tuple[str, str] | None = None


@dataclass(frozen=True)
class Sheet:
    """One data sheet: an Excel Table with frozen identifier columns and, if a column has one, totals."""

    name: str
    about: str  # one line on the About sheet
    columns: tuple[Column, ...]
    frozen: int = 1  # identifier columns kept in view when scrolling right
    reconcile: str | None = None  # the header of the column whose live SUM must equal the budget

    @property
    def rows(self) -> int:
        return len(self.columns[0].values) if self.columns else 0

    @property
    def totals(self) -> bool:
        return any(c.total for c in self.columns)

    def column(self, header: str) -> Column | None:
        return next((c for c in self.columns if c.header == header), None)


@dataclass(frozen=True)
class Labels:
    """The words headers share, from the scenario: what 'before' is, the outcome's units, the groups."""

    comparator: str  # 'baseline' or 'flat': tables name the before column '<comparator>_spend_gbp'
    before: str  # 'Baseline'
    units: str  # the outcome's units
    group: str  # 'decile'
    compare: bool  # a comparison: sheets carry an 'Option' column
    services: dict

    @classmethod
    def of(cls, meta: dict, services: dict | None = None) -> Labels:
        s = meta.get("scenario") or {}
        comparator = str(s.get("comparator") or "baseline")
        return cls(comparator=comparator, before=BEFORE.get(comparator, comparator.capitalize()),
                   units=str(s.get("outcome_units") or "outcome units"), group=str(s.get("groups") or "group"),
                   compare=meta.get("kind") != "run", services=services or {})

    @property
    def group_header(self) -> str:
        return f"Deprivation {self.group} (1 = most deprived)"


# -- columns ------------------------------------------------------------------------------------
def humanise(name: str) -> str:
    """A column name in plain English with its units.

    >>> humanise("spend_per_head_gbp"), humanise("nhs_region"), humanise("change_pct"), humanise("area_id")
    ('Spend per head (£)', 'NHS region', 'Change (%)', 'Area code')
    >>> humanise("share_of_spend"), humanise("fair_share_gbp")
    ('Share of spend (%)', 'Fair share (£)')
    """
    words = [ACRONYMS.get(w.lower(), w) for w in str(name).replace("-", " ").split("_") if w]
    if "share" in words and "(%)" not in words and "(£)" not in words:
        words.append("(%)")
    text = " ".join(words) or str(name)
    return text[:1].upper() + text[1:]


def kind_of(name: str, integer: bool = False) -> str:
    """How a column is shown, from its name (``*_gbp`` money, ``*_pct`` and shares percentages, ...).

    >>> [kind_of(c) for c in ("spend_gbp", "change_pct", "share_of_spend", "population", "deprivation_decile")]
    ['money', 'percent', 'percent', 'count', 'label']
    >>> [kind_of(c) for c in ("need_index", "sii_outcome", "life_expectancy")], kind_of("n", integer=True)
    (['index', 'index', 'number'], 'count')
    """
    name = name.lower()
    if name.endswith("_gbp"):
        return MONEY
    if name.endswith("_pct") or "share" in name:
        return PERCENT
    if name in COUNTS or name.startswith(("pop_", "n_")) or name.endswith(("_count", "_rank")) or "rank_" in name:
        return COUNT
    if name.endswith(LABELS):
        return LABEL
    if "index" in name or name.startswith(INDICES):
        return INDEX
    return COUNT if integer else NUMBER


def _missing(value: object) -> bool:
    return value is None or value is pd.NA or value is pd.NaT or (isinstance(value, float) and math.isnan(value))


def values_of(series: pd.Series, kind: str) -> np.ndarray:
    """A column's cell values: float (NaN for missing) for numbers, objects (str, bool, None) otherwise."""
    if kind == TEXT and series.dtype.kind in "iuf":
        return np.array([None if _missing(v) else _str(v) for v in series.tolist()], dtype=object)
    if kind == TEXT:
        values = series.astype(str).to_numpy(dtype=object)
        values[(series.isna() | (values == "")).to_numpy(dtype=bool)] = None
        return values
    if kind == BOOL:
        return np.array([None if _missing(v) else bool(v) for v in series.tolist()], dtype=object)
    return pd.to_numeric(series, errors="coerce").to_numpy(dtype=float, na_value=np.nan)


def _str(value: object) -> str:
    """Text for a cell: a whole float without its '.0' (an area code read as a number stays '1')."""
    return str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)


def ratio(numerator, denominator) -> np.ndarray:
    """``numerator / denominator`` where the denominator is not 0; NaN (an empty cell) elsewhere."""
    a, b = np.asarray(numerator, dtype=float), np.asarray(denominator, dtype=float)
    out = np.full(a.shape, np.nan)
    np.divide(a, b, out=out, where=(b != 0) & np.isfinite(b))
    return out


def _columns(source: dict, specs: Iterable[tuple], extras: bool = True) -> tuple[Column, ...]:
    """Columns from ``(name, header, kind[, total])`` specs over ``source`` (name: values), in order;
    a name that ``source`` lacks is left out, and (with ``extras``) other names follow, as they come."""
    out, used = [], set()
    for name, header, kind, *total in specs:
        used.add(name)
        if name not in source:
            continue
        raw = source[name]
        if isinstance(kind, str) and kind in (TEXT, BOOL):
            values = values_of(pd.Series(raw), kind)
        else:
            values = raw if isinstance(raw, np.ndarray) else values_of(pd.Series(raw), NUMBER)
        out.append(Column(header, values, kind, total[0] if total else None))
    if extras:
        for name in [n for n in source if n not in used and not n.startswith("_")]:
            out.extend(_generic(name, pd.Series(source[name])))
    return tuple(out)


def _generic(name: str, series: pd.Series) -> list[Column]:
    """A column known only by its name: numbers shown by `kind_of`, anything else as text."""
    kind_code = series.dtype.kind
    if kind_code == "b":
        return [Column(humanise(name), values_of(series, BOOL), BOOL)]
    if kind_code not in "iuf":
        return [Column(humanise(name), values_of(series, TEXT), TEXT)]
    kind = kind_of(name, kind_code in "iu")
    values = values_of(series, kind)
    return [Column(humanise(name), values / 100.0 if name.lower().endswith("_pct") else values, kind)]


def _source(frame: pd.DataFrame, labels: Labels) -> dict:
    """A table's columns by name, as arrays (numbers) or Series (text): what `_columns` reads.
    A run's option is the scenario itself, so its tables lose the 'option' column."""
    return {str(c): (frame[c].to_numpy(dtype=float, na_value=np.nan) if frame[c].dtype.kind in "iuf"
                     else frame[c]) for c in frame.columns if labels.compare or c != "option"}


def _derive(source: dict, name: str, how, *needs: str) -> None:
    """``source[name] = how(source[need], ...)`` when ``source`` has every column it needs."""
    if all(n in source for n in needs):
        source[name] = how(*(np.asarray(source[n], dtype=float) for n in needs))


def _frozen(columns: tuple[Column, ...], last: str) -> int:
    """How many columns to keep in view: up to and including ``last`` (the row's name)."""
    headers = [c.header for c in columns]
    return headers.index(last) + 1 if last in headers else 1


# -- the sheets -------------------------------------------------------------------------------------
def data_sheets(data: ReportData, manifest: dict | None = None, more: dict[str, list[Sheet]] | None = None
                ) -> list[Sheet]:
    """Every data sheet of the workbook, in reading order (empty tables are left out); ``more``: sheets
    made elsewhere, by the table they show, placed after the groupings'."""
    tables = data.tables
    allocation = tables.get("options_allocation")
    services = {}
    if allocation is not None and {"service_id", "service_name"} <= set(allocation.columns):
        services = dict(zip(allocation["service_id"].astype(str), allocation["service_name"].astype(str)))
    labels = Labels.of(data.meta, services)
    by_area = tables.get("options_by_area")
    sheets = [allocation_sheet(allocation, labels) if allocation is not None else None,
              by_area_sheet(by_area, labels) if by_area is not None else None,
              by_service_sheet(allocation, labels) if allocation is not None else None,
              by_group_sheet(by_area, labels) if by_area is not None else None]
    for name in sorted(t for t in tables if t.startswith("options_by_") and t != "options_by_area"):
        # the grouping column is the table's second (after 'option'); the table's name is a safe stem of it
        sheets.append(by_column_sheet(str(tables[name].columns[1]), tables[name], by_area, tables.get("input_areas"),
                                      labels))
    sheets += [sheet for shown in (more or {}).values() for sheet in shown]
    known = {"options_summary": options_sheet, "options_metrics": measures_sheet,
             "winners_losers_by_group": winners_sheet, "prices": prices_sheet}
    sheets += [build(tables[name], labels) for name, build in known.items() if name in tables]
    used = {"options_allocation", "options_by_area", "waterfall", *known, "input_areas", "input_services", *(more or {})}
    used |= {t for t in tables if t.startswith(("options_by_", "plan_"))}  # plan_*: allocator.reports.plan_sheets
    if by_area is not None:  # shown in the by-area and by-group sheets
        used |= {"spend_by_group", "outcome_by_group", "winners_losers"}
    sheets += [generic_sheet(name, tables[name], labels) for name in sorted(tables) if name not in used]
    sheets += [input_sheet(name, tables[name]) for name in ("input_areas", "input_services") if name in tables]
    if manifest:
        sheets.append(manifest_sheet(manifest))
    return [s for s in sheets if s is not None and s.rows and s.columns]


def allocation_sheet(frame: pd.DataFrame, labels: Labels) -> Sheet:
    """Every budget line (area x service), with its need, floor, cap, before, fair share and allocation."""
    source = _source(frame, labels)
    before = f"{labels.comparator}_spend_gbp"
    _derive(source, "_change", ratio, "change_gbp", before)
    money = f"{labels.before} (£)"
    columns = _columns(source, [
        ("option", "Option", TEXT), ("area_id", "Area code", TEXT), ("area_name", "Area name", TEXT),
        ("service_id", "Service code", TEXT), ("service_name", "Service", TEXT),
        ("need_index", "Need index", INDEX), ("target_population", "Target population (people)", COUNT),
        ("floor_units_per_head", "Floor (units per head)", RATE), ("cap_units_per_head", "Cap (units per head)", RATE),
        ("units_per_head", "Allocation (units per head)", RATE), (before, money, MONEY, SUM),
        ("fair_share_gbp", "Fair share (£)", MONEY, SUM), ("spend_gbp", "Allocation (£)", MONEY, SUM),
        ("change_gbp", "Change (£)", MONEY, SUM), ("_change", "Change (%)", PERCENT, ("Change (£)", money)),
        ("locked", "Locked", BOOL),
        ("gain_outcome_x_people", f"Health gain ({labels.units} × people)", NUMBER, SUM),
    ])
    return Sheet("Allocation", "Every budget line (area × service): need, floor, cap, before, fair share and "
                 "allocation. Filter on any column: the totals row follows the filter.",
                 columns, _frozen(columns, "Area name"), reconcile="Allocation (£)")


def _money_specs(labels: Labels) -> list[tuple]:
    """What by-area and group sheets show of money: target, allocation, distance, before, change."""
    before = f"{labels.before} (£)"
    return [
        ("fair_share_gbp", "Fair share, the target (£)", MONEY, SUM), ("spend_gbp", "Allocation (£)", MONEY, SUM),
        ("distance_from_target_gbp", "Distance from target (£)", MONEY, SUM),
        ("_distance", "Distance from target (%)", PERCENT, ("Distance from target (£)", "Fair share, the target (£)")),
        (f"{labels.comparator}_spend_gbp", before, MONEY, SUM), ("change_gbp", "Change (£)", MONEY, SUM),
        ("_change", "Change (%)", PERCENT, ("Change (£)", before)),
        ("spend_per_head_gbp", "Allocation per head (£)", MONEY, ("Allocation (£)", "Population (people)")),
        (f"{labels.comparator}_spend_per_head_gbp", f"{labels.before} per head (£)", MONEY,
         (before, "Population (people)")),
        ("distance_from_target_before_gbp", "Distance from target before (£)", MONEY, SUM),
        ("_distance_before", "Distance from target before (%)", PERCENT,
         ("Distance from target before (£)", "Fair share, the target (£)")),
        ("outcome_baseline", f"Outcome before ({labels.units})", RATE),
        ("outcome_projected", f"Outcome after ({labels.units})", RATE),
        ("outcome_change", f"Outcome change ({labels.units})", RATE),
    ]


def _derive_money(source: dict, labels: Labels) -> dict:
    """The percentages and amounts per head of `_money_specs`, from the sums (NHS England's distance
    from target: (allocation - target) / target)."""
    before = f"{labels.comparator}_spend_gbp"
    _derive(source, "_distance", ratio, "distance_from_target_gbp", "fair_share_gbp")
    _derive(source, "_distance_before", ratio, "distance_from_target_before_gbp", "fair_share_gbp")
    if "change_pct" in source:  # saved in percent units: a fraction here, as every percentage
        source["_change"] = np.asarray(source.pop("change_pct"), dtype=float) / 100.0
    else:
        _derive(source, "_change", ratio, "change_gbp", before)
    _derive(source, "spend_per_head_gbp", ratio, "spend_gbp", "population")
    _derive(source, f"{labels.comparator}_spend_per_head_gbp", ratio, before, "population")
    return source


def by_area_sheet(frame: pd.DataFrame, labels: Labels) -> Sheet:
    """Each area's fair share (target), allocation, distance from target, before and change."""
    source = _derive_money(_source(frame, labels), labels)
    columns = _columns(source, [
        ("option", "Option", TEXT), ("area_id", "Area code", TEXT), ("area_name", "Area name", TEXT),
        ("deprivation", "Deprivation score", NUMBER), ("deprivation_group", labels.group_header, LABEL),
        ("population", "Population (people)", COUNT, SUM), ("need_index", "Need index", INDEX),
        *_money_specs(labels)])
    return Sheet("By area", "Each area: fair share (the need-weighted target), allocation, distance from target "
                 "(£ and % of the target, as NHS England reports it), before and change.",
                 columns, _frozen(columns, "Area name"))


def _codes(values, sort: bool) -> tuple[np.ndarray, np.ndarray]:
    """Integer codes of ``values`` and the values they stand for (in order of appearance, or sorted)."""
    codes, uniques = pd.factorize(pd.Series(values), sort=sort)
    return codes, np.asarray(uniques, dtype=object)


def _sum_by(keys: list[tuple[str, object, bool]], sums: dict[str, np.ndarray]) -> pd.DataFrame:
    """``sums`` added up by ``keys`` ((name, values, sorted?), outermost first): one row per group."""
    coded = [(name, *_codes(values, sort)) for name, values, sort in keys]
    frame = pd.DataFrame({f"_{name}": codes for name, codes, _ in coded} | sums)
    out = frame.groupby([f"_{name}" for name, _, _ in coded], sort=True).sum().reset_index()
    for name in [n for n in sums if n.endswith("_gbp")]:  # sums of pennies, without the float noise of adding
        out[name] = out[name].round(2)
    for name, _, uniques in coded:
        out[name] = uniques[out.pop(f"_{name}").to_numpy()]
    return out


def _grouped(by_area: pd.DataFrame, keys, labels: Labels) -> pd.DataFrame:
    """The by-area table added up by option and ``keys`` (one per area row): sums of money and
    people, population-weighted means of need and outcomes, each group's share of the allocation."""
    pop = by_area["population"].to_numpy(dtype=float)
    money = ["fair_share_gbp", "spend_gbp", "distance_from_target_gbp", f"{labels.comparator}_spend_gbp",
             "change_gbp", "distance_from_target_before_gbp"]
    means = ["need_index", "outcome_baseline", "outcome_projected", "outcome_change"]
    sums = {"areas": np.ones(len(by_area), dtype=np.int64), "population": pop}
    sums |= {n: by_area[n].to_numpy(dtype=float) for n in money if n in by_area}
    sums |= {f"_{n}": by_area[n].to_numpy(dtype=float) * pop for n in means if n in by_area}
    option = by_area["option"] if "option" in by_area else np.zeros(len(by_area))
    out = _sum_by([("option", option, False), ("key", keys, True)], sums)
    for name in means:
        if f"_{name}" in out:
            out[name] = ratio(out.pop(f"_{name}"), out["population"])
    if "spend_gbp" in out:
        out["share_of_spend"] = ratio(out["spend_gbp"], out.groupby("option")["spend_gbp"].transform("sum"))
    return out


def _group_specs(key_header: str, key_kind: str, labels: Labels) -> list[tuple]:
    return [("option", "Option", TEXT), ("key", key_header, key_kind), ("areas", "Areas", COUNT, SUM),
            ("population", "Population (people)", COUNT, SUM), ("need_index", "Need index", INDEX),
            ("share_of_spend", "Share of the allocation (%)", PERCENT, SUM), *_money_specs(labels)]


def by_group_sheet(by_area: pd.DataFrame, labels: Labels) -> Sheet | None:
    """The by-area table added up by deprivation group (1 = most deprived)."""
    if not {"deprivation_group", "population"} <= set(by_area.columns):
        return None
    grouped = _grouped(by_area, by_area["deprivation_group"].to_numpy(), labels)
    columns = _columns(_derive_money(_source(grouped, labels), labels),
                       _group_specs(labels.group_header, LABEL, labels), extras=False)
    return Sheet(f"By deprivation {labels.group}", f"The areas added up by deprivation {labels.group}, "
                 "1 = most deprived: money, share of the allocation, need and outcomes.",
                 columns, _frozen(columns, labels.group_header))


def by_column_sheet(column: str, table: pd.DataFrame, by_area: pd.DataFrame | None,
                    areas: pd.DataFrame | None, labels: Labels) -> Sheet:
    """The by-area table added up by one of the scenario's grouping columns (region, ICB, ...), with
    the units per head of each service from the saved ``options_by_<column>`` table."""
    header = humanise(column)
    words = header if header.split()[0].isupper() else header[:1].lower() + header[1:]  # 'NHS region', 'region'
    name, about = f"By {words}", f"The areas added up by {words}: money, need, outcomes, units per head."
    keys = None
    if by_area is not None and areas is not None and {column, "area_id"} <= set(areas.columns):
        lookup = dict(zip(areas["area_id"].astype(str).str.strip(), areas[column].astype(str).str.strip()))
        keys = by_area["area_id"].astype(str).str.strip().map(lookup)
    if keys is None or keys.isna().any() or "population" not in by_area:  # the saved per-head table as it is
        source = _source(table, labels)
        source["key"] = source.pop(column)
        columns = _columns(source, [("option", "Option", TEXT), ("key", header, TEXT)])
        return Sheet(name, about, columns, _frozen(columns, header))
    grouped = _grouped(by_area, keys.to_numpy(), labels)
    source = _derive_money(_source(grouped, labels), labels)
    specs = _group_specs(header, TEXT, labels)
    saved = {(str(o), str(k).strip()): i for i, (o, k) in enumerate(
        zip(table["option"] if "option" in table else [0] * len(table), table[column]))}
    rows = [saved.get((str(o), str(k))) for o, k in zip(grouped["option"], grouped["key"])]
    for sid in [c for c in table.columns if c.startswith("units_per_head_")]:
        values = table[sid].to_numpy(dtype=float)
        source[sid] = np.array([values[r] if r is not None else np.nan for r in rows])
        specs.append((sid, f"Units per head: {labels.services.get(sid[15:], sid[15:])}", RATE))
    columns = _columns(source, specs, extras=False)
    return Sheet(name, about, columns, _frozen(columns, header))


def _at(units: np.ndarray, bound: np.ndarray, side: int) -> np.ndarray:
    """Whether each line is at its floor (``side`` -1) or cap (+1), within `FLOOR_TOLERANCE`."""
    slack = FLOOR_TOLERANCE * np.maximum(np.abs(bound), 1.0)
    with np.errstate(invalid="ignore"):
        return np.isfinite(bound) & (side * (units - bound) >= -slack)


def by_service_sheet(allocation: pd.DataFrame, labels: Labels) -> Sheet | None:
    """The allocation added up by service: money, lines at their floor or cap, health gain."""
    if "service_id" not in allocation:
        return None
    n = len(allocation)
    column = {c: allocation[c].to_numpy(dtype=float) for c in allocation.columns if allocation[c].dtype.kind in "iuf"}
    sums = {"lines": np.ones(n, dtype=np.int64)}
    sums |= {c: column[c] for c in ("target_population", f"{labels.comparator}_spend_gbp", "fair_share_gbp",
                                    "spend_gbp", "change_gbp", "gain_outcome_x_people") if c in column}
    if {"units_per_head", "floor_units_per_head"} <= column.keys():
        sums["at_floor"] = _at(column["units_per_head"], column["floor_units_per_head"], -1).astype(np.int64)
    if {"units_per_head", "cap_units_per_head"} <= column.keys():
        sums["at_cap"] = _at(column["units_per_head"], column["cap_units_per_head"], 1).astype(np.int64)
    if "locked" in allocation:
        sums["locked"] = allocation["locked"].fillna(False).astype(bool).to_numpy(dtype=np.int64)
    option = allocation["option"] if "option" in allocation else np.zeros(n)
    out = _sum_by([("option", option, False), ("service_id", allocation["service_id"], False)], sums)
    out["service_name"] = [labels.services.get(str(s), str(s)) for s in out["service_id"]]
    if "spend_gbp" in out:
        out["share_of_spend"] = ratio(out["spend_gbp"], out.groupby("option")["spend_gbp"].transform("sum"))
    source = _source(out, labels)
    before = f"{labels.before} (£)"
    _derive(source, "_change", ratio, "change_gbp", f"{labels.comparator}_spend_gbp")
    _derive(source, "_per_head", ratio, "spend_gbp", "target_population")
    columns = _columns(source, [
        ("option", "Option", TEXT), ("service_id", "Service code", TEXT), ("service_name", "Service", TEXT),
        ("lines", "Lines (areas)", COUNT, SUM), ("target_population", "Target population (people)", COUNT, SUM),
        (f"{labels.comparator}_spend_gbp", before, MONEY, SUM), ("fair_share_gbp", "Fair share (£)", MONEY, SUM),
        ("spend_gbp", "Allocation (£)", MONEY, SUM), ("change_gbp", "Change (£)", MONEY, SUM),
        ("_change", "Change (%)", PERCENT, ("Change (£)", before)),
        ("share_of_spend", "Share of the allocation (%)", PERCENT, SUM),
        ("_per_head", "Allocation per head of the target population (£)", MONEY,
         ("Allocation (£)", "Target population (people)")),
        ("at_floor", "Lines at the floor", COUNT, SUM), ("at_cap", "Lines at the cap", COUNT, SUM),
        ("locked", "Locked lines", COUNT, SUM),
        ("gain_outcome_x_people", f"Health gain ({labels.units} × people)", NUMBER, SUM),
    ], extras=False)
    return Sheet("By service", "The allocation added up by service: money, share, lines held at their floor "
                 "or cap, health gain.", columns, _frozen(columns, "Service"))


def options_sheet(frame: pd.DataFrame, labels: Labels) -> Sheet:
    """Each option's settings and headline numbers (``options_summary``)."""
    units = labels.units
    columns = _columns(_source(frame, labels), [
        ("option", "Option", TEXT), ("objective", "Objective", TEXT), ("proportionality", "Proportionality", TEXT),
        ("budget_gbp", "Budget (£)", MONEY), ("allocated_gbp", "Allocated (£)", MONEY),
        ("objective_value", "Objective value", NUMBER), ("health_gain", f"Health gain ({units} × people)", NUMBER),
        ("sii_outcome_before", f"SII in the outcome before ({units})", RATE),
        ("sii_outcome_after", f"SII in the outcome after ({units})", RATE),
        ("share_most_deprived_fifth", "Share of the allocation to the most deprived fifth (%)", PERCENT),
        ("solver", "Solver", TEXT)])
    return Sheet("Options", "Each option's objective, rules, budget and headline numbers.", columns)


def _units_kind(units: object) -> str:
    """How a measure is shown, from its units ('GBP', 'GBP per head', 'share', 'people', 'years', ...)."""
    text = str(units).lower()
    if text.startswith("gbp"):
        return MONEY
    if text == "share":
        return PERCENT
    return COUNT if "people" in text else RATE


def measures_sheet(frame: pd.DataFrame, labels: Labels) -> Sheet:
    """The measures of the gradient and of the money, before and after (``options_metrics``)."""
    source = _source(frame, labels)
    source["_name"] = frame["measure"].astype(str).map(measure_name)
    kinds = np.array([_units_kind(u) for u in frame.get("units", [""] * len(frame))], dtype=object)
    if not labels.compare:  # against itself: nothing to say
        source = {k: v for k, v in source.items() if k not in ("change_vs_first_option", "best")}
    columns = _columns(source, [
        ("option", "Option", TEXT), ("_name", "Measure", TEXT), ("measure", "Measure code", TEXT),
        ("units", "Units", TEXT), ("before", "Before", kinds), ("after", "After", kinds), ("change", "Change", kinds),
        ("change_vs_first_option", "Change against the first option", kinds),
        ("best", "Best of the options", BOOL)])
    return Sheet("Measures", "Measures of the gradient and of the money, before and after, in the units "
                 "of each row.", columns, _frozen(columns, "Measure"))


def winners_sheet(frame: pd.DataFrame, labels: Labels) -> Sheet:
    """How many areas of each deprivation group gain, lose or keep their money (``winners_losers_by_group``)."""
    columns = _columns(_source(frame, labels), [
        ("option", "Option", TEXT), ("deprivation_group", labels.group_header, LABEL),
        ("gain", "Areas gaining", COUNT, SUM), ("lose", "Areas losing", COUNT, SUM),
        ("unchanged", "Areas unchanged", COUNT, SUM)])
    return Sheet("Winners and losers", f"Areas gaining, losing or unchanged (within 50p) by deprivation "
                 f"{labels.group}; each area's change is on 'By area'.", columns, _frozen(columns, labels.group_header))


def prices_sheet(frame: pd.DataFrame, labels: Labels) -> Sheet:
    """What each family of rules costs the objective (``prices``)."""
    columns = _columns(_source(frame, labels), [
        ("option", "Option", TEXT), ("rule", "Rule", TEXT), ("without", "Objective without the rule", NUMBER),
        ("cost", "Cost of the rule (in the objective's units)", NUMBER), ("text", "In words", TEXT)])
    return Sheet("Rule costs", "What each rule (floors, caps, proportionality, pace of change) costs the "
                 "objective.", columns, _frozen(columns, "Rule"))


def generic_sheet(name: str, frame: pd.DataFrame, labels: Labels) -> Sheet:
    """Any other table: headers and formats from its column names."""
    columns = _columns(_source(frame, labels), [("option", "Option", TEXT)])
    return Sheet(humanise(name), f"The {name} table of the saved folder.", columns)


NUMERIC = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"
INTEGER = r"[-+]?\d+"
LEADING_ZERO = r"[-+]?0\d"  # codes such as '007' stay text


def _input_column(name: str, series: pd.Series) -> Column:
    """An input column under its own name: text that is all numbers (as a table read as text holds
    them) becomes numbers; codes ('*_id', '*_code', '007') stay text."""
    if series.dtype.kind in "biuf":
        column = _generic(name, series)[0]
        return Column(name, column.values, column.kind)
    texts = series.astype("string").str.strip()
    present = texts[texts.notna() & (texts != "")]
    numeric = len(present) and not name.endswith(("_id", "_code")) and present.str.fullmatch(NUMERIC).all() \
        and not present.str.match(LEADING_ZERO).any()
    if not numeric:
        return Column(name, values_of(series, TEXT), TEXT)
    values = pd.to_numeric(texts.where(texts != ""), errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    kind = kind_of(name, bool(present.str.fullmatch(INTEGER).all()))
    return Column(name, values / 100.0 if name.lower().endswith("_pct") else values, kind)


def input_sheet(name: str, frame: pd.DataFrame) -> Sheet:
    """A scenario input table, its columns named as in the input file so that the two can be matched."""
    what = name.removeprefix("input_")
    columns = tuple(_input_column(str(c), frame[c]) for c in frame.columns)
    return Sheet(f"Input {what}", f"The scenario's {what} table as it was read (column names as in the file).",
                 columns, _frozen(columns, "area_name" if what == "areas" else "service_name"))


def flatten(value, key: str = ""):
    """(dotted key, value) rows of a nested manifest; lists numbered from 0."""
    if isinstance(value, dict) and value:
        for k, v in value.items():
            yield from flatten(v, f"{key}.{k}" if key else str(k))
    elif isinstance(value, (list, tuple)) and value:
        for i, v in enumerate(value):
            yield from flatten(v, f"{key}[{i}]")
    else:
        yield key, "(none)" if isinstance(value, (dict, list, tuple)) else value


def manifest_sheet(manifest: dict) -> Sheet:
    """The run manifest (``run.json``), one setting a row: numbers as numbers, anything else as text.
    The timings are left out (they are in run.json), so the same inputs give the same workbook."""
    rows = [(k, v) for k, v in flatten(manifest) if not (k.startswith("seconds.") or ".seconds." in k)]
    values = np.array([v if isinstance(v, (bool, int, float)) and not _missing(v) else
                       None if v is None else str(v) for _, v in rows], dtype=object)
    kinds = np.array([BOOL if isinstance(v, bool) else COUNT if isinstance(v, int) else
                      RATE if isinstance(v, float) else TEXT for v in values], dtype=object)
    columns = (Column("Setting", np.array([k for k, _ in rows], dtype=object), TEXT), Column("Value", values, kinds))
    return Sheet("Run manifest", "What was run, on what inputs (sha256 of each file), with which versions and "
                 "options (run.json; its timings are there too).", columns)
