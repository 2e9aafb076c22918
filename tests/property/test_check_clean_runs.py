"""Properties of generated rulesets: what `koncept check` accepts runs, both evaluators agree,
and the order of declarations and files changes nothing.

1. A check-clean ruleset (one file, or spread over several) loads, evaluates the generated
   tables without raising, counts `in = out + rejected` for every table and reports no error
   that only the engine can cause. An ill-typed ruleset is rejected by check and by load.
2. The table path (`evaluate`) and the per-record path agree: every valid lead and deal row
   equals `evaluate_lead` / `evaluate_deal` of its input row, types included, and every
   payout row equals the per-record reference (`paths.record_payouts`) to the cent.
3. The same declarations in another order, spread over other files, give the same results.

Only `paths` touches the engine; `generate` draws the rulesets and the data. Each property is
a plain function (`runs`, `paths_agree`, `order_is_irrelevant`) that the tests call on drawn
examples. By default a test tries 40 examples and reports the first failure as drawn (the
ruleset text and the tables are printed); `--hypothesis-profile=deep` searches 2,000 examples
and shrinks the failure to a small ruleset.
"""

from __future__ import annotations

import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd
import paths
import pytest
from generate import Dataset, Ruleset, datasets, rulesets
from hypothesis import HealthCheck, Phase, event, given, note, settings
from hypothesis import strategies as st

import engine

FILE = "generated.krl"


def _settings(examples: int) -> settings:
    """`examples` examples, not shrunk (shrinking a ruleset takes minutes), under the default
    profile; any other loaded profile (`deep`) decides for itself."""
    quiet = [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example]
    if settings.get_current_profile_name() not in ("default", "ci"):
        return settings(deadline=None, suppress_health_check=quiet)
    fast = (Phase.explicit, Phase.reuse, Phase.generate, Phase.target)
    return settings(max_examples=examples, deadline=None, phases=fast, suppress_health_check=quiet)


SETTINGS = _settings(40)


# ----------------------------------------------------------------------------- drawing
@st.composite
def layouts(draw: st.DrawFn, ruleset: Ruleset, shuffle: bool) -> tuple[list[str], list[int]]:
    """The ruleset as 1 to 4 files (read in name order): (texts, the declaration order that
    results). With `shuffle`, the declarations are permuted, except the playbooks, whose
    order is documented to matter ("a deal follows the first playbook that applies, in
    declaration order"): they keep theirs, across files too."""
    order = list(range(len(ruleset.declarations)))
    if shuffle:
        order = list(draw(st.permutations(order)))
    files = draw(st.integers(1, 4))
    assignment = [draw(st.integers(0, files - 1)) for _ in order]
    header_at = draw(st.integers(0, files - 1))
    # The order the loader sees: by file, then by position in the file.
    read = sorted(range(len(order)), key=lambda k: (assignment[k], k))
    playbooks = [i for i, d in enumerate(ruleset.declarations) if d.kind == "playbook"]
    slots = [k for k in read if order[k] in playbooks]
    for slot, index in zip(slots, playbooks, strict=True):
        order[slot] = index
    return ruleset.files(order, assignment, header_at), [order[k] for k in read]


def _show(ruleset: Ruleset, data: Dataset) -> None:
    """The example, readably: the ruleset text and the tables as CSV (printed on failure)."""
    note(f"ruleset:\n{ruleset.text}")
    note(f"as_of={data.as_of} period={data.period}")
    for name, frame in data.tables.items():
        note(f"{name}:\n{frame.to_csv(index=False)}")


def _named(texts: Sequence[str]) -> dict[str, str]:
    return {f"part_{number}.krl": text for number, text in enumerate(texts)}


def _load(files: Mapping[str, str], folder: Path | None) -> engine.Program:
    try:
        return paths.load(files, folder)
    except engine.RulesetError as error:
        rendered = error.render()
    pytest.fail(f"check accepts the ruleset, load rejects it:\n{rendered}")


