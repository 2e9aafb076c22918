"""`koncept test`: fixture files, both evaluators per case, diffs, coverage, outputs, pytest plugin,
and the mutation script's steps."""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import subprocess
import sys
import xml.etree.ElementTree as ET
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from types import ModuleType
from typing import Any

import jsonschema
import pytest

import engine
from engine.cli.main import main
from engine.schemas import dumps
from engine.testing import Runner, fixture_schema, load_fixture, run
from engine.testing.compare import Difference, as_number, compare, render, same
from engine.testing.report import text_result

ROOT = Path(__file__).resolve().parents[2]

RULESET = """\
ruleset t "T" { currency EUR }

record lead {
  budget one_of confirmed, blocking
  employees integer
}

score fit "Fit" on lead max 30 {
  budget { confirmed -> 20, blocking -> 0 }
  company { when employees >= 50 -> 10, otherwise -> 2 }
  status {
    knockout out when budget == blocking
    hot when score > 25
    cold otherwise
  }
}
"""


def client(tmp_path: Path, cases: str, name: str = "cases.yaml", ruleset: str = RULESET) -> Path:
    """A ruleset folder `r/` with one fixture file `r/tests/<name>`; returns the fixture path."""
    folder = tmp_path / "r"
    (folder / "tests").mkdir(parents=True, exist_ok=True)
    (folder / "main.krl").write_text(ruleset, encoding="utf-8")
    path = folder / "tests" / name
    path.write_text(cases, encoding="utf-8")
    return path


HOT_AND_COLD = """\
defaults:
  lead: {budget: confirmed, employees: 100}
cases:
  - name: a confirmed budget and 100 employees is hot
    lead: {}
    want: {lead: {score: 30, status: hot, points: {budget: 20}}}
  - name: a small company is wanted hot but is cold
    lead: {employees: 10}
    want: {lead: {score: 22, status: hot}}
"""


# ============================================================================ schema
def test_published_schema_equals_the_generated_one() -> None:
    published = (ROOT / "schemas" / "fixture.schema.json").read_text(encoding="utf-8")
    assert published == dumps(fixture_schema()), (
        "schemas/fixture.schema.json is stale: run `python -m engine.schemas --write schemas/`"
    )
    jsonschema.Draft202012Validator.check_schema(fixture_schema())


def test_every_client_fixture_file_is_valid() -> None:
    files = sorted(ROOT.glob("rulesets/*/tests/*.yaml"))
    assert {f.parent.parent.name for f in files} == {
        "contech-saas", "fintech", "house", "industrie-services", "maven-crm", "services-b2b"
    }  # fmt: skip
    for path in files:
        fixture = load_fixture(path)
        assert fixture.problems == () and fixture.cases, path


# ============================================================================ running cases
def test_pass_and_fail_with_file_line_and_a_readable_diff(tmp_path: Path) -> None:
    path = client(tmp_path, HOT_AND_COLD)
    report = run([tmp_path])
    passed, failed = report.results
    assert (passed.status, passed.case.line, passed.differences) == ("pass", 4, ())
    assert failed.status == "fail"
    assert failed.case.line == 7
    assert failed.differences == (Difference("lead.status", "hot", "cold"),)
    shown = path.relative_to(Path.cwd()) if path.is_relative_to(Path.cwd()) else path
    assert text_result(failed) == (
        f"{shown}:7  FAIL   a small company is wanted hot but is cold\n"
        "    lead.status\n"
        "      - wanted: hot\n"
        "      + got:    cold"
    )
    assert not report.ok


def test_table_driven_rows_are_cases_with_typed_values_at_their_own_lines(tmp_path: Path) -> None:
    path = client(
        tmp_path,
        """\
cases:
  - name: "$employees employees score $points"
    lead: {budget: confirmed, employees: $employees}
    want: {lead: {points: {company: $points}, missing: $missing}}
    columns: [employees, points, missing]
    rows:
      - [49, 2, []]
      - [50, 10, []]
      - [null, 0, [company]]
  - name: rows as mappings
    lead: {budget: $budget}
    want: {lead: {status: $status}}
    rows:
      - {budget: blocking, status: out}
""",
    )
    fixture = load_fixture(path)
    assert fixture.problems == ()
    assert [(c.name, c.line) for c in fixture.cases] == [
        ("49 employees score 2", 7),
        ("50 employees score 10", 8),
        ("null employees score 0", 9),
        ("rows as mappings [budget=blocking, status=out]", 14),
    ]
    assert fixture.cases[1].inputs["leads"] == (
        {"id": "L1", "budget": "confirmed", "employees": 50},
    )
    assert fixture.cases[2].want == {"lead": {"points": {"company": 0}, "missing": ["company"]}}
    assert [r.status for r in run([path]).results] == ["pass"] * 4


