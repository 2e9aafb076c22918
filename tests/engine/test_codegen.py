"""The generated lead evaluator (`engine.codegen`) gives the reference evaluator's result
(`engine.record`) on every lead: same values, same types, same errors."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from dsl.types import FieldType
from engine import cells
from engine.codegen import (
    Unsupported,
    _Expressions,
    _unambiguous,
    _Writer,
    identity_guard,
    lead_function,
)
from engine.demo import demo_tables
from engine.ir import FieldRef
from engine.loader import load, load_text
from engine.program import Program
from engine.record import LeadEvaluator, RecordError
from engine.results import LeadResult

ROOT = Path(__file__).resolve().parents[2]
CLIENTS = sorted(p.name for p in (ROOT / "rulesets").iterdir() if (p / "tests").is_dir())


def _typed(result: LeadResult) -> Any:
    """A result with the type and the text of every value, for a strict comparison
    (5 != Decimal(5), Decimal('2.5') != Decimal('2.50'))."""

    def kind(value: Any) -> Any:
        if isinstance(value, Mapping):
            return {k: kind(v) for k, v in value.items()}
        if isinstance(value, tuple):
            return tuple(kind(v) for v in value)
        return (type(value).__name__, repr(value))

    return kind(
        (result.id, result.score, result.status, dict(result.points), result.missing,
         result.alerts, dict(result.scores))
    )  # fmt: skip


def _outcome(evaluate: Any, lead: Mapping[str, object]) -> Any:
    try:
        return _typed(evaluate(lead))
    except RecordError as error:
        return ("RecordError", error.errors)


def assert_same(program: Program, leads: list[dict[str, Any]]) -> None:
    reference = LeadEvaluator(program.compiled)
    generated = lead_function(program.compiled, reference.reader)
    assert generated is not None, "the client rulesets are all written out"
    for lead in leads:
        assert _outcome(generated, lead) == _outcome(reference, lead), lead


def _variants(lead: dict[str, Any]) -> list[dict[str, Any]]:
    """The lead as text, with padded text, with a cell emptied, with a bad value."""
    found = [lead]
    for name, value in lead.items():
        if isinstance(value, str):
            found.append({**lead, name: f"  {value} "})
            found.append({**lead, name: "n'importe quoi"})
        found.append({**lead, name: None})
        found.append({**lead, name: ""})
    return found


@pytest.mark.parametrize("client", CLIENTS)
def test_client_rulesets_on_demo_leads(client: str) -> None:
    program = load(ROOT / "rulesets" / client)
    tables, _ = demo_tables(program, n_leads=60, n_deals=3, seed=11)
    frame = tables["leads"]
    leads = [
        {str(k): (None if v != v else v) for k, v in row.items()}
        for row in frame.to_dict("records")
    ]
    varied = [v for lead in leads[:6] for v in _variants(lead)]
    assert_same(program, leads + varied)
    # The same leads as an application holds them: typed values.
    valid = program.validate(leads=frame).records("leads")
    assert valid
    assert_same(program, valid)


def test_program_evaluate_lead_is_the_generated_function() -> None:
    program = load(ROOT / "rulesets" / "contech-saas")
    assert program._lead_call is not program._lead
    lead = {"id": "L1", "budget": "confirmed", "sector": "industrie", "timing_months": 2}
    assert program.evaluate_lead(lead) == program._lead(lead)


RULESET = """
ruleset gen "Generated" { currency EUR }

record lead {
  budget one_of confirmed, to_validate, blocking
  sector text
  timing_months number
  employees integer
  revenue money
  hint integer 0..2
  vip boolean
  seen date
  share percent
}

