"""`--format github` of `koncept check` and `koncept test`: GitHub workflow commands that
annotate the file and line of a finding or of a failing fixture case."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from dsl.diagnostics import Diagnostic, Severity, render_github, workflow_command
from dsl.source import SourceFile
from engine.cli.main import main


def test_workflow_commands_escape_as_github_documents() -> None:
    assert workflow_command("error", "100% sûr\r\nsecond", file="a,b:c.krl", line=3, col=None) == (
        "::error file=a%2Cb%3Ac.krl,line=3::100%25 sûr%0D%0Asecond"
    )
    assert workflow_command("warning", "bare") == "::warning::bare"


def test_diagnostics_render_as_annotations_with_their_span_and_help() -> None:
    source = SourceFile("rules/a,b.krl", "kpi x = 1\nkpi y = 2\n")
    found = [
        Diagnostic("E201", "unknown field `amout`", source.span(14, 15), help="did you mean?"),
        Diagnostic("W501", "50% of: a", source.span(0, 3), Severity.WARNING),
    ]
    assert render_github(found) == (
        "::error file=rules/a%2Cb.krl,line=2,endLine=2,col=5,endColumn=6,"
        "title=E201 unknown field::unknown field `amout`%0Ahelp: did you mean?\n"
        "::warning file=rules/a%2Cb.krl,line=1,endLine=1,col=1,endColumn=4,"
        "title=W501 activity count used as a KPI::50%25 of: a\n"
    )


@pytest.fixture
def client(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A client folder made by `koncept init`, with the current folder its parent."""
    monkeypatch.chdir(tmp_path)
    assert main(["init", "acme"]) == 0
    return Path("acme")


def test_check_annotates_each_finding(client: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pipeline = client / "pipeline.krl"
    text = pipeline.read_text(encoding="utf-8").replace(": need_identified", ": need_identifed")
    pipeline.write_text(text, encoding="utf-8")
    line, column = next(
        (number, row.index("need_identifed") + 1)
        for number, row in enumerate(text.splitlines(), 1)
        if "need_identifed" in row
    )
    capsys.readouterr()
    assert main(["check", "--format", "github", str(client)]) == 1
    out, err = capsys.readouterr()
    assert err == ""
    assert out == (
        f"::error file=acme/pipeline.krl,line={line},endLine={line},col={column},"
        f"endColumn={column + len('need_identifed')},"
        "title=E201 unknown field::unknown field `need_identifed` on deal%0A"
        "help: did you mean `need_identified`?\n"
    )
    shutil.rmtree(client)
    assert main(["init", "acme"]) == 0
    capsys.readouterr()
    assert main(["check", "--format", "github", str(client)]) == 0
    assert capsys.readouterr() == ("", "")


def test_test_annotates_the_failing_case_at_its_line(
    client: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    plans = client / "tests" / "plans.yaml"
    text = plans.read_text(encoding="utf-8")
    line = text.splitlines().index("      - [90000, 4500.00]") + 1
    plans.write_text(text.replace("[90000, 4500.00]", "[90000, 4600.00]"), encoding="utf-8")
    (client / "tests" / "broken.yaml").write_text("cases:\n  - name: x\n    wnt: {}\n")
    capsys.readouterr()
    assert main(["test", "--format", "github", str(client)]) == 2
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == (
        f"::error file=acme/tests/plans.yaml,line={line},title=koncept test%3A FAIL::"
        "90000 signés sur un quota de 100 000 paient 4600.00%0A"
        "    payouts[A1 ae_plan 2026-Q1].payout%0A"
        "      - wanted: 4600.00%0A"
        "      + got:    4500.00"
    )
    assert lines[1] == (
        "::error file=acme/tests/broken.yaml,line=2,title=koncept test%3A invalid fixture::"
        "cases.0: 'want' is required"
    )
    assert lines[2] == (
        "::error file=acme/tests/broken.yaml,line=2,title=koncept test%3A invalid fixture::"
        "cases.0: unknown key 'wnt'; did you mean 'want'?"
    )
    assert lines[3] == "43 cases in 5 files: 42 pass, 1 fail, 0 error, 0 xfail, 0 xpass"
    assert len(lines) == 4
