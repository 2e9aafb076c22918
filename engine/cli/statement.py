"""`koncept statement RULESET --rep ID --period P --data DIR | --demo [N]`: a rep's pay, in plain
words (built by `engine.statement`). The tables are read as `koncept eval` reads them: the same
mapping (`--mapping`, else the data folder's or the ruleset's `mapping.yaml`), the same
validation, and the invalid rows listed on stderr as `koncept eval` lists them. A split row
that names no deal is an error (listed; exit 1)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from engine.cli._common import (
    add_input_arguments,
    load_program,
    period_text,
    read_inputs,
    report_data_error,
    report_unexpected,
)

__all__ = ["register", "run"]

#: Input errors listed on stderr (`koncept eval` lists them all in its errors table).
SHOWN_ERRORS = 20


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    """Add the `statement` subcommand."""
    parser = subparsers.add_parser(
        "statement",
        help="print a rep's variable-pay statement for a period",
        description="Explain a rep's variable pay for a period in plain words: each line traced "
        "to the plan and the deals behind it. Exit 0: computed; 1: something could not be paid "
        "or credited (listed); 2: usage or input error.",
    )
    parser.add_argument("ruleset", type=Path, help="ruleset folder or .krl file")
    parser.add_argument("--rep", required=True, help="the rep's id (reps table)")
    parser.add_argument(
        "--period", type=period_text, required=True, help="e.g. 2026-Q1, 2026-03, 2026-H1 or 2026"
    )
    add_input_arguments(parser)
    parser.add_argument("--splits", type=Path, help="splits table (deal_id, rep_id, share)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Load the ruleset and the data, print the statement."""
    program = load_program(args.ruleset)
    if isinstance(program, int):
        return program
    from engine.data import DataError, read_table
    from engine.statement import build_statement

    try:
        inputs = read_inputs(program, args)
        if inputs is None:
            return 2
        tables: dict[str, Any] = dict(inputs.tables)
        splits_path = args.splits or _find_splits(args.data)
        tables["splits"] = read_table(splits_path) if splits_path else None
        statement = build_statement(program, tables, args.rep, args.period)
    except DataError as error:
        return report_data_error(error)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except Exception as error:
        return report_unexpected(error)
    if statement.errors:
        print(f"{len(statement.errors):,} error(s) in the input:", file=sys.stderr)
        for line in statement.errors[:SHOWN_ERRORS]:
            print(f"  {line}", file=sys.stderr)
        if len(statement.errors) > SHOWN_ERRORS:
            print(f"  ... and {len(statement.errors) - SHOWN_ERRORS:,} more", file=sys.stderr)
    sys.stdout.write(statement.text)
    return 0 if statement.ok else 1


def _find_splits(folder: Path | None) -> Path | None:
    from engine.data import EXTENSIONS

    if folder is None:
        return None
    return next(
        (folder / f"splits{e}" for e in EXTENSIONS if (folder / f"splits{e}").is_file()), None
    )
