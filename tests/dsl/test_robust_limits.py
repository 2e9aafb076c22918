"""Limits that keep `koncept check` honest (issue 15): what check accepts, eval and fmt can run;
check time stays linear in the input; unusable input is an error, never silence; a ruleset's
dates are ones its own data may hold."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import pytest

from dsl import parser
from dsl.formatter import format_text
from dsl.parser import parse
from dsl.source import SourceFile
from dsl.syntax import MAX_EXPRESSION_DEPTH
from engine.cli.main import main
from engine.demo import demo_tables
from engine.loader import load, load_text

RULESETS = Path(__file__).resolve().parents[2] / "rulesets"
HEADER = "ruleset t { currency EUR }\n"
#: A record with yes/no and integer fields to chain (the house's deal: MEDDPICC, exit criteria).
DEALS = (RULESETS / "house" / "deals.krl").read_text(encoding="utf-8")

Finding = tuple[str, str, str, str | None]


def syntax_findings(text: str) -> list[Finding]:
    """(code, message, underlined text, help) of each parse diagnostic."""
    parsed = parse(SourceFile("t.krl", text))
    return [
        (d.code, d.message, text[d.span.start : d.span.end], d.help) for d in parsed.diagnostics
    ]


# ----------------------------------------------------------------------------- 1. deep expressions
DEPTH_HELP = (
    "a chain of `and`, `or` or `+` counts one level per term: shorten it, "
    "or write a long `or` of values as `x in [a, b]`"
)


def _shapes(depth: int) -> dict[str, str]:
    """Conditions exactly `depth` levels deep, one per way of nesting."""
    return {
        "and": " and ".join(["need_identified"] * depth),
        "or": " or ".join(["need_identified"] * depth),
        "plus": " + ".join(["m_metrics"] * (depth - 1)) + " > 3",
        "minus": " - ".join(["m_metrics"] * (depth - 1)) + " > 3",
        "times": " * ".join(["m_metrics"] * (depth - 1)) + " > 3",
        "divide": " / ".join(["m_metrics"] * (depth - 1)) + " > 3",
        "not": "not " * (depth - 1) + "need_identified",
        "negate": "-" * (depth - 2) + "m_metrics > 0",
        # 50 brackets (the limit on those is 64), each one level, around a chain.
        "brackets": "(need_identified and " * 50
        + " or ".join(["need_identified"] * (depth - 50))
        + ")" * 50,
    }


@pytest.mark.parametrize("shape", sorted(_shapes(MAX_EXPRESSION_DEPTH)))
def test_one_level_past_the_expression_limit_is_refused_where_it_crosses(shape: str) -> None:
    condition = _shapes(MAX_EXPRESSION_DEPTH + 1)[shape]
    text = f"alert deep on deal when {condition}\n"
    findings = syntax_findings(text)
    assert [f[:2] for f in findings] == [
        ("E004", f"expression nested more than {MAX_EXPRESSION_DEPTH} deep")
    ]
    (_, _, underlined, help_text) = findings[0]
    assert help_text == DEPTH_HELP
    assert underlined and underlined in condition  # located in the condition, not the alert


def test_a_chain_is_underlined_from_its_start_to_the_term_past_the_limit() -> None:
    terms = [f"f{i}" for i in range(MAX_EXPRESSION_DEPTH + 50)]
    text = "alert deep on deal when " + " and ".join(terms) + "\n"
    assert syntax_findings(text) == [
        (
            "E004",
            f"expression nested more than {MAX_EXPRESSION_DEPTH} deep",
            " and ".join(terms[: MAX_EXPRESSION_DEPTH + 1]),
            DEPTH_HELP,
        )
    ]


def test_check_refuses_and_fmt_reports_a_condition_of_hundreds_of_terms(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "deep").mkdir()
    for name in ("main.krl", "deals.krl"):
        (tmp_path / "deep" / name).write_text(
            (RULESETS / "house" / name).read_text(encoding="utf-8"), encoding="utf-8"
        )
    for n_terms, op, term in ((500, "and", "need_identified"), (500, "+", "m_metrics")):
        condition = f" {op} ".join([term] * n_terms) + (" > 3" if op == "+" else "")
        (tmp_path / "deep" / "deep.krl").write_text(
            f"alert deep on deal when {condition}\n", encoding="utf-8"
        )
        assert main(["check", "deep"]) == 1
        err = capsys.readouterr().err
        expected = f"error[E004]: expression nested more than {MAX_EXPRESSION_DEPTH} deep"
        assert f"deep/deep.krl:1:25: {expected}" in err
        assert main(["fmt", "--check", "deep"]) == 2
        err = capsys.readouterr().err
        assert "error[E004]" in err and "Traceback" not in err


@pytest.mark.parametrize("shape", sorted(_shapes(MAX_EXPRESSION_DEPTH)))
def test_at_the_limit_check_fmt_and_both_evaluators_run(shape: str) -> None:
    condition = _shapes(MAX_EXPRESSION_DEPTH)[shape]
    text = (
        HEADER
        + DEALS
        + f"alert deep on deal when {condition}\n"
        + f"playbook deep_playbook on deal {{ require deep: {condition} }}\n"
    )
    formatted = format_text(text)
    assert formatted.diagnostics == () and formatted.output is not None
    assert format_text(formatted.output).output == formatted.output
    program = load_text(text, strict=True)  # checks clean
    tables, _ = demo_tables(program, 20, 20)
    deals: list[dict[str, Any]] = tables["deals"].to_dict("records")
    for deal in deals:
        program.evaluate_deal(deal)  # the per-record path
    results = program.evaluate(**tables)  # the vectorized path
    assert len(results.deals) == len(deals)


# ----------------------------------------------------------------------------- 2. linear time
class _CountingLark:
    """Lark, counting the characters each parse really reads (not blanked out)."""

    def __init__(self, lark: Any) -> None:
        self.lark = lark
        self.read = 0

    def parse(self, text: str, **options: Any) -> Any:
        self.read += len(text.strip())
        return self.lark.parse(text, **options)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.lark, name)


@pytest.mark.parametrize("n_errors", [1, 5, 20])
def test_a_file_is_read_once_however_many_syntax_errors_it_holds(
    n_errors: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    good = "".join(f"alert a{i} on deal when amount > {i}\n" for i in range(2_000))
    bad = "".join(f"alert b{i} on deal when amount >> {i}\n" for i in range(n_errors))
    text = HEADER + good + bad
    counting = _CountingLark(parser._lark())
    monkeypatch.setattr(parser, "_lark", lambda: counting)
    parsed = parse(SourceFile("t.krl", text))
    assert [d.code for d in parsed.diagnostics] == ["E101"] * n_errors
    # Before: the whole file again after each error, (errors + 1) times its size.
    assert counting.read < 1.2 * len(text)


def test_bracket_scan_skips_strings_and_comments() -> None:
    text = 'role r "a ( label" { mission "x" } # a ( comment\nalert a on deal when ((((x))))\n'
    assert syntax_findings(text) == []
    assert syntax_findings("alert a on deal when " + "(" * 65 + "x" + ")" * 65 + "\n")[0][:2] == (
        "E004",
        "brackets nested more than 64 deep",
    )


# ----------------------------------------------------------------------------- 3. unusable input
@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "good").mkdir()
    (tmp_path / "good" / "main.krl").write_text(HEADER, encoding="utf-8")
    return tmp_path


def _check(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    code = main(["check", *args])
    return code, capsys.readouterr().err


def test_an_empty_folder_is_an_input_error(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (workdir / "empty").mkdir()
    assert _check(capsys, "empty") == (
        2,
        "empty:1:1: error[E001]: no .krl file found in empty\n"
        "  help: name a folder holding .krl ruleset files, or the files themselves\n"
        "\n"
        "1 error, 0 warnings\n",
    )
    assert main(["fmt", "--check", "empty"]) == 2
    assert "error[E001]: no .krl file found in empty" in capsys.readouterr().err


def test_a_folder_of_symlink_loops_is_an_input_error_without_hanging(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (workdir / "loops").mkdir()
    os.symlink("b", workdir / "loops" / "a")
    os.symlink("a", workdir / "loops" / "b")
    os.symlink(".", workdir / "loops" / "me")
    os.symlink("..", workdir / "loops" / "up")
    code, err = _check(capsys, "loops")
    assert code == 2
    assert "loops:1:1: error[E001]: no .krl file found in loops\n" in err


def test_a_krl_symlink_loop_is_named(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    os.symlink("loop.krl", workdir / "good" / "loop.krl")
    os.symlink("nowhere.krl", workdir / "good" / "dangling.krl")
    assert _check(capsys, "good/loop.krl") == (
        2,
        "good/loop.krl:1:1: error[E001]: symbolic link loop\n\n1 error, 0 warnings\n",
    )
    # Inside a folder, and beside a file named on its own: reported, never a traceback.
    for named in ("good", "good/main.krl"):
        code, err = _check(capsys, named)
        assert code == 2, err
        assert "Traceback" not in err
        assert "good/loop.krl:1:1: error[E001]: " in err


def test_a_file_that_is_not_a_krl_file_is_an_input_error(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (workdir / "good" / "notes.txt").write_text(HEADER, encoding="utf-8")
    assert _check(capsys, "good/notes.txt") == (
        2,
        "good/notes.txt:1:1: error[E001]: not a .krl file\n"
        "  help: rulesets are .krl files; name them, or the folder holding them\n"
        "\n"
        "1 error, 0 warnings\n",
    )
    assert _check(capsys, "good") == (0, "")  # other files in a folder are not rulesets


# ----------------------------------------------------------------------------- 4. plausible dates
def _plans(effective: str, communicated: str) -> str:
    text = (RULESETS / "fintech" / "plans.krl").read_text(encoding="utf-8")
    text = text.replace("effective 2026-01-01 to 2026-12-31", f"effective {effective}")
    return text.replace("communicated 2025-12-15", f"communicated {communicated}")


@pytest.mark.parametrize(
    "date", ["0001-01-01", "9999-12-31", "1899-12-31", "2200-01-01", "0000-01-01"]
)
def test_a_date_outside_the_plausible_years_is_refused_where_it_is_written(date: str) -> None:
    for text in (
        f"plan p for AE {{ effective {date} to 2026-12-31 }}\n",
        f"alert late on deal when close_date > {date}\n",
    ):
        findings = syntax_findings(text)
        if date == "0000-01-01":  # not a calendar date at all
            assert findings[0][:3] == ("E107", f"`{date}` is not a calendar date", date)
            continue
        assert findings == [
            (
                "E107",
                f"`{date}` is outside the years 1900 to 2199",
                date,
                "write the real date; input data outside these years is refused too",
            )
        ]


@pytest.mark.parametrize("year", [1900, 2026, 2199])
def test_demo_data_of_an_accepted_ruleset_validates(year: int, tmp_path: Path) -> None:
    # fintech (and the house template it extends) with plans dated in `year`.
    shutil.copytree(RULESETS / "house", tmp_path / "house")
    shutil.copytree(
        RULESETS / "fintech", tmp_path / "fintech", ignore=shutil.ignore_patterns("tests")
    )
    plans = _plans(f"{year}-01-01 to {year}-12-31", f"{year}-01-01")
    assert syntax_findings(plans) == []
    (tmp_path / "fintech" / "plans.krl").write_text(plans, encoding="utf-8")
    program = load(tmp_path / "fintech", strict=True)
    tables, demo_year = demo_tables(program, 300, 300)
    assert demo_year == year
    inputs = program.validate(**tables)
    assert [(e.table, e.column, e.value, e.message) for e in inputs.errors][:5] == []


# ----------------------------------------------------------------------------- 5. no time of day
@pytest.mark.parametrize(
    "written", ["2026-02-01 25:99", "2026-02-01T25:99", "2026-02-01 12:30", "2026-02-01T09:15:00"]
)
def test_a_date_with_a_time_is_refused_in_words(written: str) -> None:
    text = f"alert late on deal when close_date > {written}\n"
    assert syntax_findings(text) == [
        (
            "E107",
            f"`{written}` is not a date: a ruleset date has no time of day",
            written,
            "write the day alone: 2026-02-01",
        )
    ]
