"""The strategy measured: one row per line of each `strategy` block, on the won deals.

Semantics (the language reference, docs/language.md, "The strategy, measured", says the same):
  * The deals measured are the won deals (`status == won`) of the evaluated period: closed in
    it, by the KPIs' own period rule (`engine.vector.kpis.in_period`); every won deal when no
    period is asked. Amounts are exact (cents); a won deal without an amount adds nothing.
  * `target revenue 8M from 5M`: the target is a year's. The row's target is that amount times
    the share of a year the period is (a quarter: a quarter of it; no period: all of it),
    rounded with the ruleset's rounding; actual is the won amount; gap = actual - target; on
    track when actual >= target x (1 - tolerance): a shortfall of at most the tolerance, in
    points of attainment. Going past the target is on track.
  * `growth new_logo 60% when <condition>`: the growth lines split the growth between segments.
    The growth is the won amount of the deals at least one growth line takes (a renewal of the
    base, or a deal no line names, is no part of it); a line's actual is the share of that
    amount its own condition takes. A deal whose condition is unknown is not counted in it.
  * `focus <condition>` and `channel direct 100%` (the deal's `channel` field is `direct`): the
    share of the won amount of the deals whose condition is known that it holds on (a deal
    without a sector or a channel is left out of that line, not counted against it). A focus
    has no target: it is measured, never on track or off.
  * Shares are exact fractions of two exact amounts (to 80 digits, as in pay); gap = actual -
    target, a fraction (-0.15 is 15 points under). A share is on track when |gap| <= the
    strategy's `tolerance` (5 pts = 0.05; 0 when none is declared), decided on the exact
    amounts. No deal in its base: actual, gap and status are unknown (empty).
  * Each line off raises a `strategy` alert, in French, naming the figures.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd

from engine.ir import FieldRef, StrategyIR, StrategyLineIR
from engine.money import EXACT, format_french, round_money
from engine.periods import PERIODS_PER_YEAR
from engine.results import STRATEGY_COLUMNS
from engine.vector.context import Alerts, Context
from engine.vector.frame import Frame
from engine.vector.kpis import in_period
from engine.vector.values import Bools, full_known, truth

__all__ = ["OFF", "ON_TRACK", "strategy_rows"]

#: A line's status: within its tolerance of the target, or not.
ON_TRACK, OFF = "on_track", "off"

#: How an alert names a line, in French.
_WHAT = {
    "revenue": "chiffre d'affaires",
    "growth": "part de la croissance",
    "focus": "focus",
    "channel": "part du canal",
}


def strategy_rows(ctx: Context, deals: Frame | None, alerts: Alerts) -> pd.DataFrame:
    """The strategy table (STRATEGY_COLUMNS): each line's target, actual, gap and status on the
    won deals of the period; a `strategy` alert for each line off. No deals table: no rows."""
    strategies = ctx.compiled.strategies
    if deals is None or not strategies:
        return pd.DataFrame(columns=list(STRATEGY_COLUMNS))
    n = deals.n
    amount = deals.field(FieldRef("amount", "fixed", 2))
    won = deals.matches("status", "won") & in_period(ctx, "deal", deals) & full_known(amount, n)
    cents = np.where(won, np.broadcast_to(amount.values, (n,)), 0)
    compile_ = ctx.compiler("deal").compile

    def total(mask: Bools) -> int:
        picked = cents[mask & won]
        if len(picked) and max(-int(picked.min()), int(picked.max())) * len(picked) >= 2**63:
            return sum(picked.tolist())  # Python ints: an int64 sum could overflow
        return int(picked.sum())

    rows: list[dict[str, Any]] = []
    for strategy in strategies:
        holds: dict[int, Bools] = {}
        known: dict[int, Bools] = {}
        for index, line in enumerate(strategy.lines):
            if line.condition is not None:
                value = compile_(line.condition)(deals)
                holds[index], known[index] = truth(value, n), full_known(value, n)
        growth = np.zeros(n, dtype=bool)
        for index, line in enumerate(strategy.lines):
            if line.kind == "growth":
                growth |= holds[index]
        for index, line in enumerate(strategy.lines):
            if line.kind == "revenue":
                row = _revenue(ctx, strategy, line, total(won))
            else:
                base = growth if line.kind == "growth" else known[index]
                row = _share(strategy, line, total(holds[index]), total(base))
            rows.append(row)
            if row["status"] == OFF:
                alerts.append(_alert(ctx, strategy, line, row))
    return pd.DataFrame(rows, columns=list(STRATEGY_COLUMNS), dtype=object)


def _revenue(ctx: Context, strategy: StrategyIR, line: StrategyLineIR, won: int) -> dict[str, Any]:
    """A revenue target line: the year's target for the period, against the won amount."""
    assert line.target is not None
    per_year = PERIODS_PER_YEAR[ctx.period.unit] if ctx.period is not None else 1
    mode, step = ctx.compiled.rounding
    target = round_money(EXACT.divide(line.target, Decimal(per_year)), step, mode)
    actual = Decimal(won).scaleb(-2)
    gap = actual - target
    floor = EXACT.multiply(target, 1 - strategy.tolerance)
    return _row(strategy, line, target, actual, gap, ON_TRACK if actual >= floor else OFF)


