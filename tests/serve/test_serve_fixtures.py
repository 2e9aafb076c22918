"""Every client fixture through the HTTP API gives the library's results: each case's tables on
`/evaluate` equal `Program.evaluate` written as `koncept eval` writes it, and each of its leads
and deals on `/lead` and `/deal` equal `evaluate_lead` / `evaluate_deal` (or the same refusal)."""

from __future__ import annotations

import datetime as dt
import io
import json
from collections import defaultdict
from typing import Any

import pandas as pd
import pytest

import engine
from engine.output import money_kpis, to_json, write_json
from engine.record import RecordError
from engine.testing.fixtures import Case, cell_text, discover, load_fixture
from tests.serve.conftest import RULESETS, Server

DEFAULT_DAY = dt.date(2026, 12, 31)


def _cases() -> dict[str, list[Case]]:
    paths, problems = discover([RULESETS])
    assert not problems
    by_ruleset: dict[str, list[Case]] = defaultdict(list)
    for path in paths:
        for case in load_fixture(path).cases:
            by_ruleset[case.ruleset.resolve().relative_to(RULESETS).parts[0]].append(case)
    return dict(by_ruleset)


CASES = _cases()


def _rows(case: Case) -> dict[str, list[dict[str, Any]]]:
    """A case's inline tables as a CRM export gives them: text cells (None when empty)."""
    return {
        table: [{k: cell_text(v) for k, v in record.items()} for record in records]
        for table, records in case.inputs.items()
    }


def _library(program: engine.Program, rows: dict[str, list[dict[str, Any]]], case: Case) -> Any:
    frames = {
        table: pd.DataFrame(
            [[r.get(c) for c in columns] for r in records], columns=columns, dtype=object
        )
        for table, records in rows.items()
        for columns in [list(dict.fromkeys(k for r in records for k in r))]
    }
    results = program.evaluate(**frames, as_of=case.as_of or DEFAULT_DAY, period=case.period)
    out = io.StringIO()
    write_json(results, out, money_kpis(program.compiled))
    return json.loads(out.getvalue())


def _one(program: engine.Program, kind: str, record: dict[str, Any], day: dt.date) -> Any:
    try:
        if kind == "lead":
            result = program.evaluate_lead(record)
        else:
            result = program.evaluate_deal(record, day)
    except RecordError as error:
        return ("refused", str(error))
    return {name: to_json(getattr(result, name)) for name in result.__dataclass_fields__}


@pytest.mark.parametrize("ruleset", sorted(CASES))
def test_fixtures_through_http_give_the_library_results(
    rulesets_server: Server, ruleset: str
) -> None:
    program = engine.load(RULESETS / ruleset)
    cases = CASES[ruleset]
    assert cases, f"{ruleset} has no fixture case"
    records = 0
    with rulesets_server.client() as client:
        for case in cases:
            rows = _rows(case)
            body = {
                "tables": rows,
                "as_of": (case.as_of or DEFAULT_DAY).isoformat(),
                "period": case.period,
            }
            answer = client.post(f"/v1/rulesets/{ruleset}/evaluate", json=body)
            assert answer.status_code == 200, f"{case.id}: {answer.text}"
            got = answer.json()
            assert got.pop("ruleset")["id"] == ruleset
            assert got == _library(program, rows, case), case.id
            day = case.as_of or DEFAULT_DAY
            for kind in ("lead", "deal"):
                for record in rows.get(f"{kind}s", ()):
                    records += 1
                    answer = client.post(
                        f"/v1/rulesets/{ruleset}/{kind}",
                        json=record,
                        params={"as_of": day.isoformat()} if kind == "deal" else None,
                    )
                    want = _one(program, kind, record, day)
                    if isinstance(want, tuple):
                        assert answer.status_code == 422, f"{case.id}: {answer.text}"
                        assert answer.json()["message"] == want[1]
                        continue
                    assert answer.status_code == 200, f"{case.id}: {answer.text}"
                    got_one = answer.json()[kind]
                    if kind == "deal":
                        want["weighted_value"] = to_json(
                            program.evaluate_deal(record, day).weighted_value, money=True
                        )
                    assert got_one == want, case.id
    assert records > 0 or ruleset == "industrie-services"  # its fixtures are about pay
