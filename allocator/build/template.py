"""`allocator template --xlsx FILE`: a workbook to fill in as a scenario, for people who work in Excel.

Sheets: ``scenario`` (the settings of scenario.toml, one per row: section, key, value,
what it means), ``areas``, ``services``, ``baseline``, ``locked`` (the tables of
docs/scenario-format.md, one worked example row each), ``lists`` (the choices behind the
drop-down lists) and ``README``. Headers carry their units in their names (``spend_gbp``,
``floor_units_per_head``) and a note on each says what the column holds. Once filled in,
``allocator validate FILE.xlsx`` reads it as a scenario; models are the bundled ones.
"""

from __future__ import annotations

from pathlib import Path

from openpyxl import Workbook
from openpyxl.comments import Comment
from openpyxl.styles import Font, PatternFill
from openpyxl.worksheet.datavalidation import DataValidation

from allocator.scenario.bundled import bundled_root
from allocator.scenario.spec import BUDGET_MODES, OBJECTIVES, PROPORTIONALITY

#: (section, key, example value, meaning) for the ``scenario`` sheet.
SETTINGS = [
    ("scenario", "name", "My place: public health budget by need", "the scenario's name, shown in every report"),
    ("scenario", "description", "Eight services across the life course, LSOAs of my place", "a sentence"),
    ("budget", "total_gbp", 20_000_000, "the budget to allocate, in pounds"),
    ("budget", "mode", "exact", "exact (spend all of it) or at-most"),
    ("objective", "name", "health-gain", "health-gain, fair-share, equity-weighted, level-up or maximin"),
    ("proportionality", "mode", "monotone", "monotone (intensity never falls as need rises), proportional or none"),
    ("proportionality", "min_slope", 0, "monotone: the least rise in units per head per unit of need (0: none)"),
    ("gradient", "outcome", "years_of_potential_life_lost_indicator", "the areas column of the health outcome"),
    ("gradient", "outcome_label", "Years of potential life lost (IoD2025)", "how reports name the outcome"),
    ("gradient", "outcome_units", "YPLL indicator points (IoD2025)", "the outcome's units"),
    ("gradient", "higher_is_better", False, "TRUE for life expectancy, FALSE for a mortality rate"),
    ("gradient", "deprivation", "imd_score", "the areas column that ranks deprivation"),
    ("gradient", "most_deprived", "high", "high (a score) or low (a rank)"),
    ("gradient", "quantiles", 5, "how many deprivation groups the gradient is measured across (2 to the areas)"),
]
AREAS = [
    ("area_id", "E01012662", "a unique code for the area (text)"),
    ("area_name", "Blackpool 002A", "the area's name"),
    ("population", 1412, "people (e.g. Census 2021 usual residents), > 0"),
    ("pop_0_15", 153, "children aged 0-15: the target population of the children's services"),
    ("pop_16_59", 595, "people aged 16-59: the target population of the working-age services"),
    ("pop_60_plus", 664, "people aged 60 and over: the target population of the older people's services"),
    ("imd_score", 35.161, "IMD 2025 score, higher is more deprived: the gradient's ranking"),
    ("imd_quintile", 1, "national IMD quintile, 1 = most deprived: the response curves' modifier"),
    ("income_deprivation_rate", 0.289, "share of people income deprived (IoD2025 income score), 0-1"),
    ("child_income_deprivation_rate", 0.261, "share of children 0-15 income deprived (IDACI), 0-1"),
    ("older_income_deprivation_rate", 0.271, "share of people 60+ income deprived (IDAOPI), 0-1"),
    ("years_of_potential_life_lost_indicator", 99.912, "IoD2025 YPLL indicator: the outcome"),
    ("comparative_illness_and_disability_ratio_indicator", 172.559, "IoD2025 CIDR indicator (need)"),
    ("nhs_need_index", 1.366, "NHS England weighted population index, England = 1 (need)"),
    ("cost_index", 1, "relative unit cost here (market forces, rurality), 1 = average, > 0"),
]
SERVICES = [
    ("service_id", "stop_smoking", "a unique code for the service (text)"),
    ("service_name", "Stop smoking service", "the service's name"),
    ("unit_cost_gbp", 250, "pounds per unit of service (one quit attempt, one contact, ...), > 0"),
    ("target_population", "pop_16_59", "the areas column of the people this service serves"),
    ("floor_units_per_head", 0.0065, "the universal floor: units per head every area gets, >= 0"),
    ("cap_units_per_head", 0.065, "the most units per head an area can get; blank = no cap"),
    ("need_model", "imd2025-income", "how need is measured (a bundled need model)"),
    ("response_model", "york-ypll2025-stop-smoking", "how units buy health (a bundled response model)"),
    ("life_course_stage", "working age", "early years, school age, working age or older people"),
]
SPEND = [
    ("area_id", "E01012662", "an area_id of the areas sheet"),
    ("service_id", "stop_smoking", "a service_id of the services sheet"),
    ("spend_gbp", 1200, "pounds spent on this line last year (baseline) or fixed (locked)"),
]
STAGES = ["early years", "school age", "working age", "older people"]
HEADER = Font(bold=True, color="FFFFFF")
FILL = PatternFill("solid", fgColor="1F5F8B")


