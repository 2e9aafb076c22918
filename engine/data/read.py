"""Reading input files into tables of text.

Reading (`read_table`) gives a DataFrame of text: every cell is a string with surrounding spaces
removed, an empty cell is missing (NaN of pandas' string dtype). Its index is the row number a
user sees: for CSV and XLSX the header is row 1, so the first data row is row 2 (the number a
spreadsheet shows in its margin); for JSON and Parquet the first record is row 1. Blank lines are
dropped without renumbering the others, so a row number always points at the right line.

The text helpers the later stages share live here too: `as_text` (a column stripped, empty cells
missing), `as_arrow` and `Cells`/`column_cells` (a column coded by distinct value).
"""

from __future__ import annotations

import codecs
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa  # type: ignore[import-untyped, unused-ignore]
import pyarrow.compute as pc  # type: ignore[import-untyped, unused-ignore]

__all__ = [
    "EXTENSIONS",
    "MAX_XLSX_CELLS",
    "UNREADABLE",
    "Bools",
    "Cells",
    "DataError",
    "as_arrow",
    "as_text",
    "column_cells",
    "loads_json",
    "mix_keys",
    "read_records",
    "read_table",
    "repeated_key",
]

#: File extensions `read_table` understands, in the order `load_inputs` looks for them.
EXTENSIONS = (".csv", ".xlsx", ".json", ".parquet")

#: A flag per row (invalid, present...).
Bools = npt.NDArray[np.bool_]


