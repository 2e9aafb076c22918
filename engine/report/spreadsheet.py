"""What every spreadsheet output shares, CSV or XLSX: text made inert for a spreadsheet, and the
CSV dialects.

A text cell a spreadsheet would run as a formula (starting with `=`, `+`, `-`, `@`, a tab or a
carriage return) gets a leading `'`; text that is a plain number (`-5`, `+3.5`) is left alone.
In CSV a `;` is also a cell boundary for French Excel, so a formula start after a `;` is
escaped too (see `engine.output` for the contract).

CSV dialects (`--csv-dialect`):
  standard   `,` between cells, `.` decimals, ISO dates, UTF-8 without BOM: what programs read.
  excel-fr   `;` between cells, decimal comma, dates `31/03/2026`, UTF-8 with a BOM: what French
             Excel opens by double-click into columns with the accents right. Numbers are never
             grouped (Excel would read `1 234,5` as text).
"""

from __future__ import annotations

import csv
import datetime as dt
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from engine.report.document import Document

__all__ = [
    "CSV_DIALECTS",
    "CsvDialect",
    "csv_dialect",
    "escape_formula",
    "plain_number",
    "write_csv_tables",
]

_FORMULA_START = frozenset("=+-@\t\r")
# A `;` then (after spaces) a formula start: the start of a cell for a reader splitting on `;`.
_FORMULA_AFTER_SEMICOLON = re.compile(r"(;[ ]*)(?=[=+\-@\t\r])")
_PLAIN_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")


def plain_number(text: str) -> bool:
    """Whether text is a number as machines write it (`-5`, `3.25`, `1e3`)."""
    return _PLAIN_NUMBER.fullmatch(text) is not None


def escape_formula(text: str, *, semicolons: bool = True) -> str:
    """`text` made inert for a spreadsheet: a leading `'` when it would start a formula, and
    (`semicolons`, for CSV) a `'` before a formula start that follows a `;`."""
    if semicolons and ";" in text:
        text = _FORMULA_AFTER_SEMICOLON.sub(r"\1'", text)
    if text and text[0] in _FORMULA_START and not _PLAIN_NUMBER.fullmatch(text):
        return "'" + text
    return text


@dataclass(frozen=True, slots=True)
class CsvDialect:
    """How a CSV file is written: separator, decimal mark, date layout and file encoding."""

    name: str
    delimiter: str
    decimal: str
    encoding: str  # "utf-8-sig" writes the BOM Excel needs to read UTF-8
    date_format: str

    def number(self, text: str) -> str:
        """A number written with `.` (`1234.50`) in this dialect's decimal mark."""
        return text.replace(".", self.decimal) if self.decimal != "." else text

    def date(self, day: dt.date) -> str:
        """A day in this dialect's layout."""
        return day.strftime(self.date_format)


CSV_DIALECTS: dict[str, CsvDialect] = {
    "standard": CsvDialect("standard", ",", ".", "utf-8", "%Y-%m-%d"),
    "excel-fr": CsvDialect("excel-fr", ";", ",", "utf-8-sig", "%d/%m/%Y"),
}


def csv_dialect(name: str) -> CsvDialect:
    """The dialect of this name (ValueError naming the known ones otherwise)."""
    try:
        return CSV_DIALECTS[name]
    except KeyError:
        raise ValueError(
            f"unknown CSV dialect {name!r} (expected one of {', '.join(CSV_DIALECTS)})"
        ) from None


def csv_cell(value: object, kind: str, dialect: CsvDialect) -> str:
    """One cell of a report table as CSV text in a dialect: numbers with its decimal mark and
    never grouped, money with two places, percentages as fractions, dates in its layout, text
    made inert."""
    from engine.money import format_money
    from engine.report.document import decimal_of_cell

    if value is None:
        return ""
    if isinstance(value, dt.date) and kind in ("date", "text"):
        day = value.date() if isinstance(value, dt.datetime) else value
        return dialect.date(day)
    if kind != "text":
        number = decimal_of_cell(value)
        if number is not None:
            text = format_money(number) if kind == "money" else f"{number.normalize():f}"
            return dialect.number(text)
    return escape_formula(str(value))


def write_csv_tables(doc: Document, folder: Path, dialect: CsvDialect) -> list[Path]:
    """Every table of a report as `<table id>.csv` in `folder`, as one set of files
    (`engine.files.atomic_files`); returns the files written."""
    from engine.files import atomic_files

    written = []
    with atomic_files(folder) as place:
        for table in doc.tables():
            name = f"{table.id}.csv"
            kinds = [c.kind for c in table.columns]
            with place(name).open("w", encoding=dialect.encoding, newline="") as stream:
                writer = csv.writer(stream, delimiter=dialect.delimiter)
                writer.writerow([escape_formula(c.label) for c in table.columns])
                for row in table.rows:
                    writer.writerow(
                        [csv_cell(v, k, dialect) for v, k in zip(row, kinds, strict=True)]
                    )
            written.append(folder / name)
    return written
