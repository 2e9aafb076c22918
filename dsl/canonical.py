"""The canonical input tables: every ruleset's records start from these columns.

The checker types expressions against them (extended by a ruleset's `record` declarations) and
the engine builds its JSON Schemas from them, so the two can never disagree.
"""

from __future__ import annotations

from dataclasses import dataclass

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

#: Record names as they appear in plural in `credit ... of deals`.
PLURALS = {"leads": "lead", "deals": "deal", "reps": "rep"}
