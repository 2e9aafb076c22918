"""Running cases of `koncept test` through both evaluators, and a whole run.

Every case runs through both evaluators: the per-record path (`evaluate_lead`, `evaluate_deal`,
`engine.plans.pay_rep`), which is the reference the wanted values are checked against, and the
table path (`Program.evaluate`, `engine.payouts`). Whenever both compute the same thing they
must agree, field by field; a disagreement is an error of the engine, reported as such, never a
test failure of the client's ruleset.
"""

from __future__ import annotations

import datetime as dt
import time
import traceback
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine.results import DEAL_COLUMNS, LEAD_COLUMNS, NO_TRACE, Results, Trace
from engine.testing.compare import Difference, native, plain
from engine.testing.coverage import Coverage, Tracer, coverage
from engine.testing.expect import check
from engine.testing.fixtures import Case, Problem, cell_text, discover, load_fixture, shown_path

if TYPE_CHECKING:
    import pandas as pd

    from engine.pay.reference import Payment
    from engine.program import Inputs, Program

__all__ = [
    "STATUSES",
    "CaseResult",
    "EngineError",
    "Report",
    "Runner",
    "matches",
    "run",
]

#: Case outcomes: passed, wanted values differ, could not run (or the engine's two paths
#: disagree), failed as expected (`xfail`), passed although expected to fail.
STATUSES = ("pass", "fail", "error", "xfail", "xpass")


# ============================================================================ running
@dataclass(frozen=True, slots=True)
class CaseResult:
    """What happened to one case: status, the differences (fail) or the message (error)."""

    case: Case
    status: str
    differences: tuple[Difference, ...] = ()
    message: str = ""
    duration: float = 0.0
    hits: frozenset[tuple[tuple[str, ...], str]] = frozenset()

    @property
    def ok(self) -> bool:
        """Whether the run may succeed with this case (pass, xfail or xpass)."""
        return self.status in ("pass", "xfail", "xpass")


class EngineError(Exception):
    """The per-record and the table path disagree: a bug of the engine, not of the ruleset."""


