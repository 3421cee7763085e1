"""Money as finance teams hold it: service groups, funding streams and pooled budgets, plans.

Read from the manifest and its tables, checked like every other input (file, row,
column, expected, found), and kept on the `Scenario` as frozen values:

* ``[[service_group]]`` blocks: a named set of services with a minimum, maximum or fixed
  total, in pounds or as a share of the year's budget;
* a ``streams`` table (``[tables] streams = "streams.csv"``): each funding stream's amount
  (a year, with optional growth and ``year_<n>`` overrides, ``from_year``/``to_year`` for a
  time-limited grant), the services it may pay for (ids, service group names or ``all``),
  the areas it may pay for (blank for all, or ``<areas column>=<value>;<value>``) and whether
  unspent money carries over to the next year; a ``partners`` table splits a pooled stream
  between the partners who fund it (shares that sum to 1);
* ``[plan]``: a horizon of years, each year's budget (a list, or a growth rate), the
  discount rate of health gains (3.5% a year, as NICE uses), a minimum uplift for every
  area, convergence to need-weighted targets and lags before a service's effect starts.

.. code-block:: toml

    [[service_group]]
    name = "targeted"
    services = ["stop_smoking", "drug_alcohol"]
    min_share = 0.25

    [plan]
    years = 5
    budget_growth = 0.02
    discount_rate = 0.035
    convergence = 0.2        # each area's distance from target falls by >= 20% a year
    lags = { falls_prevention = 1 }
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from allocator.scenario.files import number_problem
from allocator.scenario.tables import Checker, Table

ALL = "all"
STREAM_COLUMNS = ["stream_id", "stream_name", "amount_gbp", "services"]
PARTNER_COLUMNS = ["stream_id", "partner", "share"]
YES, NO = ("yes", "true", "y", "1"), ("no", "false", "n", "0", "")
GROUP_KEYS = ("name", "services", "description", "min_gbp", "max_gbp", "min_share", "max_share",
              "fixed_gbp", "fixed_share")
PLAN_KEYS = ("years", "first_year", "budgets_gbp", "budget_growth", "discount_rate", "min_uplift",
             "convergence", "converge_by", "lags")
MAX_YEARS = 50


@dataclass(frozen=True)
class ServiceGroup:
    """Services whose total is held within bounds (pounds, or shares of the year's budget)."""

    name: str
    services: tuple[int, ...]
    description: str = ""
    min_gbp: float | None = None
    max_gbp: float | None = None
    min_share: float | None = None
    max_share: float | None = None

    def bounds(self, budget: float) -> tuple[float, float]:
        """(lowest, highest) total in GBP for a year whose budget is ``budget``."""
        lows = [v for v in (self.min_gbp, None if self.min_share is None else self.min_share * budget)
                if v is not None]
        highs = [v for v in (self.max_gbp, None if self.max_share is None else self.max_share * budget)
                 if v is not None]
        return (max(lows) if lows else 0.0), (min(highs) if highs else np.inf)


@dataclass(frozen=True)
class Transfer:
    """Move ``amount`` GBP from one service group to another, against the comparator's split.

    The comparator is last year's spend (the baseline) scaled to this year's budget, or the
    same budget spread flat when there is no baseline; both groups' totals are fixed.
    """

    source: str
    target: str
    amount: float


@dataclass(frozen=True)
class Partner:
    name: str
    share: float


@dataclass(frozen=True)
class Stream:
    """A funding stream: what it holds each year, what it may pay for, who funds it."""

    id: str
    name: str
    amounts: tuple[float, ...]  # GBP per year of the plan (one entry without a plan)
    services: np.ndarray = field(repr=False)  # (S,) bool: services it may fund
    areas: np.ndarray | None = field(repr=False, default=None)  # (A,) bool, None: every area
    carry_over: bool = False
    partners: tuple[Partner, ...] = ()
    # (A,) bool: areas the LP keeps in classes of their own as if the stream were limited to them
    # (a relaxation that lets it fund every area keeps its parent's rows: `allocator.analysis.plan.without`)
    class_areas: np.ndarray | None = field(repr=False, default=None)

    def eligible(self, n_areas: int) -> np.ndarray:
        """(A, S) lines this stream may pay for."""
        areas = np.ones(n_areas, bool) if self.areas is None else self.areas
        return areas[:, None] & self.services[None, :]


@dataclass(frozen=True)
class Plan:
    """A plan over several years, solved as one linear program."""

    years: int
    budgets: tuple[float, ...]  # GBP per year
    labels: tuple[str, ...]  # "Year 1" ... or "2026/27" ...
    discount_rate: float = 0.035
    min_uplift: float | None = None  # every area's total grows by at least this a year
    convergence: float | None = None  # distance from target falls by at least this share a year
    converge_by: int | None = None  # distance from target is zero from this year on
    lags: tuple[int, ...] = ()  # per service: years before its effect starts

    def discount(self, year: int, lag: int = 0) -> float:
        """The weight of a gain arriving ``lag`` years after year ``year`` (0-based) of the plan."""
        return (1.0 + self.discount_rate) ** -(year + lag)


def year_labels(first: str | None, years: int) -> tuple[str, ...]:
    """'Year 1', ... or, from a first financial year such as '2026/27', the years after it.

    Examples
    --------
    >>> year_labels("2026/27", 3)
    ('2026/27', '2027/28', '2028/29')
    >>> year_labels(None, 2)
    ('Year 1', 'Year 2')
    """
    if first:
        start = int(first[:4])
        return tuple(f"{start + t}/{(start + t + 1) % 100:02d}" for t in range(years))
    return tuple(f"Year {t + 1}" for t in range(years))


# -- [[service_group]] ---------------------------------------------------------------------------

def parse_groups(blocks: object, shown: str, service_ids: tuple[str, ...], check: Checker
                 ) -> tuple[ServiceGroup, ...]:
    """The ``[[service_group]]`` blocks, checked; problems go into ``check``."""
    if blocks is None:
        return ()
    if not isinstance(blocks, list):
        check.add(shown, "'service_group' must be an array of tables: write [[service_group]] blocks")
        return ()
    groups, names = [], set()
    for k, block in enumerate(blocks, start=1):
        group = _group(block, f"[[service_group]] number {k}", shown, service_ids, check)
        if group is None:
            continue
        if group.name in names or group.name in service_ids or group.name == ALL:
            check.add(shown, f"[[service_group]] '{group.name}': the name is used twice (or is a "
                      "service id, or 'all'): expected a name of its own")
        names.add(group.name)
        groups.append(group)
    return tuple(groups)


def _group(block: object, where: str, shown: str, service_ids, check: Checker) -> ServiceGroup | None:
    if not isinstance(block, dict):
        check.add(shown, f"{where}: must be a table")
        return None
    for key in block:
        if key not in GROUP_KEYS:
            check.add(shown, f"{where}: unknown key '{key}' (known: {', '.join(GROUP_KEYS)})")
    name = block.get("name")
    if not isinstance(name, str) or not name.strip():
        check.add(shown, f"{where}: 'name': expected text, got {name!r}")
        return None
    where = f"[[service_group]] '{name}'"
    listed = block.get("services")
    if not isinstance(listed, list) or not listed or not all(isinstance(s, str) for s in listed):
        check.add(shown, f"{where}: 'services': expected a list of service ids, got {listed!r}")
        return None
    unknown = [s for s in listed if s not in service_ids]
    if unknown:
        check.add(shown, f"{where}: 'services': unknown service id {unknown[0]!r} (known: "
                  f"{', '.join(service_ids)})")
        return None
    values = {}
    for key in ("min_gbp", "max_gbp", "min_share", "max_share", "fixed_gbp", "fixed_share"):
        if key in block:
            value = block[key]
            share = key.endswith("share")
            ok = (isinstance(value, (int, float)) and not isinstance(value, bool)
                  and number_problem(float(value)) is None and value >= 0 and (not share or value <= 1))
            if not ok:
                check.add(shown, f"{where}: '{key}': expected a number "
                          f"{'from 0 to 1' if share else '>= 0 (GBP)'}, got {value!r}")
                return None
            values[key] = float(value)
    for unit in ("gbp", "share"):
        if f"fixed_{unit}" in values:
            if f"min_{unit}" in values or f"max_{unit}" in values:
                check.add(shown, f"{where}: give fixed_{unit}, or min_{unit} and max_{unit}, not both")
                return None
            values[f"min_{unit}"] = values[f"max_{unit}"] = values.pop(f"fixed_{unit}")
        low, high = values.get(f"min_{unit}"), values.get(f"max_{unit}")
        if low is not None and high is not None and low > high:
            check.add(shown, f"{where}: 'min_{unit}' ({low:g}) is above 'max_{unit}' ({high:g})")
            return None
    description = block.get("description", "")
    return ServiceGroup(name=name.strip(), services=tuple(sorted(service_ids.index(s) for s in set(listed))),
                        description=description if isinstance(description, str) else "", **values)


# -- [plan] --------------------------------------------------------------------------------------

def parse_plan(block: object, shown: str, budget: float, service_ids: tuple[str, ...],
               check: Checker) -> Plan | None:
    """``[plan]``, checked; None when the manifest has none."""
    if block is None:
        return None
    if not isinstance(block, dict):
        check.add(shown, f"[plan] must be a table (a [plan] section of keys), got {block!r}")
        return None
    before = len(check.problems)
    for key in block:
        if key not in PLAN_KEYS:
            check.add(shown, f"[plan] unknown key '{key}' (known: {', '.join(PLAN_KEYS)})")
    years = block.get("years")
    if not isinstance(years, int) or isinstance(years, bool) or not 1 <= years <= MAX_YEARS:
        check.add(shown, f"[plan] 'years': expected a whole number of years from 1 to {MAX_YEARS}, "
                  f"got {years!r}")
        return None
    first = block.get("first_year")
    if first is not None and not (isinstance(first, str) and len(first) >= 4 and first[:4].isdigit()):
        check.add(shown, f"[plan] 'first_year': expected a financial year such as \"2026/27\", got {first!r}")
        first = None
    budgets = _plan_budgets(block, shown, budget, years, check)
    rate = _fraction(block, "discount_rate", shown, check, default=0.035, high=1.0)
    uplift = _fraction(block, "min_uplift", shown, check, default=None, low=-1.0, high=10.0)
    convergence = _fraction(block, "convergence", shown, check, default=None, high=1.0)
    by = block.get("converge_by")
    if by is not None and (not isinstance(by, int) or isinstance(by, bool) or not 1 <= by <= years):
        check.add(shown, f"[plan] 'converge_by': expected a year of the plan, 1 to {years}, got {by!r}")
        by = None
    lags = _lags(block.get("lags"), shown, service_ids, years, check)
    if len(check.problems) > before:
        return None
    return Plan(years=years, budgets=budgets, labels=year_labels(first, years), discount_rate=rate,
                min_uplift=uplift, convergence=convergence, converge_by=by, lags=lags)


def _fraction(block: dict, key: str, shown: str, check: Checker, default, low: float = 0.0,
              high: float = 1.0):
    value = block.get(key, default)
    if value is None:
        return None
    ok = (isinstance(value, (int, float)) and not isinstance(value, bool) and number_problem(float(value)) is None
          and low <= value <= high)
    if not ok:
        check.add(shown, f"[plan] '{key}': expected a fraction from {low:g} to {high:g} (0.035 = 3.5%), "
                  f"got {value!r}")
        return default
    return float(value)


def _plan_budgets(block: dict, shown: str, budget: float, years: int, check: Checker) -> tuple[float, ...]:
    """Each year's budget: [plan] budgets_gbp, or [budget] total_gbp grown by budget_growth."""
    listed = block.get("budgets_gbp")
    if listed is not None:
        ok = (isinstance(listed, list) and len(listed) == years
              and all(isinstance(v, (int, float)) and not isinstance(v, bool) and v > 0
                      and number_problem(float(v)) is None for v in listed))
        if not ok:
            check.add(shown, f"[plan] 'budgets_gbp': expected {years} budgets in GBP (> 0), one a year, "
                      f"got {listed!r}")
            return (budget,) * years
        if "budget_growth" in block:
            check.add(shown, "[plan] give budgets_gbp or budget_growth, not both")
        if abs(float(listed[0]) - budget) > 0.005:
            check.add(shown, f"[plan] 'budgets_gbp': the first year's budget ({listed[0]:,.2f}) must be "
                      f"[budget] total_gbp ({budget:,.2f})")
        return tuple(float(v) for v in listed)
    growth = _fraction(block, "budget_growth", shown, check, default=0.0, low=-0.5, high=1.0)
    return tuple(round(budget * (1 + growth) ** t, 2) for t in range(years))


def _lags(value: object, shown: str, service_ids, years: int, check: Checker) -> tuple[int, ...]:
    lags = [0] * len(service_ids)
    if value is None:
        return tuple(lags)
    if not isinstance(value, dict):
        check.add(shown, f"[plan] 'lags': expected a table of service id = years, got {value!r}")
        return tuple(lags)
    for key, lag in value.items():
        if key not in service_ids:
            check.add(shown, f"[plan] 'lags': unknown service id {key!r} (known: {', '.join(service_ids)})")
        elif not isinstance(lag, int) or isinstance(lag, bool) or not 0 <= lag <= MAX_YEARS:
            check.add(shown, f"[plan] 'lags' {key}: expected a whole number of years >= 0, got {lag!r}")
        else:
            lags[service_ids.index(key)] = lag
    return tuple(lags)


# -- streams and partners ------------------------------------------------------------------------

def parse_streams(table: Table | None, partners: Table | None, areas: Table, service_ids: tuple[str, ...],
                  groups: tuple[ServiceGroup, ...], years: int, check: Checker) -> tuple[Stream, ...]:
    """The ``streams`` table (and ``partners``), checked; () when the scenario has none."""
    if table is None:
        if partners is not None:
            check.add(partners.name, "a partners table needs a streams table ([tables] streams = ...)")
        return ()
    if not check.columns(table, STREAM_COLUMNS) or not check.rows(table, "one row per funding stream"):
        return ()
    check.unique(table, "stream_id")
    frame = table.frame
    amount = check.number(table, "amount_gbp", minimum=0)
    growth = (check.number(table, "growth", minimum=-0.5, blank=0.0) if "growth" in frame
              else np.zeros(len(frame)))
    first = (check.number(table, "from_year", minimum=1, blank=1, integer=True) if "from_year" in frame
             else np.ones(len(frame)))
    last = (check.number(table, "to_year", minimum=1, blank=years, integer=True) if "to_year" in frame
            else np.full(len(frame), years))
    overrides = {t: check.number(table, f"year_{t + 1}", minimum=0, blank=-1.0)
                 for t in range(years) if f"year_{t + 1}" in frame}
    shares = _partners(partners, frame["stream_id"].str.strip().tolist(), check)
    streams = []
    for pos in range(len(frame)):
        amounts = []
        for t in range(years):
            value = amount[pos] * (1 + growth[pos]) ** (t - first[pos] + 1)
            if not first[pos] - 1 <= t <= last[pos] - 1:
                value = 0.0
            if t in overrides and overrides[t][pos] >= 0:
                value = overrides[t][pos]
            amounts.append(round(float(value), 2))
        services = _stream_services(table, pos, service_ids, groups, check)
        eligible_areas = _stream_areas(table, pos, areas, check)
        carry = _yes_no(table, pos, "carry_over", check)
        sid = frame["stream_id"].iloc[pos].strip()
        if services is None:
            # reported; the stream is kept (funding nothing) so that the check of the streams'
            # total against [budget] total_gbp counts its amount and gives no false advice
            services = np.zeros(len(service_ids), bool)
        elif not services.any() or eligible_areas is not None and not eligible_areas.any():
            check.add(table.name, "this stream can fund nothing: no service or no area is eligible",
                      row=table.row(pos), column="services" if not services.any() else "areas",
                      expected="at least one eligible service and area", found=sid)
        streams.append(Stream(id=sid, name=frame["stream_name"].iloc[pos].strip() or sid,
                              amounts=tuple(amounts), services=services, areas=eligible_areas,
                              carry_over=carry, partners=shares.get(sid, ())))
    return tuple(streams)


def _stream_services(table: Table, pos: int, service_ids, groups, check: Checker) -> np.ndarray | None:
    """(S,) the services stream ``pos`` may fund: ids, service group names or 'all', ';'-separated."""
    text = table.frame["services"].iloc[pos].strip()
    mask = np.zeros(len(service_ids), bool)
    by_name = {g.name: g for g in groups}
    for part in [p.strip() for p in text.split(";") if p.strip()] or [""]:
        if part == ALL:
            mask[:] = True
        elif part in service_ids:
            mask[service_ids.index(part)] = True
        elif part in by_name:
            mask[list(by_name[part].services)] = True
        else:
            check.add(table.name, "", row=table.row(pos), column="services",
                      expected="'all', or service ids or service group names separated by ';' "
                      f"(known: {', '.join(list(service_ids) + list(by_name))})", found=part or text)
            return None
    return mask


def _stream_areas(table: Table, pos: int, areas: Table, check: Checker) -> np.ndarray | None:
    """(A,) the areas stream ``pos`` may fund: blank for all, or 'column=value;value'."""
    if "areas" not in table.frame:
        return None
    text = table.frame["areas"].iloc[pos].strip()
    if not text:
        return None
    column, _, values = text.partition("=")
    column = column.strip()
    wanted = {v.strip() for v in values.split(";") if v.strip()}
    if not _ or column not in areas.frame or not wanted:
        check.add(table.name, "", row=table.row(pos), column="areas",
                  expected="blank (every area) or '<areas column>=<value>;<value>' such as "
                  "'icb=QE1;QHM' or 'area_id=E06000001'", found=text)
        return None
    found = areas.frame[column].astype(str).str.strip()
    missing = sorted(wanted - set(found))
    if missing:
        check.add(table.name, f"no area has {column} = {missing[0]!r}", row=table.row(pos), column="areas",
                  expected=f"values of the areas column '{column}'", found=missing[0])
        return None
    return found.isin(wanted).to_numpy()


def _yes_no(table: Table, pos: int, column: str, check: Checker) -> bool:
    if column not in table.frame:
        return False
    text = table.frame[column].iloc[pos].strip().lower()
    if text in YES:
        return True
    if text not in NO:
        check.add(table.name, "", row=table.row(pos), column=column, expected="yes or no (blank: no)",
                  found=table.frame[column].iloc[pos])
    return False


def _partners(table: Table | None, stream_ids: list[str], check: Checker) -> dict[str, tuple[Partner, ...]]:
    """Each pooled stream's partners and shares; shares of a stream must sum to 1."""
    if table is None:
        return {}
    if not check.columns(table, PARTNER_COLUMNS) or not check.rows(table, "one row per stream and partner"):
        return {}
    check.member(table, "stream_id", set(stream_ids), "streams' stream_id")
    share = check.number(table, "share", minimum=0)
    out: dict[str, list[Partner]] = {}
    rows: dict[str, list[int]] = {}
    for pos, (sid, name) in enumerate(zip(table.frame["stream_id"].str.strip(), table.frame["partner"].str.strip())):
        if not name:
            check.add(table.name, "", row=table.row(pos), column="partner", expected="a partner's name",
                      found="")
            continue
        if np.isfinite(share[pos]) and sid in stream_ids:
            out.setdefault(sid, []).append(Partner(name, float(share[pos])))
            rows.setdefault(sid, []).append(pos)
    for sid, partners in out.items():
        total = sum(p.share for p in partners)
        if abs(total - 1.0) > 1e-9:
            check.add(table.name, f"the shares of stream '{sid}' sum to {total:.6g}", row=table.row(rows[sid][-1]),
                      column="share", expected="shares of each stream that sum to 1", found=f"{total:.6g}")
        names = [p.name for p in partners]
        if len(set(names)) < len(names):
            check.add(table.name, f"a partner of stream '{sid}' is listed twice", row=table.row(rows[sid][-1]),
                      column="partner", expected="one row per stream and partner", found=names)
    return {sid: tuple(p) for sid, p in out.items()}
