"""Writing evaluation results: one JSON document, CSV files, or an XLSX workbook.

The output contract (`koncept eval`):
  * JSON: one document with the tables of `Results.tables()` (`leads`, `deals`, `funnel`, `kpis`,
    `alerts`, `errors`, `payouts`, `budget`, `strategy`, `payout_lines`: pay per deal), each a
    list of row objects, plus `counts` ({table: {in, out, rejected}}), `as_of` and `period`.
    Missing values are null, dates ISO (`2026-03-31`), lists and mappings stay lists and
    objects. Money is a decimal string with two places (`"4237.00"`): deals' `weighted_value`,
    the value and target of a KPI that measures money, the target, actual and gap of a
    strategy's revenue line, and the payouts (already text). Other numbers (scores, points,
    rates, shares, days) are JSON numbers.
  * CSV: one file per table (`leads.csv`...), plus `counts.csv`. Lists are joined with `; `; a
    column of mappings (`points`) becomes one column per key (`points.budget`); a column of
    lists of mappings (the payouts' `measures`) becomes its own file (`payouts_measures.csv`)
    keyed by the row's other columns.
  * XLSX: the same tables as sheets of one workbook; numbers are number cells (money shown with
    two places and the currency), attainments, rates and ratios are percent cells, dates are
    date cells (`engine.report.xlsx`: header frozen, filters, column widths).
`--csv-dialect excel-fr` writes CSV for French Excel: `;` between cells, decimal comma, dates
`31/03/2026`, UTF-8 with a BOM (`engine.report.spreadsheet`).
In CSV and XLSX, a text cell a spreadsheet would run as a formula (starting with `=`, `+`, `-`,
`@`, a tab or a carriage return) is written with a leading `'`; text that is a plain number
(`-5`, `+3.5`) is left alone, as is every number cell. In CSV only, a `;` is also a cell
boundary (Excel in French, German... splits a CSV on `;`): wherever a `;` is followed, after
spaces, by one of those formula starts, a `'` goes before that start (`x;=HYPERLINK(...)` ->
`x;'=HYPERLINK(...)`, `a; +1` -> `a; '+1`), plain numbers included, so no piece of the cell
can start a formula whichever separator the reader splits on.

Files are written atomically: each under a temporary name in the same folder, renamed to its
name once complete; the several files of CSV output are all written first, then all renamed
(with Ctrl-C held back during the renames), so an interrupted or failed run leaves either the
whole set or none of it, and no temporary file.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import math
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from engine.files import atomic_files
from engine.money import format_money
from engine.report.spreadsheet import CSV_DIALECTS, CsvDialect, escape_formula, plain_number
from engine.results import MEASURE_FIELDS, PAYMENT_COLUMNS, is_missing

if TYPE_CHECKING:
    from engine.ir import Compiled
    from engine.program import Program
    from engine.results import Results

__all__ = [
    "XLSX_MAX_ROWS",
    "OutputError",
    "counts_rows",
    "escape_formula",
    "money_kpis",
    "percent_kpis",
    "to_json",
    "write_csv",
    "write_json",
    "write_xlsx",
]

#: Rows an Excel sheet holds, header included.
XLSX_MAX_ROWS = 1_048_576

# Characters XML 1.0 cannot hold; openpyxl refuses them, a CRM export may contain them.
_ILLEGAL_XML = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")
_CHUNK = 10_000

#: The money columns of the payments table (all but who, which plan, when).
_PAYMENT_MONEY = PAYMENT_COLUMNS[5:]
#: (table, column) pairs whose values are money in every row (payouts are already text; a
#: workbook still shows them as numbers).
_MONEY_COLUMNS = frozenset(
    {
        ("deals", "weighted_value"),
        ("payouts", "payout"),
        ("payouts_measures", "credited"),
        ("payouts_measures", "quota"),
        ("payouts_measures", "payout"),
        ("payout_lines", "credited"),
        ("payout_lines", "payout"),
        ("budget", "total"),
        ("budget", "budget"),
        *(("payments", column) for column in _PAYMENT_MONEY),
    }
)
#: (table, column) pairs holding fractions (attainments, rates, ratios; pay writes some as
#: text): percent number cells in a workbook.
_PERCENT_COLUMNS = frozenset(
    {
        ("funnel", "conversion_to_next"),
        ("payouts_measures", "attainment"),
        ("payouts_measures", "rate_or_pct"),
        ("payouts_measures", "effective_rate"),
        ("payout_lines", "rate"),
        ("budget", "ratio"),
        ("budget", "guardrail"),
        ("strategy", "tolerance"),
    }
)
#: Columns holding a list of records per row, with the keys of a record: each gets its own
#: CSV file or sheet, named `<table>_<column>` (the keys stay known when the table is empty).
_RECORD_COLUMNS: dict[tuple[str, str], tuple[str, ...]] = {("payouts", "measures"): MEASURE_FIELDS}
#: KPI columns that are money when the KPI measures money.
_KPI_MONEY_COLUMNS = ("value", "target")
#: Strategy columns that are money on a revenue line and fractions (shares) on the others.
_STRATEGY_FIGURES = ("target", "actual", "gap")
#: Per table, the columns whose cells are money or a rate depending on the row.
_ROW_FIGURES = {"kpis": _KPI_MONEY_COLUMNS, "strategy": _STRATEGY_FIGURES}


class OutputError(ValueError):
    """Results that cannot be written in the asked format (too many rows for a sheet)."""


def money_kpis(compiled: Compiled) -> frozenset[str]:
    """The KPIs whose value is an amount of money (their value and target are money), as the
    checker typed them."""
    return frozenset(name for name, kpi in compiled.kpis.items() if kpi.type.kind == "money")


def percent_kpis(program: Program) -> frozenset[str]:
    """The KPIs whose value is a rate (a fraction shown as a percentage; see
    `engine.report.rituals.kpi_kind`)."""
    from engine.report.rituals import kpi_kind

    return frozenset(name for name in program.compiled.kpis if kpi_kind(program, name) == "percent")


def counts_rows(results: Results) -> list[dict[str, Any]]:
    """Rows read, evaluated and rejected per input table: `in = out + rejected`."""
    return [
        {"table": c.table, "in": c.rows_in, "out": c.rows_out, "rejected": c.rejected}
        for c in results.counts.values()
    ]


# ----------------------------------------------------------------------------- columns
@dataclass(slots=True)
class _Col:
    """A column as codes into its distinct values (-1: missing), with its money flag(s).

    Every conversion runs once per distinct value, then is spread to the rows by the codes: an
    output of a million rows converts a few thousand values. `money` is one flag for the column,
    or one per value (a KPI table mixes amounts and rates; its values are not merged).
    """

    codes: npt.NDArray[np.intp]
    values: list[Any]
    money: bool | list[bool]

    @classmethod
    def of(cls, series: pd.Series[Any], money: bool) -> _Col:
        """A factorized column. Equal values merge (`1` and `1.0`): a column holds one kind."""
        codes, uniques = pd.factorize(series, use_na_sentinel=True)
        return cls(np.asarray(codes), [_python(u) for u in uniques], money)

    @classmethod
    def rows(cls, values: Sequence[Any], money: bool | list[bool] = False) -> _Col:
        """A column kept row by row (values as given, None missing)."""
        return cls(np.arange(len(values)), list(values), money)

    def __len__(self) -> int:
        return len(self.codes)

    def cells(self, convert: Callable[[Any, bool], Any]) -> list[Any]:
        """`convert(value, money)` of every row (missing: `convert(None, False)`)."""
        flags = self.money if isinstance(self.money, list) else [self.money] * len(self.values)
        table = np.empty(len(self.values) + 1, dtype=object)
        # Item by item: converted cells may be lists, which numpy would spread over rows.
        for position, (value, money) in enumerate(zip(self.values, flags, strict=True)):
            table[position] = convert(value, money) if value is not None else convert(None, False)
        table[-1] = convert(None, False)
        cells: list[Any] = table[self.codes].tolist()
        return cells

    def cells_by_value(self, convert: Callable[[Any, bool], Any]) -> list[Any]:
        """`convert(value, money)` of every distinct value, then of missing (index -1): index
        it with `codes` to get the rows' cells."""
        flags = self.money if isinstance(self.money, list) else [self.money] * len(self.values)
        converted = [
            convert(value, money) if value is not None else convert(None, False)
            for value, money in zip(self.values, flags, strict=True)
        ]
        converted.append(convert(None, False))
        return converted

    def money_rows(self) -> list[bool]:
        """The money flag of every row."""
        if isinstance(self.money, list):
            flags = [*self.money, False]
            return [flags[code] for code in self.codes.tolist()]
        return [self.money] * len(self.codes)

    def take(self, rows: Sequence[int]) -> _Col:
        """The column at the given row positions."""
        return _Col(self.codes[np.asarray(rows, dtype=np.intp)], self.values, self.money)