@pytest.mark.parametrize(
    ("text", "problems"),
    [
        (
            "cases:\n  - name: x\n    lead: {}\n    wnat: {lead: {score: 1}}\n",
            (
                "2: cases.0: 'want' is required",
                "2: cases.0: unknown key 'wnat'; did you mean 'want'?",
            ),
        ),
        ("cases:\n  - lead: {}\n    want: {lead: {score: 1}}\n", "2: cases.0: 'name' is required"),
        (
            "cases:\n  - name: x\n    lead: {}\n    want: {}\n",
            "4: cases.0.want: say what the case wants (lead, deals, payouts, error...)",
        ),
        (
            "cases:\n  - name: x\n    lead: {}\n    want: {lead: {stauts: MQL}}\n",
            "4: cases.0.want.lead: unknown key 'stauts'; did you mean 'status'?",
        ),
        (
            "cases:\n  - name: x\n    as_of: 31/03/2026\n    lead: {}\n"
            "    want: {lead: {score: 1}}\n",
            "3: cases.0.as_of: '31/03/2026' is not a date like 2026-03-31",
        ),
        (
            "cases:\n  - name: x\n    lead: {a: 1, a: 2}\n    want: {lead: {score: 1}}\n",
            "3: not valid YAML: repeated key 'a'",
        ),
        ("cases: [\n", "2: not valid YAML: expected the node content, but found '<stream end>'"),
        (
            "cases:\n  - name: x\n    lead: {}\n    want: {lead: {score: 1}}\n"
            "  - name: x\n    lead: {}\n    want: {lead: {score: 2}}\n",
            "5: case name 'x' is used twice (first at line 2)",
        ),
        (
            "cases:\n  - name: x\n    lead: {employees: $n}\n    want: {lead: {score: $s}}\n"
            "    columns: [n, s]\n    rows:\n      - [1]\n",
            "7: row has 1 values, case has 2 columns",
        ),
        (
            "cases:\n  - name: x\n    lead: {employees: $n}\n    want: {lead: {score: $s}}\n"
            "    rows:\n      - {n: 1}\n",
            "6: $s is not a column of this row",
        ),
        (
            "cases:\n  - name: x\n    lead: {}\n    want: {alerts: [{raised: $r}]}\n"
            "    rows:\n      - {r: perhaps}\n",
            "6: row 1: cases.0.want.alerts.0.raised: expected true/false",
        ),
        (
            "cases:\n  - name: x\n    lead: {}\n    deal: {}\n    want: {error: budget}\n",
            "2: want.error needs exactly one `lead` or `deal`",
        ),
    ],
)
def test_fixture_problems_are_located_by_line(
    tmp_path: Path, text: str, problems: str | tuple[str, ...]
) -> None:
    path = client(tmp_path, text)
    fixture = load_fixture(path)
    wanted = [problems] if isinstance(problems, str) else list(problems)
    assert [f"{p.line}: {p.message}" for p in fixture.problems] == wanted
    assert all(p.path == fixture.path for p in fixture.problems)


def test_a_wanted_error_needs_both_evaluators_to_reject_the_record(tmp_path: Path) -> None:
    path = client(
        tmp_path,
        """\
cases:
  - name: an unknown budget value
    lead: {budget: maybe}
    want: {error: budget}
  - name: a good lead wanted rejected
    lead: {budget: confirmed}
    want: {error: budget}
""",
    )
    rejected, accepted = run([path]).results
    assert rejected.status == "pass"
    assert accepted.differences == (Difference("error", "budget", None, "the record is accepted"),)


class Skewed:
    """A program whose per-record path adds one point: the runner must blame the engine."""

    def __init__(self, program: engine.Program) -> None:
        self._program = program

    def __getattr__(self, name: str) -> Any:
        return getattr(self._program, name)

    def evaluate_lead(self, lead: dict[str, object]) -> engine.LeadResult:
        result = self._program.evaluate_lead(lead)
        return dataclasses.replace(result, score=result.score + 1)


def test_a_disagreement_between_the_evaluators_is_an_engine_error(tmp_path: Path) -> None:
    path = client(tmp_path, HOT_AND_COLD)
    folder = path.parent.parent
    runner = Runner({folder: Skewed(engine.load(folder))})  # type: ignore[dict-item]
    first = run([path], runner=runner).results[0]
    assert first.status == "error"
    assert first.message == (
        "engine error: lead L1: score is 31 by the per-record path, 30 by the table path"
    )


