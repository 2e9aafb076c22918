"""Checker behaviour: every code it emits as a whole diagnostic; a clean ruleset; strict mode."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence
from pathlib import Path

import pytest

from dsl import check as checker
from dsl import nodes as n
from dsl.check import PASSES, Scope, check, scope_for, type_of_expr
from dsl.diagnostics import CODES
from dsl.parser import parse
from dsl.source import SourceFile
from dsl.syntax import MAX_EXPRESSION_DEPTH
from dsl.types import FieldType

HEADER = 'ruleset t "T" { currency EUR }\n'

Finding = tuple[str, str, str, str, str | None]


def parsed(text: str, path: str = "t.krl") -> n.Module:
    result = parse(SourceFile(path, text))
    assert result.diagnostics == ()
    assert result.module is not None
    return result.module


def findings_of(texts: Sequence[str], *, strict: bool = False) -> list[Finding]:
    """(code, severity, message, underlined text, help) of every finding over several files."""
    sources = {f"f{i}.krl": text for i, text in enumerate(texts)}
    modules = [parsed(text, path) for path, text in sources.items()]
    result = check(modules, strict=strict)
    return [
        (
            d.code,
            d.severity.value,
            d.message,
            sources[d.span.path][d.span.start : d.span.end],
            d.help,
        )
        for d in result.diagnostics
    ]


def findings(body: str, *, strict: bool = False) -> list[Finding]:
    """Findings for one file: the header, then `body`."""
    return findings_of([HEADER + body], strict=strict)


def error(code: str, message: str, underlined: str, help_text: str | None) -> Finding:
    return (code, "error", message, underlined, help_text)


def warning(code: str, message: str, underlined: str, help_text: str | None) -> Finding:
    return (code, "warning", message, underlined, help_text)


# ----------------------------------------------------------------------------- a clean ruleset
#: /tmp/t1.krl's constructs (every construct of the language), fixed to be valid.
CLEAN = """\
ruleset a "x" { currency EUR rounding half_up 0.01 }
record lead { budget one_of confirmed "C", to_validate, blocking timing_months number
  employees integer 0..10 x integer -5..5 m_metrics integer 0..2 }
record deal { sdr_id text poc_done boolean budget_confirmed boolean m_metrics integer 0..2
  x one_of a, b n integer d date sector text channel one_of direct, partner }
score b "B" on lead max 100 { budget "Budget" { confirmed -> 20, to_validate -> -10 }
 timing { when timing_months < 3 -> 15 when timing_months in 3..6 -> 8 otherwise -> 2 }
 size { when employees >= 5 -> 63, otherwise -> 0 }
 m -> m_metrics
 status { knockout disq when budget == blocking SQL when score > 70, MQL otherwise } }
score bant "BANT" on deal max 1 { budget { when budget_confirmed -> 1, otherwise -> 0 }
  status { qualified when score >= 1, unqualified otherwise } }
score meddpicc on deal max 2 { m -> m_metrics status { strong when score >= 2, weak otherwise } }
kpi w "T" family efficiency on deal = count(status == won) / count(status in [won, lost]) - 3 - -2
  target >= 30%
kpi cycle on deal = mean(close_date - created_at where status == won) target <= 90d
plan p for AE { effective 2026-01-01 to 2026-12-31 communicated 2025-12-15 period quarter
  target_variable 40K EUR per year
  measure n weight 60% { credit amount - cost of deals where type == new_logo and status == won
    quota new_logo curve { below 80% pay 0% at 80% pay 50% slope 1.5 to 130% slope 2 } cap 200% }
  measure r weight 40% { credit count of deals where reached(qualification) to sdr_id
    dated entered_at(qualification) quota sdr
    rates on amount method marginal { [0, 100K) 10% [100K, ...) 15% } threshold 80% gate } }
plan q for AE { period quarter proration daily target_variable 30K per year
  measure bookings { credit amount of deals where status == won
    quota formula 250K * territory.potential
    steps { [0%, 80%) 0% [80%, 100%) 50% [100%, ...) 100% } accelerator 2 above 100%
    bonus 2000 when attainment >= 100% cap 200% } }
alert a on deal when n == 3 and d is not missing and close_date >= 2026-01-01 and contacts > 3
  and 50K€ < 3 severity warning
alert low on rep when period == "2026-Q2" and attainment(bookings) < 40%
pipeline p on deal { stage qualification "S" { probability 5%, max_days 14d
    exit a "b": x in [a, b] action "x" }
  stage proposal { exit sent: poc_done } expect conversion qualification -> proposal >= 50% }
playbook x on deal when type == new_logo and amount > 100K {
  require a: contacts >= 3 before proposal recommend poc: poc_done expect win_rate 30%..40% }
role AE "x" { mission "m" kpis w, cycle plan p, q }
ritual w every week { show stale_deals, w }
strategy "x" { target revenue 8M from 5M growth n 100% when type == new_logo
  focus sector in ["a"] channel direct 100% }
