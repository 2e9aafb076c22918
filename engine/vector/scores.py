from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd

from engine.ir import (
    CriterionIR,
    RouteIR,
    ScoreIR,
)
from engine.record import (
    ScoreRunner,
    assemble,
)
from engine.results import (
    LEAD_COLUMNS,
    FrozenDict,
)
from engine.vector.context import (
    Alerts,
    Context,
)
from engine.vector.expr import (
    Compiler,
    free_fields,
    python_value,
)
from engine.vector.frame import Frame
from engine.vector.values import (
    Array,
    Bools,
    V,
    filled_array,
    full_known,
    object_array,
    result_table,
    truth,
)

MAX_RADIX = 2**62
NO_POINTS = FrozenDict()
#: Points read from a whole-number field code themselves when they span fewer values.
DENSE_POINTS = 1024


def combine_codes(
    parts: Sequence[tuple[Array, int] | tuple[Array, int, int]], n: int
) -> tuple[Array, list[list[int]]]:
    """One code per distinct combination of small codes, and per part the code of each
    combination. A part is (codes, size) with codes in 0..size-1, or (codes, size, -1) with codes
    in -1..size-2 (-1: the last entry of a Python list)."""
    key = np.zeros(n, dtype=np.int64)
    radix = 1
    lowest = 0  # the smallest key, from parts whose codes start at -1
    folded = False
    for codes, size, *start in parts:
        if radix * size >= MAX_RADIX:
            key = np.asarray(pd.factorize(key)[0], dtype=np.int64)
            radix = int(key.max()) + 1 if n else 1
            lowest = 0
            folded = True
        key *= size
        key += codes
        radix *= size
        lowest = lowest * size + (start[0] if start else 0)
    if lowest:
        key -= lowest
    if radix <= max(4 * n, 1 << 16):
        # Few possible keys: number them through a table over all of them, no hashing.
        seen = np.zeros(radix, dtype=bool)
        seen[key] = True
        distinct = np.flatnonzero(seen)
        number = np.zeros(radix, dtype=np.int64)
        number[distinct] = np.arange(len(distinct), dtype=np.int64)
        inverse = number[key]
    else:
        found, distinct = pd.factorize(key)
        inverse = np.asarray(found, dtype=np.int64)
    if not folded:
        # Mixed radix: each combination's codes come back from its key, no search needed.
        digits: list[list[int]] = []
        rest = np.asarray(distinct, dtype=np.int64)
        for _, size, *start in reversed(parts):
            digits.append((rest % size + (start[0] if start else 0)).tolist())
            rest = rest // size
        return inverse, digits[::-1]
    first = np.full(len(distinct), n, dtype=np.int64)
    np.minimum.at(first, inverse, np.arange(n, dtype=np.int64))
    return inverse, [np.asarray(codes)[first].tolist() for codes, *_ in parts]


class Bits:
    """Per row, a set of small numbers (exits, stages, requirements, playbooks) as int64 words
    of 62 bits each: any number of members, never an overflow."""

    WIDTH = 62

    def __init__(self, n: int) -> None:
        self.n = n
        self.words: list[Array] = [np.zeros(n, dtype=np.int64)]

    def add(self, number: int, rows: Bools) -> None:
        """Put `number` in the sets of the rows where `rows` holds."""
        word, bit = divmod(number, self.WIDTH)
        while len(self.words) <= word:
            self.words.append(np.zeros(self.n, dtype=np.int64))
        self.words[word] |= rows.astype(np.int64) << bit

    def empty(self) -> Bools:
        """Rows whose set is empty."""
        found: Bools = self.words[0] == 0
        for word in self.words[1:]:
            found &= word == 0
        return found

    @staticmethod
    def members(mask: int) -> list[int]:
        """The numbers of a set given as one Python int (bit i: number i)."""
        return [i for i in range(mask.bit_length()) if mask >> i & 1]


def names_by_bits(
    group: Array, bits: Bits, names_of: Callable[[int, int], tuple[str, ...]], n: int
) -> Array:
    """A tuple of names per row from (group, set of numbers) codes, built once per combination;
    `names_of` gets the group and the set as one Python int (bit i: number i)."""
    if n == 0:
        return np.empty(0, dtype=object)
    words = bits.words
    low, high = int(group.min()), int(group.max())
    if len(words) == 1 and low >= -1 and high < 1 << 20:
        first = words[0]
        top = int(first.max())
        if int(first.min()) >= 0 and top < 1 << 20:
            # Small codes stand for themselves: no hashing.
            inverse, (groups_of, masks_of) = combine_codes(
                [(group, high + 2, -1), (first, top + 1)], n
            )
            pairs = zip(groups_of, masks_of, strict=True)
            return object_array([names_of(g, b) for g, b in pairs])[inverse]
    group_codes, group_values = pd.factorize(group)
    parts = [(np.asarray(group_codes, dtype=np.int64), len(group_values))]
    word_values = []
    for word in words:
        codes, values = pd.factorize(word)
        parts.append((np.asarray(codes, dtype=np.int64), len(values)))
        word_values.append(values.tolist())
    inverse, digits = combine_codes(parts, n)
    groups = group_values.tolist()
    names = []
    for g, *ws in zip(*digits, strict=True):
        mask = 0
        for k, w in enumerate(ws):
            mask |= int(word_values[k][w]) << (Bits.WIDTH * k)
        names.append(names_of(int(groups[g]), mask))
    return object_array(names)[inverse]


