"""`Program`: a compiled ruleset, and the only orchestrator of an evaluation.

validate (every input row, once) -> evaluate (leads, deals, funnel, KPIs, alerts: the table
path) -> pay (the reps x plans x periods of `engine.pay.schedule`). The per-record path
(`evaluate_lead`, `evaluate_deal`) is the reference the table path is tested against.

Importing this module does not import pandas: `koncept check`, `fmt` and `schema` stay light.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from dsl.diagnostics import Diagnostic
from dsl.model import Model
from dsl.typed import TypedModel
from engine.codegen import lead_function
from engine.compiler import today
from engine.ir import Compiled
from engine.pay.spec import PlanBook, compile_plans
from engine.periods import PayPeriod, parse_period
from engine.record import DealEvaluator, LeadEvaluator
from engine.results import DealResult, LeadResult, Results, TableCounts, Trace

if TYPE_CHECKING:
    import pandas as pd

    from engine.data import RowError
    from engine.pay.math import PayoutIssue
    from engine.pay.reference import Payment
    from engine.pay.vector import PayoutResults

__all__ = ["TABLES", "Inputs", "Program"]

#: The input tables an evaluation takes, in the order they are validated.
TABLES = (
    "leads", "deals", "stage_events", "reps", "quotas", "territories", "quota_relief",
    "cancellations",
)  # fmt: skip


@dataclass(frozen=True, eq=False)
class Inputs:
    """Input tables after validation: the valid rows typed, every rejected row reported.

    `valid` holds one typed table per given input (`in = out + rejected` in `counts`);
    `codes` the text columns validation already factorized; `splits` is read by pay as it is.
    """

    valid: Mapping[str, pd.DataFrame]
    codes: Mapping[str, Mapping[str, tuple[Any, list[Any]]]]
    errors: tuple[RowError, ...]
    counts: Mapping[str, TableCounts]
    splits: pd.DataFrame | None = None
    given: frozenset[str] = field(default_factory=frozenset)

    def records(self, table: str, where: Any = None) -> list[dict[str, Any]]:
        """The valid rows of a table (those `where` holds, a boolean mask, when given) as the
        per-record path reads them: one dict per row, amounts as exact Decimals (from their
        cents), missing cells as None."""
        frame = self.valid.get(table)
        if frame is None:
            return []
        if where is not None:
            frame = frame[where]
        from decimal import Decimal

        from engine.results import is_missing

        names = [str(c) for c in frame.columns]
        cents = {n[: -len("__cents")] for n in names if n.endswith("__cents")}
        rows: list[dict[str, Any]] = []
        for values in frame.itertuples(index=False):
            row: dict[str, Any] = {}
            for name, value in zip(names, values, strict=True):
                missing = is_missing(value)
                if name.endswith("__cents"):
                    base = name[: -len("__cents")]
                    row[base] = None if missing else Decimal(int(value)).scaleb(-2)
                elif name not in cents:
                    row[name] = None if missing else _native(value)
            rows.append(row)
        return rows


class Program:
    """A compiled ruleset: evaluates one lead or deal, or whole tables. Immutable, shareable."""

    __slots__ = (
        "_deal", "_lead", "_lead_call", "book", "compiled", "diagnostics", "model", "typed",
    )  # fmt: skip

    def __init__(
        self,
        model: Model,
        typed: TypedModel,
        compiled: Compiled,
        diagnostics: Sequence[Diagnostic] = (),
    ) -> None:
        self.model = model
        self.typed = typed
        self.compiled = compiled
        #: The plans, lowered for pay.
        self.book: PlanBook = compile_plans(model, typed, compiled)
        #: Warnings the checker reported (errors never make a Program).
        self.diagnostics = tuple(diagnostics)
        self._lead = LeadEvaluator(compiled)
        self._deal = DealEvaluator(compiled)
        # One lead at a time: the ruleset written out as one Python function (the reference
        # evaluator when it cannot be), compiled once here.
        self._lead_call = lead_function(compiled, self._lead.reader) or self._lead

    # ------------------------------------------------------------------ one record
    def evaluate_lead(self, lead: Mapping[str, object]) -> LeadResult:
        """Score and classify one lead (a dict of field -> value): the reference evaluator's
        result (`engine.record`), by its generated form (`engine.codegen`)."""
        return self._lead_call(_record_arg("evaluate_lead", "lead", lead))

    def evaluate_deal(self, deal: Mapping[str, object], as_of: dt.date | None = None) -> DealResult:
        """Pipeline, qualification and playbook of one deal as of a date (default today)."""
        record = _record_arg("evaluate_deal", "deal", deal)
        return self._deal(record, _date_arg("evaluate_deal", as_of) or today())

    def trace_lead(self, lead: Mapping[str, object]) -> tuple[LeadResult, Trace]:
        """`evaluate_lead`, and how: the route and the case of each criterion that decided."""
        return self._lead.run(_record_arg("trace_lead", "lead", lead), trace=True)

    def trace_deal(
        self, deal: Mapping[str, object], as_of: dt.date | None = None
    ) -> tuple[DealResult, Trace]:
        """`evaluate_deal`, and how: route, qualification cases, playbook items due."""
        record = _record_arg("trace_deal", "deal", deal)
        return self._deal.run(record, _date_arg("trace_deal", as_of) or today(), trace=True)

    # ------------------------------------------------------------------ tables
    def validate(
        self,
        *,
        leads: pd.DataFrame | None = None,
        deals: pd.DataFrame | None = None,
        stage_events: pd.DataFrame | None = None,
        reps: pd.DataFrame | None = None,
        quotas: pd.DataFrame | None = None,
        territories: pd.DataFrame | None = None,
        splits: pd.DataFrame | None = None,
        quota_relief: pd.DataFrame | None = None,
        cancellations: pd.DataFrame | None = None,
    ) -> Inputs:
        """Validate every row of the given tables against the ruleset's records."""
        from engine.data.inputs import validate_inputs

        given = {
            "leads": leads,
            "deals": deals,
            "stage_events": stage_events,
            "reps": reps,
            "quotas": quotas,
            "territories": territories,
            "quota_relief": quota_relief,
            "cancellations": cancellations,
        }
        _table_args("validate", {**given, "splits": splits})
        stages = tuple(self.compiled.stages)
        valid, codes, errors, counts = validate_inputs(self.model, stages, given)
        present = frozenset(name for name, frame in given.items() if frame is not None)
        return Inputs(valid, codes, tuple(errors), counts, splits, present)

    def pay(self, inputs: Inputs, period: PayPeriod | None = None) -> PayoutResults:
        """Variable pay on validated inputs: every rep on the plans of its role, for the
        period (or every period of the plans). Without a reps table nothing is paid and
        nothing is reported: the caller asked for pipeline or lead results only."""
        from engine.pay.vector import PayoutEngine, PayoutResults

        valid = inputs.valid
        if valid.get("reps") is None:
            return PayoutResults.nothing()
        return PayoutEngine(self.book, self.compiled).evaluate(
            deals=valid.get("deals"),
            reps=valid.get("reps"),
            quotas=valid.get("quotas"),
            territories=valid.get("territories"),
            stage_events=valid.get("stage_events"),
            splits=inputs.splits,
            period=period,
            quota_relief=inputs.records("quota_relief"),
            cancellations=inputs.records("cancellations"),
            codes=inputs.codes.get("deals"),
        )

    def pay_each(
        self, inputs: Inputs, period: PayPeriod | None = None
    ) -> tuple[list[Payment], list[PayoutIssue]]:
        """The per-record reference of pay on validated inputs: every rep x plan x period of
        the pay schedule paid deal by deal (`engine.pay.reference`), and the schedule's issues.
        The table path (`pay`) must give the same payouts to the cent."""
        from engine.pay.reference import pay_everyone

        splits = inputs.splits
        split_rows = (
            []
            if splits is None
            else [{str(k): v for k, v in row.items()} for row in splits.to_dict("records")]
        )
        return pay_everyone(
            self.book,
            self.compiled,
            reps=inputs.records("reps"),
            deals=inputs.records("deals"),
            quotas=inputs.records("quotas"),
            territories={str(t["id"]): t for t in inputs.records("territories")},
            splits=split_rows,
            stage_events=inputs.records("stage_events"),
            period=period,
            quota_relief=inputs.records("quota_relief"),
        )

    def evaluate(
        self,
        *,
        leads: pd.DataFrame | None = None,
        deals: pd.DataFrame | None = None,
        stage_events: pd.DataFrame | None = None,
        reps: pd.DataFrame | None = None,
        quotas: pd.DataFrame | None = None,
        territories: pd.DataFrame | None = None,
        splits: pd.DataFrame | None = None,
        as_of: dt.date | None = None,
        period: str | None = None,
        quota_relief: pd.DataFrame | None = None,
        cancellations: pd.DataFrame | None = None,
    ) -> Results:
        """Evaluate whole tables (vectorized); rows failing validation are reported, not used.

        `period` (`2026-Q1`, `2026-03`, `2026-H1`, `2026`) scopes KPIs and payouts; a text that
        is not a period raises ValueError before any work.
        """
        import pandas as pd

        from engine.results import ALERT_COLUMNS, ERROR_COLUMNS, frozen_counts
        from engine.vector import evaluate_tables

        _table_args(
            "evaluate",
            {
                "leads": leads,
                "deals": deals,
                "stage_events": stage_events,
                "reps": reps,
                "quotas": quotas,
                "territories": territories,
                "splits": splits,
                "quota_relief": quota_relief,
                "cancellations": cancellations,
            },
        )
        if period is not None and not isinstance(period, str):
            raise TypeError(
                f"evaluate: period must be a text like '2026-Q1', '2026-03', '2026-H1' or "
                f"'2026', not {_kind(period)}"
            )
        asked = parse_period(period) if period is not None else None
        day = _date_arg("evaluate", as_of) or today()
        inputs = self.validate(
            leads=leads,
            deals=deals,
            stage_events=stage_events,
            reps=reps,
            quotas=quotas,
            territories=territories,
            splits=splits,
            quota_relief=quota_relief,
            cancellations=cancellations,
        )
        # Pay runs on a second thread while the leads and deals are evaluated: nothing of theirs
        # reads an attainment (only reps do), so only the KPIs wait for pay. Much of both is
        # numpy and Arrow, which let the other thread run meanwhile.
        beside = inputs.valid.get("reps") is not None and bool(inputs.given & {"leads", "deals"})
        with ThreadPoolExecutor(1, thread_name_prefix="koncept-pay") as pool:
            paying = (
                pool.submit(self.pay, inputs, asked) if beside else _done(self.pay(inputs, asked))
            )
            found = evaluate_tables(
                self.compiled,
                inputs.valid,
                inputs.codes,
                day,
                asked,
                lambda: paying.result().attainments(asked),
            )
            paid = paying.result()
        row_errors = pd.DataFrame(
            [(e.table, e.row, e.column, e.value, e.message) for e in inputs.errors],
            columns=list(ERROR_COLUMNS),
        )
        return Results(
            leads=found.leads,
            deals=found.deals,
            funnel=found.funnel,
            kpis=found.kpis,
            alerts=_concat([found.alerts, paid.alert_rows()], ALERT_COLUMNS),
            errors=_concat([row_errors, paid.error_rows()], ERROR_COLUMNS),
            payouts=paid.payouts,
            budget=paid.budget,
            counts=frozen_counts(inputs.counts.values()),
            as_of=day,
            period=None if asked is None else asked.id,
            strategy=found.strategy,
            payments=paid.payments,
            payout_lines=paid.lines,
        )


