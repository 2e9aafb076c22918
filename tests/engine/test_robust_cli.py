"""The CLI and the API on hostile ground: interrupted and failing writes, odd stdouts, big
outputs, out-of-range options, wrong argument types, `;` formulas, unusable quotas and splits.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import os
import signal
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import engine
import engine.demo
from engine.cli.main import main
from engine.demo import demo_tables, write
from engine.output import escape_formula, money_kpis, write_csv, write_json

ROOT = Path(__file__).resolve().parents[2]
CONTECH = str(ROOT / "rulesets" / "contech-saas")
MAVEN_RULESET = str(ROOT / "rulesets" / "maven-crm")
MAVEN = ROOT / "examples" / "maven-crm"
PROGRAM = engine.load(CONTECH)


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def koncept(*argv: str, **options: Any) -> subprocess.CompletedProcess[str]:
    """`koncept` in a real process (its own stdout, signals, encodings)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), **options.pop("env", {})}
    env.pop("KONCEPT_DEBUG", None)
    options.setdefault("stdout", subprocess.PIPE)
    return subprocess.run(
        [sys.executable, "-m", "engine.cli.main", *argv],
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=ROOT,
        check=False,
        **options,
    )


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("demo")
    tables, _ = demo_tables(PROGRAM, 40, 40, 0)
    write(tables, folder)
    return folder


def copy_data(source: Path, target: Path) -> Path:
    target.mkdir(parents=True, exist_ok=True)
    for path in source.iterdir():
        (target / path.name).write_bytes(path.read_bytes())
    return target