def test_xfail_cases_fail_as_expected_and_passing_ones_show_as_xpass(tmp_path: Path) -> None:
    path = client(
        tmp_path,
        """\
cases:
  - name: known wrong
    xfail: the engine says cold
    lead: {budget: confirmed, employees: 10}
    want: {lead: {status: hot}}
  - name: fixed since
    xfail: was broken
    lead: {budget: confirmed, employees: 10}
    want: {lead: {status: cold}}
""",
    )
    report = run([path])
    assert [r.status for r in report.results] == ["xfail", "xpass"]
    assert report.ok


def test_a_ruleset_that_does_not_load_errors_each_case(tmp_path: Path) -> None:
    path = client(tmp_path, HOT_AND_COLD, ruleset=RULESET.replace("budget ==", "budjet =="))
    results = run([path]).results
    assert [r.status for r in results] == ["error", "error"]
    first = results[0].message.splitlines()
    assert first[0] == "the ruleset does not load:"
    assert "error[E201]: unknown field `budjet` on lead" in first[1]


def test_payouts_run_through_both_paths_with_the_brief_examples(tmp_path: Path) -> None:
    path = client(
        tmp_path,
        f"""\
ruleset: {ROOT / "rulesets" / "fintech"}
period: 2026-Q1
cases:
  - name: "$booked pays $pay"
    reps: [{{id: A1, role: AE}}]
    quotas: [{{rep_id: A1, period: 2026-Q1, measure: bookings, quota: 100000}}]
    deals: [{{id: D1, rep_id: A1, amount: $booked, status: won, close_date: 2026-02-01}}]
    want:
      payouts: [{{rep_id: A1, plan: fintech_after, payout: $pay,
                  measures: [{{measure: bookings, attainment: $attainment}}]}}]
    columns: [booked, attainment, pay]
    rows: [[80000, 80%, 3750.00], [95000, 95%, 5625.00], [120000, 120%, 10500.00],
           [79999.99, 79.9999%, 1.00]]
""",
    )
    results = run([path]).results
    assert [r.status for r in results] == ["pass", "pass", "pass", "fail"]
    # 79,999.99 is shown as 0.799999 (truncated, never rounded into the 80% band) and stays
    # under the 80% gate: nothing paid.
    assert results[3].differences == (
        Difference("payouts[A1 fintech_after].payout", Decimal("1.00"), "0.00"),
    )


# ============================================================================ coverage
def test_coverage_lists_every_concept_and_the_uncovered_ones_by_line(tmp_path: Path) -> None:
    path = client(tmp_path, HOT_AND_COLD)
    (coverage,) = run([path], with_coverage=True).coverage
    main_krl = str(path.parent.parent / "main.krl")
    listed = [(c.kind, c.text, c.line, c.outcomes) for c in coverage.concepts]
    assert listed == [
        ("criterion case", "fit.budget: confirmed -> 20", 9, ("matched",)),
        ("criterion case", "fit.budget: blocking -> 0", 9, ("matched",)),
        ("criterion case", "fit.company: when employees >= 50 -> 10", 10, ("matched",)),
        ("criterion case", "fit.company: otherwise -> 2", 10, ("matched",)),
        ("status", "fit: knockout out when budget == blocking", 12, ("given",)),
        ("status", "fit: hot when score > 25", 13, ("given",)),
        ("status", "fit: cold otherwise", 14, ("given",)),
    ]
    assert all(c.path == main_krl for c in coverage.concepts)
    assert [(c.text, missing) for c, missing in coverage.uncovered()] == [
        ("fit.budget: blocking -> 0", ("matched",)),
        ("fit: knockout out when budget == blocking", ("given",)),
    ]
    assert (coverage.covered, coverage.total, round(coverage.percent, 1)) == (5, 7, 71.4)


def test_client_rulesets_reach_full_concept_coverage() -> None:
    report = run([ROOT / "rulesets"], with_coverage=True)
    assert report.ok, [r.case.id for r in report.results if not r.ok]
    assert {Path(c.ruleset).name: c.percent for c in report.coverage} == {
        "contech-saas": 100.0,
        "fintech": 100.0,
        "house": 100.0,
        "industrie-services": 100.0,
        "maven-crm": 100.0,
        "services-b2b": 100.0,
    }


