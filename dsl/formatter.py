"""AST + comments -> the one canonical layout of a `.krl` file; refuses to change its meaning.

Layout rules:

- two spaces per level; a blank line between top-level declarations; each block item on its
  own line; inside a block, one blank line where the source had one or more between two items
  (or comments), none otherwise, and never right after `{` or before `}`;
- a score criterion whose cases fit on one line of at most 100 characters (and hold no comment)
  is written `name "Label" { a -> 1, b -> 2 }`, otherwise one case per line;
- an empty block is `{}`; `one_of` options, `kpis`, `plan` and `show` lists are comma-separated
  on one line; ruleset settings keep their source order;
- operators take single spaces; parentheses are only those precedence needs
  (or < and < not < comparison < + - < * / < unary minus); literals keep their spelling
  (`50K`, `40_000`, `80%`); a currency symbol sticks to its number (`50K€`), a code does not
  (`50K EUR`); labels are re-escaped;
- a comment on its own line stays before what follows it, at its indentation (or inside the
  block, before its `}`); a comment after code stays at the end of that line, two spaces after
  it. When several comments end up on one output line, all but the last move just above it.
"""

from __future__ import annotations

import re
from collections import Counter, deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace

from dsl import nodes as n
from dsl.diagnostics import Diagnostic
from dsl.parser import ParsedFile, parse
from dsl.source import SourceFile, Span
from dsl.types import plain

INDENT = 2
MAX_LINE = 100

# ----------------------------------------------------------------------------- expressions
_OR, _AND, _NOT, _COMPARE, _SUM, _PRODUCT, _UNARY, _ATOM = range(1, 9)
_BINARY_PRECEDENCE = {
    "or": _OR,
    "and": _AND,
    **dict.fromkeys(("==", "!=", "<", "<=", ">", ">="), _COMPARE),
    "+": _SUM,
    "-": _SUM,
    "*": _PRODUCT,
    "/": _PRODUCT,
}
_CURRENCY_SYMBOLS = frozenset("€$£")


def _precedence(expr: n.Expr) -> int:
    if isinstance(expr, n.Binary):
        return _BINARY_PRECEDENCE[expr.op]
    if isinstance(expr, n.Unary):
        return _NOT if expr.op == "not" else _UNARY
    if isinstance(expr, n.Membership | n.IsMissing):
        return _COMPARE
    return _ATOM


def format_expr(expr: n.Expr, min_precedence: int = _OR) -> str:
    """An expression with single spaces and only the parentheses its precedence needs."""
    text = _expr(expr)
    return f"({text})" if _precedence(expr) < min_precedence else text


def _expr(expr: n.Expr) -> str:
    if isinstance(expr, n.Binary):
        level = _BINARY_PRECEDENCE[expr.op]
        # Chains fold to the left, so only the right operand of an equal level needs brackets;
        # comparisons do not chain, so both sides must be sums.
        left = format_expr(expr.left, level + 1 if level == _COMPARE else level)
        return f"{left} {expr.op} {format_expr(expr.right, level + 1)}"
    if isinstance(expr, n.Unary):
        if expr.op == "not":
            return f"not {format_expr(expr.operand, _NOT)}"
        operand = format_expr(expr.operand, _UNARY)
        return f"- {operand}" if operand.startswith("-") else f"-{operand}"
    if isinstance(expr, n.Membership):
        keyword = "not in" if expr.negated else "in"
        return f"{format_expr(expr.value, _SUM)} {keyword} {_collection(expr.collection)}"
    if isinstance(expr, n.IsMissing):
        keyword = "is not missing" if expr.negated else "is missing"
        return f"{format_expr(expr.value, _SUM)} {keyword}"
    if isinstance(expr, n.Call):
        parts = [", ".join(format_expr(a) for a in expr.args)]
        if expr.where is not None:
            parts.append(f"where {format_expr(expr.where)}")
        return f"{expr.function}({' '.join(p for p in parts if p)})"
    if isinstance(expr, n.ListExpr | n.RangeExpr):
        return _collection(expr)
    if isinstance(expr, n.Ref):
        return expr.dotted
    if isinstance(expr, n.String):
        return quote(expr.value)
    if isinstance(expr, n.Bool):
        return "true" if expr.value else "false"
    if isinstance(expr, n.Date):
        return expr.value.isoformat()
    return _literal(expr)


