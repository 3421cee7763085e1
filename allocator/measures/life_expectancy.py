"""The gradient of any value by deprivation quantile, area by area.

allocator as an inequality calculator: give it a table with one row per area
(x any grouping such as sex) x deprivation quantile, holding a value, its
population and its standard error (or 95% limits), and :func:`gradient_table`
returns one row per area with the slope and relative indices of inequality as
PHE computes them (with simulated limits), the absolute and relative gap, the
concentration index, the Atkinson index and equally distributed equivalent.
The bundled life expectancy table (:func:`load_bundled_le`) covers England,
its nine regions and every local authority; :func:`flag_values` and
:func:`area_type` fill the table's ``flag`` and ``area_type`` columns.

The measures
------------
For each area and ``by`` group, the rows are ordered from the most deprived
quantile to the least deprived and measured with
:mod:`allocator.measures.inequality`:

- ``sii``, ``rii`` and their limits: :func:`~allocator.measures.phe.phe_sii`
  (PHE's method; ``value_type``, ``transform``, ``multiplier`` as there);
  ``rii_alternative`` is SII / mean, the alternative definition;
  ``intercept`` the fitted value at the most deprived end;
- ``gap_absolute`` (least - most deprived) and ``gap_relative`` (ratio);
- ``concentration_index`` of the value over population-weighted ranks;
- ``atkinson_index`` and ``ede`` (equally distributed equivalent) for
  ``atkinson_epsilon`` (default 1: the population-weighted geometric mean),
  left empty unless every value is positive;
- ``mean``, population-weighted; ``population``, the total; ``quantiles``,
  the number present; ``confidence`` and ``repetitions`` of the limits.

Every area is simulated with the same ``seed``, so an area's row does not
depend on what else is in the table. ``repetitions`` defaults to 100,000
(PHE's default) when the table holds one area (whatever its ``by`` groups)
and to 10,000 otherwise: the all-areas life expectancy table (722 area x sex
groups) then takes about 5 s on two cores, and its 95% limits differ from
those at 100,000 by at most about 1.5% of the interval's width.

Sign convention as :mod:`allocator.measures.inequality`: a positive SII means the value
rises from the most to the least deprived quantile, as life expectancy does.
Values that look implausible (see :func:`flag_values`; the defaults suit life
expectancy in years) are computed with but named in ``flag``, never dropped.
An area with a quantile missing, or with a missing value, population <= 0 or
missing standard error, gets a row with measures left empty and a ``note``
saying why; the quantiles expected are every label in the table.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial
from importlib.resources import files

import numpy as np
import pandas as pd

from allocator.measures import inequality as ineq

__all__ = [
    "GradientTableError",
    "SINGLE_AREA_REPETITIONS",
    "TABLE_REPETITIONS",
    "area_type",
    "flag_values",
    "gradient_table",
    "load_bundled_le",
]

SINGLE_AREA_REPETITIONS = 100_000  # PHE's default, for a table of one area
TABLE_REPETITIONS = 10_000  # for many areas: the 722 area x sex groups take ~5 s
LE_PLAUSIBLE_YEARS = (40.0, 100.0)
LE_MAX_SE_YEARS = 5.0

_AREA_TYPES = {
    "E92": "country", "E12": "region", "E10": "county", "E06": "unitary authority",
    "E07": "non-metropolitan district", "E08": "metropolitan district", "E09": "London borough",
}

COLUMNS = [
    "area_type", "quantiles", "population", "mean", "sii", "sii_lower", "sii_upper",
    "rii", "rii_lower", "rii_upper", "rii_alternative", "intercept", "gap_absolute",
    "gap_relative", "concentration_index", "atkinson_index", "ede", "confidence",
    "repetitions", "flag", "note",
]


class GradientTableError(ValueError):
    """A gradient input table lacks a column, repeats a quantile or holds non-numbers (exit code 2)."""


def load_bundled_le() -> pd.DataFrame:
    """The bundled life expectancy by deprivation decile table.

    PHE figures as packaged by PHEindicatormethods (GPL-3, v2.1.0) as
    ``LE_data``: columns ``Sex`` (1 male, 2 female), ``GeoCode`` (``England``,
    E12 regions, E06-E10 local authorities), ``Decile`` (1 = most deprived),
    ``Pop``, ``Deaths``, ``LifeExp`` (years), ``SE``. See
    ``allocator/measures/data/life_expectancy_by_decile.md``.

    Examples
    --------
    >>> le = load_bundled_le()
    >>> le.shape, sorted(le["Sex"].unique().tolist())
    ((7222, 7), [1, 2])
    """
    path = files("allocator.measures") / "data" / "life_expectancy_by_decile.csv"
    with path.open("rb") as handle:
        return pd.read_csv(handle, dtype={"GeoCode": str})


def area_type(code: str) -> str:
    """Kind of area an ONS GSS code names (``England`` counts as the country).

    Examples
    --------
    >>> area_type("E08000012"), area_type("England"), area_type("Z1")
    ('metropolitan district', 'country', '')
    """
    code = str(code).strip()
    if code.casefold() == "england":
        return "country"
    return _AREA_TYPES.get(code[:3], "")


def flag_values(
    frame: pd.DataFrame,
    *,
    quantile: str = "Decile",
    value: str = "LifeExp",
    se: str | None = "SE",
    plausible: tuple[float, float] | None = LE_PLAUSIBLE_YEARS,
    max_se: float | None = LE_MAX_SE_YEARS,
) -> pd.Series:
    """Why each row's value looks implausible ("" when it does not).

    A value outside ``plausible`` (default 40-100, for life expectancy in
    years) or a standard error above ``max_se`` (default 5 years) is flagged,
    e.g. the bundled E06000017 female decile 3, 107.96 years with SE 15.8.
    Pass ``None`` to switch either check off for other indicators.

    Returns
    -------
    pandas.Series of str, aligned with ``frame``.

    Examples
    --------
    >>> t = pd.DataFrame({"Decile": [2, 3], "LifeExp": [80.0, 107.96], "SE": [1.0, 15.8]})
    >>> flag_values(t).tolist()
    ['', 'decile 3: LifeExp 107.96 outside 40-100; SE 15.8 > 5']
    """
    y = pd.to_numeric(frame[value], errors="coerce")
    reasons = [[] for _ in range(len(frame))]
    if plausible is not None:
        low, high = plausible
        for i in np.flatnonzero(((y < low) | (y > high)).to_numpy()):
            reasons[i].append(f"{value} {y.iloc[i]:.2f} outside {low:g}-{high:g}")
    if se is not None and max_se is not None and se in frame:
        s = pd.to_numeric(frame[se], errors="coerce")
        for i in np.flatnonzero((s > max_se).to_numpy()):
            reasons[i].append(f"{se} {s.iloc[i]:.3g} > {max_se:g}")
    labels = frame[quantile].tolist()
    word = quantile.lower()  # "Decile" 3 reads "decile 3"
    return pd.Series(
        [f"{word} {labels[i]}: " + "; ".join(r) if r else "" for i, r in enumerate(reasons)],
        index=frame.index, dtype=object,
    )


def gradient_table(
    frame: pd.DataFrame, *, area: str = "GeoCode", quantile: str = "Decile", value: str = "LifeExp",
    population: str = "Pop", se: str | None = "SE", lower_cl: str | None = None,
    upper_cl: str | None = None, by: Sequence[str] = ("Sex",), most_deprived: object = 1,
    value_type: ineq.ValueType = "normal", transform: bool = False, multiplier: float = 1.0,
    confidence: float = 0.95, repetitions: int | None = None, seed: int = 0,
    atkinson_epsilon: float = 1.0, plausible: tuple[float, float] | None = LE_PLAUSIBLE_YEARS,
    max_se: float | None = LE_MAX_SE_YEARS,
) -> pd.DataFrame:
    """Gradient measures for every area (x ``by`` group) of a table by deprivation quantile.

    The measures, defaults, flags and notes: see :mod:`allocator.measures.life_expectancy`.

    Parameters
    ----------
    frame : pandas.DataFrame
        One row per area x ``by`` x quantile.
    area, quantile, value, population : str
        Column names; defaults are those of the bundled life expectancy table.
    se : str or None, default "SE"
        Column of standard errors; None to derive them from ``lower_cl`` and
        ``upper_cl`` (95% limits), as PHE does.
    lower_cl, upper_cl : str, optional
        Columns of 95% limits of the value.
    by : sequence of str, default ("Sex",)
        Further grouping columns (``()`` for none).
    most_deprived : quantile label, default 1
        Label of the most deprived quantile: the smallest or the largest.
    value_type, transform, multiplier
        As :func:`allocator.measures.phe.phe_sii`.
    confidence : float, default 0.95
        Level of the limits.
    seed : int, default 0
        Seed of every area's simulation.
    repetitions : int, optional
        Simulated data sets per area: 100,000 for one area, else 10,000.
    atkinson_epsilon : float, default 1.0
        Inequality aversion of the Atkinson index and EDE.
    plausible, max_se
        Flagging thresholds (see :func:`flag_values`); None switches one off.

    Returns
    -------
    pandas.DataFrame
        One row per area x ``by`` group, sorted by them: the ``area`` and ``by``
        columns, then those of ``COLUMNS`` (``area_type``, ..., ``flag``, ``note``).

    Raises
    ------
    GradientTableError
        A column is missing or not numeric, a quantile appears twice for one
        area, or ``most_deprived`` is not the smallest or largest label.

    Examples
    --------
    The England life expectancy gradient by decile (sex 1 male, 2 female):

    >>> le = load_bundled_le()
    >>> england = gradient_table(le[le["GeoCode"] == "England"])
    >>> england[["Sex", "sii", "sii_lower", "sii_upper", "rii", "gap_absolute"]].round(2)
       Sex   sii  sii_lower  sii_upper   rii  gap_absolute
    0    1  9.35       9.24       9.45  1.13          9.32
    1    2  7.27       7.17       7.37  1.09          7.36
    """
    by = [by] if isinstance(by, str) else list(by)
    _check_columns(frame, area=area, quantile=quantile, value=value, population=population,
                   se=se, lower_cl=lower_cl, upper_cl=upper_cl, by=by)
    keys = [area, *by]
    labels, ascending = _quantile_order(frame, keys, quantile, most_deprived)
    if repetitions is None:  # PHE's default for one area, fewer for a table of many
        repetitions = SINGLE_AREA_REPETITIONS if frame[area].nunique(dropna=False) == 1 else TABLE_REPETITIONS
    flags = flag_values(frame, quantile=quantile, value=value, se=se,
                        plausible=plausible, max_se=max_se)
    measure = partial(_measure, labels=labels, quantile=quantile, value=value,
                      population=population, se=se, lower_cl=lower_cl, upper_cl=upper_cl,
                      value_type=value_type, transform=transform, multiplier=multiplier,
                      confidence=confidence, repetitions=repetitions, seed=seed,
                      atkinson_epsilon=atkinson_epsilon)
    table = pd.DataFrame(_area_records(frame, keys, quantile, ascending, flags, measure))
    return table[[*keys, *COLUMNS]].reset_index(drop=True)


def _area_records(frame: pd.DataFrame, keys: list[str], quantile: str, ascending: bool,
                  flags: pd.Series, measure: Callable[[pd.DataFrame], dict[str, object]],
                  ) -> list[dict[str, object]]:
    """One record per area (x group), sorted by ``keys``: its keys, measures, area type and flags."""
    records = []
    for key, rows_in in frame.groupby(keys, sort=True, dropna=False):
        key = key if isinstance(key, tuple) else (key,)
        rows_in = rows_in.sort_values(quantile, ascending=ascending)
        record = dict(zip(keys, key))
        record.update(measure(rows_in))
        record["area_type"] = area_type(key[0])
        record["flag"] = "; ".join(f for f in flags.loc[rows_in.index] if f)
        records.append(record)
    return records


def _quantile_order(frame: pd.DataFrame, keys: list[str], quantile: str,
                    most_deprived: object) -> tuple[list, bool]:
    """The sorted quantile labels, and whether the most deprived is the smallest.

    Raises :class:`GradientTableError` if there are no labels, ``most_deprived``
    is neither end, or an area (x group) repeats a quantile.
    """
    labels = sorted(frame[quantile].dropna().unique().tolist())
    if not labels:
        raise GradientTableError(f"column '{quantile}': expected quantile labels, found none")
    if most_deprived not in (labels[0], labels[-1]):
        raise GradientTableError(
            f"most_deprived: expected the smallest or largest label of '{quantile}' "
            f"({labels[0]!r} or {labels[-1]!r}), got {most_deprived!r}"
        )
    duplicated = frame.duplicated([*keys, quantile], keep=False)
    if duplicated.any():
        first = frame.loc[duplicated, [*keys, quantile]].iloc[0].to_dict()
        raise GradientTableError(
            f"{int(duplicated.sum())} rows repeat an area x quantile, e.g. {first}: "
            "expected one row per area (x group) and quantile"
        )
    return labels, most_deprived == labels[0]


def _check_columns(frame: pd.DataFrame, *, by: list[str], **columns: str | None) -> None:
    wanted = {role: name for role, name in columns.items() if name is not None}
    wanted.update({f"by[{i}]": name for i, name in enumerate(by)})
    missing = [f"{role} '{name}'" for role, name in wanted.items() if name not in frame.columns]
    if missing:
        raise GradientTableError(
            f"missing column{'s' if len(missing) > 1 else ''}: {', '.join(missing)}; "
            f"the table has: {', '.join(map(str, frame.columns))}"
        )
    if columns.get("se") is None and (columns.get("lower_cl") is None or columns.get("upper_cl") is None):
        raise GradientTableError("se: give a standard error column, or both lower_cl and upper_cl columns")
    for role in ("quantile", "value", "population", "se", "lower_cl", "upper_cl"):
        name = columns.get(role)
        if name is None:
            continue
        numbers = pd.to_numeric(frame[name], errors="coerce")
        bad = numbers.isna() & frame[name].notna()
        if bad.any():
            i = int(np.flatnonzero(bad.to_numpy())[0])
            raise GradientTableError(
                f"column '{name}', data row {i + 1}: expected a number, got {frame[name].iloc[i]!r}"
                + (f" (+{int(bad.sum()) - 1} more)" if bad.sum() > 1 else "")
            )


def _measure(rows: pd.DataFrame, *, labels: list, quantile: str, value: str,
             population: str, se: str | None, lower_cl: str | None, upper_cl: str | None,
             value_type: ineq.ValueType, transform: bool, multiplier: float, confidence: float,
             repetitions: int, seed: int, atkinson_epsilon: float) -> dict[str, object]:
    """One area's measures, or empty measures and a note saying why not."""
    record: dict[str, object] = {c: np.nan for c in COLUMNS}
    record.update(confidence=confidence, repetitions=repetitions, note="",
                  quantiles=int(rows[quantile].nunique()))
    y = pd.to_numeric(rows[value], errors="coerce").to_numpy(dtype=float)
    pop = pd.to_numeric(rows[population], errors="coerce").to_numpy(dtype=float)
    record["population"] = float(np.nansum(pop))
    uncertainty = [c for c in (se, lower_cl, upper_cl) if c is not None]
    usable = np.isfinite(y) & np.isfinite(pop) & (pop > 0)
    for c in uncertainty:
        usable &= np.isfinite(pd.to_numeric(rows[c], errors="coerce").to_numpy(dtype=float))
    present = set(rows.loc[usable, quantile].tolist())
    absent = [q for q in labels if q not in present]
    if absent:
        record["note"] = (f"not computed: {quantile.lower()} {_ranges(absent)} missing or unusable "
                          f"(has {len(present)} of {len(labels)})")
        return record
    column = {c: pd.to_numeric(rows[c]).to_numpy(dtype=float) for c in uncertainty}
    try:
        result = ineq.phe_sii(
            y, pop, value_type=value_type, transform=transform, multiplier=multiplier,
            standard_errors=column.get(se) if se is not None else None,
            lower_cl=column.get(lower_cl) if se is None else None,
            upper_cl=column.get(upper_cl) if se is None else None,
            confidence=confidence, repetitions=repetitions, seed=seed,
        )
    except ValueError as exc:
        record["note"] = f"not computed: {exc}"
        return record
    g = ineq.gap(y, pop)
    record.update(
        mean=float(pop @ y / pop.sum()), sii=result.sii, sii_lower=result.sii_lower,
        sii_upper=result.sii_upper, rii=result.rii, rii_lower=result.rii_lower,
        rii_upper=result.rii_upper, rii_alternative=result.rii_alternative,
        intercept=result.intercept, gap_absolute=g.absolute, gap_relative=g.relative,
        concentration_index=ineq.concentration_index(y, pop),
    )
    if np.all(y > 0):  # Atkinson needs positive values; leave it empty otherwise
        a = ineq.atkinson(y, pop, atkinson_epsilon)
        record.update(atkinson_index=a.index, ede=a.ede)
    return record


def _ranges(labels: list) -> str:
    """'2-5, 7' for consecutive integer labels; the labels as they are otherwise."""
    if not all(isinstance(q, (int, np.integer)) for q in labels):
        return ", ".join(map(str, labels))
    parts, start = [], None
    for i, q in enumerate(labels):
        start = q if start is None else start
        if i + 1 == len(labels) or labels[i + 1] != q + 1:
            parts.append(f"{start}" if start == q else f"{start}-{q}")
            start = None
    return ", ".join(parts)
