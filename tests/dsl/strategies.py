"""Hypothesis strategies for valid rulesets: typed ASTs, and messy texts that parse to them.

`modules()` builds random `dsl.nodes.Module`s with every kind of declaration; `ruleset_texts()`
renders one with random spacing, line breaks, optional commas, redundant parentheses and
comments, and gives back (module, text, comments) so a test can check what the parser and the
formatter make of it. Nodes are built the way the parser builds them (a negative number in an
expression is `Unary("-", Number)`, `and`/`or` chains fold to the left) so `==` can compare.
"""

from __future__ import annotations

import datetime as dt
import random
import re
from decimal import Decimal
from pathlib import Path
from typing import TypeVar

from hypothesis import strategies as st

from dsl import nodes as n

T = TypeVar("T")
GRAMMAR = Path(__file__).resolve().parents[2] / "dsl" / "grammar.lark"

SCALAR_TYPES = ("text", "number", "integer", "money", "percent", "boolean", "date")
CURRENCIES = ("EUR", "USD", "GBP", "CHF", "€", "$", "£")
COMPARISONS = ("==", "!=", "<", "<=", ">", ">=")
BINARY_OPS = ("or", "and", *COMPARISONS, "+", "-", "*", "/")
FUNCTIONS = ("count", "sum", "mean", "median", "ratio", "reached", "days_since")
#: Words that are keywords somewhere (the contextual lexer may take them as such) or literals.
RESERVED = frozenset(re.findall(r'"([a-z_]+)"', GRAMMAR.read_text(encoding="utf-8"))) | {
    *SCALAR_TYPES, "true", "false", "count", "one_of",
}  # fmt: skip

# ----------------------------------------------------------------------------- names and literals
names = st.from_regex(r"[a-z][a-z0-9_]{0,7}", fullmatch=True).filter(lambda s: s not in RESERVED)
idents = st.one_of(names, st.sampled_from(("AE", "SDR", "SQL", "MQL"))).map(n.Ident)
#: UTF-8 labels, French included, with quotes, backslashes, tabs and newlines to escape.
labels = st.text(
    st.one_of(
        st.characters(codec="utf-8", exclude_categories=("Cc", "Cs")),
        st.sampled_from('"\\\n\téèàçÉ«»’–€ '),
    ),
    max_size=12,
)
optional_labels = st.none() | labels


@st.composite
def _digits(draw: st.DrawFn) -> str:
    whole = draw(st.integers(0, 99_999))
    text = f"{whole:_}" if whole >= 1000 and draw(st.booleans()) else str(whole)
    if draw(st.booleans()):
        text += "." + draw(st.from_regex(r"[0-9]{1,3}", fullmatch=True))
    return text


@st.composite
def numbers(
    draw: st.DrawFn, *, currency: bool = True, signed: bool = False, suffix: bool = True
) -> n.Number:
    """A number as written: `40_000`, `1.5M`, `50K EUR`, `-3` (where a sign is allowed)."""
    digits = draw(_digits())
    value = Decimal(digits.replace("_", ""))
    if suffix and draw(st.booleans()):
        letter = draw(st.sampled_from("KM"))
        digits += letter
        value *= 1000 if letter == "K" else 1_000_000
    if signed and draw(st.booleans()):
        digits, value = "-" + digits, -value
    unit = draw(st.none() | st.sampled_from(CURRENCIES)) if currency else None
    return n.Number(value, digits + (f" {unit}" if unit else ""), unit)


@st.composite
def percents(draw: st.DrawFn) -> n.Percent:
    """A percentage: `80%`, `12.5%`, `1_000%`."""
    digits = draw(_digits())
    return n.Percent(Decimal(digits.replace("_", "")) / 100, digits + "%")


@st.composite
def durations(draw: st.DrawFn) -> n.Duration:
    """`14d` or `2w`."""
    count, unit = draw(st.integers(0, 400)), draw(st.sampled_from("dw"))
    return n.Duration(count * (7 if unit == "w" else 1), f"{count}{unit}")


dates = st.dates(dt.date(2000, 1, 1), dt.date(2099, 12, 31)).map(n.Date)
plain_numbers = numbers(currency=False)  # where the grammar takes a bare NUMBER
signed_numbers = numbers(currency=False, signed=True, suffix=True)
ranges = st.builds(n.RangeExpr, signed_numbers, signed_numbers)


def _tuples(
    elements: st.SearchStrategy[T], max_size: int = 3, min_size: int = 0
) -> st.SearchStrategy[tuple[T, ...]]:
    return st.lists(elements, min_size=min_size, max_size=max_size).map(tuple)