# ============================================================================ comparing values
@pytest.mark.parametrize(
    ("wanted", "got", "equal"),
    [
        (5625, Decimal("5625.00"), True),
        (Decimal("5625.00"), "5625.00", True),
        ("95%", "0.95", True),
        ("1/3", 1 / 3, True),
        ("1/3", 0.3333, False),
        (0.5, 0.5000000001, True),
        (Decimal("0.01"), Decimal("0.02"), False),
        (True, 1, False),
        (None, float("nan"), True),
        (0, None, False),
        ("MQL", "MQL", True),
        ("2026-03-31", __import__("datetime").date(2026, 3, 31), True),
        (["a", "b"], ("b", "a"), True),
        (["a"], ("a", "a"), False),
        ({"x": 1}, {"x": 1, "y": 2}, True),
    ],
)
def test_values_compare_by_meaning(wanted: Any, got: Any, equal: bool) -> None:
    assert same(wanted, got) is equal


def test_numbers_are_read_exactly() -> None:
    assert as_number("12.5%") == Fraction(1, 8)
    assert as_number("25/51") == Fraction(25, 51)
    assert as_number(True) is None
    assert as_number("new_logo") is None


def test_lists_of_mappings_match_items_by_key_and_render_as_a_diff() -> None:
    wanted = [{"measure": "upsell", "payout": 3900}, {"measure": "renewal", "payout": 0}]
    got = [{"measure": "new_logo", "payout": "5250.00"}, {"measure": "upsell", "payout": "3900.00"}]
    found = compare(wanted, got, "measures")
    assert found == [
        Difference("measures[renewal]", {"measure": "renewal", "payout": 0}, None, "no such item")
    ]
    assert render(found) == (
        "  measures[renewal]  (no such item)\n"
        "    - wanted: {measure: renewal, payout: 0}\n"
        "    + got:    null"
    )


