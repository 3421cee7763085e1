"""Every number in the bundled scenarios that is an assumption rather than data.

Each constant is repeated, with its reason, in the README written next to the
files that use it (`allocator.build.readmes`). Also here: facts about boundary
changes that the build checks against the data (`allocator.build.sources`), and
the attribution of every source.
"""

from __future__ import annotations

# ---------------------------------------------------------------------------
# Assumptions
# ---------------------------------------------------------------------------

#: National budget: the 2024/25 England public health grant was about £3.6bn.
BUDGET_GBP = 3_600_000_000

#: Quickstart budget: a round number a little above last year's spend there.
QUICKSTART_BUDGET_GBP = 100_000_000

#: England-LA pace of change: each district's total within -5% / +15% of baseline.
PACE_MAX_DECREASE = 0.05
PACE_MAX_INCREASE = 0.15

#: Suppressed IoD numerators. Published counts are multiples of 5 and none is
#: below 10, so a blank is a small count; assuming rounding to the nearest 5,
#: the true count is below 7.5, and an imputed count is capped there.
SUPPRESSED_COUNT_MAX = 7.5

#: York: a 1% change in spend is 1% of CCG allocations per head. CCG allocations
#: in 2019/20 were of the order of £80bn for 56m people: about £1,400 a head.
CCG_SPEND_PER_HEAD_GBP = 1_400

#: Life-table entropy (Keyfitz H) for England: a proportional fall m in
#: mortality at all ages raises life expectancy by about H * e0 * m.
LIFE_TABLE_ENTROPY = 0.15
#: Its plausible range ("of order 0.13-0.16"): the ends of the H part of the
#: effect-size uncertainty of the life-expectancy curves.
LIFE_TABLE_ENTROPY_RANGE = (0.13, 0.16)

#: The York calculator's other branch (commit in york_unmet_need/SOURCE.md): its
#: elasticities, against dev's, measure how far the estimate has moved. Used only
#: for the effect-size uncertainty written into every response model.
YORK_MAIN_COMMIT = "ed3a040f"

#: Shape of every response curve, in multiples of the service's reference
#: intensity r (what the national budget buys at a uniform intensity).
#: The York marginal gain applies at r (mean of the slopes either side of it);
#: returns diminish: steeper below r, flatter above, flat beyond the cap.
CURVE_BREAKS = (0.0, 0.5, 1.0, 2.0, 3.0)
CURVE_SLOPES = (1.6, 1.2, 0.8, 0.4)
CAP_MULTIPLE = 3.0

#: The eight services. ``budget_share``: rough share of the grant by line,
#: after English local authority revenue outturn (RO) public health lines,
#: rounded and rescaled so that the eight services use the whole grant.
#: ``unit_cost_gbp``: order of magnitude, PSSRU Unit Costs of Health and Social
#: Care (2023) and the NHS/tariff sources named in ``cost_note``.
#: ``floor_fraction``: universal floor as a share of the reference intensity.
SERVICES = [
    dict(service_id="health_visiting",
         service_name="Health visiting and family support (0-5 Healthy Child Programme)",
         life_course_stage="early years", target_population="pop_0_15",
         unit="one health visitor or family support contact", unit_cost_gbp=100,
         cost_note="community nurse (Agenda for Change band 6) cost per hour of "
                   "patient-related work, PSSRU, of the order of £100",
         budget_share=0.30, floor_fraction=0.6, need_model="imd-income-children"),
    dict(service_id="school_nursing",
         service_name="School nursing and young people's mental health support",
         life_course_stage="school age", target_population="pop_0_15",
         unit="one school nurse or wellbeing practitioner contact", unit_cost_gbp=80,
         cost_note="school nurse / children's wellbeing practitioner hour, PSSRU, "
                   "of the order of £60-£100",
         budget_share=0.10, floor_fraction=0.5, need_model="imd-income-children"),
    dict(service_id="stop_smoking",
         service_name="Stop smoking service",
         life_course_stage="working age", target_population="pop_16_59",
         unit="one supported quit attempt (12 weeks' behavioural support and medication)",
         unit_cost_gbp=250,
         cost_note="NICE/NCSCT costings of a supported quit attempt, of the order "
                   "of £200-£300",
         budget_share=0.05, floor_fraction=0.3, need_model="imd-income"),
    dict(service_id="drug_alcohol",
         service_name="Drug and alcohol treatment and recovery",
         life_course_stage="working age", target_population="pop_16_59",
         unit="one person-year in structured community treatment", unit_cost_gbp=2_500,
         cost_note="community drug and alcohol treatment, PSSRU, of the order of "
                   "£2,000-£3,000 per person-year",
         budget_share=0.22, floor_fraction=0.3, need_model="imd-income"),
    dict(service_id="sexual_health",
         service_name="Sexual health services (testing, treatment, contraception)",
         life_course_stage="working age", target_population="pop_16_59",
         unit="one sexual health clinic attendance", unit_cost_gbp=130,
         cost_note="integrated sexual health tariffs, of the order of £100-£150 "
                   "per attendance",
         budget_share=0.18, floor_fraction=0.5, need_model="imd-income"),
    dict(service_id="health_checks",
         service_name="NHS Health Checks (cardiovascular risk, ages 40-74)",
         life_course_stage="working age", target_population="pop_16_59",
         unit="one NHS Health Check", unit_cost_gbp=40,
         cost_note="invitation, check and bloods, of the order of £25-£50",
         budget_share=0.03, floor_fraction=0.4, need_model="nhs-weighted"),
    dict(service_id="physical_activity",
         service_name="Physical activity and weight management (adults)",
         life_course_stage="working age", target_population="pop_16_59",
         unit="one tier-2 weight management or exercise course", unit_cost_gbp=250,
         cost_note="tier-2 behavioural weight management programmes, of the order "
                   "of £150-£300 per course",
         budget_share=0.07, floor_fraction=0.3, need_model="imd-health"),
    dict(service_id="falls_prevention",
         service_name="Falls prevention (strength and balance)",
         life_course_stage="older people", target_population="pop_60_plus",
         unit="one strength-and-balance course (e.g. FaME, Otago)", unit_cost_gbp=400,
         cost_note="group strength-and-balance programmes, of the order of "
                   "£300-£600 per course",
         budget_share=0.05, floor_fraction=0.3, need_model="imd-income-older"),
]
QUICKSTART_SERVICES = ["health_visiting", "drug_alcohol", "falls_prevention"]

