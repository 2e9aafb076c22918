from __future__ import annotations

import operator
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd

from engine.ir import (
    AggregateIR,
    Arith,
    Attainment,
    Between,
    Compare,
    Const,
    EnteredAt,
    FieldRef,
    Func,
    IsMissing,
    Logic,
    Member,
    Neg,
    Node,
    Not,
    Reached,
    StageIR,
    ToFloat,
    walk,
)
from engine.money import EXACT, scaled
from engine.record import (
    Fn,
    compile_node,
)
from engine.vector.frame import Frame
from engine.vector.values import (
    Array,
    Bools,
    V,
    and_known,
    bool_value,
    decimals,
    full_known,
    group_sums,
    scaled_const,
    truth,
)

VFn = Callable[[Frame], V]

OPS: dict[str, Callable[[Any, Any], Any]] = {
    "==": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}


def free_fields(node: Node) -> tuple[set[str], bool]:
    """The fields a node reads, and whether it needs more than fields (stages, aggregates)."""
    names: set[str] = set()
    other = False
    for item in walk(node):
        if isinstance(item, FieldRef):
            names.add(item.name)
        elif isinstance(item, Reached | AggregateIR | EnteredAt | Attainment):
            other = True
    return names, other


class Compiler:
    """Compiles IR to vector functions; knows the text fields of the record being evaluated."""

    def __init__(self, text_fields: set[str], stages: Mapping[str, StageIR]) -> None:
        self.text_fields = text_fields
        self.stages = stages
        self._compiled: dict[Node, VFn] = {}

    def lookup_field(self, node: Node) -> FieldRef | None:
        """The one text field a node reads, when it reads nothing else."""
        names, other = free_fields(node)
        if other or len(names) != 1:
            return None
        (name,) = names
        return find_ref(node, name) if name in self.text_fields else None

    def compile(self, node: Node) -> VFn:
        """A function computing `node` on a frame (compiled once per node)."""
        found = self._compiled.get(node)
        if found is None:
            found = self._compiled[node] = self._compile(node)
        return found

    def _compile(self, node: Node) -> VFn:
        ref = self.lookup_field(node) if node.kind == "bool" else None
        if ref is not None and not isinstance(node, FieldRef):
            return text_lookup(node, ref, compile_node(node, self.stages))
        if isinstance(node, FieldRef):
            return lambda frame: frame.field(node)
        if isinstance(node, Const):
            value = np.asarray(scaled_const(node, node.scale))
            return lambda frame: V(value)
        if isinstance(node, ToFloat):
            return self._to_float(node)
        if isinstance(node, Compare):
            return self._compare(node)
        if isinstance(node, Member):
            return self._member(node)
        if isinstance(node, Between):
            return self._between(node)
        if isinstance(node, Logic):
            return self._logic(node)
        if isinstance(node, Not):
            inner = self.compile(node.operand)

            def negate(frame: Frame) -> V:
                v = inner(frame)
                return bool_value(~np.asarray(v.values, dtype=bool), v.known)

            return negate
        if isinstance(node, IsMissing):
            inner = self.compile(node.operand)
            negated = node.negated

            def missing(frame: Frame) -> V:
                known = full_known(inner(frame), frame.n)
                return V(known if negated else ~known)

            return missing
        if isinstance(node, Arith):
            return self._arith(node)
        if isinstance(node, Neg):
            inner = self.compile(node.operand)

            def minus(frame: Frame) -> V:
                v = inner(frame)
                return V(-v.values, v.known)

            return minus
        if isinstance(node, Reached):
            pipeline, index = node.pipeline, node.index

            def reached(frame: Frame) -> V:
                where, known = frame.stage_reach[pipeline]
                return bool_value(where >= index, None if known.all() else known)

            return reached
        if isinstance(node, EnteredAt):
            stage = node.stage

            def entered_at(frame: Frame) -> V:
                return frame.entered_at(stage)

            return entered_at
        if isinstance(node, Func):
            return self._function(node)
        if isinstance(node, Attainment):
            key = node.key

            def attainment(frame: Frame) -> V:
                found = frame.extras.get(key)
                if found is not None:
                    return found
                return V(np.zeros(frame.n), np.zeros(frame.n, dtype=bool))

            return attainment
        assert isinstance(node, AggregateIR)
        return self._aggregate(node)

    def _function(self, node: Func) -> VFn:
        if node.name == "abs":
            inner = self.compile(node.args[0])
            return lambda frame: (lambda v: V(np.abs(v.values), v.known))(inner(frame))
        a, b = (self._scaled(arg, node.scale) for arg in node.args)
        pick = np.minimum if node.name == "min" else np.maximum
        return lambda frame: combine_values(a(frame), b(frame), pick)

    def _to_float(self, node: ToFloat) -> VFn:
        inner = self.compile(node.operand)
        divisor = float(10**node.operand.scale) if node.operand.kind == "fixed" else 1.0

        def to_float(frame: Frame) -> V:
            v = inner(frame)
            values = np.asarray(v.values).astype(np.float64)
            return V(values / divisor if divisor != 1.0 else values, v.known)

        return to_float

    def _scaled(self, node: Node, scale: int) -> VFn:
        inner = self.compile(node)
        if node.kind != "fixed" or node.scale == scale:
            return inner
        if isinstance(node, Const):
            value = np.asarray(scaled_const(node, scale))
            return lambda frame: V(value)
        factor = 10 ** (scale - node.scale)
        return lambda frame: (lambda v: V(v.values * factor, v.known))(inner(frame))

    def _compare(self, node: Compare) -> VFn:
        op = OPS[node.op]
        scale = max(node.left.scale, node.right.scale)
        a, b = self._scaled(node.left, scale), self._scaled(node.right, scale)

        text = node.domain == "text"
        sides = (node.left, node.right)
        ref = next((x for x in sides if isinstance(x, FieldRef)), None)
        const = next((x for x in sides if isinstance(x, Const)), None)
        # `status == SQL`: where the field's codes are known already (validation's, a score's
        # statuses), the constant is looked up once instead of comparing every row's text.
        coded = text and node.op in ("==", "!=") and ref is not None and const is not None

        def compare(frame: Frame) -> V:
            found = frame.known_codes(ref.name) if coded and ref is not None else None
            if found is not None and const is not None:
                codes, uniques = found
                wanted = [i for i, u in enumerate(uniques) if u == const.value]
                equal = (
                    np.isin(codes, wanted)
                    if len(wanted) > 1
                    else codes == (wanted[0] if wanted else -2)
                )
                values = equal if node.op == "==" else ~equal
                return bool_value(values, codes >= 0)
            x, y = a(frame), b(frame)
            known = and_known(x.known, y.known)
            left, right = x.values, y.values
            if text:  # missing text is None, which cannot be ordered against a string
                left = np.where(full_known(x, frame.n), left, "")
                right = np.where(full_known(y, frame.n), right, "")
            values = np.broadcast_to(np.asarray(op(left, right), dtype=bool), (frame.n,))
            return bool_value(values.copy(), known)

        return compare

    def _member(self, node: Member) -> VFn:
        scale = max([node.value.scale, *(i.scale for i in node.items)])
        inner = self._scaled(node.value, scale)
        items = np.asarray([scaled_const(i, scale) for i in node.items])
        negated = node.negated

        def member(frame: Frame) -> V:
            v = inner(frame)
            values = np.broadcast_to(np.isin(v.values, items), (frame.n,))
            return bool_value(~values if negated else values.copy(), v.known)

        return member

    def _between(self, node: Between) -> VFn:
        scale = max(node.value.scale, node.low.scale, node.high.scale)
        inner = self._scaled(node.value, scale)
        low, high = scaled_const(node.low, scale), scaled_const(node.high, scale)
        negated = node.negated

        def between(frame: Frame) -> V:
            v = inner(frame)
            values = np.broadcast_to((v.values >= low) & (v.values <= high), (frame.n,))
            return bool_value(~values if negated else values.copy(), v.known)

        return between

    def _logic(self, node: Logic) -> VFn:
        a, b = self.compile(node.left), self.compile(node.right)
        conjunction = node.op == "and"

        def logic(frame: Frame) -> V:
            x, y = a(frame), b(frame)
            n = frame.n
            xv, yv = truth(x, n), truth(y, n)
            if x.known is None and y.known is None:
                return V(xv & yv if conjunction else xv | yv)
            xk, yk = full_known(x, n), full_known(y, n)
            if conjunction:
                # false and anything is false; known when both are known or either is false
                known = (xk & yk) | (xk & ~xv) | (yk & ~yv)
                return bool_value(xv & yv, known)
            known = (xk & yk) | xv | yv
            return bool_value(xv | yv, known)

        return logic

    def _arith(self, node: Arith) -> VFn:
        op = node.op
        if op == "days" or node.kind == "date":
            a, b = self.compile(node.left), self.compile(node.right)
            sign = -1 if op in ("days", "-") else 1
            right = node.right
            if op != "days" and (right.kind == "float" or right.scale):
                # A duration that is not whole days moves the date by its whole days.
                divisor = 10**right.scale if right.kind == "fixed" else 1

                def shift(x: Any, y: Any) -> Any:
                    return x + sign * np.floor_divide(y, divisor).astype(np.int64)

                return lambda frame: combine_values(a(frame), b(frame), shift)
            return lambda frame: combine_values(a(frame), b(frame), lambda x, y: x + sign * y)
        if node.kind == "decimal":
            return self._decimal(node)
        if node.kind == "fixed":
            scale = node.scale if op in "+-" else None
            a = self._scaled(node.left, scale) if scale is not None else self.compile(node.left)
            b = self._scaled(node.right, scale) if scale is not None else self.compile(node.right)
            function = {"+": operator.add, "-": operator.sub, "*": operator.mul}[op]
            return lambda frame: combine_values(a(frame), b(frame), function)
        a, b = self.compile(node.left), self.compile(node.right)
        if op == "/":

            def divide(frame: Frame) -> V:
                x, y = a(frame), b(frame)
                denominator = np.asarray(y.values, dtype=np.float64)
                zero = denominator == 0
                with np.errstate(divide="ignore", invalid="ignore"):
                    values = np.asarray(x.values, dtype=np.float64) / np.where(zero, 1, denominator)
                known = and_known(and_known(x.known, y.known), ~zero if zero.any() else None)
                return V(np.broadcast_to(values, (frame.n,)), known)

            return divide
        function = {"+": operator.add, "-": operator.sub, "*": operator.mul}[op]
        return lambda frame: combine_values(a(frame), b(frame), function)

    def _decimal(self, node: Arith) -> VFn:
        """Exact arithmetic on object arrays of Decimals, as the record path does it."""
        a, b = self.compile(node.left), self.compile(node.right)
        left, right = node.left, node.right
        exact = {"+": EXACT.add, "-": EXACT.subtract, "*": EXACT.multiply}[node.op]
        function = np.frompyfunc(exact, 2, 1)

        def decimal(frame: Frame) -> V:
            x, y = a(frame), b(frame)
            xs = decimals(x.values, left.kind, left.scale, x.known)
            ys = decimals(y.values, right.kind, right.scale, y.known)
            return V(np.asarray(function(xs, ys), dtype=object), and_known(x.known, y.known))

        return decimal

    def _aggregate(self, node: AggregateIR) -> VFn:
        where = self.compile(node.where) if node.where is not None else None
        arg = self.compile(node.arg) if node.arg is not None else None
        function, kind, scale = (
            node.function,
            node.arg.kind if node.arg else "",
            (node.arg.scale if node.arg else 0),
        )

        # The rows `where` keeps and the argument, per source frame: a KPI is aggregated per
        # rep and then per team over the same rows, computed once.
        last: list[Any] = [None, None, None]

        def rows_of(frame: Frame) -> tuple[Bools | None, V | None]:
            if last[0] is not frame:
                kept = truth(where(frame), frame.n) if where is not None else None
                found = arg(frame) if arg is not None else None
                last[:] = [frame, kept, found]
            return last[1], last[2]

        def aggregate(groups: Frame) -> V:
            assert isinstance(groups, Groups)
            frame, codes, count = groups.source, groups.group_codes, groups.n
            kept, v = rows_of(frame)
            take = codes >= 0
            if kept is not None:
                take = take & kept
            if function == "count":
                return V(np.bincount(codes[take], minlength=count).astype(np.int64))
            assert v is not None
            take = take & full_known(v, frame.n)
            values = np.broadcast_to(v.values, (frame.n,))[take]
            if function == "sum" and kind == "fixed" and values.dtype.kind in "iu":
                return V(group_sums(codes[take], values, count))
            series = pd.Series(values, dtype=np.int64 if kind in ("fixed", "date") else None)
            if kind == "fixed" and function in ("mean", "median"):
                series = series.astype(np.float64) / 10**scale
            result = getattr(series.groupby(codes[take]), function)().reindex(range(count))
            # An empty sum is 0; an empty mean, median, min or max is unknown.
            known = np.ones(count, bool) if function == "sum" else np.asarray(result.notna())
            dtype = np.float64 if function in ("mean", "median") or kind == "float" else np.int64
            values_out = np.asarray(result.fillna(0).to_numpy(), dtype=dtype)
            return V(values_out, None if known.all() else known)

        return aggregate


