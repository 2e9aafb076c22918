"""Named rate tables, step tables and curves: declared once at top level, used by name in
measures. A use means exactly the table written in the measure (same checks, same pay)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from engine.loader import load_text
from engine.pay.math import MeasureInput, pay_plan
from engine.periods import parse_period
from tests.dsl.test_checker import error, findings, findings_of, warning

D = Decimal
HEADER = 'ruleset t "T" { currency EUR }\nrole AE "AE" { plan p }\n'
PLAN = """plan p "P" for AE {
  effective 2026-01-01 to 2026-12-31
  communicated 2025-12-15
  period quarter
  target_variable 40K per year
"""
CURVE = "below 80% pay 0%  at 80% pay 50%  at 100% pay 100%  slope 1.5 to 130%  slope 2"
RATES = "[0, 150K) 4%  [150K, ...) 6%"
STEPS = "[0%, 80%) 0%  [80%, 100%) 50%  [100%, ...) 100%"


def measure(name: str, method: str) -> str:
    return (
        f"  measure {name} {{\n    credit amount of deals where status == won\n"
        f"    quota {name}\n    {method}\n    cap 200%\n  }}\n"
    )


def paid(text: str, credited: str, quota: str) -> list[tuple[str, Decimal]]:
    """Each measure's payout when every measure credits `credited` against `quota`."""
    plan = load_text(HEADER + text).book.plans["p"]
    inputs = {m.name: MeasureInput(D(credited), D(quota)) for m in plan.measures}
    payout = pay_plan(plan, "R1", parse_period("2026-Q1"), inputs)
    return [(m.measure, m.payout) for m in payout.measures]


@pytest.mark.parametrize(
    ("definition", "inline"),
    [
        (f"curve house {{ {CURVE} }}", f"curve {{ {CURVE} }}"),
        (
            f"rates house on amount method marginal {{ {RATES} }}",
            f"rates on amount method marginal {{ {RATES} }}",
        ),
        (f'steps house "Paliers" {{ {STEPS} }}', f"steps {{ {STEPS} }}"),
    ],
)
@pytest.mark.parametrize(("credited", "quota"), [("70000", "100000"), ("145000", "100000")])
def test_a_use_pays_exactly_what_the_table_written_inline_pays(
    definition: str, inline: str, credited: str, quota: str
) -> None:
    kind = definition.split()[0]
    named = definition + "\n" + PLAN + measure("a", f"{kind} house") + measure("b", f"{kind} house")
    written = PLAN + measure("a", inline) + measure("b", inline)
    assert paid(named + "}\n", credited, quota) == paid(written + "}\n", credited, quota)
    if credited == "145000":  # past every table's first band: the figures are not all 0
        assert paid(named + "}\n", credited, quota)[0][1] > 0


def test_contech_curve_written_once_keeps_the_brief_figures() -> None:
    # The brief: 50% of the target at 80%, 100% at 100%, 145% at 130%, capped at 200%.
    named = f"curve standard {{ {CURVE} }}\n" + PLAN + measure("a", "curve standard") + "}\n"
    quarter_target = D("10000.00")  # 40K per year
    for attainment, share in (("80000", "0.5"), ("100000", "1"), ("130000", "1.45"),
                              ("200000", "2")):  # fmt: skip
        assert paid(named, attainment, "100000") == [("a", quarter_target * D(share))]


def test_a_use_before_its_definition_and_in_another_file_is_clean() -> None:
    plan = PLAN + measure("a", "curve standard") + "}\n"
    assert findings_of([HEADER + plan, f"curve standard {{ {CURVE} }}\n"]) == []


def test_an_unknown_use_is_located_with_a_suggestion() -> None:
    text = f"curve standard {{ {CURVE} }}\n" + PLAN + measure("a", "curve standrd") + "}\n"
    assert findings('role AE "AE" { plan p }\n' + text) == [
        warning(
            "W505",
            "curve `standard` is never used",
            "standard",
            "use it in a measure with `curve standard`, or remove it",
        ),
        error("E216", "unknown curve `standrd`", "standrd", "did you mean `standard`?"),
    ]


def test_a_use_of_nothing_says_how_to_declare_one() -> None:
    text = 'role AE "AE" { plan p }\n' + PLAN + measure("a", "steps paliers") + "}\n"
    assert findings(text) == [
        error(
            "E216",
            "unknown step table `paliers`",
            "paliers",
            "no step table is declared; declare it at top level: `steps paliers { ... }`",
        )
    ]


def test_a_use_of_the_wrong_kind_names_both_kinds() -> None:
    text = (
        'role AE "AE" { plan p }\n'
        f"rates grid method retroactive {{ {STEPS} }}\n" + PLAN + measure("a", "curve grid") + "}\n"
    )
    assert findings(text) == [
        warning(
            "W505",
            "rates `grid` is never used",
            "grid",
            "use it in a measure with `rates grid`, or remove it",
        ),
        error(
            "E216",
            "`grid` is a rate table, not a curve",
            "grid",
            "write `rates grid`, or name a curve",
        ),
    ]


def test_an_unused_definition_is_a_warning_and_an_error_under_strict() -> None:
    text = (
        'role AE "AE" { plan p }\n'
        f"curve standard {{ {CURVE} }}\nsteps spare {{ {STEPS} }}\n"
        + PLAN
        + measure("a", "curve standard")
        + "}\n"
    )
    wanted = warning(
        "W505",
        "steps `spare` is never used",
        "spare",
        "use it in a measure with `steps spare`, or remove it",
    )
    assert findings(text) == [wanted]
    assert [f[:2] for f in findings(text, strict=True)] == [("W505", "error")]


def test_definitions_share_one_namespace() -> None:
    text = (
        'role AE "AE" { plan p }\n'
        f"curve house {{ {CURVE} }}\nsteps house {{ {STEPS} }}\n"
        + PLAN
        + measure("a", "curve house")
        + "}\n"
    )
    [(code, _, message, underlined, help_text)] = findings(text)
    assert (code, message, underlined) == ("E207", "`house` is already defined", "house")
    assert help_text is not None and help_text.startswith("first defined at f0.krl:")


def test_a_broken_shared_curve_is_reported_once_at_its_definition() -> None:
    broken = "below 80% pay 0%  at 100% pay 100%  at 90% pay 120%"
    text = (
        'role AE "AE" { plan p }\n'
        f"curve house {{ {broken} }}\n"
        + PLAN
        + measure("a", "curve house")
        + measure("b", "curve house")
        + "}\n"
    )
    found = findings(text)
    assert [(f[0], f[3]) for f in found] == [("E409", "at 90% pay 120%")]


def test_measure_level_rules_point_at_the_use() -> None:
    # Two payout methods: the second one named is the use, underlined where it is written.
    text = (
        'role AE "AE" { plan p }\n'
        f"curve house {{ {CURVE} }}\n"
        + PLAN
        + measure("a", "commission 5%\n    curve house")
        + "}\n"
    )
    [(code, _, message, underlined, _)] = findings(text)
    assert (code, message, underlined) == (
        "E408",
        "measure `a` has two payout methods: commission and curve",
        "curve house",
    )


# ----------------------------------------------------------------------------- define
DEFINES = """
define large_deal "Gros deal" on deal = type == new_logo and amount > 100K
define huge on deal = large_deal and amount > 500K
"""


def test_named_expressions_mean_the_expression_written_in_place() -> None:
    import datetime as dt

    from engine.demo import demo_tables

    plain = 'ruleset t "T" { currency EUR }\n'
    named = load_text(
        plain + DEFINES + "kpi big on deal = count(huge and status == won)\n"
        "kpi large_amount on deal = sum(amount where large_deal)\n"
        "alert a on deal when large_deal and stale severity info\n"
    )
    written = load_text(
        plain + "kpi big on deal = count(type == new_logo and amount > 100K and amount > 500K"
        " and status == won)\nkpi large_amount on deal = sum(amount where type == new_logo"
        " and amount > 100K)\nalert a on deal when type == new_logo and amount > 100K and stale"
        " severity info\n"
    )
    tables, year = demo_tables(named, 50, 400, seed=5)
    as_of = dt.date(year, 12, 31)
    left = named.evaluate(**tables, as_of=as_of)
    right = written.evaluate(**tables, as_of=as_of)
    assert left.kpis.equals(right.kpis) and left.alerts.equals(right.alerts)
    assert float(left.kpis.set_index("kpi").loc["large_amount", "value"]) > 0
    deal = {"id": "D1", "type": "new_logo", "amount": 600000, "status": "open",
            "stage": "detection", "stage_entered_at": "2026-01-01"}  # fmt: skip
    assert (
        named.evaluate_deal(deal, as_of=as_of).alerts
        == written.evaluate_deal(deal, as_of=as_of).alerts
    )


def test_named_expression_findings() -> None:
    text = (
        DEFINES + "define loop1 on deal = loop2 or amount > 1\ndefine loop2 on deal = loop1\n"
        "define spare on lead = employees > 10\ndefine amount on deal = 1\n"
        "kpi k on deal = count(huge)\nalert b on lead when large_deal\n"
        "kpi k2 on deal = large_deal\n"
    )
    assert findings(text) == [
        error("E220", "`loop2` is defined in terms of itself: loop2 -> loop1 -> loop2",
              "loop2", "a named expression may read others, never itself"),
        error("E220", "`loop1` is defined in terms of itself: loop1 -> loop2 -> loop1",
              "loop1", "a named expression may read others, never itself"),
        warning("W505", "define `spare` is never used", "spare",
                "read it in a condition on lead (`when spare`), or remove it"),
        error("E201", "unknown field `employees` on lead", "employees",
              "lead has no field `employees`; declare it in `record lead { ... }`"),
        error("E207", "`amount` is already a field of deal", "amount",
              "give the named expression another id"),
        error("E214", "`large_deal` is defined on deal, not on lead", "large_deal",
              "it reads deal fields; define one on lead for this place"),
        error("E214", "`large_deal` is computed on each deal; a KPI reads it inside an aggregate",
              "large_deal", "e.g. count(large_deal) or sum(amount where large_deal)"),
    ]  # fmt: skip
