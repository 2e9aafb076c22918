"""`koncept demo RULESET --out DIR [--leads N] [--deals N] [--seed S]`: synthetic input tables.

The tables follow the ruleset: its record declarations (one_of options, declared ranges), its
stages, the quota measures of its plans, and the year its plans are effective (2026 when none
says). The same arguments always write the same files, as one set: all of them or (interrupted,
or the disk full) none. `koncept eval --demo` and `koncept
explain --demo` evaluate the same tables without writing them.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from engine.cli._common import DEFAULT_ROWS, cannot_write, load_program, row_count, seed_number

__all__ = ["register", "run"]


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    """Add the `demo` subcommand."""
    parser = subparsers.add_parser(
        "demo",
        help="write synthetic input tables for a ruleset",
        description="Write deterministic synthetic input tables (CSV) that fit a ruleset: "
        "leads, deals, stage_events, reps, quotas, territories. Exit 0: written; 1: the ruleset "
        "has errors; 2: usage or unreadable input.",
    )
    parser.add_argument("ruleset", type=Path, help="ruleset folder or .krl file")
    parser.add_argument("--out", type=Path, required=True, metavar="DIR", help="folder to write")
    parser.add_argument(
        "--leads", type=row_count, default=DEFAULT_ROWS, metavar="N", help="leads (1000)"
    )
    parser.add_argument(
        "--deals", type=row_count, default=DEFAULT_ROWS, metavar="N", help="deals (1000)"
    )
    parser.add_argument(
        "--seed", type=seed_number, default=0, help="random seed (0; up to 2**32-1)"
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Generate and write the tables; list the files on stderr."""
    from engine.demo import demo_tables, write
    from engine.files import atomic_files

    program = load_program(args.ruleset)
    if isinstance(program, int):
        return program
    tables, _ = demo_tables(program, args.leads, args.deals, args.seed)
    try:
        with atomic_files(args.out) as place:
            # `write` writes these names into the temporary folder; they are renamed at the end.
            staged = [place(f"{name}.csv") for name in tables] + [place("mapping.yaml")]
            written = write(tables, staged[0].parent)
        paths = [args.out / path.name for path in written]
    except OSError as error:
        return cannot_write(error, args.out)
    *files, mapping = paths
    for path, frame in zip(files, tables.values(), strict=True):
        print(f"{path}: {len(frame):,} rows", file=sys.stderr)
    print(f"{mapping}: the tables are canonical (read as they are)", file=sys.stderr)
    return 0
