"""The web app's logic, without Streamlit: rules, options, solving, the state kept in the URL.

A set of rules is an *option*: the ``[[option]]`` keys whose values differ from the scenario
as loaded (``total_gbp``, ``objective``, ``floors``, ...). The app checks an option and makes
its scenario exactly as `allocator compare` does with the same block in a manifest
(`allocator.scenario.options.parse` and ``apply``), so its messages are the command line's and
a scenario folder exported with the options reproduces what the app showed. Locked lines
are the scenario's, not an option's (``[[option]]`` has no key for them): they are read by the
loader's own reader (`allocator.scenario.locks.locked_table`), with its messages.

Examples
--------
>>> import allocator
>>> base = allocator.load("quickstart")
>>> rules = rules_of(base)
>>> option = option_of(base, replace(rules, budget_gbp=120e6, objective="fair-share"), "Bigger")
>>> option
{'name': 'Bigger', 'total_gbp': 120000000.0, 'objective': 'fair-share'}
>>> scenario_for(base, option).budget_gbp
120000000.0
>>> rules_from_option(base, option) == replace(rules, budget_gbp=120e6, objective="fair-share")
True
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd

from allocator.analysis.compare import Comparison, compare
from allocator.errors import AllocatorError, InfeasibleError, Problem, ScenarioError
from allocator.reports.results import ReportData, report_data
from allocator.scenario import Scenario
from allocator.scenario.locks import locked_table
from allocator.scenario.options import apply, parse
from allocator.scenario.parameters import base_value
from allocator.scenario.tables import Checker, Table

RULES = "the app's rules"  # the 'file' that problems with the form's values name
LOCKED = "the locked lines (the app's table)"
STATE_VERSION = 1
MAX_STATE_BYTES = 1_000_000  # a settings file or the state in the URL (as the manifest: 1 MB)
MAX_URL_CHARS = 6_000  # longer state (many locked lines) is left out of the URL: the settings file has it
MAX_SWEEP_POINTS = 50


# -- rules: the form's values -----------------------------------------------------------------
@dataclass(frozen=True)
class Rules:
    """What the form sets: the scenario's settings that an ``[[option]]`` block can change."""

    budget_gbp: float
    budget_mode: str
    objective: str
    proportionality: str
    tolerance: float
    pace: tuple[float, float] | None  # (max_decrease, max_increase) as fractions, or none
    epsilon: float
    sii_reduction: float | None
    gap_reduction: float | None
    floors: tuple[float, ...]  # per service, units per head
    caps: tuple[float, ...]  # per service, units per head (inf: no cap)
    min_slopes: tuple[float, ...]  # per service, units per head per unit of relative need


def rules_of(s: Scenario) -> Rules:
    """The rules of a scenario as loaded."""
    return Rules(budget_gbp=float(s.budget_gbp), budget_mode=s.budget_mode, objective=s.objective,
                 proportionality=s.proportionality, tolerance=float(s.tolerance),
                 pace=None if s.pace is None else (float(s.pace[0]), float(s.pace[1])),
                 epsilon=float(s.epsilon), sii_reduction=_maybe(s.sii_reduction),
                 gap_reduction=_maybe(s.gap_reduction), floors=tuple(map(float, s.floor)),
                 caps=tuple(map(float, s.cap)), min_slopes=tuple(map(float, s.min_slope)))


def _maybe(value) -> float | None:
    return None if value is None else float(value)


def same(a, b) -> bool:
    """Equal, or equal but for float rounding (a percentage typed back as a fraction): 1e-12."""
    if a is None or b is None:
        return a is None and b is None
    if isinstance(a, str) or isinstance(b, str):
        return a == b
    try:
        a, b = float(a), float(b)
    except (TypeError, ValueError):
        return False
    return a == b or math.isclose(a, b, rel_tol=1e-12, abs_tol=0.0)


def _number(value):
    """A plain float for TOML and JSON (numpy's and pandas' numbers too); other values as given."""
    if isinstance(value, (bool, np.bool_)) or value is None or isinstance(value, str):
        return value
    try:
        return float(value)
    except (TypeError, ValueError):
        return value


