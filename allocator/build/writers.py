"""Writing the bundled files: TOML models and manifests, CSV tables, text.

Deterministic: floats are written in fixed formats and lines end in LF, so a
rerun on the same data is byte-identical.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from allocator.build.assumptions import (
    ATTRIBUTION,
    PACE_MAX_DECREASE,
    PACE_MAX_INCREASE,
)
from allocator.build.sources import CIDR, YPLL

#: First line of every TOML file the build writes (the name of the original script is
#: kept so that the bundled files stay byte-identical).
GENERATED = "# Written by python -m allocator.build from the shared data: do not edit by hand."

#: Decimals of the float columns of ``areas.csv``.
AREA_DECIMALS = {"income_deprivation_rate": 6, "child_income_deprivation_rate": 6,
                 "older_income_deprivation_rate": 6, YPLL: 3, CIDR: 3,
                 "nhs_need_index": 6, "imd_score": 3, "life_expectancy_years": 4,
                 "le_gap_years": 4}


def toml_value(value) -> str:
    """A Python value as TOML: ints >= 100,000 with underscores, floats by repr, inline tables."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return f"{value:_}" if abs(value) >= 100_000 else str(value)
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{json.dumps(k)} = {toml_value(v)}"
                                for k, v in value.items()) + " }"
    raise TypeError(f"cannot write {value!r} as TOML")


def toml_header(model: dict) -> list[str]:
    """The name, title, description, source and assumptions lines of a model file."""
    lines = [f"name = {toml_value(model['name'])}",
             f"title = {toml_value(model['title'])}",
             f"description = {toml_value(model['description'])}",
             f"source = {toml_value(model['source'])}",
             "assumptions = ["]
    lines += [f"    {toml_value(a)}," for a in model["assumptions"]]
    return lines + ["]"]


def write_need_model(model: dict, folder: Path) -> None:
    """Write ``folder/<name>.toml``: a need model (`allocator.build.models.need_models`)."""
    lines = [GENERATED,
             *toml_header(model), "", "[formula]", "constant = 0.0", "terms = ["]
    lines += [f"    {{ column = {toml_value(c)}, weight = {toml_value(w)} }},"
              for c, w in model["terms"]]
    lines.append("]")
    write_text(folder / f"{model['name']}.toml", "\n".join(lines) + "\n")


def write_response_model(model: dict, folder: Path) -> None:
    """Write ``folder/<name>.toml``: a response model (`allocator.build.models.response_models`)."""
    lines = [GENERATED,
             *toml_header(model),
             f"outcome_units = {toml_value(model['outcome_units'])}", "",
             "[curve]",
             f"units_per_head = {toml_value(model['units'])}",
             f"gain_per_head = {toml_value(model['gains'])}", "",
             "[modifier]",
             'column = "imd_quintile"',
             f"values = {toml_value(model['modifier'])}", "",
             "[uncertainty]",
             "scale = { " + ", ".join(f"{k} = {toml_value(v)}"
                                      for k, v in model["uncertainty"].items()) + " }"]
    write_text(folder / f"{model['name']}.toml", "\n".join(lines) + "\n")


def write_csv(frame: pd.DataFrame, path: Path, decimals: dict[str, int]) -> None:
    """CSV with fixed decimals per float column, blank for missing, LF line ends."""
    out = frame.copy()
    for column, places in decimals.items():
        if column not in out:
            continue
        out[column] = [("" if pd.isna(v) else f"{v:.{places}f}") for v in out[column]]
    path.parent.mkdir(parents=True, exist_ok=True)
    out.to_csv(path, index=False, lineterminator="\n")


def write_text(path: Path, text: str) -> None:
    """Write UTF-8 text with LF line ends, creating the folder."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8", newline="\n")



def write_services(services: pd.DataFrame, path: Path, response_outcome: str) -> None:
    """Write ``services.csv``; the response models are ``york-<response_outcome>-<service>``."""
    table = services.assign(
        response_model=[f"york-{response_outcome}-{s.replace('_', '-')}"
                        for s in services["service_id"]])
    columns = ["service_id", "service_name", "unit_cost_gbp", "target_population",
               "floor_units_per_head", "cap_units_per_head", "need_model",
               "response_model", "life_course_stage"]
    write_csv(table[columns], path, {"unit_cost_gbp": 2, "floor_units_per_head": 6,
                                     "cap_units_per_head": 6})


def scenario_toml(name: str, description: str, attribution: list[str] | str, budget: float,
                  gradient: dict, baseline: bool, pace: bool | tuple[float, float] | None,
                  options: list[str] | None = None, *, models: str = "../../models",
                  header: str = GENERATED, tables: tuple[tuple[str, str], ...] = (),
                  disaggregation: dict[str, dict[str, str]] | None = None) -> str:
    """A ``scenario.toml``: a bundled scenario's (models in ``../../models``) or, with ``models`` and
    ``header``, one written by `allocator new`. ``attribution`` is keys of ATTRIBUTION or the text;
    ``pace`` True for the bundled limits, or (max_decrease, max_increase); ``disaggregation``: the
    population groups, ``{dimension: {group: areas column}}``."""
    credit = attribution if isinstance(attribution, str) else " ".join(ATTRIBUTION[a] for a in attribution)
    lines = [header,
             "[scenario]", f"name = {toml_value(name)}",
             f"description = {toml_value(description)}",
             f"attribution = {toml_value(credit)}",
             f"models = {toml_value(models)}", "",
             "[budget]", f"total_gbp = {toml_value(int(round(budget)))}", 'mode = "exact"', "",
             "[objective]", 'name = "health-gain"', "",
             "[proportionality]", 'mode = "monotone"', "min_slope = 0.0", ""]
    if pace:
        down, up = (PACE_MAX_DECREASE, PACE_MAX_INCREASE) if pace is True else pace
        lines += ["[pace_of_change]", f"max_decrease = {toml_value(float(down))}",
                  f"max_increase = {toml_value(float(up))}", ""]
    lines += ["[gradient]"] + [f"{k} = {toml_value(v)}" for k, v in gradient.items()]
    if disaggregation:
        lines += ["", "[disaggregation]"] + [f"{json.dumps(k)} = {toml_value(v)}" for k, v in disaggregation.items()]
    lines += ["", "[tables]", 'areas = "areas.csv"', 'services = "services.csv"']
    if baseline:
        lines.append('baseline = "baseline.csv"')
    lines += [f"{key} = {toml_value(value)}" for key, value in tables]
    if options:
        lines += [""] + list(options)
    return "\n".join(lines).rstrip("\n") + "\n"
