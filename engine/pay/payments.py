"""Payments over time: what each payment of a plan pays, given what is due to date.

Both pay paths compute what a plan owes a rep for each window (its plan period measured up
to the end of a payment period, `engine.pay.schedule.Window`) and hand the dues here, so the
payment arithmetic exists once.

For each payment, in time order (amounts in the plan's currency, rounded dues):

  * earned = due for the plan period to date - commission already paid for it. February's
    payment of a quarterly plan paid monthly is the quarter to February (at the attainment
    reached so far) minus January's payment: it includes the catch-up on January's deals
    when a higher tier is reached (retroactive tiers), and nothing more under marginal tiers.
    catch_up = earned - the pay of the deals credited in the payment's own period (pay per
    deal): what the payment adds on earlier deals (and any pay not tied to a deal).
  * clawbacks: what cancelled deals give back in this payment (see `engine.pay.clawback`).
  * A negative amount (a due that went down, clawbacks) follows the plan's `true_up`:
    `recover` pays it as a negative payment (recovered from the rep's next pay); `floor` and
    `carry_forward` pay 0 and hold it: later payments of the same plan period absorb it, and
    what is still negative at the period's end is written off (`floor`) or carried into the
    next periods, deducted from later payments before anything is paid (`carry_forward`).
  * A draw guarantees a minimum per payment: below it the draw is paid; a recoverable draw
    advances the difference, recovered from later payments above the draw, at most `up to`
    that share of the payment, never below the draw itself.

So with `recover` and no draw, a plan period's payments sum to what is due for the whole
period; with `floor` or `carry_forward`, they do whenever no due ever goes down.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import NamedTuple

from engine.money import exact_mul
from engine.pay.schedule import Window
from engine.pay.spec import PlanSpec

__all__ = ["PaymentLine", "settle"]

_ZERO = Decimal(0)


class PaymentLine(NamedTuple):
    """One payment of a plan to a rep, and how it was reached.

    payment = earned + clawbacks + held + recovered + draw.
    (A named tuple: immutable, and made ten times faster than a frozen dataclass, once per
    rep and payment.)
    """

    rep_id: str
    plan: str
    period: str  # the payment period
    plan_period: str  # the plan period it pays on
    through: dt.date  # credits counted up to this date
    due: Decimal  # due for the plan period to date
    paid_before: Decimal  # commission already paid for the plan period
    earned: Decimal  # due - paid_before
    catch_up: Decimal  # the part of `earned` not from the payment period's own deals
    clawbacks: Decimal  # given back for cancelled deals (<= 0)
    held: Decimal  # a negative amount not paid now (>= 0): `floor` or `carry_forward`
    recovered: Decimal  # an earlier balance deducted now (<= 0)
    draw: Decimal  # the draw's top-up (> 0) or its recovery (< 0)
    payment: Decimal
    carried: Decimal  # balance the rep still owes after this payment (carried forward)
    advanced: Decimal  # draw advanced and not yet recovered, after this payment
    written_off: Decimal  # negative balance given up at the plan period's end (`floor`)
    shown: bool = True


@dataclass(slots=True)
class _Ledger:
    period: str = ""
    settled: Decimal = _ZERO  # the due of the current plan period already paid for
    deficit: Decimal = _ZERO  # held in the current plan period (floor, carry_forward)
    owed: Decimal = _ZERO  # carried from earlier plan periods (carry_forward)
    advanced: Decimal = _ZERO  # draw not yet recovered


def settle(
    plan: PlanSpec,
    rep_id: str,
    steps: Sequence[tuple[Window, Decimal | None, Decimal, Decimal | None]],
) -> list[PaymentLine]:
    """The payments of one rep on one plan: `steps` are (window, due to date, clawed back,
    pay of the deals credited in the payment period or None when not asked) in time order;
    a window whose due is None (the rep could not be paid: reported elsewhere) makes no
    payment and changes no balance."""
    ledger = _Ledger()
    lines: list[PaymentLine] = []
    last_of = {w.measured.id: w.payment.id for w, _, _, _ in steps}
    for window, due, clawed, new in steps:
        if window.measured.id != ledger.period:
            ledger.period, ledger.settled = window.measured.id, _ZERO
        if due is None:
            continue
        last = last_of[window.measured.id] == window.payment.id
        lines.append(_pay(plan, rep_id, ledger, window, due, clawed, new, last))
    return lines


def _pay(
    plan: PlanSpec,
    rep_id: str,
    ledger: _Ledger,
    window: Window,
    due: Decimal,
    clawed: Decimal,
    new: Decimal | None,
    last: bool,
) -> PaymentLine:
    paid_before = ledger.settled
    earned = due - paid_before
    ledger.settled = due
    amount = earned - clawed
    held = recovered = written_off = _ZERO
    if plan.true_up != "recover":
        if amount < 0:
            held, amount = -amount, _ZERO
            ledger.deficit += held
        # What was held earlier in the plan period comes off first, then earlier periods'.
        for balance in ("deficit", "owed"):
            owing = getattr(ledger, balance)
            if amount > 0 and owing > 0:
                taken = min(owing, amount)
                setattr(ledger, balance, owing - taken)
                amount -= taken
                recovered -= taken
        if last and ledger.deficit:
            if plan.true_up == "carry_forward":
                ledger.owed += ledger.deficit
            else:
                written_off = ledger.deficit
            ledger.deficit = _ZERO
    draw = _ZERO
    spec = plan.draw
    if spec is not None:
        if amount < spec.amount:
            draw = spec.amount - amount
            if spec.recoverable:
                ledger.advanced += draw
        elif ledger.advanced > 0:
            room = amount - spec.amount
            if spec.share is not None:
                room = min(room, plan.round_down(exact_mul(spec.share, amount)))
            draw = -min(ledger.advanced, room)
            ledger.advanced += draw
    payment = amount + draw
    return PaymentLine(
        rep_id, plan.name, window.payment.id, window.measured.id,
        min(window.payment.end, window.measured.end), due, paid_before, earned,
        _ZERO if new is None else earned - new, -clawed, held,
        recovered, draw, payment, ledger.owed + ledger.deficit, ledger.advanced, written_off,
        window.shown,
    )  # fmt: skip