def option_of(base: Scenario, rules: Rules, name: str, description: str = "") -> dict:
    """The ``[[option]]`` block that turns ``base`` into ``rules``: only the keys that differ.

    Values are as the form gave them (not checked here: `scenario_for` checks them).
    """
    was = rules_of(base)
    option: dict = {"name": name}
    if description:
        option["description"] = description
    for key, field in (("total_gbp", "budget_gbp"), ("budget_mode", "budget_mode"), ("objective", "objective"),
                       ("proportionality", "proportionality"), ("tolerance", "tolerance"),
                       ("epsilon", "epsilon"), ("sii_reduction", "sii_reduction"),
                       ("gap_reduction", "gap_reduction")):
        new, old = getattr(rules, field), getattr(was, field)
        if not same(new, old):
            option[key] = _number(new)
    if not _same_pace(rules.pace, was.pace):
        option["pace_of_change"] = False if rules.pace is None else {
            "max_decrease": _number(rules.pace[0]), "max_increase": _number(rules.pace[1])}
    for key, new, old in (("floors", rules.floors, was.floors), ("caps", rules.caps, was.caps),
                          ("min_slope", rules.min_slopes, was.min_slopes)):
        changed = {sid: _cap(v) if key == "caps" else _number(v)
                   for sid, v, w in zip(base.service_ids, new, old) if not same(v, w)}
        if changed:
            option[key] = changed
    return option


def _cap(value):
    value = _number(value)
    return "none" if isinstance(value, float) and (math.isinf(value) or math.isnan(value)) else value


def _same_pace(a, b) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return same(a[0], b[0]) and same(a[1], b[1])


def _spec(base: Scenario, option: dict, shown: str):
    problems: list[Problem] = []
    specs = parse([option], shown, base.service_ids, problems)
    if problems or not specs:
        raise ScenarioError(problems or [Problem(shown, "the option could not be read")])
    return specs[0]


def checked(base: Scenario, option: dict, shown: str = RULES) -> dict:
    """The overrides of ``option`` as `allocator.scenario.options.parse` reads a manifest's block;
    `ScenarioError` with the manifest's messages if a key or value is wrong."""
    return _spec(base, option, shown).overrides


def rules_from_option(base: Scenario, option: dict, shown: str = RULES) -> Rules:
    """The form's values for ``option`` (checked first: `ScenarioError` if it is wrong)."""
    o = checked(base, option, shown)
    rules = rules_of(base)
    scale = o.get("floor_scale", 1.0)
    floors = [f * scale for f in rules.floors]
    caps, slopes = list(rules.caps), list(rules.min_slopes)
    if "min_slope" in o:
        slopes = [o["min_slope"]] * len(slopes)
    index = {sid: j for j, sid in enumerate(base.service_ids)}
    for key, target in (("floors", floors), ("caps", caps), ("min_slopes", slopes)):
        for sid, value in o.get(key, {}).items():
            target[index[sid]] = float(value)
    pace = o.get("pace", rules.pace)  # None (pace_of_change = false) is a value
    return replace(rules, budget_gbp=o.get("budget_gbp", rules.budget_gbp),
                   budget_mode=o.get("budget_mode", rules.budget_mode), objective=o.get("objective", rules.objective),
                   proportionality=o.get("proportionality", rules.proportionality),
                   tolerance=o.get("tolerance", rules.tolerance), pace=pace, epsilon=o.get("epsilon", rules.epsilon),
                   sii_reduction=o.get("sii_reduction", rules.sii_reduction),
                   gap_reduction=o.get("gap_reduction", rules.gap_reduction),
                   floors=tuple(floors), caps=tuple(caps), min_slopes=tuple(slopes))


def scenario_for(base: Scenario, option: dict, shown: str = RULES) -> Scenario:
    """The scenario of ``option``: checked and applied as `allocator compare` applies an
    ``[[option]]`` block (the same `ScenarioError`, and `InfeasibleBudgetError` when the money
    checks show that no allocation meets the rules, with the minimum budget)."""
    return apply(base, _spec(base, option, shown))


# -- the services table and the locked lines --------------------------------------------------
SERVICE_COLUMNS = ["service_id", "service_name", "floor_units_per_head", "cap_units_per_head", "min_slope"]


def services_frame(base: Scenario, rules: Rules) -> pd.DataFrame:
    """Floors, caps and minimum slopes by service, as the form's table shows them (a blank cap: none)."""
    return pd.DataFrame({"service_id": list(base.service_ids), "service_name": list(base.service_names),
                         "floor_units_per_head": list(rules.floors),
                         "cap_units_per_head": [None if math.isinf(c) else c for c in rules.caps],
                         "min_slope": list(rules.min_slopes)})


