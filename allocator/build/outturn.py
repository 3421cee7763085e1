"""A synthetic outturn of ``scenarios/england-la``: what ``allocator monitor`` is shown on.

**Synthetic**: nobody spent or observed these numbers.  `build` solves england-la (as ``allocator
run`` does), then writes, from its plan and one seeded ``numpy.random.default_rng``:

* ``outturn.csv`` (``area_id``, ``area_name``, ``service_id``, ``actual_gbp``): every line within
  ``NOISE`` of its plan, and the deviations a monitoring report is for: one district overspent on
  every service (``OVERSPENT``), one service underspent everywhere through vacancies
  (``UNDERSPENT``), the need ordering broken in one deprivation decile (``ORDERING``: money for one
  service moved from the neediest districts of the decile to its least needy ones, its total kept),
  and one district that has not reported (``LATE``);
* ``observed.csv`` (``area_id``, ``year``, ``observed``, ``standard_error``): the outcome in three
  later years: the baseline drifting by ``DRIFT`` a year, plus a growing share (``PROGRESS``) of the
  change the plan projects, plus noise of each district's standard error (``SE_AT_100K``, scaled by
  population); the late district is missing in the last year;
* a section of the scenario's README saying all of this (`readme_section`).

Run it alone with ``python -m allocator.build --only outturn`` (no shared data needed); the full
build runs it after writing england-la.  Deterministic: the same scenario gives the same bytes.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from allocator.analysis.pipeline import run
from allocator.build.checks import check
from allocator.model.equity import deprivation_groups
from allocator.scenario import load

SCENARIO = "england-la"
SEED = 2025
NOISE = 0.03  # each line within +-3% of its plan
OVERSPENT = ("E08000035", 0.12)  # Leeds: 12% over on every service
UNDERSPENT = ("school_nursing", 0.12)  # 12% under in every district: vacancies
ORDERING = (3, "drug_alcohol", 0.25)  # decile 3: a quarter of the neediest third's money to the least needy third
LATE = "E06000017"  # Rutland: not reported
YEARS = ("2025/26", "2026/27", "2027/28")
PROGRESS = (0.3, 0.6, 1.0)  # share of the projected change observed each year
DRIFT = -0.005  # the outcome's own trend a year, as a share of its baseline (YPLL falling: improving)
SE_AT_100K = 0.03  # standard error of a district of 100,000 people, as a share of its value
MARKER = "## Monitoring example (synthetic outturn)"


def actual_spend(scenario, spend: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """(A, S) synthetic actual spend: the plan with noise and the deliberate deviations (NaN: not reported)."""
    actual = spend * (1 + rng.uniform(-NOISE, NOISE, spend.shape))
    area, over = OVERSPENT
    actual[scenario.area_ids.index(area)] *= 1 + over
    service, under = UNDERSPENT
    actual[:, scenario.service_ids.index(service)] *= 1 - under
    decile, service, moved = ORDERING
    k = scenario.service_ids.index(service)
    members = np.flatnonzero(deprivation_groups(scenario) == decile)
    ranked = members[np.argsort(scenario.need[members, k], kind="stable")]  # least needy first
    third = max(1, ranked.size // 3)
    taken = actual[ranked[-third:], k] * moved
    actual[ranked[-third:], k] -= taken
    receivers = actual[ranked[:third], k]
    actual[ranked[:third], k] += taken.sum() * receivers / receivers.sum()
    actual[scenario.area_ids.index(LATE)] = np.nan
    return np.round(actual, 2)


def observed_outcomes(scenario, projected: np.ndarray, rng: np.random.Generator) -> pd.DataFrame:
    """Synthetic observed outcomes for `YEARS`, with standard errors."""
    frames = []
    base = scenario.outcome
    se = np.abs(base) * SE_AT_100K * np.sqrt(100_000 / scenario.population)
    for t, (year, progress) in enumerate(zip(YEARS, PROGRESS)):
        expected = base * (1 + DRIFT * (t + 1)) + progress * (projected - base)
        value = expected + rng.normal(0.0, se)
        keep = np.ones(scenario.n_areas, dtype=bool)
        if t == len(YEARS) - 1:
            keep[scenario.area_ids.index(LATE)] = False
        frames.append(pd.DataFrame({"area_id": np.array(scenario.area_ids)[keep], "year": year,
                                    "observed": np.round(value[keep], 3), "standard_error": np.round(se[keep], 3)}))
    return pd.concat(frames, ignore_index=True)


def readme_section(scenario) -> str:
    """The README's section on the synthetic outturn (names and numbers from the constants above)."""
    name = dict(zip(scenario.area_ids, scenario.area_names))
    service = dict(zip(scenario.service_ids, scenario.service_names))
    decile, ordered, moved = ORDERING
    return f"""{MARKER}

`outturn.csv` and `observed.csv` are **synthetic**: made up by `python -m allocator.build --only outturn`
(`allocator/build/outturn.py`, seed {SEED}) from the plan this scenario solves to, so that `allocator monitor`
has something to monitor. They are not what any council spent or observed.

- `outturn.csv`, actual spend by district and service (`area_id`, `area_name`, `service_id`, `actual_gbp`):
  every line within ±{NOISE:.0%} of its plan, except that {name[OVERSPENT[0]]} overspent by {OVERSPENT[1]:.0%}
  on every service; {service[UNDERSPENT[0]].lower()} is {UNDERSPENT[1]:.0%} underspent everywhere
  (vacancies); in deprivation decile {decile}, {moved:.0%} of the {service[ordered].lower()} money of the
  neediest third of the districts went to the least needy third, breaking the need ordering; and
  {name[LATE]} has not reported (late): its lines are missing, which is not the same as zero.
- `observed.csv`, the outcome observed in {', '.join(YEARS)} (`area_id`, `year`, `observed`,
  `standard_error`): the baseline falling {-DRIFT:.1%} a year, plus {', '.join(f'{p:.0%}' for p in PROGRESS)}
  of the change the plan projects, plus noise of each district's standard error ({SE_AT_100K:.0%} of
  the value for 100,000 people); {name[LATE]} is missing in {YEARS[-1]}.

```sh
allocator monitor scenarios/{SCENARIO} --actual scenarios/{SCENARIO}/outturn.csv \\
    --actual scenarios/{SCENARIO}/observed.csv
```
"""


