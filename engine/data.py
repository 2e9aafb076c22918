"""Input tables: read files, apply CRM mappings, validate rows into typed columns.

Reading (`read_table`) gives a DataFrame of text: every cell is a string with surrounding spaces
removed, an empty cell is missing (NaN of pandas' string dtype). Its index is the row number a
user sees: for CSV and XLSX the header is row 1, so the first data row is row 2 (the number a
spreadsheet shows in its margin); for JSON and Parquet the first record is row 1. Blank lines are
dropped without renumbering the others, so a row number always points at the right line.

Validation (`validate_table`) turns text into typed columns and reports every invalid cell as a
`RowError` carrying that row number; a frame built in memory with pandas' default 0-based index
is numbered from 1. A row with any error is left out of `valid`, and
`rows_in == rows_out + rows_rejected` always holds.
"""

from __future__ import annotations

import codecs
import json
import os
import re
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date, datetime, time
from decimal import Decimal
from difflib import get_close_matches
from pathlib import Path
from typing import Any, TypeVar

import jsonschema  # type: ignore[import-untyped, unused-ignore]
import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa  # type: ignore[import-untyped, unused-ignore]
import pyarrow.compute as pc  # type: ignore[import-untyped, unused-ignore]
import yaml

from dsl.canonical import Column
from engine.money import parse_money, parse_number
from engine.schemas import FILE_NAMES, PRESETS, RECORD_NAMES, mapping_schema

__all__ = [
    "EXTENSIONS",
    "KEYS",
    "Case",
    "CrmMapping",
    "DataError",
    "MappingError",
    "RowError",
    "TableMapping",
    "Validated",
    "apply_mapping",
    "load_inputs",
    "load_mapping",
    "read_table",
    "validate_table",
]

#: File extensions `read_table` understands, in the order `load_inputs` looks for them.
EXTENSIONS = (".csv", ".xlsx", ".json", ".parquet")

#: Record name -> the columns that identify a row; a repeated key rejects every copy.
KEYS: dict[str, tuple[str, ...]] = {
    "lead": ("id",),
    "deal": ("id",),
    "rep": ("id",),
    "territory": ("id",),
    "quota": ("rep_id", "period", "measure"),
    "stage_event": ("deal_id", "stage", "entered_at"),
}

#: Accepted spellings of yes/no cells (compared lower-case).
TRUE_WORDS = ("true", "yes", "oui", "vrai", "1")
FALSE_WORDS = ("false", "no", "non", "faux", "0")

_PRESET_DIR = Path(__file__).parent / "presets"
_BOOL_HELP = "expected true/false, yes/no, oui/non, vrai/faux or 1/0"
_DATE_HELP = "expected YYYY-MM-DD or DD/MM/YYYY"
_FIRST_DATE = pd.Timestamp("1900-01-01")
_LAST_DATE = pd.Timestamp("2199-12-31")
_MAX_CENTS = 10**15  # amounts up to 10^13: far above any deal, and exact through float64

Bools = npt.NDArray[np.bool_]
_A = TypeVar("_A")
_T = TypeVar("_T")