def _lookup(cells: list[Any]) -> npt.NDArray[np.object_]:
    """Converted distinct values as an array to index with codes (item by item: a cell that is
    a list stays one cell)."""
    table = np.empty(len(cells), dtype=object)
    for position, cell in enumerate(cells):
        table[position] = cell
    return table


def _python(value: Any) -> Any:
    """A distinct value as a plain Python object (numpy and pandas scalars unwrapped)."""
    if value is None or is_missing(value):
        return None
    if isinstance(value, np.generic):
        return value.item()
    return value


def _columns(name: str, frame: pd.DataFrame, money: frozenset[str]) -> tuple[list[str], list[_Col]]:
    """The columns of one output table, factorized, with their money flags."""
    names = [str(c) for c in frame.columns]
    if name == "kpis" and "kpi" in names:
        # Small, and its value and target mix amounts, rates and counts: row by row.
        plain = [_plain(frame.iloc[:, i]) for i in range(len(names))]
        per_row = [k in money for k in plain[names.index("kpi")]]
        return names, [
            _Col.rows(values, per_row if column in _KPI_MONEY_COLUMNS else False)
            for column, values in zip(names, plain, strict=True)
        ]
    if name == "strategy" and "kind" in names:
        # A revenue line's figures are amounts, the other lines' are shares: row by row.
        plain = [_plain(frame.iloc[:, i]) for i in range(len(names))]
        per_row = [kind == "revenue" for kind in plain[names.index("kind")]]
        return names, [
            _Col.rows(values, per_row if column in _STRATEGY_FIGURES else False)
            for column, values in zip(names, plain, strict=True)
        ]
    return names, [
        _Col.of(frame.iloc[:, i], (name, column) in _MONEY_COLUMNS)
        for i, column in enumerate(names)
    ]


