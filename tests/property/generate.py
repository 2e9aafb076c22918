"""Hypothesis strategies: meaningful, type-correct rulesets as text, and input tables that fit.

`rulesets()` draws a `Ruleset`: a `ruleset` header and declarations of every kind of
docs/language.md (records, scores, qualifications, pipelines, playbooks, KPIs, roles, plans,
alerts, rituals, strategy), each built from the types of the fields it reads, so that
`koncept check` accepts it. About one ruleset in ten also gets one deliberately ill-typed
declaration (`valid` is then False): check must reject it. `datasets(ruleset)` draws the six
input tables as text cells (as read from a CSV) with values that fit the declared fields, the
boundary values the conditions turn on, some missing cells and a few invalid ones.
`scenarios()` draws both.

Some constructs are known to make a check-clean ruleset fail later; each one is a `FEATURES`
name, and `rulesets(avoid=...)` leaves those out (to look past a known failure). The tests use
every feature.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TypeVar

import pandas as pd
from hypothesis import strategies as st

T = TypeVar("T")

#: Constructs the checker accepts that are known to break something later (see the module note).
FEATURES = frozenset(
    {
        "late_derived_in_exit",  # exit criteria reading exit_ready, stale or weighted_value
        "dotted_refs",  # `territory.potential` in a condition, a KPI or an alert
        "duration_first",  # `14d + created_at` (a duration before the date)
        "credit_non_deals",  # `credit count of leads` / `of reps`
        "unrouted_scores",  # two scores on one record without `qualify`
        "split_records",  # one record declared in several blocks
        "quota_functions",  # `quota formula max(100K, ...)`
        "long_lists",  # 60+ stages in a pipeline, exits in a stage or requirements
        "implicit_plans",  # a role without a `plan` line (paid on the plans `for` it)
        "plan_without_period",  # a plan with no `period` line
        "credit_pipeline_values",  # a credit reading days_in_stage, stale, exit_ready...
        "short_periods",  # evaluating a month of a quarterly plan (data side)
    }
)

CURRENCY_SYMBOLS = {"EUR": "€", "USD": "$", "GBP": "£"}
COMPARISONS = ("==", "!=", "<", "<=", ">", ">=")
REPORTS = ("stale_deals", "missing_exit_criteria", "kpis", "alerts", "attainment", "funnel")
YEAR = 2026
FIRST_DAY = dt.date(2025, 10, 1)
LAST_DAY = dt.date(2026, 12, 31)


# ============================================================================ fields
@dataclass(frozen=True, slots=True)
class FieldSpec:
    """A field of a record: its type, options (with labels) or integer range."""

    name: str
    kind: str  # text, number, integer, money, percent, boolean, date or one_of
    options: tuple[str, ...] = ()
    labels: tuple[str, ...] = ()  # one per option, "" when the option has none
    low: int | None = None
    high: int | None = None

    @property
    def numeric(self) -> bool:
        """Whether ordering and arithmetic apply."""
        return self.kind in ("number", "integer", "money", "percent")

    def declaration(self) -> str:
        """The field as written in a `record` block."""
        if self.kind == "one_of":
            options = [
                f'{option} "{label}"' if label else option
                for option, label in zip(self.options, self.labels, strict=True)
            ]
            return f"{self.name} one_of {', '.join(options)}"
        if self.low is not None and self.high is not None:
            return f"{self.name} {self.kind} {self.low}..{self.high}"
        return f"{self.name} {self.kind}"


def _f(
    name: str, kind: str, *options: str, low: int | None = None, high: int | None = None
) -> FieldSpec:
    return FieldSpec(name, kind, tuple(options), ("",) * len(options), low, high)


CANONICAL: dict[str, tuple[FieldSpec, ...]] = {
    "lead": (_f("id", "text"), _f("created_at", "date"), _f("source", "text")),
    "deal": (
        _f("id", "text"),
        _f("rep_id", "text"),
        _f("account", "text"),
        _f("type", "one_of", "new_logo", "upsell", "renewal"),
        _f("amount", "money"),
        _f("cost", "money"),
        _f("stage", "text"),
        _f("stage_entered_at", "date"),
        _f("created_at", "date"),
        _f("close_date", "date"),
        _f("status", "one_of", "open", "won", "lost"),
        _f("contacts", "integer"),
    ),
    "stage_event": (_f("deal_id", "text"), _f("stage", "text"), _f("entered_at", "date")),
    "rep": (
        _f("id", "text"),
        _f("name", "text"),
        _f("role", "text"),
        _f("territory", "text"),
        _f("hire_date", "date"),
    ),
    "quota": (
        _f("rep_id", "text"),
        _f("period", "text"),
        _f("measure", "text"),
        _f("quota", "money"),
    ),
    "territory": (_f("id", "text"), _f("name", "text"), _f("potential", "number")),
}
DERIVED: dict[str, tuple[FieldSpec, ...]] = {
    "deal": (
        _f("gross_margin", "money"),
        _f("margin_rate", "percent"),
        _f("days_in_stage", "integer"),
        _f("stale", "boolean"),
        _f("exit_ready", "boolean"),
        _f("weighted_value", "money"),
    ),
    "rep": (_f("period", "text"),),
}
#: Derived deal values computed from the exit criteria themselves.
LATE_DERIVED = frozenset({"exit_ready", "stale", "weighted_value"})

#: Client fields a ruleset may declare, per record: one or more of every scalar type.
POOLS: dict[str, tuple[FieldSpec, ...]] = {
    "lead": (
        _f("budget", "one_of", "confirmed", "to_validate", "blocking"),
        _f("authority", "one_of", "decision_maker", "influencer", "user"),
        _f("need", "one_of", "urgent", "medium_term", "exploration"),
        _f("source", "one_of", "referral", "partner", "inbound", "event", "outbound"),
        _f("sector", "text"),
        _f("timing_months", "number"),
        _f("employees", "integer"),
        _f("hint", "integer", low=0, high=2),
        _f("revenue", "money"),
        _f("growth", "percent"),
        _f("vip", "boolean"),
        _f("first_contact", "date"),
    ),
    "deal": (
        _f("contact_role", "one_of", "decision_maker", "influencer", "user"),
        _f("demo_feedback", "one_of", "positive", "neutral", "negative"),
        _f("type", "one_of", "new_logo", "upsell", "renewal"),
        _f("status", "one_of", "open", "won", "lost"),
        _f("m_metrics", "integer", low=0, high=2),
        _f("m_champion", "integer", low=0, high=2),
        _f("nps_score", "integer", low=0, high=10),
        _f("fit", "number"),
        _f("previous_amount", "money"),
        _f("sales_cost", "money"),
        _f("discount", "percent"),
        _f("need_identified", "boolean"),
        _f("budget_confirmed", "boolean"),
        _f("demo_done", "boolean"),
        _f("demo_date", "date"),
        _f("sdr_id", "text"),
        _f("region", "text"),
        _f("territory", "text"),
        _f("channel", "one_of", "direct", "partner"),
    ),
    "rep": (
        _f("team", "text"),
        _f("quota_factor", "number"),
        _f("seniority", "integer", low=0, high=10),
        _f("level", "one_of", "junior", "senior"),
        _f("end_date", "date"),
    ),
    "territory": (_f("tier", "integer"), _f("zone", "one_of", "north", "south")),
}
LABELS = ("Confirmé", "À valider", "Décideur", "Gagné", "Perdu", "Ouvert", "Région « Est »", "X")

#: Free text values the conditions and the data share, per field.
TEXT_VALUES: dict[str, tuple[str, ...]] = {
    "sector": ("industrie", "services", "autre"),
    "region": ("north", "south", "east"),
    "team": ("alpha", "beta"),
    "account": ("A1", "A2"),
    "name": ("Camille", "Léa"),
    "source": ("inbound", "referral"),
    "period": ("2026-Q1", "2026-Q2", "2026", "2026-03"),
}
TERRITORY_IDS = ("T1", "T2", "T3")
REP_IDS = ("R1", "R2", "R3", "R4")

MONEY_LEVELS = tuple(Decimal(v) for v in ("10000", "20000", "50000", "100000", "49999.99", "1.5E6"))
NUMBER_LEVELS = tuple(Decimal(v) for v in ("0.5", "2.5", "3", "6", "12"))
PERCENT_LEVELS = tuple(Decimal(v) for v in ("0.1", "0.15", "0.125", "0.5", "0.4"))
INTEGER_LEVELS = (0, 1, 3, 50, 250)
DATE_LEVELS = (
    dt.date(2026, 1, 1),
    dt.date(2026, 3, 1),
    dt.date(2026, 6, 30),
    dt.date(2025, 12, 31),
)
DURATIONS = (("7d", 7), ("14d", 14), ("30d", 30), ("2w", 14), ("90d", 90), ("26w", 182))


def plain_number(value: Decimal | int) -> str:
    """A number without exponent or trailing zeros: 50000, 2.5."""
    text = format(Decimal(value), "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


# ============================================================================ the ruleset
@dataclass(frozen=True, slots=True)
class Declaration:
    """One top-level declaration: its kind (`plan`, `playbook`...) and its text."""

    kind: str
    text: str


@dataclass(frozen=True, slots=True)
class StageSpec:
    """A stage: its pipeline, id and max_days (None without one)."""

    pipeline: str
    name: str
    max_days: int | None


@dataclass(frozen=True, slots=True)
class PlanSpec:
    """What the data needs to know of a plan: role, unit, dates, quota measures."""

    name: str
    role: str
    unit: str | None
    effective: tuple[dt.date, dt.date] | None
    quota_measures: tuple[str, ...]


@dataclass(frozen=True, repr=False)
class Ruleset:
    """A generated ruleset: the header and declarations (text), and what data must fit."""

    header: str
    declarations: tuple[Declaration, ...]
    valid: bool
    currency: str
    fields: Mapping[str, tuple[FieldSpec, ...]]
    stages: tuple[StageSpec, ...]
    roles: tuple[str, ...]
    plans: tuple[PlanSpec, ...]
    boundaries: Mapping[tuple[str, str], tuple[object, ...]]
    durations: tuple[int, ...]

    @property
    def text(self) -> str:
        """The whole ruleset as one file."""
        return "\n\n".join([self.header, *(d.text for d in self.declarations)]) + "\n"

    def files(self, order: Sequence[int], assignment: Sequence[int], header_at: int) -> list[str]:
        """The declarations in `order`, spread over files (`assignment[i]` is the file of the
        i-th declaration of that order); the header goes to file `header_at`."""
        count = max([*assignment, header_at], default=0) + 1
        parts: list[list[str]] = [[] for _ in range(count)]
        parts[header_at].append(self.header)
        for index, file in zip(order, assignment, strict=True):
            parts[file].append(self.declarations[index].text)
        return ["\n\n".join(part) + "\n" for part in parts]

    def _repr_pretty_(self, printer: object, cycle: bool) -> None:
        printer.text(repr(self))  # type: ignore[attr-defined]

    def __repr__(self) -> str:
        kinds = [d.kind for d in self.declarations]
        shown = ", ".join(f"{kinds.count(k)} {k}" for k in dict.fromkeys(kinds))
        return f"Ruleset({shown}{'' if self.valid else ', ill-typed'})"

    def input_fields(self, record: str) -> tuple[FieldSpec, ...]:
        """The columns of a record's input table: canonical, then declared (narrowing wins)."""
        declared = {f.name: f for f in self.fields.get(record, ())}
        canonical = tuple(declared.pop(f.name, f) for f in CANONICAL[record])
        return canonical + tuple(declared.values())


