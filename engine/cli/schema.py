"""`koncept schema RULESET --table deals`: the JSON Schema of one input table for a ruleset.

The canonical columns (`schemas/<record>.schema.json`) extended by the ruleset's `record`
declarations, exactly the columns `koncept eval` validates: added fields, narrowed types
(`source one_of referral, ...`), declared ranges (`integer 0..2` gives `minimum` and `maximum`)
and the labels of options. Values the engine computes (`days_in_stage`, `gross_margin`...) are
not inputs and are left out. Prints nothing else; does not import pandas.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine.schemas import FILE_NAMES, RECORD_NAMES

if TYPE_CHECKING:
    from dsl.canonical import Column
    from dsl.model import Model

__all__ = ["effective_schema", "register", "ruleset_columns", "run"]


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    """Add the `schema` subcommand."""
    parser = subparsers.add_parser(
        "schema",
        help="print the JSON Schema of an input table for a ruleset",
        description="Print the JSON Schema (draft 2020-12) of one row of an input table, with "
        "the columns the ruleset's record declarations add or narrow. Exit 0: printed; 1: the "
        "ruleset has errors; 2: usage or unreadable input.",
    )
    parser.add_argument("ruleset", type=Path, help="ruleset folder or .krl file")
    parser.add_argument(
        "--table",
        required=True,
        choices=[*FILE_NAMES.values(), *FILE_NAMES],
        metavar="TABLE",
        help=f"one of {', '.join(FILE_NAMES.values())}",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Print the table's effective schema."""
    from engine.cli._common import load_program
    from engine.schemas import dumps

    program = load_program(args.ruleset)
    if isinstance(program, int):
        return program
    sys.stdout.write(dumps(effective_schema(program.model, args.table)))
    return 0


def ruleset_columns(model: Model, record: str) -> tuple[Column, ...]:
    """The columns of `record` a ruleset declares (read from input, not computed)."""
    from dsl.canonical import Column
    from engine.record import DERIVED

    declared = model.declared_records.get(record)
    if declared is None:
        return ()
    return tuple(
        Column(f.name.name, f.type.name, False, tuple(o.name.name for o in f.type.options))
        for f in declared.fields
        if f.name.name not in DERIVED
    )


def effective_schema(model: Model, table: str) -> dict[str, Any]:
    """The JSON Schema of one row of `table` (`deals` or `deal`) for this ruleset."""
    from engine.schemas import table_schema

    record = RECORD_NAMES.get(table, table)
    schema = table_schema(record, ruleset_columns(model, record))
    ruleset = model.ruleset.name.name if model.ruleset is not None else None
    if ruleset:
        schema["$id"] = f"{schema['$id']}:{ruleset}"
        schema["title"] = f"{record} ({ruleset})"
    stages = list(model.stages)
    stage = schema["properties"].get("stage")
    if stages and stage is not None and record in ("deal", "stage_event"):
        # Validation refuses a stage the pipelines do not declare.
        required = "stage" in schema["required"]
        stage.pop("type", None)
        stage["enum"] = stages if required else [*stages, None]
        stage["description"] += ": a stage of the ruleset's pipelines"
    fields = model.records.get(record, {})
    for name, prop in schema["properties"].items():
        kind = fields.get(name)
        if kind is None:
            continue
        if kind.range is not None and kind.kind in ("integer", "number", "percent", "money"):
            low, high = kind.range
            # Whole bounds as integers so `integer 0..2` reads as it is written.
            prop["minimum"] = int(low) if low == low.to_integral_value() else float(low)
            prop["maximum"] = int(high) if high == high.to_integral_value() else float(high)
            prop["description"] += f", {low.normalize():f}..{high.normalize():f}"
        if kind.labels:
            shown = ", ".join(f"{option} ({label})" for option, label in kind.labels)
            prop["description"] += f": {shown}"
    return schema