# ============================================================================ 1. atomic output
def test_sigint_during_csv_output_leaves_all_files_or_none(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    argv = ["eval", CONTECH, "--demo", "150k", "--format", "csv", "--out", str(out)]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    process = subprocess.Popen(
        [sys.executable, "-m", "engine.cli.main", *argv],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=env,
        cwd=ROOT,
    )
    deadline = time.monotonic() + 240
    while not os.listdir(out) and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    process.send_signal(signal.SIGINT)
    process.communicate(timeout=120)
    left = sorted(os.listdir(out))
    whole = ["alerts.csv", "budget.csv", "counts.csv", "deals.csv", "errors.csv", "funnel.csv"]
    whole += ["kpis.csv", "leads.csv", "payments.csv", "payout_lines.csv", "payouts.csv"]
    whole += ["payouts_measures.csv", "strategy.csv"]
    if process.returncode == 130:
        assert left == []  # no partial set, no temporary file or folder
    else:  # the signal came after the last rename: the whole set
        assert (process.returncode, left) == (0, whole)


def test_interrupted_json_output_leaves_no_file(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    def half_then_interrupted(results: Any, stream: Any, *args: Any, **kwargs: Any) -> None:
        stream.write('{\n"leads": [')
        raise KeyboardInterrupt

    monkeypatch.setattr("engine.output.write_json", half_then_interrupted)
    out = tmp_path / "out"
    code, _, err = run(capsys, "eval", CONTECH, "--demo", "20", "--out", str(out))
    assert (code, err) == (130, "interrupted\n")
    assert os.listdir(out) == []


def test_interrupted_demo_writes_no_table(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    def first_table_then_interrupted(tables: Any, folder: Any) -> list[Path]:
        name, frame = next(iter(tables.items()))
        frame.to_csv(Path(folder) / f"{name}.csv", index=False)
        raise KeyboardInterrupt

    monkeypatch.setattr(engine.demo, "write", first_table_then_interrupted)
    out = tmp_path / "tables"
    code, _, _ = run(capsys, "demo", CONTECH, "--out", str(out), "--leads", "5", "--deals", "5")
    assert code == 130
    assert os.listdir(out) == []


# ============================================================================ 2. failing writes
@pytest.mark.parametrize(
    "argv",
    [
        ["eval", CONTECH, "--demo", "50"],
        ["explain", CONTECH, "--demo", "50", "--deal", "D0001"],
        ["statement", CONTECH, "--demo", "50", "--rep", "R0001", "--period", "2026"],
        ["schema", CONTECH, "--table", "deals"],
    ],
    ids=["eval", "explain", "statement", "schema"],
)
def test_full_disk_on_stdout_is_one_line(argv: list[str]) -> None:
    with open("/dev/full", "w") as full:
        done = koncept(*argv, stdout=full)
    assert done.returncode == 2
    assert done.stderr == "error: cannot write stdout: No space left on device\n"


def test_closed_stdout_is_one_line() -> None:
    command = [sys.executable, "-m", "engine.cli.main", "eval", CONTECH, "--demo", "20"]
    done = subprocess.run(
        " ".join(f"'{part}'" for part in command) + " >&-",
        shell=True,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        cwd=ROOT,
        check=False,
    )
    assert done.returncode == 2
    assert done.stderr == "error: cannot write stdout: the stream is closed\n"


def test_out_that_is_not_a_folder_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(
        capsys, "eval", CONTECH, "--demo", "20", "--format", "csv", "--out", "/dev/full"
    )
    assert (code, err) == (2, "error: cannot write /dev/full: it is not a folder\n")


def test_cp1252_stdout_escapes_what_it_cannot_encode(data: Path) -> None:
    cp1252: dict[str, Any] = {"env": {"PYTHONIOENCODING": "cp1252"}, "encoding": "cp1252"}
    statement = koncept(
        "statement", CONTECH, "--data", str(data), "--rep", "R0001", "--period", "2026", **cp1252
    )
    assert statement.returncode in (0, 1), statement.stderr
    assert "Traceback" not in statement.stderr and "error" not in statement.stderr
    assert "\\u2500\\u2500 2026-Q1 \\u2500\\u2500" in statement.stdout  # `── 2026-Q1 ──`
    assert "€" in statement.stdout  # cp1252 has the euro sign: written as it is
    explain = koncept("explain", CONTECH, "--data", str(data), "--deal", "D0002", **cp1252)
    assert (explain.returncode, explain.stderr) == (0, "")
    # `✓` / `✗` (a met / unmet criterion): which one shows depends on the demo deal.
    assert "\\u2713" in explain.stdout or "\\u2717" in explain.stdout
    evaluated = koncept("eval", CONTECH, "--data", str(data), **cp1252)
    assert evaluated.returncode == 0
    assert json.loads(evaluated.stdout)["counts"]["deals"]["in"] == 40


# ============================================================================ 3. streamed JSON
def test_json_output_is_streamed_not_built_whole() -> None:
    tables, year = demo_tables(PROGRAM, 20_000, 20_000, 0)
    results = PROGRAM.evaluate(**tables, as_of=dt.date(year, 12, 31))

    class Sink(io.StringIO):
        size = 0

        def write(self, text: str) -> int:
            self.size += len(text)
            return len(text)

    sink = Sink()
    tracemalloc.start()
    try:
        write_json(results, sink, money_kpis(PROGRAM.compiled))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # Building every line of a table at once peaked at 3.5 times the document.
    assert peak < 2.5 * sink.size


# ============================================================================ 4. numeric options
@pytest.mark.parametrize("seed", ["-1", "4294967296", "1e3", "99999999999999999999999"])
@pytest.mark.parametrize("command", ["eval", "explain", "statement", "demo"])
def test_out_of_range_seed_is_a_usage_error(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, command: str, seed: str
) -> None:
    extra = {
        "eval": ["--demo", "10"],
        "explain": ["--demo", "10", "--deal", "D0001"],
        "statement": ["--demo", "10", "--rep", "R0001", "--period", "2026"],
        "demo": ["--out", str(tmp_path / "out"), "--leads", "5", "--deals", "5"],
    }[command]
    code, out, err = run(capsys, command, CONTECH, *extra, "--seed", seed)
    assert (code, out) == (2, "")
    assert err.endswith(
        f"argument --seed: expected a seed from 0 to 4,294,967,295 (a whole number), not {seed!r}\n"
    )
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("value", ["-1", "nan", "inf", "101", "x"])
def test_out_of_range_threshold_is_an_argparse_error(
    capsys: pytest.CaptureFixture[str], value: str
) -> None:
    code, _, err = run(capsys, "test", CONTECH, "--threshold", value)
    assert code == 2
    assert err.endswith(
        f"argument --threshold: expected a percentage from 0 to 100, not {value!r}\n"
    )


# ============================================================================ 5. API arguments
@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (None, "None"),
        ([("id", "L1")], "a list"),
        ("L1", "the str 'L1'"),
        (pd.DataFrame(), "a DataFrame"),
    ],
)
@pytest.mark.parametrize("method", ["evaluate_lead", "trace_lead", "evaluate_deal", "trace_deal"])
def test_a_record_that_is_not_a_mapping_is_a_type_error(
    method: str, value: Any, shown: str
) -> None:
    name = "lead" if "lead" in method else "deal"
    wanted = f"{method}: {name} must be a mapping of field name -> value (a dict), not {shown}"
    with pytest.raises(TypeError, match="^" + wanted.replace("(", r"\(").replace(")", r"\)")):
        getattr(PROGRAM, method)(value)


def test_as_of_that_is_not_a_date_is_a_type_error() -> None:
    with pytest.raises(TypeError) as found:
        PROGRAM.evaluate_deal({"id": "D1"}, as_of="2026-03-31")  # type: ignore[arg-type]
    assert str(found.value) == (
        "evaluate_deal: as_of must be a datetime.date, not the str '2026-03-31' "
        "(datetime.date.fromisoformat('2026-03-31'))"
    )
    with pytest.raises(TypeError, match=r"^evaluate: as_of must be a datetime.date, not an int$"):
        PROGRAM.evaluate(as_of=20260331)  # type: ignore[arg-type]


def test_tables_that_are_not_data_frames_are_type_errors() -> None:
    with pytest.raises(TypeError) as found:
        PROGRAM.evaluate(leads=[{"id": "L1"}])  # type: ignore[arg-type]
    assert str(found.value) == (
        "evaluate: leads must be a pandas DataFrame or None, not a list "
        "(pandas.DataFrame(rows) makes one from a list of dicts)"
    )
    with pytest.raises(TypeError, match=r"^validate: deals must be a pandas DataFrame or None"):
        PROGRAM.validate(deals="deals.csv")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"^evaluate: period must be a text like '2026-Q1'"):
        PROGRAM.evaluate(period=2026)  # type: ignore[arg-type]