def _collection(collection: n.ListExpr | n.RangeExpr) -> str:
    if isinstance(collection, n.RangeExpr):
        return f"{_number(collection.low)}..{_number(collection.high)}"
    return "[" + ", ".join(format_expr(item) for item in collection.items) + "]"


def _literal(value: n.Number | n.Percent | n.Duration) -> str:
    if isinstance(value, n.Number):
        return _number(value)
    if isinstance(value, n.Percent):
        return value.raw or f"{plain(value.value * 100)}%"
    return value.raw or f"{value.days}d"


def _number(number: n.Number) -> str:
    digits = number.raw
    if number.currency and digits.endswith(number.currency):
        digits = digits[: -len(number.currency)].rstrip()
    digits = digits or plain(number.value)
    if number.currency is None:
        return digits
    joiner = "" if number.currency in _CURRENCY_SYMBOLS else " "
    return f"{digits}{joiner}{number.currency}"


def quote(text: str) -> str:
    """A label or string as a double-quoted literal the parser reads back as `text`."""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"')
    return '"' + escaped.replace("\n", "\\n").replace("\t", "\\t") + '"'


def _label(label: str | None) -> str:
    return "" if label is None else " " + quote(label)


# ----------------------------------------------------------------------------- layout tree
@dataclass(frozen=True, slots=True)
class _Leaf:
    """One output line built from the source range [start, end)."""

    text: str
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class _Block:
    """`header {`, children one per line, `}`; `flat` is the one-line form when allowed."""

    header: str
    start: int
    open: int  # just past the `{`
    close: int  # at the `}`
    children: tuple[_Leaf | _Block, ...]
    flat: str | None = None


_Doc = _Leaf | _Block
_MASKED = re.compile(r'"(?:[^"\\\n]|\\.)*"|#[^\n]*')


