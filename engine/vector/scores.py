from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
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


def by_outcome(codes: Array, table: list[Any], lowest: int) -> tuple[Array, list[Any], int]:
    """A criterion's answers with the equal entries of its table made one (`lowest` -1: code -1
    is the last entry), so that fewer combinations of answers are put together (a picklist of
    ten sectors worth 15 or 0 points gives two answers, not ten)."""
    seen: dict[tuple[type, str], int] = {}
    remap = [seen.setdefault((type(value), repr(value)), len(seen)) for value in table]
    if len(seen) == len(table):
        return codes, table, lowest
    outcomes = [table[remap.index(number)] for number in range(len(seen))]
    return np.take(np.asarray(remap, dtype=np.int64), codes), outcomes, 0


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
        where = np.flatnonzero(rows)  # most sets are sparse: only their rows are written
        if len(where):
            self.words[word][where] |= 1 << bit

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
class Totals:
    """A score's totals on a frame: per distinct combination of the criteria's answers, the
    total (a Python value), the points mapping, the undecided criteria and the total in the
    score's representation (`numeric`); `inverse`: each row's combination."""

    inverse: Array
    totals: list[Any]
    points: list[Any]
    missing: list[Any]
    numeric: Array

    def take(self, rows: Array) -> Totals:
        """The same totals for some rows."""
        return Totals(self.inverse[rows], self.totals, self.points, self.missing, self.numeric)


@dataclass(slots=True)
class ScoreColumns:
    """A score evaluated on a frame: totals (Python values), statuses, points, missing; and
    the totals as int64 where they are whole numbers (`whole` marks where they are). The
    statuses also as codes into `status_names` (-1: none), so what reads them (a KPI's
    `count(status == SQL)`) needs no hashing of every row."""

    score: Array
    status: Array
    points: Array
    missing: Array
    whole: Array
    scored: Bools
    status_code: Array = field(default_factory=lambda: np.zeros(0, np.int64))
    status_names: list[str] = field(default_factory=list)

    @staticmethod
    def empty(n: int) -> ScoreColumns:
        """Columns of rows no score applies to."""
        points = np.empty(n, dtype=object)
        points.fill(NO_POINTS)
        missing = np.empty(n, dtype=object)
        missing.fill(())
        nothing = np.full(n, None, dtype=object)
        return ScoreColumns(
            nothing, nothing.copy(), points, missing, np.zeros(n, np.int64), np.zeros(n, bool),
            np.full(n, -1, np.int64), [],
        )  # fmt: skip

    def codes(self) -> tuple[Array, list[str]]:
        """The statuses as codes (-1: none) and their names."""
        return self.status_code, self.status_names


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
        read = [free_fields(c) for c in conditions]
        fields = {name for names, _ in read for name in names}
        alone = next(iter(fields)) if len(fields) == 1 and not any(o for _, o in read) else None

        def by_case(frame: Frame) -> tuple[Array, list[Any]]:
            # Conditions on one column (`employees >= 250`) decided once per distinct value.
            grouped = frame.distinct_rows(alone) if alone is not None else None
            if grouped is None:
                return case_codes(frame)
            codes, values = grouped
            found, table = case_codes(values)
            return np.take(found, codes), table

        def case_codes(frame: Frame) -> tuple[Array, list[Any]]:
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

    def totals(self, frame: Frame) -> Totals:
        """Points, totals and missing criteria per combination of the criteria's answers."""
        n = frame.n
        parts, keys = [], []
        for criterion, lowest in self.criteria:
            codes, table, start = by_outcome(*criterion(frame), lowest)
            parts.append((codes, table))
            keys.append((codes, len(table), start))
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
        return Totals(inverse, totals, points, missing, self.numeric(totals))

    def numeric(self, values: list[Any]) -> Array:
        """Totals or points (Python values) in the score's representation: int64 scaled by
        10**scale, or float64."""
        if self.ir.kind == "fixed":
            scale = self.ir.scale
            return np.asarray(
                [v if scale == 0 else int(Decimal(v).scaleb(scale)) for v in values], np.int64
            )
        return np.asarray(values, dtype=np.float64)

    def run(self, frame: Frame, objects: bool = True, found: Totals | None = None) -> ScoreColumns:
        """Points, totals, missing criteria and statuses of every row (from `found`, the
        totals of these rows, when they are known already).

        `objects`: whether the totals are wanted as Python values (not needed when whole).
        """
        n = frame.n
        found = found if found is not None else self.totals(frame)
        inverse, totals, points, missing = found.inverse, found.totals, found.points, found.missing
        exact = self.ir.kind == "fixed"
        numeric = found.numeric
        score_values = numeric[inverse]
        if self.by_score:
            # Statuses that read the score only are decided once per combination.
            combinations = Frame(pd.DataFrame(index=pd.RangeIndex(len(numeric))))
            code = self._status(combinations.with_extras({"score": V(numeric)}))[inverse]
        else:
            code = self._status(frame.with_extras({"score": V(score_values)}))
        names = [name for name, _, _ in self.statuses]
        status = object_array([*names, None])[code]
        whole = exact and self.ir.scale == 0
        return ScoreColumns(
            object_array(totals)[inverse] if objects or not whole else np.full(n, None, object),
            status,
            object_array(points)[inverse],
            object_array(missing)[inverse],
            score_values if whole else np.zeros(n, np.int64),
            np.full(n, whole),
            np.where(code == len(names), -1, code),
            names,
        )

    def _status(self, frame: Frame) -> Array:
        """Each row's status, as its position among the score's statuses (their count: none)."""
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
        return code


