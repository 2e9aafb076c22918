"""`koncept diagnose RULESET --data DIR | --demo [N] [--out FILE.html|.xlsx|.json]`: the
method's five-dimension diagnostic, computed by `engine.diagnose` from the ruleset and the
engine's results on the data. Without `--out` the scorecard is printed on stdout.

Exit codes: 0 written or printed; 1 the ruleset has errors; 2 usage or input error.
"""

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
    usage,
)
from engine.cli.simulate import OUTPUT_SUFFIXES, add_output_arguments

__all__ = ["register", "run"]


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    """Add the `diagnose` subcommand."""
    parser = subparsers.add_parser(
        "diagnose",
        help="score the five dimensions of the method from a ruleset and its data",
        description="Diagnostic of the method's five dimensions (stratégie commerciale, "
        "structure de l'équipe, processus de vente, systèmes et outils, plan de rémunération): "
        "a level per dimension with its facts, then the three priorities. Exit 0: done; 1: "
        "ruleset errors; 2: usage or input error.",
    )
    parser.add_argument("ruleset", type=Path, help="ruleset folder or .krl file")
    add_input_arguments(parser)
    parser.add_argument(
        "--period", type=period_text, help="period for payouts: 2026-Q1, 2026-H1, 2026-03 or 2026"
    )
    add_output_arguments(parser, required=False)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Load, diagnose, write or print."""
    if args.out is not None and args.out.suffix.lower() not in OUTPUT_SUFFIXES:
        return usage(f"--out {args.out}: write a .html, .xlsx or .json file, or a folder")
    program = load_program(args.ruleset)
    if isinstance(program, int):
        return program
    from engine.data import DataError
    from engine.diagnose import diagnose, diagnosis_document, diagnosis_text

    try:
        inputs = read_inputs(program, args)
        if inputs is None:
            return 2
        diagnosis = diagnose(
            program, inputs.tables, as_of=inputs.as_of, period=args.period, origin=inputs.origin
        )
        if args.out is None:
            sys.stdout.write(diagnosis_text(diagnosis))
            return 0
        from engine.report.write import write_document

        write_document(diagnosis_document(diagnosis), args.out, args.csv_dialect)
    except DataError as error:
        return report_data_error(error)
    except Exception as error:
        return report_unexpected(error)
    print(f"wrote {args.out}", file=sys.stderr)
    return 0
