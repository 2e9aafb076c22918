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

from engine.schemas import FILE_NAMES

if TYPE_CHECKING:
    pass

__all__ = ["register", "run"]


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
    from engine.schemas import dumps, effective_schema

    program = load_program(args.ruleset)
    if isinstance(program, int):
        return program
    sys.stdout.write(dumps(effective_schema(program.model, args.table)))
    return 0