def score_vector(ctx: Context, name: str, subject: str) -> ScoreVector:
    return ScoreVector(ctx.compiled.scores[name], ctx.compiler(subject), ctx.runners[name])


def routed(
    ctx: Context, routes: tuple[RouteIR, ...], frame: Frame, subject: str
) -> tuple[Array, ScoreColumns, Array]:
    """Which score qualifies each row (None when undecided), its columns, and every score's
    total per row (`scores`). Every score of the record is computed first, on every row, and
    what expressions read of them (`fit.score`, `fit.size`) is put in the frame: a status may
    read any score of its record."""
    n = frame.n
    chosen = filled_array(n, None)
    read = ctx.compiled.computed.get(subject, {})
    vectors = {
        name: score_vector(ctx, name, subject)
        for name, ir in sorted(ctx.compiled.scores.items())  # as `engine.record` orders them
        if ir.subject == subject
    }
    found = {name: vector.totals(frame) for name, vector in vectors.items()}
    for name, vector in vectors.items():
        here = found[name]
        if f"{name}.score" in read:
            frame.extras[f"{name}.score"] = V(here.numeric[here.inverse])
        for criterion in vector.names:
            if f"{name}.{criterion}" in read:
                values = vector.numeric([mapping[criterion] for mapping in here.points])
                frame.extras[f"{name}.{criterion}"] = V(values[here.inverse])
    scores = _score_maps(found, n)
    if not routes:
        return chosen, ScoreColumns.empty(n), scores
    objects = not whole_scores(ctx, subject)
    if len(routes) == 1 and routes[0].condition is None:
        # A record's only score: every row, without taking a sub-frame.
        name = routes[0].score
        chosen.fill(name)
        return chosen, vectors[name].run(frame, objects, found[name]), scores
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
        columns = vectors[item.score].run(
            frame.take(rows), objects=objects, found=found[item.score].take(rows)
        )
        chosen[rows] = item.score
        result.score[rows] = columns.score
        result.status[rows] = columns.status
        result.points[rows] = columns.points
        result.missing[rows] = columns.missing
        result.whole[rows] = columns.whole
        result.scored[rows] = columns.scored
        # Each score's status codes, renumbered into the names of every route's statuses.
        names = result.status_names
        remap = np.asarray(
            [*(_position(names, s) for s in columns.status_names), -1], dtype=np.int64
        )
        result.status_code[rows] = remap[columns.status_code]
    return chosen, result, scores


def _position(names: list[str], name: str) -> int:
    """Where a name is in the list, added at the end when new."""
    if name not in names:
        names.append(name)
    return names.index(name)