TARGET_POPULATION_NOTES = {
    "pop_0_15": "children 0-15 (IoD 2019 denominator; stands in for 0-4 and 5-19, "
                "which the shared data do not have)",
    "pop_16_59": "people aged 16-59 (stands in for adults; NHS Health Checks are "
                 "for 40-74, which the shared data do not have)",
    "pop_60_plus": "people aged 60 and over",
}

# ---------------------------------------------------------------------------
# Geography: facts about boundary changes, checked against the data below
# ---------------------------------------------------------------------------

#: The 12 districts of the North East region (ONS E12000001). Checked: their
#: LE_data populations sum exactly to the region's.
NORTH_EAST = [
    "E06000001", "E06000002", "E06000003", "E06000004", "E06000005", "E06000047",
    "E06000057", "E08000021", "E08000022", "E08000023", "E08000024", "E08000037",
]

#: 2019 districts abolished by 2021 (the NHS file uses 2021 districts): each maps
#: to its successor unitary authority.
SUCCESSOR_2021 = {
    # Buckinghamshire (1 April 2020)
    "E07000004": "E06000060", "E07000005": "E06000060",
    "E07000006": "E06000060", "E07000007": "E06000060",
    # North Northamptonshire (1 April 2021)
    "E07000150": "E06000061", "E07000152": "E06000061",
    "E07000153": "E06000061", "E07000156": "E06000061",
    # West Northamptonshire (1 April 2021)
    "E07000151": "E06000062", "E07000154": "E06000062", "E07000155": "E06000062",
}

#: 2019 districts created by the April 2019 mergers: LE_data still has their
#: predecessors, whose rows are pooled.
LE_PREDECESSORS = {
    "E06000058": ["E06000028", "E06000029", "E07000048"],  # Bournemouth, Christchurch and Poole
    "E06000059": ["E07000049", "E07000050", "E07000051", "E07000052", "E07000053"],  # Dorset
    "E07000244": ["E07000205", "E07000206"],  # East Suffolk
    "E07000245": ["E07000201", "E07000204"],  # West Suffolk
    "E07000246": ["E07000190", "E07000191"],  # Somerset West and Taunton
}
#: Districts with no life-expectancy rows at all: use their region's.
LE_REGION_FALLBACK = {"E09000001": ("E12000007", "London")}  # City of London

# ---------------------------------------------------------------------------
# Attribution
# ---------------------------------------------------------------------------

