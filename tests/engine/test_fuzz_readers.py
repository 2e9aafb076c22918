"""Fuzzing the data readers (CSV, XLSX, JSON, Parquet, mapping YAML): generated files, garbage
bytes included, either read or are refused with a DataError (MappingError for mappings); what
reads is evaluated with `in = out + rejected` for every table."""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import openpyxl
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

import engine
from engine.data import CrmMapping, DataError, apply_mapping, load_mapping, read_table

ROOT = Path(__file__).resolve().parents[2]
FUZZ = settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    database=None,
)

_PROGRAM: list[engine.Program] = []


def program() -> engine.Program:
    if not _PROGRAM:
        _PROGRAM.append(engine.load(ROOT / "rulesets" / "contech-saas"))
    return _PROGRAM[0]


NAMES = st.sampled_from(
    ["id", "amount", "status", "close_date", "type", "stage", "rep_id", "Amount", "", "nom é"]
)
CELLS = st.one_of(
    st.sampled_from(
        ["D1", "D2", "open", "won", "lost", "1 234,50", "1.100", "1,234", "12.5", "-3", "", " ",
         "2026-03-31", "31/03/2026", "Dé2", "Noël", "true", "=1+1", '"q;u,o"', "1e400", "NaN"]
    ),
    st.text(max_size=6),
)  # fmt: skip
ROWS = st.lists(st.lists(CELLS, min_size=1, max_size=5), min_size=0, max_size=6)
GARBAGE = st.binary(max_size=300)


def check(frame: pd.DataFrame) -> None:
    """A table that reads is evaluated as deals and as leads: every row in, out or rejected."""
    for table in ("deals", "leads"):
        results = program().evaluate(**{table: frame})
        counts = results.counts[table]
        assert counts.rows_in == len(frame)
        assert counts.rows_in == counts.rows_out + counts.rejected, counts


def read(path: Path) -> pd.DataFrame | None:
    try:
        return read_table(path)
    except DataError:
        return None


_SCRATCH: list[Path] = []


@pytest.fixture(scope="module", autouse=True)
def scratch() -> Iterator[None]:
    """One temporary folder for the module's files, removed at the end."""
    with tempfile.TemporaryDirectory(prefix="fuzz_readers_") as folder:
        _SCRATCH[:] = [Path(folder)]
        yield
    _SCRATCH.clear()


def written(suffix: str, data: bytes) -> Path:
    folder = Path(tempfile.mkdtemp(dir=_SCRATCH[0] if _SCRATCH else None))
    path = folder / f"deals{suffix}"
    path.write_bytes(data)
    return path


# ============================================================================ CSV
@st.composite
def csv_bytes(draw: st.DrawFn) -> bytes:
    header = draw(st.lists(NAMES, min_size=1, max_size=5))
    rows = draw(ROWS)
    separator = draw(st.sampled_from([";", ",", "\t"]))
    newline = draw(st.sampled_from(["\n", "\r\n", "\r"]))
    text = newline.join(separator.join(row) for row in [header, *rows]) + newline
    encoding = draw(st.sampled_from(["utf-8", "utf-8-sig", "cp1252", "utf-16", "mixed"]))
    if encoding == "mixed":
        return text.encode() + "D9;Dé9\n".encode("cp1252")
    return text.encode(encoding, errors="replace")


@FUZZ
@given(st.one_of(csv_bytes(), GARBAGE))
def test_csv_reads_or_is_refused(data: bytes) -> None:
    frame = read(written(".csv", data))
    if frame is not None:
        check(frame)


# ============================================================================ XLSX
@st.composite
def xlsx_bytes(draw: st.DrawFn) -> bytes:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    for row in [draw(st.lists(NAMES, min_size=1, max_size=5)), *draw(ROWS)]:
        cells = [ILLEGAL_CHARACTERS_RE.sub("", cell) for cell in row]  # openpyxl refuses them
        sheet.append([draw(st.sampled_from([cell, 12.5, 3, True, None])) for cell in cells])
    path = written(".xlsx", b"")
    workbook.save(path)
    data = path.read_bytes()
    if draw(st.booleans()):  # a byte flipped: a damaged archive
        position = draw(st.integers(0, 1 << 20)) % len(data)  # zip dates vary: not the size
        data = data[:position] + bytes([data[position] ^ 0xFF]) + data[position + 1 :]
    return data


@FUZZ
@given(st.one_of(xlsx_bytes(), GARBAGE))
def test_xlsx_reads_or_is_refused(data: bytes) -> None:
    frame = read(written(".xlsx", data))
    if frame is not None:
        check(frame)


