"""`koncept eval RULESET --data DIR | --demo [N]`: evaluate a ruleset on input tables.

Reads the input tables (a `mapping.yaml` beside the ruleset translates a CRM export unless
`--mapping` names another), validates every row, evaluates, and writes the results (see
`engine.output` for the contract): one JSON document on stdout, or files in `--out DIR`. A
summary goes to stderr: rows in = out + rejected per table, invalid rows, alerts.

Exit codes: 0 evaluated; 1 the ruleset has errors, or `--strict` and some input row is invalid
or holds a value validation accepts but pay cannot use (a quota of 0 or less, a duplicate or
missing quota, a negative amount, an undated deal, a split that does not add up: the payouts'
errors about a measure), or `--fail-on budget` and a plan's pay for a period is above its
budget guardrail (the results are written first); 2 usage, unreadable or unusable input.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from engine.cli._common import (
    Inputs,
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
from engine.schemas import FILE_NAMES

if TYPE_CHECKING:
    import pandas as pd

    from engine.program import Program
    from engine.results import Results

__all__ = ["register", "run", "summary"]

#: Invalid rows listed on stderr (all of them are in the `errors` output table).
SHOWN_ERRORS = 5
STRICT_SHOWN_ERRORS = 20


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    """Add the `eval` subcommand."""
    parser = subparsers.add_parser(
        "eval",
        help="evaluate a ruleset on input tables",
        description="Score leads, check deals against their stage, qualification and playbook, "
        "measure the funnel, KPIs, alerts and payouts. Writes one JSON document on stdout, or "
        "files in --out. Exit 0: evaluated; 1: ruleset errors, invalid rows with --strict, or "
        "a budget over its guardrail with --fail-on budget; "
        "2: usage, unreadable or unusable input.",
    )
    parser.add_argument("ruleset", type=Path, help="ruleset folder or .krl file")
    add_input_arguments(parser)
    parser.add_argument(
        "--period",
        type=period_text,
        help="period for KPIs and payouts: 2026-Q1, 2026-H1, 2026-03 or 2026",
    )
    parser.add_argument(
        "--format", choices=("json", "csv", "xlsx"), default="json", help="output format (json)"
    )
    parser.add_argument(
        "--out",
        type=Path,
        metavar="DIR",
        help="write files here (results.json, one CSV per table, or results.xlsx)",
    )
    parser.add_argument(
        "--strict", action="store_true", help="fail (exit 1) when any input row is invalid"
    )
    parser.add_argument(
        "--csv-dialect",
        choices=("standard", "excel-fr"),
        default="standard",
        help="--format csv: standard (`,`, `.`, UTF-8) or excel-fr (`;`, decimal comma, BOM)",
    )
    parser.add_argument(
        "--fail-on",
        action="append",
        choices=("budget",),
        default=[],
        help="budget: exit 1 when a plan's pay for a period is above its budget guardrail",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Evaluate and write the results; the summary goes to stderr."""
    if args.format != "json" and args.out is None:
        return usage(f"--format {args.format} writes several tables: give --out DIR")
    program = load_program(args.ruleset)
    if isinstance(program, int):
        return program
    try:
        return _evaluate(program, args)
    except Exception as error:
        return report_unexpected(error)


def _evaluate(program: Program, args: argparse.Namespace) -> int:
    from engine.data import DataError
    from engine.output import OutputError

    written: list[Path] = []
    try:
        with Progress(3, long_run(args)) as progress:
            inputs = read_inputs(program, args, progress)
            if inputs is None:
                return 2
            progress.step("evaluating")
            results = program.evaluate(**inputs.tables, as_of=inputs.as_of, period=args.period)
            invalid = _input_errors(results)
            unusable = _unusable_values(results)
            if not (args.strict and (len(invalid) or len(unusable))):
                progress.step("writing")
                written = _write(program, results, args)
    except DataError as error:
        return report_data_error(error)
    except BrokenPipeError:
        # The reader stopped (`| head`): not an error; keep Python from failing to flush later.
        _silence_stdout()
        return 0
    except OSError as error:
        return cannot_write(error, args.out or "stdout")
    except OutputError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if args.strict and (len(invalid) or len(unusable)):
        sys.stderr.write(summary(results, inputs, STRICT_SHOWN_ERRORS))
        why = [f"{len(invalid):,} invalid input row(s)"] if len(invalid) else []
        if len(unusable):
            why.append(f"{len(unusable):,} value(s) pay cannot use (see the payouts errors)")
        print(f"error: --strict: {' and '.join(why)}; nothing written", file=sys.stderr)
        return 1
    sys.stderr.write(summary(results, inputs, SHOWN_ERRORS, written))
    if "budget" in args.fail_on:
        return _budget_gate(results)
    return 0


