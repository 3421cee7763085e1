"""The services of the bundled scenarios: intensities, baselines and options.

Each service's *reference intensity* is what the national budget buys if its share is
spread uniformly over the target population; floors and caps are multiples of it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from allocator.build.assumptions import (
    BUDGET_GBP,
    CAP_MULTIPLE,
    OPTION_SLOPE_SHARE,
    PACE_MAX_DECREASE,
    PACE_MAX_INCREASE,
    PROPORTIONAL_PACE,
    PROPORTIONAL_TOLERANCE,
    QUICKSTART_SERVICES,
    SERVICES,
)
from allocator.build.writers import toml_value


def significant(value: float, digits: int = 4) -> float:
    """``value`` rounded to ``digits`` significant figures."""
    return float(f"{value:.{digits}g}")


def service_table(national: dict[str, int]) -> pd.DataFrame:
    """Services with their reference intensity, floor and cap (units per head)."""
    rows = []
    for service in SERVICES:
        people = national[service["target_population"]]
        reference = significant(service["budget_share"] * BUDGET_GBP
                                / (service["unit_cost_gbp"] * people))
        rows.append({**service, "reference_units_per_head": reference,
                     "floor_units_per_head": round(service["floor_fraction"] * reference, 9),
                     "cap_units_per_head": round(CAP_MULTIPLE * reference, 9)})
    return pd.DataFrame(rows)



def split_pennies(total_gbp: float, weights: pd.Series) -> pd.Series:
    """Split a sum in pounds by weights, to the penny, summing exactly (largest remainder)."""
    pennies = round(total_gbp * 100)
    exact = weights / weights.sum() * pennies
    whole = np.floor(exact).astype(np.int64)
    short = pennies - int(whole.sum())
    order = sorted(weights.index, key=lambda i: (-(exact[i] - whole[i]), i))
    whole[order[:short]] += 1
    return whole / 100


def baseline_table(areas: pd.DataFrame, services: pd.DataFrame, budgets: dict) -> pd.DataFrame:
    """``baseline.csv``: each service's budget split between areas by target population."""
    rows = []
    for service in services.itertuples():
        weights = areas.set_index("area_id")[service.target_population]
        spend = split_pennies(budgets[service.service_id], weights)
        rows.append(pd.DataFrame({"area_id": spend.index, "service_id": service.service_id,
                                  "spend_gbp": spend.values}))
    table = pd.concat(rows).sort_values(["area_id", "service_id"]).reset_index(drop=True)
    return table



def national_budgets(services: pd.DataFrame) -> dict[str, float]:
    """Last year's spend per service in the district scenario: the budget in the services' shares."""
    return {s.service_id: s.budget_share * BUDGET_GBP for s in services.itertuples()}


def quickstart_services(services: pd.DataFrame) -> pd.DataFrame:
    """The quickstart's three services, one per stage of the life course."""
    return services[services["service_id"].isin(QUICKSTART_SERVICES)]


def reference_budgets(services: pd.DataFrame, areas: pd.DataFrame) -> dict[str, float]:
    """Each service at its reference intensity in every area, to the penny."""
    budgets = {s.service_id: s.unit_cost_gbp * s.reference_units_per_head
               * areas[s.target_population].sum() for s in services.itertuples()}
    return {k: round(v, 2) for k, v in budgets.items()}


def national_option_blocks(services: pd.DataFrame) -> list[str]:
    """england-lsoa's options: each rule of issue 16 at national scale, from the command line
    (``allocator run scenarios/england-lsoa --option "Pace of change"``)."""
    slopes = ", ".join(f"{row.service_id} = {toml_value(round(row.floor_units_per_head * OPTION_SLOPE_SHARE, 6))}"
                       for row in services.itertuples())
    pace = (f"pace_of_change = {{ max_decrease = {toml_value(PACE_MAX_DECREASE)}, "
            f"max_increase = {toml_value(PACE_MAX_INCREASE)} }}")
    blocks = [("Health gain", [], "Maximise modelled health gain within the floors, caps and rules."),
              ("Pace of change", [pace],
               f"Health gain, each LSOA's total within -{PACE_MAX_DECREASE:.0%} / +{PACE_MAX_INCREASE:.0%} "
               "of last year's spend (the assumed baseline)."),
              ("Steeper need slope", [f"min_slope = {{ {slopes} }}"],
               f"Health gain, with intensity rising by at least {OPTION_SLOPE_SHARE:.0%} of the floor per "
               "unit of relative need."),
              ("Pace and steeper slope", [pace, f"min_slope = {{ {slopes} }}"],
               f"Health gain, each LSOA's total within -{PACE_MAX_DECREASE:.0%} / +{PACE_MAX_INCREASE:.0%} of "
               f"last year's spend and intensity rising by at least {OPTION_SLOPE_SHARE:.0%} of the floor per "
               "unit of relative need."),
              ("Proportional", ['proportionality = "proportional"'],
               "Health gain, intensity above the floor proportional to need (within the tolerance)."),
              ("Proportional with a pace", ['proportionality = "proportional"',
                                            f"tolerance = {toml_value(PROPORTIONAL_TOLERANCE)}",
                                            f"pace_of_change = {{ max_decrease = {toml_value(PROPORTIONAL_PACE[0])}, "
                                            f"max_increase = {toml_value(PROPORTIONAL_PACE[1])} }}"],
               f"Health gain, intensity above the floor within {PROPORTIONAL_TOLERANCE:.0%} of proportional to need, "
               f"each LSOA's total within -{PROPORTIONAL_PACE[0]:.0%} / +{PROPORTIONAL_PACE[1]:.0%} of last "
               "year's spend (narrower paces leave no proportional allocation: the baseline is split by target "
               "population)."),
              ("Maximin", ['objective = "maximin"'], "Raise the worst-off decile's outcome as far as it goes."),
              ("Level up", ['objective = "level-up"'],
               "Raise the most deprived deciles toward the least deprived (level up, never down).")]
    lines = []
    for name, settings, description in blocks:
        lines += ["[[option]]", f"name = {toml_value(name)}", *settings, f"description = {toml_value(description)}", ""]
    return lines


def option_blocks(services: pd.DataFrame) -> list[str]:
    """Three options a board would compare: health gain, pure fair share, a steeper need slope."""
    slopes = ", ".join(f"{row.service_id} = {toml_value(round(row.floor_units_per_head * OPTION_SLOPE_SHARE, 6))}"
                       for row in services.itertuples())
    return ["[[option]]", 'name = "Health gain"',
            'description = "Maximise modelled health gain within the floors, caps and rules."', "",
            "[[option]]", 'name = "Fair share"', 'objective = "fair-share"',
            'description = "Closest to need-weighted target shares (NHS distance from target)."', "",
            "[[option]]", 'name = "Health gain, steeper need slope"',
            f'description = "Health gain, with intensity rising by at least {OPTION_SLOPE_SHARE:.0%} of the '
            'floor per unit of relative need."',
            f"min_slope = {{ {slopes} }}", ""]

