"""The IR both evaluators run: typed, resolved expression nodes and the declarations built on
them, produced by `engine.compiler` from a checked ruleset.

Representation, decided by the compiler once (see its docstring for the semantics): every node
has a `kind` (KINDS) and, for exact numbers, a `scale` (the value is an integer of units of
10**-scale on the table path: money is cents).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from dsl.types import NUMBER, FieldType

#: Expression kinds: exact numbers (scaled), binary floats, exact decimals (arithmetic with a
#: number or percent field: Decimal on both paths), dates, text, booleans.
KINDS = ("fixed", "float", "decimal", "date", "text", "bool")

#: The name under which an evaluation's as-of date is visible to derived values.
AS_OF = "__as_of"


# ----------------------------------------------------------------------------- expressions
@dataclass(frozen=True, slots=True)
class FieldRef:
    """A field of the record (or a value the engine provides, such as `score`)."""

    name: str
    kind: str
    scale: int = 0


@dataclass(frozen=True, slots=True)
class Const:
    """A literal, already in its kind's representation (int/Decimal, float, date, str, bool)."""

    value: Any
    kind: str
    scale: int = 0


@dataclass(frozen=True, slots=True)
class ToFloat:
    """An exact value turned into a binary float, for a comparison or arithmetic with floats."""

    operand: Node
    kind: str = "float"
    scale: int = 0


@dataclass(frozen=True, slots=True)
class Compare:
    """`left op right`, both sides of the same kind (`domain`)."""

    op: str
    left: Node
    right: Node
    domain: str
    kind: str = "bool"
    scale: int = 0


@dataclass(frozen=True, slots=True)
class Member:
    """`value in [items]` (or `not in`), items being constants of the value's kind."""

    value: Node
    items: tuple[Const, ...]
    negated: bool
    kind: str = "bool"
    scale: int = 0


@dataclass(frozen=True, slots=True)
class Between:
    """`value in low..high`, both ends included (or `not in`)."""

    value: Node
    low: Const
    high: Const
    negated: bool
    kind: str = "bool"
    scale: int = 0


@dataclass(frozen=True, slots=True)
class Logic:
    """`and` / `or` in three-valued logic."""

    op: str
    left: Node
    right: Node
    kind: str = "bool"
    scale: int = 0


@dataclass(frozen=True, slots=True)
class Not:
    """`not x`: unknown stays unknown."""

    operand: Node
    kind: str = "bool"
    scale: int = 0


@dataclass(frozen=True, slots=True)
class IsMissing:
    """`x is missing` / `x is not missing`: always known."""

    operand: Node
    negated: bool
    kind: str = "bool"
    scale: int = 0


@dataclass(frozen=True, slots=True)
class Arith:
    """`+ - * /` with the kind and scale of the result (`op` `days` is date - date)."""

    op: str
    left: Node
    right: Node
    kind: str
    scale: int = 0


@dataclass(frozen=True, slots=True)
class Neg:
    """`-x`."""

    operand: Node
    kind: str
    scale: int = 0


@dataclass(frozen=True, slots=True)
class Reached:
    """`reached(stage)`: the deal is at `stage` (index `index` of `pipeline`) or later."""

    pipeline: str
    index: int
    kind: str = "bool"
    scale: int = 0


@dataclass(frozen=True, slots=True)
class EnteredAt:
    """`entered_at(stage)`: when the deal entered `stage`.

    The record path knows only the current stage's `stage_entered_at`; the table path also reads
    the deal's stage events (the first entry into the stage).
    """

    stage: str
    kind: str = "date"
    scale: int = 0


@dataclass(frozen=True, slots=True)
class Attainment:
    """`attainment(measure)` of a rep in the evaluated period, as a fraction.

    The variable-pay evaluation provides it (as the value named `attainment(measure)`); where
    it does not, it is unknown.
    """

    measure: str
    kind: str = "float"
    scale: int = 0

    @property
    def key(self) -> str:
        """The name under which the value is provided."""
        return f"attainment({self.measure})"