@dataclass(frozen=True, slots=True)
class Scope:
    """What an expression may read: fields of a record, links, stages, measures."""

    record: str
    fields: Mapping[str, FieldSpec]
    links: Mapping[str, Mapping[str, FieldSpec]] = field(default_factory=dict)
    stages: tuple[str, ...] = ()
    measures: tuple[str, ...] = ()
    score: bool = False
    #: Scores of the record whose totals it may read (`s_fit.score`).
    totals: tuple[str, ...] = ()
    #: The computed status it may read (`status` on a lead, `qualification_status` on a deal)
    #: and the statuses the record's scores give.
    statuses: tuple[str, tuple[str, ...]] | None = None


class _Builder:
    """Draws the declarations of one ruleset, keeping what the data must know."""

    def __init__(self, draw: st.DrawFn, avoid: frozenset[str]) -> None:
        self.draw = draw
        self.on = FEATURES - avoid
        self.currency = "EUR"
        self.fields: dict[str, tuple[FieldSpec, ...]] = {}
        self.stages: list[StageSpec] = []
        self.measures: list[str] = []
        self.boundaries: dict[tuple[str, str], set[object]] = {}
        self.durations: set[int] = set()
        self.kpi_names: list[str] = []
        #: Per record, its scores and the names of their statuses (computed results).
        self.totals: dict[str, list[str]] = {}
        self.status_names: dict[str, list[str]] = {}

    # ------------------------------------------------------------------ small draws
    def pick(self, options: Sequence[T]) -> T:
        return self.draw(st.sampled_from(list(options)))

    def chance(self, one_in: int) -> bool:
        """True about once in `one_in` draws (shrinks to False)."""
        return self.draw(st.integers(0, one_in - 1)) == one_in - 1

    def subset(self, options: Sequence[T], low: int = 0, high: int | None = None) -> list[T]:
        """Distinct options, between `low` and `high` of them."""
        if not options:
            return []
        top = len(options) if high is None else min(high, len(options))
        low = min(low, top)
        drawn = st.lists(st.sampled_from(list(options)), min_size=low, max_size=top, unique=True)
        return self.draw(drawn)

    def many(self, low: int, high: int) -> int:
        """A small count; with `long_lists`, now and then 60 or more (past 64-bit masks)."""
        if "long_lists" in self.on and self.chance(12):
            return self.draw(st.integers(60, 70))
        return self.draw(st.integers(low, high))

    def label(self) -> str:
        """A label for a declaration or an option (often none; accents, quotes)."""
        return self.pick(["", "", *LABELS])

    def labelled(self) -> str:
        """` "Label"` after an id, or nothing."""
        text = self.label()
        return f' "{text}"' if text else ""

    def note(self, record: str, name: str, value: object) -> None:
        """Remember a value a condition turns on: the data draws it and its neighbours."""
        self.boundaries.setdefault((record, name), set()).add(value)

    # ------------------------------------------------------------------ literals
    def money(self, value: Decimal, currency: bool = True) -> str:
        """An amount as written: `50000`, `50K`, `50_000`, `1.5M`, with or without currency."""
        spellings = [plain_number(value)]
        if value and value % 1000 == 0:
            spellings.append(plain_number(value / 1000) + "K")
        if value and value % 100_000 == 0 and value >= 1_000_000:
            spellings.append(plain_number(value / 1_000_000) + "M")
        if value >= 1000 and value == value.to_integral_value():
            spellings.append(f"{int(value):_}")
        text = self.pick(spellings)
        if not currency:
            return text
        units = ["", "", f" {self.currency}"]
        if self.currency in CURRENCY_SYMBOLS:
            units.append(CURRENCY_SYMBOLS[self.currency])
        return text + self.pick(units)

    @staticmethod
    def percent(value: Decimal) -> str:
        return plain_number(value * 100) + "%"

    def level(self, spec: FieldSpec, record: str) -> str:
        """A literal to compare a numeric field with (noted as a boundary of the data)."""
        if spec.kind == "money":
            value = self.pick(MONEY_LEVELS)
            self.note(record, spec.name, value)
            return self.money(value)
        if spec.kind == "percent":
            value = self.pick(PERCENT_LEVELS)
            self.note(record, spec.name, value)
            return self.percent(value) if self.draw(st.booleans()) else plain_number(value)
        if spec.kind == "integer":
            if spec.low is not None and spec.high is not None:
                number = self.draw(st.integers(spec.low, spec.high))
            else:
                number = self.pick(INTEGER_LEVELS)
            self.note(record, spec.name, Decimal(number))
            return str(number)
        value = self.pick(NUMBER_LEVELS)
        self.note(record, spec.name, value)
        return plain_number(value)

    def date_level(self, record: str, name: str) -> str:
        """A date to compare a date field with (noted as a boundary)."""
        day = self.pick(DATE_LEVELS)
        self.note(record, name, day)
        return day.isoformat()

    def duration(self) -> str:
        """`14d`, `2w`... (its days noted: the data spaces some dates by it)."""
        text, days = self.pick(DURATIONS)
        self.durations.add(days)
        return text

    # ------------------------------------------------------------------ scopes
    def scope(
        self,
        record: str,
        *,
        exit_criterion: bool = False,
        credit: bool = False,
        score: bool = False,
        computed: bool = False,
    ) -> Scope:
        """`score`: a status block (reads its total and every score's); `computed`: a place
        that reads the results computed on each record (alerts, KPIs)."""
        fields = {f.name: f for f in CANONICAL[record]}
        fields.update({f.name: f for f in self.fields.get(record, ())})
        fields.update({f.name: f for f in DERIVED.get(record, ())})
        hidden: frozenset[str] = frozenset()
        if exit_criterion and "late_derived_in_exit" not in self.on:
            hidden = LATE_DERIVED
        if credit and "credit_pipeline_values" not in self.on:
            hidden = LATE_DERIVED | {"days_in_stage"}
        fields = {k: v for k, v in fields.items() if k not in hidden}
        links: dict[str, dict[str, FieldSpec]] = {}
        if "dotted_refs" in self.on and "territory" in fields and record != "territory":
            linked = {f.name: f for f in CANONICAL["territory"]}
            linked.update({f.name: f for f in self.fields.get("territory", ())})
            links["territory"] = linked
        stages = tuple(s.name for s in self.stages) if record == "deal" else ()
        measures = tuple(self.measures) if record == "rep" else ()
        totals = tuple(self.totals.get(record, ())) if score or computed else ()
        statuses: tuple[str, tuple[str, ...]] | None = None
        if computed and self.status_names.get(record):
            name = "status" if record == "lead" else "qualification_status"
            statuses = (name, tuple(dict.fromkeys(self.status_names[record])))
        return Scope(record, fields, links, stages, measures, score, totals, statuses)

    # ------------------------------------------------------------------ conditions
    def condition(self, scope: Scope, depth: int = 2) -> str:
        """A well-typed condition on the scope's record."""
        shape = self.pick(("atom", "and", "or", "not", "grouped")) if depth > 0 else "atom"
        if shape == "atom":
            return self.atom(scope)
        left = self.condition(scope, depth - 1)
        right = self.condition(scope, depth - 1)
        if shape == "and":
            return f"{left} and {right}"
        if shape == "or":
            return f"{left} or {right}"
        if shape == "not":
            return f"not ({left})"
        return f"({left} or {right}) and {self.atom(scope)}"

    def atom(self, scope: Scope) -> str:
        """One comparison, test or boolean reading the scope's fields."""
        fields = list(scope.fields.values())
        makers: dict[str, Callable[[], str]] = {}
        if any(f.numeric for f in fields):
            makers["compare"] = lambda: self.compare(scope)
            makers["range"] = lambda: self.in_range(scope)
            makers["arithmetic"] = lambda: self.arithmetic(scope)
        if any(f.kind == "one_of" for f in fields):
            makers["option"] = lambda: self.option(scope)
        if any(f.kind == "text" for f in fields):
            makers["text"] = lambda: self.text(scope)
        if any(f.kind == "boolean" for f in fields):
            makers["boolean"] = lambda: self.boolean(scope)
        if any(f.kind == "date" for f in fields):
            makers["date"] = lambda: self.date(scope)
        makers["missing"] = lambda: self.missing(scope)
        if scope.stages:
            makers["reached"] = lambda: self.reached(scope)
        if scope.measures:
            makers["attainment"] = lambda: self.attainment(scope)
        if scope.links:
            makers["link"] = lambda: self.link(scope)
        if scope.score:
            makers["score"] = lambda: f"score {self.pick(COMPARISONS)} {self.pick((0, 5, 10))}"
        if scope.totals:
            makers["total"] = lambda: (
                f"{self.pick(scope.totals)}.score {self.pick(COMPARISONS)} {self.pick((0, 5, 10))}"
            )
        if scope.statuses is not None:
            field_name, names = scope.statuses
            makers["computed_status"] = lambda: (
                f"{field_name} {self.pick(('==', '!='))} {self.pick(names)}"
            )
        return makers[self.pick(sorted(makers))]()

    def numeric_field(self, scope: Scope) -> FieldSpec:
        """A number, integer, money or percent field of the scope."""
        return self.pick([f for f in scope.fields.values() if f.numeric])

    def compare(self, scope: Scope) -> str:
        """`amount >= 50K`, `hint == 2`, `15% < discount`."""
        spec = self.numeric_field(scope)
        op = self.pick(COMPARISONS)
        literal = self.level(spec, scope.record)
        if self.chance(4):
            return f"{literal} {op} {spec.name}"
        return f"{spec.name} {op} {literal}"

    def in_range(self, scope: Scope) -> str:
        """`employees in 50..250`, `amount not in 10000..50000`."""
        spec = self.numeric_field(scope)
        low, high = sorted(
            (self.bare_level(spec, scope.record), self.bare_level(spec, scope.record))
        )
        negated = "not " if self.chance(3) else ""
        return f"{spec.name} {negated}in {plain_number(low)}..{plain_number(high)}"

    def bare_level(self, spec: FieldSpec, record: str) -> Decimal:
        """A plain number for a range bound (ranges take no currency or %)."""
        if spec.kind == "money":
            value = self.pick(MONEY_LEVELS)
        elif spec.kind == "percent":
            value = self.pick(PERCENT_LEVELS)
        elif spec.kind == "integer" and spec.low is not None and spec.high is not None:
            value = Decimal(self.draw(st.integers(spec.low, spec.high)))
        elif spec.kind == "integer":
            value = Decimal(self.pick(INTEGER_LEVELS))
        else:
            value = self.pick(NUMBER_LEVELS)
        self.note(record, spec.name, value)
        return value

    def arithmetic(self, scope: Scope) -> str:
        """Arithmetic and functions on numbers: `amount - cost > 10K`, `abs(fit - 0.5) < 1`."""
        numeric = [f for f in scope.fields.values() if f.numeric]
        a, b = self.pick(numeric), self.pick(numeric)
        money = [f for f in numeric if f.kind == "money"]
        shapes = ["minmax", "abs", "scaled", "ratio", "negated"]
        if money:
            shapes += ["difference", "share"]
        shape = self.pick(shapes)
        op = self.pick(COMPARISONS)
        if shape == "ratio":  # a divisor may be 0 or missing: the quotient is then unknown
            divisors = [f for f in numeric if f.kind != "money" or a.kind == "money"]
            by = self.pick(divisors)
            quotient = a if a.kind == "money" and by.kind != "money" else _f("ratio", "number")
            return f"{a.name} / {by.name} {op} {self.level(quotient, scope.record)}"
        if shape == "negated":
            return f"-{a.name} {op} -{self.level(a, scope.record)}"
        if shape == "minmax":
            same = [f for f in numeric if _same_family(f, a)]
            other = self.pick(same)
            function = self.pick(("min", "max"))
            return f"{function}({a.name}, {other.name}) {op} {self.level(a, scope.record)}"
        if shape == "abs":
            return (
                f"abs({a.name} - {self.level(a, scope.record)}) {op} {self.level(a, scope.record)}"
            )
        if shape == "scaled":
            factor = self.pick(("2", "0.5", "3"))
            if a.kind == "percent":
                return f"{a.name} * {factor} {op} {self.level(a, scope.record)}"
            shift = f"{self.pick(('+', '-'))} {self.level(a, scope.record)}"
            return f"{a.name} * {factor} {shift} {op} {self.level(a, scope.record)}"
        m = self.pick(money)
        if shape == "difference":
            other = self.pick(money)
            return f"{m.name} - {other.name} {op} {self.level(m, scope.record)}"
        rate = [f for f in numeric if f.kind in ("percent", "number", "integer")]
        by = self.pick(rate) if rate else b
        if by.kind == "money":
            return f"{m.name} / 2 {op} {self.level(m, scope.record)}"
        return f"{m.name} * {by.name} {op} {self.level(m, scope.record)}"

    def option(self, scope: Scope) -> str:
        """A one_of field against its options: `==`, `!=`, `in`, `not in`, a quoted label."""
        spec = self.pick([f for f in scope.fields.values() if f.kind == "one_of"])
        chosen = self.subset(spec.options, 1, 3)
        shape = self.pick(("eq", "ne", "in", "not_in", "label", "reversed"))
        if shape == "eq":
            return f"{spec.name} == {chosen[0]}"
        if shape == "ne":
            return f"{spec.name} != {chosen[0]}"
        if shape == "in":
            return f"{spec.name} in [{', '.join(chosen)}]"
        if shape == "not_in":
            return f"{spec.name} not in [{', '.join(chosen)}]"
        if shape == "reversed":
            return f"{chosen[0]} == {spec.name}"
        index = spec.options.index(chosen[0])
        text = spec.labels[index] or spec.options[index]
        return f'{spec.name} == "{text}"'

    def text_values(self, scope: Scope, name: str) -> tuple[str, ...]:
        """Quoted values worth comparing a text field with (the data uses the same)."""
        if name in TEXT_VALUES:
            return TEXT_VALUES[name]
        if name in ("rep_id", "sdr_id", "id") and scope.record in ("deal", "rep"):
            return REP_IDS[:2] if name != "id" or scope.record == "rep" else ("D1", "D2")
        if name == "id":
            return ("L1", "L2")
        if name == "stage":
            return tuple(s.name for s in self.stages[:3]) or ("demo",)
        if name == "role":
            return ("AE", "SDR")
        if name == "territory":
            return TERRITORY_IDS[:2]
        return ("x", "y")

    def text(self, scope: Scope) -> str:
        """A text field against quoted values."""
        spec = self.pick([f for f in scope.fields.values() if f.kind == "text"])
        values = self.subset(self.text_values(scope, spec.name), 1, 2)
        quoted = [f'"{v}"' for v in values]
        shape = self.pick(("eq", "ne", "in", "not_in"))
        if shape == "eq":
            return f"{spec.name} == {quoted[0]}"
        if shape == "ne":
            return f"{spec.name} != {quoted[0]}"
        negated = "not " if shape == "not_in" else ""
        return f"{spec.name} {negated}in [{', '.join(quoted)}]"

    def boolean(self, scope: Scope) -> str:
        """A yes/no field as a condition."""
        spec = self.pick([f for f in scope.fields.values() if f.kind == "boolean"])
        return self.pick(
            (spec.name, f"not {spec.name}", f"{spec.name} == true", f"{spec.name} != false")
        )

    def date(self, scope: Scope) -> str:
        """Dates and durations: `close_date - created_at > 90d`, `created_at + 14d < x`..."""
        dates = [f for f in scope.fields.values() if f.kind == "date"]
        a, b = self.pick(dates), self.pick(dates)
        shapes = ["level", "shift", "span", "minmax", "abs"]
        if "duration_first" in self.on:
            shapes.append("duration_first")
        shape = self.pick(shapes)
        op = self.pick(COMPARISONS)
        if shape == "level":
            return f"{a.name} {op} {self.date_level(scope.record, a.name)}"
        if shape == "shift":
            sign = self.pick(("+", "-"))
            return f"{a.name} {sign} {self.duration()} {op} {b.name}"
        if shape == "span":
            return f"{b.name} - {a.name} {op} {self.duration()}"
        if shape == "minmax":
            other = self.pick((b.name, self.date_level(scope.record, a.name)))
            level = self.date_level(scope.record, a.name)
            return f"{self.pick(('min', 'max'))}({a.name}, {other}) {op} {level}"
        if shape == "abs":
            return f"abs({b.name} - {a.name}) {op} {self.duration()}"
        return f"{self.duration()} + {a.name} {op} {b.name}"

    def missing(self, scope: Scope) -> str:
        """`x is missing` / `x is not missing`, on any field."""
        spec = self.pick(sorted(scope.fields))
        return f"{spec} is {self.pick(('', 'not '))}missing"

    def reached(self, scope: Scope) -> str:
        """`reached(stage)`, its negation, or `entered_at(stage)` against a date."""
        stage = self.pick(scope.stages)
        shape = self.pick(("reached", "not_reached", "entered"))
        if shape == "reached":
            return f"reached({stage})"
        if shape == "not_reached":
            return f"not reached({stage})"
        return (
            f"entered_at({stage}) {self.pick(COMPARISONS)} {self.date_level('deal', 'entered_at')}"
        )

    def attainment(self, scope: Scope) -> str:
        """`attainment(measure) < 40%` (on reps)."""
        measure = self.pick(scope.measures)
        level = self.pick((*PERCENT_LEVELS, Decimal(1)))
        return f"attainment({measure}) {self.pick(COMPARISONS)} {self.percent(level)}"

    def link(self, scope: Scope) -> str:
        """A linked record's number: `territory.potential > 1`."""
        link, fields = self.pick(sorted(scope.links.items()))
        numeric = [f for f in fields.values() if f.numeric]
        spec = self.pick(numeric)
        return f"{link}.{spec.name} {self.pick(COMPARISONS)} {self.level(spec, 'territory')}"

    # ------------------------------------------------------------------ declarations
    def header(self) -> str:
        """The `ruleset` header: currency and rounding, drawn."""
        self.currency = self.pick(("EUR", "USD", "GBP", "CHF"))
        settings = []
        if self.currency != "EUR" or self.draw(st.booleans()):
            settings.append(f"currency {self.currency}")
        if self.draw(st.booleans()):
            mode = self.pick(("half_up", "half_even", "half_down", "up", "down"))
            step = self.pick(("0.01", "1", "0.05", "0.5", "5"))
            settings.append(f"rounding {mode} {step}")
        body = "".join(f"\n  {s}" for s in settings)
        return f'ruleset generated "Généré"{" {"}{body}\n}}'

    def records(self) -> list[Declaration]:
        """`record` blocks adding drawn client fields to lead, deal, rep and territory."""
        found: list[Declaration] = []
        for record in ("lead", "deal", "rep", "territory"):
            chosen = self.subset(POOLS[record], 0, 6)
            specs = [self.refine(spec) for spec in chosen]
            self.fields[record] = tuple(specs)
            if not specs:
                continue
            blocks = [specs]
            if "split_records" in self.on and len(specs) > 1 and self.chance(3):
                cut = self.draw(st.integers(1, len(specs) - 1))
                blocks = [specs[:cut], specs[cut:]]
            for block in blocks:
                lines = "".join(f"\n  {spec.declaration()}" for spec in block)
                found.append(Declaration("record", f"record {record} {{{lines}\n}}"))
        return found

    def refine(self, spec: FieldSpec) -> FieldSpec:
        """A pool field with drawn labels, a narrowed option list or a drawn range."""
        if spec.kind == "one_of":
            options = spec.options
            if spec.name == "type":  # a canonical one_of may be repeated with some of its values
                options = tuple(self.subset(options, 1))
            labels = tuple(self.label() for _ in options)
            return FieldSpec(spec.name, "one_of", options, labels)
        if spec.kind == "integer" and spec.low is not None:
            high = self.pick((2, 3, 5, 10)) if spec.high != 2 else 2
            return FieldSpec(spec.name, "integer", low=spec.low, high=high)
        return spec

    # -- scores ----------------------------------------------------------------------
    def scores(self, record: str, names: list[str]) -> tuple[list[Declaration], list[str]]:
        """0 to 2 scores on the record (names taken from `names`)."""
        declared = [names.pop(0) for _ in range(self.draw(st.integers(0, 2)))]
        self.totals[record] = declared  # a status may read any score of its record
        return [Declaration("score", self.score(record, name)) for name in declared], declared

    def score(self, record: str, name: str) -> str:
        """A score whose `max` (when given) and status thresholds fit its criteria."""
        scope = self.scope(record)
        fields = scope.fields
        options = [f for f in fields.values() if f.kind == "one_of"]
        numbers = [f for f in fields.values() if f.kind in ("integer", "number")]
        criteria: list[str] = []
        maxima: list[Decimal] | None = []
        count = (
            self.draw(st.integers(1, 4)) if not self.chance(12) else self.draw(st.integers(8, 14))
        )
        for index in range(count):
            kinds = ["when"] + (["value"] if options else []) + (["field"] if numbers else [])
            kind = self.pick(kinds)
            criterion = f"c{index + 1}"
            if kind == "field":
                spec = self.pick(numbers)
                criteria.append(f"{criterion}{self.labelled()} -> {spec.name}")
                if spec.high is None:
                    maxima = None
                elif maxima is not None:
                    maxima.append(Decimal(spec.high))
                continue
            cases: list[tuple[str, Decimal]] = []
            head = f"{criterion}{self.labelled()}"
            if kind == "value":
                spec = self.pick(options)
                taken = spec.name in (c.split()[0] for c in criteria)
                # `status` starts the status block: a criterion cannot be named so.
                if self.draw(st.booleans()) or taken or spec.name == "status":
                    head += f" of {spec.name}"
                else:
                    head = f"{spec.name}{self.labelled()}"
                for option in self.subset(spec.options, 1):
                    cases.append((option, self.points()))
                if self.chance(4):
                    cases.append((f"when {self.condition(scope, 1)}", self.points()))
            else:
                for _ in range(self.draw(st.integers(1, 3))):
                    cases.append((f"when {self.condition(scope, 1)}", self.points()))
            if self.draw(st.booleans()):
                cases.append(("otherwise", self.points()))
            body = ", ".join(f"{case} -> {plain_number(points)}" for case, points in cases)
            criteria.append(f"{head} {{ {body} }}")
            if maxima is not None:
                maxima.append(max(points for _, points in cases))
        reachable = sum(maxima, Decimal(0)) if maxima is not None else None
        head = f"score {name}{self.labelled()} on {record}"
        if reachable is not None and reachable >= 0 and self.draw(st.booleans()):
            head += f" max {plain_number(reachable)}"
        lines = [f"  {c}" for c in criteria]
        statuses = self.statuses(record, reachable)
        if statuses:
            lines.append("  status {")
            lines += [f"    {s}" for s in statuses]
            lines.append("  }")
        return head + " {\n" + "\n".join(lines) + "\n}"

    def points(self) -> Decimal:
        """Points of a case: whole, decimal or negative."""
        return Decimal(self.pick(("0", "5", "10", "20", "2.5", "1", "-5", "15")))

    def statuses(self, record: str, reachable: Decimal | None) -> list[str]:
        """A status block: knock-out, thresholds the score can reach, `otherwise`."""
        if self.chance(5):
            return []
        scope = self.scope(record, score=True)
        rules: list[str] = []
        names = iter(("SQL", "MQL", "hot", "warm", "cold"))
        if self.chance(3):
            rules.append(f"knockout out{self.labelled()} when {self.condition(scope, 1)}")
        thresholds = self.draw(st.integers(0, 2))
        if reachable is not None and reachable < 0:
            thresholds = 0  # no `score >= level` can be reached
        for _ in range(thresholds):
            op = self.pick((">", ">="))
            top = reachable if reachable is not None else Decimal(20)
            level = self.pick([v for v in (top - 1, top - 5, Decimal(0), top / 2) if v < top])
            if op == ">=" and self.draw(st.booleans()):
                level = top
            rule = f"score {op} {plain_number(level)}"
            if self.chance(4):
                rule += f" and {self.atom(scope)}"
            rules.append(f"{next(names)}{self.labelled()} when {rule}")
        if self.draw(st.booleans()):
            rules.append(f"{next(names)}{self.labelled()} otherwise")
        if rules and rules[0].startswith("knockout") and self.draw(st.booleans()):
            rules.append(rules.pop(0))  # knock-outs apply first, wherever they are written
        self.status_names.setdefault(record, []).extend(
            rule.removeprefix("knockout ").split()[0].split('"')[0] for rule in rules
        )
        return rules

    def qualify(self, record: str, scores: list[str]) -> Declaration | None:
        """Routes to the record's scores; none for one score now and then, and (with
        `unrouted_scores`) now and then none for several."""
        if not scores or (len(scores) == 1 and self.chance(2)):
            return None
        if len(scores) > 1 and "unrouted_scores" in self.on and self.draw(st.booleans()):
            return None
        scope = self.scope(record)
        routes = []
        for score in self.subset(scores, 1):
            routes.append(f"use {score} when {self.condition(scope, 1)}")
        if self.draw(st.booleans()):
            routes.append(f"use {self.pick(scores)} otherwise")
        body = "".join(f"\n  {r}" for r in routes)
        return Declaration("qualify", f"qualify {record} {{{body}\n}}")

    # -- pipelines and playbooks -------------------------------------------------------
    def pipelines(self) -> list[Declaration]:
        """0 to 2 pipelines on deals (stage ids unique across the ruleset)."""
        names = iter(("detection", "qualification", "discovery", "demo", "proposal", "signature"))
        drawn: list[tuple[str, list[StageSpec]]] = []
        for number in range(self.draw(st.integers(0, 2))):
            pipeline = f"p{number + 1}"
            if "long_lists" in self.on and self.chance(6):
                size = self.draw(st.integers(60, 70))
                stage_names = [f"{pipeline}_s{i}" for i in range(size)]
            else:
                stage_names = [next(names) for _ in range(self.draw(st.integers(1, 3)))]
            specs = [StageSpec(pipeline, n, self.pick((None, 7, 14, 30))) for n in stage_names]
            drawn.append((pipeline, specs))
            self.stages.extend(specs)
        # Exit criteria are drawn once every stage is known: they may read `reached(any)`.
        return [Declaration("pipeline", self.pipeline(name, specs)) for name, specs in drawn]

    def pipeline(self, name: str, specs: list[StageSpec]) -> str:
        """A pipeline's stages (probability, max_days, exits, actions) and a conversion."""
        scope = self.scope("deal", exit_criterion=True)
        long = len(specs) > 20
        lines = [f"pipeline {name}{self.labelled()} on deal {{"]
        for spec in specs:
            items = []
            if long:
                items.append(f"exit e: {self.atom(scope)}")
                lines.append(f"  stage {spec.name} {{ {', '.join(items)} }}")
                continue
            if self.draw(st.booleans()):
                items.append(f"probability {self.percent(self.pick(_PROBABILITIES))}")
            if spec.max_days is not None:
                items.append(f"max_days {self.pick((f'{spec.max_days}d', str(spec.max_days)))}")
            for number in range(self.many(1, 2)):
                items.append(f"exit x{number}{self.labelled()}: {self.condition(scope, 1)}")
            if self.draw(st.booleans()):
                items.append('action "Relance (modèle \\"Email\\")"')
            body = "".join(f"\n    {i}" for i in items)
            lines.append(f"  stage {spec.name}{self.labelled()} {{{body}\n  }}")
        if len(specs) > 1 and self.draw(st.booleans()):
            source, target = sorted(self.subset(range(len(specs)), 2, 2))
            op = self.pick(COMPARISONS)
            level = self.percent(self.pick(PERCENT_LEVELS))
            lines.append(
                f"  expect conversion {specs[source].name} -> {specs[target].name} {op} {level}"
            )
        lines.append("}")
        return "\n".join(lines)

    def playbooks(self) -> list[Declaration]:
        """0 to 2 playbooks: `when`, requirements `before` a stage, a win-rate range."""
        scope = self.scope("deal")
        found = []
        for number in range(self.draw(st.integers(0, 2))):
            head = f"playbook b{number + 1}{self.labelled()} on deal"
            if self.draw(st.booleans()):
                head += f" when {self.condition(scope, 1)}"
            items = []
            for index in range(self.many(1, 3)):
                kind = self.pick(("require", "require", "recommend"))
                item = f"{kind} r{index}{self.labelled()}: {self.condition(scope, 1)}"
                if self.stages and self.chance(2):
                    item += f" before {self.pick(self.stages).name}"
                items.append(item)
            if self.draw(st.booleans()):
                low, high = sorted((self.pick(PERCENT_LEVELS), self.pick(PERCENT_LEVELS)))
                items.append(f"expect win_rate {self.percent(low)}..{self.percent(high)}")
            body = "".join(f"\n  {i}" for i in items)
            found.append(Declaration("playbook", f"{head} {{{body}\n}}"))
        return found

    # -- KPIs, roles -----------------------------------------------------------------
    def kpis(self) -> list[Declaration]:
        """0 to 3 KPIs on deals, leads or reps, with a family and a target of their kind."""
        found = []
        for number in range(self.draw(st.integers(0, 3))):
            subject = self.pick(("deal", "deal", "lead", "rep"))
            value, kind = self.kpi_value(subject)  # may count computed results
            name = f"k{number + 1}"
            self.kpi_names.append(name)
            text = f"kpi {name}{self.labelled()}"
            if self.draw(st.booleans()):
                text += f" family {self.pick(('volume', 'profitability', 'efficiency', 'quality'))}"
            text += f" on {subject} = {value}"
            if self.draw(st.booleans()):
                op = self.pick(COMPARISONS)
                if kind == "duration":
                    text += f" target {op} {self.duration()}"
                else:
                    target = self.pick(("30%", "12", "0.5", self.money(Decimal(100000))))
                    text += f" target {op} {target}"
            found.append(Declaration("kpi", text))
        return found

    def kpi_value(self, subject: str) -> tuple[str, str]:
        """A KPI expression and its kind (number, money, duration...)."""
        scope = self.scope(subject, computed=True)
        shape = self.pick(("single", "ratio", "nps", "difference"))
        if shape == "single":
            return self.aggregate(scope)
        if shape == "ratio":
            return (
                f"count({self.condition(scope, 1)}) / count({self.condition(scope, 1)})",
                "number",
            )
        if shape == "nps":
            a, b = self.condition(scope, 0), self.condition(scope, 0)
            return f"(count({a}) - count({b})) / count() * 100", "number"
        first, kind = self.aggregate(scope)
        second, other = self.aggregate(scope)
        if kind == other or {kind, other} <= {"integer", "number"}:
            return f"{first} - {second}", kind if kind == other else "number"
        return first, kind

    def aggregate(self, scope: Scope) -> tuple[str, str]:
        """`count(...)`, `sum(x where ...)`, `mean(...)`, `median(...)` and its kind."""
        function = self.pick(("count", "sum", "mean", "median"))
        where = f" where {self.condition(scope, 1)}" if self.draw(st.booleans()) else ""
        if not any(f.numeric for f in scope.fields.values()):
            function = "count"
        if function == "count":
            inner = self.condition(scope, 1) if self.draw(st.booleans()) else ""
            return f"count({inner})", "integer"
        dates = [f for f in scope.fields.values() if f.kind == "date"]
        numeric = [f for f in scope.fields.values() if f.numeric]
        if len(dates) > 1 and self.chance(3):
            a, b = self.pick(dates), self.pick(dates)
            return f"{function}({b.name} - {a.name}{where})", "duration"
        spec = self.pick(numeric)
        kind = spec.kind if function == "sum" or spec.kind != "integer" else "number"
        return f"{function}({spec.name}{where})", kind

    def roles(self, plans: list[tuple[str, str]]) -> list[Declaration]:
        """The roles plans are for (and a few more): mission, KPIs, `plan` line."""
        roles = sorted({role for _, role in plans} | set(self.extra_roles))
        found = []
        for role in roles:
            items = []
            if self.draw(st.booleans()):
                items.append('mission "Vendre « mieux »"')
            kpis = self.subset(self.kpi_names, 0, 3)
            if kpis:
                items.append(f"kpis {', '.join(kpis)}")
            own = [name for name, r in plans if r == role]
            implicit = "implicit_plans" in self.on and self.chance(3)
            if own and not implicit:
                ordered = self.draw(st.permutations(own))
                items.append(f"plan {', '.join(ordered)}")
            body = "".join(f"\n  {i}" for i in items)
            found.append(Declaration("role", f"role {role}{self.labelled()} {{{body}\n}}"))
        return found

    # -- plans -----------------------------------------------------------------------
    def plan_drafts(self) -> list[tuple[str, str, list[str]]]:
        """(name, role, measure names) of the plans; drawn first, since alerts and KPIs on
        reps read the measures (`attainment(bookings)`)."""
        self.extra_roles = self.subset(("AE", "SDR", "AM"), 0, 2)
        drafts = [
            (
                f"plan_{number + 1}",
                self.pick(("AE", "SDR", "AM")),
                self.subset(("bookings", "new_logo", "margin", "units", "renewal"), 1, 3),
            )
            for number in range(self.draw(st.integers(0, 2)))
        ]
        self.measures = sorted({m for _, _, measures in drafts for m in measures})
        return drafts

    def plan(self, draft: tuple[str, str, list[str]]) -> tuple[Declaration, PlanSpec]:
        """A plan with its measures; what the data needs to know of it."""
        name, role, measures = draft
        items: list[str] = []
        effective = self.pick(_EFFECTIVE)
        if effective is not None:
            items.append(f"effective {effective[0]} to {effective[1]}")
            if self.draw(st.booleans()):
                told = effective[0] - dt.timedelta(days=self.pick((15, -10)))
                items.append(f"communicated {told}")
        unit = self.pick(("quarter", "month", "year"))
        if "plan_without_period" in self.on and self.chance(8):
            unit_text = None
        else:
            unit_text = unit
            items.append(f"period {unit}")
        has_target = self.draw(st.booleans())
        if has_target:
            amount = self.money(self.pick((Decimal(40000), Decimal(30000), Decimal(12000))))
            items.append(f"target_variable {amount} per {self.pick(('year', 'quarter', 'month'))}")
        if self.draw(st.booleans()):
            items.append(f"proration {self.pick(('daily', 'none'))}")
        if self.chance(3):
            items.append(f"cap {self.limit(has_target)}")
        if self.chance(3):
            items.append(f"budget guardrail {self.limit(True)}")
        weights = self.weights(len(measures))
        quota_ids: list[str] = []
        for measure, weight in zip(measures, weights, strict=True):
            text, quota_id = self.measure(measure, weight, has_target)
            items.append(text)
            if quota_id is not None:
                quota_ids.append(quota_id)
        if quota_ids and self.chance(3):
            items.append(f"ramp {self.pick(('50%, 75%, 100%', '50%', '25%, 50%'))}")
        if self.chance(3):
            # A SPIFF: its window inside the plan's dates (the checker's E408).
            first, last = effective or (dt.date(2026, 1, 1), dt.date(2026, 12, 31))
            end = min(last, first + dt.timedelta(days=self.pick((0, 45, 120))))
            cap = f" cap {self.money(Decimal(1500))}" if self.draw(st.booleans()) else ""
            items.append(
                f"spiff {name}_spiff {{ 500 per deal where status == won "
                f"from {first} to {end}{cap} }}"
            )
        body = "".join(f"\n  {i}" for i in items)
        text = f"plan {name}{self.labelled()} for {role} {{{body}\n}}"
        spec = PlanSpec(name, role, unit_text, effective, tuple(dict.fromkeys(quota_ids)))
        return Declaration("plan", text), spec

    def limit(self, percent_ok: bool) -> str:
        """A cap or guardrail: a percentage (when a target exists) or an amount."""
        if percent_ok and self.draw(st.booleans()):
            return self.pick(("200%", "150%", "105%"))
        return self.money(self.pick((Decimal(15000), Decimal(50000), Decimal(5000))))

    def weights(self, count: int) -> list[str | None]:
        """No weights, or weights summing to 100%."""
        if self.draw(st.booleans()):
            return [None] * count
        return list(self.pick(_WEIGHTS[count]))

    def measure(self, name: str, weight: str | None, has_target: bool) -> tuple[str, str | None]:
        """A measure's text and its quotas-table measure id (if it reads one). Items needing a
        quota or a target variable come only with them (the checker's E408)."""
        items = [self.credit()]
        quota = self.pick(("none", "table", "formula"))
        quota_id = None
        if quota == "table":
            quota_id = self.pick(("bookings", "new_logo", "upsell", "installed_base", name))
            items.append(f"quota {quota_id}")
        elif quota == "formula":
            items.append(f"quota formula {self.quota_formula()}")
        has_quota = quota != "none"
        methods = ["none", "commission", "per_unit", "rates_amount"]
        if has_quota:
            methods.append("rates_attainment")
        if has_quota and has_target:
            methods += ["steps", "curve"]
        method = self.pick(methods)
        if method == "commission":
            items.append(f"commission {self.percent(self.pick(PERCENT_LEVELS))}")
        elif method == "per_unit":
            items.append(f"per_unit {self.money(self.pick((Decimal(150), Decimal('12.5'))))}")
        elif method == "rates_amount":
            items.append(self.rates(on_attainment=False))
        elif method == "rates_attainment":
            items.append(self.rates(on_attainment=True))
        elif method == "steps":
            items.append("steps " + self.bands(percent_bounds=True))
        elif method == "curve":
            items.append(self.curve())
        if has_quota and self.chance(3):
            items.append(
                f"threshold {self.pick(('80%', '50%', '100%'))} {self.pick(('gate', 'floor'))}"
            )
        if has_quota and has_target and self.chance(3):
            items.append(
                f"accelerator {self.pick(('2', '1.5', '0.5'))} above {self.pick(('100%', '120%'))}"
            )
        if self.chance(3):
            items.append(f"cap {self.limit(has_target)}")
        if has_quota and self.chance(3):
            amount = self.money(self.pick((Decimal(2000), Decimal(1000), Decimal(500))))
            level = self.pick(("100%", "80%"))
            items.append(f"bonus {amount} when attainment {self.pick(COMPARISONS)} {level}")
        head = f"measure {name}{self.labelled()}"
        if weight is not None:
            head += f" weight {weight}"
        body = "".join(f"\n    {i}" for i in items)
        return f"{head} {{{body}\n  }}", quota_id

    def credit(self) -> str:
        """`credit <value> of <records> [where] [to] [dated]`."""
        source = "deals"
        if "credit_non_deals" in self.on and self.chance(8):
            source = self.pick(("leads", "reps"))
        record = {"deals": "deal", "leads": "lead", "reps": "rep"}[source]
        scope = self.scope(record, credit=True)
        numeric = [f for f in scope.fields.values() if f.numeric]
        values = ["count"] + [f.name for f in numeric]
        if record == "deal":
            values += ["amount", "amount", "gross_margin", "amount - cost"]
            if "discount" in scope.fields:
                values.append("amount * discount")
        text = f"credit {self.pick(values)} of {source}"
        if self.draw(st.booleans()):
            text += f" where {self.condition(scope, 1)}"
        texts = [f.name for f in scope.fields.values() if f.kind == "text"]
        if record == "deal" and "sdr_id" in scope.fields and self.draw(st.booleans()):
            text += " to sdr_id"
        elif texts and self.chance(6):
            text += f" to {self.pick(texts)}"
        if record == "deal" and self.draw(st.booleans()):
            dated = [
                "close_date",
                "created_at",
                f"created_at + {self.duration()}",
                "max(created_at, close_date)",
            ]
            dated += [f"entered_at({s.name})" for s in self.stages[:3]]
            dated += [f.name for f in scope.fields.values() if f.kind == "date"]
            text += f" dated {self.pick(dated)}"
        return text

    def quota_formula(self) -> str:
        """A quota computed from the rep: `250K * territory.potential`, `max(...)`..."""
        rep = self.scope("rep")
        shapes = ["flat", "potential", "sum"]
        if "quota_functions" in self.on:
            shapes.append("function")
        if "quota_factor" in rep.fields:
            shapes.append("factor")
        shape = self.pick(shapes)
        amount = self.money(self.pick((Decimal(250000), Decimal(100000), Decimal(50000))))
        if shape == "flat":
            return amount
        if shape == "potential":
            return f"{amount} * territory.potential"
        if shape == "sum":
            return f"{amount} + {self.money(Decimal(50000))} * territory.potential"
        if shape == "factor":
            return f"{amount} * quota_factor"
        other = self.money(Decimal(100000))
        return f"{self.pick(('max', 'min'))}({other}, {amount} * territory.potential)"

    def rates(self, on_attainment: bool) -> str:
        """Rate tiers, retroactive or marginal, on attainment or on amount."""
        basis = (
            self.pick(("", "on attainment ")) if on_attainment else self.pick(("", "on amount "))
        )
        method = self.pick(("retroactive", "marginal"))
        return f"rates {basis}method {method} " + self.bands(percent_bounds=on_attainment)

    def bands(self, percent_bounds: bool) -> str:
        """Tier bands from 0, contiguous (each shared bound in exactly one band), the last one
        open-ended or (now and then) closed; bounds are percentages or amounts."""
        cuts = _ATTAINMENT_CUTS if percent_bounds else _AMOUNT_CUTS
        bounds = [Decimal(0), *sorted(self.subset(cuts, 0, 3))]
        top = bounds[-1] * 2 if bounds[-1] else Decimal(2 if percent_bounds else 200000)
        ends: list[Decimal | None] = [*bounds[1:], None if not self.chance(5) else top]

        def shown(bound: Decimal) -> str:
            return self.percent(bound) if percent_bounds else self.money(bound, currency=False)

        lines = []
        low_inclusive = True
        for low, high in zip(bounds, ends, strict=True):
            value = self.percent(self.pick(_BAND_VALUES))
            opening = "[" if low_inclusive else "("
            if high is None:
                lines.append(f"{opening}{shown(low)}, ...) {value}")
                break
            includes_high = self.chance(3)
            closing = "]" if includes_high else ")"
            lines.append(f"{opening}{shown(low)}, {shown(high)}{closing} {value}")
            low_inclusive = not includes_high
        body = "".join(f"\n      {line}" for line in lines)
        return f"{{{body}\n    }}"

    def curve(self) -> str:
        """A curve: optional `below`, increasing `at` points, slopes (the last may be open)."""
        points = []
        level = Decimal(0)
        if self.draw(st.booleans()):
            level = self.pick((Decimal("0.5"), Decimal("0.8")))
            points.append(f"below {self.percent(level)} pay 0%")
        pay = Decimal(0)
        for _ in range(self.draw(st.integers(1, 3))):
            step = self.pick((Decimal("0.2"), Decimal("0.1"), Decimal("0.3")))
            if not points or not points[-1].startswith("below"):
                level += step
            pay += self.pick((Decimal("0.25"), Decimal("0.5"), Decimal(0)))
            points.append(f"at {self.percent(level)} pay {self.percent(pay)}")
        for _ in range(self.draw(st.integers(0, 2))):
            level += Decimal("0.3")
            points.append(f"slope {self.pick(('1.5', '2', '1'))} to {self.percent(level)}")
        if self.draw(st.booleans()):
            points.append(f"slope {self.pick(('1.5', '2', '0.5'))}")
        body = "".join(f"\n      {p}" for p in points)
        return f"curve {{{body}\n    }}"

    # -- alerts, rituals, strategy -----------------------------------------------------
    def alerts(self) -> list[Declaration]:
        """0 to 3 alerts on deals, leads or reps."""
        found = []
        for number in range(self.draw(st.integers(0, 3))):
            subject = self.pick(("deal", "lead", "rep"))
            condition = self.condition(self.scope(subject, computed=True))
            text = f"alert a{number + 1}{self.labelled()} on {subject} when {condition}"
            if self.draw(st.booleans()):
                text += f" severity {self.pick(('info', 'warning', 'critical'))}"
            found.append(Declaration("alert", text))
        return found

    def rituals(self) -> list[Declaration]:
        """A ritual showing reports and KPIs, now and then."""
        if not self.draw(st.booleans()):
            return []
        shows = self.subset((*REPORTS, *self.kpi_names), 1, 3)
        every = self.pick(("week", "month", "quarter"))
        return [
            Declaration(
                "ritual",
                f"ritual r1{self.labelled()} every {every} {{\n  show {', '.join(shows)}\n}}",
            )
        ]

    def strategy(self) -> list[Declaration]:
        """A strategy block, now and then."""
        if not self.chance(3):
            return []
        scope = self.scope("deal")
        target, baseline = self.money(Decimal(8_000_000)), self.money(Decimal(5_000_000))
        items = [
            f"target revenue {target} from {baseline}",
            f"growth new_logo 60% when {self.condition(scope, 1)}",
            f"growth upsell 40% when {self.condition(scope, 0)}",
            f"focus {self.condition(scope, 1)}",
            f"tolerance {self.pick(('0', '5', '2.5', '100'))} pts",
        ]
        # A channel share reads the deals' `channel` field: only when the deal record has one.
        if any(spec.name == "channel" for spec in self.fields.get("deal", ())):
            items.append("channel direct 100%")
        body = "".join(f"\n  {i}" for i in self.subset(items, 1))
        return [Declaration("strategy", f"strategy{self.labelled()} {{{body}\n}}")]

    def bad(self) -> Declaration:
        """One declaration the checker must reject (a type or name error)."""
        other = "USD" if self.currency != "USD" else "EUR"
        texts = [
            "alert bad on deal when amount > 2026-01-01",
            "alert bad on deal when close_date > 50K",
            "alert bad on deal when type",
            "alert bad on deal when amount * amount > 1K",
            "alert bad on deal when type == nouveau",
            "alert bad on deal when status < won",
            "alert bad on deal when count(status == won) > 3",
            "alert bad on deal when attainment(bookings) < 40%",
            f"alert bad on deal when amount > 50K {other}",
            "alert bad on deal when created_at + 14 < close_date",
            "alert bad on deal when stage == demo",
            "alert bad on lead when reached(demo)",
            "kpi bad on deal = sum(close_date)",
            "kpi bad on deal = amount",
            "kpi bad on deal = mean(close_date - created_at) target >= 30%",
            "role bad { plan missing_plan }",
        ]
        return Declaration("alert", self.pick(texts))


