"""`koncept statement RULESET --rep ID --period P --data DIR`: a rep's pay, in plain words
(built by `engine.statement`)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

__all__ = ["register", "run"]


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
    parser.add_argument("--period", required=True, help="e.g. 2026-Q1, 2026-03, 2026-H1 or 2026")
    parser.add_argument("--data", required=True, type=Path, help="folder of input tables")
    parser.add_argument("--mapping", type=Path, help="CRM mapping file (YAML)")
    parser.add_argument("--splits", type=Path, help="splits table (deal_id, rep_id, share)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Load the ruleset and the data, print the statement."""
    from engine.data import DataError, load_inputs, read_table
    from engine.loader import RulesetError, load
    from engine.statement import build_statement

    try:
        program = load(args.ruleset)
    except RulesetError as error:
        sys.stderr.write(error.render())
        return 2
    try:
        tables: dict[str, Any] = dict(load_inputs(args.data, args.mapping))
        splits_path = args.splits or _find_splits(args.data)
        tables["splits"] = read_table(splits_path) if splits_path else None
    except DataError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    try:
        statement = build_statement(program, tables, args.rep, args.period)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    sys.stdout.write(statement.text)
    return 0 if statement.ok else 1


def _find_splits(folder: Path) -> Path | None:
    for extension in (".csv", ".xlsx", ".json", ".parquet"):
        path = folder / f"splits{extension}"
        if path.is_file():
            return path
    return None
