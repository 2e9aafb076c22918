"""The canonical input tables: every ruleset's records start from these columns.

The checker types expressions against them (extended by a ruleset's `record` declarations) and
the engine builds its JSON Schemas from them, so the two can never disagree.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

#: The dates a ruleset may write and a date cell may hold: outside them a date is a typo
#: (0202, 20226) or a placeholder (0001-01-01, 9999-12-31), never a real plan or deal.
FIRST_DAY, LAST_DAY = dt.date(1900, 1, 1), dt.date(2199, 12, 31)

#: Scalar types a field can have; `one_of` adds a closed set of option ids.
SCALAR_TYPES = ("text", "number", "integer", "money", "percent", "boolean", "date")


@dataclass(frozen=True, slots=True)
class Column:
    """One canonical column: its type, whether a row must have it, and its options if any."""

    name: str
    type: str
    required: bool = False
    options: tuple[str, ...] = ()


#: record name -> canonical columns (the record names a ruleset may declare or extend).
TABLES: dict[str, tuple[Column, ...]] = {
    "lead": (
        Column("id", "text", required=True),
        Column("created_at", "date"),
        Column("source", "text"),
    ),
    "deal": (
        Column("id", "text", required=True),
        Column("rep_id", "text"),
        Column("account", "text"),
        Column("type", "one_of", options=("new_logo", "upsell", "renewal")),
        Column("amount", "money"),
        Column("cost", "money"),
        Column("stage", "text"),
        Column("stage_entered_at", "date"),
        Column("created_at", "date"),
        Column("close_date", "date"),
        Column("status", "one_of", required=True, options=("open", "won", "lost")),
        Column("contacts", "integer"),
    ),
    "stage_event": (
        Column("deal_id", "text", required=True),
        Column("stage", "text", required=True),
        Column("entered_at", "date", required=True),
    ),
    "rep": (
        Column("id", "text", required=True),
        Column("name", "text"),
        Column("role", "text"),
        Column("territory", "text"),
        Column("hire_date", "date"),
    ),
    "quota": (
        Column("rep_id", "text", required=True),
        Column("period", "text", required=True),
        Column("measure", "text", required=True),
        Column("quota", "money", required=True),
    ),
    "territory": (
        Column("id", "text", required=True),
        Column("name", "text"),
        Column("potential", "number", required=True),
    ),
    # Quota relief (leave, territory change...): lowers one quota by an amount or a share.
    "quota_relief": (
        Column("rep_id", "text", required=True),
        Column("period", "text", required=True),
        Column("measure", "text", required=True),
        Column("amount", "money"),
        Column("share", "percent"),
        Column("reason", "text"),
    ),
    # Won deals later cancelled or churned: plans with a `clawback` recover their pay.
    "cancellation": (
        Column("deal_id", "text", required=True),
        Column("date", "date", required=True),
        Column("reason", "text"),
    ),
}

#: Values the engine derives per record; usable in expressions but never read from input.
DERIVED: dict[str, tuple[Column, ...]] = {
    "deal": (
        Column("gross_margin", "money"),  # amount - cost
        Column("margin_rate", "percent"),  # gross_margin / amount
        Column("days_in_stage", "integer"),
        Column("stale", "boolean"),
        Column("exit_ready", "boolean"),
        Column("weighted_value", "money"),  # amount x stage probability
    ),
    "rep": (Column("period", "text"),),
}

#: The names of every derived value, whatever its record (never read from input).
DERIVED_NAMES = frozenset(c.name for columns in DERIVED.values() for c in columns)

#: Record names as they appear in plural in `credit ... of deals`; pay credits deals only.
PLURALS = {"leads": "lead", "deals": "deal", "reps": "rep"}
CREDITED = frozenset({"deals"})

#: Records a field may link to (`territory.potential`): those with an `id`.
LINKABLE = frozenset(t for t, columns in TABLES.items() if columns and columns[0].name == "id")

#: How yes/no cells may be written (compared in lower case).
TRUE_WORDS = ("true", "yes", "oui", "vrai", "1")
FALSE_WORDS = ("false", "no", "non", "faux", "0")

#: Amounts are kept as integer cents below this bound (10^13 units of currency: far above any
#: deal, and exact through a float64 on the way).
MAX_CENTS = 10**15

# The words of the language's keyword values (`period quarter`, `method marginal`...): the
# checker refuses any other, and the engine maps each of them.
ROUNDING_MODES = ("half_up", "half_even", "half_down", "up", "down")
PERIODS = ("month", "quarter", "year")
#: Period units, with how many fit in a year (plans measure per month, quarter or year; a half
#: year can be asked for, as `koncept eval --period 2026-H1` allows, or paid by `pays`).
PERIODS_PER_YEAR = {"month": 12, "quarter": 4, "half": 2, "year": 1}
THRESHOLD_MODES = ("gate", "floor")
RATE_METHODS = ("retroactive", "marginal")
RATE_BASES = ("attainment", "amount")
PRORATIONS = ("daily", "none")
#: `pays monthly`: how often a plan pays, and the period unit of each word.
PAY_FREQUENCIES = {
    "monthly": "month",
    "quarterly": "quarter",
    "half_yearly": "half",
    "yearly": "year",
}
TRUE_UPS = ("carry_forward", "recover", "floor")
DRAW_KINDS = ("recoverable", "non_recoverable")
CLAWBACK_MODES = ("full", "prorata")
VERSION_SPLITS = ("close_date", "days")
RITUAL_EVERY = ("week", "month", "quarter")
REPORTS = ("stale_deals", "missing_exit_criteria", "kpis", "alerts", "attainment", "funnel")
SEVERITIES = ("info", "warning", "critical")
KPI_FAMILIES = ("volume", "profitability", "efficiency", "quality")
#: What a strategy's `target` may measure (won deal amounts), and the deal field its `channel`
#: lines read.
STRATEGY_MEASURES = ("revenue",)
STRATEGY_CHANNEL_FIELD = "channel"