def with_section(readme: str, section: str) -> str:
    """``readme`` with its synthetic-outturn section replaced by (or, when it has none, ending with) ``section``.

    >>> once = with_section("# T\\n\\n## A\\nx\\n", "## Monitoring example (synthetic outturn)\\ny\\n")
    >>> once
    '# T\\n\\n## A\\nx\\n\\n## Monitoring example (synthetic outturn)\\ny\\n'
    >>> with_section(once + "## B\\n", "## Monitoring example (synthetic outturn)\\nz\\n")
    '# T\\n\\n## A\\nx\\n\\n## Monitoring example (synthetic outturn)\\nz\\n\\n## B\\n'
    """
    start = readme.find(MARKER)
    if start < 0:
        return readme.rstrip("\n") + "\n\n" + section
    end = readme.find("\n## ", start + len(MARKER))
    rest = readme[end + 1:] if end >= 0 else ""
    return readme[:start] + section + ("\n" + rest if rest else "")


def build(root: Path) -> list[Path]:
    """Write ``outturn.csv``, ``observed.csv`` and the README section into ``root/scenarios/england-la``."""
    folder = Path(root) / "scenarios" / SCENARIO
    scenario = load(folder)
    result = run(scenario)
    rng = np.random.default_rng(SEED)
    actual = actual_spend(scenario, result.allocation.spend, rng)
    a, k = np.nonzero(np.isfinite(actual))
    spend = pd.DataFrame({"area_id": np.array(scenario.area_ids)[a], "area_name": np.array(scenario.area_names)[a],
                          "service_id": np.array(scenario.service_ids)[k],
                          "actual_gbp": [f"{v:.2f}" for v in actual[a, k]]})
    observed = observed_outcomes(scenario, result.outcomes.projected, rng)
    check(len(spend) == (scenario.n_areas - 1) * scenario.n_services, "the synthetic outturn misses more than one area")
    paths = [folder / "outturn.csv", folder / "observed.csv", folder / "README.md"]
    spend.to_csv(paths[0], index=False, lineterminator="\n")
    observed.to_csv(paths[1], index=False, lineterminator="\n", float_format="%.3f")
    readme = paths[2].read_text(encoding="utf-8") if paths[2].exists() else f"# {scenario.name}\n"
    paths[2].write_text(with_section(readme, readme_section(scenario)), encoding="utf-8", newline="\n")
    return paths