#: Measure weights summing to 100%, by number of measures.
_WEIGHTS: dict[int, tuple[tuple[str, ...], ...]] = {
    1: (("100%",),),
    2: (("60%", "40%"), ("50%", "50%"), ("12.5%", "87.5%")),
    3: (("60%", "30%", "10%"), ("50%", "30%", "20%")),
}
_ATTAINMENT_CUTS = tuple(Decimal(v) for v in ("0.5", "0.8", "1", "1.2"))
_AMOUNT_CUTS = tuple(Decimal(v) for v in ("20000", "50000", "100000"))
_BAND_VALUES = tuple(Decimal(v) for v in ("0", "0.05", "0.1", "0.15", "0.5", "1"))
_PROBABILITIES = tuple(Decimal(v) for v in ("0.05", "0.1", "0.125", "0.333", "0.6", "0.95", "1"))
_EFFECTIVE = (
    (dt.date(2026, 1, 1), dt.date(2026, 12, 31)),
    (dt.date(2026, 4, 1), dt.date(2026, 9, 30)),
    (dt.date(2025, 7, 1), dt.date(2026, 6, 30)),
    None,
)


def _same_family(a: FieldSpec, b: FieldSpec) -> bool:
    """Whether `min(a, b)` compares like with like (amounts with amounts)."""
    money = {a.kind, b.kind} & {"money"}
    return not money or a.kind == b.kind


