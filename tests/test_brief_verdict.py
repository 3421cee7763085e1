"""The brief's verdict when options tie: named together, never a trade-off that is not there."""

from __future__ import annotations

from click.testing import CliRunner

from allocator.cli import main
from allocator.reports.brief import OptionFacts, verdict


def facts(name: str, health: float, sii: float, moved: float = 1e6, gaining: int = 10) -> OptionFacts:
    return OptionFacts(name=name, objective="health-gain", sii_before=-2.0, sii_after=sii, fifth_gap_before=3.0,
                       fifth_gap_after=abs(sii) * 1.5, health_gain=health, mean_change=None,
                       to_most_deprived_gbp=moved, share_before=0.2, share_after=0.25, gaining=gaining,
                       losing=5, rules=None)


def test_tied_options_are_named_together():
    lines = verdict([facts("Health gain", 100.0, -1.5), facts("Level up", 100.0, -1.5),
                     facts("Maximin", 80.0, -1.0)], "years")
    assert lines[0].startswith("“Health gain” and “Level up” gain the most health (100 years")
    assert "“Maximin” narrows the gap in the outcome the most" in lines[1]
    assert lines[-1].startswith("“Health gain” and “Level up” come out the same on every measure")


def test_a_tie_is_not_a_trade_off():
    lines = verdict([facts("A", 100.0, -1.5), facts("B", 100.0 * (1 + 1e-9), -1.5)], "years")
    assert not any("narrows" in line or "gives up" in line for line in lines)
    assert lines == ["“A” and “B” gain the most health (100 years × people against 'before').",
                     "“A” and “B” come out the same on every measure here (health, the SII, the gap, the money "
                     "moved and the areas gaining and losing)."]


def test_options_differing_anywhere_are_not_alike():
    for other in (facts("B", 100.0, -1.4), facts("B", 100.0, -1.5, moved=2e6), facts("B", 100.0, -1.5, gaining=11),
                  facts("B", 100.0 * (1 + 1e-5), -1.5)):
        lines = verdict([facts("A", 100.0, -1.5), other], "years")
        assert not any("come out the same" in line for line in lines), (other, lines)


def test_compare_says_when_two_options_tie(tiny):
    (tiny / "scenario.toml").write_text((tiny / "scenario.toml").read_text() + """
[[option]]
name = "Health gain"

[[option]]
name = "Same again"
total_gbp = 100000
""")
    result = CliRunner().invoke(main, ["compare", str(tiny), "--no-explain"])
    assert result.exit_code == 0, result.output
    assert "“Health gain” and “Same again” gain the most health" in result.output
    assert "“Health gain” and “Same again” come out the same on every measure" in result.output
    assert "narrows the gap in the outcome the most" not in result.output