class DataError(Exception):
    """An input file that cannot be read or used, with the path and the reason."""

    def __init__(self, path: str | Path, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = str(path)
        self.reason = reason


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
    """The encoding of a CSV file: UTF-8 (with or without BOM), UTF-16 by its BOM, or cp1252.

    Each answer rests on an exact check, never on a detector's guess: a byte-order mark is the
    writer's own word, and a file that decodes as UTF-8 from end to end is UTF-8 (text in other
    encodings almost never does). Else Excel on French Windows is the likely writer: it saves
    "CSV (séparateur: point-virgule)" in cp1252. cp1252 maps all but five bytes, though, so that
    the file decodes proves little; `_not_cp1252` refuses the text that only reads as nonsense.
    """
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    if _decodes(path, "utf-8"):
        return "utf-8-sig" if head.startswith(codecs.BOM_UTF8) else "utf-8"
    mixed = _mixed_lines(path)
    if mixed is not None:
        raise DataError(path, mixed)
    if head.startswith(codecs.BOM_UTF8):
        raise DataError(path, "not UTF-8 text, though it starts with a UTF-8 byte-order mark")
    if not _decodes(path, "cp1252"):
        raise DataError(path, "not UTF-8 or Windows-1252 text")
    foreign = _not_cp1252(_non_ascii_lines(path))
    if foreign is not None:
        raise DataError(
            path, f"not UTF-8 or Windows-1252 text (it reads as {foreign}): save it as CSV UTF-8"
        )
    return "cp1252"


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


_LINE_BREAK = re.compile(rb"\r\n|\r|\n")


def _mixed_lines(path: Path) -> str | None:
    """Why a file that is not UTF-8 throughout is not one encoding either, else None.

    A line of accents that decodes as UTF-8 is UTF-8 (text in cp1252 almost never does), so a
    file holding such lines and lines that do not decode mixes two encodings (a line pasted from
    another export): read as cp1252, its UTF-8 lines would silently turn `Dé2` into `DÃ©2`.
    """
    utf8: list[int] = []  # the first line and the count of each kind
    other: list[int] = []
    number = 0
    carry = b""
    with path.open("rb") as stream:
        while True:
            chunk = stream.read(1 << 20)
            buffer = carry + chunk
            if chunk:
                # A final "\r" may be half of "\r\n": keep it with the unfinished line.
                keep = len(buffer) - 1 if buffer.endswith(b"\r") else len(buffer)
                lines = _LINE_BREAK.split(buffer[:keep])
                carry = lines.pop() + buffer[keep:]
            else:
                lines = [buffer] if buffer else []
            for line in lines:
                number += 1
                if line.isascii():
                    continue
                try:
                    line.decode("utf-8")
                except UnicodeDecodeError:
                    kind = other
                else:
                    kind = utf8
                if kind:
                    kind[1] += 1
                else:
                    kind.extend((number, 1))
            if not chunk:
                break
    if not utf8 or not other:
        return None
    if other[1] <= utf8[1]:
        return (
            f"line {other[0]} is not UTF-8 while the rest of the file is (line {utf8[0]} is): "
            "retype that line's accents, or save the file again as CSV UTF-8"
        )
    return (
        f"line {utf8[0]} is UTF-8 while the rest of the file is not (line {other[0]} is not): "
        "retype that line's accents, or save the file again as CSV UTF-8"
    )


#: Scripts whose text, read as cp1252, comes out as accented nonsense (`Èâàí` for `Иван`).
_OTHER_SCRIPTS = (
    "Arabic",
    "CJK",
    "Cyrillic",
    "Greek",
    "Hangul",
    "Hebrew",
    "Hiragana",
    "Katakana",
    "Thai",
)


def _not_cp1252(sample: bytes) -> str | None:
    """What a cp1252-decodable sample reads as when it is surely not cp1252 text, else None.

    charset-normalizer judges whether the cp1252 reading looks like text; when it does not, and
    another encoding reads the bytes as coherent text in another script (a Russian export in
    cp1251, a Greek one in cp1253), the file is refused rather than read as nonsense. Its best
    guess never chooses the encoding: on a few French cells it often prefers cp1250 (`è` read as
    `č`) or a Japanese code page, so any doubt leaves the file to cp1252, as Excel writes it.
    """
    import charset_normalizer

    if charset_normalizer.from_bytes(sample, cp_isolation=["cp1252"]).best() is not None:
        return None
    other = charset_normalizer.from_bytes(sample).best()
    if other is None or other.coherence < 0.3 or "cp1252" in other.could_be_from_charset:
        return None
    if not any(script in alphabet for alphabet in other.alphabets for script in _OTHER_SCRIPTS):
        return None
    return (
        other.encoding if other.language == "Unknown" else f"{other.language} in {other.encoding}"
    )


def _non_ascii_lines(path: Path, limit: int = 1 << 16) -> bytes:
    """The lines holding a byte outside ASCII (those an encoding changes), up to about `limit`."""
    kept: list[bytes] = []
    size = 0
    with path.open("rb") as stream:
        while size < limit and (chunk := stream.read(1 << 20)):
            if chunk.isascii():
                continue
            for line in chunk.split(b"\n"):
                if not line.isascii():
                    kept.append(line)
                    size += len(line) + 1
                    if size >= limit:
                        break
    return b"\n".join(kept)


def _separator(header_line: str) -> str:
    counts = {sep: _count_unquoted(header_line, sep) for sep in (";", ",", "\t", "|")}
    best = max(counts, key=lambda sep: counts[sep])
    return best if counts[best] else ","


def _count_unquoted(line: str, separator: str) -> int:
    # A quoted header may contain the other separator ("Montant, HT";...): count outside quotes.
    return sum(part.count(separator) for part in line.split('"')[::2])


#: Cells an XLSX sheet may span (rows up to its last filled one, times columns up to its last
#: filled one). The sheet is read by its content, never by the size its `<dimension>` declares.
MAX_XLSX_CELLS = 50_000_000

#: A cell's text that says why it could not be read (see `UNREADABLE`).
_FORMULA = "formula without a computed value: open and save the file in Excel"

#: `frame.attrs` key of the cells a reader could not read: ((row, column, reason), ...). Their
#: rows are rejected with that reason by validation, counted among the rows in.
UNREADABLE = "unreadable_cells"


def _read_xlsx(path: Path) -> pd.DataFrame:
    import openpyxl  # type: ignore[import-untyped, unused-ignore]

    try:
        workbook = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as error:
        raise DataError(path, f"not a readable Excel file ({_reason(error)})") from error
    try:
        rows, formulas = _sheet_rows(path, workbook)
    finally:
        workbook.close()
    if not rows:
        raise DataError(path, "the first sheet is empty (expected a header row)")
    width = max(len(row) for row in rows.values())
    header = rows.pop(1, [])
    if any(row == 1 for row, _ in formulas):
        raise DataError(path, f"the header row has a {_FORMULA}")
    numbers = sorted(rows)
    body = [rows[number] + [""] * (width - len(rows[number])) for number in numbers]
    header = header + [""] * (width - len(header))
    frame = pd.DataFrame(
        body or None, columns=pd.Index(header), index=pd.Index(numbers, dtype=np.int64)
    )
    if formulas:
        frame.attrs[UNREADABLE] = tuple(
            (row, str(header[column - 1]).strip(), _FORMULA) for row, column in formulas
        )
    return frame


def _sheet_rows(path: Path, workbook: Any) -> tuple[dict[int, list[str]], list[tuple[int, int]]]:
    """The filled rows of the first sheet by row number (each up to its last filled cell), and
    the (row, column) of formula cells without a cached value, read from the sheet's XML: the
    `<dimension>` it declares is not trusted (too small, rows are lost; too big, memory is)."""
    from openpyxl.worksheet._reader import (  # type: ignore[import-untyped, unused-ignore]
        FORMULA_TAG,
        WorkSheetParser,
    )

    class Parser(WorkSheetParser):  # type: ignore[misc]
        def parse_cell(self, element: Any) -> Any:
            cell = super().parse_cell(element)
            if cell["value"] is None and element.find(FORMULA_TAG) is not None:
                cell["data_type"] = "formula"
            return cell

    sheets = workbook.worksheets
    if not sheets or not hasattr(sheets[0], "_get_source"):
        raise DataError(path, "the first sheet is not a worksheet")
    sheet = sheets[0]
    rows: dict[int, list[str]] = {}
    formulas: list[tuple[int, int]] = []
    width = 0
    with sheet._get_source() as source:
        parser = Parser(
            source,
            sheet._shared_strings,
            data_only=True,
            epoch=workbook.epoch,
            date_formats=workbook._date_formats,
            timedelta_formats=workbook._timedelta_formats,
        )
        for number, cells in parser.parse():
            filled = [
                cell
                for cell in cells
                if cell["value"] is not None or cell["data_type"] == "formula"
            ]
            if not filled:
                continue
            last = max(cell["column"] for cell in filled)
            width = max(width, last)
            if number * width > MAX_XLSX_CELLS:
                raise DataError(
                    path,
                    f"the first sheet spans more than {MAX_XLSX_CELLS:,} cells (row {number:,}, "
                    f"{width:,} columns): keep only the table in the sheet",
                )
            row = rows.get(number) or []
            row.extend([""] * (last - len(row)))
            for cell in filled:
                if cell["data_type"] == "formula":
                    formulas.append((number, cell["column"]))
                else:
                    row[cell["column"] - 1] = _cell_text(cell["value"])
            rows[number] = row
    return rows, formulas


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
    try:
        records = loads_json(text)
    except json.JSONDecodeError as error:
        raise DataError(path, f"not valid JSON: {error}") from None
    return _records_frame(records, path)


def loads_json(text: str | bytes) -> Any:
    """JSON as the readers take it: numbers kept as written (1234.10 stays exact text for the
    money parser), and an object with a key written twice marked (see `repeated_key`), since
    `json` would silently keep the last value. Raises `json.JSONDecodeError`."""
    return json.loads(text, parse_float=str, parse_int=str, object_pairs_hook=_object)


def repeated_key(value: object) -> str | None:
    """The key written twice in an object `loads_json` read, or None."""
    return value.repeated if isinstance(value, _Repeated) else None


class _Repeated(dict[str, Any]):
    """A JSON object with a key written twice (`json` keeps the last): `repeated` names it."""

    repeated: str = ""


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """A JSON object as a dict; one with a repeated key is a `_Repeated`, refused per record."""
    result = dict(pairs)
    if len(result) == len(pairs):
        return result
    marked = _Repeated(result)
    seen: set[str] = set()
    for key, _ in pairs:
        if key in seen:
            marked.repeated = key
            break
        seen.add(key)
    return marked


def read_records(records: object, where: str) -> pd.DataFrame:
    """A JSON list of records (as `json.loads` gives it, numbers best kept as their text with
    `parse_float=str`) as a table of text cells, indexed from row 1, as from a `.json` file."""
    return _normalise(_records_frame(records, where), Path(where))


def _records_frame(records: object, where: str | Path) -> pd.DataFrame:
    if not isinstance(records, list):
        raise DataError(where, "expected a JSON list of records ([{...}, ...])")
    rows: list[dict[str, str]] = []
    for number, record in enumerate(records, start=1):
        if not isinstance(record, dict):
            raise DataError(where, f"record {number} is not an object")
        if isinstance(record, _Repeated):
            raise DataError(where, f"record {number}: key {record.repeated!r} appears twice")
        row: dict[str, str] = {}
        for key, value in record.items():
            if isinstance(value, dict | list):
                raise DataError(
                    where, f"record {number}, field {key!r}: nested values are not supported"
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
    if pa.types.is_decimal(kind):
        return _decimal_text(column)
    return column.cast(pa.large_string())


def _decimal_text(column: pa.ChunkedArray) -> pa.ChunkedArray:
    """A typed decimal column as text that reads as its value only (see `_plain`)."""
    text = column.cast(pa.large_string())
    if pc.any(pc.match_substring(text, "E")).as_py():  # Arrow writes 1.0E-7 for tiny values
        values = [None if value is None else _plain(value) for value in column.to_pylist()]
        return pa.chunked_array([pa.array(values, type=pa.large_string())])
    trimmed = pc.replace_substring_regex(text, pattern=r"(\.\d\d\d*?)0+$", replacement=r"\1")
    ambiguous = pc.match_substring_regex(trimmed, _AMBIGUOUS.pattern)
    zero, empty = pa.scalar("0", pa.large_string()), pa.scalar("", pa.large_string())
    return pc.if_else(ambiguous, pc.binary_join_element_wise(trimmed, zero, empty), trimmed)


#: A lone point before three digits: a thousands separator or a decimal point? (`1.100`)
_AMBIGUOUS = re.compile(r"^[+-]?[1-9]\d{0,2}\.\d{3}$")


def _plain(value: Decimal) -> str:
    """A typed decimal as plain text that reads as its value only: no exponent, zeros beyond the
    second decimal dropped (`1.100` -> `1.10`, `1234.50` stays), and never a lone point before
    three digits, which reads as a thousands separator too (`1.123` -> `1.1230`)."""
    if not value.is_finite():
        return str(value)
    text = format(value, "f")
    if "." in text:
        whole, fraction = text.split(".")
        fraction = fraction[:2] + fraction[2:].rstrip("0")
        text = f"{whole}.{fraction}" if fraction else whole
    return text + "0" if _AMBIGUOUS.fullmatch(text) else text


def _normalise(frame: pd.DataFrame, path: Path) -> pd.DataFrame:
    names = [str(name).strip().lstrip("\ufeff").strip() for name in frame.columns]
    data: dict[str, pd.Series[Any]] = {}
    for position, name in enumerate(names):
        column = as_text(frame.iloc[:, position])
        if not name:
            if column.notna().any():
                raise DataError(path, f"column {position + 1} has values but no name in the header")
            continue  # trailing separators in spreadsheet exports make empty, unnamed columns
        if name in data:
            raise DataError(path, f"column {name!r} appears twice in the header")
        data[name] = column
    result = pd.DataFrame(data, index=frame.index, copy=False)
    unreadable = frame.attrs.get(UNREADABLE)
    if unreadable:
        result.attrs[UNREADABLE] = unreadable
    if len(result.columns):
        filled = result.notna().any(axis=1).to_numpy()
        if unreadable:  # a row whose only cell could not be read is not a blank line
            filled = filled | result.index.isin([row for row, _, _ in unreadable])
        if not filled.all():
            result = result[filled]  # blank lines, ";;;" lines
    return result


# ---------------------------------------------------------------------------------------------
# Text cells, as the later stages take them


def as_text(column: pd.Series[Any]) -> pd.Series[Any]:
    """Text cells without surrounding spaces; empty cells and NaN become missing."""
    return _stripped(_unstripped(column))


def _unstripped(column: pd.Series[Any]) -> pd.Series[Any]:
    if isinstance(column.dtype, pd.StringDtype):
        return column
    if column.dtype == object and pd.api.types.infer_dtype(column, skipna=True) in _DECIMALS:
        # Decimals given through the API: 1.100 is the number 1.1, not text to guess at.
        column = column.map(lambda value: _plain(value) if isinstance(value, Decimal) else value)
    text: pd.Series[Any] = (
        column.dt.strftime("%Y-%m-%d").astype("str")
        if pd.api.types.is_datetime64_any_dtype(column.dtype)
        else column.astype("str")
    )
    return text


#: What `infer_dtype` says of an object column that may hold Decimals.
_DECIMALS = frozenset({"decimal", "mixed", "mixed-integer", "mixed-integer-float"})


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


def as_arrow(text: pd.Series[Any]) -> pa.Array:
    """A text column as one Arrow array of large strings (chunks joined)."""
    array = pa.array(text.array, type=pa.large_string())
    return array.combine_chunks() if isinstance(array, pa.ChunkedArray) else array


def _storage(text: pd.Series[Any]) -> pa.Array | None:
    """The Arrow array of a pyarrow-backed text column (None for other storage)."""
    return as_arrow(text) if isinstance(text.array, pd.arrays.ArrowStringArray) else None


def _trimmed(array: pa.Array) -> bool:
    """Whether no cell begins or ends with a byte that may be part of a space.

    Reads only the first and last byte of each cell; any byte outside printable ASCII sends the
    column to the real strip, which knows every Unicode space.
    """
    data_buffer = array.buffers()[2]
    if data_buffer is None or len(array) == array.null_count:
        return True  # no characters at all
    offsets = _offsets(array)
    starts, stops = offsets[:-1], offsets[1:]
    # Empty cells have no edges, and a missing cell's bytes (if any) are not text.
    cells = stops > starts
    if array.null_count:
        cells &= ~np.asarray(array.is_null().to_numpy(zero_copy_only=False), dtype=bool)
    if not cells.all():
        starts, stops = starts[cells], stops[cells]
    data = np.frombuffer(data_buffer, dtype=np.uint8)
    ends = np.concatenate((np.take(data, starts), np.take(data, stops - 1)))
    return bool(((ends > 0x20) & (ends < 0x7F)).all())


@dataclass(slots=True)
class Cells:
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
    #: `all_different`, once known.
    different: bool | None = None
    #: `by_value`, once known.
    coded: tuple[npt.NDArray[np.integer[Any]], list[str]] | None = None

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
            if self.values.notna().all():
                return np.ones(len(self.codes), dtype=bool)
            return np.asarray(self.by_value()[0] >= 0)
        return self.text().notna().to_numpy()

    def spread(self, unit: pd.Series[Any]) -> pd.Series[Any]:
        """A column computed per dictionary value (`unit`), taken to every row."""
        assert self.codes is not None
        if isinstance(unit.dtype, np.dtype):
            taken = np.take(unit.to_numpy(), self.codes)  # np.take: faster than indexing
            return pd.Series(taken, index=self.index, copy=False)
        return pd.Series(unit.array.take(self.codes), index=self.index, copy=False)

    def at(self, positions: npt.NDArray[np.intp]) -> list[str | None]:
        """The cells of some rows, None where missing."""
        cells = (
            self.values.iloc[self.codes[positions]]
            if self.codes is not None and self.values is not None
            else self.text().iloc[positions]
        )
        return [None if pd.isna(cell) else str(cell) for cell in cells.tolist()]

    def by_value(self) -> tuple[npt.NDArray[np.integer[Any]], list[str]]:
        """For a coded column: a code per row (-1: missing) and the distinct values (worked
        out once)."""
        assert self.codes is not None and self.values is not None
        if self.coded is None:
            remap, distinct = pd.factorize(self.values, use_na_sentinel=True)
            names = [str(value) for value in distinct]
            codes = self.codes
            if len(names) < len(self.values):  # a missing or repeated entry: codes change
                codes = np.take(np.asarray(remap, dtype=codes.dtype), codes)
            self.coded = (codes, names)
        return self.coded

    def all_different(self) -> bool:
        """Whether no two present cells are the same text, without numbering each row: the
        common answer for an id column, found cheaply (worked out once)."""
        if self.different is None:
            self.different = self.codes is None and _all_different(_storage(self.text()))
        return self.different

    def keys(self) -> npt.NDArray[np.uint64] | None:
        """A 64-bit key per row, equal for equal cells (different cells may share one; a missing
        cell has any key): a coded column's codes, else its bytes read as integers. None when
        cells are too long or wide to be read so."""
        if self.codes is not None:
            return self.by_value()[0].astype(np.uint64)
        array = _storage(self.text())
        if array is None:
            return None
        return _text_keys(pc.fill_null(array, "") if array.null_count else array)

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


def _all_different(array: pa.Array | None) -> bool:
    """Whether no two present cells of an Arrow text column are the same (False for other
    storage, and for a column of few distinct values, coded: repeats, or too few rows to
    matter)."""
    if array is None:
        return False
    if array.null_count:
        array = array.drop_null()
    keys = _text_keys(array)
    if keys is not None:
        # Equal texts have equal keys: keys all different prove the texts are. numpy sorts
        # integers by radix, far faster than hashing each text; equal keys (a repeat, or two
        # texts that share a key) are settled by Arrow's distinct values.
        ordered = np.sort(keys)
        if not np.any(ordered[1:] == ordered[:-1]):
            return True
    return bool(len(pc.unique(array)) == len(array))


#: Longest cells (in bytes) read as integer keys by `_text_keys`; longer ones are hashed by Arrow.
_KEY_BYTES = 64


def _text_keys(array: pa.Array) -> npt.NDArray[np.uint64] | None:
    """A 64-bit key per cell of a text column without missing cells, equal for equal texts (two
    different texts may share one): the cells' bytes padded to the same width and read as
    integers, mixed into one. None when cells are long or of different widths even padded."""
    if not len(array):
        return None
    widths = _byte_widths(array)
    if int(widths.max()) > _KEY_BYTES:
        return None
    if int(widths.min()) != int(widths.max()):
        # Pad every cell to the longest: of different widths in bytes still when not ASCII.
        longest = pc.max(pc.utf8_length(array)).as_py()
        array = pc.utf8_rpad(array, width=longest, padding=" ")
        widths = _byte_widths(array)
        if int(widths.min()) != int(widths.max()):
            return None
    width = int(widths[0])
    if not width:
        return None
    start = int(_offsets(array)[0])
    data = np.frombuffer(array.buffers()[2], dtype=np.uint8)[start : start + width * len(array)]
    matrix = data.reshape(len(array), width)
    if width % 8:
        padded = np.zeros((len(array), width + 8 - width % 8), dtype=np.uint8)
        padded[:, :width] = matrix
        matrix = padded
    words = np.ascontiguousarray(matrix).view(np.uint64)
    keys = words[:, 0]
    for column in range(1, words.shape[1]):
        keys = mix_keys(keys, words[:, column])
    return keys


def mix_keys(keys: npt.NDArray[np.uint64], more: npt.NDArray[Any]) -> npt.NDArray[np.uint64]:
    """Keys of a row made of two parts, from the keys so far and the next part's (equal parts,
    equal keys): multiply-xorshift, so that the first part's bits spread over the key before
    the next comes in."""
    mixed = keys * np.uint64(0x9E3779B97F4A7C15)
    mixed ^= mixed >> np.uint64(29)
    mixed ^= more.astype(np.uint64, copy=False)
    return mixed


def _offsets(array: pa.Array) -> npt.NDArray[np.int64]:
    """Where each cell of an Arrow text column begins in its data, and where the last ends."""
    width = np.int64 if pa.types.is_large_string(array.type) else np.int32
    offsets = np.frombuffer(array.buffers()[1], dtype=width)
    return offsets[array.offset : array.offset + len(array) + 1].astype(np.int64, copy=False)


def _byte_widths(array: pa.Array) -> npt.NDArray[np.int64]:
    return np.diff(_offsets(array))


#: Cells looked at to judge whether a column has few distinct values.
_SAMPLE = 8192


def column_cells(column: pd.Series[Any]) -> Cells:
    """A column's text cells, coded by distinct value when a sample shows few of them (a
    typed column, numbers or days, always: only its distinct values are written as text)."""
    typed = _typed_cells(column)
    if typed is not None:
        return typed
    text = _unstripped(column)
    array = _storage(text)
    if array is None or not _few_distinct(array):
        return Cells(column.index, _stripped(text))
    encoded = array.dictionary_encode(null_encoding="encode")
    raw = pd.Series(encoded.dictionary.to_pandas(), dtype=text.dtype)
    values = _stripped(raw)
    codes = np.asarray(encoded.indices.to_numpy(zero_copy_only=False))
    # When stripping changed nothing, every row's text is the column as given.
    same = values is raw or bool(
        (values.isna() == raw.isna()).all() and (values.fillna("") == raw.fillna("")).all()
    )
    return Cells(column.index, text if same else None, codes, values)


def _typed_cells(column: pd.Series[Any]) -> Cells | None:
    """The cells of a column of numbers, booleans or days, written as text once per distinct
    value (None for other columns). Writing each row would build a string per row."""
    dtype = column.dtype
    api = pd.api.types
    if isinstance(dtype, pd.StringDtype) or api.is_object_dtype(dtype):
        return None
    if not (api.is_numeric_dtype(dtype) or api.is_datetime64_any_dtype(dtype)):
        return None
    if api.is_float_dtype(dtype):
        numbers = column.to_numpy(dtype=np.float64, na_value=np.nan)
        if bool(np.any(np.signbit(numbers) & (numbers == 0))):
            return None  # -0.0 and 0.0 are one value to a hash, two texts to a reader
    codes, distinct = pd.factorize(column, use_na_sentinel=True)
    values = pd.Series(distinct)
    text = _stripped(_unstripped(values))
    # Missing cells take a last, missing, entry: every row has a code.
    missing = pd.Series([None], dtype=text.dtype)
    values = pd.concat([text, missing], ignore_index=True)
    codes = np.where(codes < 0, len(text), codes)
    return Cells(column.index, None, codes, values)


def _few_distinct(array: pa.Array) -> bool:
    """Whether an evenly spread sample of the cells holds at most half as many distinct values."""
    if not len(array):
        return False
    step = max(1, len(array) // _SAMPLE)
    sample = array.take(pa.array(np.arange(0, len(array), step, dtype=np.int64)))
    return bool(2 * pc.count_distinct(sample, mode="all").as_py() <= len(sample))
