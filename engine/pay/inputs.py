"""What a measure is paid on, read the same way by both pay paths: quotas (a row of the quotas
table or the plan's formula on the rep), split shares, the dates deals entered their stages, and
credited values as exact decimals."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal
from typing import Any

from dsl.diagnostics import closest
from dsl.types import FieldType
from engine.cells import coercer
from engine.ir import Node
from engine.money import EXACT
from engine.pay.math import PayoutIssue, QuotaStep
from engine.pay.spec import MeasureSpec, PlanBook, PlanSpec, QuotaFormula
from engine.periods import PayPeriod, parse_period, periods_overlapping
from engine.record import Fn, compile_node
from engine.results import is_missing, text_or_none

__all__ = [
    "RESULTS_DAY",
    "QuotaStep",
    "adjust_quota",
    "as_date",
    "exact_value",
    "first_entries",
    "measure_quota",
    "parse_share",
    "ramp_share",
    "relief_problems",
    "relief_rows",
    "split_shares",
    "tenure_months",
]

_ZERO = Decimal(0)
_ONE = Decimal(1)
#: The day both pay paths evaluate the deals' computed results on, for credit rules that read
#: them: any day gives the same results (the checker refuses a credit reading one that changes
#: with the day), so pay never depends on the day it is computed.
RESULTS_DAY = dt.date(2000, 1, 1)
_DATE = coercer(FieldType("date"))
_MONEY = coercer(FieldType("money"))


def exact_value(value: Any) -> Decimal | None:
    """A number as Decimal (ints and Decimals exactly, floats by their shortest repr)."""
    if value is None:
        return None
    if isinstance(value, Decimal):
        return value
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, float):
        return None if value != value else Decimal(repr(value))
    raise TypeError(f"not a number: {value!r}")


def as_date(value: Any) -> dt.date | None:
    """A date cell (text or typed) as a date; None when missing or not a date."""
    if is_missing(value):
        return None
    try:
        result = _DATE(value)
    except ValueError:
        return None
    return result if isinstance(result, dt.date) else None


def parse_share(value: Any) -> Decimal:
    """A split share: `60%` or a fraction `0.6`; ValueError for anything else (or above 1)."""
    text = text_or_none(value)
    if text is None:
        raise ValueError("the share is empty")
    if isinstance(value, Decimal | int | float) and not isinstance(value, bool):
        share = exact_value(value)
        assert share is not None
    elif text.endswith("%"):
        share = Decimal(text[:-1].strip().replace(",", ".")) / 100
    else:
        share = Decimal(text.replace(",", "."))
    if not share.is_finite() or share < 0 or share > 1:
        raise ValueError(f"share {text} is not between 0 and 1 (write 60% or 0.6)")
    return share


def split_shares(
    rows: Iterable[tuple[Any, Any, Any]],
) -> tuple[dict[str, dict[str, Decimal]], dict[str, str]]:
    """Split rows (deal_id, rep_id, share) -> usable shares per deal, and why the others are not.

    A deal's shares must sum to exactly 100%; a share that cannot be read spoils its deal.
    """
    shares: dict[str, dict[str, Decimal]] = {}
    problems: dict[str, str] = {}
    for deal_raw, rep_raw, share_raw in rows:
        deal, rep = text_or_none(deal_raw), text_or_none(rep_raw)
        if deal is None or deal in problems:
            continue
        if rep is None:
            problems[deal] = "a split row has no rep_id"
            continue
        try:
            share = parse_share(share_raw)
        except (ValueError, ArithmeticError) as error:
            problems[deal] = f"split for {rep}: {error}"
            continue
        entry = shares.setdefault(deal, {})
        entry[rep] = entry.get(rep, _ZERO) + share
    for deal, entry in shares.items():
        total = sum(entry.values(), _ZERO)
        if deal not in problems and total != 1:
            problems[deal] = f"its split shares sum to {(total * 100).normalize():f}%, not 100%"
    for deal in problems:
        shares.pop(deal, None)
    return shares, problems


def first_entries(stage_events: Sequence[Mapping[str, Any]]) -> dict[tuple[str, str], dt.date]:
    """(deal id, stage) -> the first day the deal entered the stage."""
    first: dict[tuple[str, str], dt.date] = {}
    for event in stage_events:
        deal, stage, day = (
            text_or_none(event.get("deal_id")),
            text_or_none(event.get("stage")),
            as_date(event.get("entered_at")),
        )
        if deal is None or stage is None or day is None:
            continue
        key = (deal, stage)
        if key not in first or day < first[key]:
            first[key] = day
    return first


# ----------------------------------------------------------------------------- quotas
def measure_quota(
    spec: MeasureSpec,
    rep: Mapping[str, Any],
    period: PayPeriod,
    quota_rows: Sequence[Mapping[str, Any]],
    links: Mapping[str, Mapping[str, Any] | None],
    plan: PlanSpec,
) -> tuple[Decimal | None, str | None]:
    """The rep's quota for a measure and period, before proration, or the reason it has none.

    `quota_rows` are the rep's rows of the quotas table; `links` the records a formula reaches
    through the rep (`territory` -> the territory's row, None when unknown).
    """
    if spec.quota_formula is not None:
        value, reason = _formula(spec.quota_formula, rep, period, links)
        if value is None:
            return None, f"no quota for {spec.name}: {reason}"
        quota = plan.round(value)
    elif spec.quota_measure is not None:
        found = [
            row
            for row in quota_rows
            if row.get("measure") == spec.quota_measure and row.get("period") == period.id
        ]
        if not found:
            return None, f"no quota for {spec.quota_measure} in {period.id} in the quotas table"
        if len(found) > 1:
            return None, (
                f"{len(found)} quota rows for {spec.quota_measure} in {period.id}: keep one"
            )
        raw = found[0].get("quota")
        quota_value = None if is_missing(raw) else _MONEY(raw)
        if quota_value is None:
            return None, f"the quota for {spec.quota_measure} in {period.id} is empty"
        quota = quota_value
    else:
        return None, None
    if quota <= 0:
        shown = f"{quota:f}"
        return None, f"the quota for {spec.name} in {period.id} is {shown}: it must be positive"
    return quota, None


#: Quota formulas compiled once each, by the record path (the same closures as every other
#: expression on one record).
_CLOSURES: dict[Node, Fn] = {}


def _formula(
    formula: QuotaFormula,
    rep: Mapping[str, Any],
    period: PayPeriod,
    links: Mapping[str, Mapping[str, Any] | None],
) -> tuple[Decimal | None, str]:
    """The formula's value on the rep, or why it has none (the first input it lacks)."""
    row: dict[str, Any] = {}
    missing: list[str] = []
    for key, kind in formula.reads.items():
        link, _, name = key.rpartition(".")
        if not link:
            raw = period.id if name == "period" else rep.get(name)
            why = f"the rep has no {name}"
        else:
            target = text_or_none(rep.get(link))
            record = links.get(link)
            if target is None:
                raw, why = None, f"the rep has no {link}"
            elif record is None:
                table = f"{link[:-1]}ies" if link.endswith("y") else f"{link}s"
                raw, why = None, f"{link} {target} is not in the {table} table"
            else:
                raw, why = record.get(name), f"{link} {target} has no {name}"
        value = None if is_missing(raw) else coercer(kind)(raw)
        if value is None:
            missing.append(why)
        row[key] = value
    if missing:
        return None, missing[0]
    closure = _CLOSURES.get(formula.node)
    if closure is None:
        closure = _CLOSURES[formula.node] = compile_node(formula.node)
    result = exact_value(closure(row))
    if result is None:
        return None, "the formula divides by zero"
    return result, ""


# ----------------------------------------------------------------------------- ramps and relief
def tenure_months(hire: dt.date, period: PayPeriod) -> tuple[int, ...]:
    """The months of tenure of the period's months from the hire month on (month of hire = 1,
    whatever the day: a rep hired on the 15th is in month 1 for the whole month)."""
    found: list[int] = []
    for month in periods_overlapping(period.start, period.end, "month"):
        tenure = (month.start.year - hire.year) * 12 + month.start.month - hire.month + 1
        if tenure >= 1:
            found.append(tenure)
    return tuple(found)


def ramp_share(
    ramp: Sequence[Decimal], hire: dt.date | None, period: PayPeriod
) -> tuple[Decimal, tuple[int, ...]] | str:
    """The share of quota a ramp leaves for the period (the mean of its months' shares, the
    months before the hire left out), with the months of tenure; or why there is none."""
    if hire is None:
        return "the rep has no hire_date: the plan's ramp needs the month of tenure"
    months = tenure_months(hire, period)
    if not months:
        return f"hired on {hire.isoformat()}, after {period.id}: no month of tenure to ramp"
    shares = [ramp[m - 1] if m <= len(ramp) else _ONE for m in months]
    return EXACT.divide(sum(shares, _ZERO), Decimal(len(shares))), months


def _relief_share(value: Any) -> Decimal:
    """A relief's share (`20%` or 0.2), refused above 100% in the words of the table."""
    try:
        return parse_share(value)
    except ValueError:
        number = exact_value(value) if isinstance(value, float | int | Decimal) else None
        if number is not None and number > 1:
            shown = f"{(number * 100).normalize():f}%"
            raise ValueError(f"a share of {shown} is over 100% of the quota") from None
        raise


def relief_rows(
    rows: Sequence[Mapping[str, Any]], spec: MeasureSpec, period: PayPeriod
) -> list[Mapping[str, Any]]:
    """A rep's relief rows for one measure and period: the measure named by its id or by the
    quotas table's measure id it reads."""
    names = {spec.name, spec.quota_measure}
    return [
        row
        for row in rows
        if text_or_none(row.get("measure")) in names
        and text_or_none(row.get("period")) == period.id
    ]


def adjust_quota(
    spec: MeasureSpec,
    plan: PlanSpec,
    ramp: tuple[Decimal, tuple[int, ...]] | None,
    period: PayPeriod,
    quota: Decimal,
    reliefs: Sequence[Mapping[str, Any]] = (),
) -> tuple[Decimal | None, str | None, tuple[QuotaStep, ...]]:
    """The quota after the ramp (`ramp_share` of the rep, None: no ramp), then the relief
    rows (shares of the ramped quota first, then amounts), each step rounded like a computed
    quota; or why none is left.

    `reliefs` are the rep's relief rows for this measure and period (`relief_rows`).
    """
    steps: list[QuotaStep] = []
    if ramp is not None:
        share, months = ramp
        if share != _ONE:
            ramped = plan.round(EXACT.multiply(quota, share))
            steps.append(QuotaStep("ramp", quota, ramped, share=share, months=months))
            quota = ramped
    parsed: list[tuple[Decimal | None, Decimal | None, str | None]] = []
    for row in reliefs:
        amount_raw, share_raw = row.get("amount"), row.get("share")
        reason = text_or_none(row.get("reason"))
        given = [not is_missing(amount_raw), not is_missing(share_raw)]
        if all(given) or not any(given):
            both = "both" if all(given) else "neither"
            why = f"must give an amount or a share, not {both}"
            return None, f"a quota relief row for {spec.name} in {period.id} {why}", ()
        try:
            if given[1]:
                parsed.append((None, _relief_share(share_raw), reason))
            else:
                parsed.append((_MONEY(amount_raw), None, reason))
        except (ValueError, ArithmeticError) as error:
            return None, f"quota relief for {spec.name} in {period.id}: {error}", ()
    base = quota
    for amount, part, reason in sorted(parsed, key=lambda p: p[1] is None):
        cut = plan.round(EXACT.multiply(base, part)) if part is not None else amount
        assert cut is not None
        shown = f"{(part * 100).normalize():f}%" if part is not None else f"{cut:f}"
        where = f"quota relief of {shown} for {spec.name} in {period.id}"
        if cut < 0:
            return None, f"{where} is negative", ()
        after = quota - cut
        if after <= 0:
            why = f"leaves {after:f} of a {quota:f} quota: relief must stay under 100% of the quota"
            return None, f"{where} {why}", ()
        steps.append(QuotaStep("relief", quota, after, share=part, amount=cut, reason=reason))
        quota = after
    return quota, None, tuple(steps)


def relief_problems(
    rows: Sequence[Mapping[str, Any]], rep_ids: Iterable[str | None], book: PlanBook
) -> list[PayoutIssue]:
    """Relief rows no payout can use, each reported (never a silent 0): a rep missing from the
    reps table, a measure without a quota, a period no plan measuring it has."""
    known = {rep for rep in rep_ids if rep is not None}
    units: dict[str, set[str]] = {}
    for plan in book.plans.values():
        for spec in plan.measures:
            if spec.has_quota:
                for name in {spec.name, spec.quota_measure} - {None}:
                    units.setdefault(str(name), set()).add(plan.unit)
    found: list[PayoutIssue] = []
    for row in rows:
        rep, period, measure = (text_or_none(row.get(k)) for k in ("rep_id", "period", "measure"))
        where = f"quota relief for {measure} in {period}"
        if rep not in known:
            found.append(
                PayoutIssue(
                    rep, None, period, f"{where} given for a rep who is not in the reps table"
                )
            )
        elif measure not in units:
            close = closest(measure or "", units)
            hint = f"; did you mean {close}?" if close else ""
            found.append(
                PayoutIssue(
                    rep, None, period, f"{where}: no measure with a quota is {measure}{hint}"
                )
            )
        else:
            try:
                unit = parse_period(period or "").unit
            except ValueError as error:
                found.append(PayoutIssue(rep, None, period, f"{where}: {error}"))
                continue
            if unit not in units[measure]:
                wanted = " or ".join(sorted(units[measure]))
                found.append(
                    PayoutIssue(
                        rep, None, period,
                        f"{where}: {period} is a {unit}, but {measure} is measured per {wanted}",
                    )
                )  # fmt: skip
    return found