def _done(value: PayoutResults) -> Future[PayoutResults]:
    """A future already holding `value` (pay done on this thread)."""
    future: Future[PayoutResults] = Future()
    future.set_result(value)
    return future


# ----------------------------------------------------------------------------- arguments
def _kind(value: object) -> str:
    """How an argument is called in an error: `None`, `a list`, `the str '2026-01-01'`."""
    if value is None:
        return "None"
    if isinstance(value, str):
        return f"the str {value!r}"
    name = type(value).__name__
    return f"{'an' if name[:1].lower() in 'aeiou' else 'a'} {name}"


def _record_arg(method: str, name: str, value: object) -> Mapping[str, object]:
    """A record argument: a mapping of field name -> value, else TypeError."""
    if value.__class__ is dict:
        try:
            "".join(value)  # every key is text: one C loop (this runs on every record)
        except TypeError:
            pass
        else:
            return value
    if not isinstance(value, Mapping):
        hint = (
            " (one row of a DataFrame: frame.iloc[i].to_dict(); a whole table: Program.evaluate)"
            if hasattr(value, "columns") or hasattr(value, "to_dict")
            else ""
        )
        raise TypeError(
            f"{method}: {name} must be a mapping of field name -> value (a dict), "
            f"not {_kind(value)}{hint}"
        )
    keys = [k for k in value if not isinstance(k, str)]
    if keys:
        raise TypeError(f"{method}: {name}'s field names must be text, not {keys[0]!r}")
    return value