@dataclass(frozen=True, slots=True)
class Func:
    """`min(a, b)`, `max(a, b)`, `abs(x)`: unknown when an argument is."""

    name: str
    args: tuple[Node, ...]
    kind: str
    scale: int = 0


@dataclass(frozen=True, slots=True)
class AggregateIR:
    """An aggregate over a table (KPIs only): count, sum, mean, median."""

    function: str
    arg: Node | None
    where: Node | None
    kind: str
    scale: int = 0


Node = (
    FieldRef
    | Const
    | ToFloat
    | Compare
    | Member
    | Between
    | Logic
    | Not
    | IsMissing
    | Arith
    | Neg
    | Reached
    | EnteredAt
    | Attainment
    | Func
    | AggregateIR
)


# ----------------------------------------------------------------------------- declarations
@dataclass(frozen=True, slots=True)
class CaseIR:
    """One case of a criterion: `condition -> points`; `condition` None is `otherwise`.

    `value` is set for `option -> points` cases (the condition is then `field == option`).
    """

    condition: Node | None
    points: int | Decimal | float
    value: str | None = None


@dataclass(frozen=True, slots=True)
class CriterionIR:
    """A criterion: first-match cases, or (`field` set) the field's value as points."""

    name: str
    label: str | None
    cases: tuple[CaseIR, ...] = ()
    field: FieldRef | None = None
    #: The field every case reads, when the criterion is a plain option -> points table.
    table_field: str | None = None


@dataclass(frozen=True, slots=True)
class StatusIR:
    """A status rule; `condition` None is `otherwise`."""

    name: str
    label: str | None
    condition: Node | None
    knockout: bool


@dataclass(frozen=True, slots=True)
class ScoreIR:
    """A compiled score: criteria, statuses, and the kind of its points (`fixed` + scale, or
    `float`)."""

    name: str
    label: str | None
    subject: str
    criteria: tuple[CriterionIR, ...]
    statuses: tuple[StatusIR, ...]
    kind: str
    scale: int


@dataclass(frozen=True, slots=True)
class RouteIR:
    """`use score when condition`; `condition` None is `otherwise`."""

    score: str
    condition: Node | None


@dataclass(frozen=True, slots=True)
class ExitIR:
    """An exit criterion of a stage."""

    name: str
    label: str | None
    condition: Node


@dataclass(frozen=True, slots=True)
class StageIR:
    """A stage: its position, probability (exact fraction), max days and exit criteria."""

    name: str
    label: str | None
    pipeline: str
    index: int
    probability: Decimal | None
    max_days: int | None
    exits: tuple[ExitIR, ...]


@dataclass(frozen=True, slots=True)
class ExpectIR:
    """`expect conversion source -> target op value`."""

    source: str
    target: str
    op: str
    value: Decimal


@dataclass(frozen=True, slots=True)
class PipelineIR:
    """A pipeline: ordered stages and conversion expectations."""

    name: str
    label: str | None
    stages: tuple[StageIR, ...]
    expectations: tuple[ExpectIR, ...]


@dataclass(frozen=True, slots=True)
class RequirementIR:
    """A playbook item; due from stage `before_index` of `pipeline` (None: always due)."""

    name: str
    label: str | None
    kind: str
    condition: Node
    before: str | None
    pipeline: str | None
    before_index: int | None


@dataclass(frozen=True, slots=True)
class PlaybookIR:
    """A playbook: when it applies, its items, and the expected win rate range."""

    name: str
    label: str | None
    condition: Node | None
    requirements: tuple[RequirementIR, ...]
    win_rate: tuple[Decimal, Decimal] | None


@dataclass(frozen=True, slots=True)
class KpiIR:
    """A KPI: an aggregate expression over a table and an optional target."""

    name: str
    label: str | None
    subject: str
    value: Node
    target_op: str | None
    target: Const | None
    #: The KPI's type in the language (a money KPI is written as an amount).
    type: FieldType = NUMBER


@dataclass(frozen=True, slots=True)
class AlertIR:
    """An `alert` declaration: one alert per record of `subject` where `condition` holds."""

    name: str
    label: str | None
    subject: str
    condition: Node
    severity: str


