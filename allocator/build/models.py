"""The evidence models: need formulas on IMD/NHS columns, and York-calibrated response curves.

Both are returned as plain dicts that `allocator.build.writers` writes as TOML in the
formats of ``docs/scenario-format.md`` and `allocator.build.readmes` documents.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from allocator.build.assumptions import (
    ATTRIBUTION,
    CCG_SPEND_PER_HEAD_GBP,
    CURVE_BREAKS,
    CURVE_SLOPES,
    LIFE_TABLE_ENTROPY,
    LIFE_TABLE_ENTROPY_RANGE,
    SUPPRESSED_COUNT_MAX,
    YORK_MAIN_COMMIT,
)
from allocator.build.checks import check
from allocator.build.services import significant
from allocator.build.sources import CIDR, YPLL


def need_models(means: dict[str, float]) -> list[dict]:
    imd_source = ("English Indices of Deprivation 2019 (MHCLG), File 8 underlying "
                  "indicators and File 6 population denominators. " + ATTRIBUTION["imd"])
    suppression = (f"Suppressed (blank) numerators are small counts: published counts are "
                   f"multiples of 5 and none is below 10. Imputed: see models/README.md; "
                   f"capped at {SUPPRESSED_COUNT_MAX} people.")
    return [
        dict(name="imd-income", title="Income deprivation, all ages (IMD 2019)",
             description="Need per head proportional to the share of people who are "
                         "income deprived (IoD 2019 income domain numerator / mid-2015 "
                         "population).",
             source=imd_source,
             assumptions=["Need per head is proportional to the income deprivation rate; "
                          "no universal component beyond the service floor.",
                          suppression,
                          "District rates are the sum of LSOA numerators over the sum of "
                          "LSOA populations."],
             terms=[("income_deprivation_rate", 1.0)]),
        dict(name="imd-income-children", title="Income deprivation affecting children (IDACI 2019)",
             description="Need per child proportional to the share of children aged 0-15 "
                         "living in income-deprived families (IDACI numerator / population "
                         "aged 0-15).",
             source=imd_source,
             assumptions=["Need per child is proportional to the IDACI rate.", suppression,
                          "Children 0-15 stand in for both 0-4 (health visiting) and 5-19 "
                          "(school nursing)."],
             terms=[("child_income_deprivation_rate", 1.0)]),
        dict(name="imd-income-older", title="Income deprivation affecting older people (IDAOPI 2019)",
             description="Need per older person proportional to the share of people aged "
                         "60 and over who are income deprived (IDAOPI numerator / "
                         "population aged 60+).",
             source=imd_source,
             assumptions=["Need per older person is proportional to the IDAOPI rate.",
                          suppression],
             terms=[("older_income_deprivation_rate", 1.0)]),
        dict(name="imd-health", title="Premature mortality and illness (IMD 2019 health indicators)",
             description="Need per head from the IoD 2019 health outcomes: half years of "
                         "potential life lost (premature mortality), half the comparative "
                         "illness and disability ratio, each divided by its national "
                         "population-weighted mean.",
             source=imd_source,
             assumptions=[f"Equal weights after scaling each indicator to a national mean "
                          f"of 1 (national LSOA means, population-weighted: YPLL "
                          f"{means[YPLL]:.3f}, CIDR {means[CIDR]:.3f}).",
                          "District values are population-weighted means of LSOA "
                          "indicators (the indicators are standardised rates, so this "
                          "is an approximation).",
                          "YPLL is also the outcome of the LSOA scenario: a service using "
                          "this model targets the outcome it is judged on."],
             terms=[(YPLL, round(0.5 / means[YPLL], 8)), (CIDR, round(0.5 / means[CIDR], 8))]),
        dict(name="nhs-weighted", title="NHS England weighted population index (2024/25)",
             description="Need per head = NHS England 'Final WP' (overall core weighted "
                         "population) / registered population, summed over the GP "
                         "practices of each lower-tier authority of 2021.",
             source="NHS England revenue allocations 2023/24 to 2024/25, weighted "
                    "populations by GP practice. " + ATTRIBUTION["nhs"],
             assumptions=["Practices are assigned to districts by the NHS file's LAD21 code "
                          "(where the practice is, not where its patients live).",
                          "2019 districts abolished by 2021 take their successor's index: "
                          "Aylesbury Vale, Chiltern, South Bucks and Wycombe -> "
                          "Buckinghamshire; Corby, East Northamptonshire, Kettering and "
                          "Wellingborough -> North Northamptonshire; Daventry, Northampton "
                          "and South Northamptonshire -> West Northamptonshire.",
                          "Every LSOA takes its district's index: there is no within-district "
                          "variation.",
                          "The index reflects NHS need (age, morbidity, unmet need), not "
                          "public-health need specifically."],
             terms=[("nhs_need_index", 1.0)]),
    ]



def current_need_models(means: dict[str, float]) -> list[dict]:
    """The need models on IoD2025 and 2021 LSOAs (columns of `allocator.build.national`), for
    scenarios built for a place by `allocator new`."""
    source = ("English Indices of Deprivation 2025 (MHCLG), domain scores and underlying "
              "indicators; Census 2021 and mid-2020 population estimates. " + ATTRIBUTION["imd2025"]
              + " " + ATTRIBUTION["census"])
    suppression = (f"Suppressed (blank) numerators are small counts, imputed as for IoD2019 "
                   f"(models/README.md) and capped at {SUPPRESSED_COUNT_MAX} people.")
    rate_note = ("Rates of an aggregate (a ward, a district) are its numerator over its population, "
                 "clipped to at most 1 (IoD2025 counts people on its own denominators).")
    ypll, cidr = means[YPLL], means[CIDR]
    return [
        dict(name="imd2025-income", title="Income deprivation, all ages (IoD2025)",
             description="Need per head proportional to the IoD2025 income domain score: the share "
                         "of people who are income deprived.",
             source=source, assumptions=["Need per head is proportional to the income deprivation "
                                         "rate; no universal component beyond the service floor.",
                                         "Aggregates take the population-weighted mean of their "
                                         "LSOAs' scores."],
             terms=[("income_deprivation_rate", 1.0)]),
        dict(name="imd2025-income-children", title="Income deprivation affecting children (IDACI, IoD2025)",
             description="Need per child proportional to the share of children aged 0-15 living in "
                         "income-deprived families (IDACI numerator / Census-scaled children 0-15).",
             source=source, assumptions=["Need per child is proportional to the IDACI rate.",
                                         suppression, rate_note,
                                         "Children 0-15 stand in for both 0-4 (health visiting) "
                                         "and 5-19 (school nursing)."],
             terms=[("child_income_deprivation_rate", 1.0)]),
        dict(name="imd2025-income-older", title="Income deprivation affecting older people (IDAOPI, IoD2025)",
             description="Need per older person proportional to the share of people aged 60 and over "
                         "who are income deprived (IDAOPI numerator / Census-scaled people 60+).",
             source=source, assumptions=["Need per older person is proportional to the IDAOPI rate.",
                                         suppression, rate_note],
             terms=[("older_income_deprivation_rate", 1.0)]),
        dict(name="imd2025-health", title="Premature mortality and illness (IoD2025 health indicators)",
             description="Need per head from the IoD2025 health outcomes: half years of potential life "
                         "lost (premature mortality), half the comparative illness and disability "
                         "ratio, each divided by its national population-weighted mean.",
             source=source,
             assumptions=[f"Equal weights after scaling each indicator to a national mean of 1 "
                          f"(2021 LSOAs weighted by Census 2021 residents: YPLL {ypll:.3f}, CIDR "
                          f"{cidr:.3f}).",
                          "Aggregates take the population-weighted mean of their LSOAs' indicators "
                          "(standardised rates, so this is an approximation)."],
             terms=[(YPLL, round(0.5 / ypll, 8)), (CIDR, round(0.5 / cidr, 8))]),
    ]


def scale_uncertainty(york: dict, uses_entropy: bool, group: str) -> tuple[dict, str]:
    """Effect-size uncertainty of a York curve: ``[uncertainty] scale`` and its explanation.

    The curve's scale is proportional to the population-weighted mean York
    elasticity, and, for life expectancy, to the life-table entropy H. Triangular,
    mode 1 (the curve as built); the ends combine the range of H (where the curve
    uses it) with the move from the dev to the main branch's mean elasticity:
    low = (H_low / H) * min(1, ratio), high = (H_high / H) * max(1, ratio),
    ratio = main / dev, rounded to 4 decimals.
    """
    ratio = york["main_over_dev"]
    h_low, h_high = LIFE_TABLE_ENTROPY_RANGE
    f_low, f_high = ((h_low / LIFE_TABLE_ENTROPY, h_high / LIFE_TABLE_ENTROPY) if uses_entropy
                     else (1.0, 1.0))
    low, high = round(f_low * min(1.0, ratio), 4), round(f_high * max(1.0, ratio), 4)
    check(low < 1.0 <= high or low <= 1.0 < high, "effect-size range does not straddle 1")
    table = {"distribution": "triangular", "low": low, "mode": 1.0, "high": high, "draw_group": group}
    elasticity = (f"Elasticity: the calculator's main branch (commit {YORK_MAIN_COMMIT}) gives "
                  f"a population-weighted mean of {york['main_mean_elasticity']:.6f} against "
                  f"dev's {york['mean_elasticity']:.6f} (same 2019 CCG quintile weights), ratio "
                  f"main/dev = {ratio:.4f}: the only evidence in the shared data of how far the "
                  f"estimate moves")
    if uses_entropy:
        scale = (f"The curve's scale is proportional to H x the mean elasticity. H = "
                 f"{LIFE_TABLE_ENTROPY:g} is a central value in a range of order "
                 f"{h_low:g}-{h_high:g}. {elasticity}. Ends: low = ({h_low:g} / "
                 f"{LIFE_TABLE_ENTROPY:g}) x min(1, {ratio:.4f}) = {low:.4f}, high = "
                 f"({h_high:g} / {LIFE_TABLE_ENTROPY:g}) x max(1, {ratio:.4f}) = {high:.4f}")
    else:
        scale = (f"The curve's scale is proportional to the mean elasticity; the life-table "
                 f"entropy H does not enter it (the YPLL scale above does not use H). "
                 f"{elasticity}. Ends: low = min(1, {ratio:.4f}) = {low:.4f}, high = "
                 f"max(1, {ratio:.4f}) = {high:.4f} (one-sided: the only other estimate "
                 f"is lower)")
    text = (f"Effect-size uncertainty ([uncertainty] scale = triangular, low {low:.4f}, mode 1, "
            f"high {high:.4f}; a Monte Carlo draw multiplies every gain of the curve). "
            f"{scale}; mode 1 = the curve as built (dev elasticities"
            + (f", H = {LIFE_TABLE_ENTROPY:g}" if uses_entropy else "") + "). "
            "Left out, so the true uncertainty is wider: the elasticities' sampling error "
            "(not in the shared data), the spend per head, the transfer from NHS to public "
            "health spend and the curve's shape. The quintile modifier is not made uncertain: "
            "it keeps the dev elasticities (main's would give "
            + ", ".join(f"{v:.4f}" for v in york["main_modifier"])
            + " for quintiles 1-5). The same factor applies to every York curve of this "
            f"outcome, so all of them share draw_group \"{group}\": a Monte Carlo draw moves "
            "them together (the same quantile of each), as one source of uncertainty.")
    return table, text



def gain_at(units: list[float], gains: list[float], intensity: float) -> float:
    """The gain of a piecewise-linear curve at ``intensity``."""
    return float(np.interp(intensity, units, gains))


def response_outcomes(york: dict, england_le: float, ypll_mean: float,
                      ypll2025_mean: float | None = None) -> dict[str, dict]:
    """The two outcomes of the response curves and the York gain of £1 a head in each.

    The York marginal gain of £1 per head a year, in outcome units, at the
    reference intensity r: one 1% spend increase (CCG_SPEND_PER_HEAD_GBP / 100)
    cuts mortality by the mean elasticity (a fraction); that is
    H * e0 * elasticity years of life expectancy, or elasticity * mean YPLL
    points of YPLL.
    """
    one_percent = CCG_SPEND_PER_HEAD_GBP / 100
    epsilon = york["mean_elasticity"]
    h_low, h_high = LIFE_TABLE_ENTROPY_RANGE
    return {
        "le": dict(units="years", per_gbp=LIFE_TABLE_ENTROPY * england_le * epsilon / one_percent,
                   label="life expectancy at birth", uses_entropy=True,
                   scale=f"a proportional fall m in mortality at all ages raises life "
                         f"expectancy by H * e0 * m, with H = {LIFE_TABLE_ENTROPY} (England "
                         f"life-table entropy, order {h_low:g}-{h_high:g}) and e0 = "
                         f"{england_le:.2f} years (England persons, LE_data)"),
        "ypll": dict(units="YPLL indicator points",
                     per_gbp=ypll_mean * epsilon / one_percent,
                     label="the IoD 2019 years of potential life lost indicator (a fall "
                           "counts as a gain)", uses_entropy=False,
                     scale=f"a proportional fall m in mortality under 75 cuts the YPLL "
                           f"indicator by the same proportion, from the national mean "
                           f"{ypll_mean:.3f} (LSOAs, population-weighted)"),
        **({} if ypll2025_mean is None else {"ypll2025": dict(
            units="YPLL indicator points (IoD2025)", per_gbp=ypll2025_mean * epsilon / one_percent,
            label="the IoD 2025 years of potential life lost indicator (a fall counts as a gain)",
            uses_entropy=False,
            scale=f"a proportional fall m in mortality under 75 cuts the IoD2025 YPLL indicator by "
                  f"the same proportion, from the national mean {ypll2025_mean:.3f} (2021 LSOAs, "
                  f"weighted by Census 2021 residents)")}),
    }


def concave_curve(reference: float, slope: float) -> tuple[list[float], list[float]]:
    """Knots (units per head) and gains of a curve with ``slope`` at ``reference``.

    The knots are CURVE_BREAKS times the reference intensity; the slopes between
    them CURVE_SLOPES times ``slope``; gains rounded to 6 significant figures.
    """
    units = [round(b * reference, 9) for b in CURVE_BREAKS]
    gains = [0.0]
    for k, multiple in enumerate(CURVE_SLOPES):
        gains.append(gains[-1] + multiple * slope * (units[k + 1] - units[k]))
    return units, [significant(g, 6) for g in gains]


def _response_source(outcome: str) -> str:
    return ("Mortality elasticity to NHS spend by national IMD quintile, "
            "University of York unmet-need calculator (dev branch). "
            + ATTRIBUTION["york"]
            + f" Effect-size uncertainty: also its main branch, commit "
              f"{YORK_MAIN_COMMIT}."
            + (" England persons life expectancy: " + ATTRIBUTION["le"]
               if outcome == "le" else
               " YPLL national mean: " + ATTRIBUTION["imd2025" if outcome == "ypll2025" else "imd"]))


def _curve_assumption(service, spec: dict, units: list[float], gains: list[float]) -> str:
    """The diminishing-returns assumption, with the gains at the floor, reference and cap."""
    at_reference = gains[CURVE_BREAKS.index(1.0)]
    at_floor = gain_at(units, gains, service.floor_units_per_head)
    return (f"Diminishing returns: slopes {', '.join(f'{s:g}' for s in CURVE_SLOPES)} "
            f"times the York marginal gain on intensities "
            f"{', '.join(f'{b:g}' for b in CURVE_BREAKS)} times reference; flat "
            f"beyond {CURVE_BREAKS[-1]:g} x reference (the scenarios' cap). At the "
            f"scenarios' floor ({service.floor_fraction:g} x reference, "
            f"{service.floor_units_per_head:g} units per head) the gain is "
            f"{at_floor:.6g} {spec['units']} per "
            f"head, {at_floor / at_reference:.0%} of "
            f"the gain at reference ({at_reference:g}); at the cap "
            f"{gains[-1]:g}, {gains[-1] / at_reference:.0%} of it.")


def _response_assumptions(service, spec: dict, epsilon: float, units: list[float],
                          gains: list[float], uncertainty_text: str) -> list[str]:
    r = service.reference_units_per_head
    return [
        f"Public health spend is assumed to buy health like marginal NHS spend: "
        f"a 1% spend increase is 1% of about £{CCG_SPEND_PER_HEAD_GBP:,} a head "
        f"(CCG allocations, order of magnitude) and cuts mortality by the "
        f"population-weighted mean York elasticity {epsilon:.6f} (a fraction). "
        f"Studies of the public health grant suggest it is if anything more "
        f"productive, so gains are likely conservative.",
        f"Scale: {spec['scale']}. So £1 per head a year gives "
        f"{spec['per_gbp']:.6g} {spec['units']} at the reference intensity.",
        f"Calibrated for a unit cost of £{service.unit_cost_gbp:,} and a reference "
        f"intensity of {r:g} units per head (the national budget spread "
        f"uniformly, this service's share {service.budget_share:.0%}); rebuild if "
        f"either changes.",
        _curve_assumption(service, spec, units, gains),
        "All eight services are assumed equally productive per £ at the "
        "reference intensity: the shared data hold no service-specific "
        "effect sizes.",
        "Effectiveness by deprivation (modifier) = York elasticity of the "
        "area's national IMD quintile / population-weighted mean elasticity "
        "(national quintile populations of the 2019 CCG file). The York "
        "mortality rate is NOT in the modifier: the level of need is carried "
        "by the need model, and putting it here too would count it twice.",
        uncertainty_text,
    ]


def response_model(service, outcome: str, spec: dict, york: dict, modifier: dict,
                   uncertainty: tuple[dict, str]) -> dict:
    """One service's curve for one outcome (a row of `response_models`).

    Per unit per head of the target population, the marginal gain at the
    reference intensity is the outcome's gain of £1 a head times the unit cost.
    """
    r = service.reference_units_per_head
    units, gains = concave_curve(r, spec["per_gbp"] * service.unit_cost_gbp)
    table, text = uncertainty
    return dict(
        name=f"york-{outcome}-{service.service_id.replace('_', '-')}",
        service_id=service.service_id,
        title=f"{service.service_name}: {spec['label']}, York elasticities",
        description=(f"Gain per head of the target population ({service.target_population}) "
                     f"against units of service per head a year (a unit: "
                     f"{service.unit}), calibrated so that at the "
                     f"reference intensity ({r:g} units per head) £1 a head buys what "
                     f"£1 a head of NHS spend buys in the York estimates; returns "
                     f"diminish either side. Outcome: {spec['label']}."),
        source=_response_source(outcome),
        assumptions=_response_assumptions(service, spec, york["mean_elasticity"], units, gains,
                                          text),
        outcome_units=spec["units"], units=units, gains=gains, modifier=modifier,
        uncertainty=table)


def current_response_models(services: pd.DataFrame, york: dict, ypll2025_mean: float) -> list[dict]:
    """The York curves for the IoD2025 YPLL outcome (``york-ypll2025-*``), calibrated at the
    reference intensities of ``services`` on 2021 populations (`allocator.build.new.current_services`)."""
    spec = response_outcomes(york, 0.0, 0.0, ypll2025_mean)["ypll2025"]
    modifier = {str(q + 1): round(float(v), 4) for q, v in enumerate(york["modifier"])}
    uncertainty = scale_uncertainty(york, spec["uses_entropy"], "york-ypll2025-effect-size")
    return [response_model(service, "ypll2025", spec, york, modifier, uncertainty)
            for service in services.itertuples()]


def response_models(services: pd.DataFrame, york: dict, england_le: float,
                    ypll_mean: float) -> list[dict]:
    """Per-service concave curves calibrated to the York elasticity, two outcomes.

    Life expectancy (``york-le-*``) first, then YPLL (``york-ypll-*``), each in the
    order of ``services``; all share the York quintile modifier.
    """
    modifier = {str(q + 1): round(float(v), 4) for q, v in enumerate(york["modifier"])}
    models = []
    for outcome, spec in response_outcomes(york, england_le, ypll_mean).items():
        uncertainty = scale_uncertainty(york, spec["uses_entropy"], f"york-{outcome}-effect-size")
        models += [response_model(service, outcome, spec, york, modifier, uncertainty)
                   for service in services.itertuples()]
    return models
