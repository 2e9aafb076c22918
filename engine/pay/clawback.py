"""Clawbacks: a won deal cancelled within the plan's window gives back the pay it earned.

`clawback within 90 days prorata` on a plan, and a `cancellations` table (deal_id, date,
reason). Both pay paths hand this module the rep's pay per deal for each window (the plan
period measured up to a payment's end, `engine.pay.lines`) and get back what each payment
recovers, so the rule exists once:

  * The pay recovered is the deal's line (its share of the rep's pay on the plan, every
    measure) in the latest window computed up to the payment that holds the cancellation
    date: the final one when the deal's plan period is over, else the period to date.
  * days = cancellation date - the deal's credit date (its line's date). Within the window
    (days <= window), `full` recovers all of it, `prorata` the share of the window left,
    (window - days) / window: cancelled 45 days into a 90-day window, half. Rounded like a
    payout, once per deal. Past the window nothing is recovered (said in the statement).
  * It is recovered in the payment period of the cancellation date, as a negative amount the
    plan's `true_up` policy then settles.
  * Decision: the cancelled deal still counts toward its period's attainment (it was booked;
    its pay is recovered once, as it stood when the cancellation was processed).
  * Reported, never dropped: a cancellation of a deal the deals table lacks, of a deal no
    plan with a clawback paid (never won, or not this rep's), or dated before its credit.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from engine.money import EXACT
from engine.pay.inputs import as_date
from engine.pay.math import PayoutIssue
from engine.pay.schedule import Window
from engine.pay.spec import PlanSpec
from engine.results import text_or_none

__all__ = ["Cancellation", "Clawed", "cancellations_of", "claw", "deal_pay", "unclaimed"]

_ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)
class Cancellation:
    """One row of the cancellations table."""

    deal_id: str
    date: dt.date
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class Clawed:
    """What one cancelled deal gives back in one payment (a statement line)."""

    rep_id: str
    plan: str
    period: str  # the payment period
    deal_id: str
    credited_on: dt.date
    cancelled_on: dt.date
    days: int
    share: Decimal  # of the deal's pay recovered
    earned: Decimal  # the deal's pay, as it stood
    amount: Decimal  # recovered (>= 0)
    reason: str | None


def claw(
    plan: PlanSpec,
    rep_id: str,
    windows: Sequence[Window],
    lines: Sequence[Mapping[str, tuple[dt.date, Decimal]] | None],
    cancellations: Mapping[str, Cancellation],
) -> tuple[list[Decimal], list[Clawed], list[PayoutIssue]]:
    """What each window's payment recovers for one rep on one plan (in `windows` order), the
    deals behind it, and issues. `lines[i]` maps deal id -> (credit date, the rep's pay on
    it, every measure) for window i; None when the rep was not paid in that window.
    `cancellations` may be only those of the rep's deals (callers filter them, for speed)."""
    spec = plan.clawback
    clawed = [_ZERO] * len(windows)
    found: list[Clawed] = []
    issues: list[PayoutIssue] = []
    if spec is None or not cancellations:
        return clawed, found, issues
    for cancel in sorted(cancellations.values(), key=lambda c: (c.date, c.deal_id)):
        index = next((i for i, w in enumerate(windows) if w.payment.holds(cancel.date)), None)
        if index is None:
            continue  # after the last payment computed: a later run recovers it
        payment = windows[index].payment
        line = _latest(lines, index, cancel.deal_id)
        if line is None:
            continue  # not this rep's deal, or never paid: `unclaimed` reports it once
        credited_on, earned = line
        days = (cancel.date - credited_on).days
        if days < 0:
            issues.append(
                PayoutIssue(
                    rep_id, plan.name, payment.id,
                    f"deal {cancel.deal_id} is cancelled on {cancel.date}, before its credit "
                    f"date {credited_on}: nothing is recovered",
                    None, cancel.deal_id,
                )
            )  # fmt: skip
            continue
        inside = days <= spec.days
        share = _ZERO
        if inside:
            share = (
                EXACT.divide(Decimal(spec.days - days), Decimal(spec.days))
                if spec.prorata
                else Decimal(1)
            )
        amount = plan.round(EXACT.multiply(earned, share)) if inside else _ZERO
        clawed[index] += amount
        found.append(
            Clawed(
                rep_id, plan.name, payment.id, cancel.deal_id, credited_on, cancel.date, days,
                share, earned, amount, cancel.reason,
            )
        )  # fmt: skip
    return clawed, found, issues


def _latest(
    lines: Sequence[Mapping[str, tuple[dt.date, Decimal]] | None], index: int, deal_id: str
) -> tuple[dt.date, Decimal] | None:
    """The deal's line in the latest window up to `index` that has one."""
    for position in range(index, -1, -1):
        window_lines = lines[position]
        if window_lines is not None and deal_id in window_lines:
            return window_lines[deal_id]
    return None


def unclaimed(
    cancellations: Mapping[str, Cancellation],
    known: frozenset[str],
    clawed: set[str],
    last: dt.date | None,
) -> list[PayoutIssue]:
    """Cancellations no clawback recovered anything for, up to the last payment computed
    (`last`): an unknown deal, or a deal no plan with a clawback paid (never won, or paid on
    a plan without one)."""
    issues: list[PayoutIssue] = []
    for deal_id, cancel in sorted(cancellations.items()):
        if last is None or cancel.date > last:
            continue
        if deal_id not in known:
            reason = f"deal {deal_id} is cancelled on {cancel.date} but is not in the deals table"
        elif deal_id not in clawed:
            reason = (
                f"deal {deal_id} is cancelled on {cancel.date} but no plan with a clawback paid "
                "on it (a deal never won, or paid on a plan without a clawback)"
            )
        else:
            continue
        issues.append(PayoutIssue(None, None, None, reason, None, deal_id))
    return issues


def cancellations_of(rows: Iterable[Mapping[str, Any]]) -> dict[str, Cancellation]:
    """The validated cancellations table's rows by deal id (the table's key)."""
    found: dict[str, Cancellation] = {}
    for row in rows:
        deal_id, day = text_or_none(row.get("deal_id")), as_date(row.get("date"))
        if deal_id is not None and day is not None:
            found[deal_id] = Cancellation(deal_id, day, text_or_none(row.get("reason")))
    return found


def deal_pay(
    lines: Iterable[tuple[str | None, dt.date | None, Decimal]],
) -> dict[str, tuple[dt.date, Decimal]]:
    """A rep's pay per deal on a plan for one window, every measure summed: deal id -> (credit
    date, pay), from pay per deal's (deal id, date, payout) lines."""
    found: dict[str, tuple[dt.date, Decimal]] = {}
    for deal_id, day, payout in lines:
        if deal_id is None or day is None:
            continue
        before = found.get(deal_id)
        found[deal_id] = (day, payout if before is None else before[1] + payout)
    return found