def test_multiindex_columns_are_a_value_error() -> None:
    frame = pd.DataFrame(
        [["L1", "x"]], columns=pd.MultiIndex.from_tuples([("a", "id"), ("a", "b")])
    )
    with pytest.raises(ValueError) as found:
        PROGRAM.evaluate(leads=frame)
    assert str(found.value) == (
        "evaluate: leads has 2 levels of column names; give one level, named like the table's "
        "fields (frame.columns = [...])"
    )


# ============================================================================ 6. `;` formulas
@pytest.mark.parametrize(
    ("text", "escaped"),
    [
        ('x;=HYPERLINK("http://evil")', 'x;\'=HYPERLINK("http://evil")'),
        ("a;+1", "a;'+1"),
        ("b;@SUM(A1)", "b;'@SUM(A1)"),
        ("c; -2+3", "c; '-2+3"),
        ("d;\t=1", "d;'\t=1"),
        ("=1;=2", "'=1;'=2"),
        ("a;b;c", "a;b;c"),
        ("-5", "-5"),
        ("x; y = 1", "x; y = 1"),
    ],
)
def test_a_formula_after_a_semicolon_is_escaped(text: str, escaped: str) -> None:
    assert escape_formula(text) == escaped


def test_csv_output_escapes_formulas_after_semicolons(data: Path, tmp_path: Path) -> None:
    source = copy_data(data, tmp_path / "data")
    leads = pd.read_csv(source / "leads.csv", dtype=str, keep_default_na=False)
    leads.loc[0, "id"] = 'L1;=HYPERLINK("http://evil";"x")'
    leads.to_csv(source / "leads.csv", index=False)
    tables = {name: pd.read_csv(source / f"{name}.csv", dtype=str) for name in ("leads",)}
    results = PROGRAM.evaluate(**tables, as_of=dt.date(2026, 12, 31))
    write_csv(results, tmp_path / "out")
    with (tmp_path / "out" / "leads.csv").open(encoding="utf-8", newline="") as stream:
        ids = [row["id"] for row in csv.DictReader(stream)]
    assert 'L1;\'=HYPERLINK("http://evil";"x")' in ids