# ----------------------------------------------------------------------------- expressions
_atoms: st.SearchStrategy[n.Expr] = st.one_of(
    numbers(),
    percents(),
    durations(),
    dates,
    labels.map(n.String),
    st.booleans().map(n.Bool),
    st.lists(names, min_size=1, max_size=2).map(lambda parts: n.Ref(tuple(parts))),
)


def _compound(children: st.SearchStrategy[n.Expr]) -> st.SearchStrategy[n.Expr]:
    lists = _tuples(children).map(n.ListExpr)
    return st.one_of(
        st.builds(n.Binary, st.sampled_from(BINARY_OPS), children, children),
        st.builds(n.Unary, st.sampled_from(("not", "-")), children),
        st.builds(n.Membership, children, lists | ranges, st.booleans()),
        st.builds(n.IsMissing, children, st.booleans()),
        st.builds(n.Call, st.sampled_from(FUNCTIONS), _tuples(children, 2), st.none() | children),
        lists,
    )


expressions: st.SearchStrategy[n.Expr] = st.recursive(_atoms, _compound, max_leaves=8)
optional_expressions = st.none() | expressions

# ----------------------------------------------------------------------------- declarations
rulesets = st.builds(
    n.Ruleset,
    idents,
    optional_labels,
    st.none() | st.sampled_from(("EUR", "USD", "CHF")).map(n.Ident),
    st.none()
    | st.builds(
        n.Rounding, st.sampled_from(("half_up", "half_even", "down")).map(n.Ident), plain_numbers
    ),
)
_options = st.builds(n.Option, idents, optional_labels)
_types = st.one_of(
    st.builds(n.TypeSpec, st.sampled_from(SCALAR_TYPES), st.just(()), st.none() | ranges),
    st.builds(n.TypeSpec, st.just("one_of"), _tuples(_options, 3, 1)),
)
records = st.builds(n.Record, idents, _tuples(st.builds(n.Field, idents, _types), 4))
strategies = st.builds(
    n.Strategy,
    optional_labels,
    _tuples(
        st.one_of(
            st.builds(n.StrategyTarget, idents, numbers(), numbers()),
            st.builds(n.StrategyGrowth, idents, percents(), expressions),
            st.builds(n.StrategyFocus, expressions),
            st.builds(n.StrategyChannel, idents, percents()),
        ),
        4,
    ),
)
_cases = st.one_of(
    st.builds(n.ValueCase, idents, signed_numbers),
    st.builds(n.WhenCase, expressions, signed_numbers),
    st.builds(n.OtherwiseCase, signed_numbers),
)
_criteria = st.one_of(
    st.builds(n.Criterion, idents, optional_labels, st.none() | idents, _tuples(_cases, 4)),
    st.builds(n.FieldCriterion, idents, optional_labels, idents),
)
_statuses = st.one_of(
    st.builds(n.StatusRule, idents, optional_labels, expressions, st.just(True)),
    st.builds(n.StatusRule, idents, optional_labels, optional_expressions, st.just(False)),
)
scores = st.builds(
    n.Score,
    idents,
    optional_labels,
    idents,
    st.none() | numbers(currency=False, suffix=False),
    _tuples(_criteria, 3),
    _tuples(_statuses, 3),
)
qualifies = st.builds(n.Qualify, idents, _tuples(st.builds(n.Route, idents, optional_expressions)))
_stage_items = st.one_of(
    st.builds(n.Probability, percents()),
    st.builds(n.MaxDays, durations() | plain_numbers),
    st.builds(n.ExitCriterion, idents, optional_labels, expressions),
    st.builds(n.Action, labels),
)
pipelines = st.builds(
    n.Pipeline,
    idents,
    optional_labels,
    idents,
    _tuples(
        st.one_of(
            st.builds(n.Stage, idents, optional_labels, _tuples(_stage_items, 4)),
            st.builds(n.ExpectConversion, idents, idents, st.sampled_from(COMPARISONS), percents()),
        )
    ),
)
playbooks = st.builds(
    n.Playbook,
    idents,
    optional_labels,
    idents,
    optional_expressions,
    _tuples(
        st.one_of(
            st.builds(
                n.Requirement,
                st.sampled_from(("require", "recommend")),
                idents,
                optional_labels,
                expressions,
                st.none() | idents,
            ),
            st.builds(n.ExpectWinRate, percents(), percents()),
        )
    ),
)
kpis = st.builds(
    n.Kpi,
    idents,
    optional_labels,
    st.none() | idents,
    idents,
    expressions,
    st.none()
    | st.builds(n.Target, st.sampled_from(COMPARISONS), numbers() | percents() | durations()),
)
roles = st.builds(
    n.Role,
    idents,
    optional_labels,
    _tuples(
        st.one_of(
            st.builds(n.Mission, labels),
            st.builds(n.RoleKpis, _tuples(idents, 3, 1)),
            st.builds(n.RolePlans, _tuples(idents, 3, 1)),
        )
    ),
)
_limits = numbers() | percents()
_bands = st.builds(n.Band, _limits, st.none() | _limits, percents(), st.booleans(), st.booleans())
_measure_items = st.one_of(
    st.builds(
        n.Credit,
        optional_expressions,
        idents,
        optional_expressions,
        st.none() | idents,
        optional_expressions,
    ),
    st.builds(n.QuotaTable, idents),
    st.builds(n.QuotaFormula, expressions),
    st.builds(n.Commission, percents()),
    st.builds(n.Rates, st.none() | idents, idents, _tuples(_bands)),
    st.builds(n.Steps, _tuples(_bands)),
    st.builds(
        n.Curve,
        _tuples(
            st.one_of(
                st.builds(n.CurveBelow, percents(), percents()),
                st.builds(n.CurveAt, percents(), percents()),
                st.builds(n.CurveSlope, signed_numbers, st.none() | percents()),
            )
        ),
    ),
    st.builds(n.PerUnit, numbers()),
    st.builds(n.Threshold, percents(), st.sampled_from(("gate", "floor")).map(n.Ident)),
    st.builds(n.Accelerator, signed_numbers, percents()),
    st.builds(n.Cap, _limits),
    st.builds(n.Bonus, numbers(), st.sampled_from(COMPARISONS), percents()),
)
plans = st.builds(
    n.Plan,
    idents,
    optional_labels,
    idents,
    _tuples(
        st.one_of(
            st.builds(n.Effective, dates, dates),
            st.builds(n.Communicated, dates),
            st.builds(n.Period, idents),
            st.builds(n.TargetVariable, numbers(), idents),
            st.builds(n.Proration, idents),
            st.builds(n.Cap, _limits),
            st.builds(n.BudgetGuardrail, _limits),
            st.builds(
                n.Measure,
                idents,
                optional_labels,
                st.none() | percents(),
                _tuples(_measure_items, 4),
            ),
        ),
        4,
    ),
)
alerts = st.builds(n.Alert, idents, optional_labels, idents, expressions, st.none() | idents)
rituals = st.builds(n.Ritual, idents, optional_labels, idents, _tuples(idents, 4))