qualify deal { use bant when amount < 50K use meddpicc otherwise }
"""


def test_clean_ruleset_has_no_findings() -> None:
    module = parsed(CLEAN)
    result = check([module], strict=True)
    assert result.diagnostics == []
    assert result.ok
    assert set(result.model.scores) == {"b", "bant", "meddpicc"}


def test_passes_are_named_and_ordered() -> None:
    assert [name for name, _ in PASSES] == [
        "header", "declarations", "names", "types", "tables", "strategy", "schedule", "lints",
    ]  # fmt: skip


def test_every_emitted_code_is_registered() -> None:
    folder = Path(checker.__file__).parent
    texts = [p.read_text(encoding="utf-8") for p in folder.glob("*.py")]
    emitted = {code for text in texts for code in re.findall(r'"([EW]\d{3})"', text)}
    assert "E201" in emitted
    assert emitted <= set(CODES)


# ----------------------------------------------------------------------------- header
def test_missing_header() -> None:
    assert findings_of(["kpi k on deal = count()\n"]) == [
        error(
            "E005",
            "no `ruleset` header",
            "",
            'start one file with `ruleset <id> "Label" { currency EUR rounding half_up 0.01 }`',
        )
    ]


def test_second_header_in_another_file() -> None:
    assert findings_of([HEADER, "\nruleset other { }\n"]) == [
        error(
            "E005",
            "a second `ruleset` header",
            "other",
            "the ruleset is declared at f0.krl:1; keep one header per ruleset folder",
        )
    ]


def test_currency_and_rounding() -> None:
    text = "ruleset t { currency eur rounding half_upp 0 }\n"
    assert findings_of([text]) == [
        error("E210", "`eur` is not a currency code", "eur", "write it in capitals: EUR"),
        error("E210", "unknown rounding mode `half_upp`", "half_upp", "did you mean `half_up`?"),
        error(
            "E409",
            "rounding step 0 must be above 0",
            "0",
            "e.g. 0.01 to round to cents, 1 to whole units",
        ),
    ]


# ----------------------------------------------------------------------------- declarations
@pytest.mark.parametrize(
    ("body", "name"),
    [
        ("kpi k on deal = count()\nkpi k on deal = count()\n", "k"),
        (
            "pipeline a on deal { stage s { exit e: true } }\n"
            "pipeline b on deal { stage s { exit e: true } }\n",
            "s",
        ),
        ("plan p for AE { period quarter measure m { credit amount of deals commission 5% }\n"
         "  measure m { credit amount of deals commission 5% } }\nrole AE { }\n", "m"),
        ("score s on lead { c { otherwise -> 1 }\n c { otherwise -> 1 } }\n", "c"),
        ("pipeline a on deal { stage s { exit e: true\n exit e: true } }\n", "e"),
        ("record deal { tier text }\nrecord deal { tier text }\n", "tier"),
        ("record lead { budget one_of yes, no, yes }\n", "yes"),
    ],
)  # fmt: skip
def test_duplicates_underline_the_second(body: str, name: str) -> None:
    assert findings(body) == [
        error("E207", f"`{name}` is already defined", name, "first defined at f0.krl:2")
    ]


def test_unknown_record_did_you_mean() -> None:
    assert findings("score s on leed { c { otherwise -> 1 } }\nrecord dael { x text }\n") == [
        error("E208", "unknown record `leed`", "leed", "did you mean `lead`?"),
        error("E208", "unknown record `dael`", "dael", "did you mean `deal`?"),
    ]


def test_credit_names_records_in_plural() -> None:
    assert findings(
        "role AE { }\nplan p for AE { period quarter\n"
        "  measure m { credit amount of deal commission 5% } }\n"
    ) == [error("E208", "unknown records `deal`", "deal", "did you mean `deals`?")]


def test_canonical_column_may_only_narrow() -> None:
    assert findings(
        "record deal { status one_of won, maybe amount text stage one_of open_stage, closed }\n"
    ) == [
        error("E301", "`maybe` is not a value of deal.status", "maybe",
              "deal.status takes open, won or lost"),
        error("E301", "`amount` is a money column of deal; it cannot become text", "text",
              "keep it money"),
    ]  # fmt: skip


# ----------------------------------------------------------------------------- names
def test_misspelt_field_did_you_mean() -> None:
    assert findings("alert a on deal when amout > 50K\n") == [
        error("E201", "unknown field `amout` on deal", "amout", "did you mean `amount`?")
    ]


def test_unknown_field_without_close_match() -> None:
    assert findings("alert a on deal when zzz\n") == [
        error(
            "E201",
            "unknown field `zzz` on deal",
            "zzz",
            "deal has no field `zzz`; declare it in `record deal { ... }`",
        )
    ]


def test_text_field_compared_with_a_bare_name() -> None:
    assert findings("record deal { sector text }\nalert a on deal when sector == industrie\n") == [
        error(
            "E201",
            "unknown field `industrie` on deal",
            "industrie",
            '`sector` is text: quote the value, "industrie"',
        )
    ]


def test_dotted_field_from_rep_context() -> None:
    body = (
        "role AE { }\nplan p for AE { period quarter target_variable 1K per year measure m {\n"
        "  credit amount of deals quota formula 250K * territory.potentiel\n"
        "  steps { [0%, ...) 10% } } }\n"
    )
    assert findings(body) == [
        error(
            "E201",
            "unknown field `potentiel` on territory",
            "territory.potentiel",
            "did you mean `potential`?",
        )
    ]


def test_misspelt_stage_did_you_mean() -> None:
    body = (
        "pipeline p on deal { stage proposal { exit e: true } }\n"
        "playbook b on deal { require r: contacts > 2 before propsal }\n"
        "alert a on deal when reached(proposl)\n"
    )
    assert findings(body) == [
        error("E202", "unknown stage `propsal`", "propsal", "did you mean `proposal`?"),
        error("E202", "unknown stage `proposl`", "proposl", "did you mean `proposal`?"),
    ]


def test_expect_conversion_names_stages_of_its_pipeline() -> None:
    body = (
        "pipeline p on deal { stage demo { exit e: true } stage proposal { exit e: true }\n"
        "  expect conversion demo -> propsal >= 50% }\n"
    )
    assert findings(body) == [
        error("E202", "unknown stage `propsal`", "propsal", "did you mean `proposal`?")
    ]


def test_misspelt_score_did_you_mean_and_wrong_record() -> None:
    body = (
        "score meddpicc on deal { c { otherwise -> 1 } }\n"
        "score bmanter on lead { c { otherwise -> 1 } }\n"
        "qualify deal { use medpicc when amount < 50K use bmanter otherwise }\n"
    )
    assert findings(body) == [
        error("E203", "unknown score `medpicc`", "medpicc", "did you mean `meddpicc`?"),
        error(
            "E203",
            "score `bmanter` is on lead, not deal",
            "bmanter",
            "`qualify deal` routes to scores on deal",
        ),
    ]


def test_misspelt_plan_role_and_kpi_did_you_mean() -> None:
    body = (
        "kpi win_rate on deal = count(status == won)\n"
        "role AE { kpis win_rat plan ae_2026 }\n"
        "plan ae_2025 for SDR { period quarter\n"
        "  measure m { credit amount of deals commission 5% } }\n"
    )
    assert findings(body) == [
        error("E206", "unknown KPI `win_rat`", "win_rat", "did you mean `win_rate`?"),
        error("E204", "unknown plan `ae_2026`", "ae_2026", "did you mean `ae_2025`?"),
        error("E205", "unknown role `SDR`", "SDR", "the roles are AE"),
    ]


def test_ritual_shows_reports_or_kpis() -> None:
    assert findings("ritual weekly every week { show stale_deal, pipeline_kpi }\n") == [
        error("E213", "unknown report or KPI `stale_deal`", "stale_deal",
              "did you mean `stale_deals`?"),
        error("E213", "unknown report or KPI `pipeline_kpi`", "pipeline_kpi",
              "the reports are stale_deals, missing_exit_criteria, kpis, alerts, attainment or "
              "funnel, or name a KPI"),
    ]  # fmt: skip


def test_misspelt_enum_value_did_you_mean() -> None:
    body = (
        "record lead { budget one_of confirmed, to_validate }\n"
        "score s on lead { budget { confirmd -> 20 } c { when budget == confirmd -> 1 }\n"
        "  d { when budget in [confirmed, to_valdate] -> 1 }\n"
        '  e { when budget == "Confirmed" -> 1 } }\n'
    )
    assert findings(body) == [
        error("E209", "unknown value `confirmd` for `budget`", "confirmd",
              "did you mean `confirmed`?"),
        error("E209", "unknown value `confirmd` for `budget`", "confirmd",
              "did you mean `confirmed`?"),
        error("E209", "unknown value `to_valdate` for `budget`", "to_valdate",
              "did you mean `to_validate`?"),
        error("E209", 'unknown value "Confirmed" for `budget`', '"Confirmed"',
              "did you mean `confirmed`?"),
    ]  # fmt: skip


#: A plan measure that is fine, for the plans of the keyword tests.
M = "measure m { credit amount of deals commission 5% }"


@pytest.mark.parametrize(
    ("body", "bad", "what", "allowed"),
    [
        (f"plan p for AE {{ period fortnight {M} }}", "fortnight", "period",
         "month, quarter or year"),
        (f"plan p for AE {{ period quarter target_variable 1K per decade {M} }}", "decade",
         "period", "month, quarter or year"),
        (f"plan p for AE {{ period quarter proration weekly {M} }}", "weekly", "proration",
         "daily or none"),
        ("plan p for AE { period quarter\n"
         "  measure m { credit amount of deals quota q threshold 80% hard } }",
         "hard", "threshold mode", "gate or floor"),
        ("plan p for AE { period quarter\n"
         "  measure m { credit amount of deals rates method flat { [0, ...) 5% } } }",
         "flat", "rate method", "retroactive or marginal"),
        ("plan p for AE { period quarter\n"
         "  measure m { credit amount of deals rates on revenue method marginal"
         " { [0, ...) 5% } } }", "revenue", "rate basis", "attainment or amount"),
        ("ritual r every day { show kpis }", "day", "ritual frequency", "week, month or quarter"),
        ("alert a on deal when true severity high", "high", "severity",
         "info, warning or critical"),
        ("kpi k family growth on deal = count()", "growth", "KPI family",
         "volume, profitability, efficiency or quality"),
    ],
)  # fmt: skip
def test_keyword_values(body: str, bad: str, what: str, allowed: str) -> None:
    assert findings(body + "\nrole AE { }\n") == [
        error("E210", f"unknown {what} `{bad}`", bad, f"use {allowed}")
    ]


def test_keyword_value_did_you_mean() -> None:
    assert findings(f"role AE {{ }}\nplan p for AE {{ period quater {M} }}\n") == [
        error("E210", "unknown period `quater`", "quater", "did you mean `quarter`?")
    ]


def test_misspelt_function_did_you_mean() -> None:
    assert findings("kpi k on deal = cuont(status == won)\n") == [
        error("E211", "unknown function `cuont`", "cuont(status == won)", "did you mean `count`?")
    ]


def test_misspelt_measure_in_attainment() -> None:
    body = (
        "role AE { }\nplan p for AE { period quarter\n"
        "  measure bookings { credit amount of deals commission 5% } }\n"
        "alert low on rep when attainment(booking) < 40%\n"
    )
    assert findings(body) == [
        error("E212", "unknown measure `booking`", "booking", "did you mean `bookings`?")
    ]


def test_names_not_available_in_context() -> None:
    body = (
        "kpi k on deal = amount\n"
        "alert a on deal when count(status == won) > 3 and attainment(m) > 1\n"
    )
    assert findings(body) == [
        error("E214", "`amount` is a field of each deal; a KPI reads it inside an aggregate",
              "amount", "e.g. sum(amount), mean(amount) or count(amount is not missing)"),
        error("E214", "`count` is not available here", "count(status == won)",
              "aggregates belong in a KPI value; here one record is read"),
        error("E214", "`attainment` is not available here", "attainment(m)",
              "attainment is known per rep and period: use it in an expression on rep"),
    ]  # fmt: skip


def test_dotted_names_need_a_linked_record() -> None:
    body = 'alert a on deal when rep.name == "x"\nalert b on rep when team.size > 1\n'
    assert findings(body) == [
        error("E201", "unknown field `rep.name` on deal", "rep.name",
              "a dotted name reads a linked record's field"),
        error("E201", "unknown field `team.size` on rep", "team.size",
              "a dotted name reads a linked record's field, e.g. `territory.<field>`"),
    ]  # fmt: skip


def test_functions_that_take_ids() -> None:
    body = (
        "role AE { }\nplan p for AE { period quarter\n"
        "  measure bookings { credit amount of deals commission 5% } }\n"
        "kpi k on rep = attainment(bookings) + count(attainment(bookings) >= 100%)\n"
        "alert a on lead when reached(demo)\n"
        "alert b on rep when attainment(1 + 1) > 1\n"
    )
    assert findings(body) == [
        error("E214", "`attainment` is not available here", "attainment(bookings)",
              "it reads one rep: use it inside an aggregate"),
        error("E214", "`reached` is not available here", "reached(demo)",
              "it reads a deal's stage history; lead has none"),
        error("E301", "`attainment` takes a measure id", "1 + 1",
              "attainment(measure), e.g. attainment(bookings)"),
    ]  # fmt: skip


def test_quoted_option_and_lists_compared_with_values() -> None:
    body = 'alert a on deal when type in ["upsel"] or type == [new_logo] or [won] == status\n'
    assert findings(body) == [
        error("E209", 'unknown value "upsel" for `type`', '"upsel"', "did you mean `upsell`?"),
        error("E301", "cannot compare one_of with a list", "type == [new_logo]",
              "use `in` to test whether a value is in a list"),
        error("E301", "cannot compare a list with one_of", "[won] == status",
              "use `in` to test whether a value is in a list"),
    ]  # fmt: skip


def test_criterion_fields() -> None:
    body = (
        "record lead { level text tier text }\n"
        "score s on lead { m -> level tier { high -> 3 } grade { a -> 1 } }\n"
    )
    assert findings(body) == [
        error("E301", "criterion `m` takes its points from `level`, which is text", "level",
              "the points of `criterion -> field` come from a number or integer field"),
        error("E301", "value cases need a one_of field; `tier` is text", "tier",
              "use `when` cases, e.g. `when tier > 0 -> 5`"),
        error("E201", "unknown field `grade` on lead", "grade",
              "a criterion with value cases scores the field it is named after; name it after a "
              "field or add `of <field>`"),
    ]  # fmt: skip


def test_duplicate_qualification() -> None:
    body = (
        "score s on deal { c { otherwise -> 1 } }\n"
        "qualify deal { use s otherwise }\nqualify deal { use s otherwise }\n"
    )
    assert findings(body) == [
        error("E207", "`qualify deal` is already defined", "deal", "first defined at f0.krl:3")
    ]


# ----------------------------------------------------------------------------- types
def test_condition_must_be_boolean() -> None:
    assert findings("alert a on deal when amount\n") == [
        error(
            "E302",
            "expected a condition (true or false), found money",
            "amount",
            "a condition compares values (`amount > 50K`), tests a list "
            "(`type in [new_logo, upsell]`) or reads a yes/no field",
        )
    ]


def test_one_of_used_as_condition() -> None:
    assert findings("score s on deal { c { when status and amount > 1 -> 1 } }\n") == [
        error(
            "E302",
            "expected a condition (true or false), found one_of",
            "status",
            "compare it with one of its values, e.g. `status == open`",
        )
    ]


def test_comparison_sides_must_agree() -> None:
    body = (
        'alert a on deal when close_date > amount or created_at == "2026-01-01"\n'
        "alert b on deal when close_date - created_at > 30 or type < upsell\n"
    )
    assert findings(body) == [
        error("E301", "cannot compare date with money", "close_date > amount", None),
        error("E301", "cannot compare date with text", 'created_at == "2026-01-01"',
              "write dates without quotes, like 2026-01-01"),
        error("E301", "cannot compare duration with number", "close_date - created_at > 30",
              "write a duration with its unit, like 30d"),
        error("E301", "`<` needs numbers, amounts, dates or durations; found one_of",
              "type < upsell", "use == or != (or `in`) for values that have no order"),
    ]  # fmt: skip


def test_arithmetic_types() -> None:
    body = "alert a on deal when amount * cost > 0 or close_date + created_at > 2026-01-01\n"
    assert findings(body) == [
        error("E301", "cannot multiply money by money", "amount * cost",
              "multiply an amount by a number or a percentage, not by another amount"),
        error("E301", "cannot add date and date", "close_date + created_at",
              "subtract two dates to get a duration; add a duration like 14d to a date"),
    ]  # fmt: skip


def test_wrong_number_of_arguments() -> None:
    assert findings("kpi k on deal = sum(amount, cost) + count(true, false)\n") == [
        error("E303", "`sum` takes 1 argument, got 2", "sum(amount, cost)",
              "sum(value) or sum(value where condition)"),
        error("E303", "`count` takes 0 or 1 argument, got 2", "count(true, false)",
              "count() or count(condition)"),
    ]  # fmt: skip


def test_credit_expectations() -> None:
    body = (
        "role AE { }\nplan p for AE { period quarter measure m {\n"
        "  credit close_date of deals to contacts dated amount commission 5% } }\n"
    )
    assert findings(body) == [
        error("E301", "a credit is a number or an amount; found date", "close_date",
              "e.g. `credit amount of deals` or `credit count of deals`"),
        error("E301", "`to` names the rep a credit goes to: a text field; `contacts` is integer",
              "contacts", "e.g. `to sdr_id`, with `sdr_id text` declared on the record"),
        error("E301", "`dated` takes a date; found money", "amount",
              "e.g. `dated close_date` or `dated entered_at(qualification)`"),
    ]  # fmt: skip


def test_amount_in_another_currency() -> None:
    assert findings("alert a on deal when amount > 50K USD\n") == [
        error(
            "E301",
            "amount in USD, but the ruleset's currency is EUR",
            "50K USD",
            "write it in EUR, or without a currency",
        )
    ]


def test_kpi_target_matches_its_value() -> None:
    assert findings("kpi cycle on deal = mean(close_date - created_at) target <= 90\n") == [
        error(
            "E301",
            "the target is a number, but the KPI is a duration",
            "90",
            "write a duration target with its unit, like 60d",
        )
    ]


def test_where_filters_only_aggregates() -> None:
    assert findings("kpi k on deal = abs(sum(amount) where true)\n") == [
        error("E303", "`abs` takes no `where` filter", "true",
              "only count, sum, mean and median filter: sum(amount where status == won)"),
    ]  # fmt: skip


def test_function_argument_types() -> None:
    body = "alert a on deal when min(amount, close_date) > 1 or abs(status) > 1 or -status == 1\n"
    assert findings(body) == [
        error("E301", "`min` needs two values of one kind; found money and date",
              "min(amount, close_date)", "min(a, b)"),
        error("E301", "`abs` needs numbers, amounts or durations; found one_of", "status",
              "abs(x)"),
        error("E301", "cannot negate one_of", "-status", None),
    ]  # fmt: skip


def test_kpi_is_a_number() -> None:
    assert findings("kpi k on deal = count() > 3\nkpi m on deal = mean(status)\n") == [
        error("E301", "a KPI is a number, an amount, a percentage or a duration; found boolean",
              "count() > 3", "e.g. count(status == won) or sum(amount where status == won)"),
        error("E301", "`mean` needs numbers, amounts or durations; found one_of", "status",
              "mean(value) or mean(value where condition)"),
    ]  # fmt: skip


def test_logic_operands_are_conditions() -> None:
    assert findings("alert a on deal when not amount or (1 and true)\n") == [
        error("E302", "expected a condition (true or false), found money", "amount",
              "a condition compares values (`amount > 50K`), tests a list "
              "(`type in [new_logo, upsell]`) or reads a yes/no field"),
        error("E302", "expected a condition (true or false), found number", "1",
              "a condition compares values (`amount > 50K`), tests a list "
              "(`type in [new_logo, upsell]`) or reads a yes/no field"),
    ]  # fmt: skip


def test_empty_ranges() -> None:
    body = "record deal { level integer 5..1 }\nalert a on deal when contacts in 6..3\n"
    assert findings(body) == [
        error("E409", "range 5..1 is empty: 5 is above 1", "5..1",
              "write the lower bound first: 1..5"),
        error("E409", "range 6..3 is empty: 6 is above 3", "6..3",
              "write the lower bound first: 3..6"),
    ]  # fmt: skip


# ----------------------------------------------------------------------------- tables
def _steps(bands: str) -> str:
    return (
        "role AE { }\nplan p for AE { period quarter target_variable 1K per year measure m {\n"
        f"  credit amount of deals quota q steps {{ {bands} }} }} }}\n"
    )


@pytest.mark.parametrize(
    ("bands", "message", "underlined", "help_text"),
    [
        ("[0%, 90%) 0% [95%, ...) 50%", "gap between 90% and 95%", "[95%, ...) 50%",
         "start this band where the previous one ends, at 90%"),
        ("[0%, 90%) 0% [80%, ...) 50%", "overlap between 80% and 90%", "[80%, ...) 50%",
         "start this band where the previous one ends, at 90%"),
        ("[0%, 90%) 0% (90%, ...) 50%", "gap at 90%: neither band includes it", "(90%, ...) 50%",
         "include it in one band: [a, 90%) then [90%, b)"),
        ("[0%, 90%] 0% [90%, ...) 50%", "overlap at 90%: both bands include it",
         "[90%, ...) 50%", "include it in one band only: [a, 90%) then [90%, b)"),
        ("[10%, 90%) 0% [90%, ...) 50%", "the first band starts at 10%, not at 0",
         "[10%, 90%) 0%", "start the table at 0, e.g. [0%, 10%) 0%"),
        ("[0%, ...) 0% [90%, 100%) 50%", "only the last band may be open-ended", "[0%, ...) 0%",
         "give this band an upper bound, e.g. [0%, 80%)"),
        ("[0%, 0%) 0% [0%, ...) 50%", "band from 0% to 0% is empty", "[0%, 0%) 0%",
         "a band's lower bound comes first and is below its upper bound"),
    ],
)  # fmt: skip
def test_tier_bands(bands: str, message: str, underlined: str, help_text: str) -> None:
    assert findings(_steps(bands)) == [error("E401", message, underlined, help_text)]


def test_contiguous_bands_with_inclusivity_are_fine() -> None:
    assert findings(_steps("[0%, 80%) 0% [80%, 100%] 50% (100%, ...) 100%")) == []


def test_rates_on_amount_take_amounts() -> None:
    body = (
        "role AE { }\nplan p for AE { period quarter measure m {\n"
        "  credit amount of deals rates on amount method marginal {\n"
        "    [0, 80%) 5% [80%, ...) 8% } } }\n"
    )
    assert findings(body) == [
        error("E301", "the bounds of `rates` are amounts like 100K; found 80%", "80%",
              "write every bound of one table the same way")
    ]  # fmt: skip


def test_measure_weights_sum_to_100() -> None:
    body = (
        "role AE { plan p, q }\nplan p for AE { period quarter\n"
        "  measure a weight 60% { credit amount of deals commission 5% }\n"
        "  measure b weight 30% { credit amount of deals commission 5% } }\n"
        "plan q for AE { period quarter\n"
        "  measure a weight 100% { credit amount of deals commission 5% }\n"
        "  measure b { credit amount of deals commission 5% } }\n"
    )
    assert findings(body) == [
        error("E402", "weights sum to 90%", "p", "make the weights add up to 100% (a 60%, b 30%)"),
        error("E402", "measure `b` has no weight", "b",
              "plan `q` weights its other measures: weight every measure, the weights summing "
              "to 100%"),
    ]  # fmt: skip


def test_score_criteria_must_reach_the_max() -> None:
    body = (
        "record lead { budget one_of yes, no  level integer 0..5 }\n"
        "score s on lead max 100 { budget { yes -> 20, no -> 0 }\n"
        "  t { when level > 3 -> 70, otherwise -> 0 } m -> level }\n"
    )
    assert findings(body) == [
        error("E403", "criteria can reach at most 95 of 100", "100",
              "the most each criterion gives: budget 20, t 70, m 5"),
    ]  # fmt: skip


def test_score_max_unknown_when_a_field_has_no_range() -> None:
    body = "record lead { level integer }\nscore s on lead max 100 { m -> level }\n"
    assert findings(body) == []


def test_status_threshold_must_be_reachable() -> None:
    body = (
        'score s on lead max 10 { c { when source == "x" -> 10, otherwise -> 0 }\n'
        "  status { top when score > 10, good when score >= 10, low otherwise } }\n"
    )
    assert findings(body) == [
        error("E404", "status `top` can never be reached: the score is at most 10",
              "score > 10", "lower the threshold below 10"),
    ]  # fmt: skip


def test_cases_after_otherwise_are_unreachable() -> None:
    body = (
        'score s on lead { c { when source == "x" -> 1, otherwise -> 0, when true -> 5 }\n'
        "  status { low otherwise, high when score > 0 } }\n"
    )
    assert findings(body) == [
        error("E405", "unreachable: `otherwise` above already matches everything",
              "when true -> 5", "move `otherwise` to the end"),
        error("E405", "unreachable: `otherwise` above already matches everything",
              "high when score > 0", "move `otherwise` to the end"),
    ]  # fmt: skip


def test_repeated_value_case() -> None:
    body = (
        "record lead { budget one_of yes, no }\nscore s on lead { budget { yes -> 2, yes -> 5 } }\n"
    )
    assert findings(body) == [
        warning("W504", "`yes` is already matched above", "yes -> 5",
                "the first matching case wins: remove this one"),
    ]  # fmt: skip


def test_stage_without_exit_criterion() -> None:
    assert findings('pipeline p on deal { stage demo "Démo" { probability 40% } }\n') == [
        error("E406", "stage `demo` has no exit criterion", "demo",
              'add `exit <id> "Label": <condition>`: what must hold before a deal leaves the '
              "stage"),
    ]  # fmt: skip


def test_plan_structure() -> None:
    body = (
        "role AE { }\nplan p for AE { period quarter\n"
        "  measure a { commission 5% }\n"
        "  measure b { credit amount of deals credit cost of deals commission 5% per_unit 10 }\n"
        "  measure c { credit amount of deals curve { at 100% pay 100% }\n"
        "    bonus 500 when attainment >= 100% } }\n"
    )
    assert findings(body) == [
        error("E408", "measure `a` has no `credit`", "a",
              "say what it credits, e.g. `credit amount of deals where status == won`"),
        error("E408", "measure `b` has 2 `credit` rules", "credit cost of deals",
              "a measure credits one thing: split it into several measures"),
        error("E408", "measure `b` has two payout methods: commission and per_unit",
              "per_unit 10",
              "keep one of commission, rates, steps, curve or per_unit per measure"),
        error("E408", "`curve` pays on attainment, but measure `c` has no quota",
              "curve { at 100% pay 100% }",
              "add `quota <measure id>` (read from the quotas table) or "
              "`quota formula <expression>`"),
        error("E408", "`curve` is a share of the target variable, but plan `p` has none",
              "curve { at 100% pay 100% }",
              "add `target_variable <amount> per <period>` to the plan, e.g. "
              "`target_variable 40K per year`"),
        error("E408", "`bonus` pays on attainment, but measure `c` has no quota",
              "bonus 500 when attainment >= 100%",
              "add `quota <measure id>` (read from the quotas table) or "
              "`quota formula <expression>`"),
    ]  # fmt: skip


def test_bounds() -> None:
    body = (
        "role AE { }\nplan p for AE { period quarter effective 2026-12-31 to 2026-01-01\n"
        "  target_variable 1K per year measure m { credit amount of deals quota q\n"
        "    curve { at 100% pay 100% at 90% pay 100% } } }\n"
        "playbook x on deal { expect win_rate 40%..30% }\n"
    )
    assert findings(body) == [
        error("E409", "plan `p` ends on 2026-01-01, before it starts on 2026-12-31",
              "effective 2026-12-31 to 2026-01-01", "write `effective <start> to <end>`"),
        error("E409", "curve levels must increase: 90% comes after 100%", "at 90% pay 100%",
              "list the points from the lowest attainment to the highest"),
        error("E409", "win rate 40%..30% is empty: 40% is above 30%", "expect win_rate 40%..30%",
              "write the lower bound first: 30%..40%"),
    ]  # fmt: skip


def test_curve_point_order() -> None:
    body = (
        "role AE { }\nplan p for AE { period quarter target_variable 1K per year measure m {\n"
        "  credit amount of deals quota q\n"
        "  curve { at 80% pay 50% below 70% pay 60% slope 1 at 120% pay 200% } } }\n"
    )
    assert findings(body) == [
        error("E409", "`below` must be the first point of a curve", "below 70% pay 60%",
              "`below L pay P` says what is paid under the first level"),
        error("E409", "a slope without `to` runs on forever: it must be the last point",
              "slope 1", "add `to <level>` to end it, e.g. `slope 1.5 to 130%`"),
    ]  # fmt: skip


def test_quota_and_target_variable_bookkeeping() -> None:
    body = (
        "role AE { }\nplan p for AE { period quarter\n"
        "  measure m { credit amount of deals quota q quota formula 1 commission 5% cap 200% } }\n"
    )
    assert findings(body) == [
        error("E408", "measure `m` has 2 quotas", "quota formula 1",
              "keep one: `quota <measure id>` or `quota formula <expression>`"),
        error("E408", "`cap` is a share of the target variable, but plan `p` has none",
              "cap 200%", "add `target_variable <amount> per <period>` to the plan, e.g. "
              "`target_variable 40K per year`"),
    ]  # fmt: skip


def test_knockouts_apply_wherever_they_are() -> None:
    body = (
        "score s on lead { c { otherwise -> 1 } status { low otherwise knockout x when true } }\n"
    )
    assert findings(body) == []


# ----------------------------------------------------------------------------- lints
def test_too_many_kpis_for_a_role() -> None:
    kpis = "".join(f"kpi k{i} on deal = count()\n" for i in range(8))
    body = kpis + "role AE { kpis k0, k1, k2, k3\n kpis k4, k5, k6, k7 }\n"
    assert findings(body) == [
        error("E407", "role `AE` has 8 KPIs; the method allows at most 7", "AE",
              "keep the KPIs that measure results; follow the others in reports"),
    ]  # fmt: skip


def test_activity_kpi() -> None:
    body = (
        "record deal { nb_calls integer }\n"
        "kpi effort on deal = sum(nb_calls)\nkpi emails on deal = count()\n"
        "kpi bookings on deal = sum(amount where status == won)\n"
    )
    help_text = (
        "KPIs measure results (bookings, conversion, margin); track activity as a leading "
        "indicator, not a KPI"
    )
    assert findings(body) == [
        warning("W501", "KPI `effort` counts an activity (`nb_calls`)", "effort", help_text),
        warning("W501", "KPI `emails` counts an activity (`emails`)", "emails", help_text),
    ]


def test_objectives_communicated_late() -> None:
    body = (
        "role AE { }\nplan p for AE { period quarter\n"
        "  effective 2026-01-01 to 2026-12-31 communicated 2026-01-15\n"
        "  measure m { credit amount of deals commission 5% } }\n"
    )
    assert findings(body) == [
        warning(
            "W502",
            "objectives communicated on 2026-01-15, after the period starts on 2026-01-01",
            "communicated 2026-01-15",
            "French case law requires objectives to be known at the start of the period: "
            "communicate them on or before 2026-01-01",
        )
    ]


def test_payout_that_can_decrease() -> None:
    body = (
        "role AE { }\nplan p for AE { period quarter target_variable 1K per year\n"
        "  measure a { credit amount of deals quota q\n"
        "    curve { at 80% pay 50% at 100% pay 40% slope -1 to 120% } }\n"
        "  measure b { credit amount of deals quota q steps { [0%, 100%) 50% [100%, ...) 25% }\n"
        "    accelerator -1 above 100% }\n"
        "  measure c { credit amount of deals quota q\n"
        "    rates method retroactive { [0%, 100%) 10% [100%, ...) 5% } }\n"
        "  measure d { credit amount of deals quota q\n"
        "    rates method marginal { [0%, 100%) 10% [100%, ...) 5% } } }\n"
    )
    help_text = (
        "a payout that falls as attainment rises punishes selling more: make it non-decreasing"
    )
    assert findings(body) == [
        warning("W503", "pay falls to 40% at 100%, from 50% before", "at 100% pay 40%", help_text),
        warning("W503", "slope -1 lowers pay", "slope -1 to 120%", help_text),
        warning("W503", "pays 25% from 100%, less than the 50% paid from 0%",
                "[100%, ...) 25%", help_text),
        warning("W503", "accelerator -1 lowers pay above 100%", "accelerator -1 above 100%",
                help_text),
        warning("W503", "pays 5% from 100%, less than the 10% paid from 0%", "[100%, ...) 5%",
                help_text),
    ]  # fmt: skip


def test_curve_after_a_slope_is_compared_with_the_sloped_pay() -> None:
    body = (
        "role AE { }\nplan p for AE { period quarter target_variable 1K per year measure a {\n"
        "  credit amount of deals quota q\n"
        "  curve { at 100% pay 100% slope 2 to 120% at 130% pay 130% } } }\n"
    )
    [finding] = findings(body)
    assert finding[:4] == ("W503", "warning", "pay falls to 130% at 130%, from 140% before",
                           "at 130% pay 130%")  # fmt: skip


# ----------------------------------------------------------------------------- strict, order
def test_strict_turns_warnings_into_errors() -> None:
    body = "record lead { budget one_of yes }\nscore s on lead { budget { yes -> 1, yes -> 2 } }\n"
    [relaxed] = findings(body)
    [strict] = findings(body, strict=True)
    assert relaxed[1] == "warning"
    assert strict == ("W504", "error", *relaxed[2:])


def test_all_errors_are_collected_and_sorted() -> None:
    second = "alert b on deal when amout > 1\n"
    first = "kpi k on deal = cuont()\nalert a on deal when stauts == won\n"
    result = check([parsed(HEADER + second, "b.krl"), parsed(first, "a.krl")])
    assert [(d.span.path, d.span.line, d.code) for d in result.diagnostics] == [
        ("a.krl", 1, "E211"),
        ("a.krl", 2, "E201"),
        ("b.krl", 2, "E201"),
    ]
    assert [d.help for d in result.diagnostics] == [
        "did you mean `count`?",
        "did you mean `status`?",
        "did you mean `amount`?",
    ]
    assert not result.ok


def test_one_mistake_is_reported_once() -> None:
    # The unknown field types as `any`: no type error follows from it, nor for `won` beside it.
    assert findings("alert a on deal when (stauts == won) and amout + 1 > 3\n") == [
        error("E201", "unknown field `stauts` on deal", "stauts", "did you mean `status`?"),
        error("E201", "unknown field `amout` on deal", "amout", "did you mean `amount`?"),
    ]


def test_long_conditions_do_not_recurse() -> None:
    # The longest chain the parser accepts (tests/dsl/test_robust_limits.py: one term more).
    condition = " and ".join(["amount > 1"] * (MAX_EXPRESSION_DEPTH - 1))
    assert findings(f"alert a on deal when {condition}\n") == []


def test_deeply_nested_expression_is_a_finding_not_a_crash() -> None:
    # Past MAX_EXPRESSION_DEPTH the parser refuses it; the typer still survives a tree built
    # by code, which no parser limit protects.
    deep: n.Expr = n.Bool(True)
    for _ in range(3000):
        deep = n.Unary("not", deep)
    module = parsed(HEADER + "alert a on deal when true\n")
    alert = module.declarations[-1]
    assert isinstance(alert, n.Alert)
    module = dataclasses.replace(
        module, declarations=(*module.declarations[:-1], dataclasses.replace(alert, condition=deep))
    )
    assert [(d.code, d.message) for d in check([module]).diagnostics] == [
        ("E004", "expression nested too deeply")
    ]


def test_no_modules_no_findings() -> None:
    assert check([]).diagnostics == []


# ----------------------------------------------------------------------------- type_of_expr
def _expr(text: str) -> n.Expr:
    alert = parsed(f"alert a on deal when {text}\n").declarations[0]
    assert isinstance(alert, n.Alert)
    return alert.condition


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("amount - cost", "money"),
        ("amount * 10%", "money"),
        ("10% * amount", "money"),
        ("amount / cost", "number"),
        ("amount / 2", "money"),
        ("close_date - created_at", "duration"),
        ("close_date + 14d", "date"),
        ("contacts + 1", "number"),
        ("contacts * contacts", "integer"),
        ("status == won", "boolean"),
        ("reached(proposal)", "boolean"),
        ("entered_at(proposal)", "date"),
        ("abs(amount)", "money"),
        ("max(amount, 5)", "money"),
        ("amount * cost", "any"),
        ("amout", "any"),
    ],
)
def test_type_of_expr(text: str, kind: str) -> None:
    module = parsed(HEADER + "pipeline p on deal { stage proposal { exit e: true } }\n")
    scope = scope_for(check([module]).model, "deal")
    assert type_of_expr(_expr(text), scope).kind == kind


def test_type_of_expr_with_extras_and_aggregates() -> None:
    model = check([parsed(HEADER)]).model
    statuses = scope_for(model, "lead", extras={"score": FieldType("number")})
    assert type_of_expr(_expr("score > 70"), statuses) == FieldType("boolean")
    kpi = scope_for(model, "deal", aggregate=True)
    assert type_of_expr(_expr("count(status == won) / count()"), kpi).kind == "number"
    assert type_of_expr(_expr("sum(amount where status == won)"), kpi).kind == "money"
    assert type_of_expr(_expr("mean(contacts)"), kpi).kind == "number"
    assert type_of_expr(_expr("amount"), kpi).kind == "any"
    assert type_of_expr(_expr("amount"), Scope(None)).kind == "any"


# ----------------------------------------------------------------------------- scale
def generate_ruleset(lines: int) -> str:
    """A valid ruleset of about `lines` lines: records, scores, pipelines, KPIs, plans, alerts."""
    out = [
        'ruleset big "Generated" {\n  currency EUR\n  rounding half_up 0.01\n}\n',
        "record deal {\n  sdr_id text\n  budget one_of yes, no, maybe\n  level integer 0..10\n}\n",
    ]
    count = sum(text.count("\n") for text in out)
    i = 0
    while count < lines:
        block = f"""\
