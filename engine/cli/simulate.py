"""`koncept simulate RULESET --plan ID --out FILE.html|.xlsx|.json`: a plan's pay curve from 0%
to 200% attainment, its cost at an attainment distribution, and a second plan (`--compare`),
the same plan at a git revision (`--compare-rev`) or the plan with what-if edits (`--set`)
beside it. The computing is `engine.simulate`'s; this module reads the arguments and writes.

Exit codes: 0 written; 1 the ruleset (or the edited one) has errors; 2 usage or input error.
"""

from __future__ import annotations

import argparse
import sys
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine.cli._common import (
    add_input_arguments,
    load_program,
    period_text,
    read_inputs,
    report_data_error,
    report_unexpected,
    usage,
)
from engine.schemas import FILE_NAMES

if TYPE_CHECKING:
    pass

__all__ = ["OUTPUT_SUFFIXES", "add_output_arguments", "register", "run"]

#: What `--out` may name: a file of one of these, or a folder (no suffix) for CSV tables.
OUTPUT_SUFFIXES = (".html", ".xlsx", ".json", "")


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    """Add the `simulate` subcommand."""
    parser = subparsers.add_parser(
        "simulate",
        help="simulate a pay plan: curves from 0%% to 200%%, cost at a distribution",
        description="Pay curve of each measure and of the plan from 0%% to 200%% attainment, "
        "computed by the engine's pay; cost at an attainment distribution (the data's history, a "
        "normal law or a table) with P10/P50/P90 and the budget ratio; two plans, two git "
        "revisions or what-if edits side by side. Exit 0: written; 1: ruleset errors; 2: usage "
        "or input error.",
    )
    parser.add_argument("ruleset", type=Path, help="ruleset folder or .krl file")
    parser.add_argument("--plan", required=True, help="the plan's id")
    compare = parser.add_mutually_exclusive_group()
    compare.add_argument("--compare", metavar="PLAN", help="another plan of the ruleset, beside")
    compare.add_argument(
        "--compare-rev", metavar="REV", help="the same plan at a git revision (tag, branch, sha)"
    )
    parser.add_argument(
        "--set",
        dest="edits",
        action="append",
        default=[],
        metavar="PATH=VALUE",
        help="what-if edit of the plan, e.g. bookings.steps[2]=60%% or target_variable=36K "
        "(repeatable; indexes count from 1); the original plan is shown beside",
    )
    parser.add_argument(
        "--distribution",
        metavar="D",
        help="history (the data's, default with data), normal:MEAN,SD (e.g. normal:90%%,25%%) "
        "or a table file with an attainment column (and weight)",
    )
    parser.add_argument(
        "--period", type=period_text, help="period of the history: 2026-Q1, 2026-H1 or 2026"
    )
    parser.add_argument(
        "--steps", default="1%", metavar="STEP", help="attainment step of the curves (1%%)"
    )
    parser.add_argument(
        "--quota",
        dest="reference_quotas",
        action="append",
        default=[],
        metavar="[MEASURE=]AMOUNT",
        help="the quota 100%% stands for (default: the data's median quota of the measure)",
    )
    parser.add_argument(
        "--team",
        type=int,
        metavar="N",
        help="reps on the plan, for a normal or table distribution (default: the data's, else 1)",
    )
    add_input_arguments(parser)
    add_output_arguments(parser, required=True)
    parser.set_defaults(func=run)


def add_output_arguments(parser: argparse.ArgumentParser, *, required: bool) -> None:
    """`--out FILE.html|FILE.xlsx|FILE.json|DIR` and `--csv-dialect` (for a DIR of CSV files)."""
    parser.add_argument(
        "--out",
        type=Path,
        required=required,
        metavar="FILE",
        help="FILE.html, FILE.xlsx, FILE.json, or a folder DIR for one CSV file per table",
    )
    parser.add_argument(
        "--csv-dialect",
        choices=("standard", "excel-fr"),
        default="standard",
        help="CSV files in a folder --out: standard (`,`, UTF-8) or excel-fr (`;`, decimal "
        "comma, UTF-8 with BOM: opens right in French Excel)",
    )