declarations: st.SearchStrategy[n.Declaration] = st.one_of(
    rulesets, records, strategies, scores, qualifies, pipelines, playbooks, kpis, roles, plans,
    alerts, rituals,
)  # fmt: skip


def modules(max_declarations: int = 5) -> st.SearchStrategy[n.Module]:
    """Random modules with up to `max_declarations` declarations of any kind."""
    return _tuples(declarations, max_declarations).map(lambda ds: n.Module("<generated>", ds))


# ----------------------------------------------------------------------------- messy text
_COMMENTS = (
    "# note",
    "#",
    "#no space",
    '# « détail » "quoted" \\ back',
    "# { not a brace } [ ( status",
    "# when x -> 5",
)
_GAPS = (" ", " ", " ", "  ", "\n", "\n  ", "\n\n", "\t", " \r\n ", "\n\n\n    ")
_PRECEDENCE = {"or": 1, "and": 2, **dict.fromkeys(COMPARISONS, 4), "+": 5, "-": 5, "*": 6, "/": 6}


class _Messy:
    """Renders nodes as tokens, then joins them with random gaps and comments."""

    def __init__(self, rnd: random.Random) -> None:
        self.rnd = rnd
        self.comments: list[str] = []

    def chance(self, p: float) -> bool:
        return self.rnd.random() < p

    def join(self, tokens: list[str]) -> str:
        out = [self.gap()]
        for token in tokens:
            out += [token, self.gap()]
        return "".join(out)

    def gap(self) -> str:
        if self.chance(0.08):
            comment = self.rnd.choice(_COMMENTS)
            self.comments.append(comment)
            return self.rnd.choice(("", " ", "   ", "\n")) + comment + "\n" + self.rnd.choice(_GAPS)
        return self.rnd.choice(_GAPS)

    # literals ----------------------------------------------------------------------------
    def label(self, label: str | None) -> list[str]:
        if label is None:
            return []
        body = label.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
        if self.chance(0.5):
            body = body.replace("\t", "\\t")
        return ['"' + body + '"']

    def number(self, number: n.Number) -> list[str]:
        digits = number.raw.split(" ")[0]
        if number.currency is None:
            return [digits]
        if number.currency in "€$£" and self.chance(0.5):
            return [digits + number.currency]
        return [digits, number.currency]

    def literal(self, value: n.Number | n.Percent | n.Duration) -> list[str]:
        return self.number(value) if isinstance(value, n.Number) else [value.raw]

    def items(self, groups: list[list[str]], commas: bool = True) -> list[str]:
        tokens: list[str] = []
        for group in groups:
            tokens += group
            # After `kpis a, b` or `show a` a comma would start another name, not a separator.
            listed = group[0] in ("kpis", "plan", "show")
            if commas and not listed and self.chance(0.3):
                tokens.append(",")
        return tokens

    def block(self, header: list[str], groups: list[list[str]], commas: bool = True) -> list[str]:
        return [*header, "{", *self.items(groups, commas), "}"]

    def listed(self, parts: list[list[str]]) -> list[str]:
        tokens: list[str] = []
        for index, part in enumerate(parts):
            tokens += ([","] if index else []) + part
        return tokens

    # expressions -------------------------------------------------------------------------
    def expr(self, expr: n.Expr, minimum: int = 1) -> list[str]:
        tokens, level = self.bare(expr)
        if level < minimum or self.chance(0.1):
            return ["(", *tokens, ")"]
        return tokens

    def bare(self, expr: n.Expr) -> tuple[list[str], int]:
        match expr:
            case n.Binary(op, left, right):
                level = _PRECEDENCE[op]
                lhs = self.expr(left, 5 if level == 4 else level)
                return [*lhs, op, *self.expr(right, 5 if level == 4 else level + 1)], level
            case n.Unary("not", operand):
                return ["not", *self.expr(operand, 3)], 3
            case n.Unary(_, operand):
                return ["-", *self.expr(operand, 7)], 7
            case n.Membership(value, collection, negated):
                keyword = ["not", "in"] if negated else ["in"]
                return [*self.expr(value, 5), *keyword, *self.collection(collection)], 4
            case n.IsMissing(value, negated):
                keyword = ["is", "not", "missing"] if negated else ["is", "missing"]
                return [*self.expr(value, 5), *keyword], 4
            case n.Call(function, args, where):
                tokens = [function + "(", *self.listed([self.expr(a) for a in args])]
                if where is not None:
                    tokens += ["where", *self.expr(where)]
                return [*tokens, ")"], 8
            case n.ListExpr() | n.RangeExpr():
                return self.collection(expr), 8
            case n.Ref(parts):
                return [".".join(parts)], 8
            case n.String(value):
                return self.label(value), 8
            case n.Bool(value):
                return ["true" if value else "false"], 8
            case n.Date(value):
                return [value.isoformat()], 8
            case n.Number() | n.Percent() | n.Duration():
                return self.literal(expr), 8
        raise TypeError(expr)

    def collection(self, collection: n.ListExpr | n.RangeExpr) -> list[str]:
        if isinstance(collection, n.RangeExpr):
            return [*self.number(collection.low), "..", *self.number(collection.high)]
        return ["[", *self.listed([self.expr(i) for i in collection.items]), "]"]

    def when(self, condition: n.Expr | None) -> list[str]:
        return ["otherwise"] if condition is None else ["when", *self.expr(condition)]

    # declarations ------------------------------------------------------------------------
    def declaration(self, d: n.Declaration) -> list[str]:
        named = [d.name.name, *self.label(getattr(d, "label", None))] if hasattr(d, "name") else []
        match d:
            case n.Ruleset():
                settings = []
                if d.currency is not None:
                    settings.append(["currency", d.currency.name])
                if d.rounding is not None:
                    settings.append(["rounding", d.rounding.mode.name, d.rounding.step.raw])
                self.rnd.shuffle(settings)
                return self.block(["ruleset", *named], settings)
            case n.Record():
                fields = [[f.name.name, *self.type_spec(f.type)] for f in d.fields]
                return self.block(["record", d.name.name], fields, commas=False)
            case n.Strategy():
                return self.block(
                    ["strategy", *self.label(d.label)], [self.strategy_item(i) for i in d.items]
                )
            case n.Score():
                head = ["score", *named, "on", d.subject.name]
                if d.max is not None:
                    head += ["max", d.max.raw]
                body = [self.criterion(c) for c in d.criteria]
                statuses = [self.status(s) for s in d.statuses]
                if statuses or self.chance(0.1):
                    body.append(self.block(["status"], statuses))
                return self.block(head, body, commas=False)
            case n.Qualify():
                routes = [["use", r.score.name, *self.when(r.condition)] for r in d.routes]
                return self.block(["qualify", d.subject.name], routes)
            case n.Pipeline():
                items = [self.pipeline_item(i) for i in d.items]
                return self.block(["pipeline", *named, "on", d.subject.name], items)
            case n.Playbook():
                head = ["playbook", *named, "on", d.subject.name]
                if d.condition is not None:
                    head += ["when", *self.expr(d.condition)]
                return self.block(head, [self.playbook_item(i) for i in d.items])
            case n.Kpi():
                tokens = ["kpi", *named]
                if d.family is not None:
                    tokens += ["family", d.family.name]
                tokens += ["on", d.subject.name, "=", *self.expr(d.value)]
                if d.target is not None:
                    tokens += ["target", d.target.op, *self.literal(d.target.value)]
                return tokens
            case n.Role():
                return self.block(["role", *named], [self.role_item(i) for i in d.items])
            case n.Plan():
                items = [self.plan_item(i) for i in d.items]
                return self.block(["plan", *named, "for", d.role.name], items)
            case n.Alert():
                tokens = ["alert", *named, "on", d.subject.name, "when", *self.expr(d.condition)]
                return tokens + (["severity", d.severity.name] if d.severity else [])
            case n.Ritual():
                groups: list[list[str]] = []
                for ident in d.shows:  # one `show` per group, groups of random size
                    if groups and self.chance(0.6):
                        groups[-1] += [",", ident.name]
                    else:
                        groups.append(["show", ident.name])
                return self.block(["ritual", *named, "every", d.every.name], groups)
        raise TypeError(d)

    def type_spec(self, spec: n.TypeSpec) -> list[str]:
        if spec.name == "one_of":
            options = [[o.name.name, *self.label(o.label)] for o in spec.options]
            return ["one_of", *self.listed(options)]
        return [spec.name, *(self.collection(spec.range) if spec.range else [])]

    def strategy_item(self, item: n.StrategyItem) -> list[str]:
        match item:
            case n.StrategyTarget(measure, target, baseline):
                return [
                    "target",
                    measure.name,
                    *self.number(target),
                    "from",
                    *self.number(baseline),
                ]
            case n.StrategyGrowth(name, share, condition):
                return ["growth", name.name, share.raw, "when", *self.expr(condition)]
            case n.StrategyFocus(condition):
                return ["focus", *self.expr(condition)]
            case n.StrategyChannel(name, share):
                return ["channel", name.name, share.raw]
        raise TypeError(item)

    def criterion(self, c: n.Criterion | n.FieldCriterion) -> list[str]:
        head = [c.name.name, *self.label(c.label)]
        if isinstance(c, n.FieldCriterion):
            return [*head, "->", c.field.name]
        if c.of is not None:
            head += ["of", c.of.name]
        cases: list[list[str]] = []
        for case in c.cases:
            if isinstance(case, n.ValueCase):
                cases.append([case.value.name, "->", case.points.raw])
            elif isinstance(case, n.WhenCase):
                cases.append(["when", *self.expr(case.condition), "->", case.points.raw])
            else:
                cases.append(["otherwise", "->", case.points.raw])
        return self.block(head, cases)

    def status(self, rule: n.StatusRule) -> list[str]:
        head = [rule.name.name, *self.label(rule.label)]
        return (["knockout"] if rule.knockout else []) + head + self.when(rule.condition)

    def pipeline_item(self, item: n.Stage | n.ExpectConversion) -> list[str]:
        if isinstance(item, n.ExpectConversion):
            return [
                "expect", "conversion", item.source.name, "->", item.target.name, item.op,
                item.value.raw,
            ]  # fmt: skip
        groups: list[list[str]] = []
        for i in item.items:
            match i:
                case n.Probability(value):
                    groups.append(["probability", value.raw])
                case n.MaxDays(days):
                    groups.append(["max_days", days.raw])
                case n.ExitCriterion(name, label, condition):
                    groups.append(
                        ["exit", name.name, *self.label(label), ":", *self.expr(condition)]
                    )
                case n.Action(text):
                    groups.append(["action", *self.label(text)])
        return self.block(["stage", item.name.name, *self.label(item.label)], groups)

    def playbook_item(self, item: n.Requirement | n.ExpectWinRate) -> list[str]:
        if isinstance(item, n.ExpectWinRate):
            return ["expect", "win_rate", item.low.raw, "..", item.high.raw]
        tokens = [
            item.kind,
            item.name.name,
            *self.label(item.label),
            ":",
            *self.expr(item.condition),
        ]
        return tokens + (["before", item.before.name] if item.before else [])

    def role_item(self, item: n.Mission | n.RoleKpis | n.RolePlans) -> list[str]:
        if isinstance(item, n.Mission):
            return ["mission", *self.label(item.text)]
        keyword = "kpis" if isinstance(item, n.RoleKpis) else "plan"
        return [keyword, *self.listed([[i.name] for i in item.names])]

    def band(self, band: n.Band) -> list[str]:
        high = ["..."] if band.high is None else self.literal(band.high)
        return [
            "[" if band.low_inclusive else "(", *self.literal(band.low), ",", *high,
            "]" if band.high_inclusive else ")", band.value.raw,
        ]  # fmt: skip

    def plan_item(self, item: n.PlanItem | n.MeasureItem) -> list[str]:
        match item:
            case n.Effective(start, end):
                return ["effective", start.value.isoformat(), "to", end.value.isoformat()]
            case n.Communicated(date):
                return ["communicated", date.value.isoformat()]
            case n.Period(unit):
                return ["period", unit.name]
            case n.TargetVariable(amount, per):
                return ["target_variable", *self.number(amount), "per", per.name]
            case n.Proration(mode):
                return ["proration", mode.name]
            case n.Cap(limit):
                return ["cap", *self.literal(limit)]
            case n.BudgetGuardrail(limit):
                return ["budget", "guardrail", *self.literal(limit)]
            case n.Measure(name, label, weight, items):
                head = ["measure", name.name, *self.label(label)]
                head += ["weight", weight.raw] if weight else []
                return self.block(head, [self.plan_item(i) for i in items])
            case n.Credit(value, source, where, to, dated):
                tokens = ["credit", *(["count"] if value is None else self.expr(value))]
                tokens += ["of", source.name]
                tokens += ["where", *self.expr(where)] if where is not None else []
                tokens += ["to", to.name] if to is not None else []
                return tokens + (["dated", *self.expr(dated)] if dated is not None else [])
            case n.QuotaTable(measure):
                return ["quota", measure.name]
            case n.QuotaFormula(formula):
                return ["quota", "formula", *self.expr(formula)]
            case n.Commission(rate):
                return ["commission", rate.raw]
            case n.Rates(basis, method, bands):
                head = ["rates", *(["on", basis.name] if basis else []), "method", method.name]
                return self.block(head, [self.band(b) for b in bands])
            case n.Steps(bands):
                return self.block(["steps"], [self.band(b) for b in bands])
            case n.Curve(points):
                groups: list[list[str]] = []
                for p in points:
                    if isinstance(p, n.CurveBelow):
                        groups.append(["below", p.level.raw, "pay", p.pay.raw])
                    elif isinstance(p, n.CurveAt):
                        groups.append(["at", p.level.raw, "pay", p.pay.raw])
                    else:
                        until = ["to", p.until.raw] if p.until else []
                        groups.append(["slope", p.slope.raw, *until])
                return self.block(["curve"], groups)
            case n.PerUnit(amount):
                return ["per_unit", *self.number(amount)]
            case n.Threshold(level, mode):
                return ["threshold", level.raw, mode.name]
            case n.Accelerator(factor, above):
                return ["accelerator", factor.raw, "above", above.raw]
            case n.Bonus(amount, op, level):
                return ["bonus", *self.number(amount), "when", "attainment", op, level.raw]
        raise TypeError(item)


def render_messy(module: n.Module, rnd: random.Random) -> tuple[str, list[str]]:
    """The module as a valid but untidy text, and the comments put in it, in order."""
    messy = _Messy(rnd)
    tokens = [token for d in module.declarations for token in messy.declaration(d)]
    return messy.join(tokens), messy.comments


@st.composite
def ruleset_texts(draw: st.DrawFn, max_declarations: int = 4) -> tuple[n.Module, str, list[str]]:
    """(module, messy text that parses to it, the comments in the text)."""
    module = draw(modules(max_declarations))
    text, comments = render_messy(module, draw(st.randoms(use_true_random=False)))
    return module, text, comments
