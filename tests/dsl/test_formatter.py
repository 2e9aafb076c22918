"""The formatter: golden pairs, its laws on generated rulesets, its refusals, and `koncept fmt`."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from collections import Counter
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from strategies import modules, ruleset_texts

from dsl import formatter
from dsl import nodes as n
from dsl.formatter import FormatResult, format_expr, format_module, format_text
from dsl.parser import ParsedFile, parse
from dsl.source import SourceFile
from engine.cli.main import main

GOLDEN = Path(__file__).parent / "format"
PAIRS = sorted(p.name.removesuffix(".input.krl") for p in GOLDEN.glob("*.input.krl"))
ROOT = Path(__file__).resolve().parents[2]


def parsed(text: str, path: str = "t.krl") -> ParsedFile:
    result = parse(SourceFile(path, text))
    assert result.diagnostics == ()
    assert result.module is not None
    return result


def formatted(text: str) -> str:
    result = format_text(text, "t.krl")
    assert result.diagnostics == ()
    assert result.output is not None
    return result.output


# ----------------------------------------------------------------------------- golden pairs
def test_there_is_a_golden_pair_for_each_concern() -> None:
    assert {
        "all_constructs", "blank_lines", "comments", "literals", "long_criteria",
        "messy_spacing", "parentheses",
    } <= set(PAIRS)  # fmt: skip
    for name in PAIRS:
        assert (GOLDEN / f"{name}.expected.krl").is_file(), name


@pytest.mark.parametrize("name", PAIRS)
def test_golden_pair(name: str) -> None:
    source = (GOLDEN / f"{name}.input.krl").read_text(encoding="utf-8")
    expected = (GOLDEN / f"{name}.expected.krl").read_text(encoding="utf-8")
    assert format_text(source, f"{name}.input.krl") == FormatResult(expected, ())
    # The expected text is itself canonical, means the same, and keeps every comment.
    assert formatted(expected) == expected
    before, after = parsed(source), parsed(expected)
    assert after.module == before.module
    assert [c.text for c in after.comments] == [c.text for c in before.comments]


def test_all_constructs_pair_covers_every_declaration_kind() -> None:
    module = parsed((GOLDEN / "all_constructs.input.krl").read_text(encoding="utf-8")).module
    assert module is not None
    kinds = {type(d).__name__ for d in module.declarations}
    assert kinds == {
        "Ruleset", "Record", "Score", "Kpi", "Plan", "Alert", "Pipeline", "Playbook", "Role",
        "Ritual", "Strategy", "Qualify",
    }  # fmt: skip


# ----------------------------------------------------------------------------- small cases
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("(a and b) or c", "a and b or c"),
        ("a and (b or c)", "a and (b or c)"),
        ("a or (b or c)", "a or (b or c)"),
        ("(a or b) or c", "a or b or c"),
        ("not (a and b)", "not (a and b)"),
        ("not (a == b)", "not a == b"),
        ("(not a) == b", "(not a) == b"),
        ("(a == b) == c", "(a == b) == c"),
        ("a == (b == c)", "a == (b == c)"),
        ("(a + b) * c", "(a + b) * c"),
        ("a + (b * c)", "a + b * c"),
        ("a - (b - c)", "a - (b - c)"),
        ("(a - b) - c", "a - b - c"),
        ("a / (b / c)", "a / (b / c)"),
        ("-(a + b)", "-(a + b)"),
        ("- -a", "- -a"),
        ("-(-a)", "- -a"),
        ("a - -2", "a - -2"),
        ("(a + b) in [c]", "a + b in [c]"),
        ("(a == b) in [c]", "(a == b) in [c]"),
        ("(a) is not missing", "a is not missing"),
        ("x not in -5..5", "x not in -5..5"),
        ("count( where x==1 )", "count(where x == 1)"),
        ("f()", "f()"),
        ("sum(amount,2 where (a))", "sum(amount, 2 where a)"),
        ('["a\\"b", 50K€, 40_000 EUR, 1.5M, 80%, 2w, 2026-01-01, true]',
         '["a\\"b", 50K€, 40_000 EUR, 1.5M, 80%, 2w, 2026-01-01, true]'),
    ],
)  # fmt: skip
def test_expressions_take_only_the_parentheses_precedence_needs(text: str, expected: str) -> None:
    kpi = parsed(f"kpi k on deal = {text}").module
    assert kpi is not None
    declaration = kpi.declarations[0]
    assert isinstance(declaration, n.Kpi)
    assert format_expr(declaration.value) == expected
    assert formatted(f"kpi k on deal = {text}") == f"kpi k on deal = {expected}\n"


def test_format_expr_on_built_nodes() -> None:
    expr = n.Binary(
        "and", n.Ref(("a",)), n.Binary("or", n.Ref(("b",)), n.Unary("-", n.Number(Decimal(5), "5")))
    )
    assert format_expr(expr) == "a and (b or -5)"


def test_labels_are_re_escaped() -> None:
    # `\q` reads as `q`; a raw tab reads as a tab and is written back as `\t`.
    text = 'role r "a\\"b\\\\c\\td\\ne\\q\tf" { mission "« é »" }'
    assert formatted(text) == 'role r "a\\"b\\\\c\\td\\neq\\tf" {\n  mission "« é »"\n}\n'


def test_empty_and_comment_only_files() -> None:
    assert formatted("") == ""
    assert formatted(" \n\n\t\n") == ""
    assert formatted("\n\n# only\n\n\n#   comments  \n\n") == "# only\n\n#   comments\n"


def test_windows_line_endings_become_newlines() -> None:
    text = "ruleset a {\r\n  currency EUR  # money\r\n\r\n  rounding half_up 0.01\r\n}\r\n"
    assert formatted(text) == (
        "ruleset a {\n  currency EUR  # money\n\n  rounding half_up 0.01\n}\n"
    )


def test_settings_keep_their_order_and_separators_go() -> None:
    text = 'ruleset a { rounding down 1, currency CHF, }\nrole r { mission "m", kpis a, b }'
    assert formatted(text) == (
        "ruleset a {\n  rounding down 1\n  currency CHF\n}\n\n"
        'role r {\n  mission "m"\n  kpis a, b\n}\n'
    )


def test_several_show_items_become_one_line() -> None:
    text = "ritual w every week { show a, b  # first\n show c }"
    assert formatted(text) == "ritual w every week {\n  show a, b, c  # first\n}\n"


def test_empty_status_block_is_dropped_and_its_comment_kept() -> None:
    text = "score s on lead { a -> b status { # none yet\n } }"
    assert formatted(text) == "score s on lead {\n  a -> b  # none yet\n}\n"
    text = "score s on lead { a -> b status {\n # none yet\n } }"
    assert formatted(text) == "score s on lead {\n  a -> b\n  # none yet\n}\n"


def test_comments_in_a_multi_line_header_stay_in_order() -> None:
    text = 'pipeline p  # one\n  "P" on deal {  # two\n}'
    assert formatted(text) == '# one\npipeline p "P" on deal {  # two\n}\n'


def test_format_module_refuses_a_file_with_syntax_errors() -> None:
    broken = parse(SourceFile("t.krl", "record {"))
    with pytest.raises(ValueError, match=r"t\.krl did not parse"):
        format_module(broken)


def test_format_module_formats_a_module_built_in_code() -> None:
    module = n.Module(
        "<code>",
        (n.Qualify(n.Ident("lead"), (n.Route(n.Ident("bant"), None),)),),
    )
    empty = SourceFile("<code>", "")
    assert format_module(ParsedFile(empty, module, (), ())) == (
        "qualify lead {\n  use bant otherwise\n}\n"
    )


# ----------------------------------------------------------------------------- refusals
def test_syntax_errors_come_back_as_the_parser_diagnostics() -> None:
    text = "kpi k on deal = a = b"
    result = format_text(text, "t.krl")
    assert result.output is None
    assert result.diagnostics == parse(SourceFile("t.krl", text)).diagnostics
    assert [(d.code, d.message) for d in result.diagnostics] == [
        ("E104", "`=` is not a comparison")
    ]


def test_refuses_when_the_meaning_would_change(monkeypatch: pytest.MonkeyPatch) -> None:
    text = "kpi a on deal = x\n\nkpi b on deal = y + 1\n"
    # A formatter bug, simulated: the output changes a number.
    monkeypatch.setattr(formatter, "format_module", lambda p: text.replace("1", "2"))
    result = format_text(text, "t.krl")
    assert result.output is None
    [diagnostic] = result.diagnostics
    assert diagnostic.code == "E901"
    assert diagnostic.message == "formatter would change the meaning of `kpi b`"
    assert text[diagnostic.span.start : diagnostic.span.end] == "kpi b on deal = y + 1"
    assert diagnostic.help == (
        "this is a formatter bug; the file is left as it is. Please report it with the file"
    )


def test_refuses_to_drop_a_declaration(monkeypatch: pytest.MonkeyPatch) -> None:
    text = 'kpi a on deal = x\nstrategy "S" { channel direct 100% }\n'
    monkeypatch.setattr(formatter, "format_module", lambda p: "kpi a on deal = x\n")
    [diagnostic] = format_text(text, "t.krl").diagnostics
    assert (diagnostic.code, diagnostic.message) == (
        "E901",
        'formatter would change the meaning of the strategy "S"',
    )
    assert text[diagnostic.span.start : diagnostic.span.end].startswith('strategy "S" {')


def test_refuses_to_lose_a_comment(monkeypatch: pytest.MonkeyPatch) -> None:
    text = "kpi a on deal = x  # keep me\n"
    monkeypatch.setattr(formatter, "format_module", lambda p: "kpi a on deal = x\n")
    [diagnostic] = format_text(text, "t.krl").diagnostics
    assert (diagnostic.code, diagnostic.message) == (
        "E901",
        "formatter would lose the comment `# keep me`",
    )
    assert text[diagnostic.span.start : diagnostic.span.end] == "# keep me"


def test_refuses_output_that_does_not_parse(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(formatter, "format_module", lambda p: "kpi a on deal =\n")
    [diagnostic] = format_text("kpi a on deal = x\n", "t.krl").diagnostics
    assert (diagnostic.code, diagnostic.message) == (
        "E901",
        "formatter would change the meaning: its output does not parse "
        "(unexpected end of file: expected a date like 2026-01-01, a duration like 14d, a name, "
        "a number like 50K or 40_000, a percentage like 80% or 7 other things)",
    )
    assert (diagnostic.span.line, diagnostic.span.column) == (1, 1)


# ----------------------------------------------------------------------------- properties
PROPERTY_SETTINGS = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


@PROPERTY_SETTINGS
@given(modules())
def test_formatting_a_built_module_round_trips(module: n.Module) -> None:
    output = format_module(ParsedFile(SourceFile("<generated>", ""), module, (), ()))
    again = parse(SourceFile("<generated>", output))
    assert again.diagnostics == ()
    assert again.module == module
    assert format_text(output) == FormatResult(output, ())


@PROPERTY_SETTINGS
@given(ruleset_texts())
def test_formatting_messy_text_keeps_meaning_and_comments(
    case: tuple[n.Module, str, list[str]],
) -> None:
    module, text, comments = case
    source = parse(SourceFile("messy.krl", text))
    assert source.module == module  # the strategy's own promise
    assert [c.text for c in source.comments] == comments
    output = formatted(text)
    again = parse(SourceFile("formatted.krl", output))
    assert again.diagnostics == ()
    assert again.module == module
    assert [c.text for c in again.comments] == comments  # none lost, none reordered
    assert formatted(output) == output
    assert output.endswith("\n") or output == ""
    assert "\n\n\n" not in output and not output.startswith("\n")


# ----------------------------------------------------------------------------- koncept fmt
UGLY = 'ruleset a "x" { currency EUR rounding half_up 0.01 }\n'
PRETTY = 'ruleset a "x" {\n  currency EUR\n  rounding half_up 0.01\n}\n'


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "ugly.krl").write_text(UGLY, encoding="utf-8")
    (tmp_path / "rules" / "pretty.krl").write_text(PRETTY, encoding="utf-8")
    return tmp_path


def test_fmt_prints_one_file(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["fmt", "rules/ugly.krl"]) == 0
    assert capsys.readouterr().out == PRETTY
    assert (workdir / "rules" / "ugly.krl").read_text(encoding="utf-8") == UGLY


def test_fmt_refuses_to_print_several_files(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["fmt", "rules"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == (
        "koncept fmt: 2 files given; printing is for one file, "
        "use --write, --check or --diff for several\n"
    )


def test_fmt_check(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["fmt", "--check", "rules"]) == 1
    assert capsys.readouterr().out == f"would reformat {Path('rules/ugly.krl')}\n"
    assert main(["fmt", "--check", "rules/pretty.krl"]) == 0
    assert capsys.readouterr() == ("", "")
    assert (workdir / "rules" / "ugly.krl").read_text(encoding="utf-8") == UGLY


def test_fmt_diff(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["fmt", "--diff", "rules/ugly.krl", "rules/pretty.krl"]) == 1
    path = Path("rules/ugly.krl")
    assert capsys.readouterr().out == (
        f"--- {path} (original)\n"
        f"+++ {path} (formatted)\n"
        "@@ -1 +1,4 @@\n"
        '-ruleset a "x" { currency EUR rounding half_up 0.01 }\n'
        '+ruleset a "x" {\n'
        "+  currency EUR\n"
        "+  rounding half_up 0.01\n"
        "+}\n"
    )
    assert main(["fmt", "--diff", "rules/pretty.krl"]) == 0
    assert capsys.readouterr() == ("", "")


def test_fmt_diff_marks_a_missing_final_newline(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (workdir / "rules" / "ugly.krl").write_text("qualify lead {}", encoding="utf-8")
    assert main(["fmt", "--diff", "rules/ugly.krl"]) == 1
    assert capsys.readouterr().out.splitlines()[-3:] == [
        "-qualify lead {}",
        "\\ No newline at end of file",
        "+qualify lead {}",
    ]


def test_fmt_write(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ugly = workdir / "rules" / "ugly.krl"
    ugly.chmod(0o640)
    pretty = workdir / "rules" / "pretty.krl"
    untouched = pretty.stat().st_mtime_ns
    assert main(["fmt", "--write", "rules"]) == 0
    assert capsys.readouterr() == (f"reformatted {Path('rules/ugly.krl')}\n", "")
    assert ugly.read_text(encoding="utf-8") == PRETTY
    assert stat.S_IMODE(ugly.stat().st_mode) == 0o640
    assert pretty.stat().st_mtime_ns == untouched
    assert sorted(os.listdir(workdir / "rules")) == ["pretty.krl", "ugly.krl"]  # no temp file
    assert main(["fmt", "--write", "rules"]) == 0
    assert capsys.readouterr() == ("", "")


def test_fmt_syntax_error(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (workdir / "rules" / "bad.krl").write_text("record x { a one_of }\n", encoding="utf-8")
    assert main(["fmt", "--write", "rules"]) == 2
    captured = capsys.readouterr()
    bad = Path("rules/bad.krl")
    assert captured.out == f"reformatted {Path('rules/ugly.krl')}\n"
    assert captured.err == (
        f"{bad}:1:21: error[E101]: unexpected `}}`: expected a name\n"
        "   1 | record x { a one_of }\n"
        "                           ^\n"
        "\n"
        "1 error, 0 warnings\n"
    )
    assert (workdir / "rules" / "bad.krl").read_text(encoding="utf-8") == (
        "record x { a one_of }\n"
    )


def test_fmt_unreadable_input(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (workdir / "latin1.krl").write_bytes(b'role r "\xe9" {}\n')
    assert main(["fmt", "--check", "missing.krl", "latin1.krl"]) == 2
    assert capsys.readouterr().err == (
        "latin1.krl:1:9: error[E002]: invalid UTF-8 byte 0xe9\n"
        "  help: save the file as UTF-8 (most editors: 'Save with encoding')\n"
        "\n"
        "missing.krl:1:1: error[E001]: no such file or folder\n"
        "\n"
        "2 errors, 0 warnings\n"
    )


def test_fmt_usage_errors(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["fmt", "--check", "--write", "rules"]) == 2
    assert "not allowed with argument" in capsys.readouterr().err
    (workdir / "empty").mkdir()
    assert main(["fmt", "--check", "empty"]) == 2
    assert "error[E001]: no .krl file found in empty" in capsys.readouterr().err


def test_fmt_does_not_import_pandas(workdir: Path) -> None:
    code = (
        "import argparse, sys\n"
        "from engine.cli import fmt\n"
        "parser = argparse.ArgumentParser()\n"
        "fmt.register(parser.add_subparsers())\n"
        "args = parser.parse_args(['fmt', '--check', 'rules/pretty.krl'])\n"
        "assert args.func(args) == 0\n"
        "print('pandas' in sys.modules)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True
    )
    assert done.stdout == "False\n"


def test_comment_count_is_kept_on_golden_comments() -> None:
    source = (GOLDEN / "comments.input.krl").read_text(encoding="utf-8")
    before = Counter(c.text for c in parsed(source).comments)
    after = Counter(c.text for c in parsed(formatted(source)).comments)
    assert before == after and sum(before.values()) == 22