def _budget_gate(results: Results) -> int:
    """`--fail-on budget`: 1 when a plan's pay for a period is above its budget guardrail."""
    from engine.diff.impact import budget_breaches

    over = budget_breaches(results.budget)
    for _plan, _period, message in over:
        print(f"error: --fail-on budget: {message}", file=sys.stderr)
    return 1 if over else 0


def _write(program: Program, results: Results, args: argparse.Namespace) -> list[Path]:
    """Write the results as asked; returns the files written (none for stdout)."""
    from engine.files import atomic_file
    from engine.output import money_kpis, percent_kpis, write_csv, write_json, write_xlsx
    from engine.report.spreadsheet import csv_dialect

    money = money_kpis(program.compiled)
    if args.out is None:
        write_json(results, sys.stdout, money, ensure_ascii=not _utf8(sys.stdout))
        sys.stdout.flush()
        return []
    if args.format == "csv":
        return write_csv(results, args.out, money, csv_dialect(args.csv_dialect))
    if args.format == "xlsx":
        path = args.out / "results.xlsx"
        currency = program.compiled.currency
        return [write_xlsx(results, path, money, percent_kpis(program), currency)]
    path = args.out / "results.json"
    with atomic_file(path) as stream:
        write_json(results, stream, money)
    return [path]


# ----------------------------------------------------------------------------- messages
def summary(
    results: Results, inputs: Inputs, shown: int = SHOWN_ERRORS, written: list[Path] | None = None
) -> str:
    """The stderr summary: counts per table, invalid rows (a few shown), alerts, files."""
    from engine.results import error_text

    lines = [f"{inputs.origin}, as of {inputs.as_of.isoformat()}"]
    if results.period:
        lines[0] += f", period {results.period}"
    if inputs.mapping is not None:
        lines.append(f"  mapping: {inputs.mapping}")
    counts = list(results.counts.values())
    width = max((len(c.table) for c in counts), default=0)
    numbers = max((len(f"{c.rows_in:,}") for c in counts), default=0)
    for c in counts:
        lines.append(
            f"  {c.table:<{width}}  {c.rows_in:>{numbers},} in = {c.rows_out:>{numbers},} out"
            f" + {c.rejected:,} rejected"
        )
    errors = results.errors
    if len(errors):
        lines.append(f"  {len(errors):,} error(s), all listed in the errors table:")
        for row in errors.head(shown).itertuples(index=False):
            lines.append(f"    {error_text(*row[:5])}")
        if len(errors) > shown:
            lines.append(f"    ... and {len(errors) - shown:,} more")
    alerts = results.alerts
    lines.append(f"  {len(alerts):,} alert(s)" + _by_severity(alerts))
    for path in written or ():
        lines.append(f"  wrote {path}")
    return "\n".join(lines) + "\n"


def _by_severity(alerts: pd.DataFrame) -> str:
    if not len(alerts) or "severity" not in alerts.columns:
        return ""
    counts = alerts["severity"].value_counts()
    return " (" + ", ".join(f"{int(n):,} {s}" for s, n in counts.items()) + ")"


def _input_errors(results: Results) -> pd.DataFrame:
    errors = results.errors
    return errors[errors["table"].isin(list(FILE_NAMES.values()))]


def _unusable_values(results: Results) -> pd.DataFrame:
    """The payouts' errors about a measure of a plan: input values that passed validation but
    pay cannot use (a quota of 0 or less, a negative amount, an undated deal...). Errors about
    a rep as a whole (a role with no plan) are findings about the plans, not the data.

    The payouts' messages start with where the error is (`rep R1, plan p, 2026-Q1, measure m:`,
    `engine.pay.vector`): the measure is in that part."""
    errors = results.errors
    payouts = errors[errors["table"] == "payouts"]
    where = payouts["message"].astype("str").str.split(": ", n=1).str[0]
    about_measure = where.str.contains(r"(?:^|, )measure \S", regex=True)
    return payouts[about_measure.to_numpy(dtype=bool, na_value=False)]


def _silence_stdout() -> None:
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):
        pass  # not a real file (tests capture it): nothing left to flush into a closed pipe


def _utf8(stream: IO[str]) -> bool:
    encoding = getattr(stream, "encoding", None) or ""
    return encoding.lower().replace("-", "").replace("_", "") == "utf8"