# ============================================================================ the command
def test_cli_exit_codes_and_text(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    client(tmp_path, HOT_AND_COLD)
    assert main(["test", str(tmp_path), "-k", "100 employees"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[-1].startswith("1 case in 1 file: 1 passed (")
    assert main(["test", str(tmp_path)]) == 1
    assert "FAIL   a small company is wanted hot but is cold" in capsys.readouterr().out
    assert main(["test", str(tmp_path), "-k", "nothing like this"]) == 0
    assert capsys.readouterr().out == "no test case selected in 1 file\n"
    assert main(["test", str(tmp_path), "-k", "nothing", "--fail-on-empty"]) == 1
    capsys.readouterr()
    assert main(["test", str(tmp_path / "missing")]) == 2
    assert "missing:1: no such file or folder  (invalid fixture)" in capsys.readouterr().out
    client(tmp_path, "cases: 3\n", name="bad.yaml")
    assert main(["test", str(tmp_path)]) == 2
    assert "bad.yaml:1: cases: expected a list  (invalid fixture)" in capsys.readouterr().out


def test_cli_threshold_fails_under_it_and_lists_what_is_uncovered(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = client(tmp_path, HOT_AND_COLD)
    assert main(["test", str(tmp_path), "-k", "100 employees", "--threshold", "50"]) == 1
    out = capsys.readouterr().out
    main_krl = path.parent.parent / "main.krl"
    assert f"coverage {main_krl.parent}: 42.9% of concepts (3/7)  under the threshold of 50%" in out
    assert f"  {main_krl}:10: criterion case `fit.company: otherwise -> 2`: never matched" in out
    assert main(["test", str(tmp_path), "-k", "100 employees", "--threshold", "42.8"]) == 0
    assert main(["test", str(tmp_path), "--threshold", "101"]) == 2


def test_cli_json_output_is_the_documented_document(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    client(tmp_path, HOT_AND_COLD)
    assert main(["test", str(tmp_path), "--format", "json", "--coverage"]) == 1
    document = json.loads(capsys.readouterr().out)
    assert set(document) == {"version", "summary", "cases", "problems", "coverage"}
    assert document["version"] == 1
    summary = {k: v for k, v in document["summary"].items() if k != "duration"}
    assert summary == {"files": 1, "cases": 2, "pass": 1, "fail": 1, "error": 0, "xfail": 0,
                       "xpass": 0, "problems": 0, "ok": False}  # fmt: skip
    failed = document["cases"][1]
    assert {k: failed[k] for k in ("line", "name", "status", "differences", "message")} == {
        "line": 7,
        "name": "a small company is wanted hot but is cold",
        "status": "fail",
        "differences": [{"path": "lead.status", "wanted": "hot", "got": "cold"}],
        "message": None,
    }
    (coverage,) = document["coverage"]
    assert (coverage["covered"], coverage["total"], coverage["ok"]) == (5, 7, None)
    assert coverage["uncovered"][0] == {
        "kind": "criterion case",
        "text": "fit.budget: blocking -> 0",
        "file": str(tmp_path / "r" / "main.krl"),
        "line": 9,
        "missing": ["matched"],
    }


def test_cli_junit_output_is_valid_xml_with_failures(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    client(tmp_path, HOT_AND_COLD + '  - name: "control \\x01 character & <xml>"\n'
           "    lead: {}\n    want: {lead: {score: 30}}\n")  # fmt: skip
    assert main(["test", str(tmp_path), "--format", "junit", "--threshold", "100"]) == 1
    root = ET.fromstring(capsys.readouterr().out)
    assert root.tag == "testsuites"
    assert (root.get("tests"), root.get("failures"), root.get("errors")) == ("4", "2", "0")
    suite, coverage = root.findall("testsuite")
    assert suite.get("name", "").endswith("r/tests/cases.yaml")
    cases = suite.findall("testcase")
    assert [c.get("line") for c in cases] == ["4", "7", "10"]
    assert cases[2].get("name") == "control  character & <xml>"
    failure = cases[1].find("failure")
    assert failure is not None and failure.get("message") == "1 field(s) differ"
    assert failure.text == "lead.status\n  - wanted: hot\n  + got:    cold"
    (ruleset,) = coverage.findall("testcase")
    assert ruleset.find("failure") is not None


# ============================================================================ pytest plugin
def test_pytest_collects_fixture_files_with_the_same_failure_output(tmp_path: Path) -> None:
    client(tmp_path, HOT_AND_COLD)
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", str(tmp_path / "r")],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert done.returncode == 1, done.stdout + done.stderr
    out = done.stdout
    assert "r/tests/cases.yaml:7  FAIL   a small company is wanted hot but is cold" in out
    assert "    lead.status\n      - wanted: hot\n      + got:    cold" in out
    assert "FAILED r/tests/cases.yaml::a small company is wanted hot but is cold" in out
    assert "1 failed, 1 passed" in out


# ============================================================================ mutation script
def _mutations() -> ModuleType:
    spec = importlib.util.spec_from_file_location("mutations", ROOT / "benchmarks" / "mutations.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize(
    ("text", "kind", "steps"),
    [
        ("80%", "percent", ["79%", "81%"]),
        ("12.5%", "percent", ["12.4%", "12.6%"]),
        ("14d", "duration", ["13d", "15d"]),
        ("26w", "duration", ["181d", "183d"]),
        ("50K", "number", ["49500", "50500"]),
        ("100K USD", "number", ["99000 USD", "101000 USD"]),
        ("1_000", "number", ["990", "1010"]),
        ("70", "number", ["69", "71"]),
        ("0", "number", ["-1", "1"]),
        ("1.5", "number", ["1.4", "1.6"]),
        ("0.01", "number", ["0.00", "0.02"]),
    ],
)
def test_mutation_steps(text: str, kind: str, steps: list[str]) -> None:
    assert _mutations().literal_steps(text, kind) == steps


def test_mutants_cover_literals_strictness_and_band_inclusivity(tmp_path: Path) -> None:
    folder = tmp_path / "rulesets" / "x"
    folder.mkdir(parents=True)
    (folder / "main.krl").write_text(
        RULESET
        + 'role AE "AE" { mission "m" }\n'
        + 'plan p "P" for AE {\n  period quarter\n  measure m {\n'
        + "    credit amount of deals where status == won\n    quota m\n"
        + "    rates method retroactive {\n      [0%, 100%) 5%\n      [100%, ...) 8%\n    }\n"
        + "  }\n}\n",
        encoding="utf-8",
    )
    module = _mutations()
    (shadowed,) = [
        m for m in module.find_mutants(ROOT / "rulesets" / "fintech")
        if m.source == "when employees in 50..249 -> 6" and m.after == "250"
    ]  # fmt: skip
    assert shadowed.explanation() == (
        "equivalent: an earlier case of the first-match criterion takes these values (>= 250)"
    )
    module.ROOT = tmp_path
    found = [(m.line, m.before, m.after, m.kind) for m in module.find_mutants(folder)]
    assert (10, ">=", ">", "strictness") in found
    assert (13, ">", ">=", "strictness") in found
    assert (10, "50", "49", "number") in found
    assert (24, "[", "(", "inclusivity") in found
    assert (24, ")", "]", "inclusivity") in found
    assert (25, "[", "(", "inclusivity") in found
    assert (25, ")", "]", "inclusivity") not in found  # `[100%, ...)` has no upper bound
    assert (25, "8%", "9%", "percent") in found