score fit "Fit" on lead {
  budget { confirmed -> 20, to_validate -> 10, blocking -> 0 }
  market { when sector in ["industrie", "services"] -> 15, otherwise -> 0 }
  timing {
    when timing_months < 3 -> 15, when timing_months in 3..6 -> 8, when timing_months > 6 -> 2
  }
  company { when employees >= 250 -> 10, when employees in 50..249 -> 6, otherwise -> 2 }
  size { when revenue >= 50K and not vip -> 8, when revenue > 10K or vip -> 3, otherwise -> 1 }
  bonus -> hint
  fresh { when seen >= 2026-01-01 and vip -> 2.5, when employees > 1000 -> 1.5 }
  part { when share >= 50% -> 1, when share is missing -> 0.5 }
  status {
    knockout out when budget == blocking
    SQL when score > 70
    warm when score >= 40.5
    cold otherwise
  }
}
"""

VALUES: dict[str, list[Any]] = {
    "budget": ["confirmed", "to_validate", "blocking", " confirmed", "maybe", None, ""],
    "sector": ["industrie", "services", "autre", " industrie ", None],
    "timing_months": [0, 2.5, 3, "3", 6, 6.5, float("nan"), "x", None, Decimal("4")],
    "employees": [10, 50, 249, 250, 1001, "250", 2.0, 2.5, True, None],
    "revenue": ["50000", "50K", "10 000,50", 10_001, Decimal("9999.99"), "abc", None],
    "hint": [0, 2, 3, "1", None],
    "vip": [True, False, "oui", "non", "peut-être", None],
    "seen": [
        dt.date(2026, 1, 1),
        dt.date(2025, 12, 31),
        "2026-02-01",
        dt.datetime(2026, 1, 2),
        "31/12/2025",
        "demain",
        None,
    ],
    "share": ["50%", 0.5, "49,5 %", 50, None],
}


def test_a_ruleset_of_every_construct_on_boundary_values() -> None:
    program = load_text(RULESET, "gen.krl")
    base: dict[str, Any] = {"id": "L1", **{name: values[0] for name, values in VALUES.items()}}
    leads = [{**base, name: value} for name, values in VALUES.items() for value in values]
    leads += [{**base, "id": None}, {**base, "id": "  "}, {"id": "L2"}]
    assert_same(program, leads)


@pytest.mark.parametrize(
    ("kind", "values"),
    [
        (FieldType("one_of", options=("a", "b")), ["a", "b", " a", "c", "", None, 1]),
        (FieldType("integer"), [0, 1, -5, True, 2.0, "3", None, Decimal(2)]),
        (FieldType("number"), [0.0, 1.5, float("nan"), float("inf"), 2, "2,5", None]),
        (FieldType("boolean"), [True, False, 1, 0, "oui", None]),
        (FieldType("date"), [dt.date(2026, 1, 1), dt.datetime(2026, 1, 1, 5), "2026-01-01"]),
        (FieldType("text"), ["L1", " L1", "L1\u00a0", "\tx", "a b", "", "  ", "\u2003", 5, None]),
    ],
)
def test_a_guard_holds_only_where_the_coercer_returns_its_input(
    kind: FieldType, values: list[Any]
) -> None:
    guard = identity_guard(kind, "x", "options")
    assert guard is not None
    coerce = cells.coercer(kind)
    for value in values:
        if eval(guard, {"options": frozenset(kind.options), "x": value, "_date": dt.date}):
            assert coerce(value) is value, (kind.kind, value)


def test_no_guard_for_a_ranged_field_or_text() -> None:
    assert identity_guard(FieldType("integer", range=(Decimal(0), Decimal(2))), "x", None) is None
    assert identity_guard(FieldType("percent"), "x", None) is None


def test_a_field_the_reader_does_not_read_is_not_written() -> None:
    with pytest.raises(Unsupported):
        _Expressions(_Writer(), {}, {}).value(FieldRef("unknown", "text"))


def test_every_lead_alert_that_holds_is_raised() -> None:
    # Found by the generated-ruleset property: the alerts were joined as `a if x else () + b
    # if y else ()`, so the second alert was lost whenever the first held.
    program = load_text(
        'ruleset t "T" { currency EUR }\n'
        "record lead { budget one_of confirmed, to_validate }\n"
        'alert first on lead when id in ["L1"]\n'
        'alert second on lead when id == "L1"\n'
        "alert third on lead when budget == confirmed\n"
    )
    leads = [{"id": i, "budget": b} for i in ("L1", "L2") for b in ("confirmed", "to_validate")]
    assert_same(program, leads)
    assert program.evaluate_lead(leads[0]).alerts == ("first", "second", "third")
    assert program.evaluate_lead(leads[3]).alerts == ()


# Conditions the generated code writes as plain tests (one field, unknown when it is missing),
# beside ones it computes (and/or, arithmetic); routes, statuses and alerts reading them.
ROUTED = """
ruleset routed "Routed" { currency EUR }