def _plain(series: pd.Series[Any]) -> list[Any]:
    """A column's values as Python objects, every kind of missing as None."""
    column: Any = series  # pandas-stubs know no `na_value=None`
    values: list[Any] = column.to_numpy(dtype=object, na_value=None).tolist()
    return [None if is_missing(v) else _python(v) for v in values]


# ----------------------------------------------------------------------------- JSON
def to_json(value: Any, money: bool = False) -> Any:
    """One cell as a JSON value: money as a two-place string, dates ISO, missing as None."""
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, int):
        return format_money(Decimal(value)) if money else value
    if isinstance(value, float):
        if not math.isfinite(value):
            return None
        return format_money(Decimal(repr(value))) if money else value
    if isinstance(value, Decimal):
        if not value.is_finite():
            return None
        if money:
            return format_money(value)
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time() else value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(k): to_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [to_json(v) for v in value]
    item = getattr(value, "item", None)  # a numpy scalar
    if callable(item):
        return to_json(item(), money)
    return str(value)


def write_json(
    results: Results,
    stream: IO[str],
    money: frozenset[str] = frozenset(),
    *,
    ensure_ascii: bool = False,
    head: Mapping[str, Any] | None = None,
) -> None:
    """Write the one JSON document of the output contract, one row per line; `head` adds
    members before the others (`koncept serve` names the ruleset and its version)."""
    encode = json.JSONEncoder(ensure_ascii=ensure_ascii, allow_nan=False).encode
    stream.write("{\n")
    head = {
        **(head or {}),
        "as_of": None if results.as_of is None else results.as_of.isoformat(),
        "period": results.period,
    }
    for key, value in head.items():
        stream.write(f"{encode(key)}: {encode(value)},\n")
    for name, frame in results.tables().items():
        stream.write(f"{encode(name)}: [")
        rows = 0
        for rows, chunk in enumerate(_json_chunks(name, frame, money, encode), start=1):
            stream.write(("\n" if rows == 1 else ",\n") + chunk)
        stream.write("\n],\n" if rows else "],\n")
    counts = {row.pop("table"): row for row in counts_rows(results)}
    stream.write(f'"counts": {encode(counts)}\n}}\n')


def _json_chunks(
    name: str, frame: pd.DataFrame, money: frozenset[str], encode: Callable[[Any], str]
) -> Iterator[str]:
    """The rows of a table as JSON objects (one per line, as `json` writes a dict), `_CHUNK`
    rows at a time: memory holds each column's distinct members and one chunk, not the text
    of the whole table."""
    names, columns = _columns(name, frame, money)
    members = [
        _lookup(col.cells_by_value(_json_member(encode(column), encode)))
        for column, col in zip(names, columns, strict=True)
    ]
    total = len(columns[0]) if columns else 0
    for start in range(0, total, _CHUNK):
        parts = [
            table[col.codes[start : start + _CHUNK]].tolist()
            for table, col in zip(members, columns, strict=True)
        ]
        yield ",\n".join("{" + ", ".join(row) + "}" for row in zip(*parts, strict=True))