def _score_maps(found: Mapping[str, Totals], n: int) -> Array:
    """Per row, every score's total by name: one mapping per distinct set of totals (few: a
    score has many combinations of answers but few totals)."""
    if not found:
        return filled_array(n, NO_POINTS)
    names = list(found)
    parts: list[tuple[Array, int]] = []
    shown: list[list[Any]] = []
    for totals in found.values():
        # Totals told apart as they print (5 and Decimal("5.0") are two values).
        index: dict[str, int] = {}
        first: list[Any] = []
        codes = []
        for total in totals.totals:
            code = index.setdefault(repr(total), len(index))
            if code == len(first):
                first.append(total)
            codes.append(code)
        parts.append((np.asarray(codes, dtype=np.int64)[totals.inverse], len(first)))
        shown.append(first)
    inverse, digits = combine_codes(parts, n)
    maps = [
        FrozenDict(zip(names, (s[c] for s, c in zip(shown, codes, strict=True)), strict=True))
        for codes in zip(*digits, strict=True)
    ]
    return object_array(maps)[inverse]


def computed(
    ctx: Context, subject: str, frame: Frame, values: Mapping[str, tuple[Array, Bools]]
) -> None:
    """Put the results expressions read (`status`, `qualification_score`...) in the frame, each in
    the representation the compiler gave it; `values` holds Python values (None: unknown)."""
    read = ctx.compiled.computed.get(subject, {})
    for name, (column, known) in values.items():
        ref = read.get(name)
        if ref is None:
            continue
        if ref.kind == "text":
            frame.extras[name] = V(column, known)
            continue
        holder = np.zeros(frame.n, dtype=np.float64 if ref.kind == "float" else np.int64)
        if column.dtype != object:  # whole totals, already int64
            holder[known] = column[known] * 10**ref.scale
        elif known.any():
            taken = column[known].tolist()
            if ref.kind == "float":
                holder[known] = np.asarray([float(v) for v in taken], dtype=np.float64)
            else:
                holder[known] = np.asarray(
                    [int(Decimal(v).scaleb(ref.scale)) for v in taken], dtype=np.int64
                )
        frame.extras[name] = V(holder, known)


def lead_rows(ctx: Context, data: pd.DataFrame | None, alerts: Alerts) -> pd.DataFrame:
    """One row per valid lead: id, score, status, points, missing."""
    if data is None:
        return pd.DataFrame(columns=list(LEAD_COLUMNS))
    frame = Frame(data, ctx.linked("lead", data), codes=ctx.codes.get("leads"))
    compiled = ctx.compiled
    _, columns, scores = routed(ctx, compiled.routes["lead"], frame, "lead")
    computed(
        ctx,
        "lead",
        frame,
        {
            "score": qualifying(ctx, columns, "lead"),
            "status": (columns.status, columns.status_code >= 0),
        },
    )
    if "status" in frame.extras:
        frame.coded("status", columns.codes())
    ctx.frames["lead"] = frame
    result = result_table(
        {
            "id": data["id"],
            "score": score_column(ctx, columns, "lead"),
            "status": columns.status,
            "points": columns.points,
            "missing": columns.missing,
            "scores": scores,
        }
    )
    for alert in (a for a in compiled.alerts if a.subject == "lead"):
        holds = truth(ctx.lead_compiler.compile(alert.condition)(frame), frame.n)
        alerts.records(alert.name, alert.label, alert.severity, data["id"][holds])
    return result


def qualifying(ctx: Context, columns: ScoreColumns, subject: str) -> tuple[Array, Bools]:
    """The qualifying score of each row and where there is one (int64 when whole)."""
    if whole_scores(ctx, subject):
        return columns.whole, columns.scored
    return columns.score, present(columns.score)


def present(values: Array) -> Bools:
    """Where an object column holds a value (not None)."""
    return np.asarray(pd.notna(values), dtype=bool)


def whole_scores(ctx: Context, subject: str) -> bool:
    """Whether every score of the record has whole points (totals as nullable integers)."""
    scores = [s for s in ctx.compiled.scores.values() if s.subject == subject]
    return bool(scores) and all(s.kind == "fixed" and s.scale == 0 for s in scores)


def score_column(ctx: Context, columns: ScoreColumns, subject: str) -> Any:
    """Totals as nullable integers when every score of the record has whole points."""
    if whole_scores(ctx, subject):
        return pd.arrays.IntegerArray(columns.whole, ~columns.scored)
    return columns.score