record lead {
  budget one_of confirmed, to_validate, blocking
  employees integer
  timing_months number
  revenue money
  vip boolean
}

score small "Small" on lead {
  budget { confirmed -> 20, to_validate -> 10 }
  size { when employees not in [1, 2, 3] -> 5, when employees not in 10..20 -> 2 }
  timing { when not (timing_months > 6) -> 4, when timing_months is not missing -> 1 }
  rich { when revenue >= 1K and employees * 2 > 20 -> 3, otherwise -> 1 }
  half { when vip -> 2.50, when budget == confirmed -> 2.5, otherwise -> 0.5 }
  status {
    knockout out when budget == blocking
    hot when small.budget == 20 and score >= 25
    warm when employees not in 5..9 or vip
    cold otherwise
  }
}

score big "Big" on lead {
  size { when employees >= 500 -> 50, when employees is missing -> 1 }
  status {
    whale when big.score >= 50 and revenue is not missing
    fish otherwise
  }
}

qualify lead {
  use big when employees >= 100
  use small when timing_months < 24
}

alert no_size on lead when employees is missing
alert odd on lead when not (employees in 5..9) and status != cold
"""

ROUTED_VALUES: dict[str, list[Any]] = {
    "budget": ["confirmed", "to_validate", "blocking", None],
    "employees": [1, 4, 7, 15, 25, 100, 600, None],
    "timing_months": [2.0, 6.0, 7.5, 30.0, None],
    "revenue": [Decimal("999.99"), Decimal("1000"), None],
    "vip": [True, False, None],
}


def test_plain_tests_routes_statuses_and_alerts_on_every_combination() -> None:
    program = load_text(ROUTED, "routed.krl")
    names = list(ROUTED_VALUES)
    leads = [{"id": "L1"}]
    for budget in ROUTED_VALUES["budget"]:
        for employees in ROUTED_VALUES["employees"]:
            for timing in ROUTED_VALUES["timing_months"]:
                for revenue in ROUTED_VALUES["revenue"]:
                    for vip in ROUTED_VALUES["vip"]:
                        values = (budget, employees, timing, revenue, vip)
                        leads.append({"id": "L1", **dict(zip(names, values, strict=True))})
    assert_same(program, leads)
    # Each outcome is reached: the combinations do test every branch written.
    found = [program.evaluate_lead(lead) for lead in leads]
    assert {r.status for r in found} == {None, "out", "hot", "warm", "cold", "whale", "fish"}
    assert {r.alerts for r in found} == {(), ("no_size",), ("odd",)}


def test_points_equal_yet_written_differently_are_kept_apart() -> None:
    # 2.50 and 2.5 are equal keys: one shared mapping for both would show the first's places.
    program = load_text(ROUTED, "routed.krl")
    lead = {"id": "L1", "budget": "confirmed", "employees": 4, "timing_months": 2.0}
    for vip in (True, False, True):
        found = program.evaluate_lead({**lead, "vip": vip})
        want = program._lead({**lead, "vip": vip})
        assert str(found.points["half"]) == str(want.points["half"]) == ("2.50" if vip else "2.5")


def test_equal_keys_of_another_type_or_text_are_ambiguous() -> None:
    assert _unambiguous([20, 10, 0, 0])
    assert _unambiguous([Decimal("2.5"), Decimal("1.5"), 0])
    assert not _unambiguous([1, 1.0])
    assert not _unambiguous([Decimal("2.5"), Decimal("2.50")])
    assert not _unambiguous([0.0, -0.0])
    assert not _unambiguous([1, True])


def test_leads_with_the_same_points_share_their_mappings() -> None:
    # Results are immutable: one mapping per combination, not one per lead (contech-saas's
    # criteria all score from their cases; its one score is of whole points).
    program = load(ROOT / "rulesets" / "contech-saas")
    lead = {"id": "L1", "budget": "confirmed", "sector": "industrie", "timing_months": 2.0}
    first, second = program.evaluate_lead(lead), program.evaluate_lead({**lead, "id": "L2"})
    assert first.points is second.points and first.scores is second.scores
    assert first.points == program._lead(lead).points
    other = program.evaluate_lead({**lead, "budget": "to_validate"})
    assert other.points["budget"] == 10 and first.points["budget"] == 20