def _json_member(key: str, encode: Callable[[Any], str]) -> Callable[[Any, bool], str]:
    return lambda value, money: f"{key}: {encode(to_json(value, money))}"


# ----------------------------------------------------------------------------- CSV and XLSX
def _sheets(results: Results, money: frozenset[str]) -> Iterator[tuple[str, list[str], list[_Col]]]:
    """Each output table flattened for a spreadsheet: (name, header, columns)."""
    for name, frame in results.tables().items():
        names, columns = _columns(name, frame, money)
        header: list[str] = []
        flat: list[_Col] = []
        children: list[tuple[str, _Col, tuple[str, ...]]] = []
        for column, col in zip(names, columns, strict=True):
            present = [v for v in col.values if v is not None]
            if present and all(isinstance(v, Mapping) for v in present):
                for key in _keys(present):
                    header.append(f"{column}.{key}")
                    values = [None if v is None else v.get(key) for v in col.values]
                    flat.append(_Col(col.codes, values, False))
            elif (name, column) in _RECORD_COLUMNS or (
                present and all(_records(v) for v in present) and any(present)
            ):
                children.append((f"{name}_{column}", col, _RECORD_COLUMNS.get((name, column), ())))
            else:
                header.append(column)
                flat.append(col)
        yield name, header, flat
        for child, col, known in children:
            records, parents = [], []
            for position, cell in enumerate(col.cells(lambda v, m: v)):
                for item in cell or ():
                    records.append(item)
                    parents.append(position)
            keys = list(dict.fromkeys([*known, *_keys(records)]))
            # The parent's columns identify each item (rep, plan, period), unless they clash.
            own = [i for i, n in enumerate(header) if n not in keys and "." not in n]
            child_header = [header[i] for i in own] + keys
            child_columns = [flat[i].take(parents) for i in own]
            child_columns += [
                _Col.rows([r.get(key) for r in records], (child, key) in _MONEY_COLUMNS)
                for key in keys
            ]
            yield child, child_header, child_columns
    counts = counts_rows(results)
    header = ["table", "in", "out", "rejected"]
    yield "counts", header, [_Col.rows([row[key] for row in counts]) for key in header]


def _records(value: Any) -> bool:
    return isinstance(value, list | tuple) and all(isinstance(v, Mapping) for v in value)


def _keys(mappings: Iterable[Mapping[str, Any]]) -> list[str]:
    seen: dict[str, None] = {}
    distinct: dict[int, Mapping[str, Any]] = {id(m): m for m in mappings}
    for mapping in distinct.values():
        seen.update(dict.fromkeys(str(k) for k in mapping))
    return list(seen)


def _text(dialect: CsvDialect, numeric: bool) -> Callable[[Any, bool], str]:
    """The converter of one CSV column: text (not numbers) made inert for spreadsheets;
    numbers, and the amounts and fractions pay writes as text (`numeric`), in the dialect's
    decimal mark; dates in its layout."""
    plain = dialect.name == "standard"

    def convert(value: Any, money: bool) -> str:
        if isinstance(value, str) and (money or numeric) and plain_number(value):
            return value if plain else dialect.number(value)
        if isinstance(value, str | list | tuple | set | frozenset | Mapping):
            return escape_formula(_raw(value, money))
        if plain or value is None or isinstance(value, bool):
            return _raw(value, money)
        if isinstance(value, dt.datetime):
            return dialect.date(value.date()) if value.time() == dt.time() else _raw(value, money)
        if isinstance(value, dt.date):
            return dialect.date(value)
        return dialect.number(_raw(value, money))

    return convert


def _raw(value: Any, money: bool) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, list | tuple | set | frozenset):
        return "; ".join(_raw(v, False) for v in value)
    if isinstance(value, Mapping):
        return json.dumps(to_json(value), ensure_ascii=False)
    shown = to_json(value, money)
    if shown is None:
        return ""
    return shown if isinstance(shown, str) else str(shown)


