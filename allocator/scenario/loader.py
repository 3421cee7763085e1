"""Load and validate a scenario: a TOML manifest plus CSV tables (or one XLSX workbook).

`load` reads every file, collects every problem (file, row, column, expected,
found) and raises one `ScenarioError` listing them, or returns a frozen
`Scenario` holding plain arrays ready for the LP.  Inputs are only ever read.
"""

import dataclasses
from pathlib import Path

import numpy as np

from allocator.choices import SLOPE_ONLY
from allocator.errors import Problem, ScenarioError
from allocator.scenario import budget as budget_spec
from allocator.scenario import files, manifest, population, uncertainty
from allocator.scenario.bundled import bundled_root
from allocator.scenario.bundled import resolve as resolve_name
from allocator.scenario.checks import check_budget
from allocator.scenario.locks import locked_table, spend_table
from allocator.scenario.models import (
    NeedModel,
    ResponseModel,
    category_key,
    load_need_model,
    load_response_model,
)
from allocator.scenario.options import parse as parse_options
from allocator.scenario.parameters import resolve
from allocator.scenario.spec import (
    AREA_COLUMNS,
    MANIFEST,
    SERVICE_COLUMNS,
    Gradient,
    Scenario,
)
from allocator.scenario.tables import Checker, Table, read_csv
from allocator.scenario.workbook import read_settings, read_workbook

_WHAT_A_SCENARIO_IS = ": a scenario is a folder with a scenario.toml manifest"
BUNDLED = "bundled"  # [scenario] models = "bundled": the models that ship with allocator


def load(path: str | Path) -> Scenario:
    """Read and validate the scenario in folder ``path`` (or its ``scenario.toml``).

    Raises `ScenarioError` listing every problem found.
    """
    try:
        path = Path(path)
    except TypeError:
        raise ScenarioError([Problem("allocator.load", "expected the path of a scenario folder (or of its "
                                     f"scenario.toml), got {path!r}")]) from None
    path = resolve_name(path)  # a bundled scenario's name ("quickstart") from anywhere
    if path.suffix.lower() == ".xlsx":
        return _load_workbook(path)
    manifest_path = _manifest_path(path)
    folder = manifest_path.parent
    shown = str(manifest_path)
    data = files.read_toml(manifest_path, shown, missing=_WHAT_A_SCENARIO_IS)
    check = Checker()
    manifest.check(data, shown, check)
    if check.problems:
        raise ScenarioError(check.problems)
    return _Loader(data, folder, shown, check).run()


def _load_workbook(path: Path) -> Scenario:
    """A scenario held wholly in one workbook: settings in its ``scenario`` sheet, the tables in its
    areas, services, baseline and locked sheets, the bundled models unless it names a folder."""
    shown = f"{path}, sheet scenario"
    data = read_settings(path, str(path))
    data.setdefault("scenario", {}).setdefault("models", BUNDLED)
    data["tables"] = {**(data.get("tables") if isinstance(data.get("tables"), dict) else {}),
                      "workbook": path.name}
    check = Checker()
    manifest.check(data, shown, check)
    if check.problems:
        raise ScenarioError(check.problems)
    return _Loader(data, path.parent, shown, check).run()


def _manifest_path(path: Path) -> Path:
    """The manifest of ``path``: a folder's scenario.toml, or ``path`` itself if it is a file.

    A device, a pipe, a link loop (anything but a folder, a file or nothing) is refused
    here, unread.
    """
    kind, text = files.describe(path)
    if kind == files.FOLDER:
        return path / MANIFEST
    if kind == files.FILE or (kind == files.MISSING and path.suffix == ".toml"):
        return path
    if kind == files.MISSING:
        return path / MANIFEST
    raise ScenarioError([Problem(str(path), text + _WHAT_A_SCENARIO_IS)])


