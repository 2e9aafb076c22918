"""What the subcommands share: loading a ruleset, reading (or generating) the input tables, the
arguments that name them, and saying what went wrong without a traceback.

Wiring only: every step is a call into the library (`engine.loader`, `engine.data`,
`engine.demo`).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import errno
import os
import sys
from decimal import Decimal
from pathlib import Path
from types import TracebackType
from typing import IO, TYPE_CHECKING, Any

from engine.schemas import FILE_NAMES

if TYPE_CHECKING:
    import pandas as pd
    from rich.progress import Progress as RichProgress

    from engine.program import Program

__all__ = [
    "DEFAULT_ROWS",
    "MAPPING_NAMES",
    "Inputs",
    "Progress",
    "add_input_arguments",
    "as_of_date",
    "cannot_write",
    "default_mapping",
    "load_program",
    "read_inputs",
    "report_data_error",
    "report_unexpected",
    "row_count",
    "seed_number",
    "usage",
]

#: Rows of leads and of deals `--demo` generates when no number is given.
DEFAULT_ROWS = 1_000
_MAX_ROWS = 50_000_000
#: The largest `--seed` (numpy seeds are unsigned; 32 bits is what every tool accepts).
MAX_SEED = 2**32 - 1
#: Input bigger than this (about 100k rows of CSV) shows a progress bar on a terminal.
PROGRESS_BYTES = 10_000_000
PROGRESS_ROWS = 100_000
MAPPING_NAMES = ("mapping.yaml", "mapping.yml")


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


def seed_number(text: str) -> int:
    """An argparse type: a random seed, a whole number from 0 to `MAX_SEED`."""
    try:
        number = int(text.strip().replace("_", ""))
    except ValueError:
        number = -1
    if not 0 <= number <= MAX_SEED:
        raise argparse.ArgumentTypeError(
            f"expected a seed from 0 to {MAX_SEED:,} (a whole number), not {text!r}"
        )
    return number


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
    parser.add_argument(
        "--seed", type=seed_number, default=0, help="random seed of --demo (0; up to 2**32-1)"
    )


def as_of_date(text: str) -> dt.date:
    """An argparse type: an ISO date."""
    try:
        return dt.date.fromisoformat(text.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a date like 2026-03-31, not {text!r}") from None


def period_text(text: str) -> str:
    """An argparse type: a period (`2026-Q1`, `2026-H1`, `2026-03`, `2026`), checked by the one
    period parser and kept as written."""
    from engine.periods import parse_period

    try:
        parse_period(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None
    return text


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
            usage("--demo generates every table: leave out table files and --mapping")
            return None
        from engine.demo import demo_tables

        if progress:
            progress.step("generating demo data")
        tables, year = demo_tables(program, args.demo, args.demo, args.seed)
        origin = f"demo data ({args.demo:,} leads and deals, seed {args.seed})"
        return Inputs(tables, args.as_of or dt.date(year, 12, 31), origin, None)
    if args.data is None and not files:
        usage("give --data DIR (a folder of input tables), table files, or --demo")
        return None
    mapping_path = args.mapping or default_mapping(args.ruleset, args.data)
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


def default_mapping(ruleset: Path, data: Path | None) -> Path | None:
    """The mapping used when none is named: the data folder's own `mapping.yaml` (it says what
    its files are), else the one beside the ruleset (the client's CRM export), else none."""
    ruleset_folder = ruleset if ruleset.is_dir() else ruleset.parent
    for folder in (data, ruleset_folder):
        for name in MAPPING_NAMES:
            if folder is not None and (folder / name).is_file():
                return folder / name
    return None


def usage(message: str) -> int:
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


def cannot_write(error: OSError | ValueError, where: object = None) -> int:
    """`error: cannot write <where>: <reason>` for an output that failed (a full disk, a closed
    stdout...); exit 2. Output still buffered for stdout is dropped: it could not be written."""
    if isinstance(error, OSError):
        where = error.filename or where
        reason = error.strerror or str(error)
    else:
        reason = str(error)
    _drop_stdout()
    print(f"error: cannot write {where or 'stdout'}: {reason}", file=sys.stderr)
    return 2


def is_write_error(error: BaseException) -> bool:
    """Whether an exception says output could not be written (not input unreadable)."""
    if isinstance(error, BrokenPipeError):
        return False
    if isinstance(error, OSError):
        return error.errno in _WRITE_ERRNOS
    return isinstance(error, ValueError) and "closed file" in str(error)


_WRITE_ERRNOS = frozenset(
    getattr(errno, name)
    for name in ("ENOSPC", "EDQUOT", "EFBIG", "EIO", "EBADF", "EROFS")
    if hasattr(errno, name)
)


def _drop_stdout() -> None:
    """Point stdout at /dev/null: Python would fail again flushing it at exit."""
    with contextlib.suppress(OSError, ValueError, AttributeError):
        sys.stdout.flush()
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):
        pass


def report_unexpected(error: Exception) -> int:
    """Say what stopped the run, without a traceback (unless KONCEPT_DEBUG is set); exit 2.
    Output that could not be written is said so in one line (`cannot_write`)."""
    if is_write_error(error) and isinstance(error, OSError | ValueError):
        return cannot_write(error)
    if os.environ.get("KONCEPT_DEBUG"):
        raise error
    print(
        f"error: the evaluation stopped on unexpected input ({type(error).__name__}: {error}); "
        "set KONCEPT_DEBUG=1 to see where",
        file=sys.stderr,
    )
    return 2


def long_run(args: argparse.Namespace) -> bool:
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


class Progress:
    """A progress bar on stderr (rich), drawn only for long runs on a terminal.

    Steps are announced with `step(label)`; while one runs, the elapsed time keeps moving so a
    long evaluation never looks stuck. The bar is erased when the run ends.
    """

    def __init__(self, steps: int, long_run: bool, stream: IO[str] | None = None) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.steps = max(1, steps)
        self.enabled = long_run and self.stream.isatty()
        self._bar: RichProgress | None = None
        self._task: Any = None
        if self.enabled:
            from rich.console import Console
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                TextColumn,
                TimeElapsedColumn,
            )
            from rich.progress import Progress as RichProgress

            console = Console(file=self.stream, force_terminal=True)
            self._bar = RichProgress(
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("{task.description}"),
                TimeElapsedColumn(),
                console=console,
                transient=True,  # erased at the end: the summary follows on a clean line
            )
            self._bar.start()
            self._task = self._bar.add_task("", total=self.steps)
        self.done = -1

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
        self.done = min(self.done + 1, self.steps)
        if self._bar is not None:
            self._bar.update(self._task, completed=self.done, description=label)

    def close(self) -> None:
        """Stop drawing and erase the bar."""
        if self._bar is not None:
            self._bar.stop()
            self._bar = None