class _Builder:
    """Declarations -> layout tree; finds the braces the AST does not record in the source."""

    def __init__(self, text: str) -> None:
        # Strings and comments blanked out, so a search for `{` or `status` finds only code.
        self.code = _MASKED.sub(lambda m: " " * len(m.group()), text)

    def leaf(self, text: str, span: Span) -> _Leaf:
        return _Leaf(text, span.start, span.end)

    def block(
        self, header: str, span: Span, children: Iterable[_Doc], flat: str | None = None
    ) -> _Block:
        brace = self.code.find("{", span.start, span.end)
        opened = brace + 1 if brace >= 0 else span.start
        closed = span.end - 1 if span.end > opened else opened
        return _Block(header, span.start, opened, closed, tuple(children), flat)

    # declarations -----------------------------------------------------------------------
    def declaration(self, decl: n.Declaration) -> _Doc:
        match decl:
            case n.Ruleset():
                settings: list[_Leaf] = []
                if decl.extends:
                    paths = ", ".join(quote(p.path) for p in decl.extends)
                    first, last = decl.extends[0].span, decl.extends[-1].span
                    settings.append(_Leaf(f"extends {paths}", first.start, last.end))
                if decl.template is not None:
                    settings.append(self.leaf("template", decl.template.span))
                if decl.currency is not None:
                    settings.append(self.leaf(f"currency {decl.currency.name}", decl.currency.span))
                if decl.rounding is not None:
                    rounding = decl.rounding
                    text = f"rounding {rounding.mode.name} {_number(rounding.step)}"
                    settings.append(self.leaf(text, rounding.span))
                settings.sort(key=lambda s: s.start)  # stable: extends first without spans
                header = f"ruleset {decl.name.name}{_label(decl.label)}"
                return self.block(header, decl.span, settings)
            case n.Record():
                return self.block(
                    f"record {decl.name.name}",
                    decl.span,
                    (self.leaf(f"{f.name.name} {_type(f.type)}", f.span) for f in decl.fields),
                )
            case n.Strategy():
                header = "strategy" + _label(decl.label)
                return self.block(header, decl.span, (self.strategy_item(i) for i in decl.items))
            case n.Score():
                return self.score(decl)
            case n.Qualify():
                routes = (
                    self.leaf(f"use {r.score.name} {_condition(r.condition)}", r.span)
                    for r in decl.routes
                )
                return self.block(f"qualify {decl.subject.name}", decl.span, routes)
            case n.Pipeline():
                header = f"pipeline {decl.name.name}{_label(decl.label)} on {decl.subject.name}"
                return self.block(header, decl.span, (self.pipeline_item(i) for i in decl.items))
            case n.Playbook():
                header = f"playbook {decl.name.name}{_label(decl.label)} on {decl.subject.name}"
                if decl.condition is not None:
                    header += f" when {format_expr(decl.condition)}"
                return self.block(header, decl.span, (self.playbook_item(i) for i in decl.items))
            case n.Kpi():
                text = f"kpi {decl.name.name}{_label(decl.label)}"
                if decl.family is not None:
                    text += f" family {decl.family.name}"
                text += f" on {decl.subject.name} = {format_expr(decl.value)}"
                if decl.target is not None:
                    text += f" target {decl.target.op} {_literal(decl.target.value)}"
                return self.leaf(text, decl.span)
            case n.Role():
                header = f"role {decl.name.name}{_label(decl.label)}"
                return self.block(header, decl.span, (self.role_item(i) for i in decl.items))
            case n.Plan():
                header = f"plan {decl.name.name}{_label(decl.label)} for {decl.role.name}"
                return self.block(header, decl.span, (self.plan_item(i) for i in decl.items))
            case n.Alert():
                text = (
                    f"alert {decl.name.name}{_label(decl.label)} on {decl.subject.name}"
                    f" when {format_expr(decl.condition)}"
                )
                if decl.severity is not None:
                    text += f" severity {decl.severity.name}"
                return self.leaf(text, decl.span)
            case n.Ritual():
                header = f"ritual {decl.name.name}{_label(decl.label)} every {decl.every.name}"
                shows: list[_Doc] = []
                if decl.shows:
                    # Several `show` lines read as one list; they become one line.
                    first, last = decl.shows[0].span, decl.shows[-1].span
                    names = ", ".join(i.name for i in decl.shows)
                    shows.append(_Leaf(f"show {names}", first.start, last.end))
                return self.block(header, decl.span, shows)
            case n.Definition():
                return self.table(decl.body, f" {decl.name.name}{_label(decl.label)}")
            case n.NamedExpression():
                text = (
                    f"define {decl.name.name}{_label(decl.label)} on {decl.subject.name}"
                    f" = {format_expr(decl.value)}"
                )
                return self.leaf(text, decl.span)
            case n.Override():
                inner = self.declaration(decl.declaration)
                if isinstance(inner, _Leaf):
                    return _Leaf("override " + inner.text, decl.span.start, inner.end)
                flat = None if inner.flat is None else "override " + inner.flat
                return replace(inner, header="override " + inner.header, start=decl.span.start,
                               flat=flat)  # fmt: skip
        raise TypeError(f"not a declaration: {decl!r}")  # pragma: no cover

    def strategy_item(self, item: n.StrategyItem) -> _Leaf:
        match item:
            case n.StrategyTarget():
                text = (
                    f"target {item.measure.name} {_number(item.target)}"
                    f" from {_number(item.baseline)}"
                )
            case n.StrategyGrowth():
                text = (
                    f"growth {item.name.name} {_literal(item.share)}"
                    f" when {format_expr(item.condition)}"
                )
            case n.StrategyFocus():
                text = f"focus {format_expr(item.condition)}"
            case n.StrategyChannel():
                text = f"channel {item.name.name} {_literal(item.share)}"
            case n.StrategyTolerance():
                text = f"tolerance {_number(item.points)} pts"
        return self.leaf(text, item.span)

    def score(self, score: n.Score) -> _Block:
        header = f"score {score.name.name}{_label(score.label)} on {score.subject.name}"
        if score.max is not None:
            header += f" max {_number(score.max)}"
        children = [self.criterion(c) for c in score.criteria]
        if score.statuses:
            children.append(self.status_block(score, children))
        return self.block(header, score.span, children)

    def criterion(self, criterion: n.Criterion | n.FieldCriterion) -> _Doc:
        head = f"{criterion.name.name}{_label(criterion.label)}"
        if isinstance(criterion, n.FieldCriterion):
            return self.leaf(f"{head} -> {criterion.field.name}", criterion.span)
        if criterion.of is not None:
            head += f" of {criterion.of.name}"
        cases = [_case(c) for c in criterion.cases]
        flat = f"{head} {{ {', '.join(cases)} }}" if cases else f"{head} {{}}"
        leaves = (self.leaf(text, c.span) for text, c in zip(cases, criterion.cases, strict=True))
        return self.block(head, criterion.span, leaves, flat)

    def status_block(self, score: n.Score, before: Sequence[_Doc]) -> _Block:
        rules = score.statuses
        first, last = rules[0].span, rules[-1].span
        # The status block has no node of its own: find its keyword and braces in the code.
        if before:
            low = before[-1].close + 1 if isinstance(before[-1], _Block) else before[-1].end
        else:
            low = self.code.find("{", score.span.start, first.start) + 1
        keywords = list(re.finditer(r"\bstatus\b", self.code[low : first.start]))
        start = low + keywords[-1].start() if keywords else first.start
        brace = self.code.find("{", start, first.start)
        opened = brace + 1 if brace >= 0 else first.start
        closed = self.code.find("}", last.end, score.span.end)
        leaves = tuple(self.leaf(_status(r), r.span) for r in rules)
        return _Block("status", start, opened, closed if closed >= 0 else last.end, leaves)

    def pipeline_item(self, item: n.Stage | n.ExpectConversion) -> _Doc:
        if isinstance(item, n.ExpectConversion):
            text = (
                f"expect conversion {item.source.name} -> {item.target.name}"
                f" {item.op} {_literal(item.value)}"
            )
            return self.leaf(text, item.span)
        header = f"stage {item.name.name}{_label(item.label)}"
        return self.block(header, item.span, (self.stage_item(i) for i in item.items))

    def stage_item(self, item: n.StageItem) -> _Leaf:
        match item:
            case n.Probability():
                text = f"probability {_literal(item.value)}"
            case n.MaxDays():
                text = f"max_days {_literal(item.days)}"
            case n.ExitCriterion():
                text = f"exit {item.name.name}{_label(item.label)}: {format_expr(item.condition)}"
            case n.Action():
                text = f"action {quote(item.text)}"
        return self.leaf(text, item.span)

    def playbook_item(self, item: n.Requirement | n.ExpectWinRate) -> _Leaf:
        if isinstance(item, n.ExpectWinRate):
            text = f"expect win_rate {_literal(item.low)}..{_literal(item.high)}"
        else:
            text = (
                f"{item.kind} {item.name.name}{_label(item.label)}: {format_expr(item.condition)}"
            )
            if item.before is not None:
                text += f" before {item.before.name}"
        return self.leaf(text, item.span)

    def role_item(self, item: n.Mission | n.RoleKpis | n.RolePlans) -> _Leaf:
        if isinstance(item, n.Mission):
            return self.leaf(f"mission {quote(item.text)}", item.span)
        keyword = "kpis" if isinstance(item, n.RoleKpis) else "plan"
        return self.leaf(f"{keyword} {', '.join(i.name for i in item.names)}", item.span)

    def plan_item(self, item: n.PlanItem | n.MeasureItem) -> _Doc:
        match item:
            case n.Effective():
                text = f"effective {item.start.value.isoformat()} to {item.end.value.isoformat()}"
            case n.Communicated():
                text = f"communicated {item.date.value.isoformat()}"
            case n.Period():
                text = f"period {item.unit.name}"
            case n.TargetVariable():
                text = f"target_variable {_number(item.amount)} per {item.per.name}"
            case n.Proration():
                text = f"proration {item.mode.name}"
            case n.Cap():
                text = f"cap {_literal(item.limit)}"
            case n.BudgetGuardrail():
                text = f"budget guardrail {_literal(item.limit)}"
            case n.Pays():
                text = f"pays {item.every.name}"
            case n.TrueUp():
                text = f"true_up {item.policy.name}"
            case n.Draw():
                text = f"draw {_number(item.amount)} {item.kind.name}"
                if item.share is not None:
                    text += f" up to {item.share.raw}"
            case n.Clawback():
                text = f"clawback within {_number(item.days)} days {item.mode.name}"
            case n.Supersedes():
                start = item.start.value.isoformat()
                text = f"supersedes {item.plan.name} from {start} split by {item.split.name}"
            case n.Measure():
                header = f"measure {item.name.name}{_label(item.label)}"
                if item.weight is not None:
                    header += f" weight {_literal(item.weight)}"
                return self.block(header, item.span, (self.plan_item(i) for i in item.items))
            case n.Ramp():
                text = f"ramp {', '.join(_literal(share) for share in item.shares)}"
            case n.Spiff():
                credit = item.credit
                pay = f"{_number(item.amount)} per deal"
                if credit.where is not None:
                    pay += f" where {format_expr(credit.where)}"
                if credit.dated is not None:
                    pay += f" dated {format_expr(credit.dated)}"
                window = item.window
                lines: list[_Doc] = [
                    self.leaf(pay, credit.span),
                    self.leaf(
                        f"from {window.start.value.isoformat()} to {window.end.value.isoformat()}",
                        window.span,
                    ),
                ]
                if item.cap is not None:
                    lines.append(self.plan_item(item.cap))
                header = f"spiff {item.name.name}{_label(item.label)}"
                return self.block(header, item.span, lines)
            case n.Credit():
                value = "count" if item.value is None else format_expr(item.value)
                text = f"credit {value} of {item.source.name}"
                if item.where is not None:
                    text += f" where {format_expr(item.where)}"
                if item.to is not None:
                    text += f" to {item.to.name}"
                if item.dated is not None:
                    text += f" dated {format_expr(item.dated)}"
            case n.QuotaTable():
                text = f"quota {item.measure.name}"
            case n.QuotaFormula():
                text = f"quota formula {format_expr(item.formula)}"
            case n.Commission():
                text = f"commission {_literal(item.rate)}"
            case n.Rates() | n.Steps() | n.Curve():
                return self.table(item)
            case n.Use():
                text = f"{item.kind} {item.name.name}"
            case n.PerUnit():
                text = f"per_unit {_number(item.amount)}"
            case n.Threshold():
                text = f"threshold {_literal(item.level)} {item.mode.name}"
            case n.Accelerator():
                text = f"accelerator {_number(item.factor)} above {_literal(item.above)}"
            case n.Bonus():
                text = (
                    f"bonus {_number(item.amount)} when attainment {item.op} {_literal(item.level)}"
                )
        return self.leaf(text, item.span)

    def table(self, item: n.Rates | n.Steps | n.Curve, name: str = "") -> _Block:
        """A rate table, step table or curve; `name` (with its label) when it is a definition."""
        match item:
            case n.Rates():
                header = f"rates{name}"
                if item.basis is not None:
                    header += f" on {item.basis.name}"
                header += f" method {item.method.name}"
                return self.block(header, item.span, (self.band(b) for b in item.bands))
            case n.Steps():
                return self.block(f"steps{name}", item.span, (self.band(b) for b in item.bands))
        points = (self.curve_point(p) for p in item.points)
        return self.block(f"curve{name}", item.span, points)

    def band(self, band: n.Band) -> _Leaf:
        high = "..." if band.high is None else _literal(band.high)
        text = (
            f"{'[' if band.low_inclusive else '('}{_literal(band.low)}, {high}"
            f"{']' if band.high_inclusive else ')'} {_literal(band.value)}"
        )
        return self.leaf(text, band.span)

    def curve_point(self, point: n.CurveBelow | n.CurveAt | n.CurveSlope) -> _Leaf:
        match point:
            case n.CurveBelow():
                text = f"below {_literal(point.level)} pay {_literal(point.pay)}"
            case n.CurveAt():
                text = f"at {_literal(point.level)} pay {_literal(point.pay)}"
            case n.CurveSlope():
                text = f"slope {_number(point.slope)}"
                if point.until is not None:
                    text += f" to {_literal(point.until)}"
        return self.leaf(text, point.span)


