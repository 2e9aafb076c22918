"""`koncept report RULESET --ritual ID --data DIR | --demo [N] --period P [--rep ID] --out FILE`:
the report of a ritual (built by `engine.report.rituals`), as a self-contained HTML page
(`.html`), a typed workbook (`.xlsx`), exact JSON (`.json`), or one CSV file per table in a
folder (`--out DIR --csv-dialect excel-fr|standard`).

The tables are read and validated as `koncept eval` reads them (same mapping, same
validation); the summary on stderr is eval's: rows in = out + rejected per table, invalid rows,
alerts, the file written.

Exit codes: 0 written; 1 the ruleset has errors; 2 usage, unknown ritual or rep, unreadable or
unusable input, or an output that cannot be written.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from engine.cli._common import (
    Progress,
    add_input_arguments,
    cannot_write,
    load_program,
    long_run,
    period_text,
    read_inputs,
    report_data_error,
    report_unexpected,
    usage,
)

__all__ = ["register", "run"]


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    """Add the `report` subcommand."""
    parser = subparsers.add_parser(
        "report",
        help="write the report of a ritual (HTML, XLSX, JSON or CSV)",
        description="The report of one of the ruleset's rituals (or of the method's four: "
        "weekly_pipeline, monthly_coaching, monthly_business_review, quarterly_review) on input "
        "tables, with charts. The format follows --out: FILE.html (self-contained, opens "
        "offline), FILE.xlsx, FILE.json, or a folder for one CSV file per table. Exit 0: "
        "written; 1: ruleset errors; 2: usage, unknown ritual or rep, unreadable input.",
    )
    parser.add_argument("ruleset", type=Path, help="ruleset folder or .krl file")
    parser.add_argument("--ritual", required=True, metavar="ID", help="the ritual's id")
    parser.add_argument(
        "--period",
        type=period_text,
        required=True,
        help="period of KPIs and payouts: 2026-Q1, 2026-03, 2026",
    )
    parser.add_argument("--rep", metavar="ID", help="the rep (monthly coaching: required)")
    add_input_arguments(parser)
    parser.add_argument(
        "--out",
        type=Path,
        required=True,
        metavar="FILE",
        help="FILE.html, FILE.xlsx, FILE.json, or a folder for CSV files",
    )
    parser.add_argument(
        "--csv-dialect",
        choices=("standard", "excel-fr"),
        default="standard",
        help="CSV output: standard (`,`, `.`, UTF-8) or excel-fr (`;`, decimal comma, BOM)",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Build the report and write it; the summary goes to stderr."""
    from engine.report.write import OUTPUT_KINDS

    if args.out.suffix and args.out.suffix.lower() not in OUTPUT_KINDS:
        known = ", ".join(OUTPUT_KINDS)
        return usage(f"--out {args.out}: expected a file ending in {known}, or a folder (CSV)")
    program = load_program(args.ruleset)
    if isinstance(program, int):
        return program
    try:
        return _report(program, args)
    except Exception as error:
        return report_unexpected(error)


def _report(program: Any, args: argparse.Namespace) -> int:
    from engine.cli.eval import SHOWN_ERRORS, summary
    from engine.data import DataError
    from engine.report.rituals import ReportError, build_report
    from engine.report.write import write_document

    try:
        with Progress(3, long_run(args)) as progress:
            inputs = read_inputs(program, args, progress)
            if inputs is None:
                return 2
            progress.step("evaluating")
            report = build_report(
                program,
                inputs.tables,
                args.ritual,
                args.period,
                inputs.as_of,
                rep=args.rep,
                origin=inputs.origin,
            )
            progress.step("writing")
            written = write_document(report.document, args.out, args.csv_dialect)
    except DataError as error:
        return report_data_error(error)
    except ReportError as error:
        return usage(str(error))
    except OSError as error:
        return cannot_write(error, args.out)
    sys.stderr.write(summary(report.results, inputs, SHOWN_ERRORS, written))
    return 0
