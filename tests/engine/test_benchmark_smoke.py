"""benchmarks/engine.py on tiny tables: each part runs and its checks bite (no timings)."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Mapping
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pandas as pd
import pytest

from engine.program import Program

ROOT = Path(__file__).resolve().parents[2]


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_engine", ROOT / "benchmarks" / "engine.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while being built
    spec.loader.exec_module(module)
    return module


bench = _load()


@pytest.fixture(scope="module")
def program() -> Program:
    return bench.load_program()  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def tables(program: Program) -> dict[str, pd.DataFrame]:
    return bench.generate_data(program, 400, 150, 600)  # type: ignore[no-any-return]


def test_generated_tables_have_the_asked_sizes_and_some_missing_cells(
    tables: dict[str, pd.DataFrame],
) -> None:
    assert {name: len(frame) for name, frame in tables.items()} == {
        "leads": 400,
        "deals": 150,
        "stage_events": 600,
    }
    scored = list(bench.LEAD_FIELDS[1:])
    assert tables["leads"][scored].isna().any(axis=None)


def test_shuffled_tables_hold_the_same_rows_in_another_order(
    program: Program, tables: dict[str, pd.DataFrame]
) -> None:
    shuffled = bench.generate_data(program, 400, 150, 600, shuffle=True)
    for name, frame in tables.items():
        other = shuffled[name]
        assert list(other.index) == list(range(len(frame)))
        assert not other.equals(frame), name
        key = list(frame.columns)
        pd.testing.assert_frame_equal(
            other.sort_values(key).reset_index(drop=True),
            frame.sort_values(key).reset_index(drop=True),
        )


def test_hand_written_scores_equal_the_engine(
    program: Program, tables: dict[str, pd.DataFrame]
) -> None:
    leads = tables["leads"]
    scores, statuses = bench.hand_scores(leads)
    results = program.evaluate(leads=leads, as_of=bench.AS_OF).leads
    assert results["score"].tolist() == scores.tolist()
    assert results["status"].tolist() == statuses.tolist()
    assert set(statuses.tolist()) == {"SQL", "MQL"}


def test_leads_table_reports_engine_split_and_hand_written(
    program: Program, tables: dict[str, pd.DataFrame]
) -> None:
    lines = bench.leads_table(program, tables["leads"], repeat=1)
    assert [line.label.strip()[:30] for line in lines] == [
        "koncept program.evaluate(leads",
        "of which validation (engine.da",
        "of which the rest: ranges, sco",
        "hand-written pandas/numpy, fro",
        "hand-written pandas/numpy, fro",
    ]
    assert all(line.rows == 400 and line.seconds is not None for line in lines)
    assert lines[0].ratio.endswith("x") and "<= 1.5x hand-written" in lines[0].goal


def test_leads_table_refuses_to_time_disagreeing_code(
    program: Program, tables: dict[str, pd.DataFrame], monkeypatch: pytest.MonkeyPatch
) -> None:
    honest = bench.hand_scores

    def off_by_one(leads: pd.DataFrame) -> tuple[Any, Any]:
        scores, statuses = honest(leads)
        return scores + np.where(np.arange(len(scores)) == 3, 1, 0), statuses

    monkeypatch.setattr(bench, "hand_scores", off_by_one)
    with pytest.raises(bench.Mismatch, match="hand-written scores differ"):
        bench.leads_table(program, tables["leads"], repeat=1)


def test_lead_dicts_are_typed_with_none_for_missing(
    program: Program, tables: dict[str, pd.DataFrame]
) -> None:
    leads = bench.lead_dicts(program, tables["leads"], 400)
    assert len(leads) == 400 and all(tuple(lead) == bench.LEAD_FIELDS for lead in leads)
    assert {type(lead["employees"]) for lead in leads} == {int, type(None)}
    assert {type(lead["timing_months"]) for lead in leads} == {float, type(None)}
    assert {type(lead["budget"]) for lead in leads} == {str, type(None)}


def test_every_available_peer_agrees_with_the_engine(
    program: Program, tables: dict[str, pd.DataFrame]
) -> None:
    leads = bench.lead_dicts(program, tables["leads"], 400)
    found, missing = bench.peers(program)
    names = [peer.name for peer in found]
    assert names[:2] == ["koncept program.evaluate_lead", "plain Python function"]
    # Each peer package is either timed or named with its install command.
    packages = {name.split()[0] for name in names[2:]} | {hint.split(":")[0] for hint in missing}
    assert packages == {"zen-engine", "rule-engine"}
    assert all("pip install" in hint for hint in missing)
    for peer in found:
        bench.check_peer(peer, program, leads)


def test_zen_engine_peers_agree_with_the_engine(
    program: Program, tables: dict[str, pd.DataFrame]
) -> None:
    pytest.importorskip("zen")
    leads = bench.lead_dicts(program, tables["leads"], 400)
    found, _ = bench.peers(program)
    zen = [peer for peer in found if peer.name.startswith("zen-engine")]
    assert [peer.slow for peer in zen] == [True, False]
    for peer in zen:
        bench.check_peer(peer, program, leads)


def test_rule_engine_peer_agrees_with_the_engine(
    program: Program, tables: dict[str, pd.DataFrame]
) -> None:
    pytest.importorskip("rule_engine")
    leads = bench.lead_dicts(program, tables["leads"], 400)
    found, _ = bench.peers(program)
    (peer,) = [peer for peer in found if peer.name.startswith("rule-engine")]
    bench.check_peer(peer, program, leads)


def test_a_wrong_peer_is_caught(program: Program, tables: dict[str, pd.DataFrame]) -> None:
    leads = bench.lead_dicts(program, tables["leads"], 50)

    def always_sql(lead: Mapping[str, Any]) -> tuple[int, str]:
        score, _ = bench.python_score(lead)
        return score, "SQL"

    wrong = bench.Peer("always SQL", always_sql, False)
    with pytest.raises(bench.Mismatch, match=r"^always SQL gives \(\d+, 'SQL'\) for \{'id': "):
        bench.check_peer(wrong, program, leads)


def test_one_at_a_time_times_each_peer_on_its_sample(
    program: Program, tables: dict[str, pd.DataFrame]
) -> None:
    lines, _ = bench.one_at_a_time(
        program, tables["leads"], sample=200, peer_sample=50, check=100, repeat=1
    )
    assert lines[0].label == "koncept program.evaluate_lead" and lines[0].ratio == "1.00x"
    assert lines[1].label.strip() == "same, the lead's text cells (a CSV row)"
    assert "< 3 µs" in lines[0].goal
    for line in lines:
        slow = line.label.startswith(("zen-engine decision graph", "rule-engine"))
        assert line.rows == (50 if slow else 200)
        assert line.per_row_us is not None and line.per_row_us > 0


def test_deals_and_funnel(program: Program, tables: dict[str, pd.DataFrame]) -> None:
    lines = bench.deals_and_funnel(program, tables["deals"], tables["stage_events"], repeat=1)
    assert [line.rows for line in lines] == [150, 150, 150, 600, 600, 600, 750, 600]
    assert "< 3 s" in lines[0].goal and "< 3 s" in lines[3].goal


def test_peak_memory_runs_the_scenario_in_a_fresh_process(
    tables: dict[str, pd.DataFrame],
) -> None:
    (found,) = bench.peak_memory(tables, ["deals+stage_events"])
    assert found["scenario"] == "deals+stage_events"
    assert found["peak"] > 0
    assert found["loaded"] is None or found["peak"] >= found["loading_peak"] >= found["loaded"] > 0


def test_main_prints_every_section(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["--leads", "300", "--deals", "100", "--events", "300", "--sample", "100"]
    argv += ["--peer-sample", "20", "--check", "50", "--repeat", "1", "--no-memory", "--profile"]
    argv += ["--shuffle"]
    assert bench.main(argv) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"command: python benchmarks/engine.py {' '.join(argv)}\n")
    for text in (
        "Python 3.",
        "code: ",
        "timings: best of 1 runs",
        "data: 300 leads, 100 deals, 300 stage events",
        "rows shuffled",
        "1. Leads table",
        "2. One lead at a time",
        "3. Deals and funnel",
        "5. Where the time goes",
        "data/validate.py",
    ):
        assert text in out, text
    assert "4. Peak memory" not in out
