"""`koncept demo RULESET --out DIR [--leads N] [--deals N] [--seed S]`: synthetic input tables.

The tables follow the ruleset: its record declarations (one_of options, declared ranges), its
stages, the quota measures of its plans, and the year its plans are effective (2026 when none
says). The same arguments always write the same files. `koncept eval --demo` and `koncept
explain --demo` evaluate the same tables without writing them.
"""

from __future__ import annotations

import argparse
import sys
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

    from engine.program import Program

__all__ = ["DEFAULT_ROWS", "demo_tables", "register", "row_count", "run"]

#: Rows of leads and of deals `--demo` generates when no number is given.
DEFAULT_ROWS = 1_000
_MAX_ROWS = 50_000_000


def row_count(text: str) -> int:
    """An argparse type: a number of rows (`1000`, `1_000`, `10k`, `1.5M`)."""
    cleaned = text.strip().lower().replace("_", "")
    factor = {"k": 1_000, "m": 1_000_000}.get(cleaned[-1:], 1)
    digits = cleaned[:-1] if factor > 1 else cleaned
    try:
        number = Decimal(digits) * factor
    except ArithmeticError:
        number = Decimal(-1)
    if not number.is_finite() or number != number.to_integral_value():
        number = Decimal(-1)
    if not 0 <= number <= _MAX_ROWS:
        raise argparse.ArgumentTypeError(
            f"expected a number of rows from 0 to {_MAX_ROWS:,} (like 1000 or 10k), not {text!r}"
        )
    return int(number)


def demo_tables(
    program: Program, n_leads: int = DEFAULT_ROWS, n_deals: int = DEFAULT_ROWS, seed: int = 0
) -> tuple[dict[str, pd.DataFrame], int]:
    """Deterministic synthetic tables for a ruleset (its roles, stages, quota measures and
    plan year), and the year they cover."""
    from dsl.canonical import TABLES
    from engine.demo import DEFAULT_MEASURES, DEFAULT_STAGES, generate
    from engine.vector import table_columns

    model = program.model
    book = program.book
    years = sorted(p.effective[0].year for p in book.plans.values() if p.effective is not None)
    year = years[0] if years else 2026
    ranges = {
        (record, name): (float(kind.range[0]), float(kind.range[1]))
        for record, fields in model.records.items()
        for name, kind in fields.items()
        if kind.range is not None
    }
    tables = generate(
        {record: table_columns(model, record) for record in TABLES},
        n_leads=n_leads,
        n_deals=n_deals,
        seed=seed,
        stages=tuple(program.compiled.stages) or DEFAULT_STAGES,
        measures=tuple(sorted(book.quota_measures)) if book.plans else DEFAULT_MEASURES,
        ranges=ranges,
        year=year,
    )
    declared = list(model.roles)
    if declared:
        tables["reps"] = _client_roles(
            tables["reps"], declared, [r for r in declared if book.roles.get(r)]
        )
    return tables, year


def _client_roles(reps: pd.DataFrame, declared: list[str], planned: list[str]) -> pd.DataFrame:
    """The generated team (AE, SDR, AM) in the ruleset's roles.

    A quota-carrying rep (AE, AM) of a role the ruleset lacks takes its first role with a plan
    (maven: agents); an SDR of a missing role takes a role without a plan, or leaves (SDRs own
    no deal and have no quota, so nothing else changes).
    """
    role = reps["role"]
    known = role.isin(declared)
    carrying = ~known & role.isin(["AE", "AM"])
    unplanned = [r for r in declared if r not in planned]
    renamed = role.mask(carrying, (planned or declared)[0])
    if unplanned:
        renamed = renamed.mask(~known & ~carrying, unplanned[0])
        return reps.assign(role=renamed)
    return reps.assign(role=renamed)[(known | carrying).to_numpy()].reset_index(drop=True)


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
    parser.add_argument("--seed", type=int, default=0, help="random seed (0)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Generate and write the tables; list the files on stderr."""
    from engine.cli.eval import load_program
    from engine.demo import write

    program = load_program(args.ruleset)
    if isinstance(program, int):
        return program
    tables, _ = demo_tables(program, args.leads, args.deals, args.seed)
    try:
        paths = write(tables, args.out)
    except OSError as error:
        print(f"error: {args.out}: {error.strerror or error}", file=sys.stderr)
        return 2
    for path, frame in zip(paths, tables.values(), strict=True):
        print(f"{path}: {len(frame):,} rows", file=sys.stderr)
    return 0
