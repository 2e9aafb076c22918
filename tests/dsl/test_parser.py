"""Parser behaviour: the AST it builds and the syntax diagnostics it gives, in full."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest

from dsl import nodes as n
from dsl.diagnostics import render_all
from dsl.parser import MAX_FILE_BYTES, parse, read_source
from dsl.source import SourceFile
from dsl.syntax import MAX_NESTING

SAMPLE = Path(__file__).parent / "samples" / "all_constructs.krl"


def diagnostics_of(text: str) -> list[tuple[str, str, str, str | None]]:
    """(code, message, underlined text, help) of every diagnostic for a source text."""
    parsed = parse(SourceFile("t.krl", text))
    return [
        (d.code, d.message, text[d.span.start : d.span.end], d.help) for d in parsed.diagnostics
    ]


def module_of(text: str) -> n.Module:
    parsed = parse(SourceFile("t.krl", text))
    assert parsed.diagnostics == ()
    assert parsed.module is not None
    return parsed.module


# ----------------------------------------------------------------------------- the AST
def test_sample_with_every_construct_parses() -> None:
    module = module_of(SAMPLE.read_text(encoding="utf-8"))
    kinds = {type(d).__name__ for d in module.declarations}
    assert kinds == {
        "Ruleset", "Record", "Score", "Kpi", "Plan", "Alert", "Pipeline", "Playbook", "Role",
        "Ritual", "Strategy", "Qualify",
    }  # fmt: skip


def test_literals_keep_exact_values() -> None:
    module = module_of(
        "plan p for AE {\n"
        "  effective 2026-01-01 to 2026-12-31\n"
        "  target_variable 1.5M EUR per year\n"
        "  measure m weight 12.5% { credit amount of deals  cap 40_000 }\n"
        "}\n"
    )
    plan = module.declarations[0]
    assert isinstance(plan, n.Plan)
    effective, target, measure = plan.items
    assert isinstance(effective, n.Effective)
    assert effective.start.value == dt.date(2026, 1, 1)
    assert isinstance(target, n.TargetVariable)
    assert target.amount.value == Decimal("1500000")
    assert target.amount.currency == "EUR"
    assert isinstance(measure, n.Measure)
    assert measure.weight is not None and measure.weight.value == Decimal("0.125")
    cap = measure.items[1]
    assert isinstance(cap, n.Cap) and cap.limit == n.Number(Decimal(40000), "40_000")


def test_spans_are_not_part_of_equality() -> None:
    first = module_of("kpi k on deal = count(status == won)\n")
    moved = module_of("\n\n   kpi   k\n on deal =\n count( status==won )\n")
    assert first.declarations == moved.declarations
    assert first.declarations[0].span.line == 1
    assert moved.declarations[0].span.line == 3


def test_precedence_and_keywords_as_field_names() -> None:
    module = module_of("alert a on deal when status == won or type == upsell and amount > 50K\n")
    alert = module.declarations[0]
    assert isinstance(alert, n.Alert)
    condition = alert.condition
    assert isinstance(condition, n.Binary) and condition.op == "or"
    assert isinstance(condition.right, n.Binary) and condition.right.op == "and"
    assert condition.right.right == n.Binary(
        ">", n.Ref(("amount",)), n.Number(Decimal(50000), "50K")
    )


def test_bands_keep_inclusivity_and_open_end() -> None:
    module = module_of(
        "plan p for AE { measure m { credit amount of deals quota q\n"
        "  steps { [0%, 80%) 0%  [80%, 100%] 50%  (100%, ...) 100% } } }\n"
    )
    plan = module.declarations[0]
    assert isinstance(plan, n.Plan)
    steps = plan.measures[0].items[2]
    assert isinstance(steps, n.Steps)
    assert [(b.low_inclusive, b.high_inclusive, b.high is None) for b in steps.bands] == [
        (True, False, False),
        (True, True, False),
        (False, False, True),
    ]


def test_comments_are_kept_with_positions() -> None:
    parsed = parse(SourceFile("t.krl", "# head\nkpi k on deal = count()  # tail\n"))
    assert [(c.text, c.span.line, c.span.column) for c in parsed.comments] == [
        ("# head", 1, 1),
        ("# tail", 2, 26),
    ]


def test_utf8_labels() -> None:
    module = module_of('role AE "Account Exécutive – «senior»" { mission "Closing \\"NB\\"" }\n')
    role = module.declarations[0]
    assert isinstance(role, n.Role)
    assert role.label == "Account Exécutive – «senior»"
    assert role.items[0] == n.Mission('Closing "NB"')


# ----------------------------------------------------------------------------- diagnostics
def test_single_equals_gets_targeted_help() -> None:
    assert diagnostics_of("score s on lead {\n  budget { when budget = confirmed -> 20 }\n}\n") == [
        ("E104", "`=` is not a comparison", "=", "write `==` to compare two values")
    ]


def test_missing_closing_brace_before_next_item() -> None:
    text = (
        "score s on lead {\n  budget { confirmed -> 20 }\n\nscore t on lead {\n  a { x -> 1 }\n}\n"
    )
    assert diagnostics_of(text) == [
        ("E105", "this `{` is not closed before `score` on line 4", "{", "add the missing `}`")
    ]


def test_missing_closing_brace_at_end_of_file() -> None:
    assert diagnostics_of('role AE {\n  mission "m"\n') == [
        ("E105", "this `{` is never closed", "{", "add `}` to close what line 1 opens")
    ]


def test_decimal_comma() -> None:
    assert diagnostics_of("ruleset r {\n  rounding half_up 0,01\n}\n") == [
        ("E106", "decimal comma in a number", "0,0", "write decimals with a dot: 0.01, 12.5%")
    ]


def test_percentage_expected_speaks_the_users_words() -> None:
    text = "pipeline p on deal {\n  stage a {\n    probability 5\n  }\n}\n"
    assert diagnostics_of(text) == [
        ("E101", "unexpected `5`: expected a percentage like 80%", "5", "add a percent sign: 5%")
    ]


def test_misspelt_keyword_did_you_mean() -> None:
    text = "pipeline p on deal {\n  stage a {\n    probabilty 5%\n  }\n}\n"
    assert diagnostics_of(text) == [
        (
            "E101",
            "unexpected name `probabilty`: expected `action`, `exit`, `max_days`, `probability` "
            "or `}`",
            "probabilty",
            "did you mean `probability`?",
        )
    ]


def test_accented_identifier() -> None:
    assert diagnostics_of("score s on lead {\n  budgét { x -> 1 }\n}\n") == [
        (
            "E103",
            "invalid character `é`",
            "é",
            "ids are ASCII (budget_confirme); put accents in quoted labels",
        )
    ]


def test_single_quotes() -> None:
    assert diagnostics_of("score s 'S' on lead { }\n") == [
        ("E103", "invalid character `'`", "'", 'labels use double quotes: "Budget"')
    ]


def test_stray_closing_brace() -> None:
    [(code, message, underlined, help_text)] = diagnostics_of("score s on lead { }\n}\n")
    assert (code, underlined) == ("E101", "}")
    assert message.startswith("unexpected `}`: expected `alert`, `curve`, `define`, `kpi`")
    assert help_text == "this `}` closes nothing: remove it, or look for a missing `{`"


def test_quoted_identifier() -> None:
    assert diagnostics_of('role "AE" { }\n') == [
        (
            "E101",
            'unexpected label "AE": expected a name',
            '"AE"',
            "ids are written without quotes; quotes are for labels",
        )
    ]


def test_invalid_calendar_date() -> None:
    assert diagnostics_of("plan p for AE { effective 2026-13-01 to 2026-12-31 }\n") == [
        ("E107", "`2026-13-01` is not a calendar date", "2026-13-01", None)
    ]


def test_repeated_header_setting() -> None:
    assert diagnostics_of("ruleset r { currency EUR currency USD }\n") == [
        ("E108", "`currency` is set twice", "USD", "keep one")
    ]


def test_every_error_of_a_file_is_collected() -> None:
    text = "score s on lead { a { x -> } }\nkpi k on deal = count(\nrole r { mission 3 }\n"
    assert [(code, underlined) for code, _, underlined, _ in diagnostics_of(text)] == [
        ("E101", "}"),
        ("E105", "("),
        ("E101", "3"),
    ]


def test_rendering_points_at_the_span() -> None:
    source = SourceFile("rulesets/x/main.krl", "kpi k on deal = count(status = won)\n")
    parsed = parse(source)
    assert render_all(parsed.diagnostics, {source.path: source}) == (
        "rulesets/x/main.krl:1:30: error[E104]: `=` is not a comparison\n"
        "   1 | kpi k on deal = count(status = won)\n"
        "                                    ^\n"
        "  help: write `==` to compare two values\n"
        "\n"
        "1 error, 0 warnings\n"
    )


# ----------------------------------------------------------------------------- limits
def test_deep_nesting_is_a_diagnostic() -> None:
    text = "alert a on deal when " + "(" * (MAX_NESTING + 1) + "x" + ")" * (MAX_NESTING + 1)
    [(code, message, underlined, _)] = diagnostics_of(text)
    assert (code, message, underlined) == (
        "E004",
        f"brackets nested more than {MAX_NESTING} deep",
        "(",
    )


def test_long_operator_chains_do_not_overflow() -> None:
    text = "alert a on deal when " + " + ".join(["amount"] * 5000) + " > 1\n"
    parsed = parse(SourceFile("t.krl", text))
    assert parsed.module is not None or [d.code for d in parsed.diagnostics] == ["E004"]


def test_file_too_large(tmp_path: Path) -> None:
    path = tmp_path / "big.krl"
    path.write_bytes(b"#" * (MAX_FILE_BYTES + 1))
    source, problems = read_source(path)
    assert source is None
    assert [(p.code, p.message) for p in problems] == [
        ("E003", f"file is {MAX_FILE_BYTES + 1:,} bytes; the limit is {MAX_FILE_BYTES:,}")
    ]


def test_invalid_utf8_is_located(tmp_path: Path) -> None:
    path = tmp_path / "latin1.krl"
    path.write_bytes('role AE "Exécutif" { }\n'.encode("latin-1"))
    source, problems = read_source(path, "latin1.krl")
    assert source is None
    [problem] = problems
    assert (problem.code, problem.message, problem.span.line, problem.span.column) == (
        "E002",
        "invalid UTF-8 byte 0xe9",
        1,
        12,
    )


def test_utf8_bom_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "bom.krl"
    path.write_bytes(b"\xef\xbb\xbfkpi k on deal = count()\n")
    source, problems = read_source(path)
    assert problems == [] and source is not None
    assert parse(source).diagnostics == ()


@pytest.mark.parametrize("text", ["", "   \n# only a comment\n"])
def test_empty_files_parse(text: str) -> None:
    assert module_of(text).declarations == ()


@pytest.mark.parametrize(
    "text",
    [
        "record deal { x one_of a status one_of won }",
        "record deal { type one_of a, b  status one_of won, lost }",
        'record deal { x one_of a "A" weight number on integer }',
        "score s on lead { m -> level budget { yes -> 1 } }",
    ],
)
def test_keywords_stay_field_names_where_a_name_is_expected(text: str) -> None:
    module_of(text)


def test_trailing_commas_in_name_lists() -> None:
    module = module_of("role AE { kpis a, b, plan p, }\nritual r every week { show a, }\n")
    role = module.declarations[0]
    assert isinstance(role, n.Role)
    assert role.items == (
        n.RoleKpis((n.Ident("a"), n.Ident("b"))),
        n.RolePlans((n.Ident("p"),)),
    )