def _type(spec: n.TypeSpec) -> str:
    if spec.name == "one_of":
        return "one_of " + ", ".join(f"{o.name.name}{_label(o.label)}" for o in spec.options)
    return spec.name + (f" {_collection(spec.range)}" if spec.range is not None else "")


def _condition(condition: n.Expr | None) -> str:
    return "otherwise" if condition is None else f"when {format_expr(condition)}"


def _case(case: n.Case) -> str:
    if isinstance(case, n.ValueCase):
        return f"{case.value.name} -> {_number(case.points)}"
    if isinstance(case, n.WhenCase):
        return f"when {format_expr(case.condition)} -> {_number(case.points)}"
    return f"otherwise -> {_number(case.points)}"


def _status(rule: n.StatusRule) -> str:
    text = f"{'knockout ' if rule.knockout else ''}{rule.name.name}{_label(rule.label)}"
    return f"{text} {_condition(rule.condition)}"


# ----------------------------------------------------------------------------- lines and comments
@dataclass(slots=True)
class _Line:
    """An output line; `trailing` comments go at its end, `closing` marks a `}`."""

    indent: int
    text: str
    trailing: list[str] = field(default_factory=list)
    comment: bool = False
    closing: bool = False


_BLANK_LINE = re.compile(r"\n[ \t\r\f\v]*\n")


