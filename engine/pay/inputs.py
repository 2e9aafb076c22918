"""What a measure is paid on, read the same way by both pay paths: quotas (a row of the quotas
table or the plan's formula on the rep), split shares, the dates deals entered their stages, and
credited values as exact decimals."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal
from typing import Any

from dsl.types import FieldType
from engine.cells import coercer
from engine.ir import Node
from engine.pay.spec import MeasureSpec, PlanSpec, QuotaFormula
from engine.periods import PayPeriod
from engine.record import Fn, compile_node
from engine.results import is_missing, text_or_none

__all__ = [
    "as_date",
    "exact_value",
    "first_entries",
    "measure_quota",
    "parse_share",
    "split_shares",
]

_ZERO = Decimal(0)
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