@st.composite
def rulesets(draw: st.DrawFn, avoid: Iterable[str] = ()) -> Ruleset:
    """A ruleset of every kind of declaration, typed so that check accepts it (see module)."""
    skipped = frozenset(avoid) - {"short_periods"}
    unknown = skipped - FEATURES
    if unknown:
        raise ValueError(f"unknown features: {sorted(unknown)}")
    b = _Builder(draw, skipped)
    header = b.header()
    declarations = b.records()
    declarations += b.pipelines()
    drafts = b.plan_drafts()
    score_names = ["s_fit", "s_grade", "s_bant", "s_meddpicc"]
    for record in ("lead", "deal"):
        found, names = b.scores(record, score_names)
        declarations += found
        routes = b.qualify(record, names)
        if routes is not None:
            declarations.append(routes)
    declarations += b.playbooks()
    declarations += b.kpis()
    plans: list[PlanSpec] = []
    for draft in drafts:
        declaration, spec = b.plan(draft)
        declarations.append(declaration)
        plans.append(spec)
    declarations += b.roles([(p.name, p.role) for p in plans])
    declarations += b.alerts()
    declarations += b.rituals()
    declarations += b.strategy()
    valid = not b.chance(10)
    if not valid:
        declarations.append(b.bad())
    roles = tuple(sorted({p.role for p in plans} | set(b.extra_roles)))
    return Ruleset(
        header=header,
        declarations=tuple(declarations),
        valid=valid,
        currency=b.currency,
        fields=dict(b.fields),
        stages=tuple(b.stages),
        roles=roles,
        plans=tuple(plans),
        boundaries={key: tuple(sorted(values, key=str)) for key, values in b.boundaries.items()},
        durations=tuple(sorted(b.durations)),
    )