def _evaluated(program: engine.Program, data: Dataset) -> engine.Results:
    """Property 1 on one program: evaluates, counts every row, no internal error."""
    results = paths.evaluate(program, data.tables, data.as_of, data.period)
    counted = paths.counts(results)
    for name, frame in data.tables.items():
        rows_in, rows_out, rejected = counted[name]
        assert rows_in == len(frame), (name, counted[name])
        assert rows_in == rows_out + rejected, (name, counted[name])
    assert len(results.leads) == counted["leads"][1], ("leads", counted["leads"])
    assert len(results.deals) == counted["deals"][1], ("deals", counted["deals"])
    internal = paths.internal_errors(results)
    assert not internal, f"errors only the engine can cause: {internal}"
    return results


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Input rows as dicts of text cells (None when empty), as the per-record path takes them."""
    return [
        {str(k): v for k, v in zip(frame.columns, row, strict=True)}
        for row in frame.itertuples(index=False)
    ]


def _sorted(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(rows, key=lambda row: repr(paths.typed(row)))


def _same_rows(what: str, one: list[dict[str, Any]], other: list[dict[str, Any]]) -> None:
    """Equal rows, values and types; the message shows the first rows that differ."""
    if [paths.typed(r) for r in one] == [paths.typed(r) for r in other]:
        return
    pairs = [(a, b) for a, b in zip(one, other, strict=False) if paths.typed(a) != paths.typed(b)]
    first = pairs[0] if pairs else (one[len(other) :][:1], other[len(one) :][:1])
    raise AssertionError(
        f"{what} differ: {len(one)} and {len(other)} rows; first difference:\n"
        f"  {first[0]}\n  {first[1]}"
    )


# ----------------------------------------------------------------------------- properties
def runs(ruleset: Ruleset, texts: Sequence[str], data: Dataset) -> None:
    """Property 1: check-clean loads and runs; ill-typed is rejected by check and load."""
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch) / "ruleset"
        files = {FILE: ruleset.text} if len(texts) == 1 else _named(texts)
        where = None if len(files) == 1 else folder
        checked = paths.check(folder, files)
        if not ruleset.valid:
            assert not checked.ok, "check accepts an ill-typed declaration"
            with pytest.raises(engine.RulesetError):
                paths.load(files, where)
            return
        event(f"check clean: {checked.ok}")
        if checked.ok:
            _evaluated(_load(files, where), data)


def paths_agree(ruleset: Ruleset, data: Dataset) -> None:
    """Property 2: leads, deals and payouts of both paths, row for row."""
    if not ruleset.valid or not paths.check(Path("."), {FILE: ruleset.text}).ok:
        return
    program = _load({FILE: ruleset.text}, None)
    results = _evaluated(program, data)
    alerts = paths.alerts_by_id(results)
    leads = {str(row["id"]): row for row in paths.rows(results.leads)}
    for record in _records(data.tables["leads"]):
        row = leads.get(str(record["id"]))
        if row is None:
            continue  # rejected by validation
        lead = program.evaluate_lead(record)
        for name in paths.LEAD_FIELDS:
            mine, theirs = getattr(lead, name), row[name]
            assert paths.typed(mine) == paths.typed(theirs), (name, mine, theirs, record)
        raised = alerts.get(str(record["id"]), set())
        assert set(lead.alerts) == raised, ("alerts", lead.alerts, raised, record)

    # The per-record path has no stage history: deals are compared with a table evaluation
    # without stage events (with them, the table path documents other entry dates).
    alone = {**data.tables, "stage_events": None}
    history_free = paths.evaluate(program, alone, data.as_of, data.period)
    deals = {str(row["id"]): row for row in paths.rows(history_free.deals)}
    deal_alerts = paths.alerts_by_id(history_free)
    for record in _records(data.tables["deals"]):
        row = deals.get(str(record["id"]))
        if row is None:
            continue
        deal = program.evaluate_deal(record, data.as_of)
        for name in paths.DEAL_FIELDS:
            mine, theirs = getattr(deal, name), row[name]
            assert paths.typed(mine) == paths.typed(theirs), (name, mine, theirs, record)
        raised = deal_alerts.get(str(record["id"]), set())
        assert set(deal.alerts) == raised, ("alerts", deal.alerts, raised, record)

    reference = paths.record_payouts(program, data.tables, data.period)
    table = sorted(paths.rows(results.payouts), key=lambda r: (r["rep_id"], r["plan"], r["period"]))
    _same_rows("payouts (table path, per-record path)", table, reference)


def order_is_irrelevant(ruleset: Ruleset, texts: Sequence[str], data: Dataset) -> None:
    """Property 3: the permuted declarations in their files give the same Results tables.

    Row order follows declaration order in some tables (KPIs, alerts, funnel), so rows are
    compared as multisets; every value of every row must be the same.
    """
    if not ruleset.valid or not paths.check(Path("."), {FILE: ruleset.text}).ok:
        return
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch) / "ruleset"
        files = _named(texts)
        checked = paths.check(folder, files)
        assert checked.ok, f"the same declarations in other files fail check: {checked}"
        first = _evaluated(_load({FILE: ruleset.text}, None), data)
        second = _evaluated(_load(files, folder), data)
    assert paths.counts(first) == paths.counts(second), "counts differ"
    one, other = paths.tables(first), paths.tables(second)
    for name in one:
        _same_rows(f"{name} (one file, permuted files)", _sorted(one[name]), _sorted(other[name]))


# ----------------------------------------------------------------------------- the tests
@SETTINGS
@given(st.data())
def test_check_clean_rulesets_load_and_run(data: st.DataObject) -> None:
    """Property 1, on one file (`load_text`) or several (`load` of a folder)."""
    ruleset = data.draw(rulesets(), label="ruleset")
    texts, _ = data.draw(layouts(ruleset, shuffle=False), label="files")
    tables = data.draw(datasets(ruleset), label="data")
    _show(ruleset, tables)
    runs(ruleset, texts, tables)


@SETTINGS
@given(st.data())
def test_record_and_table_paths_agree(data: st.DataObject) -> None:
    """Property 2."""
    ruleset = data.draw(rulesets(), label="ruleset")
    tables = data.draw(datasets(ruleset), label="data")
    _show(ruleset, tables)
    paths_agree(ruleset, tables)


@SETTINGS
@given(st.data())
def test_order_of_declarations_and_files_changes_nothing(data: st.DataObject) -> None:
    """Property 3."""
    ruleset = data.draw(rulesets(), label="ruleset")
    texts, order = data.draw(layouts(ruleset, shuffle=True), label="files")
    tables = data.draw(datasets(ruleset), label="data")
    _show(ruleset, tables)
    note(f"declaration order: {order}")
    order_is_irrelevant(ruleset, texts, tables)