# ----------------------------------------------------------------------------- scores
@dataclass(slots=True)
class ScoreColumns:
    """A score evaluated on a frame: totals (Python values), statuses, points, missing; and
    the totals as int64 where they are whole numbers (`whole` marks where they are)."""

    score: Array
    status: Array
    points: Array
    missing: Array
    whole: Array
    scored: Bools

    @staticmethod
    def empty(n: int) -> ScoreColumns:
        """Columns of rows no score applies to."""
        points = np.empty(n, dtype=object)
        points.fill(NO_POINTS)
        missing = np.empty(n, dtype=object)
        missing.fill(())
        nothing = np.full(n, None, dtype=object)
        return ScoreColumns(
            nothing, nothing.copy(), points, missing, np.zeros(n, np.int64), np.zeros(n, bool)
        )


class ScoreVector:
    """A score on tables: codes per criterion, combinations, then statuses."""

    def __init__(self, ir: ScoreIR, compiler: Compiler, runner: ScoreRunner) -> None:
        self.ir = ir
        self.runner = runner
        self.names = tuple(c.name for c in ir.criteria)
        self.criteria = [self._criterion(c, compiler, runner) for c in ir.criteria]
        self.statuses = [
            (s.name, s.knockout, compiler.compile(s.condition) if s.condition else None)
            for s in ir.statuses
        ]
        #: Whether the statuses read nothing but the score.
        self.by_score = all(
            s.condition is None or free_fields(s.condition) == ({"score"}, False)
            for s in ir.statuses
        )

    def _criterion(
        self, criterion: CriterionIR, compiler: Compiler, runner: ScoreRunner
    ) -> tuple[Callable[[Frame], tuple[Array, list[Any]]], int]:
        """A function giving (codes, points per code), points None meaning missing; and the
        lowest code (-1: the last points entry)."""
        if criterion.field is not None:
            ref = criterion.field

            def field_points(frame: Frame) -> tuple[Array, list[Any]]:
                v = frame.field(ref)
                values = np.broadcast_to(v.values, (frame.n,))
                whole = values.dtype == np.int64 and frame.n > 0
                low, high = (int(values.min()), int(values.max())) if whole else (0, DENSE_POINTS)
                if high - low < DENSE_POINTS:
                    # Whole numbers in a short range (MEDDPICC letters 0..2) code themselves.
                    codes = values - low
                    distinct: Any = range(low, high + 1)
                else:
                    found, distinct = pd.factorize(values)
                    codes, distinct = np.asarray(found, dtype=np.int64), distinct.tolist()
                table = [python_value(u, ref.kind, ref.scale) for u in distinct]
                if v.known is not None:
                    codes = np.where(v.known, codes, len(table))
                table.append(None)
                return codes, table

            return field_points, 0
        closure = runner.criterion(criterion.name)
        conditions = [c.condition for c in criterion.cases if c.condition is not None]
        refs = {compiler.lookup_field(c) for c in conditions}
        single = next(iter(refs)) if len(refs) == 1 else None
        if single is not None:
            name = single.name

            def by_value(frame: Frame) -> tuple[Array, list[Any]]:
                codes, uniques = frame.codes(name)
                table = [closure({name: u}) for u in uniques]
                table.append(closure({name: None}))  # code -1, missing: the last entry
                return codes, table

            return by_value, -1
        cases = [
            (compiler.compile(c.condition) if c.condition is not None else None, c.points)
            for c in criterion.cases
        ]

        def by_case(frame: Frame) -> tuple[Array, list[Any]]:
            n = frame.n
            nothing, unknown = len(cases), len(cases) + 1
            codes = np.full(n, nothing, dtype=np.int64)
            decided = np.zeros(n, dtype=bool)
            for index, (test, _) in enumerate(cases):
                if test is None:
                    codes[~decided] = index
                    break
                v = test(frame)
                holds = truth(v, n) & ~decided
                codes[holds] = index
                decided |= holds
                if v.known is not None:  # rows where the case cannot be decided stop here
                    undecidable = ~full_known(v, n) & ~decided
                    codes[undecidable] = unknown
                    decided |= undecidable
            return codes, [points for _, points in cases] + [0, None]

        return by_case, 0

    def run(self, frame: Frame, objects: bool = True) -> ScoreColumns:
        """Points, totals, missing criteria and statuses of every row.

        `objects`: whether the totals are wanted as Python values (not needed when whole).
        """
        n = frame.n
        parts = [criterion(frame) for criterion, _ in self.criteria]
        keys = [
            (c, len(t), lowest) for (c, t), (_, lowest) in zip(parts, self.criteria, strict=True)
        ]
        inverse, digits = combine_codes(keys, n)
        # Per criterion, the points of each combination; then each combination put together.
        columns = [
            [table[code] for code in codes] for (_, table), codes in zip(parts, digits, strict=True)
        ]
        totals: list[Any] = []
        points: list[Any] = []
        missing: list[Any] = []
        exact = self.ir.kind == "fixed"
        for values in zip(*columns, strict=True):
            total, mapping, undecided = assemble(self.names, list(values), exact)
            totals.append(total)
            points.append(mapping)
            missing.append(undecided)
        if exact:
            scale = self.ir.scale
            numeric = np.asarray(
                [t if scale == 0 else int(Decimal(t).scaleb(scale)) for t in totals], np.int64
            )
        else:
            numeric = np.asarray(totals, dtype=np.float64)
        score_values = numeric[inverse]
        if self.by_score:
            # Statuses that read the score only are decided once per combination.
            combinations = Frame(pd.DataFrame(index=pd.RangeIndex(len(numeric))))
            status = self._status(combinations.with_extras({"score": V(numeric)}))[inverse]
        else:
            status = self._status(frame.with_extras({"score": V(score_values)}))
        whole = exact and self.ir.scale == 0
        return ScoreColumns(
            object_array(totals)[inverse] if objects or not whole else np.full(n, None, object),
            status,
            object_array(points)[inverse],
            object_array(missing)[inverse],
            score_values if whole else np.zeros(n, np.int64),
            np.full(n, whole),
        )

    def _status(self, frame: Frame) -> Array:
        n = frame.n
        names = [name for name, _, _ in self.statuses]
        code = np.full(n, len(names), dtype=np.int64)
        decided = np.zeros(n, dtype=bool)
        ordered = [s for s in enumerate(self.statuses) if s[1][1]] + [
            s for s in enumerate(self.statuses) if not s[1][1]
        ]
        for index, (_, _, test) in ordered:
            take = ~decided if test is None else truth(test(frame), n) & ~decided
            code[take] = index
            decided |= take
        return object_array([*names, None])[code]