class _Layout:
    """Lays the tree out line by line, placing each comment by its offset in the source."""

    def __init__(self, text: str, comments: Iterable[n.Comment]) -> None:
        self.text = text
        self.comments = deque(sorted(comments, key=lambda c: c.span.start))
        self.lines: list[_Line] = []
        self.last_end = 0  # where the last thing emitted ends in the source
        self.block_start = True  # no blank line right after `{` (or at the top of the file)
        self.force_blank = False  # a blank line between top-level declarations

    # placing --------------------------------------------------------------------------
    def declaration(self, doc: _Doc) -> None:
        self.force_blank = bool(self.lines)
        self.doc(doc, 0)

    def doc(self, doc: _Doc, indent: int) -> None:
        if isinstance(doc, _Leaf):
            self.leaf(doc.text, doc.start, doc.end, indent)
            return
        end = doc.close + 1
        if (
            doc.flat is not None
            and indent + len(doc.flat) <= MAX_LINE
            and not self.has_comment(doc.open, doc.close)
        ):
            self.leaf(doc.flat, doc.start, end, indent)
            return
        if not doc.children and not self.has_comment(doc.open, doc.close):
            self.leaf(doc.header + " {}", doc.start, end, indent)
            return
        self.leaf(doc.header + " {", doc.start, doc.open, indent)
        self.block_start = True
        for child in doc.children:
            self.doc(child, indent + INDENT)
        self.take_before(doc.close, indent + INDENT)
        self.lines.append(_Line(indent, "}", closing=True))
        self.block_start = False
        self.last_end = max(self.last_end, end)

    def leaf(self, text: str, start: int, end: int, indent: int) -> None:
        self.take_before(start, indent)
        # Comments inside a construct that now fits on one line: those after code go to the
        # end of the line, unless an own-line comment follows them; then all go above, in order.
        after: list[n.Comment] = []
        while self.comments and self.comments[0].span.start < end:
            comment = self.comments.popleft()
            if self.after_code(comment):
                after.append(comment)
                continue
            for earlier in [*after, comment]:
                self.own_line(earlier, indent)
            after.clear()
        self.emit(_Line(indent, text, [c.text for c in after]), start)
        self.last_end = max(self.last_end, end, *(c.span.end for c in after))

    def finish(self) -> str:
        self.take_before(len(self.text) + 1, 0)
        out: list[str] = []
        for line in self.lines:
            if not line.text:
                out.append("")
                continue
            extra, last = line.trailing[:-1], line.trailing[-1:]
            above = " " * (line.indent + (INDENT if line.closing else 0))
            out.extend(above + comment for comment in extra)
            out.append(" " * line.indent + line.text + "".join("  " + c for c in last))
        return "\n".join(out) + "\n" if out else ""

    # comments -------------------------------------------------------------------------
    def take_before(self, offset: int, indent: int) -> None:
        """Place every comment that starts before offset."""
        while self.comments and self.comments[0].span.start < offset:
            comment = self.comments.popleft()
            previous = self.lines[-1] if self.lines else None
            if self.after_code(comment) and previous is not None and not previous.comment:
                previous.trailing.append(comment.text)
                self.last_end = max(self.last_end, comment.span.end)
            else:
                self.own_line(comment, indent)

    def own_line(self, comment: n.Comment, indent: int) -> None:
        self.emit(_Line(indent, comment.text, comment=True), comment.span.start)
        self.last_end = max(self.last_end, comment.span.end)

    def emit(self, line: _Line, start: int) -> None:
        gap = self.text[self.last_end : start] if start > self.last_end else ""
        blank = self.force_blank or (not self.block_start and _BLANK_LINE.search(gap) is not None)
        if blank and self.lines:
            self.lines.append(_Line(0, ""))
        self.lines.append(line)
        self.force_blank = self.block_start = False

    def after_code(self, comment: n.Comment) -> bool:
        """Whether code precedes the comment on its line."""
        line_start = self.text.rfind("\n", 0, comment.span.start) + 1
        return bool(self.text[line_start : comment.span.start].strip())

    def has_comment(self, start: int, end: int) -> bool:
        """Whether a comment not yet placed starts in [start, end)."""
        for comment in self.comments:  # sorted: stop at the first past the range
            if comment.span.start >= end:
                return False
            if comment.span.start >= start:
                return True
        return False