# ============================================================================ 7. --strict, pay
@pytest.mark.parametrize("quota", ["0", "-5", "0.00"])
def test_strict_fails_on_a_quota_pay_cannot_use(
    capsys: pytest.CaptureFixture[str], data: Path, tmp_path: Path, quota: str
) -> None:
    source = copy_data(data, tmp_path / "data")
    quotas = pd.read_csv(source / "quotas.csv", dtype=str)
    quotas.loc[0, "quota"] = quota
    quotas.to_csv(source / "quotas.csv", index=False)
    rep, period = quotas.loc[0, "rep_id"], quotas.loc[0, "period"]
    argv = ["eval", CONTECH, "--data", str(source), "--period", period, "--strict"]
    code, out, err = run(capsys, *argv)
    assert (code, out) == (1, "")
    assert f"payouts: rep {rep}, plan " in err and "it must be positive" in err
    assert err.endswith(
        "error: --strict: 1 value(s) pay cannot use (see the payouts errors); nothing written\n"
    )
    code, out, _ = run(capsys, *argv[:-1])  # without --strict: reported, not fatal
    assert code == 0 and json.loads(out)["errors"]


def test_strict_still_passes_when_only_the_plans_have_findings(
    capsys: pytest.CaptureFixture[str], data: Path
) -> None:
    # The demo's SDRs have no plan: a finding about the plans, not unusable data.
    code, _, err = run(
        capsys, "eval", CONTECH, "--data", str(data), "--period", "2026-Q1", "--strict"
    )
    assert code == 0, err
    assert "role SDR has no plan" in err


# ============================================================================ 8. statement
def test_statement_split_row_without_deal_is_an_error(
    capsys: pytest.CaptureFixture[str], data: Path, tmp_path: Path
) -> None:
    splits = tmp_path / "splits.csv"
    splits.write_text("deal_id,rep_id,share\n,R0001,50%\nD0001,R0001,100%\n", encoding="utf-8")
    argv = ["statement", CONTECH, "--data", str(data), "--rep", "R0001", "--period", "2026"]
    code, out, err = run(capsys, *argv, "--splits", str(splits))
    message = (
        "splits row 1, deal_id: a split row must name its deal (rep_id = 'R0001', share = '50%')"
    )
    assert code == 1
    assert err == f"1 error(s) in the input:\n  {message}\n"
    assert out.endswith(
        f"1 ligne(s) de la table des partages (splits) sans deal_id, ignorées :\n  - {message}\n"
    )


def test_statement_splits_without_their_columns_is_an_error(
    capsys: pytest.CaptureFixture[str], data: Path, tmp_path: Path
) -> None:
    splits = tmp_path / "splits.csv"
    splits.write_text("deal,rep_id,share\nD0001,R0001,100%\n", encoding="utf-8")
    argv = ["statement", CONTECH, "--data", str(data), "--rep", "R0001", "--period", "2026"]
    code, out, err = run(capsys, *argv, "--splits", str(splits))
    assert (code, out) == (2, "")
    assert err == (
        "error: the splits table has no deal_id column (it needs deal_id, rep_id and share; "
        "it has deal, rep_id, share)\n"
    )


def test_statement_lists_invalid_rows_as_eval_does(
    capsys: pytest.CaptureFixture[str], data: Path, tmp_path: Path
) -> None:
    source = copy_data(data, tmp_path / "data")
    deals = pd.read_csv(source / "deals.csv", dtype=str)
    deals.loc[3, "amount"] = "1.234"
    deals.to_csv(source / "deals.csv", index=False)
    _, _, eval_err = run(capsys, "eval", CONTECH, "--data", str(source))
    listed = [line.strip() for line in eval_err.splitlines() if line.startswith("    deals row")]
    assert listed
    argv = ["statement", CONTECH, "--data", str(source), "--rep", "R0001", "--period", "2026"]
    _, _, err = run(capsys, *argv)
    assert err.splitlines() == [f"{len(listed)} error(s) in the input:"] + [
        f"  {line}" for line in listed
    ]


def test_statement_reads_the_rulesets_mapping_as_eval_does(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # The Maven export is only readable through rulesets/maven-crm/mapping.yaml.
    argv = ["--data", str(MAVEN)]
    code, out, err = run(
        capsys, "statement", MAVEN_RULESET, *argv, "--rep", "Anna Snelling", "--period", "2017-Q1"
    )
    assert code in (0, 1), err
    assert "Relevé de rémunération variable — Anna Snelling" in out