def score_vector(ctx: Context, name: str, subject: str) -> ScoreVector:
    return ScoreVector(ctx.compiled.scores[name], ctx.compiler(subject), ctx.runners[name])


def routed(
    ctx: Context, routes: tuple[RouteIR, ...], frame: Frame, subject: str
) -> tuple[Array, ScoreColumns]:
    """Which score applies to each row (None when undecided) and its columns."""
    n = frame.n
    chosen = filled_array(n, None)
    if not routes:
        return chosen, ScoreColumns.empty(n)
    objects = not whole_scores(ctx, subject)
    if len(routes) == 1 and routes[0].condition is None:
        # A record's only score: every row, without taking a sub-frame.
        chosen.fill(routes[0].score)
        return chosen, score_vector(ctx, routes[0].score, subject).run(frame, objects=objects)
    compiler = ctx.compiler(subject)
    code = np.full(n, -1, dtype=np.int64)
    decided = np.zeros(n, dtype=bool)
    for index, item in enumerate(routes):
        if item.condition is None:
            code[~decided] = index
            break
        v = compiler.compile(item.condition)(frame)
        holds = truth(v, n) & ~decided
        decided |= holds | (~full_known(v, n) & ~decided)
        code[holds] = index
    result = ScoreColumns.empty(n)
    for index, item in enumerate(routes):
        rows = np.flatnonzero(code == index)
        if not rows.size:
            continue
        columns = score_vector(ctx, item.score, subject).run(frame.take(rows), objects=objects)
        chosen[rows] = item.score
        result.score[rows] = columns.score
        result.status[rows] = columns.status
        result.points[rows] = columns.points
        result.missing[rows] = columns.missing
        result.whole[rows] = columns.whole
        result.scored[rows] = columns.scored
    return chosen, result


def lead_rows(ctx: Context, data: pd.DataFrame | None, alerts: Alerts) -> pd.DataFrame:
    """One row per valid lead: id, score, status, points, missing."""
    if data is None:
        return pd.DataFrame(columns=list(LEAD_COLUMNS))
    frame = Frame(data, ctx.linked("lead", data), codes=ctx.codes.get("leads"))
    compiled = ctx.compiled
    _, columns = routed(ctx, compiled.routes["lead"], frame, "lead")
    result = result_table(
        {
            "id": data["id"],
            "score": score_column(ctx, columns, "lead"),
            "status": columns.status,
            "points": columns.points,
            "missing": columns.missing,
        }
    )
    for alert in (a for a in compiled.alerts if a.subject == "lead"):
        holds = truth(ctx.lead_compiler.compile(alert.condition)(frame), frame.n)
        alerts.records(alert.name, alert.label, alert.severity, data["id"][holds])
    return result


def whole_scores(ctx: Context, subject: str) -> bool:
    """Whether every score of the record has whole points (totals as nullable integers)."""
    scores = [s for s in ctx.compiled.scores.values() if s.subject == subject]
    return bool(scores) and all(s.kind == "fixed" and s.scale == 0 for s in scores)


def score_column(ctx: Context, columns: ScoreColumns, subject: str) -> Any:
    """Totals as nullable integers when every score of the record has whole points."""
    if whole_scores(ctx, subject):
        return pd.arrays.IntegerArray(columns.whole, ~columns.scored)
    return columns.score