class DataError(Exception):
    """An input file that cannot be read or used, with the path and the reason."""

    def __init__(self, path: str | Path, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = str(path)
        self.reason = reason


class MappingError(DataError):
    """A CRM mapping file that does not follow the mapping schema; one located message each."""

    def __init__(self, path: str | Path, messages: Sequence[str]) -> None:
        super().__init__(path, "\n".join(messages))
        self.messages = tuple(messages)

    def __str__(self) -> str:
        return self.reason


@dataclass(frozen=True, slots=True)
class RowError:
    """One invalid cell (or a whole table when `row` is None): where, what, and why."""

    table: str
    row: int | None
    column: str | None
    value: str | None
    message: str


@dataclass(frozen=True, eq=False)
class Validated:
    """The rows of a table that passed validation, typed, and the errors of those that did not."""

    table: str
    valid: pd.DataFrame
    errors: tuple[RowError, ...]
    rows_in: int
    #: Row numbers of the rows left out, in file order.
    rejected: tuple[int, ...] = field(default=())
    #: Text columns read as few distinct values: each valid row's code (-1: missing) and the
    #: distinct values, for callers that group or look up by value without hashing again.
    codes: Mapping[str, tuple[npt.NDArray[np.integer[Any]], tuple[str, ...]]] = field(
        default_factory=dict
    )

    @property
    def rows_out(self) -> int:
        """Number of valid rows."""
        return len(self.valid)

    @property
    def rows_rejected(self) -> int:
        """Number of distinct rows left out because of at least one error."""
        return self.rows_in - self.rows_out


@dataclass(frozen=True, slots=True)
class Case:
    """One case of a derived column: `then` where every `when` source column has a listed value."""

    when: tuple[tuple[str, tuple[str, ...]], ...]
    then: str | None


@dataclass(frozen=True, slots=True)
class TableMapping:
    """How one canonical table is found and translated from a CRM export."""

    file: str | None = None
    source: str | None = None  # `from:` build the table from another table's distinct values
    columns: tuple[tuple[str, tuple[str, ...]], ...] = ()
    values: Mapping[str, Mapping[str, str | None]] = field(default_factory=dict)
    defaults: Mapping[str, str] = field(default_factory=dict)
    derive: Mapping[str, tuple[Case, ...]] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class CrmMapping:
    """A loaded CRM mapping: input table name (`deals`) -> its `TableMapping`."""

    tables: Mapping[str, TableMapping]
    preset: str | None = None


# ---------------------------------------------------------------------------------------------
# Reading files


def read_table(path: str | Path) -> pd.DataFrame:
    """Read a CSV, XLSX, JSON (records list) or Parquet file as text cells indexed by row number."""
    path = Path(path)
    suffix = path.suffix.lower()
    readers: dict[str, Callable[[Path], pd.DataFrame]] = {
        ".csv": _read_csv,
        ".tsv": _read_csv,
        ".txt": _read_csv,
        ".xlsx": _read_xlsx,
        ".xlsm": _read_xlsx,
        ".json": _read_json,
        ".parquet": _read_parquet,
        ".pq": _read_parquet,
    }
    reader = readers.get(suffix)
    if reader is None:
        raise DataError(
            path,
            f"unsupported file type {suffix or '(none)'!r} (expected .csv, .xlsx, .json or "
            ".parquet)",
        )
    if not path.is_file():
        raise DataError(path, "file not found" if not path.exists() else "not a file")
    try:
        frame = reader(path)
    except DataError:
        raise
    except Exception as error:
        # pandas, openpyxl and pyarrow raise many kinds of errors; users get a reason, no trace.
        raise DataError(path, _reason(error)) from error
    return _normalise(frame, path)


def _reason(error: Exception) -> str:
    text = str(error).strip() or type(error).__name__
    fields = re.search(r"Expected (\d+) fields in line (\d+), saw (\d+)", text)
    if fields:
        expected, line, saw = fields.groups()
        return f"line {line} has {saw} cells but the header has {expected}"
    return text.splitlines()[0]


def _read_csv(path: Path) -> pd.DataFrame:
    with path.open("rb") as stream:
        head = stream.read(65536)
    encoding = _encoding(path, head)
    lines = head.decode(encoding, errors="replace").lstrip("\ufeff").splitlines()[:2]
    # Excel writes and honours a first line `sep=;` naming the separator; it is not the header.
    hint = re.fullmatch(r"sep=(.)", lines[0].strip()) if lines else None
    skip = 1 if hint else 0
    separator = hint.group(1) if hint else _separator(lines[0] if lines else "")
    # header=None: the header is read as data so duplicate or empty names are seen as written,
    # and skip_blank_lines=False keeps the frame's positions equal to the file's lines.
    try:
        raw = pd.read_csv(
            path,
            sep=separator,
            header=None,
            dtype=str,
            keep_default_na=False,
            na_filter=False,
            skip_blank_lines=False,
            encoding=encoding,
            engine="c",
            skiprows=skip,
        )
    except pd.errors.EmptyDataError:
        raw = pd.DataFrame()
    if raw.empty:
        raise DataError(path, "the file is empty (expected a header line)")
    header = [str(name) for name in raw.iloc[0].tolist()]
    body = raw.iloc[1:]
    body.columns = pd.Index(header)
    body.index = pd.RangeIndex(2 + skip, len(raw) + 1 + skip)
    return body


def _encoding(path: Path, head: bytes) -> str:
    if head.startswith(b"\xef\xbb\xbf"):
        return "utf-8-sig"
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return "utf-16"
    if _decodes(path, "utf-8"):
        return "utf-8"
    # Excel on French Windows saves "CSV (séparateur: point-virgule)" in cp1252.
    if _decodes(path, "cp1252"):
        return "cp1252"
    raise DataError(path, "not UTF-8 or Windows-1252 text")


def _decodes(path: Path, encoding: str) -> bool:
    decoder = codecs.getincrementaldecoder(encoding)()
    try:
        with path.open("rb") as stream:
            while chunk := stream.read(1 << 20):
                decoder.decode(chunk)
            decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return False
    return True


def _separator(header_line: str) -> str:
    counts = {sep: _count_unquoted(header_line, sep) for sep in (";", ",", "\t", "|")}
    best = max(counts, key=lambda sep: counts[sep])
    return best if counts[best] else ","


def _count_unquoted(line: str, separator: str) -> int:
    # A quoted header may contain the other separator ("Montant, HT";...): count outside quotes.
    return sum(part.count(separator) for part in line.split('"')[::2])


def _read_xlsx(path: Path) -> pd.DataFrame:
    import openpyxl  # type: ignore[import-untyped, unused-ignore]

    try:
        workbook = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as error:
        raise DataError(path, f"not a readable Excel file ({_reason(error)})") from error
    try:
        sheet = workbook.worksheets[0]
        rows = [[_cell_text(cell) for cell in row] for row in sheet.iter_rows(values_only=True)]
    finally:
        workbook.close()
    if not rows:
        raise DataError(path, "the first sheet is empty (expected a header row)")
    width = max(len(row) for row in rows)
    rows = [row + [""] * (width - len(row)) for row in rows]
    frame = pd.DataFrame(rows[1:], columns=pd.Index(rows[0]), index=pd.RangeIndex(2, len(rows) + 1))
    return frame


def _cell_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        # Excel stores every number as a double: 3.0 is the integer 3; repr keeps 0.1 as 0.1.
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == time() else value.isoformat(sep=" ")
    if isinstance(value, date | time):
        return value.isoformat()
    return str(value)


def _read_json(path: Path) -> pd.DataFrame:
    text = path.read_text(encoding="utf-8-sig")
    # Numbers are kept as written so 1234.10 stays exact text for the money parser.
    try:
        records = json.loads(text, parse_float=str, parse_int=str)
    except json.JSONDecodeError as error:
        raise DataError(path, f"not valid JSON: {error}") from None
    if not isinstance(records, list):
        raise DataError(path, "expected a JSON list of records ([{...}, ...])")
    rows: list[dict[str, str]] = []
    for number, record in enumerate(records, start=1):
        if not isinstance(record, dict):
            raise DataError(path, f"record {number} is not an object")
        row: dict[str, str] = {}
        for key, value in record.items():
            if isinstance(value, dict | list):
                raise DataError(
                    path, f"record {number}, field {key!r}: nested values are not supported"
                )
            row[key] = _json_text(value)
        rows.append(row)
    columns: dict[str, None] = {}
    for row in rows:
        columns.update(dict.fromkeys(row))
    data = {name: [row.get(name, "") for row in rows] for name in columns}
    return pd.DataFrame(data, index=pd.RangeIndex(1, len(rows) + 1), dtype="str")


def _json_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _read_parquet(path: Path) -> pd.DataFrame:
    import pyarrow.parquet as pq  # type: ignore[import-untyped, unused-ignore]

    try:
        table = pq.read_table(path)
    except (pa.ArrowException, OSError) as error:
        # pyarrow repeats the path in front of the reason; keep only the reason.
        detail = _reason(error).split(": ", 1)[-1]
        raise DataError(path, f"not a readable Parquet file ({detail})") from error
    index = pd.RangeIndex(1, table.num_rows + 1)
    data: dict[str, pd.Series[Any]] = {}
    for name, column in zip(table.column_names, table.columns, strict=True):
        data[name] = pd.Series(_arrow_text(path, name, column).to_pandas(), dtype="str").set_axis(
            index
        )
    return pd.DataFrame(data, index=index)


def _arrow_text(path: Path, name: str, column: pa.ChunkedArray) -> pa.ChunkedArray:
    kind = column.type
    if pa.types.is_dictionary(kind):
        column = column.cast(kind.value_type)
        kind = column.type
    if pa.types.is_timestamp(kind):
        # A timestamp column holding only midnights is a date column written by pandas.
        day = pc.floor_temporal(column, unit="day")
        midnight = pc.all(pc.or_kleene(pc.equal(column, day), pc.is_null(column))).as_py()
        return pc.strftime(column, format="%Y-%m-%d" if midnight else "%Y-%m-%d %H:%M:%S")
    if pa.types.is_nested(kind):
        raise DataError(path, f"column {name!r}: nested values are not supported")
    return column.cast(pa.large_string())


def _normalise(frame: pd.DataFrame, path: Path) -> pd.DataFrame:
    names = [str(name).strip().lstrip("\ufeff").strip() for name in frame.columns]
    data: dict[str, pd.Series[Any]] = {}
    for position, name in enumerate(names):
        column = _as_text(frame.iloc[:, position])
        if not name:
            if column.notna().any():
                raise DataError(path, f"column {position + 1} has values but no name in the header")
            continue  # trailing separators in spreadsheet exports make empty, unnamed columns
        if name in data:
            raise DataError(path, f"column {name!r} appears twice in the header")
        data[name] = column
    result = pd.DataFrame(data, index=frame.index, copy=False)
    if len(result.columns):
        filled = result.notna().any(axis=1).to_numpy()
        if not filled.all():
            result = result[filled]  # blank lines, ";;;" lines
    return result


def _as_text(column: pd.Series[Any]) -> pd.Series[Any]:
    """Text cells without surrounding spaces; empty cells and NaN become missing."""
    return _stripped(_unstripped(column))


def _unstripped(column: pd.Series[Any]) -> pd.Series[Any]:
    if isinstance(column.dtype, pd.StringDtype):
        return column
    text: pd.Series[Any] = (
        column.dt.strftime("%Y-%m-%d").astype("str")
        if pd.api.types.is_datetime64_any_dtype(column.dtype)
        else column.astype("str")
    )
    return text


def _stripped(text: pd.Series[Any]) -> pd.Series[Any]:
    if not isinstance(text.array, pd.arrays.ArrowStringArray):
        text = text.str.strip()
        return text.mask(text == "")
    # Arrow all along; a column read in chunks (CSV) comes back in one, so that later steps
    # do not join its chunks again.
    array = pa.array(text.array, type=pa.large_string())
    changed = isinstance(array, pa.ChunkedArray) and array.num_chunks > 1
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    if not _trimmed(array):
        array = pc.utf8_trim_whitespace(array)  # what pandas' str.strip does on Arrow text
        changed = True
    empty = pc.equal(pc.binary_length(array), 0)
    if pc.any(empty).as_py():
        array = pc.if_else(empty, pa.scalar(None, array.type), array)
        changed = True
    if not changed:
        return text  # nothing to strip and no empty cell: the column as it is, not a copy
    return pd.Series(pd.array(array, dtype=text.dtype), index=text.index)


def _storage(text: pd.Series[Any]) -> pa.Array | None:
    """The Arrow array of a pyarrow-backed text column (None for other storage)."""
    return _arrow(text) if isinstance(text.array, pd.arrays.ArrowStringArray) else None


def _trimmed(array: pa.Array) -> bool:
    """Whether no cell begins or ends with a byte that may be part of a space.

    Reads only the first and last byte of each cell; any byte outside printable ASCII sends the
    column to the real strip, which knows every Unicode space.
    """
    _, offsets_buffer, data_buffer = array.buffers()
    if data_buffer is None or len(array) == array.null_count:
        return True  # no characters at all
    width = np.int64 if pa.types.is_large_string(array.type) else np.int32
    offsets = np.frombuffer(offsets_buffer, dtype=width).astype(np.int64, copy=False)
    starts = offsets[array.offset : array.offset + len(array)]
    stops = offsets[array.offset + 1 : array.offset + len(array) + 1]
    # Empty cells have no edges, and a missing cell's bytes (if any) are not text.
    cells = stops > starts
    if array.null_count:
        cells &= ~np.asarray(array.is_null().to_numpy(zero_copy_only=False), dtype=bool)
    if not cells.all():
        starts, stops = starts[cells], stops[cells]
    data = np.frombuffer(data_buffer, dtype=np.uint8)
    ends = np.concatenate((data[starts], data[stops - 1]))
    return bool(((ends > 0x20) & (ends < 0x7F)).all())


@dataclass(slots=True)
class _Cells:
    """A column's cells as text, stripped, empty = missing.

    A column of few distinct values (a picklist, yes/no, small numbers, days) is held as Arrow's
    dictionary of its cells (`values`, stripped: some may be missing or repeated) and each row's
    code into it, so that checking and parsing run once per value and the engine can reuse the
    codes.
    """

    index: pd.Index[Any]
    full: pd.Series[Any] | None
    codes: npt.NDArray[np.integer[Any]] | None = None
    values: pd.Series[Any] | None = None

    def unit(self) -> pd.Series[Any]:
        """What per-value work runs on: the dictionary, or every cell."""
        return self.values if self.values is not None else self.text()

    def text(self) -> pd.Series[Any]:
        """Every row's text."""
        if self.full is None:
            assert self.codes is not None and self.values is not None
            self.full = pd.Series(self.values.array.take(self.codes), index=self.index)
        return self.full

    def present(self) -> Bools:
        """Rows whose cell is not missing."""
        if self.codes is not None and self.values is not None:
            return np.asarray(self.values.notna().to_numpy()[self.codes], dtype=bool)
        return self.text().notna().to_numpy()

    def spread(self, unit: pd.Series[Any]) -> pd.Series[Any]:
        """A column computed per dictionary value (`unit`), taken to every row."""
        assert self.codes is not None
        if isinstance(unit.dtype, np.dtype):
            return pd.Series(unit.to_numpy()[self.codes], index=self.index)
        return pd.Series(unit.array.take(self.codes), index=self.index)

    def at(self, positions: npt.NDArray[np.intp]) -> list[str | None]:
        """The cells of some rows, None where missing."""
        cells = (
            self.values.iloc[self.codes[positions]]
            if self.codes is not None and self.values is not None
            else self.text().iloc[positions]
        )
        return [None if pd.isna(cell) else str(cell) for cell in cells.tolist()]

    def by_value(self) -> tuple[npt.NDArray[np.integer[Any]], list[str]]:
        """For a coded column: a code per row (-1: missing) and the distinct values."""
        assert self.codes is not None and self.values is not None
        remap, distinct = pd.factorize(self.values, use_na_sentinel=True)
        names = [str(value) for value in distinct]
        if len(names) == len(self.values):  # the dictionary as it is: no missing, no repeat
            return self.codes, names
        return np.asarray(remap, dtype=np.int64)[self.codes], names

    def factorized(self) -> tuple[npt.NDArray[np.integer[Any]], int]:
        """A code per row (-1: missing) and the number of distinct values."""
        if self.codes is not None:
            codes, names = self.by_value()
            return codes, len(names)
        text = self.text()
        array = _storage(text)
        if array is not None and not array.null_count and len(array) > 1:
            # Sorted cells (exports often are, by id) are numbered by their runs: no hashing.
            head, tail = array.slice(0, len(array) - 1), array.slice(1)
            if pc.all(pc.less_equal(head, tail)).as_py():
                changes = np.asarray(pc.not_equal(head, tail).to_numpy(zero_copy_only=False))
                codes = np.concatenate(([0], np.cumsum(changes, dtype=np.int64)))
                return codes, int(codes[-1]) + 1
        codes, distinct = pd.factorize(text, use_na_sentinel=True)
        return np.asarray(codes, dtype=np.int64), len(distinct)


#: Cells looked at to judge whether a column has few distinct values.
_SAMPLE = 8192


def _cells(column: pd.Series[Any]) -> _Cells:
    """A column's text cells, coded by distinct value when a sample shows few of them."""
    text = _unstripped(column)
    array = _storage(text)
    if array is None or not _few_distinct(array):
        return _Cells(column.index, _stripped(text))
    encoded = array.dictionary_encode(null_encoding="encode")
    raw = pd.Series(encoded.dictionary.to_pandas(), dtype=text.dtype)
    values = _stripped(raw)
    codes = np.asarray(encoded.indices.to_numpy(zero_copy_only=False))
    # When stripping changed nothing, every row's text is the column as given.
    same = values is raw or bool(
        (values.isna() == raw.isna()).all() and (values.fillna("") == raw.fillna("")).all()
    )
    return _Cells(column.index, text if same else None, codes, values)


def _few_distinct(array: pa.Array) -> bool:
    """Whether an evenly spread sample of the cells holds at most half as many distinct values."""
    if not len(array):
        return False
    step = max(1, len(array) // _SAMPLE)
    sample = array.take(pa.array(np.arange(0, len(array), step, dtype=np.int64)))
    return bool(2 * pc.count_distinct(sample, mode="all").as_py() <= len(sample))


# ---------------------------------------------------------------------------------------------
# Finding the input files


def load_inputs(
    data_dir: str | Path,
    mapping: CrmMapping | str | Path | None = None,
    overrides: Mapping[str, str | Path] | None = None,
) -> dict[str, pd.DataFrame]:
    """Read the canonical tables of a folder (`deals.csv`, `leads.xlsx`...), mapped if asked."""
    folder = Path(data_dir)
    if not folder.is_dir():
        raise DataError(folder, "data folder not found" if not folder.exists() else "not a folder")
    if mapping is not None and not isinstance(mapping, CrmMapping):
        mapping = load_mapping(mapping)
    chosen = {_input_table(name, folder): Path(path) for name, path in (overrides or {}).items()}
    present = {entry.name.lower(): entry for entry in folder.iterdir() if entry.is_file()}
    frames: dict[str, pd.DataFrame] = {}
    for table in FILE_NAMES.values():
        table_mapping = mapping.tables.get(table) if mapping else None
        if table in chosen:
            path = chosen[table]
        elif table_mapping is not None and table_mapping.source is not None:
            continue  # built by apply_mapping from another table
        elif table_mapping is not None and table_mapping.file is not None:
            path = folder / table_mapping.file
            if not path.is_file():
                raise DataError(path, f"file named by the mapping for {table} not found")
        else:
            found = [present[f"{table}{ext}"] for ext in EXTENSIONS if f"{table}{ext}" in present]
            if not found:
                continue
            if len(found) > 1:
                names = " and ".join(p.name for p in found)
                raise DataError(folder, f"both {names} found for {table}: keep one")
            path = found[0]
        frames[table] = read_table(path)
    return apply_mapping(frames, mapping) if mapping else frames


def _input_table(name: str, where: Path) -> str:
    table = name.replace("-", "_")
    table = FILE_NAMES.get(table, table)
    if table not in RECORD_NAMES:
        close = get_close_matches(table, list(RECORD_NAMES), n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise DataError(
            where, f"unknown input table {name!r} (expected one of {', '.join(RECORD_NAMES)}){hint}"
        )
    return table


# ---------------------------------------------------------------------------------------------
# CRM mappings


def load_mapping(path: str | Path) -> CrmMapping:
    """Load a CRM mapping file (YAML), check it against `mapping_schema()`, merge its preset."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as error:
        raise DataError(path, error.strerror or str(error)) from None
    raw = _load_yaml(path, text)
    mapping = _mapping_from(raw)
    if mapping.preset is None:
        return mapping
    preset_path = _PRESET_DIR / f"{mapping.preset}.yaml"
    preset_raw = _load_yaml(preset_path, preset_path.read_text(encoding="utf-8"))
    return _mapping_from(_merge(preset_raw, raw))


def _load_yaml(path: Path, text: str) -> dict[str, Any]:
    try:
        data = yaml.safe_load(text)
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        place = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark is not None else str(path)
        reason = getattr(error, "problem", None) or str(error)
        raise MappingError(path, [f"{place}: not valid YAML: {reason}"]) from None
    data = {} if data is None else _string_keys(data)
    validator = jsonschema.Draft202012Validator(mapping_schema())
    located: list[tuple[tuple[int, int], str]] = []
    for problem in validator.iter_errors(data):
        where, message = _describe(problem)
        line, column = _locate(root, where)
        dotted = ".".join(str(part) for part in where) or "(top level)"
        located.append(((line, column), f"{path}:{line}:{column}: {dotted}: {message}"))
    if located:
        raise MappingError(path, [message for _, message in sorted(located)])
    if not isinstance(data, dict):  # the schema requires an object; this narrows the type
        raise MappingError(path, [f"{path}:1:1: expected a mapping"])
    return data


def _string_keys(value: Any) -> Any:
    # YAML reads `true:` or `1:` keys as bool/int; mapping keys are source values, always text.
    if isinstance(value, dict):
        return {_text(key) or "": _string_keys(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_string_keys(item) for item in value]
    return value


def _text(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _describe(error: jsonschema.ValidationError) -> tuple[list[str | int], str]:
    where: list[str | int] = list(error.absolute_path)
    schema = error.schema if isinstance(error.schema, dict) else {}
    if error.validator == "additionalProperties" and isinstance(error.instance, dict):
        allowed = list(schema.get("properties", {}))
        extra = [key for key in error.instance if key not in allowed]
        key = extra[0] if extra else "?"
        close = get_close_matches(key, allowed, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else f" (expected {', '.join(allowed)})"
        return [*where, key], f"unknown key {key!r}{hint}"
    if "propertyNames" in error.relative_schema_path and error.validator == "enum":
        options = [str(option) for option in error.validator_value]
        close = get_close_matches(str(error.instance), options, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        return [*where, str(error.instance)], (
            f"unknown table {error.instance!r} (expected one of {', '.join(options)}){hint}"
        )
    if error.validator == "enum":
        options = [str(option) for option in error.validator_value]
        close = get_close_matches(str(error.instance), options, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        return where, f"{error.instance!r} is not one of {', '.join(options)}{hint}"
    if error.validator == "pattern":
        if "propertyNames" in error.relative_schema_path:
            where = [*where, str(error.instance)]
        return where, (
            f"{error.instance!r} is not a column name (letters, digits and _, not starting with a "
            "digit)"
        )
    if error.validator == "oneOf":
        # When a branch fits the shape (a list of names), its own deeper error says more.
        deeper = [e for e in error.context or () if len(e.absolute_path) > len(where)]
        if deeper:
            return _describe(deeper[0])
        return where, f"{error.instance!r} is not valid here: {schema.get('description', '')}"
    if error.validator == "not":
        return where, "give either `file` or `from`, not both"
    if error.validator == "type":
        expected = error.validator_value
        names = [str(n) for n in (expected if isinstance(expected, list) else [expected])]
        return where, f"expected {' or '.join(_TYPE_NAMES.get(n, n) for n in names)}"
    return where, error.message


_TYPE_NAMES = {
    "object": "a mapping (key: value)",
    "array": "a list",
    "string": "text",
    "number": "a number",
    "boolean": "true/false",
    "null": "nothing",
}


def _locate(root: yaml.Node | None, where: Sequence[str | int]) -> tuple[int, int]:
    if root is None:
        return 1, 1
    node: yaml.Node = root
    for step, part in enumerate(where):
        child: yaml.Node | None = None
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                if str(key.value).lower() == str(part).lower():
                    # The last step stops at the key: its line is where the reader looks.
                    child = key if step == len(where) - 1 else value
                    break
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
            child = node.value[part] if part < len(node.value) else None
        if child is None:
            break
        node = child
    return node.start_mark.line + 1, node.start_mark.column + 1


def _merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    # The client file wins entry by entry: one renamed column or one translated value at a time.
    tables = {name: dict(entry) for name, entry in base.get("tables", {}).items()}
    for name, entry in override.get("tables", {}).items():
        merged = tables.setdefault(name, {})
        for key, value in entry.items():
            if key in ("columns", "defaults", "derive"):
                merged[key] = {**merged.get(key, {}), **value}
            elif key == "values":
                values = dict(merged.get("values", {}))
                for column, translation in value.items():
                    values[column] = {**values.get(column, {}), **translation}
                merged["values"] = values
            else:
                merged[key] = value
    return {"preset": override.get("preset"), "tables": tables}


def _mapping_from(raw: dict[str, Any]) -> CrmMapping:
    tables: dict[str, TableMapping] = {}
    for name, entry in raw.get("tables", {}).items():
        columns = tuple(
            (source, (targets,) if isinstance(targets, str) else tuple(targets))
            for source, targets in entry.get("columns", {}).items()
        )
        values = {
            column: {source: _text(target) for source, target in translation.items()}
            for column, translation in entry.get("values", {}).items()
        }
        defaults = {
            column: _text(value) or "" for column, value in entry.get("defaults", {}).items()
        }
        derive = {
            column: tuple(_case(case) for case in cases)
            for column, cases in entry.get("derive", {}).items()
        }
        tables[name] = TableMapping(
            file=entry.get("file"),
            source=entry.get("from"),
            columns=columns,
            values=values,
            defaults=defaults,
            derive=derive,
        )
    preset = raw.get("preset")
    return CrmMapping(tables=tables, preset=preset if preset in PRESETS else None)


def _case(raw: dict[str, Any]) -> Case:
    when = tuple(
        (
            column,
            tuple(
                (_text(v) or "").lower() for v in (value if isinstance(value, list) else [value])
            ),
        )
        for column, value in raw.get("when", {}).items()
    )
    return Case(when=when, then=_text(raw["then"]))


def apply_mapping(
    frames: Mapping[str, pd.DataFrame], mapping: CrmMapping
) -> dict[str, pd.DataFrame]:
    """Rename columns, translate values, derive columns and tables; unmapped tables pass through."""
    result = dict(frames)
    for table, table_mapping in mapping.tables.items():
        if table_mapping.source is None and table in frames:
            result[table] = _map_frame(frames[table], table_mapping, keep_others=True)
    for table, table_mapping in mapping.tables.items():
        source = table_mapping.source
        # A file given for the table wins over deriving it: real data beats a derived list.
        if source is None or table in frames or source not in result:
            continue
        origin = result[source]
        used = [name for name, _ in table_mapping.columns if name in origin.columns]
        distinct = origin[used].dropna(how="all").drop_duplicates()
        result[table] = _map_frame(distinct, table_mapping, keep_others=False)
    return result


def _map_frame(frame: pd.DataFrame, mapping: TableMapping, *, keep_others: bool) -> pd.DataFrame:
    mapped: dict[str, pd.Series[Any]] = {}
    for source, targets in mapping.columns:
        if source in frame.columns:
            for target in targets:
                mapped[target] = frame[source]
    if keep_others:
        sources = {source for source, _ in mapping.columns}
        for name in frame.columns:
            if name not in sources and name not in mapped:
                mapped[name] = frame[name]
    for column, translation in mapping.values.items():
        if column in mapped:
            text = mapped[column]
            # Values the mapping does not list pass through, so validation reports them by row.
            hit = text.isin(list(translation))
            translated = text.map(dict(translation)).astype("str")
            mapped[column] = translated.where(hit, text)
    for column, cases in mapping.derive.items():
        derived = _derive(frame, cases)
        if derived is not None:
            values, decided = derived
            previous = mapped.get(column)
            mapped[column] = values if previous is None else values.where(decided, previous)
    for column, default in mapping.defaults.items():
        previous = mapped.get(column)
        filler = pd.Series(default, index=frame.index, dtype="str")
        mapped[column] = filler if previous is None else previous.fillna(default)
    return pd.DataFrame(mapped, index=frame.index)


def _derive(frame: pd.DataFrame, cases: tuple[Case, ...]) -> tuple[pd.Series[Any], Bools] | None:
    referenced = {column for case in cases for column, _ in case.when}
    if referenced and not referenced & set(frame.columns):
        return None  # the export has none of the columns: leave the column to the mapping
    lowered = {name: frame[name].str.lower() for name in referenced if name in frame.columns}
    values = pd.Series(pd.NA, index=frame.index, dtype="str")
    decided = np.zeros(len(frame), dtype=bool)
    for case in cases:
        holds = np.ones(len(frame), dtype=bool)
        for column, accepted in case.when:
            text = lowered.get(column)
            # A condition on a column the export lacks never holds.
            holds &= (
                text.isin(list(accepted)).to_numpy() if text is not None else np.zeros_like(holds)
            )
        take = holds & ~decided
        if case.then is not None:
            values = values.mask(take, case.then)
        decided |= take
    return values, decided


# ---------------------------------------------------------------------------------------------
# Validation


def validate_table(
    table: str,
    frame: pd.DataFrame,
    columns: tuple[Column, ...],
    known_values: dict[str, tuple[str, ...]] | None = None,
    *,
    decimals: bool = True,
) -> Validated:
    """Type the declared columns of `frame`, report invalid cells, keep only the valid rows.

    `decimals=False` leaves out the Decimal column of each amount (its `__cents` stay): for
    callers that compute on the cents only, it spares a Python object per row.
    """
    known_values = known_values or {}
    rows_in = len(frame)
    row_numbers = _row_numbers(frame)
    bad_any = np.zeros(rows_in, dtype=bool)
    found: list[tuple[int, int, RowError]] = []
    table_errors: list[RowError] = []
    typed: dict[str, Any] = {}
    cells_of: dict[str, _Cells] = {}
    repeated = frame.columns[frame.columns.duplicated()].unique()
    for name in repeated:
        table_errors.append(
            RowError(table, None, str(name), None, f"column {name!r} appears twice")
        )
    frame = frame.loc[:, ~frame.columns.duplicated()]
    # Columns are taken from the frame here, then checked on their own (maybe side by side).
    given = [
        (column, frame[column.name], known_values.get(column.name), decimals)
        for column in columns
        if column.name in frame.columns
    ]
    results = _each(_check, given, len(frame))
    checked = {column.name: found for (column, *_), found in zip(given, results, strict=True)}
    for order, column in enumerate(columns):
        if column.name not in checked:
            if column.required:
                table_errors.append(
                    RowError(table, None, column.name, None, _missing_column(column.name, frame))
                )
            typed.update(_empty_column(column, frame.index, decimals))
            continue
        cells, values, bad, messages = checked[column.name]
        cells_of[column.name] = cells
        typed.update(values)
        if bad.any():
            bad_any |= bad
            found.extend(_row_errors(table, column.name, order, cells, bad, row_numbers, messages))
    key = KEYS.get(RECORD_NAMES.get(table, table), ("id",))
    if all(name in cells_of for name in key):
        duplicated = _duplicates(table, key, [cells_of[name] for name in key], row_numbers)
        for position, error in duplicated:
            bad_any[position] = True
            found.append((error.row or 0, len(columns), error))
    declared = {column.name for column in columns}
    for name in frame.columns:
        if name not in declared and name not in typed:
            typed[name] = _as_text(frame[name])  # the client's own fields, kept as text
    data = pd.DataFrame(typed, index=frame.index, copy=False)
    if table_errors:
        bad_any[:] = True
    kept = ~bad_any
    valid = data[kept] if bad_any.any() else data
    found.sort(key=lambda item: (item[0], item[1]))
    errors = (*table_errors, *(error for _, _, error in found))
    rejected = tuple(int(row) for row in row_numbers[bad_any])
    codes = {
        column.name: _valid_codes(cells_of[column.name], kept)
        for column in columns
        if column.type in ("text", "one_of") and column.name in cells_of
        and cells_of[column.name].codes is not None
    }  # fmt: skip
    return Validated(table, valid, errors, rows_in, rejected, codes)


Checked = tuple[_Cells, dict[str, Any], Bools, dict[str | None, str]]


def _check(task: tuple[Column, pd.Series[Any], tuple[str, ...] | None, bool]) -> Checked:
    """One column (with its known values and whether amounts get Decimals): its cells, typed
    values, invalid rows and the message of each bad value."""
    column, given, known, decimals = task
    cells = _cells(given)
    unit = cells.unit()
    values, bad, messages = _parse_column(column, unit, decimals)
    if known is not None:
        bad = bad | _unknown(column.name, unit, known, messages)
    if cells.codes is not None:
        # Worked out per distinct value: each row takes its value's result.
        textual = column.type in ("text", "one_of")
        values = {
            name: cells.text() if textual else cells.spread(series)
            for name, series in values.items()
        }
        bad = bad[cells.codes]
    if column.required:
        bad = bad | ~cells.present()
        messages[None] = "required value is missing"
    return cells, values, bad, messages


#: Cells from which a table's columns are checked side by side, each in its own thread (Arrow
#: and numpy release the GIL while they scan a column).
_THREADED_CELLS = 1 << 20


def _each(function: Callable[[_A], _T], tasks: Sequence[_A], rows: int) -> list[_T]:
    """`function` of each column's task, in order; on a few threads when the table is big."""
    workers = min(len(tasks), os.cpu_count() or 1, 4)
    if workers < 2 or rows * len(tasks) < _THREADED_CELLS:
        return [function(task) for task in tasks]
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(function, tasks))


def _valid_codes(
    cells: _Cells, kept: Bools
) -> tuple[npt.NDArray[np.integer[Any]], tuple[str, ...]]:
    codes, distinct = cells.by_value()
    return codes[kept] if not kept.all() else codes, tuple(distinct)


def _row_numbers(frame: pd.DataFrame) -> npt.NDArray[np.int64]:
    index = frame.index
    default = isinstance(index, pd.RangeIndex) and index.start == 0 and index.step == 1
    if default or not pd.api.types.is_integer_dtype(index.dtype):
        return np.arange(1, len(frame) + 1, dtype=np.int64)
    return np.asarray(index, dtype=np.int64)


def _missing_column(name: str, frame: pd.DataFrame) -> str:
    close = get_close_matches(name, [str(c) for c in frame.columns], n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    return f"required column {name!r} is missing{hint}"


def _empty_column(column: Column, index: pd.Index[Any], decimals: bool) -> dict[str, Any]:
    n = len(index)
    if column.type == "money":
        cents = {
            f"{column.name}__cents": pd.Series(pd.array([pd.NA] * n, dtype="Int64"), index=index)
        }
        if not decimals:
            return cents
        return {column.name: pd.Series([None] * n, index=index, dtype=object), **cents}
    dtypes = {
        "date": "datetime64[ns]",
        "number": "float64",
        "percent": "float64",
        "integer": "Int64",
        "boolean": "boolean",
    }
    return {column.name: pd.Series(index=index, dtype=dtypes.get(column.type, "str"))}


def _row_errors(
    table: str,
    column: str,
    order: int,
    text: _Cells,
    bad: Bools,
    row_numbers: npt.NDArray[np.int64],
    messages: dict[str | None, str],
) -> list[tuple[int, int, RowError]]:
    positions = np.flatnonzero(bad)
    cells = text.at(positions)
    rows = row_numbers[positions]
    return [
        (row, order, RowError(table, row, column, cell, messages[cell]))
        for row, cell in zip(rows.tolist(), cells, strict=True)
    ]


def _duplicates(
    table: str,
    key: tuple[str, ...],
    cells: list[_Cells],
    row_numbers: npt.NDArray[np.int64],
) -> list[tuple[int, RowError]]:
    repeated = _repeated(cells, len(row_numbers))
    if not repeated.any():
        return []
    positions = np.flatnonzero(repeated)
    subset = list(zip(*(column.at(positions) for column in cells), strict=True))
    groups: dict[tuple[str, ...], list[int]] = {}
    for position, values in zip(positions.tolist(), subset, strict=True):
        groups.setdefault(tuple(str(cell) for cell in values), []).append(position)
    result: list[tuple[int, RowError]] = []
    for values, members in groups.items():
        label = (
            f"id {values[0]!r}"
            if key == ("id",)
            else "key " + ", ".join(f"{n}={v!r}" for n, v in zip(key, values, strict=True))
        )
        for position in members:
            others = [int(row_numbers[p]) for p in members if p != position]
            shown = ", ".join(str(row) for row in others[:5])
            more = f" and {len(others) - 5} more" if len(others) > 5 else ""
            noun = "row" if len(others) == 1 else "rows"
            row = int(row_numbers[position])
            message = f"duplicate {label} (also on {noun} {shown}{more})"
            result.append((position, RowError(table, row, key[0], values[0], message)))
    return result


def _repeated(cells: list[_Cells], n: int) -> Bools:
    """Rows whose key, complete, is also another row's."""
    key = np.zeros(n, dtype=np.int64)
    complete = np.ones(n, dtype=bool)
    radix = 1
    for column in cells:
        codes, size = column.factorized()
        complete &= codes >= 0
        if radix * max(size, 1) >= 2**62:  # fold the key so far into its own small codes
            key = np.asarray(pd.factorize(key)[0], dtype=np.int64)
            radix = int(key.max()) + 1 if n else 1
        key = key * max(size, 1) + codes
        radix *= max(size, 1)
    key = key[complete]
    # A key that only grows has no repeats; else a sort (fast on the runs of sorted exports).
    if np.all(key[1:] > key[:-1]):
        return np.zeros(n, dtype=bool)
    ordered = np.sort(key, kind="stable")
    if not np.any(ordered[1:] == ordered[:-1]):
        return np.zeros(n, dtype=bool)
    repeated = np.zeros(n, dtype=bool)
    repeated[complete] = pd.Series(key).duplicated(keep=False).to_numpy()
    return repeated


def _unknown(
    name: str, text: pd.Series[Any], known: tuple[str, ...], messages: dict[str | None, str]
) -> Bools:
    bad = (text.notna() & ~text.isin(list(known))).to_numpy()
    for value in pd.unique(text[bad]):
        shown = ", ".join(known[:10]) + (f", ... ({len(known)} in all)" if len(known) > 10 else "")
        messages.setdefault(
            str(value),
            f"{value!r} is not a known {name} (expected one of {shown}){_hint(value, known)}",
        )
    return bad


def _hint(value: str, choices: Sequence[str]) -> str:
    lowered = {choice.lower(): choice for choice in choices}
    close = get_close_matches(value.lower(), list(lowered), n=1, cutoff=0.6)
    return f"; did you mean {lowered[close[0]]!r}?" if close else ""


Parsed = tuple[dict[str, Any], Bools, dict[str | None, str]]


def _parse_column(column: Column, text: pd.Series[Any], decimals: bool = True) -> Parsed:
    parsers: dict[str, Callable[[Column, pd.Series[Any]], Parsed]] = {
        "text": _parse_text,
        "one_of": _parse_one_of,
        "boolean": _parse_boolean,
        "integer": _parse_integer,
        "number": _parse_float,
        "percent": _parse_float,
        "money": _parse_money,
        "date": _parse_date,
    }
    parser = parsers.get(column.type)
    if parser is None:
        raise ValueError(f"column {column.name!r} has unknown type {column.type!r}")
    if column.type == "money":
        return _parse_money(column, text, decimals)
    return parser(column, text)


def _parse_text(column: Column, text: pd.Series[Any]) -> Parsed:
    return {column.name: text}, np.zeros(len(text), dtype=bool), {}


def _parse_one_of(column: Column, text: pd.Series[Any]) -> Parsed:
    options = column.options
    bad = (text.notna() & ~text.isin(list(options))).to_numpy()
    messages: dict[str | None, str] = {
        str(value): f"{value!r} is not one of {', '.join(options)}{_hint(str(value), options)}"
        for value in pd.unique(text[bad])
    }
    return {column.name: text}, bad, messages


def _parse_boolean(column: Column, text: pd.Series[Any]) -> Parsed:
    lowered = text.str.lower()
    yes = lowered.isin(TRUE_WORDS).to_numpy()
    no = lowered.isin(FALSE_WORDS).to_numpy()
    present = text.notna().to_numpy()
    bad = present & ~(yes | no)
    values = pd.arrays.BooleanArray(yes, ~(yes | no))
    messages: dict[str | None, str] = {
        str(value): f"{value!r} is not a yes/no value ({_BOOL_HELP})"
        for value in pd.unique(text[bad])
    }
    return {column.name: pd.Series(values, index=text.index)}, bad, messages


def _arrow(text: pd.Series[Any]) -> pa.Array:
    array = pa.array(text.array, type=pa.large_string())
    return array.combine_chunks() if isinstance(array, pa.ChunkedArray) else array


def _fast(array: pa.Array, pattern: str) -> Bools:
    matched = pc.match_substring_regex(array, pattern)
    return np.asarray(matched.fill_null(False).to_numpy(zero_copy_only=False), dtype=bool)


def _slow(
    text: pd.Series[Any], mask: Bools, parse: Callable[[str], Any], target: npt.NDArray[Any]
) -> tuple[Bools, dict[str | None, str]]:
    """Parse the cells the vectorized path did not take, once per distinct value, into `target`.

    Returns where parsing failed and the message of each value that failed.
    """
    failed = np.zeros(len(text), dtype=bool)
    messages: dict[str | None, str] = {}
    positions = np.flatnonzero(mask)
    if not positions.size:
        return failed, messages
    codes, distinct = pd.factorize(text.iloc[positions])
    results = np.empty(len(distinct), dtype=object)
    parsed = np.zeros(len(distinct), dtype=bool)
    for number, value in enumerate(distinct.tolist()):
        try:
            results[number] = parse(str(value))
            parsed[number] = True
        except ValueError as error:
            messages[str(value)] = str(error)
    ok = parsed[codes]
    if ok.any():
        target[positions[ok]] = list(results[codes[ok]])
    failed[positions[~ok]] = True
    return failed, messages


# Grouped or decimal-comma numbers that mean one thing only; the rest goes to the exact parser.
_PLAIN = r"^[+-]?\d+(\.\d+)?$"
_SPACED = "^[+-]?\\d{1,3}([ \u00a0\u202f']\\d{3})+([.,]\\d+)?$"
_COMMA_DECIMAL = r"^[+-]?\d+,\d+$"
_ENGLISH = (r"^[+-]?\d{1,3}(,\d{3})+\.\d+$", r"^[+-]?\d{1,3}(,\d{3}){2,}$")
_GERMAN = (r"^[+-]?\d{1,3}(\.\d{3})+,\d+$", r"^[+-]?\d{1,3}(\.\d{3}){2,}$")


def _ambiguous(array: pa.Array, marks: str) -> Bools:
    """A lone separator before three digits: `1,234` is 1234 in English and 1.234 in French."""
    return _fast(array, rf"^[+-]?[1-9]\d{{0,2}}[{marks}]\d{{3}}$")


def _canonical(array: pa.Array) -> pa.Array:
    """Rewrite `1 234,5`, `1,234.5`, `1.234,5`, `12,5` as `1234.5`, vectorized (Arrow RE2)."""
    missing = np.asarray(array.is_null().to_numpy(zero_copy_only=False), dtype=bool)
    if (_fast(array, _PLAIN) | missing).all():
        return array
    spaced = _fast(array, _SPACED)
    comma = _fast(array, _COMMA_DECIMAL) & ~_ambiguous(array, ",")
    english = _fast(array, _ENGLISH[0]) | _fast(array, _ENGLISH[1])
    german = _fast(array, _GERMAN[0]) | _fast(array, _GERMAN[1])
    point = pc.replace_substring(array, ",", ".")
    rewritten = {
        "spaced": pc.replace_substring_regex(point, "[ \u00a0\u202f']", ""),
        "comma": point,
        "english": pc.replace_substring(array, ",", ""),
        "german": pc.replace_substring(pc.replace_substring(array, ".", ""), ",", "."),
    }
    masks = {"spaced": spaced, "comma": comma, "english": english, "german": german}
    result = array
    for name, mask in masks.items():
        if mask.any():
            result = pc.if_else(pa.array(mask), rewritten[name], result)
    return result


def _plain(array: pa.Array, pattern: str) -> tuple[pa.Array, Bools]:
    """The cells matching `pattern`, a plain number; when some do not, after `_canonical`."""
    fast = _fast(array, pattern)
    if int(np.count_nonzero(fast)) == len(array) - array.null_count:
        return array, fast  # plain numbers are never rewritten: no need to try
    canonical = _canonical(array)
    return canonical, _fast(canonical, pattern)


def _cast(array: pa.Array, fast: Bools, kind: pa.DataType) -> npt.NDArray[Any]:
    """Convert the plain cells (`fast`) to numbers; the others become 0 and are overwritten."""
    if int(np.count_nonzero(fast)) < len(array) - array.null_count:
        array = pc.if_else(pa.array(fast), array, "0")
    if pa.types.is_integer(kind) and pc.any(pc.starts_with(array, "+")).as_py():
        array = pc.replace_substring_regex(array, r"^\+", "")  # Arrow's integer cast refuses "+5"
    return np.asarray(pc.cast(array, kind).fill_null(0).to_numpy(zero_copy_only=False))


def _parse_float(column: Column, text: pd.Series[Any]) -> Parsed:
    array, fast = _plain(_arrow(text), _PLAIN)
    present = text.notna().to_numpy()
    numbers = np.full(len(text), np.nan)
    if fast.any():
        numbers[fast] = _cast(array, fast, pa.float64())[fast]
    slow = present & ~fast
    bad, messages = _slow(text, slow, _percent if column.type == "percent" else _number, numbers)
    return {column.name: pd.Series(numbers, index=text.index)}, bad, messages


def _number(value: str) -> float:
    number = float(parse_number(value))
    if not np.isfinite(number):
        raise ValueError(f"{value!r} is not a finite number")
    return number


def _percent(value: str) -> float:
    if value.endswith("%"):
        return _number(value[:-1].strip()) / 100
    return _number(value)


def _parse_integer(column: Column, text: pd.Series[Any]) -> Parsed:
    array, fast = _plain(_arrow(text), r"^[+-]?\d{1,18}$")
    present = text.notna().to_numpy()
    integers = np.zeros(len(text), dtype=np.int64)
    if fast.any():
        integers[fast] = _cast(array, fast, pa.int64())[fast]
    bad, messages = _slow(text, present & ~fast, _whole, integers)
    values = pd.arrays.IntegerArray(integers, ~present | bad)
    return {column.name: pd.Series(values, index=text.index)}, bad, messages


def _whole(value: str) -> int:
    number = parse_number(value)
    if number != number.to_integral_value():
        raise ValueError(f"{value!r} is not a whole number")
    if abs(number) >= 2**63:
        raise ValueError(f"{value!r} is too large")
    return int(number)


#: Plain amounts with at most two significant decimals and 13 digits: they convert exactly through
#: float64 (the error stays far below half a cent). Left out: a 1-3 digit whole part and three
#: decimals (`1.230`), ambiguous as an amount (a thousands separator?); the Decimal path explains.
_PLAIN_AMOUNT = r"^[+-]?(\d{1,13}(\.\d{1,2}|\.\d\d00+)?|(0\d{0,12}|\d{4,13})\.\d\d0)$"


def _parse_money(column: Column, text: pd.Series[Any], decimals: bool = True) -> Parsed:
    array, fast = _plain(_arrow(text), _PLAIN_AMOUNT)
    present = text.notna().to_numpy()
    cents = np.zeros(len(text), dtype=np.int64)
    if fast.any():
        cents[fast] = np.rint(_cast(array, fast, pa.float64())[fast] * 100).astype(np.int64)
    bad, messages = _slow(text, present & ~fast, _cents, cents)
    ok = present & ~bad
    integers = pd.arrays.IntegerArray(cents, ~ok)
    typed = {f"{column.name}__cents": pd.Series(integers, index=text.index)}
    if not decimals:
        return typed, bad, messages
    objects = np.full(len(text), None, dtype=object)
    if ok.any():
        codes, distinct = pd.factorize(cents[ok])  # one Decimal per distinct amount
        made = np.empty(len(distinct), dtype=object)
        made[:] = [Decimal(int(c)).scaleb(-2) for c in distinct.tolist()]
        objects[ok] = made[codes]
    return {column.name: pd.Series(objects, index=text.index, dtype=object), **typed}, bad, messages


def _cents(value: str) -> int:
    amount = parse_money(value)
    cents = amount * 100
    if cents != cents.to_integral_value():
        raise ValueError(f"{value!r} has more than two decimals (amounts are kept to the cent)")
    if abs(cents) >= _MAX_CENTS:
        raise ValueError(f"{value!r} is too large for an amount")
    return int(cents)


# ISO dates, with a time and zone that are dropped (the day is the one written), and French
# day-first dates. Month-first dates (03/13/2026) fail as dates and are reported.
_ISO_DAY = r"^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?\s*(Z|[+-]\d{2}:?\d{2})?)?$"
_SLASHED_TIME = r"^(\d{1,2}/\d{1,2}/\d{4})[ T]\d{1,2}:\d{2}(:\d{2})?$"
_DAY = re.compile(r"(\d{4})-(\d{2})-(\d{2})|(\d{1,2})/(\d{1,2})/(\d{4})")


def _parse_date(column: Column, text: pd.Series[Any]) -> Parsed:
    present = text.notna().to_numpy()
    array = _arrow(text)
    # Cut every cell to its day, then parse each distinct day once: a column holds few days.
    iso = _fast(array, _ISO_DAY)
    day = pc.utf8_slice_codeunits(array, 0, 10)
    if (present & ~iso).any():
        slashed = pc.replace_substring_regex(array, _SLASHED_TIME, r"\1")
        day = pc.if_else(pa.array(iso), day, slashed)
    codes, distinct = pd.factorize(day.to_pandas())
    # Microseconds hold any year, so a typo like 0202 is caught below rather than overflowing.
    parsed = np.array([_day(str(value)) for value in distinct], dtype="datetime64[us]")
    # NaT last, so an all-empty column (no distinct day) indexes something.
    parsed = np.append(parsed, np.datetime64("NaT", "us"))
    values = parsed[np.where(codes >= 0, codes, len(parsed) - 1)]
    failed = present & np.isnat(values)
    messages: dict[str | None, str] = {
        str(value): f"{value!r} is not a date ({_DATE_HELP})" for value in pd.unique(text[failed])
    }
    plausible = (values >= _FIRST_DATE.to_datetime64()) & (values <= _LAST_DATE.to_datetime64())
    implausible = present & ~failed & ~plausible
    for value in pd.unique(text[implausible]):
        messages[str(value)] = f"{value!r} is not a plausible date (expected between 1900 and 2199)"
    values[implausible] = np.datetime64("NaT")
    typed = pd.Series(values.astype("datetime64[ns]"), index=text.index)
    return {column.name: typed}, failed | implausible, messages


def _day(value: str) -> np.datetime64:
    """The day of `YYYY-MM-DD` or `DD/MM/YYYY` (French order), NaT when there is none."""
    match = _DAY.fullmatch(value)
    if match is None:
        return np.datetime64("NaT", "us")
    year, month, day, d, m, y = match.groups()
    try:
        if year is not None:
            return np.datetime64(date(int(year), int(month), int(day)), "us")
        return np.datetime64(date(int(y), int(m), int(d)), "us")
    except ValueError:
        return np.datetime64("NaT", "us")