def _share(strategy: StrategyIR, line: StrategyLineIR, part: int, base: int) -> dict[str, Any]:
    """A share line: `part` cents of `base` cents, against the target share."""
    if base == 0:
        return _row(strategy, line, line.target, None, None, None)
    actual = EXACT.divide(Decimal(part), Decimal(base))
    if line.target is None:
        return _row(strategy, line, None, actual, None, None)
    gap = EXACT.subtract(actual, line.target)
    # |part / base - target| <= tolerance, without dividing: exact whatever the amounts.
    off_by = abs(EXACT.subtract(Decimal(part), EXACT.multiply(line.target, Decimal(base))))
    within = off_by <= EXACT.multiply(strategy.tolerance, Decimal(base))
    return _row(strategy, line, line.target, actual, gap, ON_TRACK if within else OFF)


def _row(
    strategy: StrategyIR,
    line: StrategyLineIR,
    target: Decimal | None,
    actual: Decimal | None,
    gap: Decimal | None,
    status: str | None,
) -> dict[str, Any]:
    values = (strategy.label, line.kind, line.name, target, actual, gap, strategy.tolerance, status)
    return dict(zip(STRATEGY_COLUMNS, values, strict=True))


def _alert(
    ctx: Context, strategy: StrategyIR, line: StrategyLineIR, row: dict[str, Any]
) -> dict[str, Any]:
    """A line off its target, said in French: `Stratégie « De 5M€ à 8M€ » : part de la
    croissance new_logo 45,0 % pour une cible de 60,0 % (écart -15,0 pts, tolérance 5,0 pts)`."""
    where = f"Stratégie « {strategy.label} »" if strategy.label else "Stratégie"
    tolerance = _points(strategy.tolerance)
    if line.kind == "revenue":
        currency = ctx.compiled.currency
        figures = (
            f"{_money(row['actual'], currency)} pour une cible de {_money(row['target'], currency)}"
            f" (écart {_money(row['gap'], currency)}, tolérance {tolerance} pts)"
        )
    else:
        figures = (
            f"{_percent(row['actual'])} pour une cible de {_percent(row['target'])}"
            f" (écart {'+' if row['gap'] > 0 else ''}{_points(row['gap'])} pts,"
            f" tolérance {tolerance} pts)"
        )
    return {
        "kind": "strategy",
        "subject": f"{line.kind} {line.name}",
        "id": strategy.label,
        "message": f"{where} : {_WHAT[line.kind]} {line.name} {figures}",
        "severity": "warning",
    }


def _points(fraction: Decimal) -> str:
    return format_french(round_money(fraction * 100, Decimal("0.1")))


def _percent(fraction: Decimal) -> str:
    return f"{_points(fraction)} %"


def _money(value: Decimal, currency: str) -> str:
    return f"{format_french(round_money(value))} {currency}"