@dataclass(frozen=True, slots=True)
class StrategyLineIR:
    """One measured line of a strategy (semantics: `engine.vector.strategy`).

    `kind` is `revenue` (a target amount per year), `growth`, `focus` or `channel` (shares of
    won amount); `condition` picks the deals a share counts (None for revenue); `target` is the
    yearly amount or the share (None: measured only, as a focus); `baseline` the amount the
    revenue target starts from."""

    kind: str
    name: str
    condition: Node | None
    target: Decimal | None
    baseline: Decimal | None = None


@dataclass(frozen=True, slots=True)
class StrategyIR:
    """A `strategy` block: its lines, and how far (a fraction: 5 pts is 0.05) a measured line
    may stray from its target before it is off."""

    label: str | None
    lines: tuple[StrategyLineIR, ...]
    tolerance: Decimal


@dataclass(frozen=True, slots=True)
class Compiled:
    """Everything the evaluators need, resolved and typed."""

    currency: str
    rounding: tuple[str, Decimal]
    records: Mapping[str, Mapping[str, FieldType]]
    scores: Mapping[str, ScoreIR]
    #: Which score qualifies a lead or a deal (first match); empty: not scored.
    routes: Mapping[str, tuple[RouteIR, ...]]
    pipelines: Mapping[str, PipelineIR]
    stages: Mapping[str, StageIR]
    playbooks: tuple[PlaybookIR, ...]
    kpis: Mapping[str, KpiIR]
    roles: Mapping[str, tuple[str, ...]]
    alerts: tuple[AlertIR, ...]
    #: Decimals of `weighted_value` (2 for cents + the most decimals of a probability).
    weighted_scale: int
    #: Fields each record path reads, with their declared types.
    reads: Mapping[str, Mapping[str, FieldType]] = field(default_factory=dict)
    #: Deal values computed from inputs before anything else (gross margin, days in stage...).
    derived: Mapping[str, Node] = field(default_factory=dict)
    #: Per record, the linked fields its expressions read (`territory.potential` on a rep).
    links: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    #: Per record and text field, the texts its expressions compare the field with.
    compared_texts: Mapping[str, Mapping[str, tuple[str, ...]]] = field(default_factory=dict)
    #: The strategies, measured on won deals (`engine.vector.strategy`).
    strategies: tuple[StrategyIR, ...] = ()
    #: Per record, the results computed on each record that expressions read (`status`,
    #: `fit.score`, `qualification_status`...), as the fields the evaluators provide.
    computed: Mapping[str, Mapping[str, FieldRef]] = field(default_factory=dict)


# ----------------------------------------------------------------------------- traversal
def children(node: Node) -> tuple[Node, ...]:
    """The direct sub-nodes of an expression node, in reading order."""
    if isinstance(node, Compare | Logic | Arith):
        return (node.left, node.right)
    if isinstance(node, ToFloat | Not | IsMissing | Neg):
        return (node.operand,)
    if isinstance(node, Member):
        return (node.value, *node.items)
    if isinstance(node, Between):
        return (node.value, node.low, node.high)
    if isinstance(node, Func):
        return node.args
    if isinstance(node, AggregateIR):
        return tuple(n for n in (node.arg, node.where) if n is not None)
    return ()


def walk(node: Node) -> Iterator[Node]:
    """Every node of an expression, parents first, in reading order, without recursion: the one
    traversal of the IR (reads, explanations and coverage all use it)."""
    stack = [node]
    while stack:
        current = stack.pop()
        yield current
        stack.extend(reversed(children(current)))


def field_refs(node: Node | None) -> list[FieldRef]:
    """The field references of an expression, in reading order (`reached()` reads `stage`)."""
    if node is None:
        return []
    found: list[FieldRef] = []
    for item in walk(node):
        if isinstance(item, FieldRef):
            found.append(item)
        elif isinstance(item, Reached):
            found.append(FieldRef("stage", "text"))
    return found