class _Loader:
    """One pass over the files: each step adds problems instead of stopping."""

    def __init__(self, data: dict, folder: Path, shown: str, check: Checker):
        self.data, self.folder, self.shown, self.check = data, folder, shown, check
        self.inputs = [str(Path(shown))]

    def run(self) -> Scenario:
        tables, areas, services = self._main_tables()
        values, need_models, response_models = self._area_service_values(areas, services)
        area_ids, service_ids = values["area_ids"], values["service_ids"]
        baseline = spend_table(tables.get("baseline"), area_ids, service_ids, self.check)
        locked = locked_table(tables.get("locked"), area_ids, service_ids, baseline, self.check)
        pace = self._pace(baseline)
        share = self._service_share(services, values["unit_cost"], values["floor"], values["cost_index"],
                                    values["target_population"], baseline)
        options = parse_options(self.data.get("option"), self.shown, service_ids, self.check.problems)
        uncertain = self._uncertain()
        money = self._money(tables, areas, service_ids)
        groups = population.parse(self.data.get(population.SECTION), self.shown, areas, values["population"],
                                  self.check)
        if self.check.problems:
            raise ScenarioError(self.check.problems)
        values.update(baseline=baseline, locked=locked, pace=pace, service_share=share,
                      options=options, uncertain=uncertain, disaggregation=groups, **money)
        scenario = self._assemble(areas, services, values, need_models, response_models)
        self._check_uncertain(scenario)
        if self.check.problems:
            raise ScenarioError(self.check.problems)
        check_budget(scenario)
        return scenario

    # -- steps of run ------------------------------------------------------------------
    def _main_tables(self) -> tuple[dict[str, Table], Table, Table]:
        """Every table read; the areas and services tables, with their columns and ids checked."""
        tables = self._tables()
        areas, services = tables.get("areas"), tables.get("services")
        if areas is None or services is None:
            raise ScenarioError(self.check.problems)
        ok_a = self.check.columns(areas, AREA_COLUMNS) and self.check.rows(areas, "one row per area")
        ok_s = (self.check.columns(services, SERVICE_COLUMNS)
                and self.check.rows(services, "one row per service"))
        if not (ok_a and ok_s):
            raise ScenarioError(self.check.problems)
        self.check.unique(areas, "area_id")
        self.check.unique(services, "service_id")
        return tables, areas, services

    def _area_service_values(self, areas: Table, services: Table) -> tuple[dict, dict, dict]:
        """The areas' and services' numbers, as `Scenario` fields; the need and response models."""
        area_ids = tuple(areas.frame["area_id"].str.strip())
        service_ids = tuple(services.frame["service_id"].str.strip())
        gradient = self._gradient(areas)
        population = self.check.number(areas, "population", minimum=0, strict=True)
        unit_cost, floor, cap, min_slope = self._service_numbers(services, len(service_ids))
        cost_index = self._cost_index(areas, services, len(area_ids))
        numeric = self._numeric(areas, population)
        target = self._target_populations(areas, services, numeric)
        need_models, response_models = self._models(services, gradient)
        need = self._need(areas, services, need_models, target, numeric)
        modifier = self._modifiers(areas, services, response_models)
        outcome = numeric(gradient.outcome) if gradient.outcome in areas.frame else None
        deprivation = numeric(gradient.deprivation) if gradient.deprivation in areas.frame else None
        values = dict(area_ids=area_ids, service_ids=service_ids, gradient=gradient,
                      population=population, cost_index=cost_index, unit_cost=unit_cost,
                      floor=floor, cap=cap, min_slope=min_slope, target_population=target,
                      need=need, modifier=modifier, outcome=outcome, deprivation=deprivation)
        return values, need_models, response_models

    def _cost_index(self, areas: Table, services: Table, n_areas: int) -> np.ndarray:
        """(A, S) relative unit cost: the areas' ``cost_index`` (1 if absent), or for a service whose
        ``cost_index_column`` names an areas column (a service-specific market forces index), that."""
        base = (self.check.number(areas, "cost_index", minimum=0, strict=True)
                if "cost_index" in areas.frame else np.ones(n_areas))
        columns = (services.frame["cost_index_column"].str.strip() if "cost_index_column" in services.frame
                   else [""] * len(services.frame))
        matrix = np.repeat(base[:, None], len(services.frame), axis=1)
        for s, column in enumerate(columns):
            if not column:
                continue
            if column not in areas.frame:
                self.check.add(services.name, "names no column of the areas table: give an areas column of "
                               "relative unit costs (> 0), or leave it blank for cost_index",
                               row=services.row(s), column="cost_index_column", expected="an areas column",
                               found=column)
                continue
            matrix[:, s] = self.check.number(areas, column, minimum=0, strict=True)
        return matrix

    def _service_numbers(self, services: Table, n_services: int):
        """(unit cost, floor, cap, minimum slope) of every service; a cap below its floor is a problem."""
        unit_cost = self.check.number(services, "unit_cost_gbp", minimum=0, strict=True)
        floor = self.check.number(services, "floor_units_per_head", minimum=0)
        cap = self.check.number(services, "cap_units_per_head", minimum=0, blank=np.inf)
        for pos in np.flatnonzero(np.isfinite(floor) & (cap < floor)):
            self.check.add(services.name, "", row=services.row(pos), column="cap_units_per_head",
                           expected=f"a cap >= the floor {floor[pos]:g} (or blank for no cap)",
                           found=services.frame["cap_units_per_head"].iloc[pos])
        slope_default = float(self.data["proportionality"].get("min_slope", 0.0))
        min_slope = (self.check.number(services, "min_slope", minimum=0, blank=slope_default)
                     if "min_slope" in services.frame else np.full(n_services, slope_default))
        self._slope_in_its_mode(services, min_slope)
        return unit_cost, floor, cap, min_slope

    def _slope_in_its_mode(self, services: Table, min_slope: np.ndarray) -> None:
        """A minimum slope outside monotone mode would be ignored: refused where it is set."""
        mode = self.data["proportionality"]["mode"]
        sloped = np.flatnonzero(np.nan_to_num(min_slope) > 0)
        if mode == "monotone" or not len(sloped):
            return
        expected = f"0 with proportionality mode '{mode}' ({SLOPE_ONLY}: set mode = \"monotone\" to use it)"
        default = None  # the manifest's, where a service's cell is blank
        for pos in sloped:
            cell = services.frame["min_slope"].iloc[pos] if "min_slope" in services.frame else None
            if cell is not None and str(cell).strip().lower() not in ("", "nan", "none"):
                self.check.add(services.name, "a minimum slope the mode ignores", row=services.row(pos),
                               column="min_slope", expected=expected, found=cell)
            else:
                default = float(min_slope[pos])
        if default is not None:
            self.check.add(self.shown, "a minimum slope the mode ignores", column="[proportionality] min_slope",
                           expected=expected, found=default)

    def _numeric(self, areas: Table, population: np.ndarray):
        """callable(column, minimum=None): an areas column as numbers, checked once per column."""
        numeric_cache: dict[str, np.ndarray] = {"population": population}

        def numeric(column: str, minimum: float | None = None) -> np.ndarray:
            if column not in numeric_cache:
                numeric_cache[column] = self.check.number(areas, column, minimum=minimum)
            return numeric_cache[column]

        return numeric

    def _pace(self, baseline: np.ndarray | None) -> tuple[float, float] | None:
        """(max decrease, max increase) from [pace_of_change], which needs a baseline."""
        pace = None
        if "pace_of_change" in self.data:
            pace = (float(self.data["pace_of_change"]["max_decrease"]),
                    float(self.data["pace_of_change"]["max_increase"]))
            if baseline is None:
                self.check.add(self.shown, "[pace_of_change] needs a baseline table "
                               "([tables] baseline = \"baseline.csv\")")
        return pace

    def _money(self, tables: dict[str, Table], areas: Table, service_ids: tuple[str, ...]) -> dict:
        """Service groups, funding streams and partners, and the plan (`allocator.scenario.budget`)."""
        budget = float(self.data["budget"]["total_gbp"])
        groups = budget_spec.parse_groups(self.data.get("service_group"), self.shown, service_ids, self.check)
        plan_block = self.data.get("plan")
        plan = budget_spec.parse_plan(plan_block, self.shown, budget, service_ids, self.check)
        years = plan.years if plan is not None else 1
        streams = budget_spec.parse_streams(tables.get("streams"), tables.get("partners"), areas, service_ids,
                                            groups, years, self.check)
        if streams:
            name = tables["streams"].name
            totals = tuple(round(sum(f.amounts[t] for f in streams), 2) for t in range(years))
            if abs(totals[0] - budget) > 0.005:
                self.check.add(name, f"the streams hold {totals[0]:,.2f} GBP in the first year but [budget] "
                               f"total_gbp is {budget:,.2f}: with funding streams the budget is the sum of "
                               f"the streams; set total_gbp = {totals[0]:.2f}", column="amount_gbp")
            if plan is not None:
                if isinstance(plan_block, dict) and ("budgets_gbp" in plan_block or "budget_growth" in plan_block):
                    self.check.add(self.shown, "[plan] with funding streams each year's budget is the sum of its "
                                   "streams: drop budgets_gbp and budget_growth (give the streams' growth or "
                                   "year_<n> columns)")
                for t, total in enumerate(totals):
                    if total <= 0:
                        self.check.add(name, f"the streams hold nothing in year {t + 1} of the plan",
                                       column="amount_gbp", expected="a year's amounts > 0 in all",
                                       found="0")
                plan = dataclasses.replace(plan, budgets=totals)
        return dict(service_groups=groups, streams=streams, plan=plan)

    def _uncertain(self) -> tuple:
        """The [[uncertain]] blocks as ((parameter, Distribution), ...); problems are collected."""
        try:
            return tuple(uncertainty.blocks(self.data.get("uncertain"), self.shown).items())
        except ScenarioError as exc:
            self.check.problems.extend(exc.problems)
            return ()

    def _assemble(self, areas: Table, services: Table, values: dict, need_models: dict,
                  response_models: dict) -> Scenario:
        """The `Scenario`: the manifest's settings, the tables and ``values`` (its other fields)."""
        info = self.data["scenario"]
        return Scenario(
            name=info["name"], path=str(self.folder), description=info.get("description", ""),
            attribution=info.get("attribution", ""),
            budget_gbp=float(self.data["budget"]["total_gbp"]),
            budget_mode=self.data["budget"].get("mode", "exact"),
            objective=self.data["objective"]["name"],
            proportionality=self.data["proportionality"]["mode"],
            tolerance=float(self.data["proportionality"].get("tolerance", 0.0)),
            areas=areas.frame, services=services.frame,
            area_names=tuple(areas.frame["area_name"].str.strip()),
            service_names=tuple(services.frame["service_name"].str.strip()),
            need_models=tuple(need_models[n] for n in services.frame["need_model"].str.strip()),
            response_models=tuple(response_models[n] for n in services.frame["response_model"].str.strip()),
            inputs=tuple(self.inputs),
            epsilon=float(self.data["objective"].get("epsilon", 1.0)),
            sii_reduction=_optional(self.data["objective"].get("sii_reduction")),
            gap_reduction=_optional(self.data["objective"].get("gap_reduction")),
            worst_off_at_least=_optional(self.data["objective"].get("worst_off_at_least")),
            **values)

    def _check_uncertain(self, scenario: Scenario) -> None:
        """Every uncertain input must name a real parameter of ``scenario``."""
        for name, _ in scenario.uncertain:
            try:
                resolve(scenario, name, where=self.shown)
            except ScenarioError as exc:
                self.check.problems.extend(exc.problems)

    # -- files -------------------------------------------------------------------------
    def _tables(self) -> dict[str, Table]:
        spec = self.data["tables"]
        if "workbook" in spec:
            path = self.folder / spec["workbook"]
            self.inputs.append(str(path))
            before = len(self.check.problems)
            tables = read_workbook(path, str(path), self.check)
            for sheet in ("areas", "services"):
                if sheet not in tables and len(self.check.problems) == before:
                    self.check.add(str(path), f"missing sheet '{sheet}'")
            for sheet in ("baseline", "locked", "streams", "partners"):  # header only: not given
                if sheet in tables and tables[sheet].frame.empty:
                    del tables[sheet]
            return tables
        tables = {}
        for key in ("areas", "services", "baseline", "locked", "streams", "partners"):
            if key in spec:
                path = self.folder / spec[key]
                self.inputs.append(str(path))
                table = read_csv(path, str(path), self.check)
                if table is not None:
                    tables[key] = table
        return tables

    def _gradient(self, areas: Table) -> Gradient:
        g = self.data["gradient"]
        groups = tuple(map(str, g.get("group_columns", [])))
        for key, column in [("outcome", g["outcome"]), ("deprivation", g["deprivation"])] + [
                ("group_columns", c) for c in groups]:
            if column not in areas.frame.columns:
                self.check.add(areas.name, f"missing column '{column}' (named by [gradient] {key} "
                               f"in {self.shown})")
        quantiles = int(g.get("quantiles", max(2, min(10, len(areas.frame)))))  # default: deciles
        if quantiles > len(areas.frame):
            self.check.add(self.shown, f"[gradient] 'quantiles': expected a whole number from 2 to the "
                           f"number of areas ({len(areas.frame):,}), got {quantiles:,}")
        return Gradient(outcome=g["outcome"], outcome_label=g.get("outcome_label", g["outcome"]),
                        outcome_units=g["outcome_units"], higher_is_better=g["higher_is_better"],
                        deprivation=g["deprivation"], most_deprived=g["most_deprived"],
                        quantiles=quantiles, group_columns=groups)

    def _target_populations(self, areas: Table, services: Table, numeric) -> np.ndarray:
        columns = services.frame["target_population"].str.strip()
        target = np.zeros((len(areas.frame), len(columns)))
        for s, column in enumerate(columns):
            if column not in areas.frame.columns:
                self.check.add(services.name, "", row=services.row(s), column="target_population",
                               expected="a column of the areas table", found=column)
                continue
            target[:, s] = numeric(column, 0.0)
        return target

    def _models(self, services: Table, gradient: Gradient):
        folder = self.data["scenario"].get("models")
        bundled = bundled_root()
        if folder == BUNDLED and bundled is not None:
            models_dir = bundled / "models"
        elif folder is not None:
            models_dir = (self.folder / folder)
        else:  # the nearest models/ folder up the tree, else the bundled models
            models_dir = next((p / "models" for p in [self.folder, *self.folder.resolve().parents]
                               if (p / "models").is_dir()),
                              bundled / "models" if bundled is not None else self.folder / "models")
        shown_dir = str(models_dir)
        if not models_dir.is_dir():
            self.check.add(self.shown, f"models folder not found: {shown_dir}")
        need_models: dict[str, NeedModel] = {}
        response_models: dict[str, ResponseModel] = {}
        for column, loader, store, kind in [
                ("need_model", load_need_model, need_models, "need"),
                ("response_model", load_response_model, response_models, "response")]:
            names = services.frame[column].astype(str).str.strip().tolist()
            unknown: list[int] = []
            broken: set[str] = set()  # unreadable or invalid: already reported
            missing: set[str] = set()
            for pos, name in enumerate(names):
                if name in store or name in broken:
                    continue
                if name in missing:
                    unknown.append(pos)
                    continue
                model, before = None, len(self.check.problems)
                if name and "/" not in name and "\\" not in name and not name.startswith("."):
                    model = loader(models_dir, name, shown_dir, self.check.problems)
                if model is not None:
                    store[name] = model
                    self.inputs.append(model.path)
                elif len(self.check.problems) > before:
                    broken.add(name)
                else:
                    missing.add(name)
                    unknown.append(pos)
            self.check.cells(services, column, unknown, lambda pos, kind=kind, names=names: dict(
                message="unknown model", expected=f"a {kind} model in {shown_dir}/{kind}/",
                found=names[pos]))
        for name, model in response_models.items():
            if model.outcome_units != gradient.outcome_units:
                self.check.add(model.path, f"outcome_units '{model.outcome_units}' differ from the "
                               f"scenario's [gradient] outcome_units '{gradient.outcome_units}'")
        return need_models, response_models

    def _keys(self, areas: Table, column: str) -> list[str]:
        """Lookup keys of a column, computed once per column ('1', '1.0' -> '1')."""
        cache = self.__dict__.setdefault("_key_cache", {})
        if column not in cache:
            values, inverse = np.unique(areas.frame[column].astype(str).to_numpy(), return_inverse=True)
            keys = np.array([category_key(v) for v in values], dtype=object)
            cache[column] = keys[inverse.ravel()].tolist()
        return cache[column]

    def _need(self, areas: Table, services: Table, models: dict, target: np.ndarray,
              numeric) -> np.ndarray:
        need = np.ones_like(target)
        raw_by_model: dict[str, np.ndarray | None] = {}
        for s, name in enumerate(services.frame["need_model"].str.strip()):
            model = models.get(name)
            if model is None:
                continue
            if name not in raw_by_model:
                raw_by_model[name] = self._raw_need(areas, model, numeric)
            raw = raw_by_model[name]
            weight = target[:, s]
            if raw is not None and weight.sum() > 0:
                need[:, s] = raw / (np.dot(raw, weight) / weight.sum())
        return need

    def _raw_need(self, areas: Table, model: NeedModel, numeric) -> np.ndarray | None:
        """Raw need of every area under ``model``, or None after reporting why not."""
        missing = [c for c in model.columns if c not in areas.frame.columns]
        for column in missing:
            self.check.add(areas.name, f"missing column '{column}' (used by need model {model.path})")
        if missing:
            return None
        keys = {}
        if model.lookup is not None:
            column = model.lookup.column
            keys[column] = self._keys(areas, column)
            self._unlisted(areas, column, keys[column], model.lookup.weights, model.path)
            if any(k not in model.lookup.weights for k in keys[column]):
                return None
        inputs = {c: numeric(c) for c, _ in model.terms}
        with np.errstate(all="ignore"):
            raw = model.raw(inputs, keys, len(areas.frame))
        if not np.all(np.isfinite(raw)):
            if all(np.all(np.isfinite(v)) for v in inputs.values()):  # else the bad cells are reported
                pos = int(np.flatnonzero(~np.isfinite(raw))[0])
                self.check.add(model.path, f"need model '{model.name}' gives raw need {raw[pos]:g} for "
                               f"area '{areas.frame['area_id'].iloc[pos]}' (data row {areas.row(pos) - 1} "
                               f"of {areas.name}): need must be a finite number > 0 in every area")
            return None
        bad = np.flatnonzero(raw <= 0)
        for pos in bad[:3]:
            self.check.add(areas.name, f"need model '{model.name}' gives raw need {raw[pos]:g} for area "
                           f"'{areas.frame['area_id'].iloc[pos]}' (data row {areas.row(pos) - 1}); "
                           "need must be > 0 in every area")
        if bad.size > 3:
            self.check.add(areas.name, f"... and {bad.size - 3} more areas with need <= 0 "
                           f"under need model '{model.name}'")
        return None if bad.size else raw

    def _unlisted(self, areas: Table, column: str, keys: list[str], weights: dict, path: str) -> None:
        unlisted = sorted(set(keys) - set(weights))
        if unlisted:
            pos = keys.index(unlisted[0])
            self.check.add(areas.name, f"value not listed in {path}", row=areas.row(pos), column=column,
                           expected=f"one of {', '.join(sorted(weights))}", found=unlisted[0])

    def _modifiers(self, areas: Table, services: Table, models: dict) -> np.ndarray:
        modifier = np.ones((len(areas.frame), len(services.frame)))
        for s, name in enumerate(services.frame["response_model"].str.strip()):
            model = models.get(name)
            if model is None or model.modifier is None:
                continue
            column = model.modifier.column
            if column not in areas.frame.columns:
                self.check.add(areas.name, f"missing column '{column}' (used by response model "
                               f"{model.path})")
                continue
            keys = self._keys(areas, column)
            self._unlisted(areas, column, keys, model.modifier.weights, model.path)
            modifier[:, s] = [model.modifier.weights.get(k, np.nan) for k in keys]
        return modifier

    def _service_share(self, services: Table, unit_cost, floor, cost_index, target, baseline):
        if "budget_share" in services.frame.columns:
            share = self.check.number(services, "budget_share", minimum=0)
            basis = "budget_share"
        elif baseline is not None:
            share, basis = baseline.sum(axis=0), "baseline spend"
        else:
            share = (unit_cost * floor)[None, :] * cost_index * target
            share, basis = share.sum(axis=0), "the cost of the floors"
        total = np.nansum(share)
        if not np.all(np.isfinite(share)):
            return np.full(len(share), np.nan)
        if total <= 0:
            self.check.add(services.name, f"fair-share targets split the budget across services by "
                           f"{basis}, which is zero for every service: add a 'budget_share' column")
            return np.full(len(share), np.nan)
        return share / total


def _optional(value) -> float | None:
    return None if value is None else float(value)