# ============================================================================ data
@dataclass(frozen=True, repr=False)
class Dataset:
    """Input tables of text cells (None is an empty cell), the as-of date and the period."""

    tables: Mapping[str, pd.DataFrame]
    as_of: dt.date
    period: str | None

    def _repr_pretty_(self, printer: object, cycle: bool) -> None:
        printer.text(repr(self))  # type: ignore[attr-defined]

    def __repr__(self) -> str:
        sizes = ", ".join(f"{len(frame)} {name}" for name, frame in self.tables.items())
        return f"Dataset({sizes}, as_of={self.as_of}, period={self.period})"


def _maybe(draw: st.DrawFn, value: st.SearchStrategy[T], one_in: int = 6) -> T | None:
    """A drawn value, or None (an empty cell) about once in `one_in` draws."""
    if draw(st.integers(0, one_in - 1)) == 0:
        return None
    return draw(value)


def _money_cell(value: Decimal) -> str:
    """An amount with two decimals, as exported."""
    return f"{value:.2f}"


def _spelled_money(value: Decimal, style: int) -> str:
    """An amount as exports write it: `48000.00`, `48000`, `48 000,00`."""
    if style == 1 and value == value.to_integral_value():
        return str(int(value))
    if style == 2:
        whole, _, cents = f"{value:.2f}".partition(".")
        return f"{int(whole):,}".replace(",", " ") + "," + cents
    return _money_cell(value)