# ----------------------------------------------------------------------------- public API
def format_module(parsed: ParsedFile) -> str:
    """The canonical text of a parsed file, its comments kept; '' for an empty file."""
    if parsed.module is None:
        raise ValueError(f"{parsed.source.path} did not parse; format only a parsed file")
    builder = _Builder(parsed.source.text)
    layout = _Layout(parsed.source.text, parsed.comments)
    for declaration in parsed.module.declarations:
        layout.declaration(builder.declaration(declaration))
    return layout.finish()


@dataclass(frozen=True, slots=True)
class FormatResult:
    """The formatted text, or None with the diagnostics that stopped the formatter."""

    output: str | None
    diagnostics: tuple[Diagnostic, ...]


def format_text(text: str, path: str = "<input>") -> FormatResult:
    """Parse, format, and re-parse the output; refuse (E901) if meaning or a comment was lost."""
    parsed = parse(SourceFile(path, text))
    if parsed.module is None:
        return FormatResult(None, parsed.diagnostics)
    output = format_module(parsed)
    problem = _soundness(parsed, output)
    if problem is not None:
        return FormatResult(None, (problem,))
    return FormatResult(output, parsed.diagnostics)


_HELP_E901 = "this is a formatter bug; the file is left as it is. Please report it with the file"


def _soundness(parsed: ParsedFile, output: str) -> Diagnostic | None:
    """A diagnostic when `output` does not mean what the parsed file means, else None."""
    assert parsed.module is not None
    source = parsed.source
    again = parse(SourceFile(source.path, output))
    if again.module is None:
        first = again.diagnostics[0].message if again.diagnostics else "no detail"
        return Diagnostic(
            "E901",
            f"formatter would change the meaning: its output does not parse ({first})",
            source.span(0, 0),
            help=_HELP_E901,
        )
    old, new = parsed.module.declarations, again.module.declarations
    for index, declaration in enumerate(old):
        if index >= len(new) or new[index] != declaration:
            return Diagnostic(
                "E901",
                f"formatter would change the meaning of {describe(declaration)}",
                declaration.span,
                help=_HELP_E901,
            )
    if len(new) > len(old):
        return Diagnostic(
            "E901",
            f"formatter would add {describe(new[len(old)])}",
            source.span(len(source.text), len(source.text)),
            help=_HELP_E901,
        )
    lost = Counter(c.text for c in parsed.comments) - Counter(c.text for c in again.comments)
    for comment in parsed.comments:
        if lost[comment.text] > 0:
            return Diagnostic(
                "E901",
                f"formatter would lose the comment `{comment.text}`",
                comment.span,
                help=_HELP_E901,
            )
    return None


