"""Every command on the output of `koncept demo`, for every client ruleset: what a new user tries
first. Each one exits with a documented code and never shows a traceback."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from engine.cli.main import main

RULESETS = Path(__file__).resolve().parents[2] / "rulesets"
CLIENTS = sorted(p.name for p in RULESETS.iterdir() if p.is_dir())


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err, (argv, err)
    return code, out, err


@pytest.mark.parametrize("client", CLIENTS)
def test_every_command_runs_on_demo_data(
    client: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ruleset = str(RULESETS / client)
    data = tmp_path / "data"
    code, _, err = run(
        capsys, "demo", ruleset, "--out", str(data), "--leads", "80", "--deals", "80"
    )
    assert code == 0, err
    written = {p.stem for p in data.iterdir()}
    assert {"leads", "deals", "stage_events", "reps", "quotas", "territories"} <= written
    assert run(capsys, "check", "--strict", ruleset)[:2] == (0, "")
    assert run(capsys, "fmt", "--check", ruleset)[0] == 0
    code, out, err = run(capsys, "eval", ruleset, "--data", str(data), "--as-of", "2026-12-31")
    assert code == 0, err
    document = json.loads(out)
    assert {"leads", "deals", "funnel", "kpis", "alerts", "errors", "payouts", "counts"} <= set(
        document
    )
    for table in document["counts"].values():
        assert table["in"] == table["out"] + table["rejected"]
    code, _, err = run(
        capsys, "eval", ruleset, "--data", str(data), "--period", "2026-Q1", "--format", "xlsx",
        "--out", str(tmp_path / "out"),
    )  # fmt: skip
    assert code == 0, err
    assert (tmp_path / "out" / "results.xlsx").is_file()
    lead = pd.read_csv(data / "leads.csv", dtype=str)["id"].iloc[0]
    deal = pd.read_csv(data / "deals.csv", dtype=str)["id"].iloc[0]
    rep = pd.read_csv(data / "reps.csv", dtype=str)["id"].iloc[0]
    for option, record in (("--lead", lead), ("--deal", deal)):
        code, out, err = run(capsys, "explain", ruleset, "--data", str(data), option, record)
        assert code in (0, 1), err
        assert record in out + err
    code, out, err = run(capsys, "schema", ruleset, "--table", "deals")
    assert code == 0 and json.loads(out)["type"] == "object", err
    code, out, err = run(
        capsys, "statement", ruleset, "--rep", rep, "--period", "2026-Q1", "--data", str(data)
    )
    assert code in (0, 1), err
    assert out.startswith("Relevé de rémunération variable")
    code, out, err = run(capsys, "test", str(RULESETS / client / "tests"))
    assert code == 0, out + err