def _money_values(levels: Iterable[object]) -> st.SearchStrategy[str]:
    """Amount cells: the boundaries, a cent either side, common and random amounts."""
    exact = [Decimal(str(v)) for v in levels if isinstance(v, Decimal)]
    near = [v + delta for v in exact for delta in (Decimal("-0.01"), Decimal("0.01"))]
    common = [Decimal(v) for v in ("0", "1000", "20000", "48000", "50000", "120000", "250000")]
    cents = st.integers(0, 30_000_000).map(lambda c: Decimal(c).scaleb(-2))
    values = st.one_of(st.sampled_from(sorted(set(exact + near + common))), cents)
    return st.builds(_spelled_money, values, st.sampled_from((0, 0, 1, 2)))


def _cell(spec: FieldSpec, record: str, ruleset: Ruleset) -> st.SearchStrategy[str]:
    """Text cells that fit a field: its options, range, boundaries, a few spellings."""
    levels = ruleset.boundaries.get((record, spec.name), ())
    kind = spec.kind
    if kind == "one_of":
        return st.sampled_from(spec.options)
    if kind == "boolean":
        return st.sampled_from(("true", "false", "oui", "non", "1", "0", "Oui", "FALSE"))
    if kind == "money":
        return _money_values(levels)
    if kind == "integer":
        low = spec.low if spec.low is not None else -1
        high = spec.high if spec.high is not None else 300
        near = [int(v) + d for v in levels if isinstance(v, Decimal) for d in (-1, 0, 1)]
        fitting = [v for v in near if low <= v <= high and v == int(v)]
        inside = st.integers(low, high)
        return (st.sampled_from(sorted(set(fitting))) | inside if fitting else inside).map(str)
    if kind == "number":
        exact = [v for v in levels if isinstance(v, Decimal)]
        common = [Decimal(v) for v in ("0", "1", "2.5", "3", "6", "6.5", "0.3")]
        numbers = st.sampled_from(sorted(set(exact + common))).map(plain_number)
        return numbers | numbers.map(lambda text: text.replace(".", ","))
    if kind == "percent":
        exact = [v for v in levels if isinstance(v, Decimal)]
        common = [Decimal(v) for v in ("0", "0.05", "0.149", "0.15", "0.2", "1")]
        values = st.sampled_from(sorted(set(exact + common)))
        return st.one_of(
            values.map(lambda v: plain_number(v * 100) + "%"), values.map(plain_number)
        )
    if kind == "date":
        dates = [v for v in levels if isinstance(v, dt.date)]
        around = [d + dt.timedelta(days=k) for d in dates for k in (-1, 0, 1)]
        days = st.dates(FIRST_DAY, LAST_DAY)
        chosen = st.sampled_from(around) | days if around else days
        return chosen.map(dt.date.isoformat) | chosen.map(lambda d: d.strftime("%d/%m/%Y"))
    return st.sampled_from(TEXT_VALUES.get(spec.name, ("x", "y", "Camille")))


