"""The table evaluator: the semantics of `engine.compiler`, vectorized with numpy and pandas.

A value is a `V`: a numpy array and a mask of the rows where it is known. Exact values are int64
scaled by 10**scale (money: cents), dates are int64 days, floats are float64, text is an object
array. Conditions are boolean arrays that are False wherever they are unknown, so Kleene logic
is a few mask operations.

Two things keep it both fast and faithful to the record path:
  * a condition that reads a single text field is evaluated once per distinct value with the
    record path's own closure, then spread to the rows by the column's factorized codes;
  * per-row lists and mappings (`points`, `missing`, `skipped`...) are built once per distinct
    combination (a key made of small integer codes), then taken by that key: no Python loop
    runs per row, and rows with the same combination share one immutable object.

Modules, in the order they build on each other: `values` (V, Frame, columns), `history` (stage
events as codes), `expr` (IR -> vector functions), `context` (one evaluation's state, alerts),
`scores` (scores and qualification, leads), `deals` (pipeline, playbooks, funnel, win rates),
`kpis` (KPIs per role, rep and team; alerts on other tables), `strategy` (the strategy's lines
measured on won deals).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass

import pandas as pd

from engine.ir import Compiled
from engine.periods import PayPeriod
from engine.vector.context import Alerts, Context
from engine.vector.deals import deal_rows, funnel_rows, win_rate_alerts
from engine.vector.expr import Compiler
from engine.vector.frame import Frame
from engine.vector.history import History
from engine.vector.kpis import kpi_rows, other_alerts
from engine.vector.scores import lead_rows
from engine.vector.strategy import strategy_rows
from engine.vector.values import (
    Codes,
    V,
)

__all__ = ["Compiler", "Frame", "TableResults", "V", "deal_results", "evaluate_tables"]


@dataclass(frozen=True, eq=False)
class TableResults:
    """What the table path computes from validated inputs (pay apart)."""

    leads: pd.DataFrame
    deals: pd.DataFrame
    funnel: pd.DataFrame
    kpis: pd.DataFrame
    alerts: pd.DataFrame
    strategy: pd.DataFrame | None = None


def evaluate_tables(
    compiled: Compiled,
    valid: Mapping[str, pd.DataFrame],
    codes: Mapping[str, Mapping[str, Codes]],
    as_of: dt.date,
    period: PayPeriod | None,
    attainments: Callable[[], Mapping[str, Mapping[str, float]]],
) -> TableResults:
    """Everything the ruleset declares on validated tables (and the text columns validation
    factorized): scores, pipeline, funnel, KPIs, alerts. `attainments` gives the attainments
    (per measure, per rep) pay found, for `attainment()` on reps: it is called once the leads
    and deals are evaluated (they never read one), so pay may still be running until then."""
    context = Context(compiled, as_of, period, {}, codes, valid)
    alerts = Alerts()
    leads = lead_rows(context, valid.get("leads"), alerts)
    history = History(
        list(compiled.stages.values()), valid.get("deals"), valid.get("stage_events"), codes
    )
    deals, deal_frame, playbooks = deal_rows(context, valid.get("deals"), history, alerts)
    funnel = funnel_rows(context, history, alerts)
    win_rate_alerts(context, deal_frame, playbooks, alerts)
    # The strategy reads the deals only: worked out before waiting for pay, its alerts listed
    # last as ever.
    strategy_alerts = Alerts()
    strategy = strategy_rows(context, deal_frame, strategy_alerts)
    context.attainments = attainments()  # only reps' frames read them, from here on
    kpis = kpi_rows(context, valid, deal_frame, alerts)
    other_alerts(context, valid, alerts)
    alerts.extend(strategy_alerts)
    return TableResults(leads, deals, funnel, kpis, alerts.frame(), strategy)


def deal_results(
    compiled: Compiled, deals: pd.DataFrame, names: Collection[str], as_of: dt.date
) -> dict[str, V]:
    """Computed results of every deal (`qualification_status`, `meddpicc.score`...), by the deal
    evaluation of `evaluate_tables`, for pay's credit rules. Pay sees the deal as it stands:
    without its stage events (as the per-record path, `reached()` reads the deal's stage) and
    without its linked records. The checker lets a credit read only results that do not
    change with the day, so `as_of` may be any day."""
    context = Context(compiled, as_of, None, {}, None, {"deals": deals})
    history = History(list(compiled.stages.values()), deals, None)
    _, frame, _ = deal_rows(context, deals, history, Alerts())
    assert frame is not None
    return {name: frame.extras[name] for name in names}
