"""`koncept test [PATHS] [-k PATTERN] [--format text|json|junit|github] [--coverage [--threshold N]]
[--fail-on-empty]`: run the rulesets' fixture files, both evaluators, with concept coverage."""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from engine.testing import CaseResult, Report


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    """Add the `test` subcommand."""
    parser = subparsers.add_parser(
        "test",
        help="run the rulesets' fixture files (both evaluators), with concept coverage",
        description="Run the test cases of `tests/*.yaml` fixture files found under PATHS "
        "(default: the current folder). Every case runs through the per-record and the table "
        "evaluator. Exit 0: every case passed; 1: a case failed or errored, coverage is under "
        "the threshold, or no case ran with --fail-on-empty; 2: usage error or an invalid "
        "fixture file.",
    )
    parser.add_argument(
        "paths", nargs="*", type=Path, metavar="PATH", help="fixture files or folders to search"
    )
    parser.add_argument(
        "-k",
        dest="pattern",
        metavar="PATTERN",
        help="run the cases whose `file::name` contains every word (`-word`: does not contain)",
    )
    parser.add_argument(
        "--format",
        choices=("text", "json", "junit", "github"),
        default="text",
        help="output format (github: workflow commands, annotations in a GitHub Action)",
    )
    parser.add_argument(
        "--coverage", action="store_true", help="report concept coverage per ruleset"
    )
    parser.add_argument(
        "--threshold",
        type=_percentage,
        metavar="N",
        help="fail when a ruleset's concept coverage is under N percent (implies --coverage)",
    )
    parser.add_argument(
        "--fail-on-empty", action="store_true", help="fail when no case is selected"
    )
    parser.set_defaults(func=run)


def _percentage(text: str) -> float:
    """An argparse type: a percentage from 0 to 100 (`80`, `80%`, `92.5`)."""
    try:
        number = float(text.strip().removesuffix("%"))
    except ValueError:
        number = math.nan
    if not 0 <= number <= 100:  # NaN and infinities too
        raise argparse.ArgumentTypeError(f"expected a percentage from 0 to 100, not {text!r}")
    return number


def run(args: argparse.Namespace) -> int:
    """Run the cases and print the report; the exit code says how it went."""
    from engine.testing import run as run_cases
    from engine.testing.report import as_github, as_json, as_junit

    with_coverage = bool(args.coverage or args.threshold is not None)
    paths = args.paths or [Path(".")]
    live = args.format == "text"
    report = run_cases(
        paths,
        pattern=args.pattern,
        with_coverage=with_coverage,
        on_result=_print_result if live else None,
    )
    below = [
        c for c in report.coverage if args.threshold is not None and c.percent < args.threshold
    ]
    if args.format == "json":
        print(json.dumps(as_json(report, args.threshold), indent=2, ensure_ascii=False))
    elif args.format == "junit":
        sys.stdout.write(as_junit(report, args.threshold))
    elif args.format == "github":
        sys.stdout.write(as_github(report, args.threshold))
    else:
        _print_summary(report, args.threshold, args.fail_on_empty)
    if report.problems:
        return 2
    if not report.ok or below:
        return 1
    return 1 if args.fail_on_empty and not report.results else 0


# ============================================================================ text
def _print_result(result: CaseResult) -> None:
    from engine.testing.report import text_result

    print(text_result(result), flush=True)


def _print_summary(report: Report, threshold: float | None, fail_on_empty: bool) -> None:
    from engine.testing.report import text_coverage

    for problem in report.problems:
        print(f"{problem}  (invalid fixture)")
    for item in report.coverage:
        print(text_coverage(item, threshold))
    counts = [
        f"{report.count(status)} {word}"
        for status, word in (
            ("pass", "passed"),
            ("fail", "failed"),
            ("error", "errors"),
            ("xfail", "xfailed"),
            ("xpass", "xpassed"),
        )
        if report.count(status) or status == "pass"
    ]
    files = f"{report.files} file{'s' if report.files != 1 else ''}"
    cases = len(report.results)
    if not cases:
        empty = "no test case selected" + (" (--fail-on-empty)" if fail_on_empty else "")
        print(f"{empty} in {files}")
        return
    print(f"{cases} case{'s' if cases != 1 else ''} in {files}: {', '.join(counts)} "
          f"({report.duration:.2f} s)")  # fmt: skip