# ============================================================================ JSON
VALUES = st.one_of(
    st.none(), st.booleans(), st.integers(-(10**20), 10**20), st.floats(), CELLS,
    st.lists(st.integers(), max_size=2),
)  # fmt: skip


@st.composite
def json_bytes(draw: st.DrawFn) -> bytes:
    records = draw(st.lists(st.dictionaries(NAMES, VALUES, max_size=5), max_size=6))
    text = json.dumps(records, allow_nan=True)
    if records and draw(st.booleans()):
        text = text.replace("{", '{"id": "X", ', 1)  # a repeated key, perhaps
    return text.encode()


@FUZZ
@given(st.one_of(json_bytes(), GARBAGE, st.text(max_size=50).map(str.encode)))
def test_json_reads_or_is_refused(data: bytes) -> None:
    frame = read(written(".json", data))
    if frame is not None:
        check(frame)


# ============================================================================ Parquet
COLUMN_TYPES: dict[str, tuple[pa.DataType, st.SearchStrategy[Any]]] = {
    "text": (pa.string(), CELLS),
    "integer": (pa.int64(), st.integers(-(2**62), 2**62)),
    "float": (pa.float64(), st.floats()),
    "decimal": (
        pa.decimal128(12, 3),
        st.decimals(min_value=-(10**8), max_value=10**8, places=3, allow_nan=False),
    ),
    "boolean": (pa.bool_(), st.booleans()),
    "date": (pa.date32(), st.dates()),
}


@st.composite
def parquet_bytes(draw: st.DrawFn) -> bytes:
    names = draw(st.lists(NAMES.filter(bool), min_size=1, max_size=4, unique=True))
    size = draw(st.integers(0, 5))
    columns = {}
    for name in names:
        kind, values = COLUMN_TYPES[draw(st.sampled_from(sorted(COLUMN_TYPES)))]
        cells = [draw(st.one_of(st.none(), values)) for _ in range(size)]
        columns[name] = pa.array(cells, type=kind)
    path = written(".parquet", b"")
    pq.write_table(pa.table(columns), path)
    return path.read_bytes()


@FUZZ
@given(st.one_of(parquet_bytes(), GARBAGE))
def test_parquet_reads_or_is_refused(data: bytes) -> None:
    frame = read(written(".parquet", data))
    if frame is not None:
        check(frame)


# ============================================================================ mapping YAML
TABLES = st.sampled_from(["deals", "reps", "territories", "quotas", "leads", "nope"])
COLUMNS = st.dictionaries(
    NAMES.filter(bool), st.one_of(NAMES, st.lists(NAMES, max_size=2)), max_size=3
)
ENTRY = st.fixed_dictionaries(
    {},
    optional={
        "file": st.sampled_from(["deals.csv", "missing.csv", "../x.csv"]),
        "from": TABLES,
        "columns": COLUMNS,
        "values": st.dictionaries(NAMES, st.dictionaries(CELLS, CELLS, max_size=2), max_size=2),
        "defaults": st.dictionaries(NAMES, CELLS, max_size=2),
    },
)
MAPPINGS = st.fixed_dictionaries(
    {"tables": st.dictionaries(TABLES, ENTRY, max_size=3)},
    optional={"preset": st.sampled_from(["hubspot", "salesforce", "other"])},
)


@FUZZ
@given(
    st.one_of(
        MAPPINGS.map(lambda raw: yaml.safe_dump(raw, allow_unicode=True)),
        st.text(max_size=80),
        st.sampled_from(["a: &a [1, 1]\nb: &b [*a, *a]\nc: [*b, *b, *b]\n", "x: {y: 1, y: 2}\n"]),
    )
)
def test_mapping_yaml_loads_or_is_refused(text: str) -> None:
    path = written(".yaml", text.encode())
    (path.parent / "deals.csv").write_text("id;amount;status\nD1;12;won\nD2;x;open\n")
    try:
        mapping = load_mapping(path)
    except DataError:
        return
    assert isinstance(mapping, CrmMapping)
    try:
        frames = engine.data.load_inputs(path.parent, mapping)
    except DataError:
        return
    frames = apply_mapping(frames, mapping)
    given = {name: frame for name, frame in frames.items() if name in ("deals", "leads")}
    for name, frame in given.items():
        results = program().evaluate(**{name: frame})
        counts = results.counts[name]
        assert counts.rows_in == counts.rows_out + counts.rejected


def test_fuzz_strategies_cover_decimals() -> None:
    # The Parquet strategy makes typed decimals; one of them read back as plain text.
    path = written(".parquet", b"")
    pq.write_table(pa.table({"amount": pa.array([Decimal("1.100")], pa.decimal128(12, 3))}), path)
    assert read_table(path)["amount"].tolist() == ["1.10"]


pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")