class Runner:
    """Runs cases; loads each ruleset once. `programs` overrides the ruleset of a folder
    (the mutation script runs the fixtures against mutated rulesets this way)."""

    def __init__(self, programs: Mapping[Path, Program] | None = None) -> None:
        self._programs: dict[Path, Program | str] = {
            path.resolve(): program for path, program in (programs or {}).items()
        }
        self._tracers: dict[int, Tracer] = {}

    def program(self, ruleset: Path) -> Program | str:
        """The compiled ruleset, or the rendered diagnostics when it cannot be loaded."""
        key = ruleset.resolve()
        if key not in self._programs:
            from engine.loader import RulesetError, load

            try:
                self._programs[key] = load(ruleset)
            except RulesetError as error:
                self._programs[key] = "the ruleset does not load:\n" + error.render().rstrip()
        return self._programs[key]

    def run(self, case: Case, *, trace: bool = False) -> CaseResult:
        """Run one case through both evaluators and check what it wants."""
        start = time.perf_counter()
        program = self.program(case.ruleset)
        if isinstance(program, str):
            return self._done(case, "error", message=program, start=start)
        try:
            got, hits = self._evaluate(program, case, trace)
        except EngineError as error:
            return self._done(case, "error", message=f"engine error: {error}", start=start)
        except _InputError as error:
            return self._done(case, "error", message=str(error), start=start)
        except Exception as error:  # the engine crashed: an error, with where it crashed
            where = traceback.extract_tb(error.__traceback__)[-1]
            return self._done(
                case,
                "error",
                message=f"engine crashed: {type(error).__name__}: {error} "
                f"({Path(where.filename).name}:{where.lineno})",
                start=start,
            )
        differences = tuple(check(case.want, got))
        status = "fail" if differences else "pass"
        return self._done(case, status, differences, start=start, hits=hits)

    def _done(
        self,
        case: Case,
        status: str,
        differences: tuple[Difference, ...] = (),
        *,
        message: str = "",
        start: float,
        hits: frozenset[tuple[tuple[str, ...], str]] = frozenset(),
    ) -> CaseResult:
        if case.xfail is not None:
            status = "xpass" if status == "pass" else "xfail"
        return CaseResult(case, status, differences, message, time.perf_counter() - start, hits)

    # ------------------------------------------------------------------ evaluation
    def _evaluate(
        self, program: Program, case: Case, trace: bool
    ) -> tuple[dict[str, Any], frozenset[tuple[tuple[str, ...], str]]]:
        as_of = case.as_of or dt.date.today()
        records = dict(case.inputs)
        frames: dict[str, pd.DataFrame] = {}
        for table, rows in records.items():
            frames[table] = _frame(rows)
        for table, file in case.files.items():
            from engine.data import DataError, read_table

            try:
                frames[table] = read_table(file)
            except DataError as error:
                raise _InputError(f"cannot read {table}: {error}") from None
            records[table] = tuple(_frame_records(frames[table]))
        results = program.evaluate(
            leads=frames.get("leads"),
            deals=frames.get("deals"),
            stage_events=frames.get("stage_events"),
            reps=frames.get("reps"),
            quotas=frames.get("quotas"),
            territories=frames.get("territories"),
            splits=frames.get("splits"),
            quota_relief=frames.get("quota_relief"),
            cancellations=frames.get("cancellations"),
            as_of=as_of,
            period=case.period,
        )
        got: dict[str, Any] = {}
        tracer = self._tracer(program) if trace else None
        hits: set[tuple[tuple[str, ...], str]] = set()
        leads, lead_errors = _leads(program, records.get("leads", ()), results, tracer, hits)
        has_history = "stage_events" in records
        deals, deal_errors = _deals(
            program, records.get("deals", ()), results, as_of, has_history, tracer, hits
        )
        got["leads"], got["deals"] = leads, deals
        got["record_errors"] = {**lead_errors, **deal_errors}
        got["funnel"] = _rows(results.funnel)
        got["kpis"] = _rows(results.kpis)
        got["alerts"], got["errors"] = _rows(results.alerts), _rows(results.errors)
        got["strategy"] = _rows(results.tables()["strategy"])
        got["payouts"], got["budget"], got["payments"] = [], [], []
        got["payout_lines"] = []
        if "reps" in frames and program.model.plans:
            from engine.periods import parse_period

            # The per-record path once, checked against the table path's three tables.
            inputs = program.validate(**{k: v for k, v in frames.items() if k != "leads"})
            found, _ = program.pay_each(inputs, parse_period(case.period) if case.period else None)
            got["payouts"], got["payments"] = self._pay(
                program, inputs, found, results, tracer, hits
            )
            got["budget"] = _rows(results.budget)
            got["payout_lines"] = self._lines(program, found, results)
            if tracer is not None:
                tracer.budget(got["budget"], hits)
        if "statement" in case.want:
            got["statement"] = self._statement(program, frames, case)
        if tracer is not None:
            tracer.tables(got, records.get("deals", ()), hits)
        return got, frozenset(hits)

    def _tracer(self, program: Program) -> Tracer:
        found = self._tracers.get(id(program))
        if found is None:
            found = self._tracers[id(program)] = Tracer(program)
        return found

    def _pay(
        self,
        program: Program,
        inputs: Inputs,
        found: Sequence[Payment],
        results: Results,
        tracer: Tracer | None,
        hits: set[tuple[tuple[str, ...], str]],
    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """Payouts and payments of the per-record path, rep by rep, checked equal to the
        table path's."""
        from engine.pay.format import payment_row, payout_row
        from engine.pay.reference import payments_of

        reference: dict[tuple[str, str, str], dict[str, Any]] = {}
        for payment in found:
            paid = payment.outcome.payout
            if paid is None or not payment.is_payout:
                continue
            if tracer is not None:
                tracer.payout(paid, hits)
            reference[(paid.rep_id, paid.plan, paid.period)] = plain(payout_row(paid))
        vector = {
            (str(r["rep_id"]), str(r["plan"]), str(r["period"])): plain(r)
            for r in _rows(results.payouts)
        }
        for key in sorted(set(reference) | set(vector)):
            one, other = reference.get(key), vector.get(key)
            if one is None or other is None or one != other:
                raise EngineError(
                    f"payouts of {' '.join(key)}: per-record path {_brief(one)}, "
                    f"table path {_brief(other)}"
                )
        settled = payments_of(
            program.book,
            found,
            inputs.records("cancellations"),
            (str(d["id"]) for d in inputs.records("deals")),
        )
        paid_each = {
            (line.rep_id, line.plan, line.period): plain(payment_row(line))
            for line in settled.lines
        }
        paid_table = {
            (str(r["rep_id"]), str(r["plan"]), str(r["period"])): plain(r)
            for r in _rows(results.tables()["payments"])
        }
        for key in sorted(set(paid_each) | set(paid_table)):
            one, other = paid_each.get(key), paid_table.get(key)
            if one != other:
                raise EngineError(
                    f"payments of {' '.join(key)}: per-record path "
                    f"{one['payment'] if one else 'no row'}, table path "
                    f"{other['payment'] if other else 'no row'}"
                )
        payouts = [reference[key] for key in sorted(reference)]
        return payouts, [paid_each[key] for key in sorted(paid_each)]

    def _lines(
        self, program: Program, found: Sequence[Payment], results: Results
    ) -> list[dict[str, Any]]:
        """Pay per deal of the per-record path (`engine.pay.lines.plan_lines`), checked equal
        to the table path's `payout_lines`, line for line."""
        from engine.pay.lines import line_rows, plan_lines

        keys = ("rep_id", "plan", "period", "measure", "date", "deal_id")

        def order(row: Mapping[str, Any]) -> tuple[str, ...]:
            return tuple("" if row[k] is None else str(row[k]) for k in keys)

        reference = sorted(
            (
                plain(row)
                for payment in found
                if payment.outcome.payout is not None and payment.is_payout
                for row in line_rows(
                    payment.outcome.payout,
                    plan_lines(program.book.plans[payment.plan], payment.outcome.payout),
                )
            ),
            key=order,
        )
        table = sorted((plain(r) for r in _rows(results.tables()["payout_lines"])), key=order)
        for one, other in zip(reference, table, strict=False):
            if one != other:
                raise EngineError(f"pay per deal: per-record path {one}, table path {other}")
        if len(reference) != len(table):
            raise EngineError(
                f"pay per deal: {len(reference)} lines on the per-record path, {len(table)} on "
                "the table path"
            )
        return reference

    def _statement(
        self, program: Program, frames: Mapping[str, pd.DataFrame], case: Case
    ) -> dict[str, Any]:
        from engine.statement import build_statement

        wanted = case.want["statement"]
        period = str(wanted.get("period") or case.period or "")
        if not period:
            raise _InputError("want.statement needs a period (on the case or the statement)")
        statement = build_statement(program, dict(frames), str(wanted["rep"]), period)
        return {"rep": wanted["rep"], "period": period, "text": statement.text}


class _InputError(Exception):
    """A case whose inputs cannot be used (a table file that cannot be read...)."""


def _brief(row: Mapping[str, Any] | None) -> str:
    if row is None:
        return "no row"
    measures = "; ".join(f"{m['measure']} {m['payout']}" for m in row.get("measures", ()))
    return f"{row['payout']} ({measures})"


def _frame(rows: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    """Inline records as a table of text cells, as a CSV export would give them."""
    import pandas as pd

    columns = list(dict.fromkeys(key for row in rows for key in row))
    data = [[cell_text(row.get(c)) for c in columns] for row in rows]
    return pd.DataFrame(data, columns=columns, dtype=object)


def _frame_records(frame: pd.DataFrame | None) -> list[dict[str, Any]]:
    if frame is None:
        return []
    names = [str(c) for c in frame.columns]
    return [
        {name: native(value) for name, value in zip(names, row, strict=True)}
        for row in frame.itertuples(index=False)
    ]


def _rows(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return _frame_records(frame)


def _ids(records: Sequence[Mapping[str, Any]]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for record in records:
        key = cell_text(record.get("id"))
        if key is not None:
            counts[key.strip()] = counts.get(key.strip(), 0) + 1
    return counts


def _per_record(
    kind: str,
    program: Program,
    evaluate: Callable[[Mapping[str, Any]], tuple[Any, Trace]],
    records: Sequence[Mapping[str, Any]],
    results: Any,
    compared: tuple[str, ...],
    compare_alerts: bool,
) -> tuple[list[tuple[Mapping[str, Any], str, Any, dict[str, Any], Any, Trace]], dict[str, str]]:
    """Run each record through the per-record path and check it against the table path.

    Returns (record, id, result, wanted-shaped fields, table row) for every record the
    per-record path accepts, and the reasons of those it rejects. A record whose id is unique
    must be accepted or rejected by both paths alike, with the same `compared` fields.
    """
    from engine.record import RecordError

    columns = LEAD_COLUMNS if kind == "lead" else DEAL_COLUMNS
    table = {str(r["id"]): r for r in _rows(getattr(results, f"{kind}s"))}
    rejected = _rejected(results, f"{kind}s", records)
    alerts = _alerts_by_id(results)
    counts = _ids(records)
    accepted: list[tuple[Mapping[str, Any], str, Any, dict[str, Any], Any, Trace]] = []
    errors: dict[str, str] = {}
    for record in records:
        key = (cell_text(record.get("id")) or "").strip()
        try:
            one, trace = evaluate(record)
        except RecordError as error:
            errors[key] = str(error)
            if counts.get(key) == 1 and key not in rejected:
                raise EngineError(
                    f"{kind} {key}: the per-record path rejects it ({error}), the table path "
                    "accepts it"
                ) from None
            continue
        got = {name: getattr(one, name) for name in columns}
        got["alerts"] = list(one.alerts)
        row = None
        if counts.get(key) == 1:
            if key in rejected:
                raise EngineError(
                    f"{kind} {key}: the table path rejects it ({rejected[key]}), the per-record "
                    "path accepts it"
                )
            row = table.get(key)
            _same_row(kind, key, got, row, compared)
            if compare_alerts:
                _same_alerts(kind, key, one.alerts, alerts.get(key, ()), program)
        accepted.append((record, key, one, got, row, trace))
    return accepted, errors


def _leads(
    program: Program,
    records: Sequence[Mapping[str, Any]],
    results: Any,
    tracer: Tracer | None,
    hits: set[tuple[tuple[str, ...], str]],
) -> tuple[dict[str, dict[str, Any]], dict[str, str]]:
    """Lead results of the per-record path by id, checked against the table path."""
    evaluate = program.trace_lead if tracer is not None else _untraced(program.evaluate_lead)
    accepted, errors = _per_record("lead", program, evaluate, records, results, LEAD_COLUMNS, True)
    found: dict[str, dict[str, Any]] = {}
    for _, key, one, got, _, trace in accepted:
        found[key] = got
        if tracer is not None:
            tracer.lead(one, trace, hits)
    return found, errors


def _untraced(
    evaluate: Callable[[Mapping[str, Any]], Any],
) -> Callable[[Mapping[str, Any]], tuple[Any, Trace]]:
    return lambda record: (evaluate(record), NO_TRACE)


def _deals(
    program: Program,
    records: Sequence[Mapping[str, Any]],
    results: Any,
    as_of: dt.date,
    has_history: bool,
    tracer: Tracer | None,
    hits: set[tuple[tuple[str, ...], str]],
) -> tuple[dict[str, dict[str, Any]], dict[str, str]]:
    """Deal results of the per-record path by id, checked against the table path (which alone
    reads stage events: with events, fields the history changes are not compared)."""
    history_fields = ("days_in_stage", "stale")
    fields = tuple(f for f in DEAL_COLUMNS if not (has_history and f in history_fields))
    if tracer is not None:
        evaluate = lambda record: program.trace_deal(record, as_of)  # noqa: E731
    else:
        evaluate = _untraced(lambda record: program.evaluate_deal(record, as_of))
    accepted, errors = _per_record(
        "deal", program, evaluate, records, results, fields, not has_history
    )
    found: dict[str, dict[str, Any]] = {}
    for record, key, one, got, row, trace in accepted:
        if has_history and row is not None:
            # The table path knows the history: its days in stage are the reference then.
            got.update({name: row[name] for name in history_fields})
        found[key] = got
        if tracer is not None:
            tracer.deal(record, one, trace, hits)
    return found, errors


def _rejected(results: Any, table: str, records: Sequence[Mapping[str, Any]]) -> dict[str, str]:
    """Ids of the rows the table path left out, with the first reason (rows are numbered 1..)."""
    found: dict[str, str] = {}
    for error in _rows(results.errors):
        if error["table"] != table or error["row"] is None:
            continue
        position = int(error["row"]) - 1
        if 0 <= position < len(records):
            key = (cell_text(records[position].get("id")) or "").strip()
            found.setdefault(key, f"{error['column']}: {error['message']}")
    return found


def _alerts_by_id(results: Any) -> dict[str, tuple[str, ...]]:
    found: dict[str, list[str]] = {}
    for row in _rows(results.alerts):
        if row["kind"] == "alert" and row["id"] is not None:
            found.setdefault(str(row["id"]), []).append(str(row["subject"]))
    return {key: tuple(value) for key, value in found.items()}


def _same_row(
    subject: str,
    key: str,
    one: Mapping[str, Any],
    row: Mapping[str, Any] | None,
    fields: Sequence[str],
) -> None:
    if row is None:
        raise EngineError(f"{subject} {key}: the table path has no result for it")
    for name in fields:
        # The same amount: a table's decimal column has one scale for all its rows
        # (`9500.0000`), a record's Decimal the places its value needs (`9500.00`).
        theirs = native(row[name])
        if isinstance(one[name], Decimal) and isinstance(theirs, Decimal) and one[name] == theirs:
            continue
        mine, theirs = plain(one[name]), plain(row[name])
        if mine != theirs or type(mine) is not type(theirs):
            raise EngineError(
                f"{subject} {key}: {name} is {mine!r} by the per-record path, {theirs!r} by the "
                "table path"
            )


def _same_alerts(
    subject: str,
    key: str,
    mine: Sequence[str],
    theirs: Sequence[str],
    program: Program,
) -> None:
    if sorted(mine) != sorted(theirs):
        raise EngineError(
            f"{subject} {key}: alerts {list(mine)} by the per-record path, {list(theirs)} by "
            "the table path"
        )


# ============================================================================ a whole run
@dataclass(frozen=True, slots=True)
class Report:
    """The results of a run: every case, the fixture files' problems, coverage per ruleset."""

    results: tuple[CaseResult, ...]
    problems: tuple[Problem, ...]
    coverage: tuple[Coverage, ...] = ()
    files: int = 0
    duration: float = 0.0

    def count(self, status: str) -> int:
        """Number of cases with this status."""
        return sum(1 for r in self.results if r.status == status)

    @property
    def ok(self) -> bool:
        """No failed or errored case and no problem in a fixture file."""
        return not self.problems and all(r.ok for r in self.results)


def matches(case: Case, pattern: str | None) -> bool:
    """Whether `-k PATTERN` selects the case: every word of the pattern appears in its id
    (case-insensitive); a word starting with `-` must not."""
    if not pattern:
        return True
    text = case.id.lower()
    for word in pattern.lower().split():
        if word.startswith("-") and len(word) > 1:
            if word[1:] in text:
                return False
        elif word not in text:
            return False
    return True


def run(
    paths: Sequence[str | Path],
    *,
    pattern: str | None = None,
    with_coverage: bool = False,
    runner: Runner | None = None,
    on_result: Callable[[CaseResult], None] | None = None,
) -> Report:
    """Collect the fixture files under the paths and run their (selected) cases."""
    start = time.perf_counter()
    runner = runner or Runner()
    files, problems = discover(paths)
    fixtures = [load_fixture(path) for path in files]
    problems.extend(p for f in fixtures for p in f.problems)
    results: list[CaseResult] = []
    hits: dict[Path, set[tuple[tuple[str, ...], str]]] = {}
    for fixture in fixtures:
        for case in fixture.cases:
            if not matches(case, pattern):
                continue
            result = runner.run(case, trace=with_coverage)
            results.append(result)
            hits.setdefault(case.ruleset.resolve(), set()).update(result.hits)
            if on_result is not None:
                on_result(result)
    reports: list[Coverage] = []
    if with_coverage:
        for ruleset, seen in sorted(hits.items()):
            program = runner.program(ruleset)
            if not isinstance(program, str):
                reports.append(coverage(shown_path(ruleset), program, seen))
    return Report(
        tuple(results), tuple(problems), tuple(reports), len(files), time.perf_counter() - start
    )