def with_services(rules: Rules, frame: pd.DataFrame) -> Rules:
    """``rules`` with the floors, caps and slopes of the (edited) services table; a blank cap is none,
    a blank floor or slope stays blank (nan) for the check to name."""
    def column(name: str, blank: float) -> tuple[float, ...]:
        values = pd.to_numeric(frame[name], errors="coerce").astype(float)
        return tuple(float(v) if not math.isnan(v) else blank for v in values)

    return replace(rules, floors=column("floor_units_per_head", math.nan),
                   caps=column("cap_units_per_head", math.inf), min_slopes=column("min_slope", math.nan))


def locked_rows_of(s: Scenario) -> list[list]:
    """The scenario's locked lines as rows ``[area_id, service_id, spend_gbp]``."""
    a, j = np.nonzero(s.is_locked)
    return [[s.area_ids[i], s.service_ids[k], float(s.locked[i, k])] for i, k in zip(a, j)]


def locked_frame(rows: list[list]) -> pd.DataFrame:
    """Locked lines as the form's table (a blank spend: locked at its baseline)."""
    frame = pd.DataFrame(rows, columns=["area_id", "service_id", "spend_gbp"])
    frame["spend_gbp"] = pd.to_numeric(frame["spend_gbp"], errors="coerce").astype(float)
    frame["area_id"] = frame["area_id"].astype(object)
    frame["service_id"] = frame["service_id"].astype(object)
    return frame


def locked_rows(frame: pd.DataFrame) -> list[list]:
    """The (edited) locked table's rows ``[area_id, service_id, spend or None]``, empty rows dropped."""
    rows = []
    for area, service, spend in frame[["area_id", "service_id", "spend_gbp"]].itertuples(index=False):
        area = "" if area is None or (isinstance(area, float) and math.isnan(area)) else str(area).strip()
        service = "" if service is None or (isinstance(service, float) and math.isnan(service)) else str(service).strip()
        spend = None if spend is None or pd.isna(spend) else _number(spend)
        if area or service or spend is not None:
            rows.append([area, service, spend])
    return rows


def with_locked(base: Scenario, rows: list[list]) -> Scenario:
    """``base`` with exactly these locked lines, read by the loader's reader (its checks and messages:
    unknown ids, a wildcard with a spend, a line locked twice at different amounts)."""
    text = pd.DataFrame({"area_id": [str(r[0]) for r in rows], "service_id": [str(r[1]) for r in rows],
                         "spend_gbp": ["" if r[2] is None else repr(float(r[2])) for r in rows]}, dtype=object)
    check = Checker()
    locked = locked_table(Table(LOCKED, text), base.area_ids, base.service_ids, base.baseline, check)
    if check.problems:
        raise ScenarioError(check.problems)
    return base.with_(locked=locked)


# -- solving ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Solved:
    """Options solved side by side (``data`` for the reports), or why not (``error``)."""

    comparison: Comparison | None = None
    data: ReportData | None = None
    error: str | None = None
    infeasible: bool = False  # no allocation meets the rules (the CLI's exit code 1)
    scenarios: tuple = ()  # (name, Scenario) of each option


def option_scenarios(base: Scenario, locked: list[list] | None, options: list[dict],
                     shown: str = RULES) -> list[tuple[str, Scenario]]:
    """Each option's scenario (locked lines first, if given); raises `AllocatorError`."""
    if locked is not None:
        base = with_locked(base, locked)
    return [(str(o.get("name")), scenario_for(base, o, shown)) for o in options]


def solve(base: Scenario, locked: list[list] | None, options: list[dict], *, explain: bool = False,
          shown: str = RULES) -> Solved:
    """Solve ``options`` of ``base`` side by side, as `allocator compare`; errors become the message."""
    try:
        scenarios = option_scenarios(base, locked, options, shown)
        comparison = compare(scenarios, waterfall=explain, prices=explain)
    except AllocatorError as exc:
        return Solved(error=str(exc), infeasible=isinstance(exc, InfeasibleError))
    return Solved(comparison=comparison, data=report_data(comparison, "compare"), scenarios=tuple(scenarios))


# -- the state: the URL and the settings file ---------------------------------------------------
@dataclass(frozen=True)
class State:
    """What survives a reload: the scenario, the current rules, the saved options, the locked lines."""

    scenario: str | None  # a bundled scenario's name, or a folder or workbook on the machine running the app
    rules: dict  # the current rules as an [[option]] block
    options: list[dict]  # the saved options
    locked: list[list] | None = None  # None: the scenario's own locked lines


def state_json(state: State) -> str:
    """The settings file's text (also what the URL holds)."""
    return json.dumps({"allocator_app": STATE_VERSION, "scenario": state.scenario, "rules": state.rules,
                       "options": state.options, "locked": state.locked}, ensure_ascii=False, indent=1)


