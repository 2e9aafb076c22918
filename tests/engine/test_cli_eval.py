"""`koncept eval`, `koncept schema` and `koncept demo` through the CLI entry point.

The output contract (JSON shape, money as strings, formula-safe CSV and XLSX), the summary's
`in = out + rejected`, every bad input with its message, and the real maven-crm export.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
import subprocess
import sys
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import jsonschema
import openpyxl
import pytest

import engine
from dsl.canonical import TABLES
from engine.cli._common import Progress
from engine.cli.main import main
from engine.demo import demo_tables
from engine.output import escape_formula, money_kpis, to_json, write_json
from engine.results import DEAL_COLUMNS, ERROR_COLUMNS, FUNNEL_COLUMNS, LEAD_COLUMNS
from engine.schemas import table_columns

ROOT = Path(__file__).resolve().parents[2]
CONTECH = str(ROOT / "rulesets" / "contech-saas")
MAVEN_RULESET = str(ROOT / "rulesets" / "maven-crm")
# A real CRM export, shipped as it was found (examples/maven-crm/README.md).
MAVEN = ROOT / "examples" / "maven-crm"
MEASURE_KEYS = (
    "measure", "credited", "quota", "attainment", "rate_or_pct", "payout", "effective_rate"
)
MONEY = re.compile(r"^-?\d+\.\d{2}$")
#: The output tables, in order: the contract's, then any the engine adds (payout budget...).
OUTPUT_TABLES = list(engine.load(CONTECH).evaluate().tables())
COUNT_LINE = re.compile(r"^  (\w+) +([\d,]+) in = +([\d,]+) out \+ ([\d,]+) rejected$", re.M)


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def summary_counts(err: str) -> dict[str, tuple[int, int, int]]:
    return {
        table: (int(a.replace(",", "")), int(b.replace(",", "")), int(c.replace(",", "")))
        for table, a, b, c in COUNT_LINE.findall(err)
    }


# A small client export: a formula-looking id, a text cell starting with `=`, a deal entered
# in its stage 5 days after the evaluation date (-5 days: a number, never escaped), a bad row.
LEADS = """\
id,created_at,source,budget,sector,authority,need,timing_months,employees
L-001,2026-02-01,outbound,confirmed,industrie,decision_maker,urgent,,12
=HYPERLINK("http://x"),2026-02-02,inbound,to_validate,services,user,exploration,8,40
L-003,2026-02-03,referral,=1+2,autre,influencer,urgent,2,300
"""
DEALS = """\
id,rep_id,account,type,amount,stage,stage_entered_at,status,contacts,demo_done,demo_feedback
D-001,R1,@Acme,new_logo,120000,demo,2026-03-01,open,2,true,
D-002,R1,-2+3+cmd,upsell,18000.5,qualification,2026-04-05,open,1,,
D-003,R1,Beta,renewal,1.234,proposal,2026-03-20,open,1,,
"""


@pytest.fixture
def export(tmp_path: Path) -> Path:
    folder = tmp_path / "export"
    write(folder / "leads.csv", LEADS)
    write(folder / "deals.csv", DEALS)
    return folder


# ----------------------------------------------------------------------------- JSON contract
def test_demo_json_document_has_the_contract_shape(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "eval", CONTECH, "--demo", "300", "--format", "json")
    assert code == 0
    doc = json.loads(out)
    assert list(doc) == ["as_of", "period", *OUTPUT_TABLES, "counts"]
    contract = ["leads", "deals", "funnel", "kpis", "alerts", "errors", "payouts"]
    assert [t for t in OUTPUT_TABLES if t in contract] == contract
    assert doc["as_of"] == "2026-12-31"  # demo data: the last day of the plans' year
    assert len(doc["leads"]) == len(doc["deals"]) == 300
    assert all(list(row) == list(LEAD_COLUMNS) for row in doc["leads"])
    assert all(list(row) == list(DEAL_COLUMNS) for row in doc["deals"])
    assert all(list(row) == list(FUNNEL_COLUMNS) for row in doc["funnel"])
    # Input rows are all valid; what the plans could not pay or credit is listed too.
    assert {e["table"] for e in doc["errors"]} == {"payouts"}
    assert "payouts: rep R0004: role SDR has no plan\n" in err
    assert doc["payouts"], "the AE plan pays every quarter"
    for row in doc["payouts"]:
        assert MONEY.match(row["payout"])
        assert [list(m) for m in row["measures"]] == [list(MEASURE_KEYS)] * 3
        # No plan cap in contech-saas: the measures add up to the payout.
        assert sum(Decimal(m["payout"]) for m in row["measures"]) == Decimal(row["payout"])
    for budget in doc["budget"]:
        paid = [
            Decimal(r["payout"])
            for r in doc["payouts"]
            if (r["plan"], r["period"]) == (budget["plan"], budget["period"])
        ]
        assert Decimal(budget["total"]) == sum(paid)
    lead = doc["leads"][0]
    assert isinstance(lead["score"], int) and isinstance(lead["points"], dict)
    assert isinstance(lead["missing"], list)
    assert lead["score"] == sum(lead["points"].values())
    # Money: two-place decimal strings, exactly amount x stage probability.
    tables, _ = demo_tables(engine.load(CONTECH), 300, 300)
    program = engine.load(CONTECH)
    for row, given in zip(doc["deals"], tables["deals"].to_dict("records"), strict=True):
        value = row["weighted_value"]
        assert value is None or MONEY.match(value), value
        if value is not None:
            probability = program.compiled.stages[row["stage"]].probability
            assert Decimal(value) == (Decimal(given["amount"]) * probability).quantize(
                Decimal("0.01")
            )
    kpis = {row["kpi"]: row for row in doc["kpis"]}
    assert MONEY.match(kpis["new_logo_acv"]["value"])  # a sum of amounts is money
    assert kpis["win_rate"]["target"] == 0.3  # a rate is a number
    assert kpis["sales_cycle"]["target"] == 182  # 26 weeks, in days
    # in = out + rejected, in the document and in the summary.
    for table, count in doc["counts"].items():
        assert count["in"] == count["out"] + count["rejected"]
        assert summary_counts(err)[table] == (count["in"], count["out"], count["rejected"])
    assert err.startswith("demo data (300 leads and deals, seed 0), as of 2026-12-31\n")
    assert f"  {len(doc['alerts']):,} alert(s) (" in err


def test_demo_is_deterministic_and_equals_its_written_files(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    _, first, _ = run(capsys, "eval", CONTECH, "--demo", "120")
    _, again, _ = run(capsys, "eval", CONTECH, "--demo", "120")
    assert first == again
    code, out, err = run(
        capsys, "demo", CONTECH, "--out", str(tmp_path), "--leads", "120", "--deals", "120"
    )
    assert (code, out) == (0, "")
    assert f"{tmp_path / 'leads.csv'}: 120 rows\n" in err
    # The same tables read back from CSV give the same document.
    _, from_files, _ = run(
        capsys, "eval", CONTECH, "--data", str(tmp_path), "--as-of", "2026-12-31"
    )
    assert from_files == first


def test_export_json_values(capsys: pytest.CaptureFixture[str], export: Path) -> None:
    code, out, err = run(capsys, "eval", CONTECH, "--data", str(export), "--as-of", "2026-03-31")
    assert code == 0
    doc = json.loads(out)
    leads = {row["id"]: row for row in doc["leads"]}
    assert leads["L-001"] == {
        "id": "L-001",
        "score": 74,
        "status": "SQL",
        "points": {
            "budget": 20, "market": 15, "authority": 20, "need": 15, "timing": 0, "company": 2,
            "reference": 2,
        },
        "missing": ["timing"],
        "scores": {"bmanter": 74},
    }  # fmt: skip
    deals = {row["id"]: row for row in doc["deals"]}
    assert deals["D-001"]["weighted_value"] == "48000.00"
    assert deals["D-001"]["days_in_stage"] == 30
    assert deals["D-001"]["stale"] is True
    assert deals["D-002"]["weighted_value"] == "1800.05"  # 18,000.50 x 10%
    assert deals["D-002"]["days_in_stage"] == -5
    assert deals["D-002"]["stale"] is False
    assert [list(e) for e in doc["errors"]] == [list(ERROR_COLUMNS)] * 2
    assert doc["errors"] == [
        {
            "table": "leads",
            "row": 4,
            "column": "budget",
            "value": "=1+2",
            "message": "'=1+2' is not one of confirmed, to_validate, blocking",
        },
        {
            "table": "deals",
            "row": 4,
            "column": "amount",
            "value": "1.234",
            "message": (
                "'1.234' is ambiguous: 1234 or 1.234? Write it without a thousands separator "
                "(1234) or with two decimals"
            ),
        },
    ]
    assert doc["counts"]["leads"] == {"in": 3, "out": 2, "rejected": 1}
    assert doc["counts"]["deals"] == {"in": 3, "out": 2, "rejected": 1}
    assert summary_counts(err) == {"leads": (3, 2, 1), "deals": (3, 2, 1)}
    assert "  2 error(s), all listed in the errors table:\n" in err
    assert (
        "    leads row 4, budget = '=1+2': '=1+2' is not one of confirmed, to_validate, blocking\n"
    ) in err


# ----------------------------------------------------------------------------- CSV and XLSX
def test_escape_formula_only_touches_text_that_starts_a_formula() -> None:
    assert escape_formula("=SUM(A1)") == "'=SUM(A1)"
    assert escape_formula("+cmd") == "'+cmd"
    assert escape_formula("-2+3+cmd|' /C calc'!A0") == "'-2+3+cmd|' /C calc'!A0"
    assert escape_formula("@Acme") == "'@Acme"
    assert escape_formula("\tx") == "'\tx"
    assert escape_formula("\rx") == "'\rx"
    assert escape_formula("-5") == "-5"
    assert escape_formula("+3.5") == "+3.5"
    assert escape_formula("-1e3") == "-1e3"
    assert escape_formula("Acme") == "Acme"
    assert escape_formula("") == ""


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as stream:
        return list(csv.DictReader(stream))


def test_csv_files_escape_formulas_and_keep_numbers(
    capsys: pytest.CaptureFixture[str], export: Path, tmp_path: Path
) -> None:
    out_dir = tmp_path / "out"
    code, out, err = run(
        capsys, "eval", CONTECH, "--data", str(export), "--as-of", "2026-03-31",
        "--format", "csv", "--out", str(out_dir),
    )  # fmt: skip
    assert (code, out) == (0, "")
    names = sorted(p.name for p in out_dir.iterdir())
    assert names == sorted(f"{t}.csv" for t in [*OUTPUT_TABLES, "payouts_measures", "counts"])
    assert f"  wrote {out_dir / 'deals.csv'}\n" in err
    leads = read_csv(out_dir / "leads.csv")
    assert list(leads[0]) == [
        "id", "score", "status", "points.budget", "points.market", "points.authority",
        "points.need", "points.timing", "points.company", "points.reference", "missing",
        "scores.bmanter",
    ]  # fmt: skip
    assert [row["id"] for row in leads] == ["L-001", '\'=HYPERLINK("http://x")']
    assert leads[0]["missing"] == "timing"
    deals = {row["id"]: row for row in read_csv(out_dir / "deals.csv")}
    assert deals["D-001"]["weighted_value"] == "48000.00"
    assert deals["D-002"]["days_in_stage"] == "-5"  # a number stays a number
    assert deals["D-001"]["playbook_missing"] == "discovery_workshop"
    assert deals["D-001"]["missing"] == "positive_feedback"
    assert deals["D-002"]["missing"] == "need; budget; timing"
    errors = read_csv(out_dir / "errors.csv")
    assert errors[0]["value"] == "'=1+2"
    assert errors[0]["message"] == "'=1+2' is not one of confirmed, to_validate, blocking"
    counts = read_csv(out_dir / "counts.csv")
    assert counts == [
        {"table": "leads", "in": "3", "out": "2", "rejected": "1"},
        {"table": "deals", "in": "3", "out": "2", "rejected": "1"},
    ]
    assert read_csv(out_dir / "payouts_measures.csv") == []
    header = (out_dir / "payouts_measures.csv").read_text(encoding="utf-8").splitlines()[0]
    assert header == (
        "rep_id,plan,period,paid,measure,credited,quota,attainment,rate_or_pct,payout,"
        "effective_rate"
    )


def test_xlsx_workbook_escapes_formulas_and_writes_numbers(
    capsys: pytest.CaptureFixture[str], export: Path, tmp_path: Path
) -> None:
    code, _, err = run(
        capsys, "eval", CONTECH, "--data", str(export), "--as-of", "2026-03-31",
        "--format", "xlsx", "--out", str(tmp_path),
    )  # fmt: skip
    assert code == 0
    assert f"  wrote {tmp_path / 'results.xlsx'}\n" in err
    workbook = openpyxl.load_workbook(tmp_path / "results.xlsx")
    tables = list(OUTPUT_TABLES)
    tables.insert(tables.index("payouts") + 1, "payouts_measures")
    assert workbook.sheetnames == [*tables, "counts"]
    leads = workbook["leads"]
    formula = leads.cell(row=3, column=1)
    assert formula.value == '\'=HYPERLINK("http://x")'
    assert formula.data_type == "s"  # text, never a formula
    deals = workbook["deals"]
    header = [cell.value for cell in deals[1]]
    rows = {
        row[0]: dict(zip(header, row, strict=True))
        for row in deals.iter_rows(min_row=2, values_only=True)
    }
    assert rows["D-002"]["days_in_stage"] == -5  # a number cell
    assert rows["D-002"]["weighted_value"] == pytest.approx(1800.05)
    money = deals.cell(row=2, column=header.index("weighted_value") + 1)
    # Money: two places and the ruleset's currency (engine.report.xlsx, one styling).
    assert money.data_type == "n" and money.number_format == '#,##0.00\\ "€"'
    errors = workbook["errors"]
    assert [cell.value for cell in errors[2]][3] == "'=1+2"
    assert all(cell.data_type != "f" for row in workbook["errors"].iter_rows() for cell in row)
    counts = [row for row in workbook["counts"].iter_rows(values_only=True)]
    assert counts == [("table", "in", "out", "rejected"), ("leads", 3, 2, 1), ("deals", 3, 2, 1)]


def test_json_out_writes_results_json(
    capsys: pytest.CaptureFixture[str], export: Path, tmp_path: Path
) -> None:
    code, out, err = run(
        capsys, "eval", CONTECH, "--data", str(export), "--as-of", "2026-03-31",
        "--out", str(tmp_path),
    )  # fmt: skip
    assert (code, out) == (0, "")
    assert err.endswith(f"  wrote {tmp_path / 'results.json'}\n")
    doc = json.loads((tmp_path / "results.json").read_text(encoding="utf-8"))
    assert doc["counts"]["deals"] == {"in": 3, "out": 2, "rejected": 1}


# ----------------------------------------------------------------------------- bad input
def test_missing_data_folder(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    missing = tmp_path / "nowhere"
    assert run(capsys, "eval", CONTECH, "--data", str(missing)) == (
        2, "", f"error: {missing}: data folder not found\n",
    )  # fmt: skip


def test_empty_data_folder(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, out, err = run(capsys, "eval", CONTECH, "--data", str(tmp_path))
    assert (code, out) == (2, "")
    assert err == (
        f"error: {tmp_path}: no input table found (expected leads.csv, deals.csv, "
        "stage_events.csv, reps.csv, quotas.csv, territories.csv, quota_relief.csv, "
        "cancellations.csv, or .xlsx, .json, .parquet)\n"
    )


def test_unreadable_csv(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = write(tmp_path / "leads.csv", "id,budget\nL1,confirmed\nL2,to_validate,extra,x\n")
    assert run(capsys, "eval", CONTECH, "--data", str(tmp_path)) == (
        2, "", f"error: {path}: line 3 has 4 cells but the header has 2\n",
    )  # fmt: skip


def test_not_an_excel_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = write(tmp_path / "deals.xlsx", "not a workbook")
    assert run(capsys, "eval", CONTECH, "--data", str(tmp_path)) == (
        2, "", f"error: {path}: not a readable Excel file (File is not a zip file)\n",
    )  # fmt: skip


def test_strict_fails_on_invalid_rows_and_writes_nothing(
    capsys: pytest.CaptureFixture[str], export: Path
) -> None:
    code, out, err = run(capsys, "eval", CONTECH, "--data", str(export), "--strict")
    assert (code, out) == (1, "")
    assert err.endswith("error: --strict: 2 invalid input row(s); nothing written\n")
    assert "    leads row 4, budget = '=1+2': '=1+2' is not one of confirmed" in err
    assert "    deals row 4, amount = '1.234': '1.234' is ambiguous: 1234 or 1.234? " in err
    assert summary_counts(err) == {"leads": (3, 2, 1), "deals": (3, 2, 1)}


def test_strict_passes_on_valid_rows(capsys: pytest.CaptureFixture[str]) -> None:
    # Only invalid input rows fail --strict; the plans' findings are reported, not fatal.
    code, out, _ = run(capsys, "eval", CONTECH, "--demo", "50", "--strict")
    assert code == 0
    assert {e["table"] for e in json.loads(out)["errors"]} == {"payouts"}


def test_unknown_mapping_key(capsys: pytest.CaptureFixture[str], export: Path) -> None:
    mapping = write(export / "m.yaml", "tables:\n  deals:\n    colums: {a: id}\n")
    assert run(capsys, "eval", CONTECH, "--data", str(export), "--mapping", str(mapping)) == (
        2, "", f"error: {mapping}:3:5: tables.deals.colums: unknown key 'colums'; did you mean "
        "'columns'?\n",
    )  # fmt: skip


def test_table_file_not_found(capsys: pytest.CaptureFixture[str], export: Path) -> None:
    missing = export / "other.csv"
    assert run(capsys, "eval", CONTECH, "--data", str(export), "--leads", str(missing)) == (
        2, "", f"error: {missing}: file not found\n",
    )  # fmt: skip


def test_required_column_missing_rejects_the_table(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    write(tmp_path / "deals.csv", "id,amount\nD1,100\nD2,200\n")
    code, out, err = run(capsys, "eval", CONTECH, "--data", str(tmp_path))
    assert code == 0
    doc = json.loads(out)
    assert doc["counts"]["deals"] == {"in": 2, "out": 0, "rejected": 2}
    assert doc["errors"] == [
        {
            "table": "deals",
            "row": None,
            "column": "status",
            "value": None,
            "message": "required column 'status' is missing",
        }
    ]
    assert "    deals, status: required column 'status' is missing\n" in err


def test_usage_errors(capsys: pytest.CaptureFixture[str], export: Path) -> None:
    data = ["--data", str(export)]
    assert run(capsys, "eval", CONTECH, *data, "--format", "csv") == (
        2, "", "error: --format csv writes several tables: give --out DIR\n",
    )  # fmt: skip
    code, out, err = run(capsys, "eval", CONTECH, *data, "--period", "2026-Q5")
    assert (code, out) == (2, "")
    assert err.endswith(
        "koncept eval: error: argument --period: '2026-Q5' is not a period (expected a quarter "
        "like 2026-Q1, a month like 2026-03, a half year like 2026-H1 or a year like 2026)\n"
    )
    assert run(capsys, "eval", CONTECH) == (
        2, "", "error: give --data DIR (a folder of input tables), table files, or --demo\n",
    )  # fmt: skip
    assert run(capsys, "eval", CONTECH, "--demo", "--mapping", "m.yaml") == (
        2, "", "error: --demo generates every table: leave out table files and --mapping\n",
    )  # fmt: skip
    code, _, err = run(capsys, "eval", CONTECH, *data, "--as-of", "31/03/2026")
    assert code == 2
    assert err.endswith(
        "koncept eval: error: argument --as-of: expected a date like 2026-03-31, not '31/03/2026'\n"
    )
    code, _, err = run(capsys, "eval", CONTECH, "--demo", "2.5")
    assert code == 2
    assert err.endswith(
        "koncept eval: error: argument --demo: expected a number of rows from 0 to 50,000,000 "
        "(like 1000 or 10k), not '2.5'\n"
    )
    code, _, err = run(capsys, "eval", CONTECH, "--demo", *data)
    assert code == 2
    assert err.endswith("koncept eval: error: argument --data: not allowed with argument --demo\n")


def test_ruleset_errors_exit_1_and_missing_ruleset_exits_2(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    bad = write(tmp_path / "bad.krl", 'ruleset x "x" {}\nscore s on lead { a { when foo -> 1 } }\n')
    code, out, err = run(capsys, "eval", str(bad), "--demo")
    assert (code, out) == (1, "")
    assert err.startswith(f"{bad}:2:28: error[E201]: unknown field `foo` on lead\n")
    missing = tmp_path / "nope"
    code, out, err = run(capsys, "eval", str(missing), "--demo")
    assert (code, out) == (2, "")
    assert err.startswith(f"{missing}:1:1: error[E001]: no such file or folder\n")


def test_unexpected_failure_is_a_message_not_a_traceback(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: Any, **kwargs: Any) -> None:
        raise KeyError("stage")

    monkeypatch.delenv("KONCEPT_DEBUG", raising=False)
    monkeypatch.setattr(engine.Program, "evaluate", broken)
    assert run(capsys, "eval", CONTECH, "--demo", "10") == (
        2, "", "error: the evaluation stopped on unexpected input (KeyError: 'stage'); set "
        "KONCEPT_DEBUG=1 to see where\n",
    )  # fmt: skip


# ----------------------------------------------------------------------------- maven-crm
def test_maven_crm_real_export(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(
        capsys, "eval", MAVEN_RULESET, "--data", str(MAVEN), "--as-of", "2017-12-31"
    )
    assert code == 0
    doc = json.loads(out)
    counts = doc["counts"]["deals"]
    assert counts["in"] == 8_800
    assert counts["in"] == counts["out"] + counts["rejected"]
    assert err.splitlines()[:3] == [
        f"{MAVEN}, as of 2017-12-31",
        f"  mapping: {Path(MAVEN_RULESET) / 'mapping.yaml'}",
        f"  deals        8,800 in = {counts['out']:,} out + {counts['rejected']:,} rejected",
    ]
    # Its quirks, reported rather than crashed on: open deals with no account miss their
    # exit criterion, deals with no close value have no weighted value, prospecting deals
    # with no engage date have unknown days in stage; `GTXPro` is read as GTX Pro.
    with (MAVEN / "sales_pipeline.csv").open(encoding="utf-8", newline="") as stream:
        raw = {row["opportunity_id"]: row for row in csv.DictReader(stream)}
    deals = {row["id"]: row for row in doc["deals"]}
    no_account = {
        i for i, r in raw.items() if r["deal_stage"] == "Prospecting" and not r["account"]
    }
    assert no_account
    assert {i for i, d in deals.items() if "account_known" in d["missing"]} == no_account
    no_value = {i for i, r in raw.items() if not r["close_value"]}
    assert {i for i, d in deals.items() if d["weighted_value"] is None} == no_value
    no_date = {i for i, r in raw.items() if not r["engage_date"]}
    assert {i for i, d in deals.items() if d["days_in_stage"] is None} == no_date
    assert all(d["stale"] is None for i, d in deals.items() if i in no_date)
    assert any(r["product"] == "GTXPro" for r in raw.values())
    assert doc["errors"] == []
    funnel = {row["stage"]: row for row in doc["funnel"]}
    assert funnel["prospecting"]["reached"] == 8_800
    won = {row["rep_id"]: row for row in doc["kpis"] if row["kpi"] == "won_value"}
    assert all(row["value"] is None or MONEY.match(row["value"]) for row in won.values())
    assert all(row["target"] == "100000.00" for row in won.values())
    # The 2017 agent plan, per quarter: 5% of won value (to the cent, half up), +1,000 at 100K.
    assert {row["period"] for row in doc["payouts"]} == {f"2017-Q{q}" for q in range(1, 5)}
    for row in doc["payouts"]:
        commission, bonus = row["measures"]
        expected = (Decimal(commission["credited"]) * Decimal("0.05")).quantize(
            Decimal("0.01"), rounding=ROUND_HALF_UP
        )
        assert Decimal(commission["payout"]) == expected
        reached = Decimal(bonus["credited"]) >= 100_000
        assert bonus["payout"] == ("1000.00" if reached else "0.00")
        assert Decimal(row["payout"]) == expected + Decimal(bonus["payout"])


# ----------------------------------------------------------------------------- schema
def test_schema_prints_the_effective_json_schema(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "schema", CONTECH, "--table", "deals")
    assert (code, err) == (0, "")
    schema = json.loads(out)
    jsonschema.Draft202012Validator.check_schema(schema)
    program = engine.load(CONTECH)
    # Exactly the columns `koncept eval` validates deals against.
    assert list(schema["properties"]) == [c.name for c in table_columns(program.model, "deal")]
    assert schema["required"] == ["id", "status"]
    assert schema["title"] == "deal (contech_saas)"
    assert schema["properties"]["m_metrics"] == {
        "description": "integer, 0..2",
        "type": ["integer", "null"],
        "minimum": 0,
        "maximum": 2,
    }
    assert schema["properties"]["contact_role"] == {
        "description": (
            "one_of: decision_maker (Décideur), influencer (Influenceur), user (Utilisateur)"
        ),
        "enum": ["decision_maker", "influencer", "user", None],
    }
    assert schema["properties"]["stage"]["enum"] == [*program.compiled.stages, None]
    validator = jsonschema.Draft202012Validator(schema)
    good = {"id": "D1", "status": "open", "m_metrics": 2, "stage": "demo", "amount": "1200.50"}
    assert list(validator.iter_errors(good)) == []
    bad = {**good, "m_metrics": 3, "stage": "demonstration"}
    assert sorted(e.message for e in validator.iter_errors(bad)) == [
        "'demonstration' is not one of ['detection', 'qualification', 'discovery', 'demo', "
        "'proposal', 'negotiation', 'signature', None]",
        "3 is greater than the maximum of 2",
    ]


@pytest.mark.parametrize("table", ["leads", "stage_events", "reps", "quotas", "territories"])
def test_schema_of_every_table_is_valid(capsys: pytest.CaptureFixture[str], table: str) -> None:
    code, out, _ = run(capsys, "schema", CONTECH, "--table", table)
    assert code == 0
    schema = json.loads(out)
    jsonschema.Draft202012Validator.check_schema(schema)
    record = {"leads": "lead", "stage_events": "stage_event", "reps": "rep", "quotas": "quota"}
    name = record.get(table, "territory")
    assert list(schema["properties"]) == [
        c.name for c in table_columns(engine.load(CONTECH).model, name)
    ]
    assert name in TABLES


def test_schema_unknown_table(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "schema", CONTECH, "--table", "opportunities")
    assert (code, out) == (2, "")
    assert err.endswith(
        "koncept schema: error: argument --table: invalid choice: 'opportunities' (choose from "
        "'leads', 'deals', 'stage_events', 'reps', 'quotas', 'territories', 'quota_relief', "
        "'cancellations', 'lead', 'deal', 'stage_event', 'rep', 'quota', 'territory', "
        "'quota_relief', 'cancellation')\n"
    )


# ----------------------------------------------------------------------------- progress
class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_draws_on_a_terminal_for_long_runs_only() -> None:
    screen = Terminal()
    with Progress(3, True, screen) as progress:
        progress.step("reading")
        progress.step("evaluating")
        assert progress.done == 1
    drawn = screen.getvalue()
    assert "evaluating" in drawn and "1/3" in drawn  # the step and how far the run is
    assert drawn.endswith("\x1b[2K")  # the bar's line erased at the end
    quiet = Terminal()
    with Progress(3, False, quiet) as progress:
        progress.step("reading")
    assert quiet.getvalue() == ""
    piped = io.StringIO()
    with Progress(3, True, piped) as progress:
        progress.step("reading")
    assert piped.getvalue() == ""


def test_progress_is_off_when_stderr_is_captured(capsys: pytest.CaptureFixture[str]) -> None:
    _, _, err = run(capsys, "eval", CONTECH, "--demo", "60000")
    assert "\r" not in err and "[#" not in err
    assert dt.date.fromisoformat(err.split("as of ")[1][:10]) == dt.date(2026, 12, 31)


@pytest.mark.parametrize(
    "name", ["contech-saas", "fintech", "industrie-services", "maven-crm", "services-b2b"]
)
def test_json_writer_equals_a_row_by_row_reference(name: str) -> None:
    # The writer converts each distinct value once; converting every cell gives the same.
    program = engine.load(ROOT / "rulesets" / name)
    tables, _ = demo_tables(program, 400, 400, seed=3)
    results = program.evaluate(**tables, as_of=dt.date(2026, 12, 31))
    money = money_kpis(program.compiled)
    stream = io.StringIO()
    write_json(results, stream, money)
    document = json.loads(stream.getvalue())

    def cell(value: Any, money: bool) -> Any:
        missing = type(value).__name__ in ("NAType", "NaTType") or value is None or value != value
        return to_json(None if missing else value, money)

    for table, frame in results.tables().items():
        expected = [
            {
                column: cell(
                    value,
                    (table, column) == ("deals", "weighted_value")
                    or (table, column) in (("payouts", "payout"), ("budget", "total"))
                    or (table == "kpis" and column in ("value", "target") and row["kpi"] in money)
                    or (
                        table == "strategy"
                        and column in ("target", "actual", "gap")
                        and row["kind"] == "revenue"
                    ),
                )
                for column, value in row.items()
            }
            for row in frame.astype(object).to_dict("records")
        ]
        assert json.loads(json.dumps(expected)) == document[table], table


def test_schema_and_the_parser_do_not_import_pandas() -> None:
    # `koncept check`, `fmt` and `schema` start fast: building the parser with the evaluation
    # subcommands registered, and printing a schema, never import pandas.
    code = (
        "import io, sys, contextlib\n"
        "from engine.cli.main import main\n"
        "with contextlib.redirect_stdout(io.StringIO()) as out:\n"
        f"    assert main(['schema', {CONTECH!r}, '--table', 'deals']) == 0\n"
        "assert out.getvalue().startswith('{')\n"
        "print(sorted(m for m in ('pandas', 'numpy', 'openpyxl') if m in sys.modules))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    )
    assert done.stdout == "[]\n"