def run(args: argparse.Namespace) -> int:
    """Load, simulate, write."""
    from engine.simulate import SimulationError

    if args.out.suffix.lower() not in OUTPUT_SUFFIXES:
        return usage(f"--out {args.out}: write a .html, .xlsx or .json file, or a folder")
    if args.team is not None and args.team < 1:
        return usage("--team must be 1 or more")
    try:
        return _simulate(args)
    except SimulationError as error:
        sys.stderr.write(error.render())
        return 2
    except Exception as error:
        return report_unexpected(error)


def _simulate(args: argparse.Namespace) -> int:
    from engine.data import DataError
    from engine.loader import RulesetError
    from engine.revisions import RevisionError
    from engine.simulate import (
        Change,
        SimulationError,
        Variant,
        attainment_grid,
        load_at_revision,
        load_edited,
        parse_edit,
        parse_percent,
        run_simulation,
        simulation_document,
        unknown_plan,
    )

    step = parse_percent(args.steps, "a step")
    attainment_grid(step)  # refuses a step of 0 or wider than the axis, before any work
    edits = [parse_edit(text) for text in args.edits]
    quotas = dict(_quota(text) for text in args.reference_quotas)
    program = load_program(args.ruleset)
    if isinstance(program, int):
        return program
    plans = program.book.plans
    if args.plan not in plans:
        raise SimulationError(unknown_plan(args.plan, plans))
    variants = [Variant(args.plan, plans[args.plan], program)]
    changes: tuple[Change, ...] = ()
    try:
        if edits:
            edited, changes = load_edited(args.ruleset, args.plan, edits)
            variants.append(Variant(f"{args.plan} (modifié)", edited.book.plans[args.plan], edited))
        if args.compare:
            if args.compare not in plans:
                raise SimulationError(unknown_plan(args.compare, plans))
            variants.append(Variant(args.compare, plans[args.compare], program))
        if args.compare_rev:
            earlier = load_at_revision(args.ruleset, args.compare_rev)
            if args.plan not in earlier.book.plans:
                raise SimulationError(
                    f"at {args.compare_rev}: " + unknown_plan(args.plan, earlier.book.plans)
                )
            variants.append(
                Variant(f"{args.plan} @ {args.compare_rev}", earlier.book.plans[args.plan], earlier)
            )
    except RulesetError as error:
        sys.stderr.write(error.render())
        if changes or edits:
            print("error: the edited plan does not check (see above)", file=sys.stderr)
        return 1
    except RevisionError as error:
        print(f"error: --compare-rev {args.compare_rev}: {error}", file=sys.stderr)
        return 2
    tables = None
    origin = ""
    as_of = None
    if _has_data(args):
        try:
            inputs = read_inputs(program, args)
        except DataError as error:
            return report_data_error(error)
        if inputs is None:
            return 2
        tables, origin, as_of = inputs.tables, inputs.origin, inputs.as_of
    simulation = run_simulation(
        variants,
        tables=tables,
        as_of=as_of,
        period=args.period,
        distribution=args.distribution,
        quotas=quotas,
        step=step,
        headcount=None if args.team is None else Decimal(args.team),
        changes=changes,
        origin=origin,
    )
    from engine.report.write import write_document

    document = simulation_document(simulation)
    write_document(document, args.out, args.csv_dialect)
    print(f"wrote {args.out}", file=sys.stderr)
    return 0


def _has_data(args: argparse.Namespace) -> bool:
    files = [t for t in FILE_NAMES.values() if getattr(args, t, None)]
    return args.data is not None or args.demo is not None or bool(files)


def _quota(text: str) -> tuple[str, Decimal]:
    """`bookings=250K` or `250K` (every measure)."""
    from engine.money import parse_money
    from engine.simulate import SimulationError

    name, _, amount = text.rpartition("=") if "=" in text else ("*", "", text)
    try:
        value = parse_money(amount.strip())
    except (ValueError, ArithmeticError):
        raise SimulationError(f"--quota {text}: {amount.strip()!r} is not an amount") from None
    if value <= 0:
        raise SimulationError(f"--quota {text}: a quota must be above 0")
    return (name.strip() or "*"), value