def read_state(text: str | bytes, shown: str = "the settings file") -> State:
    """A settings file (or the URL's state) read back; `ScenarioError` if it is not one.

    Only the shape is checked here; the values are checked against the scenario when applied.
    """
    def bad(message: str) -> ScenarioError:
        return ScenarioError([Problem(shown, message)])

    if len(text) > MAX_STATE_BYTES:
        raise bad(f"is larger than {MAX_STATE_BYTES:,} bytes: not a settings file of the app")
    try:
        data = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise bad(f"is not valid JSON ({exc}): give a settings file downloaded from the app") from None
    if not isinstance(data, dict) or data.get("allocator_app") != STATE_VERSION:
        raise bad(f"is not a settings file of the app (expected an object with \"allocator_app\": {STATE_VERSION})")
    scenario, rules, options, locked = (data.get(k) for k in ("scenario", "rules", "options", "locked"))
    if scenario is not None and not isinstance(scenario, str):
        raise bad(f"'scenario': expected text (a bundled scenario or a folder), got {scenario!r}")
    if not isinstance(rules, dict):
        raise bad("'rules': expected an object of [[option]] keys")
    if not isinstance(options, list) or not all(isinstance(o, dict) for o in options):
        raise bad("'options': expected a list of objects of [[option]] keys")
    if locked is not None and not (isinstance(locked, list) and all(
            isinstance(r, list) and len(r) == 3 and isinstance(r[0], str) and isinstance(r[1], str)
            and (r[2] is None or (isinstance(r[2], (int, float)) and not isinstance(r[2], bool))) for r in locked)):
        raise bad("'locked': expected a list of [area_id, service_id, spend_gbp or null]")
    return State(scenario=scenario, rules=rules, options=options, locked=locked)


def query_params(state: State) -> dict[str, str]:
    """The state as URL query parameters (``scenario``, ``rules``, ``options``, ``locked``); a part too
    long for a URL (thousands of locked lines) is left out."""
    params = {}
    if state.scenario:
        params["scenario"] = state.scenario
    for key, value in (("rules", state.rules), ("options", state.options), ("locked", state.locked)):
        if value is None or (key == "options" and not value):
            continue
        text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
        if len(text) <= MAX_URL_CHARS:
            params[key] = text
    return params


def state_from_params(params: dict) -> State | None:
    """The state held in the URL's query parameters, or None when it holds none (or is not valid)."""
    if not any(k in params for k in ("scenario", "rules", "options", "locked")):
        return None
    try:
        parts = {k: json.loads(params[k]) if k in params else None for k in ("rules", "options", "locked")}
    except (ValueError, RecursionError):
        return None
    text = json.dumps({"allocator_app": STATE_VERSION, "scenario": params.get("scenario"),
                       "rules": parts["rules"] or {}, "options": parts["options"] or [],
                       "locked": parts["locked"]})
    try:
        return read_state(text, "the address (URL)")
    except ScenarioError:
        return None


SHARED = "ALLOCATOR_APP_SHARED"  # set by `allocator app --host ...` when the app is shared on a network


def shared(environ=None) -> bool:
    """Whether the app is shared on a network (then it opens no folder a visitor names)."""
    import os

    return (environ if environ is not None else os.environ).get(SHARED) == "1"


def url_scenario_allowed(ref: str | None, given: str | None, bundled: set[str], is_shared: bool) -> bool:
    """May the scenario named in the URL be opened? Always a bundled one or the one the command line
    gave; any other folder only when the app is not shared on a network.

    >>> url_scenario_allowed("/etc", None, {"quickstart"}, True), url_scenario_allowed("/etc", None, set(), False)
    (False, True)
    >>> url_scenario_allowed("quickstart", None, {"quickstart"}, True)
    True
    """
    if not ref:
        return False
    return not is_shared or ref in bundled or (given is not None and ref == given)


def scenario_argument(argv: list[str]) -> str | None:
    """``--scenario PATH`` (or ``--scenario=PATH``) from the script's arguments, else None.

    >>> scenario_argument(["main.py", "--scenario", "england-la"]), scenario_argument(["main.py"])
    ('england-la', None)
    """
    for k, arg in enumerate(argv):
        if arg == "--scenario" and k + 1 < len(argv):
            return argv[k + 1]
        if arg.startswith("--scenario="):
            return arg.split("=", 1)[1]
    return None