def _invalid(spec: FieldSpec) -> str:
    """A cell validation must reject (any text is valid text: never asked for one)."""
    if spec.kind == "one_of":
        return "inconnu"
    if spec.kind == "integer" and spec.high is not None:
        return str(spec.high + 1)
    return {"boolean": "peut-être", "date": "2026-02-30", "money": "1.234"}.get(spec.kind, "n/a")


def _row(
    draw: st.DrawFn,
    record: str,
    ruleset: Ruleset,
    fixed: Mapping[str, str | None],
    bad_rows: bool,
) -> dict[str, str | None]:
    """One input row: the fixed cells, then a fitting (or empty) cell for every other field."""
    row: dict[str, str | None] = dict(fixed)
    specs = ruleset.input_fields(record)
    for spec in specs:
        if spec.name not in row:
            row[spec.name] = _maybe(draw, _cell(spec, record, ruleset))
    typed = [s for s in specs if s.name not in fixed and s.kind != "text"]
    if bad_rows and typed and draw(st.integers(0, 9)) == 0:
        spec = draw(st.sampled_from(typed))
        row[spec.name] = _invalid(spec)
    return row


def _frame(rows: list[dict[str, str | None]], record: str, ruleset: Ruleset) -> pd.DataFrame:
    """Rows as a table of text cells, the record's columns first."""
    columns = [spec.name for spec in ruleset.input_fields(record)]
    for row in rows:
        columns += [name for name in row if name not in columns]
    return pd.DataFrame(
        [[row.get(c) for c in columns] for row in rows], columns=columns, dtype=object
    )