ATTRIBUTION = {
    "imd": "Contains public sector information licensed under the Open Government "
           "Licence v3.0 (Ministry of Housing, Communities and Local Government, "
           "English Indices of Deprivation 2019); packaged by github.com/humaniverse/IMD "
           "(MIT) and github.com/ScHARR-PHEDS/DoPE_Public (MIT).",
    "imd2025": "Contains public sector information licensed under the Open Government "
               "Licence v3.0 (Ministry of Housing, Communities and Local Government, "
               "English Indices of Deprivation 2025); packaged by github.com/humaniverse/IMD (MIT).",
    "census": "Office for National Statistics, Census 2021 (TS021 ethnic group, TS038 disability) "
              "and mid-2020 small area population estimates, Open Government Licence v3.0; "
              "packaged by github.com/humaniverse/demographr (MIT).",
    "geography": "ONS Open Geography Portal lookups 2021 LSOA to 2024 ward, district and ICB, "
                 "Open Government Licence v3.0 (contains OS data (c) Crown copyright and database "
                 "right); packaged by github.com/humaniverse/geographr (MIT).",
    "nhs": "NHS England weighted populations 2024/25 (revenue allocations 2023/24 to "
           "2024/25), Crown copyright, from github.com/nhsx/AIF_Allocation_Tool "
           "(MIT and Open Government Licence v3.0).",
    "york": "Mortality elasticities by IMD quintile from the University of York "
            "unmet-need calculator, github.com/dark-peak-analytics/unmet-needs "
            "(MIT), branch dev commit 08361a49.",
    "le": "Life expectancy by deprivation decile: Public Health England figures, as "
          "packaged in the LE_data example data of the PHEindicatormethods R package "
          "(UKHSA, GPL-3, v2.1.0); only the packaging is from PHEindicatormethods.",
}

#: "Health gain, steeper need slope" option: min slope = 5% of the floor per unit of need.
OPTION_SLOPE_SHARE = 0.05

#: england-lsoa's "Proportional with a pace" option: within 75% of proportional to need, each LSOA
#: within -30% / +60% of last year's spend.  The assumed baseline splits each service by target
#: population, far from proportional to need: at -5% / +15% (or tolerance 0.5 and -25% / +50%) no
#: proportional allocation exists, which allocator proves in about a second.
PROPORTIONAL_TOLERANCE = 0.75
PROPORTIONAL_PACE = (0.30, 0.60)

# ---------------------------------------------------------------------------
# Budgets as finance holds them (service groups, funding streams, the plan)
# ---------------------------------------------------------------------------

#: Which of the eight services are universal (offered to everyone in their target
#: population) and which targeted (offered to people with a particular risk or need).
#: A judgement, stated so that `transfer.universal_to_targeted` means something: health
#: visiting, school nursing, open-access sexual health and NHS Health Checks (every
#: 40-74 year old) are universal; stop smoking, drug and alcohol treatment, physical
#: activity and weight management, and falls prevention serve people at risk.
SERVICE_GROUPS = {
    "universal": ("health_visiting", "school_nursing", "sexual_health", "health_checks"),
    "targeted": ("stop_smoking", "drug_alcohol", "physical_activity", "falls_prevention"),
}

#: england-la-plan: three funding streams adding up to the 2024/25-sized grant in year 1.
#: (stream_id, name, amount a year, services, areas, carry over, growth, from year, to year)
#: - the public health grant, growing 2% a year (an assumption, near recent uplifts);
#: - an ICB health-inequalities fund pooled with the councils (section 75 style), flat,
#:   for targeted services in the most deprived fifth of districts (IMD quintile 1, as
#:   NHS England's Core20PLUS5 targets the most deprived 20%);
#: - a time-limited family-hubs grant for three years, for health visiting and school
#:   nursing, that may be carried over between years.
PLAN_STREAMS = (
    ("ph_grant", "Public health grant", 3_300_000_000, "all", "", "no", 0.02, "", ""),
    ("icb_hi", "ICB health inequalities fund (pooled)", 200_000_000, "targeted", "imd_quintile=1", "no", 0.0,
     "", ""),
    ("family_hubs", "Family hubs grant (three years)", 100_000_000, "health_visiting;school_nursing", "", "yes",
     0.0, 1, 3),
)
#: The pooled fund's partners and shares (assumed: three quarters from the ICBs).
PLAN_PARTNERS = (("icb_hi", "NHS integrated care boards", 0.75), ("icb_hi", "Local authorities", 0.25))
#: The plan: five years from 2026/27, gains discounted at 3.5% a year (as NICE), each
#: district's distance from its need-weighted target falling by at least 5% a year, and
#: a year's lag before physical activity and falls prevention change outcomes.
PLAN_YEARS = 5
PLAN_FIRST_YEAR = "2026/27"
PLAN_DISCOUNT_RATE = 0.035
PLAN_CONVERGENCE = 0.05
PLAN_LAGS = {"physical_activity": 1, "falls_prevention": 1}