def stamp(path: str | Path) -> str:
    """A fingerprint of a scenario's files as they are now (names, sizes, times): solved answers are
    kept by it, so that a file changed on disk is solved again."""
    path = Path(path)
    try:
        folder = path if path.is_dir() else path.parent
        entries = [path] if path.is_file() else sorted(p for p in folder.iterdir() if p.is_file())
        text = "\n".join(f"{p.name} {p.stat().st_size} {p.stat().st_mtime_ns}" for p in entries)
    except OSError:
        text = ""
    return hashlib.sha256(f"{os.fspath(path)}\n{text}".encode()).hexdigest()[:16]


# -- a small sweep --------------------------------------------------------------------------------
def sweep_parameters(s: Scenario) -> dict[str, str]:
    """The parameters a sweep in the app can vary, by name, with what each means."""
    out = {"budget": "Budget (GBP)", "floor_scale": "Every floor times", "cost_scale": "Every unit cost times",
           "response_scale": "Every effect size times", "min_slope": "Minimum slope (every service)",
           "tolerance": "Proportionality tolerance"}
    if s.pace is not None:
        out.update({"pace.max_decrease": "Pace of change: largest decrease (fraction)",
                    "pace.max_increase": "Pace of change: largest increase (fraction)"})
    if s.objective == "equity-weighted":
        out["epsilon"] = "Inequality aversion (epsilon)"
    for sid, name in zip(s.service_ids, s.service_names):
        out[f"floor.{sid}"] = f"Floor of {name} (units per head)"
        out[f"cap.{sid}"] = f"Cap of {name} (units per head)"
        out[f"unit_cost.{sid}"] = f"Unit cost of {name} (GBP)"
    return out


def sweep_range(s: Scenario, name: str) -> tuple[float, float]:
    """A first range to sweep ``name`` over: 10% either side of its value (0 to 1 when it has none)."""
    value = base_value(s, name)
    if not math.isfinite(value) or value == 0:
        return 0.0, 1.0
    low, high = 0.9 * value, 1.1 * value
    if name == "tolerance" or name == "pace.max_decrease":
        high = min(high, 0.99 if name == "tolerance" else 1.0)
    return float(low), float(high)


def sweep_values(start: float, stop: float, points: int) -> list[float]:
    """``points`` values evenly from ``start`` to ``stop`` (2 to 50); `ScenarioError` otherwise."""
    if not isinstance(points, (int, np.integer)) or isinstance(points, bool) or not 2 <= points <= MAX_SWEEP_POINTS:
        raise ScenarioError([Problem("the sweep", f"points: expected a whole number from 2 to {MAX_SWEEP_POINTS}, "
                                     f"got {points!r}")])
    if not (math.isfinite(start) and math.isfinite(stop)):
        raise ScenarioError([Problem("the sweep", "from and to: expected finite numbers")])
    return [float(v) for v in np.linspace(start, stop, int(points))]


def run_small_sweep(scenario: Scenario, parameter: str, values: list[float], progress=None) -> pd.DataFrame:
    """The scenario solved at each value of one parameter, in this process, as `allocator.sweep`'s
    tidy table; ``progress`` is a progress-bar factory (`allocator.analysis.sweeps.run_sweep`)."""
    from allocator.analysis.sweeps import run_sweep

    _, table = run_sweep(scenario, {parameter: values}, workers=1, progress=progress)
    return table


def sweep_lines(table: pd.DataFrame, parameter: str, measures: list[str]) -> pd.DataFrame:
    """Each measure's value after, by value of the parameter (one column per measure)."""
    ok = table[(table["status"] == "ok") & table["measure"].isin(measures)]
    if ok.empty:
        return pd.DataFrame()
    wide = ok.pivot_table(index=parameter, columns="measure", values="after", aggfunc="first")
    return wide[[m for m in measures if m in wide.columns]]


def md(text: object) -> str:
    r"""Text that Streamlit's Markdown shows as written: markup escaped line by line
    (`allocator.reports.markdown.md_text`, and ``$``, which Streamlit reads as LaTeX); lines
    starting '- ' stay a list, other lines keep their breaks.

    >>> md("2 problems:\n- a_b: [x](y) costs $5")
    '2 problems:  \n- a\\_b: \\[x\\](y) costs \\$5'
    """
    from allocator.reports.markdown import md_text

    lines = []
    for line in str(text).splitlines() or [""]:
        bullet = line.startswith("- ")
        body = md_text(line[2:] if bullet else line, block=not bullet).replace("$", "\\$")
        lines.append(f"- {body}" if bullet else f"{body}  ")
    return "\n".join(lines).rstrip()