class Groups(Frame):
    """Groups of a frame's rows (codes, -1 in none): what a KPI's aggregates run on."""

    def __init__(self, source: Frame, codes: Array, count: int) -> None:
        super().__init__(source.data)
        self.source, self.group_codes, self.n = source, codes, count


def find_ref(node: Node, name: str) -> FieldRef | None:
    return next((n for n in walk(node) if isinstance(n, FieldRef) and n.name == name), None)


def combine_values(x: V, y: V, function: Callable[[Any, Any], Any]) -> V:
    return V(function(x.values, y.values), and_known(x.known, y.known))


def text_lookup(node: Node, ref: FieldRef, closure: Fn) -> VFn:
    """A condition on one text field: the record closure once per distinct value."""
    name = ref.name
    last: list[Any] = [None, None]  # the last frame and its answer: KPIs ask it again

    def lookup(frame: Frame) -> V:
        if last[0] is frame:
            return last[1]  # type: ignore[no-any-return]
        codes, uniques = frame.codes(name)
        answers = [closure({name: u}) for u in uniques]
        answers.append(closure({name: None}))
        values = np.asarray([a is True for a in answers], dtype=bool)
        known = np.asarray([a is not None for a in answers], dtype=bool)
        values_at, known_at = values[codes], known[codes]
        found = V(values_at, None if known.all() else known_at)
        last[:] = [frame, found]
        return found

    return lookup


def python_value(value: Any, kind: str, scale: int) -> Any:
    """A vector value back as the record path holds it."""
    if kind == "fixed":
        return int(value) if scale == 0 else Decimal(int(value)).scaleb(-scale)
    if kind == "float":
        return float(value)
    return value  # decimal (a Decimal), date, text, bool


def python_values(values: Array, known: Bools, kind: str, scale: int) -> list[Any]:
    """`python_value` of each known value (None where unknown), a whole column at once."""
    if kind == "fixed" and values.dtype.kind in "iu":
        found: list[Any] = values.tolist() if scale == 0 else scaled(values.tolist(), scale)
    elif kind == "float" and values.dtype.kind == "f":
        found = values.tolist()
    else:
        found = [python_value(v, kind, scale) for v in values.tolist()]
    if known.all():
        return found
    return [v if k else None for v, k in zip(found, known.tolist(), strict=True)]