def _date_arg(method: str, value: object) -> dt.date | None:
    """An `as_of` argument: a `datetime.date` (a datetime counts as its day), or None."""
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    hint = f" (datetime.date.fromisoformat({value!r}))" if isinstance(value, str) else ""
    raise TypeError(f"{method}: as_of must be a datetime.date, not {_kind(value)}{hint}")


def _table_args(method: str, tables: Mapping[str, object]) -> None:
    """Every table argument is None or a pandas DataFrame with one level of column names."""
    import pandas as pd

    for name, frame in tables.items():
        if frame is None:
            continue
        if not isinstance(frame, pd.DataFrame):
            hint = (
                " (pandas.DataFrame(rows) makes one from a list of dicts)"
                if isinstance(frame, list | tuple)
                else ""
            )
            raise TypeError(
                f"{method}: {name} must be a pandas DataFrame or None, not {_kind(frame)}{hint}"
            )
        if isinstance(frame.columns, pd.MultiIndex):
            raise ValueError(
                f"{method}: {name} has {frame.columns.nlevels} levels of column names; "
                "give one level, named like the table's fields (frame.columns = [...])"
            )


def _native(value: Any) -> Any:
    """A cell as a plain Python value (numpy scalars and timestamps unwrapped)."""
    if hasattr(value, "to_pydatetime"):
        moment = value.to_pydatetime()
        return moment.date() if moment.time() == dt.time() else moment
    if hasattr(value, "item") and not isinstance(value, str | bytes):
        return value.item()
    return value


def _concat(frames: list[pd.DataFrame], columns: tuple[str, ...]) -> pd.DataFrame:
    import pandas as pd

    parts = [f for f in frames if not f.empty]
    if not parts:
        return frames[0] if frames else pd.DataFrame(columns=list(columns))
    return pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0]
