"""`koncept eval RULESET --data DIR | --demo [N]`: evaluate a ruleset on input tables.

Reads the input tables (a `mapping.yaml` beside the ruleset translates a CRM export unless
`--mapping` names another), validates every row, evaluates, and writes the results (see
`engine.output` for the contract): one JSON document on stdout, or files in `--out DIR`. A
summary goes to stderr: rows in = out + rejected per table, invalid rows, alerts.

Exit codes: 0 evaluated; 1 the ruleset has errors, or `--strict` and some input row is invalid;
2 usage, unreadable or unusable input.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import threading
import time
from pathlib import Path
from types import TracebackType
from typing import IO, TYPE_CHECKING, Any

from engine.cli.demo import DEFAULT_ROWS, row_count
from engine.schemas import FILE_NAMES

if TYPE_CHECKING:
    import pandas as pd

    from engine.program import Program
    from engine.results import Results

__all__ = [
    "Inputs",
    "Progress",
    "add_input_arguments",
    "as_of_date",
    "load_program",
    "read_inputs",
    "register",
    "report_data_error",
    "report_unexpected",
    "run",
    "summary",
]

#: Input bigger than this (about 100k rows of CSV) shows a progress bar on a terminal.
PROGRESS_BYTES = 10_000_000
PROGRESS_ROWS = 100_000
#: Invalid rows listed on stderr (all of them are in the `errors` output table).
SHOWN_ERRORS = 5
STRICT_SHOWN_ERRORS = 20
MAPPING_NAMES = ("mapping.yaml", "mapping.yml")


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    """Add the `eval` subcommand."""
    parser = subparsers.add_parser(
        "eval",
        help="evaluate a ruleset on input tables",
        description="Score leads, check deals against their stage, qualification and playbook, "
        "measure the funnel, KPIs, alerts and payouts. Writes one JSON document on stdout, or "
        "files in --out. Exit 0: evaluated; 1: ruleset errors, or invalid rows with --strict; "
        "2: usage, unreadable or unusable input.",
    )
    parser.add_argument("ruleset", type=Path, help="ruleset folder or .krl file")
    add_input_arguments(parser)
    parser.add_argument(
        "--period", help="period for KPIs and payouts: 2026-Q1, 2026-H1, 2026-03 or 2026"
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
    parser.set_defaults(func=run)


def add_input_arguments(parser: argparse.ArgumentParser) -> None:
    """The input options shared by `eval` and `explain`."""
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--data", type=Path, metavar="DIR", help="folder of input tables")
    source.add_argument(
        "--demo",
        nargs="?",
        const=DEFAULT_ROWS,
        type=row_count,
        metavar="N",
        help=f"evaluate synthetic data instead: N leads and N deals ({DEFAULT_ROWS:,})",
    )
    for table in FILE_NAMES.values():
        parser.add_argument(
            f"--{table.replace('_', '-')}",
            dest=table,
            type=Path,
            metavar="FILE",
            help=f"the {table} table (instead of the one in --data)",
        )
    parser.add_argument(
        "--mapping",
        type=Path,
        metavar="FILE",
        help="CRM mapping (YAML); default: mapping.yaml in the ruleset folder, if any",
    )
    parser.add_argument(
        "--as-of",
        type=as_of_date,
        metavar="DATE",
        help="evaluation date for days in stage (default: today; with --demo, the data's last day)",
    )
    parser.add_argument("--seed", type=int, default=0, help="random seed of --demo (0)")


def as_of_date(text: str) -> dt.date:
    """An argparse type: an ISO date."""
    try:
        return dt.date.fromisoformat(text.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a date like 2026-03-31, not {text!r}") from None


def run(args: argparse.Namespace) -> int:
    """Evaluate and write the results; the summary goes to stderr."""
    if args.format != "json" and args.out is None:
        return _usage(f"--format {args.format} writes several tables: give --out DIR")
    if args.period is not None:
        from engine.periods import parse_period

        try:
            parse_period(args.period)
        except ValueError as error:
            return _usage(str(error))
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
        with Progress(3, _long_run(args)) as progress:
            inputs = read_inputs(program, args, progress)
            if inputs is None:
                return 2
            progress.step("evaluating")
            results = program.evaluate(**inputs.tables, as_of=inputs.as_of, period=args.period)
            invalid = _input_errors(results)
            if not (args.strict and len(invalid)):
                progress.step("writing")
                written = _write(program, results, args)
    except DataError as error:
        return report_data_error(error)
    except BrokenPipeError:
        # The reader stopped (`| head`): not an error; keep Python from failing to flush later.
        _silence_stdout()
        return 0
    except OSError as error:
        where = error.filename or args.out
        print(f"error: {where}: cannot write ({error.strerror or error})", file=sys.stderr)
        return 2
    except OutputError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if args.strict and len(invalid):
        sys.stderr.write(summary(results, inputs, STRICT_SHOWN_ERRORS))
        print(
            f"error: --strict: {len(invalid):,} invalid input row(s); nothing written",
            file=sys.stderr,
        )
        return 1
    sys.stderr.write(summary(results, inputs, SHOWN_ERRORS, written))
    return 0


def _write(program: Program, results: Results, args: argparse.Namespace) -> list[Path]:
    """Write the results as asked; returns the files written (none for stdout)."""
    from engine.output import money_kpis, write_csv, write_json, write_xlsx

    money = money_kpis(program.model)
    if args.out is None:
        write_json(results, sys.stdout, money, ensure_ascii=not _utf8(sys.stdout))
        sys.stdout.flush()
        return []
    if args.format == "csv":
        return write_csv(results, args.out, money)
    if args.format == "xlsx":
        return [write_xlsx(results, args.out / "results.xlsx", money)]
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / "results.json"
    with path.open("w", encoding="utf-8") as stream:
        write_json(results, stream, money)
    return [path]


# ----------------------------------------------------------------------------- shared steps
def load_program(path: Path) -> Program | int:
    """The compiled ruleset, or the exit code after printing why it cannot be loaded."""
    from dsl.workspace import UNREADABLE
    from engine.loader import RulesetError, load

    try:
        return load(path)
    except RulesetError as error:
        sys.stderr.write(error.render())
        unreadable = any(d.code in UNREADABLE for d in error.diagnostics)
        return 2 if unreadable else 1


class Inputs:
    """The input tables of one run, where they came from, and the evaluation date."""

    def __init__(
        self, tables: dict[str, pd.DataFrame], as_of: dt.date, origin: str, mapping: Path | None
    ) -> None:
        self.tables = tables
        self.as_of = as_of
        self.origin = origin
        self.mapping = mapping


def read_inputs(
    program: Program, args: argparse.Namespace, progress: Progress | None = None
) -> Inputs | None:
    """Read (or generate) the input tables the arguments name; None after a usage error.

    Raises `engine.data.DataError` (and `MappingError`) for input that cannot be used.
    """
    from engine.data import DataError, apply_mapping, load_inputs, load_mapping, read_table

    files = {t: getattr(args, t) for t in FILE_NAMES.values() if getattr(args, t, None)}
    if args.demo is not None:
        if files or args.mapping:
            _usage("--demo generates every table: leave out table files and --mapping")
            return None
        from engine.cli.demo import demo_tables

        if progress:
            progress.step("generating demo data")
        tables, year = demo_tables(program, args.demo, args.demo, args.seed)
        origin = f"demo data ({args.demo:,} leads and deals, seed {args.seed})"
        return Inputs(tables, args.as_of or dt.date(year, 12, 31), origin, None)
    if args.data is None and not files:
        _usage("give --data DIR (a folder of input tables), table files, or --demo")
        return None
    mapping_path = args.mapping or _default_mapping(args.ruleset)
    mapping = load_mapping(mapping_path) if mapping_path else None
    if progress:
        progress.step("reading")
    if args.data is not None:
        tables = load_inputs(args.data, mapping, files)
        origin = str(args.data)
        if not tables:
            names = ", ".join(f"{t}.csv" for t in FILE_NAMES.values())
            hint = f", or the files named in {mapping_path}" if mapping_path else ""
            raise DataError(
                args.data,
                f"no input table found (expected {names}, or .xlsx, .json, .parquet{hint})",
            )
    else:
        tables = {table: read_table(path) for table, path in files.items()}
        tables = apply_mapping(tables, mapping) if mapping else tables
        origin = ", ".join(str(p) for p in files.values())
    return Inputs(tables, args.as_of or dt.date.today(), origin, mapping_path)


def _default_mapping(ruleset: Path) -> Path | None:
    folder = ruleset if ruleset.is_dir() else ruleset.parent
    for name in MAPPING_NAMES:
        if (folder / name).is_file():
            return folder / name
    return None


# ----------------------------------------------------------------------------- messages
def summary(
    results: Results, inputs: Inputs, shown: int = SHOWN_ERRORS, written: list[Path] | None = None
) -> str:
    """The stderr summary: counts per table, invalid rows (a few shown), alerts, files."""
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
            lines.append(f"    {_error_text(row)}")
        if len(errors) > shown:
            lines.append(f"    ... and {len(errors) - shown:,} more")
    alerts = results.alerts
    lines.append(f"  {len(alerts):,} alert(s)" + _by_severity(alerts))
    for path in written or ():
        lines.append(f"  wrote {path}")
    return "\n".join(lines) + "\n"


def _error_text(row: Any) -> str:
    table, number, column, value, message = (row[0], row[1], row[2], row[3], row[4])
    where = f"{table} row {int(number)}" if _present(number) else str(table)
    cell = ""
    if not _present(number) and _present(value) and str(value) in str(message):
        return f"{where}: {message}"  # `rep R0004: role SDR has no plan` says it all
    if _present(column):
        cell = f", {column}" + (f" = {value!r}" if _present(value) else "")
    return f"{where}{cell}: {message}"


def _present(value: Any) -> bool:
    return value is not None and value == value


def _by_severity(alerts: pd.DataFrame) -> str:
    if not len(alerts) or "severity" not in alerts.columns:
        return ""
    counts = alerts["severity"].value_counts()
    return " (" + ", ".join(f"{int(n):,} {s}" for s, n in counts.items()) + ")"


def _input_errors(results: Results) -> pd.DataFrame:
    errors = results.errors
    return errors[errors["table"].isin(list(FILE_NAMES.values()))]


def _usage(message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    return 2


def report_data_error(error: Exception) -> int:
    from engine.data import MappingError

    if isinstance(error, MappingError):
        for message in error.messages:
            print(f"error: {message}", file=sys.stderr)
    else:
        print(f"error: {error}", file=sys.stderr)
    return 2


def report_unexpected(error: Exception) -> int:
    """Say what stopped the run, without a traceback (unless KONCEPT_DEBUG is set); exit 2."""
    if os.environ.get("KONCEPT_DEBUG"):
        raise error
    print(
        f"error: the evaluation stopped on unexpected input ({type(error).__name__}: {error}); "
        "set KONCEPT_DEBUG=1 to see where",
        file=sys.stderr,
    )
    return 2


def _silence_stdout() -> None:
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):
        pass  # not a real file (tests capture it): nothing left to flush into a closed pipe


def _utf8(stream: IO[str]) -> bool:
    encoding = getattr(stream, "encoding", None) or ""
    return encoding.lower().replace("-", "").replace("_", "") == "utf8"


def _long_run(args: argparse.Namespace) -> bool:
    """Whether the input is big enough for a progress bar (sizes known before reading)."""
    if args.demo is not None:
        return bool(args.demo * 2 > PROGRESS_ROWS)
    paths = [getattr(args, t) for t in FILE_NAMES.values() if getattr(args, t, None)]
    if args.data is not None and args.data.is_dir():
        paths.extend(p for p in args.data.iterdir() if p.is_file())
    size = 0
    for path in paths:
        try:
            size += path.stat().st_size
        except OSError:
            continue
    return size > PROGRESS_BYTES


# ----------------------------------------------------------------------------- progress
class Progress:
    """A one-line progress bar on stderr, drawn only for long runs on a terminal.

    Steps are announced with `step(label)`; while one runs, the elapsed time keeps moving so a
    long evaluation never looks stuck. The line is erased when the run ends.
    """

    WIDTH = 24

    def __init__(self, steps: int, long_run: bool, stream: IO[str] | None = None) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.steps = max(1, steps)
        self.enabled = long_run and self.stream.isatty()
        self.done = -1
        self.label = ""
        self.started = time.monotonic()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        if self.enabled:
            self._thread = threading.Thread(target=self._tick, daemon=True)
            self._thread.start()

    def __enter__(self) -> Progress:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.close()

    def step(self, label: str) -> None:
        """Start the next step."""
        with self._lock:
            self.done = min(self.done + 1, self.steps)
            self.label = label
            self._draw()

    def line(self) -> str:
        """The bar as drawn now."""
        done = max(self.done, 0)
        filled = self.WIDTH * done // self.steps
        bar = "#" * filled + "-" * (self.WIDTH - filled)
        elapsed = time.monotonic() - self.started
        return f"[{bar}] {done}/{self.steps} {self.label} {elapsed:.1f} s"

    def close(self) -> None:
        """Stop drawing and erase the line."""
        if self._thread is None:
            return
        self._stop.set()
        self._thread.join()
        self._thread = None
        with self._lock:
            self.stream.write("\r\x1b[K")
            self.stream.flush()

    def _draw(self) -> None:
        if self.enabled and self._thread is not None:
            self.stream.write("\r" + self.line() + "\x1b[K")
            self.stream.flush()

    def _tick(self) -> None:
        while not self._stop.wait(0.2):
            with self._lock:
                self._draw()