def period_ids(unit: str, start: dt.date, end: dt.date) -> list[str]:
    """The ids of the periods of `unit` (month, quarter, year) sharing a day with [start, end]."""
    found: list[str] = []
    month = dt.date(start.year, start.month, 1)
    while month <= end:
        if unit == "year":
            found.append(f"{month.year}")
        elif unit == "quarter":
            found.append(f"{month.year}-Q{(month.month - 1) // 3 + 1}")
        else:
            found.append(f"{month.year}-{month.month:02d}")
        month = dt.date(month.year + month.month // 12, month.month % 12 + 1, 1)
    return list(dict.fromkeys(found))


@st.composite
def datasets(
    draw: st.DrawFn, ruleset: Ruleset, *, bad_rows: bool = True, avoid: Iterable[str] = ()
) -> Dataset:
    """Input tables for the ruleset: every declared field, fitting values, boundaries, empty
    cells, and (with `bad_rows`) now and then a row validation must reject; the as-of date
    and the period to evaluate (`avoid` as for `rulesets`)."""
    territories: list[dict[str, str | None]] = [
        {
            "id": tid,
            "name": draw(st.sampled_from(("Île-de-France", "Bretagne"))),
            "potential": draw(st.sampled_from(("1.3", "0.7", "1", "1.25"))),
        }
        for tid in TERRITORY_IDS[: draw(st.integers(0, 3))]
    ]
    territories = [_row(draw, "territory", ruleset, t, False) for t in territories]
    reps: list[dict[str, str | None]] = []
    roles = list(ruleset.roles) or ["AE"]
    for rep_id in REP_IDS[: draw(st.integers(0, 3))]:
        fixed: dict[str, str | None] = {
            "id": rep_id,
            "role": _maybe(draw, st.sampled_from(roles), 10),
            "territory": _maybe(draw, st.sampled_from(TERRITORY_IDS), 6),
            "hire_date": _maybe(
                draw, st.sampled_from(("2020-05-04", "2026-02-15", "2026-05-01", "2026-12-01")), 2
            ),
        }
        reps.append(_row(draw, "rep", ruleset, fixed, False))
    rep_ids = [str(r["id"]) for r in reps] or ["R1"]
    stages = list(ruleset.stages)
    as_of = draw(
        st.sampled_from((dt.date(2026, 3, 31), dt.date(2026, 6, 30), dt.date(2026, 12, 31)))
    )
    deals: list[dict[str, str | None]] = []
    events: list[dict[str, str | None]] = []
    statuses = next(
        (f.options for f in ruleset.input_fields("deal") if f.name == "status"), ("open",)
    )
    for number in range(draw(st.integers(0, 6))):
        deal_id = f"D{number + 1}"
        stage = _maybe(draw, st.sampled_from(stages), 6) if stages else None
        fixed = {
            "id": deal_id,
            "status": draw(st.sampled_from(statuses)),
            "rep_id": _maybe(draw, st.sampled_from([*rep_ids, "R9"]), 8),
            "stage": None if stage is None else stage.name,
        }
        if "sdr_id" in {f.name for f in ruleset.input_fields("deal")}:
            fixed["sdr_id"] = _maybe(draw, st.sampled_from(rep_ids), 3)
        if stage is not None and stage.max_days is not None and draw(st.booleans()):
            days = stage.max_days + draw(st.sampled_from((0, 1)))
            fixed["stage_entered_at"] = (as_of - dt.timedelta(days=days)).isoformat()
        if ruleset.durations and draw(st.integers(0, 3)) == 0:
            created = draw(st.dates(dt.date(2026, 1, 1), dt.date(2026, 6, 30)))
            span = draw(st.sampled_from(ruleset.durations)) + draw(st.sampled_from((-1, 0, 1)))
            fixed["created_at"] = created.isoformat()
            fixed["close_date"] = (created + dt.timedelta(days=span)).isoformat()
        row = _row(draw, "deal", ruleset, fixed, bad_rows)
        deals.append(row)
        if stage is not None:
            events += _events(draw, ruleset, deal_id, stage, row.get("stage_entered_at"))
    leads = [
        _row(draw, "lead", ruleset, {"id": f"L{number + 1}"}, bad_rows)
        for number in range(draw(st.integers(0, 5)))
    ]
    amounts = [Decimal(str(d["amount"])) for d in deals if _is_amount(d.get("amount"))]
    quotas = _quotas(draw, ruleset, reps, amounts)
    periods: list[str | None] = [None, None, "2026-Q1", "2026-Q2", "2026", "2026-03"]
    units = {plan.unit or "quarter" for plan in ruleset.plans}
    if "short_periods" in avoid and units - {"month"}:
        periods.remove("2026-03")
        if "year" in units:
            periods = [p for p in periods if p is None or "-" not in p]
    period = draw(st.sampled_from(periods))
    tables = {
        "leads": _frame(leads, "lead", ruleset),
        "deals": _frame(deals, "deal", ruleset),
        "stage_events": _frame(events, "stage_event", ruleset),
        "reps": _frame(reps, "rep", ruleset),
        "quotas": _frame(quotas, "quota", ruleset),
        "territories": _frame(territories, "territory", ruleset),
    }
    return Dataset(tables, as_of, period)


def _is_amount(text: str | None) -> bool:
    """Whether a cell is a positive amount in cents (quotas are drawn from them)."""
    try:
        return text is not None and Decimal(text) > 0 and Decimal(text) * 100 % 1 == 0
    except ArithmeticError:
        return False


def _events(
    draw: st.DrawFn, ruleset: Ruleset, deal_id: str, stage: StageSpec, entered: str | None
) -> list[dict[str, str | None]]:
    """Stage events of one deal: some stages of its pipeline up to the current one, dated in
    order, the current stage's event on its entry date (so history and row agree)."""
    path = [s for s in ruleset.stages if s.pipeline == stage.pipeline]
    upto = path[: path.index(stage) + 1]
    if not draw(st.booleans()):
        return []
    chosen = [s for s in upto[:-1] if draw(st.booleans())]
    try:
        last = dt.date.fromisoformat(entered) if entered else None
    except ValueError:
        last = None  # an invalid cell: the row is rejected
    if last is None:
        return []  # without an entry date the history would fill it in: keep the row alone
    rows: list[dict[str, str | None]] = []
    day = last - dt.timedelta(days=7 * (len(chosen) + 1))
    for earlier in chosen:
        day += dt.timedelta(days=7)
        rows.append({"deal_id": deal_id, "stage": earlier.name, "entered_at": day.isoformat()})
    rows.append({"deal_id": deal_id, "stage": stage.name, "entered_at": last.isoformat()})
    return rows


def _quotas(
    draw: st.DrawFn,
    ruleset: Ruleset,
    reps: list[dict[str, str | None]],
    amounts: list[Decimal],
) -> list[dict[str, str | None]]:
    """A quota row per rep, quota measure and period of the plans of the rep's role; a few
    left out, and values from which some deal amounts are exactly 80% or 100%."""
    values = sorted({*amounts, *(a * Decimal("1.25") for a in amounts), Decimal(100000)})
    rows: list[dict[str, str | None]] = []
    for rep in reps:
        for plan in ruleset.plans:
            if plan.role != rep.get("role"):
                continue
            start, end = plan.effective or (dt.date(YEAR, 1, 1), dt.date(YEAR, 12, 31))
            for measure in plan.quota_measures:
                for period in period_ids(plan.unit or "quarter", start, end):
                    if draw(st.integers(0, 11)) == 0:
                        continue
                    value = draw(st.sampled_from(values))
                    rows.append(
                        {
                            "rep_id": str(rep["id"]),
                            "period": period,
                            "measure": measure,
                            "quota": _money_cell(value),
                        }
                    )
    unique = {(r["rep_id"], r["period"], r["measure"]): r for r in rows}
    return list(unique.values())


@st.composite
def scenarios(draw: st.DrawFn, avoid: Iterable[str] = ()) -> tuple[Ruleset, Dataset]:
    """A ruleset and input tables that fit it."""
    ruleset = draw(rulesets(avoid))
    return ruleset, draw(datasets(ruleset, avoid=avoid))