def write_csv(
    results: Results,
    folder: Path,
    money: frozenset[str] = frozenset(),
    dialect: CsvDialect = CSV_DIALECTS["standard"],
) -> list[Path]:
    """Write one CSV file per table into `folder`, as one set (see `atomic_files`), in a
    dialect (UTF-8 with `,` by default; `excel-fr` for French Excel); returns the files."""
    written = []
    with atomic_files(folder) as place:
        for name, header, columns in _sheets(results, money):
            file_name = f"{name}.csv"
            with place(file_name).open("w", encoding=dialect.encoding, newline="") as stream:
                writer = csv.writer(stream, delimiter=dialect.delimiter)
                writer.writerow([escape_formula(h) for h in header])
                members = [
                    _lookup(col.cells_by_value(_text(dialect, (name, column) in _PERCENT_COLUMNS)))
                    for column, col in zip(header, columns, strict=True)
                ]
                total = len(columns[0]) if columns else 0
                for start in range(0, total, _CHUNK):
                    part = [
                        table[col.codes[start : start + _CHUNK]].tolist()
                        for table, col in zip(members, columns, strict=True)
                    ]
                    writer.writerows(zip(*part, strict=True))
            written.append(folder / file_name)
    return written


def _cell(value: Any, money: bool) -> Any:
    """One cell as an openpyxl value: numbers stay numbers, text is made inert."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int):
        return Decimal(value) if money else value
    if isinstance(value, float):
        if not math.isfinite(value):
            return None
        return Decimal(format_money(Decimal(repr(value)))) if money else value
    if isinstance(value, Decimal):
        if not value.is_finite():
            return None
        # openpyxl writes a Decimal's exact text into the file.
        return Decimal(format_money(value)) if money else value
    if isinstance(value, dt.datetime):
        return value.date() if value.time() == dt.time() else value.replace(tzinfo=None)
    if isinstance(value, dt.date):
        return value
    if money and isinstance(value, str) and plain_number(value):
        return Decimal(value)
    if isinstance(value, str | list | tuple | set | frozenset | Mapping):
        # A workbook cell is never split on `;`: only its start matters.
        return _ILLEGAL_XML.sub("", escape_formula(_raw(value, money), semicolons=False))
    return _ILLEGAL_XML.sub("", _raw(value, money))


def _fraction(value: Any, money: bool) -> Any:
    """A cell of a column of fractions: text pay wrote (`"0.95"`) becomes the exact number."""
    if isinstance(value, str) and plain_number(value):
        return Decimal(value)
    return _cell(value, money)


def write_xlsx(
    results: Results,
    path: Path,
    money: frozenset[str] = frozenset(),
    percent: frozenset[str] = frozenset(),
    currency: str = "EUR",
) -> Path:
    """Write every table as a sheet of one workbook at `path`, typed and styled as every
    workbook of the project (`engine.report.xlsx`): `money` and `percent` name the KPIs whose
    value and target are amounts and rates."""
    from openpyxl import Workbook  # type: ignore[import-untyped, unused-ignore]

    from engine.report.xlsx import SheetWriter, sheet_titles

    sheets = list(_sheets(results, money))
    for name, _, columns in sheets:
        rows = len(columns[0]) if columns else 0
        if rows + 1 > XLSX_MAX_ROWS:
            raise OutputError(
                f"the {name} table has {rows:,} rows; an Excel sheet holds "
                f"{XLSX_MAX_ROWS - 1:,}: use --format csv"
            )
    workbook = Workbook(write_only=True)
    titles = sheet_titles([name for name, _, _ in sheets])
    for (name, header, columns), title in zip(sheets, titles, strict=True):
        percents = [(name, column) in _PERCENT_COLUMNS for column in header]
        cells = [
            col.cells(_fraction if fraction else _cell)
            for col, fraction in zip(columns, percents, strict=True)
        ]
        kinds = ["percent" if fraction else "text" for fraction in percents]
        money_at = [col.money_rows() for col in columns]
        rates = _rate_rows(name, header, cells, percent)
        total = len(columns[0]) if columns else 0
        writer = SheetWriter(
            workbook, title, header, kinds, total, list(zip(*cells, strict=True))[:200], currency
        )
        for r, row in enumerate(zip(*cells, strict=True)):
            row_kinds = [
                "money"
                if m[r]
                else "percent"
                if rates[r] and k == "text" and c in _ROW_FIGURES.get(name, ())
                else k
                for k, m, c in zip(kinds, money_at, header, strict=True)
            ]
            writer.append(row, row_kinds, typed=True)
    with atomic_files(path.parent) as place:
        workbook.save(place(path.name))
    return path


def _rate_rows(
    name: str, header: list[str], cells: list[list[Any]], percent: frozenset[str]
) -> list[bool]:
    """Per row of the KPI table, whether its value and target are rates; of the strategy
    table, whether its figures are shares (every line but revenue)."""
    total = len(cells[0]) if cells else 0
    if name == "strategy" and "kind" in header:
        return [kind != "revenue" for kind in cells[header.index("kind")]]
    if name != "kpis" or "kpi" not in header or not percent:
        return [False] * total
    return [kpi in percent for kpi in cells[header.index("kpi")]]
