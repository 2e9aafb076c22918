"""Crediting over whole tables: which deals count for which rep, with what value and on which
day, for every credit rule of the plans.

Each distinct rule (`where`, the credited value, `to`, `dated`) runs once through the vectorized
evaluator (`engine.vector`) on the deals table. Credited values are int64 in units of
10**-scale (cents, times the split shares' decimals) and summed per rep with integer arithmetic,
so the sums are exact; they become Decimals only then. Deals left out of a measure (no date,
an unknown `where`, an unusable split, a negative amount, a rep missing from the reps table)
become issues, never silently dropped: the reference path (`engine.pay.reference`) reports the
same ones. For pay per deal, `credited_deals` also gives the credited rows themselves (rep,
deal, day, value in those integer units), sorted by rep, credit day and deal id with one
integer sort (deal ids ranked once, by Arrow).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, localcontext
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa  # type: ignore[import-untyped, unused-ignore]
import pyarrow.compute as pc  # type: ignore[import-untyped, unused-ignore]

from engine.ir import Compiled, FieldRef, Node
from engine.money import EXACT, exact_mul, scaled
from engine.pay.inputs import RESULTS_DAY, exact_value, split_shares
from engine.pay.lines import DealRows
from engine.pay.math import PayoutIssue
from engine.pay.spec import CreditRule, MeasureSpec, PlanSpec
from engine.periods import PayPeriod
from engine.vector import Compiler, Frame, V, deal_results
from engine.vector.values import group_sums

__all__ = ["Crediting", "Credits", "column_texts"]

Array = npt.NDArray[Any]
Bools = npt.NDArray[np.bool_]
#: An object array of Decimals. Typed Any: numpy's stubs know no Decimal arithmetic.
Obj = Any

_ZERO = Decimal(0)
_ONE = Decimal(1)
_EPOCH = dt.date(1970, 1, 1)
# A split share with more decimals than this is credited with Decimals, not scaled integers.
_MAX_SHARE_PLACES = 8
# Sums of scaled integers that could reach this fall back to Python ints (no int64 overflow).
_INT_LIMIT = 2**62


def column_texts(frame: pd.DataFrame, name: str) -> Array:
    """A text column as stripped strings (None: missing or blank; None everywhere: no column)."""
    if name not in frame.columns:
        return np.full(len(frame), None, dtype=object)
    column = frame[name]
    if isinstance(column.dtype, pd.StringDtype):
        # Stripped once per distinct value (a rep id repeats on every deal and quota).
        codes, distinct = pd.factorize(column)
        texts = [text.strip() or None for text in distinct.tolist()]
        return np.asarray([*texts, None], dtype=object)[codes]
    values = np.asarray(column.astype(object).where(column.notna(), None), dtype=object)
    if column.dtype != object and not isinstance(column.dtype, pd.StringDtype):
        values = np.asarray([None if v is None else str(v) for v in values], dtype=object)
    stripped = [v.strip() or None if isinstance(v, str) else v for v in values.tolist()]
    return np.asarray(stripped, dtype=object)


@dataclass(slots=True)
class Credits:
    """One credit rule evaluated on every deal (or split row, when the rule goes to owners)."""

    rows: Array  # int64 position of the deal in the deals table
    owner: Array  # int64 code into `names` (-1: no rep)
    names: list[str]
    holds: Bools  # the `where` is known true
    unknown: Bools  # the `where` is unknown
    day: Array  # int64 days since 1970 (meaningless where not day_known)
    day_known: Bools
    values: Array  # int64 in units of 10**-scale, or object Decimals when scale is None
    value_known: Bools
    scale: int | None
    negative: Bools  # the deal's amount is negative (value credits only)
    broken: Array  # int64 code into `reasons`: why the deal's split is unusable (-1: fine)
    reasons: list[str]


class Crediting:
    """Evaluates credit rules on the deals table, once per distinct rule."""

    def __init__(
        self,
        compiled: Compiled,
        vector: Compiler,
        deals: pd.DataFrame | None,
        splits: pd.DataFrame | None,
        events: pd.DataFrame | None,
        known_reps: frozenset[str],
        codes: Mapping[str, Any] | None = None,
    ) -> None:
        self.compiled = compiled
        self.vector = vector
        self.known_reps = known_reps
        self.deals = (
            deals if deals is not None else pd.DataFrame({"id": pd.Series([], dtype="str")})
        )
        self.n = len(self.deals)
        self.frame = Frame(self.deals, codes=codes)  # validation's codes: not hashed again
        self.events = events
        self._codes: dict[str, tuple[Array, list[str]]] = {}
        self._index: pd.Index[Any] | None = None
        self._entered: dict[str, tuple[Array, Bools]] = {}
        self._rules: dict[tuple[Any, ...], Credits] = {}
        self._derived: set[str] = set()
        self._computed = False
        self._ids: pa.Array | None = None
        self._rank: Array | None = None
        #: (to, dated, dated_stage, rep ids) -> `_slotted`: rep slots and pay-per-deal order.
        self._slots: dict[tuple[Any, ...], tuple[Array, Array]] = {}
        #: (rep id or "", period) -> deal positions credited to a rep missing from the reps table.
        self.unknown: dict[tuple[str, str], dict[int, None]] = {}
        self._split_rows(splits)

    # ------------------------------------------------------------------ columns
    def codes(self, name: str) -> tuple[Array, list[str]]:
        """A text column factorized: codes (-1 missing or blank) and the stripped values."""
        found = self._codes.get(name)
        if found is None:
            if name not in self.deals.columns:
                found = (np.full(self.n, -1, dtype=np.int64), [])
            else:
                codes, uniques = pd.factorize(self.deals[name], use_na_sentinel=True)
                names = [str(u).strip() for u in uniques]
                blank = np.asarray([not u for u in names] + [True], dtype=bool)
                codes = np.asarray(codes, dtype=np.int64)
                found = (np.where(blank[codes], -1, codes), names)
            self._codes[name] = found
        return found

    def ids(self, rows: Array) -> list[str]:
        """The ids of some deals (by position)."""
        return [str(v) for v in self.deals["id"].to_numpy(dtype=object)[rows].tolist()]

    def positions(self, deal_ids: Sequence[str]) -> Array:
        """Positions of deals by id (-1 unknown)."""
        if self._index is None:
            self._index = pd.Index(self.deals["id"])
        return np.asarray(self._index.get_indexer(pd.Index(list(deal_ids))), dtype=np.int64)

    def _reach(self) -> dict[str, tuple[Array, Bools]]:
        # `reached(stage)` from the deal's own stage, as on the reference path (engine.record).
        codes, names = self.codes("stage")
        reach: dict[str, tuple[Array, Bools]] = {}
        for name, pipeline in self.compiled.pipelines.items():
            lookup = {s.name: s.index for s in pipeline.stages}
            index = np.asarray([lookup.get(u, -1) for u in names] + [-1], dtype=np.int64)
            reach[name] = (index[codes], codes >= 0)
        return reach

    def _split_rows(self, splits: pd.DataFrame | None) -> None:
        """Usable split shares per deal, and the reason and reps of each unusable split."""
        self.split_of: dict[str, list[tuple[str, Decimal]]] = {}
        self.broken: dict[str, tuple[str, list[str]]] = {}
        if splits is None or not len(splits):
            return
        deal = column_texts(splits, "deal_id")
        rep = column_texts(splits, "rep_id")
        share = splits["share"].to_numpy(dtype=object) if "share" in splits else [None] * len(deal)
        shares, problems = split_shares(zip(deal.tolist(), rep.tolist(), list(share), strict=True))
        for deal_id, entry in shares.items():
            self.split_of[deal_id] = list(entry.items())
        members: dict[str, list[str]] = {}
        for d, r in zip(deal.tolist(), rep.tolist(), strict=True):
            if d in problems and r is not None and r not in members.setdefault(d, []):
                members[d].append(r)
        self.broken = {d: (reason, members.get(d, [])) for d, reason in problems.items()}

    # ------------------------------------------------------------------ one rule, all deals
    def rule(self, rule: CreditRule) -> Credits:
        """The rule evaluated on every deal (cached: plans often share a rule)."""
        key = (rule.value, rule.where, rule.to, rule.dated, rule.dated_stage)
        found = self._rules.get(key)
        if found is None:
            found = self._rules[key] = self._evaluate(rule)
        return found

    def _evaluate(self, rule: CreditRule) -> Credits:
        compile_ = self.vector.compile
        frame = self.frame
        n = self.n
        if "stage" in rule.reads and not frame.stage_reach:
            frame.stage_reach = self._reach()
        for name, node in rule.derived.items():
            if name not in self._derived:
                frame.extras[name] = compile_(node)(frame)
                self._derived.add(name)
        if rule.computed and n:
            self._results()
        if rule.where is None:
            holds, unknown = np.ones(n, dtype=bool), np.zeros(n, dtype=bool)
        else:
            v = compile_(rule.where)(frame)
            known = _known(v, n)
            holds = np.broadcast_to(np.asarray(v.values, dtype=bool), (n,)) & known
            unknown = ~known
        if rule.dated_stage is not None:
            day, day_known = self._entered_at(rule.dated_stage)
        else:
            dated: Node = rule.dated if rule.dated is not None else FieldRef("close_date", "date")
            v = compile_(dated)(frame)
            day = np.broadcast_to(np.asarray(v.values, dtype=np.int64), (n,))
            day_known = _known(v, n)
        negative = np.zeros(n, dtype=bool)
        scale: int | None = 0
        if rule.value is None:
            values: Array = np.ones(n, dtype=np.int64)
            value_known = np.ones(n, dtype=bool)
        else:
            amount = frame.field(FieldRef("amount", "fixed", 2))
            negative = _known(amount, n) & (np.broadcast_to(amount.values, (n,)) < 0)
            v = compile_(rule.value)(frame)
            value_known = _known(v, n)
            if rule.value.kind == "fixed":
                values = np.broadcast_to(np.asarray(v.values, np.int64), (n,))
                scale = rule.value.scale
            elif rule.value.kind == "decimal":  # exact: amount x share, as Decimals
                values = np.empty(n, dtype=object)
                values[:] = np.broadcast_to(np.asarray(v.values, dtype=object), (n,))
                values[~value_known] = _ZERO
                scale = None
            else:
                floats = np.broadcast_to(np.asarray(v.values, np.float64), (n,))
                values = np.asarray([exact_value(float(x)) for x in floats.tolist()], dtype=object)
                values[~value_known] = _ZERO
                scale = None
        owner, names = self.codes(rule.to)
        credits = Credits(
            np.arange(n, dtype=np.int64),
            owner,
            names,
            holds,
            unknown,
            day,
            day_known,
            values,
            value_known,
            scale,
            negative,
            np.full(n, -1, dtype=np.int64),
            [],
        )
        if rule.to == "rep_id" and (self.split_of or self.broken):
            credits = self._explode(credits)
        return credits

    def _results(self) -> None:
        """The deals' computed results credit rules read, once for every rule: by the deal
        evaluation of the table path (`engine.vector.deal_results`), on any day (`RESULTS_DAY`:
        the checker lets a credit read only results that do not change with the day)."""
        if self._computed:
            return
        names = self.compiled.computed.get("deal", {})
        self.frame.extras.update(deal_results(self.compiled, self.deals, names, RESULTS_DAY))
        self._computed = True

    def _entered_at(self, stage: str) -> tuple[Array, Bools]:
        found = self._entered.get(stage)
        if found is not None:
            return found
        day = np.zeros(self.n, dtype=np.int64)
        known = np.zeros(self.n, dtype=bool)
        events = self.events
        if events is not None and len(events):
            at = column_texts(events, "stage") == stage
            deal_ids = column_texts(events, "deal_id")[at]
            entered = pd.to_datetime(events["entered_at"]).to_numpy()[at]
            table = pd.DataFrame({"deal": deal_ids, "day": entered}).dropna()
            first = table.groupby("deal", sort=False)["day"].min()
            positions = self.positions([str(d) for d in first.index])
            ok = positions >= 0
            days = first.to_numpy().astype("datetime64[D]").astype(np.int64)
            day[positions[ok]] = days[ok]
            known[positions[ok]] = True
        self._entered[stage] = (day, known)
        return day, known

    def _explode(self, c: Credits) -> Credits:
        """Replace each split deal by one row per rep of its split (value x share)."""
        places = max(
            [_places(share) for entries in self.split_of.values() for _, share in entries] or [0]
        )
        exact = c.scale is not None and places <= _MAX_SHARE_PLACES
        names = list(c.names)
        code_of = {name: code for code, name in enumerate(names)}

        def code(name: str) -> int:
            if name not in code_of:
                code_of[name] = len(names)
                names.append(name)
            return code_of[name]

        reasons: list[str] = []
        rows: list[int] = []
        owners: list[int] = []
        weights: list[Any] = []
        broken: list[int] = []
        split_ids = list(self.split_of)
        for deal, row in zip(split_ids, self.positions(split_ids).tolist(), strict=True):
            if row < 0:
                continue
            for rep, share in self.split_of[deal]:
                rows.append(row)
                owners.append(code(rep))
                weights.append(int(share.scaleb(places)) if exact else share)
                broken.append(-1)
        broken_ids = list(self.broken)
        for deal, row in zip(broken_ids, self.positions(broken_ids).tolist(), strict=True):
            reason, members = self.broken[deal]
            if row < 0:
                continue
            reasons.append(reason)
            for rep in members:
                rows.append(row)
                owners.append(code(rep))
                weights.append(0 if exact else _ZERO)
                broken.append(len(reasons) - 1)
        split = np.zeros(self.n, dtype=bool)
        split[np.asarray(rows, dtype=np.int64)] = True
        plain = np.flatnonzero(~split[c.rows])
        take = np.concatenate([plain, np.asarray(rows, dtype=np.int64)])
        if exact:
            assert c.scale is not None
            weight = np.concatenate(
                [np.full(len(plain), 10**places, np.int64), np.asarray(weights, np.int64)]
            )
            values: Array = np.asarray(c.values, np.int64)[take] * weight
            scale: int | None = c.scale + places
        else:
            decimals = _as_decimals(c.values, c.scale)[take]
            weight_obj = [_ONE] * len(plain) + list(weights)
            values = np.asarray(
                [exact_mul(v, w) for v, w in zip(decimals, weight_obj, strict=True)], dtype=object
            )
            scale = None
        return Credits(
            c.rows[take],
            np.concatenate([c.owner[plain], np.asarray(owners, dtype=np.int64)]),
            names,
            c.holds[take],
            c.unknown[take],
            c.day[take],
            c.day_known[take],
            values,
            c.value_known[take],
            scale,
            c.negative[take],
            np.concatenate([np.full(len(plain), -1, np.int64), np.asarray(broken, np.int64)]),
            reasons,
        )

    # ------------------------------------------------------------------ one measure, one period
    def credited(
        self,
        spec: MeasureSpec,
        plan: PlanSpec,
        period: PayPeriod,
        rep_ids: Array,
        issues: list[PayoutIssue],
        through: dt.date | None = None,
        since: dt.date | None = None,
        *,
        deals: bool = False,
    ) -> tuple[Obj, DealRows | None]:
        """The credited value (Decimal) of each rep of `rep_ids`, of the deals dated in the
        period (from `since` up to `through` when given), and with `deals` the credited deals
        behind it (pay per deal, `engine.pay.lines`); issues for deals left out."""
        c, slot, take = self._taken(spec, plan, period, rep_ids, issues, through, since)
        rows = None
        if deals:
            assert spec.credit is not None
            order = self._slotted(spec.credit, c, rep_ids)[1]
            rows = self._deal_rows(c, slot, take, order)
        return _sums(c, slot, take, len(rep_ids)), rows

    def deal_ids(self) -> pa.Array:
        """The id of every deal, by position, as Arrow text."""
        if self._ids is None:
            self._ids = pa.array(self.deals["id"], type=pa.string())
        return self._ids

    def _taken(
        self,
        spec: MeasureSpec,
        plan: PlanSpec,
        period: PayPeriod,
        rep_ids: Array,
        issues: list[PayoutIssue],
        through: dt.date | None,
        since: dt.date | None = None,
    ) -> tuple[Credits, Array, Bools]:
        """The rule's rows, each row's rep slot (-1: none of `rep_ids`), the rows credited."""
        assert spec.credit is not None
        rule = spec.credit
        c = self.rule(rule)
        slot = self._slotted(rule, c, rep_ids)[0]
        considered = c.holds | c.unknown
        start, end = _days(since or period.start), _days(through or period.end)
        in_period = c.day_known & (c.day >= start) & (c.day <= end)
        if plan.effective is not None:
            first, last = _days(plan.effective[0]), _days(plan.effective[1])
            in_period &= (c.day >= first) & (c.day <= last)
        if rule.window is not None:  # a SPIFF: only the deals dated in its window
            first, last = _days(rule.window[0]), _days(rule.window[1])
            in_period &= (c.day >= first) & (c.day <= last)
        # Reps of this plan see the issues of their deals, as on the reference path.
        mine = slot >= 0
        whole = c.broken < 0
        no_date = mine & considered & ~c.day_known
        undecided = mine & in_period & c.unknown
        broken = mine & in_period & c.holds & ~whole
        counted = mine & in_period & c.holds & whole
        negative = counted & c.negative if rule.value is not None else np.zeros_like(counted)
        missing = counted & ~negative & ~c.value_known
        take = counted & ~negative & c.value_known
        strangers = ~mine & considered & in_period
        if strangers.any():
            self._note_unknown(c, strangers, period)
        if no_date.any() or undecided.any() or broken.any() or negative.any() or missing.any():
            self._issues(
                c, spec, plan, period, no_date, undecided, broken, negative, missing, issues
            )
        return c, slot, take

    def _slotted(self, rule: CreditRule, c: Credits, rep_ids: Array) -> tuple[Array, Array]:
        """Each row's slot in `rep_ids` (-1: none of them), and the dated rows with a slot in
        the order of pay per deal: by slot, credit day and deal id. Rows, owners and days
        depend on whom and when a rule credits, not on its `where` or value: worked out once
        per (to, date, reps) for the measures of a plan and its payment windows."""
        key = (rule.to, rule.dated, rule.dated_stage, tuple(rep_ids.tolist()))
        found = self._slots.get(key)
        if found is not None:
            return found
        slots = np.full(len(c.names) + 1, -1, dtype=np.int64)  # the last one: no rep
        if c.names:
            slots[:-1] = pd.Index(rep_ids).get_indexer(pd.Index(c.names))
        slot = slots[c.owner]
        dated = np.flatnonzero((slot >= 0) & c.day_known)
        rep, day = slot[dated], c.day[dated]
        rank = self._id_rank()[c.rows[dated]]
        if len(dated):
            first, days = int(day.min()), int(day.max() - day.min()) + 1
            if (int(rep.max()) + 1) * days * max(self.n, 1) < _INT_LIMIT:
                # One integer key (rep, day, id rank): one sort, no string compared.
                order = np.argsort((rep * days + (day - first)) * self.n + rank)
            else:
                order = np.lexsort((rank, day, rep))
        else:
            order = np.zeros(0, dtype=np.int64)
        found = self._slots[key] = (slot, dated[order])
        return found

    def _deal_rows(self, c: Credits, slot: Array, take: Bools, order: Array) -> DealRows:
        """The taken rows in `order` (`_slotted`: by rep slot, credit day and deal id)."""
        picked = order[take[order]]  # every taken row is dated and has a slot
        if c.scale is not None:
            values = np.asarray(c.values, dtype=np.int64)[picked]
            scale = c.scale
        else:  # Decimals (a computed credited value): whole units at their largest places
            decimals = np.asarray(c.values, dtype=object)[picked].tolist()
            scale = max([_places(v) for v in decimals] or [0])
            units = [int(v.scaleb(scale)) for v in decimals]
            big = any(abs(u) >= _INT_LIMIT for u in units)
            values = np.asarray(units, dtype=object if big else np.int64)
        return DealRows(slot[picked], c.rows[picked], c.day[picked], values, scale)

    def _id_rank(self) -> Array:
        """Each deal's rank in deal id order (ids compare as text, as on the reference path),
        sorted once by Arrow."""
        if self._rank is None:
            order = np.asarray(pc.sort_indices(self.deal_ids()), dtype=np.int64)
            self._rank = np.empty(self.n, dtype=np.int64)
            self._rank[order] = np.arange(self.n, dtype=np.int64)
        return self._rank

    def _issues(
        self,
        c: Credits,
        spec: MeasureSpec,
        plan: PlanSpec,
        period: PayPeriod,
        no_date: Bools,
        undecided: Bools,
        broken: Bools,
        negative: Bools,
        missing: Bools,
        issues: list[PayoutIssue],
    ) -> None:
        rule = spec.credit
        assert rule is not None
        amount = self.frame.field(FieldRef("amount", "fixed", 2))
        cents = np.broadcast_to(amount.values, (self.n,))
        empty = [(ref.name, ~_known(self.frame.field(ref), self.n)) for ref in rule.where_fields]
        found: list[tuple[int, PayoutIssue]] = []

        def add(mask: Bools, reason: Callable[[int, int], str], dated: bool = True) -> None:
            picked = np.flatnonzero(mask)
            for row, deal in zip(picked.tolist(), self.ids(c.rows[picked]), strict=True):
                at = int(c.rows[row])
                issue = PayoutIssue(
                    c.names[c.owner[row]],
                    plan.name,
                    period.id if dated else None,
                    f"deal {deal} is not credited: {reason(row, at)}",
                    spec.name,
                    deal,
                )
                found.append((at, issue))

        add(no_date, lambda row, at: rule.no_date_text, dated=False)
        add(undecided, lambda row, at: rule.missing_text([n for n, e in empty if e[at]]))
        add(broken, lambda row, at: c.reasons[c.broken[row]])
        add(negative, lambda row, at: f"negative amount ({_cents(int(cents[at]))})")
        add(missing, lambda row, at: f"no {rule.value_text}")
        # In deal order, as the reference path meets them.
        issues.extend(issue for _, issue in sorted(found, key=lambda item: item[0]))

    def _note_unknown(self, c: Credits, mask: Bools, period: PayPeriod) -> None:
        stranger = np.asarray([n not in self.known_reps for n in c.names] + [True], dtype=bool)
        for row in np.flatnonzero(mask & stranger[c.owner]).tolist():
            owner = c.names[c.owner[row]] if c.owner[row] >= 0 else ""
            self.unknown.setdefault((owner, period.id), {})[int(c.rows[row])] = None

    def unknown_owners(self) -> list[PayoutIssue]:
        """Deals that would be credited to a rep missing from the reps table, or to nobody."""
        found = []
        for (owner, period), rows in sorted(self.unknown.items()):
            deals = self.ids(np.asarray(list(rows)[:10], dtype=np.int64))
            more = len(rows) - len(deals)
            shown = ", ".join(deals) + (f" and {more} more" if more else "")
            noun = "deal" if len(rows) == 1 else "deals"
            reason = (
                f"{len(rows)} {noun} without a rep, not credited: {shown}"
                if not owner
                else f"{len(rows)} {noun} credited to {owner}, who is not in the reps table: "
                f"{shown}"
            )
            found.append(PayoutIssue(owner or None, None, period, reason))
        return found


# ============================================================================ helpers
def _known(v: V, n: int) -> Bools:
    if v.known is None:
        return np.ones(n, dtype=bool)
    return np.broadcast_to(np.asarray(v.known, dtype=bool), (n,)).copy()


def _days(day: dt.date) -> int:
    return (day - _EPOCH).days


def _cents(cents: int) -> str:
    return f"{Decimal(cents).scaleb(-2):f}"


def _places(value: Decimal) -> int:
    exponent = value.normalize().as_tuple().exponent
    return max(0, -int(exponent))


def _as_decimals(values: Array, scale: int | None) -> Array:
    if scale is None:
        return np.asarray(values, dtype=object)
    return np.asarray(scaled(values.tolist(), scale), dtype=object)


def _sums(c: Credits, slot: Array, take: Bools, size: int) -> Array:
    """Exact sums of the taken rows per slot, as Decimals."""
    slots = slot[take]
    if c.scale is None:
        total = np.full(size, _ZERO, dtype=object)
        with localcontext(EXACT):
            np.add.at(total, slots, np.asarray(c.values, dtype=object)[take])
        return total
    values = np.asarray(c.values, dtype=np.int64)[take]
    if values.size and int(np.abs(values).max()) * values.size >= _INT_LIMIT:
        values = values.astype(object)  # Python ints: no overflow, still exact
    sums = group_sums(slots, values, size)
    scale = c.scale
    return np.asarray(scaled(sums.tolist(), scale), dtype=object)