def _models(kind: str) -> list[str]:
    root = bundled_root()
    return sorted(p.stem for p in (root / "models" / kind).glob("*.toml")) if root else []


def _sheet(book: Workbook, title: str, columns: list[tuple[str, object, str]]):
    sheet = book.create_sheet(title)
    for c, (name, example, note) in enumerate(columns, start=1):
        cell = sheet.cell(row=1, column=c, value=name)
        cell.font, cell.fill = HEADER, FILL
        cell.comment = Comment(note, "allocator")
        sheet.cell(row=2, column=c, value=example)
        sheet.column_dimensions[cell.column_letter].width = max(14, min(len(name) + 2, 45))
    sheet.freeze_panes = "A2"
    return sheet


def _choose(sheet, column: int, source: str, rows: int = 2000) -> None:
    rule = DataValidation(type="list", formula1=source, allow_blank=True, showErrorMessage=True,
                          errorTitle="Not in the list", error="Choose a value from the list.")
    letter = sheet.cell(row=1, column=column).column_letter
    rule.add(f"{letter}2:{letter}{rows}")
    sheet.add_data_validation(rule)


def _lists(book: Workbook) -> dict[str, str]:
    """The hidden ``lists`` sheet; each list's range, for the drop-downs."""
    sheet = book.create_sheet("lists")
    columns = {"need_model": _models("need"), "response_model": _models("response"), "life_course_stage": STAGES,
               "objective": list(OBJECTIVES), "proportionality": list(PROPORTIONALITY), "mode": list(BUDGET_MODES)}
    ranges = {}
    for c, (name, values) in enumerate(columns.items(), start=1):
        sheet.cell(row=1, column=c, value=name)
        for r, value in enumerate(values, start=2):
            sheet.cell(row=r, column=c, value=value)
        letter = sheet.cell(row=1, column=c).column_letter
        ranges[name] = f"lists!${letter}$2:${letter}${len(values) + 1}"
    sheet.sheet_state = "hidden"
    return ranges


def write_template(path: Path) -> None:
    """Write the template workbook to ``path`` (atomically: a temporary file renamed into place)."""
    book = Workbook()
    readme = book.active
    readme.title = "README"
    for r, line in enumerate(_README, start=1):
        readme.cell(row=r, column=1, value=line)
    readme.column_dimensions["A"].width = 110
    ranges = _lists(book)
    settings = _sheet(book, "scenario", [("section", "", "the manifest section"), ("key", "", "the setting"),
                                         ("value", "", "your value"), ("meaning", "", "what it means")])
    settings.delete_rows(2)
    for r, row in enumerate(SETTINGS, start=2):
        for c, value in enumerate(row, start=1):
            settings.cell(row=r, column=c, value=value)
    settings.column_dimensions["D"].width = 80
    _sheet(book, "areas", AREAS)
    services = _sheet(book, "services", SERVICES)
    for column, name in ((7, "need_model"), (8, "response_model"), (9, "life_course_stage")):
        _choose(services, column, ranges[name])
    _sheet(book, "baseline", SPEND)
    _sheet(book, "locked", SPEND)
    book.active = 1
    path = Path(path)
    temporary = path.with_name(f".{path.name}.tmp")
    book.save(temporary)
    temporary.replace(path)


_README = [
    "allocator scenario workbook",
    "",
    "Fill in the sheets, then run:  allocator validate THIS-FILE.xlsx  and  allocator run THIS-FILE.xlsx",
    "",
    "scenario: the settings, one per row (section, key, value). The meaning column says what each one does.",
    "areas: one row per area. Keep the headers; add columns your need models or groups use.",
    "services: one row per service. need_model and response_model are chosen from the bundled models.",
    "baseline (optional): last year's spend per area and service. Delete its example row if you have none.",
    "locked (optional): lines whose spend is fixed. Delete its example row if you have none.",
    "",
    "Each sheet's second row is a worked example: replace it with your own rows.",
    "Units are in the column names: _gbp is pounds, _units_per_head is units of service per person.",
    "Hover over a header for what the column holds. The full format: docs/scenario-format.md.",
]