def describe(declaration: n.Declaration) -> str:
    """How a message names a declaration: `score bmanter`, `the strategy`, `qualify deal`."""
    kind = type(declaration).__name__.lower()
    if isinstance(declaration, n.Strategy):
        return "the strategy" + _label(declaration.label)
    if isinstance(declaration, n.Qualify):
        return f"`qualify {declaration.subject.name}`"
    if isinstance(declaration, n.Override):
        return describe(declaration.declaration)
    if isinstance(declaration, n.Definition):
        kind = declaration.kind
    return f"`{kind} {declaration.name.name}`"


def _alone(node: object) -> _Doc | str:
    """How the formatter lays out a node on its own (no source, no comments); a string for a
    node that is always one line and has no layout of its own."""
    builder = _Builder("")
    match node:
        case str():
            return quote(node)
        case n.Ident():
            return node.name
        case n.Number() | n.Percent() | n.Duration():
            return _literal(node)
        case n.ValueCase() | n.WhenCase() | n.OtherwiseCase():
            return _case(node)
        case n.StatusRule():
            return _status(node)
        case n.Route():
            return f"use {node.score.name} {_condition(node.condition)}"
        case n.Field():
            return f"{node.name.name} {_type(node.type)}"
        case n.Option():
            return f"{node.name.name}{_label(node.label)}"
        case n.Target():
            return f"target {node.op} {_literal(node.value)}"
        case n.Rounding():
            return f"rounding {node.mode.name} {_number(node.step)}"
        case n.TypeSpec():
            return _type(node)
        case n.TemplatePath():
            return quote(node.path)
        case n.Band():
            return builder.band(node)
        case n.CurveBelow() | n.CurveAt() | n.CurveSlope():
            return builder.curve_point(node)
        case (
            n.StrategyTarget()
            | n.StrategyGrowth()
            | n.StrategyFocus()
            | n.StrategyChannel()
            | n.StrategyTolerance()
        ):
            return builder.strategy_item(node)
        case n.Stage() | n.ExpectConversion():
            return builder.pipeline_item(node)
        case n.Probability() | n.MaxDays() | n.ExitCriterion() | n.Action():
            return builder.stage_item(node)
        case n.Criterion() | n.FieldCriterion():
            return builder.criterion(node)
        case n.Requirement() | n.ExpectWinRate():
            return builder.playbook_item(node)
        case n.Mission() | n.RoleKpis() | n.RolePlans():
            return builder.role_item(node)
        case (
            n.Effective() | n.Communicated() | n.Period() | n.TargetVariable() | n.Proration()
            | n.Pays() | n.TrueUp() | n.Draw() | n.Clawback() | n.Supersedes()
            | n.Cap() | n.BudgetGuardrail() | n.Measure() | n.Credit() | n.QuotaTable()
            | n.QuotaFormula() | n.Commission() | n.Rates() | n.Steps() | n.Curve() | n.Use()
            | n.PerUnit() | n.Threshold() | n.Accelerator() | n.Bonus() | n.Ramp() | n.Spiff()
        ):  # fmt: skip
            return builder.plan_item(node)
        case (
            n.Ruleset() | n.Record() | n.Strategy() | n.Score() | n.Qualify() | n.Pipeline()
            | n.Playbook() | n.Kpi() | n.Role() | n.Plan() | n.Alert() | n.Ritual()
            | n.Definition() | n.NamedExpression() | n.Override()
        ):  # fmt: skip
            return builder.declaration(node)
        case _ if isinstance(node, n.Expr):
            return format_expr(node)
    return type(node).__name__.lower()  # a node without a line of its own: its kind


def one_line(node: object) -> str:
    """A node as the formatter writes it, on one line (a block: its header line), for messages
    that name a stage, a band or a rate in the ruleset's own words (`koncept diff`)."""
    doc = _alone(node)
    if isinstance(doc, str):
        return doc
    return doc.text if isinstance(doc, _Leaf) else doc.header


def node_text(node: object) -> str:
    """A node as the formatter writes it, alone and without comments (several lines for a
    block): how `koncept check --deviations` shows a template's and a client's version."""
    if isinstance(node, tuple):
        return "\n".join(node_text(item) for item in node)
    doc = _alone(node)
    if isinstance(doc, str):
        return doc
    layout = _Layout("", ())
    layout.declaration(doc)
    return layout.finish().rstrip("\n")