role r{i} {{
  mission "Close"
}}

score s{i} "Score {i}" on deal max 30 {{
  budget {{ yes -> 10, no -> 0, maybe -> 5 }}
  level_{i} {{
    when level > 5 and amount > {i}K -> 10
    when level in 1..5 -> 5
    otherwise -> 0
  }}
  lv -> level
  status {{
    good when score >= 20
    fair otherwise
  }}
}}
pipeline p{i} on deal {{
  stage st{i}_a "A" {{
    probability 10%, max_days 14d
    exit e: contacts >= 2 and budget in [yes, maybe]
  }}
  stage st{i}_b "B" {{
    probability 50%
    exit e: reached(st{i}_a) and close_date - created_at < 90d
  }}
  expect conversion st{i}_a -> st{i}_b >= 40%
}}
kpi k{i} on deal = sum(amount - cost where status == won) / count(status in [won, lost])
alert a{i} on deal when stale and amount > 50K and type == new_logo severity warning
plan pl{i} for r{i} {{
  effective 2026-01-01 to 2026-12-31
  period quarter
  target_variable 40K per year
  measure m{i} weight 100% {{
    credit amount of deals where status == won and type != renewal to sdr_id
    quota q{i}
    steps {{ [0%, 80%) 0% [80%, 100%) 50% [100%, ...) 100% }}
    cap 200%
  }}
}}
"""
        out.append(block)
        count += block.count("\n")
        i += 1
    # Several scores on a deal: the qualification says which one applies.
    routes = "".join(f"  use s{j} when amount < {j + 1}K\n" for j in range(i - 1))
    out.append(f"qualify deal {{\n{routes}  use s{i - 1} otherwise\n}}\n")
    return "".join(out)


def test_generated_ruleset_is_clean() -> None:
    text = generate_ruleset(200)
    assert findings_of([text]) == []
