"""Reading input files, applying CRM mappings and validating rows, as a consultant meets them."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from unittest.mock import patch

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from openpyxl import Workbook

from dsl.canonical import TABLES, Column
from engine.data import (
    CrmMapping,
    DataError,
    MappingError,
    RowError,
    TableMapping,
    Validated,
    apply_mapping,
    load_inputs,
    load_mapping,
    read_table,
    validate_table,
)
from engine.money import parse_money

# A real CRM export, shipped as it was found (examples/maven-crm/README.md).
MAVEN = Path(__file__).resolve().parents[2] / "examples" / "maven-crm"

NBSP = "\u00a0"
MAVEN_MAPPING = """\
# Maven Analytics "CRM Sales Opportunities": agents are reps, regional offices are territories.
tables:
  deals:
    file: sales_pipeline.csv
    columns:
      opportunity_id: id
      sales_agent: rep_id
      deal_stage: [stage, status]
      engage_date: [created_at, stage_entered_at]
      close_value: amount
    values:
      # Every closed deal of the export has an engage date: it left from `engaging`.
      stage: {Prospecting: prospecting, Engaging: engaging, Won: engaging, Lost: engaging}
      status: {Prospecting: open, Engaging: open, Won: won, Lost: lost}
  reps:
    file: sales_teams.csv
    columns:
      sales_agent: [id, name]
      regional_office: territory
      manager: team
  territories:
    from: reps
    columns:
      territory: [id, name]
    defaults:
      potential: 1.0
"""


def _write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.write_bytes(text.encode(encoding))
    return path


def _cells(frame: pd.DataFrame) -> list[list[str | None]]:
    return [[None if pd.isna(v) else str(v) for v in row] for row in frame.to_numpy().tolist()]


def _check_counts(result: Validated) -> None:
    rejected_rows = {error.row for error in result.errors if error.row is not None}
    assert result.rows_in == result.rows_out + result.rows_rejected
    if not any(error.row is None for error in result.errors):
        assert result.rows_rejected == len(rejected_rows) == len(result.rejected)


# ---------------------------------------------------------------------------------------------
# Reading


def test_french_excel_csv_semicolons_decimal_comma_and_bom(tmp_path: Path) -> None:
    path = _write(
        tmp_path / "deals.csv",
        "\ufeffid;montant;clôture;actif\r\n"
        "D1;1\u00a0234,56;31/01/2026;oui\r\n"
        "D2;12,5;2026-02-01;non\r\n",
    )
    frame = read_table(path)
    assert list(frame.columns) == ["id", "montant", "clôture", "actif"]
    assert frame.index.tolist() == [2, 3]  # header is row 1
    assert _cells(frame) == [
        ["D1", "1\u00a0234,56", "31/01/2026", "oui"],
        ["D2", "12,5", "2026-02-01", "non"],
    ]
    columns = (
        Column("id", "text", required=True),
        Column("montant", "money"),
        Column("clôture", "date"),
        Column("actif", "boolean"),
    )
    result = validate_table("deals", frame, columns)
    assert result.errors == ()
    assert result.valid["montant"].tolist() == [Decimal("1234.56"), Decimal("12.50")]
    assert result.valid["montant__cents"].tolist() == [123456, 1250]
    assert result.valid["clôture"].tolist() == [
        pd.Timestamp("2026-01-31"),
        pd.Timestamp("2026-02-01"),
    ]
    assert result.valid["actif"].tolist() == [True, False]


def test_excel_separator_hint_line(tmp_path: Path) -> None:
    path = _write(tmp_path / "deals.csv", "sep=;\nid;amount\nD1;1,5\n")
    frame = read_table(path)
    assert list(frame.columns) == ["id", "amount"]
    assert frame.index.tolist() == [3]  # the hint is line 1, the header line 2
    assert _cells(frame) == [["D1", "1,5"]]


def test_cp1252_file_is_read_when_not_utf8(tmp_path: Path) -> None:
    path = _write(
        tmp_path / "reps.csv", "id;name;territory\nR1;Hélène Léger;Île-de-France\n", "cp1252"
    )
    frame = read_table(path)
    assert _cells(frame) == [["R1", "Hélène Léger", "Île-de-France"]]


@pytest.mark.parametrize(
    "text",
    [
        "id;name;territory\nR1;Hélène Léger;Île-de-France\n",
        # Few cells, symbols or capitals: a detector's guess is unsure, cp1252 still reads them.
        "id;note\nD1;ÇA ÇÀ À È Ù Ò\n",
        "id;note\nD1;prix: 10€ 20€ 30€ 40€\n",
        "id;temp\nD1;5°C 10° n°12 N°\n",
        "id;mark\nD1;©2024 Société™ ®\n",
        "id;name\nR1;Müller Straße ß ä ö ü Ä Ö Ü\n",
        "id;note\n" + "".join(f"D{i};l’équipe « très » motivée — 1 234,56 €\n" for i in range(300)),
    ],
)
def test_windows_1252_exports_are_read_as_such(tmp_path: Path, text: str) -> None:
    path = _write(tmp_path / "deals.csv", text, "cp1252")
    frame = read_table(path)
    body = [line.split(";") for line in text.splitlines()[1:]]
    assert _cells(frame) == body


def test_utf8_is_read_as_utf8_though_cp1252_decodes_it_too(tmp_path: Path) -> None:
    # "é" in UTF-8 is two bytes cp1252 would read as "Ã©".
    path = _write(tmp_path / "reps.csv", "id;name\nR1;Hélène Léger\n")
    assert _cells(read_table(path)) == [["R1", "Hélène Léger"]]


def test_utf16_with_bom_is_read(tmp_path: Path) -> None:
    path = _write(tmp_path / "reps.csv", "id;name\r\nR1;Hélène Léger\r\n", "utf-16")
    assert _cells(read_table(path)) == [["R1", "Hélène Léger"]]


@pytest.mark.parametrize("encoding", ["utf-8", "cp1252"])
def test_the_encoding_is_judged_on_the_whole_file_not_its_head(
    tmp_path: Path, encoding: str
) -> None:
    # 150 KB of ASCII first: the accented line lies beyond the 64 KB sniffed for the separator.
    rows = [f"D{i};Dupont" for i in range(15000)] + ["D15000;Hélène Léger"]
    path = _write(tmp_path / "deals.csv", "id;name\n" + "\n".join(rows) + "\n", encoding)
    frame = read_table(path)
    assert len(frame) == 15001
    assert frame.loc[15002, "name"] == "Hélène Léger"


@pytest.mark.parametrize(
    ("encoding", "lines", "named"),
    [
        ("cp1251", ["Иван Петров;Москва", "Ольга Смирнова;Санкт-Петербург", "сделка закрыта"],
         "cp1251"),
        ("cp1253", ["Γιάννης Παπαδόπουλος;Αθήνα", "Μαρία Οικονόμου;Θεσσαλονίκη"], "cp1253"),
    ],
)  # fmt: skip
def test_text_that_cp1252_only_reads_as_nonsense_is_refused(
    tmp_path: Path, encoding: str, lines: list[str], named: str
) -> None:
    # cp1252 decodes these bytes (into `Èâàí Ïåòðîâ`...): decoding alone would read nonsense.
    text = "id;name;city\n" + "".join(f"R{i};{lines[i % len(lines)]}\n" for i in range(20))
    path = _write(tmp_path / "reps.csv", text, encoding)
    with pytest.raises(DataError) as info:
        read_table(path)
    reason = info.value.reason
    assert reason.startswith("not UTF-8 or Windows-1252 text (it reads as "), reason
    assert reason.endswith(f"{named}): save it as CSV UTF-8"), reason


def test_comma_csv_with_quotes_and_blank_lines_keeps_line_numbers(tmp_path: Path) -> None:
    path = _write(
        tmp_path / "deals.csv",
        'id,account,amount\nD1,"Dupont, Fils",10\n\nD2,  Acme  ,\n,,\nD3,Zeta,"1,234.50"\n',
    )
    frame = read_table(path)
    assert frame.index.tolist() == [2, 4, 6]
    assert _cells(frame) == [
        ["D1", "Dupont, Fils", "10"],
        ["D2", "Acme", None],
        ["D3", "Zeta", "1,234.50"],
    ]


def test_xlsx_cells_become_text(tmp_path: Path) -> None:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["id", "amount", "close_date", "won", "contacts", "note", None])
    sheet.append(["D1", 1234.5, datetime(2026, 3, 31), True, 3.0, None, None])
    sheet.append(["D2", 0.1, date(2026, 4, 1), False, 2, "à voir", None])
    sheet.append([None, None, None, None, None, None, None])
    path = tmp_path / "deals.xlsx"
    book.save(path)
    frame = read_table(path)
    assert list(frame.columns) == ["id", "amount", "close_date", "won", "contacts", "note"]
    assert frame.index.tolist() == [2, 3]
    assert _cells(frame) == [
        ["D1", "1234.5", "2026-03-31", "true", "3", None],
        ["D2", "0.1", "2026-04-01", "false", "2", "à voir"],
    ]


def test_json_records_keep_numbers_as_written(tmp_path: Path) -> None:
    path = _write(
        tmp_path / "deals.json",
        '[{"id": "D1", "amount": 1234.10, "won": true, "contacts": 3},'
        ' {"id": "D2", "amount": null, "close_date": "2026-01-31"}]',
    )
    frame = read_table(path)
    assert frame.index.tolist() == [1, 2]  # records are numbered from 1
    assert list(frame.columns) == ["id", "amount", "won", "contacts", "close_date"]
    assert _cells(frame) == [
        ["D1", "1234.10", "true", "3", None],
        ["D2", None, None, None, "2026-01-31"],
    ]


def test_parquet_columns_become_text(tmp_path: Path) -> None:
    table = pa.table(
        {
            "id": ["D1", "D2"],
            "amount": pa.array([Decimal("1234.50"), None], type=pa.decimal128(12, 2)),
            "score": [71.5, 70.0],
            "contacts": pa.array([3, None], type=pa.int64()),
            "won": [True, False],
            "close_date": pa.array([date(2026, 3, 31), date(2026, 4, 1)], type=pa.date32()),
            "created_at": pa.array(
                [datetime(2026, 1, 5), datetime(2026, 1, 6)], type=pa.timestamp("ns")
            ),
            "stage": pa.array(["demo", "demo"]).dictionary_encode(),
        }
    )
    path = tmp_path / "deals.parquet"
    pq.write_table(table, path)
    frame = read_table(path)
    assert frame.index.tolist() == [1, 2]
    assert _cells(frame) == [
        ["D1", "1234.50", "71.5", "3", "true", "2026-03-31", "2026-01-05", "demo"],
        ["D2", None, "70", None, "false", "2026-04-01", "2026-01-06", "demo"],
    ]


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        (
            "deals.doc",
            b"x",
            "unsupported file type '.doc' (expected .csv, .xlsx, .json or .parquet)",
        ),
        ("deals.xlsx", b"not a zip file", "not a readable Excel file (File is not a zip file)"),
        (
            "deals.parquet",
            b"PAR1 nope",
            "not a readable Parquet file (Parquet magic bytes not found in footer. Either the "
            "file is corrupted or this is not a parquet file.)",
        ),
        ("deals.json", b'{"id": "D1"}', "expected a JSON list of records ([{...}, ...])"),
        (
            "deals.json",
            b'[{"id": {"a": 1}}]',
            "record 1, field 'id': nested values are not supported",
        ),
        ("deals.json", b"[1]", "record 1 is not an object"),
        (
            "deals.json",
            b"[{",
            "not valid JSON: Expecting property name enclosed in double quotes: line 1 column 3 "
            "(char 2)",
        ),
        ("deals.csv", b"", "the file is empty (expected a header line)"),
        ("deals.csv", b"id,amount\nD1,1,2\n", "line 2 has 3 cells but the header has 2"),
        ("deals.csv", b"id,amount,id\nD1,1,2\n", "column 'id' appears twice in the header"),
        ("deals.csv", b"id,,amount\nD1,x,2\n", "column 2 has values but no name in the header"),
        ("deals.csv", b"id\n\x81\x8d\x8f\x90\x9d\n", "not UTF-8 or Windows-1252 text"),
    ],
)
def test_unreadable_files_give_a_reason_not_a_traceback(
    tmp_path: Path, name: str, content: bytes, reason: str
) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(DataError) as info:
        read_table(path)
    assert info.value.reason == reason
    assert str(info.value) == f"{path}: {reason}"


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(DataError) as info:
        read_table(tmp_path / "deals.csv")
    assert str(info.value) == f"{tmp_path / 'deals.csv'}: file not found"


# ---------------------------------------------------------------------------------------------
# Validation


DEAL = TABLES["deal"]


def _deals(rows: list[dict[str, str]]) -> pd.DataFrame:
    """A deals frame as read from a CSV: text cells, first data row numbered 2."""
    frame = pd.DataFrame(rows, dtype="str")
    frame.index = pd.RangeIndex(2, len(rows) + 2)
    return frame


def test_valid_columns_are_typed() -> None:
    frame = _deals(
        [
            {"id": "D1", "status": "won", "amount": "50000", "cost": "1 234,5", "contacts": "3",
             "close_date": "2026-03-31", "type": "new_logo", "budget": "x"},
            {"id": "D2", "status": "open", "amount": "", "cost": "€12.30", "contacts": "",
             "close_date": "", "type": "", "budget": ""},
        ]
    )  # fmt: skip
    result = validate_table("deals", frame, DEAL)
    assert result.errors == ()
    valid = result.valid
    assert list(valid.columns) == [
        "id", "rep_id", "account", "type", "amount", "amount__cents", "cost", "cost__cents",
        "stage", "stage_entered_at", "created_at", "close_date", "status", "contacts", "budget",
    ]  # fmt: skip
    assert valid.index.tolist() == [2, 3]
    assert valid["amount"].tolist() == [Decimal("50000.00"), None]
    assert str(valid["amount"].iloc[0]) == "50000.00"
    assert valid["amount__cents"].dtype == "Int64"
    assert valid["amount__cents"].tolist() == [5_000_000, pd.NA]
    assert valid["cost__cents"].tolist() == [123_450, 1_230]
    assert valid["contacts"].dtype == "Int64"
    assert valid["contacts"].tolist() == [3, pd.NA]
    assert valid["close_date"].dtype == "datetime64[ns]"
    assert valid["close_date"].isna().tolist() == [False, True]
    assert valid["rep_id"].isna().all()  # declared but absent: present and empty
    assert valid["stage_entered_at"].dtype == "datetime64[ns]"
    assert valid["budget"].tolist()[0] == "x"  # the client's own field, kept as text
    assert result.rows_in == 2 and result.rows_out == 2 and result.rows_rejected == 0


def test_numbers_percents_and_booleans() -> None:
    columns = (
        Column("id", "text", required=True),
        Column("score", "number"),
        Column("rate", "percent"),
        Column("flag", "boolean"),
    )
    words = ["true", "FALSE", "Yes", "no", "oui", "Non", "1", "0", "vrai", "Faux"]
    frame = pd.DataFrame(
        {
            "id": [f"L{i}" for i in range(10)],
            "score": [
                "70",
                "70,5",
                "1 234,5",
                "1\u202f234.5",
                "-3",
                "1.5e2",
                "0,25",
                "",
                "12",
                "7",
            ],
            "rate": ["15%", "0.15", "15 %", "", "100%", "12,5 %", "0", "1", "0.5", "200%"],
            "flag": words,
        },
        dtype="str",
    )
    result = validate_table("leads", frame, columns)
    assert result.errors == ()
    assert result.valid["score"].dtype == "float64"
    assert result.valid["score"].tolist()[:7] == [70.0, 70.5, 1234.5, 1234.5, -3.0, 150.0, 0.25]
    assert result.valid["rate"].tolist()[:3] == [0.15, 0.15, 0.15]
    assert result.valid["rate"].tolist()[5] == 0.125
    assert result.valid["flag"].dtype == "boolean"
    assert result.valid["flag"].tolist() == [True, False, True, False, True, False, True, False,
                                              True, False]  # fmt: skip


def test_every_bad_cell_is_reported_with_row_column_value_and_message() -> None:
    frame = _deals(
        [
            {"id": "D1", "status": "won", "amount": "1,234", "close_date": "2026-02-30",
             "contacts": "2,5", "type": "New_Logo"},
            {"id": "D2", "status": "wn", "amount": "12.345", "close_date": "31/02/2026",
             "contacts": "x", "type": "upsel"},
            {"id": "D3", "status": "", "amount": "abc", "close_date": "0202-01-05",
             "contacts": "3", "type": "renewal"},
            {"id": "D4", "status": "open", "amount": "99999999999999", "close_date": "03/13/2026",
             "contacts": "4", "type": "other"},
            {"id": "D5", "status": "open", "amount": "10", "close_date": "2026-01-05T10:30:00Z",
             "contacts": "1", "type": "upsell"},
        ]
    )  # fmt: skip
    result = validate_table("deals", frame, DEAL)
    assert list(result.errors) == [
        RowError("deals", 2, "type", "New_Logo",
                 "'New_Logo' is not one of new_logo, upsell, renewal; did you mean 'new_logo'?"),
        RowError("deals", 2, "amount", "1,234",
                 "'1,234' is ambiguous: 1234 or 1.234? Write it without a thousands separator "
                 "(1234) or with two decimals"),
        RowError("deals", 2, "close_date", "2026-02-30",
                 "'2026-02-30' is not a date (expected YYYY-MM-DD or DD/MM/YYYY)"),
        RowError("deals", 2, "contacts", "2,5", "'2,5' is not a whole number"),
        RowError("deals", 3, "type", "upsel",
                 "'upsel' is not one of new_logo, upsell, renewal; did you mean 'upsell'?"),
        RowError("deals", 3, "amount", "12.345",
                 "'12.345' is ambiguous: 12345 or 12.345? Write it without a thousands separator "
                 "(12345) or with two decimals"),
        RowError("deals", 3, "close_date", "31/02/2026",
                 "'31/02/2026' is not a date (expected YYYY-MM-DD or DD/MM/YYYY)"),
        RowError("deals", 3, "status", "wn",
                 "'wn' is not one of open, won, lost; did you mean 'won'?"),
        RowError("deals", 3, "contacts", "x",
                 "'x' is not a number (expected e.g. 1234.5 or 1 234,5)"),
        RowError("deals", 4, "amount", "abc",
                 "'abc' is not an amount (expected e.g. 1234.56, 1 234,56 or €1,234.56)"),
        RowError("deals", 4, "close_date", "0202-01-05",
                 "'0202-01-05' is not a plausible date (expected between 1900 and 2199)"),
        RowError("deals", 4, "status", None, "required value is missing"),
        RowError("deals", 5, "type", "other", "'other' is not one of new_logo, upsell, renewal"),
        RowError("deals", 5, "amount", "99999999999999",
                 "'99999999999999' is too large for an amount"),
        RowError("deals", 5, "close_date", "03/13/2026",
                 "'03/13/2026' is not a date (expected YYYY-MM-DD or DD/MM/YYYY)"),
    ]  # fmt: skip
    assert result.valid["id"].tolist() == ["D5"]
    assert result.valid["close_date"].tolist() == [pd.Timestamp("2026-01-05")]
    assert result.rows_in == 5 and result.rows_out == 1 and result.rows_rejected == 4
    assert result.rejected == (2, 3, 4, 5)
    _check_counts(result)


def test_sub_cent_amounts_are_rejected_not_rounded() -> None:
    frame = _deals([{"id": "D1", "status": "won", "amount": "1234.567"},
                    {"id": "D2", "status": "won", "amount": "10.0500"}])  # fmt: skip
    result = validate_table("deals", frame, DEAL)
    assert list(result.errors) == [
        RowError("deals", 2, "amount", "1234.567",
                 "'1234.567' has more than two decimals (amounts are kept to the cent)"),
    ]  # fmt: skip
    assert result.valid["amount__cents"].tolist() == [1005]


def test_known_values_suggest_the_closest_stage() -> None:
    stages = ("detection", "qualification", "discovery", "demo", "proposal")
    frame = _deals(
        [
            {"id": "D1", "status": "open", "stage": "demoo"},
            {"id": "D2", "status": "open", "stage": "Proposal"},
            {"id": "D3", "status": "open", "stage": "zzz"},
            {"id": "D4", "status": "open", "stage": ""},
        ]
    )
    result = validate_table("deals", frame, DEAL, {"stage": stages})
    expected = "expected one of detection, qualification, discovery, demo, proposal"
    assert list(result.errors) == [
        RowError("deals", 2, "stage", "demoo",
                 f"'demoo' is not a known stage ({expected}); did you mean 'demo'?"),
        RowError("deals", 3, "stage", "Proposal",
                 f"'Proposal' is not a known stage ({expected}); did you mean 'proposal'?"),
        RowError("deals", 4, "stage", "zzz", f"'zzz' is not a known stage ({expected})"),
    ]  # fmt: skip
    assert result.valid["id"].tolist() == ["D4"]  # missing is unknown, not invalid


def test_long_known_value_lists_are_shortened() -> None:
    reps = ("alice", "bruno", "carla", "david", "emma", "farid", "gina", "hugo", "ines",
            "jules", "karim", "lea")  # fmt: skip
    frame = _deals([{"id": "D1", "status": "open", "rep_id": "karin"}])
    (error,) = validate_table("deals", frame, DEAL, {"rep_id": reps}).errors
    assert error.message == (
        "'karin' is not a known rep_id (expected one of alice, bruno, carla, david, emma, farid, "
        "gina, hugo, ines, jules, ... (12 in all)); did you mean 'karim'?"
    )


def test_missing_required_column_is_one_table_error_and_rejects_every_row() -> None:
    frame = _deals([{"id": "D1", "Status": "won"}, {"id": "D2", "Status": "open"}])
    result = validate_table("deals", frame, DEAL)
    assert list(result.errors) == [
        RowError("deals", None, "status", None,
                 "required column 'status' is missing; did you mean 'Status'?"),
    ]  # fmt: skip
    assert result.rows_in == 2 and result.rows_out == 0 and result.rows_rejected == 2
    assert list(result.valid.columns)[:3] == ["id", "rep_id", "account"]


def test_missing_column_suggests_a_short_name_written_in_another_case() -> None:
    # Too short for a close spelling (`id`/`ID` share no letter): the helper matches the case.
    frame = pd.DataFrame({"ID": ["D1"], "status": ["won"]})
    (error,) = validate_table("deals", frame, DEAL).errors
    assert error.message == "required column 'id' is missing; did you mean 'ID'?"


def test_duplicate_ids_reject_every_copy() -> None:
    frame = _deals([{"id": "D1", "status": "won"}, {"id": "D2", "status": "won"},
                    {"id": "D1", "status": "lost"}, {"id": "D1", "status": "open"}])  # fmt: skip
    result = validate_table("deals", frame, DEAL)
    assert list(result.errors) == [
        RowError("deals", 2, "id", "D1", "duplicate id 'D1' (also on rows 4, 5)"),
        RowError("deals", 4, "id", "D1", "duplicate id 'D1' (also on rows 2, 5)"),
        RowError("deals", 5, "id", "D1", "duplicate id 'D1' (also on rows 2, 4)"),
    ]
    assert result.valid["id"].tolist() == ["D2"]


def test_quota_key_is_rep_period_measure() -> None:
    frame = pd.DataFrame(
        {"rep_id": ["R1", "R1", "R1"], "period": ["2026-Q1", "2026-Q1", "2026-Q2"],
         "measure": ["new_logo", "new_logo", "new_logo"], "quota": ["150000", "1", "150 000,00"]},
        dtype="str",
    )  # fmt: skip
    result = validate_table("quotas", frame, TABLES["quota"])
    assert [(e.row, e.message) for e in result.errors] == [
        (1, "duplicate key rep_id='R1', period='2026-Q1', measure='new_logo' (also on row 2)"),
        (2, "duplicate key rep_id='R1', period='2026-Q1', measure='new_logo' (also on row 1)"),
    ]  # an in-memory frame with the default index is numbered from 1
    assert result.valid["quota__cents"].tolist() == [15_000_000]


def test_several_errors_on_one_row_count_one_rejected_row() -> None:
    frame = _deals([{"id": "D1", "status": "x", "amount": "y", "contacts": "z"},
                    {"id": "D2", "status": "won", "amount": "1", "contacts": "1"}])  # fmt: skip
    result = validate_table("deals", frame, DEAL)
    assert len(result.errors) == 3
    assert (result.rows_in, result.rows_out, result.rows_rejected) == (2, 1, 1)
    _check_counts(result)


def test_repeated_column_in_memory_is_a_table_error() -> None:
    frame = pd.DataFrame([["D1", "won", "x"]], columns=["id", "status", "id"], dtype="str")
    result = validate_table("deals", frame, DEAL)
    assert list(result.errors) == [RowError("deals", None, "id", None, "column 'id' appears twice")]
    assert (result.rows_in, result.rows_out, result.rows_rejected) == (1, 0, 1)


def test_typed_in_memory_frame_is_accepted() -> None:
    frame = pd.DataFrame(
        {
            "id": ["D1", "D2"],
            "status": ["won", "open"],
            "amount": [1234.5, np.nan],
            "contacts": pd.array([3, None], dtype="Int64"),
            "close_date": pd.to_datetime(["2026-03-31", None]),
        }
    )
    result = validate_table("deal", frame, DEAL)
    assert result.errors == ()
    assert result.valid["amount__cents"].tolist() == [123_450, pd.NA]
    assert result.valid["contacts"].tolist() == [3, pd.NA]
    assert result.valid["close_date"].tolist()[0] == pd.Timestamp("2026-03-31")


@settings(max_examples=200, deadline=None)
@given(
    cents=st.lists(st.integers(min_value=-(10**12), max_value=10**12), min_size=1, max_size=20),
    style=st.sampled_from(
        ["plain", "french", "english", "euro", "german", "french_euro", "swiss_code"]
    ),
)
def test_vectorized_money_matches_the_exact_parser(cents: list[int], style: str) -> None:
    def written(value: int) -> str:
        amount = Decimal(value).scaleb(-2)
        sign = "-" if value < 0 else ""
        whole, fraction = f"{abs(amount):.2f}".split(".")
        grouped = f"{int(whole):,}"
        french = grouped.replace(",", NBSP)
        swiss = grouped.replace(",", "'")
        return {
            "plain": f"{amount:.2f}",
            "french": f"{sign}{french},{fraction}",
            "english": f"{sign}{grouped}.{fraction}",
            "euro": f"{sign}€{grouped}.{fraction}",
            "german": f"{sign}{grouped.replace(',', '.')},{fraction}",
            "french_euro": f"{sign}{french},{fraction}{NBSP}€",
            "swiss_code": f"CHF {sign}{swiss}.{fraction}",
        }[style]

    frame = pd.DataFrame({"id": [f"D{i}" for i in range(len(cents))], "status": "won",
                          "amount": [written(c) for c in cents]}, dtype="str")  # fmt: skip
    result = validate_table("deals", frame, DEAL)
    assert result.errors == ()
    assert result.valid["amount__cents"].tolist() == cents
    assert result.valid["amount"].tolist() == [Decimal(c).scaleb(-2) for c in cents]


# ---------------------------------------------------------------------------------------------
# Fast paths: a column of few distinct values is checked once per value, plain numbers are cast
# in one call, sorted keys are compared without hashing. Each must agree with the careful path.

CELLS = ("", "  ", "D1", " D1", "D1 ", "d1", "D2", f"D2{NBSP}", "\tD3", "Café", "é", "0", "1",
         "+7", "007", "-3", "2,5", "1,234", "1.230", "0.120", "1234.560", "12.3400", "1 234,50",
         "1.234.567", "99999999999999", "1e3", "15%", "12,5 %", "true", "FALSE", "oui", "Non",
         "yes", "2026-02-28", "2026-02-30", "31/01/2026", "2026-01-05T10:30:00Z", "0202-01-05",
         "new_logo", "upsell", "Upsell", "€12.30")  # fmt: skip
KINDS = ("text", "one_of", "boolean", "integer", "number", "percent", "money", "date")


@settings(max_examples=300, deadline=None)
@given(
    ids=st.lists(st.sampled_from(["D1", "D2", " D2", "D3", ""]), min_size=1, max_size=12),
    cells=st.lists(st.sampled_from(CELLS) | st.none(), min_size=12, max_size=12),
    kind=st.sampled_from(KINDS),
    required=st.booleans(),
)
def test_few_distinct_values_give_the_results_of_every_cell(
    ids: list[str], cells: list[str | None], kind: str, required: bool
) -> None:
    options = ("new_logo", "upsell", "renewal") if kind == "one_of" else ()
    columns = (Column("id", "text", required=True), Column("value", kind, required, options))
    frame = pd.DataFrame({"id": ids, "value": cells[: len(ids)]}, dtype="str")
    frame.index = pd.RangeIndex(2, len(ids) + 2)
    results = []
    for coded in (False, True):
        with patch("engine.data.read._few_distinct", lambda array, coded=coded: coded):
            results.append(validate_table("deals", frame, columns, {"id": ("D1", "D2")}))
    cell_by_cell, by_value = results
    assert by_value.errors == cell_by_cell.errors
    assert by_value.rejected == cell_by_cell.rejected
    pd.testing.assert_frame_equal(by_value.valid, cell_by_cell.valid)
    assert cell_by_cell.codes == {}
    for name, (codes, distinct) in by_value.codes.items():
        decoded = [distinct[code] if code >= 0 else None for code in codes.tolist()]
        text = by_value.valid[name]
        assert decoded == text.astype(object).where(text.notna(), None).tolist()


@settings(max_examples=300, deadline=None)
@given(st.lists(st.text("0123456789.,+- €'", min_size=1, max_size=10), min_size=1, max_size=30))
def test_plain_amounts_cast_at_once_agree_with_the_exact_parser(cells: list[str]) -> None:
    frame = pd.DataFrame({"id": [f"D{i}" for i in range(len(cells))], "status": "won",
                          "amount": cells}, dtype="str")  # fmt: skip
    result = validate_table("deals", frame, DEAL)
    messages = {error.row: error.message for error in result.errors}
    cents = dict(zip(result.valid.index + 1, result.valid["amount__cents"], strict=True))
    for row, cell in enumerate(cells, start=1):
        text = cell.strip()
        if not text:
            assert row in cents and cents[row] is pd.NA
            continue
        try:
            exact = parse_money(text) * 100
        except ValueError as error:
            assert messages[row] == str(error)
            continue
        if exact != exact.to_integral_value():
            assert messages[row] == (
                f"{text!r} has more than two decimals (amounts are kept to the cent)"
            )
        elif abs(exact) >= 10**15:
            assert messages[row] == f"{text!r} is too large for an amount"
        else:
            assert cents[row] == int(exact)


def test_columns_checked_on_threads_give_the_results_of_one_thread() -> None:
    rng = np.random.default_rng(3)
    n = 3_000
    frame = pd.DataFrame(
        {"id": [f"D{i}" for i in range(n)] , "status": rng.choice(["won", "lost", "wn", ""], n),
         "amount": rng.choice(["10", "1,234", "12.5", "abc", ""], n),
         "close_date": rng.choice(["2026-01-05", "31/02/2026", ""], n),
         "contacts": rng.choice(["1", "2", "x"], n), "type": rng.choice(["upsell", "upsel"], n)},
        dtype="str",
    )  # fmt: skip
    one = validate_table("deals", frame, DEAL)
    with patch("engine.data.validate._THREADED_CELLS", 0):
        threads = validate_table("deals", frame, DEAL)
    assert len(one.errors) > n and threads.errors == one.errors
    assert threads.rejected == one.rejected
    pd.testing.assert_frame_equal(threads.valid, one.valid)


def test_text_is_stripped_whatever_the_edges_and_slices() -> None:
    cells = ["Dupont", " Acme", f"Zeta{NBSP}", "Café", "\tx\n", "", "   ", None, "é", "a b"]
    frame = pd.DataFrame({"id": [f"D{i}" for i in range(10)], "status": "won", "account": cells},
                         dtype="str")  # fmt: skip
    expected = ["Dupont", "Acme", "Zeta", "Café", "x", None, None, None, "é", "a b"]
    for start in (0, 3):  # a slice of a frame starts inside its Arrow buffers
        valid = validate_table("deals", frame.iloc[start:], DEAL).valid
        account = valid["account"].astype(object).where(valid["account"].notna(), None)
        assert account.tolist() == expected[start:]
    clean = frame.iloc[:1]
    assert validate_table("deals", clean, DEAL).valid["account"].tolist() == ["Dupont"]
    # A CSV is read in chunks: the same cells in three Arrow chunks give the same text.
    chunks = pa.chunked_array([cells[:4], cells[4:7], cells[7:]], type=pa.large_string())
    chunked = frame.assign(account=pd.Series(pd.array(chunks, dtype="str"), index=frame.index))
    account = validate_table("deals", chunked, DEAL).valid["account"]
    assert account.astype(object).where(account.notna(), None).tolist() == expected


def test_sorted_keys_find_the_duplicates_that_unsorted_keys_do() -> None:
    rows = [{"id": i, "status": "won"} for i in ("D1", "D2", "D2", "D3", "D4", "D4", "D4")]
    sorted_errors = validate_table("deals", _deals(rows), DEAL).errors
    assert [(e.row, e.message) for e in sorted_errors] == [
        (3, "duplicate id 'D2' (also on row 4)"),
        (4, "duplicate id 'D2' (also on row 3)"),
        (6, "duplicate id 'D4' (also on rows 7, 8)"),
        (7, "duplicate id 'D4' (also on rows 6, 8)"),
        (8, "duplicate id 'D4' (also on rows 6, 7)"),
    ]
    shuffled = _deals([rows[i] for i in (4, 1, 0, 5, 2, 6, 3)])
    assert [(e.row, e.message) for e in validate_table("deals", shuffled, DEAL).errors] == [
        (2, "duplicate id 'D4' (also on rows 5, 7)"),
        (3, "duplicate id 'D2' (also on row 6)"),
        (5, "duplicate id 'D4' (also on rows 2, 7)"),
        (6, "duplicate id 'D2' (also on row 3)"),
        (7, "duplicate id 'D4' (also on rows 2, 5)"),
    ]


def test_stage_event_key_counts_stripped_cells_as_equal() -> None:
    frame = pd.DataFrame(
        {"deal_id": ["D1", "D1", " D1", "D2"] * 50,
         "stage": ["demo", "proposal", "demo ", "demo"] * 50,
         "entered_at": ["2026-01-05", "2026-01-09", "2026-01-05", "2026-01-05"] * 50},
        dtype="str",
    )  # fmt: skip
    result = validate_table("stage_events", frame, TABLES["stage_event"])
    assert result.rows_out == 0 and len(result.errors) == 200
    assert result.errors[0] == RowError(
        "stage_events", 1, "deal_id", "D1",
        "duplicate key deal_id='D1', stage='demo', entered_at='2026-01-05' (also on rows 3, 5, "
        "7, 9, 11 and 94 more)",
    )  # fmt: skip


# ---------------------------------------------------------------------------------------------
# Mappings and finding files


def test_maven_export_is_read_mapped_and_validated_with_its_quirks(tmp_path: Path) -> None:
    mapping = _write(tmp_path / "mapping.yaml", MAVEN_MAPPING)
    frames = load_inputs(MAVEN, mapping)
    assert sorted(frames) == ["deals", "reps", "territories"]
    reps = validate_table("reps", frames["reps"], TABLES["rep"])
    assert (reps.rows_in, reps.rows_out, reps.errors) == (35, 35, ())
    assert reps.valid.loc[2, ["id", "name", "territory", "team"]].tolist() == [
        "Anna Snelling", "Anna Snelling", "Central", "Dustin Brinkmann"
    ]  # fmt: skip
    territories = validate_table("territories", frames["territories"], TABLES["territory"])
    assert territories.valid["id"].tolist() == ["Central", "East", "West"]
    assert territories.valid["potential"].tolist() == [1.0, 1.0, 1.0]

    deals = validate_table(
        "deals",
        frames["deals"],
        DEAL,
        {"stage": ("prospecting", "engaging"), "rep_id": tuple(reps.valid["id"])},
    )
    assert deals.errors == ()
    assert (deals.rows_in, deals.rows_out, deals.rows_rejected) == (8800, 8800, 0)
    valid = deals.valid
    assert valid["status"].value_counts().to_dict() == {"won": 4238, "lost": 2473, "open": 2089}
    assert valid["stage"].value_counts().to_dict() == {"engaging": 8300, "prospecting": 500}
    # Open deals have no close date nor value: they stay, with missing values.
    open_deals = valid[valid["status"] == "open"]
    assert open_deals["amount"].isna().all() and open_deals["close_date"].isna().all()
    prospecting = valid[valid["stage"] == "prospecting"]
    assert prospecting["created_at"].isna().all()
    # Lost deals carry a close value of 0; the misspelt product passes through untouched.
    assert set(valid.loc[valid["status"] == "lost", "amount__cents"]) == {0}
    assert "GTXPro" in set(valid["product"])
    first = valid.loc[2]
    assert (first["id"], first["rep_id"], first["amount"]) == ("1C1I7A6R", "Moses Frase",
                                                               Decimal("1054.00"))  # fmt: skip
    assert first["created_at"] == pd.Timestamp("2016-10-20")
    assert first["close_date"] == pd.Timestamp("2017-03-01")


SALESFORCE_CSV = """\
Id,OwnerId,AccountId,Type,StageName,Amount,CloseDate,IsWon,IsClosed,CreatedDate
0061,0051,0011,New Business,Prospecting,"50,000.00",2026-03-31,false,false,2026-01-05T09:12:00.000Z
0062,0051,0012,Existing Business,Closed Won,1200.5,2026-02-28,true,true,2026-01-07T10:00:00.000Z
0063,0052,0013,Renewal,Closed Lost,800,2026-02-15,false,true,2026-01-09T10:00:00.000Z
0064,0052,0014,Upgrade,Needs Analysis,900,2026-04-15,false,false,2026-01-10T10:00:00.000Z
"""


def test_salesforce_preset(tmp_path: Path) -> None:
    data = tmp_path / "export"
    data.mkdir()
    _write(data / "Opportunities.csv", SALESFORCE_CSV)
    mapping = _write(
        tmp_path / "mapping.yaml",
        "preset: salesforce\n"
        "tables:\n"
        "  deals:\n"
        "    file: Opportunities.csv\n"
        "    values:\n"
        "      stage: {Prospecting: detection, Needs Analysis: discovery}\n",
    )
    frames = load_inputs(data, mapping)
    result = validate_table("deals", frames["deals"], DEAL)
    assert list(result.errors) == [
        RowError(
            "deals", 5, "type", "Upgrade", "'Upgrade' is not one of new_logo, upsell, renewal"
        ),
    ]
    valid = result.valid
    assert valid["id"].tolist() == ["0061", "0062", "0063"]
    assert valid["status"].tolist() == ["open", "won", "lost"]
    assert valid["type"].tolist() == ["new_logo", "upsell", "renewal"]
    assert valid["stage"].tolist() == ["detection", "Closed Won", "Closed Lost"]
    assert valid["amount__cents"].tolist() == [5_000_000, 120_050, 80_000]
    assert valid["created_at"].tolist()[0] == pd.Timestamp("2026-01-05")
    assert valid["IsWon"].tolist() == ["false", "true", "false"]  # unmapped columns pass through


def test_salesforce_status_falls_back_to_closed_stage_names() -> None:
    frame = pd.DataFrame(
        {"Id": ["1", "2", "3"], "StageName": ["Closed Won", "Closed Lost", "Prospecting"],
         "IsClosed": ["true", "true", "false"]},
        dtype="str",
    )  # fmt: skip
    preset = Path(__file__).resolve().parents[2] / "engine" / "presets" / "salesforce.yaml"
    mapped = apply_mapping({"deals": frame}, load_mapping(preset))["deals"]
    # Without IsWon a closed deal is never guessed lost from IsClosed: the stage name decides.
    assert mapped["status"].tolist() == ["won", "lost", "open"]


def test_hubspot_preset(tmp_path: Path) -> None:
    _write(
        tmp_path / "deals.csv",
        "hs_object_id,hubspot_owner_id,dealstage,amount,closedate,dealtype,createdate\n"
        "101,7,closedwon,1000,2026-02-01,newbusiness,2026-01-01\n"
        "102,7,closedlost,2000,2026-02-02,existingbusiness,2026-01-02\n"
        "103,8,appointmentscheduled,,2026-05-01,,2026-01-03\n",
    )
    mapping = _write(tmp_path / "mapping.yaml", "preset: hubspot\n")
    frames = load_inputs(tmp_path, mapping)
    result = validate_table("deals", frames["deals"], DEAL)
    assert result.errors == ()
    assert result.valid["status"].tolist() == ["won", "lost", "open"]
    assert result.valid["type"].tolist()[:2] == ["new_logo", "upsell"]
    assert result.valid["rep_id"].tolist() == ["7", "7", "8"]


def test_mapping_defaults_fill_empty_cells_and_absent_columns() -> None:
    frame = pd.DataFrame({"id": ["1", "2"], "kind": ["upsell", None]}, dtype="str")
    table = TableMapping(
        columns=(("kind", ("type",)),), defaults={"type": "new_logo", "status": "open"}
    )
    mapped = apply_mapping({"deals": frame}, CrmMapping(tables={"deals": table}))["deals"]
    assert mapped["type"].tolist() == ["upsell", "new_logo"]
    assert mapped["status"].tolist() == ["open", "open"]


def test_untranslated_values_pass_through_to_validation(tmp_path: Path) -> None:
    _write(tmp_path / "deals.csv", "id,state\nD1,Won\nD2,Gagné\n")
    mapping = _write(
        tmp_path / "m.yaml",
        "tables:\n  deals:\n    columns: {state: status}\n    values:\n      status: {Won: won}\n",
    )
    result = validate_table("deals", load_inputs(tmp_path, mapping)["deals"], DEAL)
    assert list(result.errors) == [
        RowError("deals", 3, "status", "Gagné", "'Gagné' is not one of open, won, lost"),
    ]


@pytest.mark.parametrize(
    ("text", "messages"),
    [
        (
            "tables:\n  deals:\n    colums: {Id: id}\n",
            ["m.yaml:3:5: tables.deals.colums: unknown key 'colums'; did you mean 'columns'?"],
        ),
        (
            "tables:\n  deal:\n    file: x.csv\n",
            ["m.yaml:2:3: tables.deal: unknown table 'deal' (expected one of leads, deals, "
             "stage_events, reps, quotas, territories, quota_relief, cancellations); did you "
             "mean 'deals'?"],
        ),
        (
            "preset: salesforse\n",
            ["m.yaml:1:1: preset: 'salesforse' is not one of salesforce, hubspot; did you mean "
             "'salesforce'?"],
        ),
        (
            "tables:\n  deals:\n    columns:\n      Id: id\n      Stage: 5\n"
            "      Owner: [rep id]\n",
            ["m.yaml:5:7: tables.deals.columns.Stage: 5 is not valid here: One canonical column, "
             "or several filled from the same source.",
             "m.yaml:6:15: tables.deals.columns.Owner.0: 'rep id' is not a column name (letters, "
             "digits and _, not starting with a digit)"],
        ),
        (
            "tables:\n  reps:\n    file: a.csv\n    from: deals\n",
            ["m.yaml:2:3: tables.reps: give either `file` or `from`, not both"],
        ),
        (
            "tables:\n  deals:\n    derive:\n      status:\n        - when: {IsWon: true}\n",
            ["m.yaml:5:11: tables.deals.derive.status.0: 'then' is a required property"],
        ),
        (
            "tables: [deals]\n",
            ["m.yaml:1:1: tables: expected a mapping (key: value)"],
        ),
        (
            "tables:\n  deals:\n    columns: {Id: id\n",
            ["m.yaml:4:1: not valid YAML: expected ',' or '}', but got '<stream end>'"],
        ),
    ],
)  # fmt: skip
def test_mapping_errors_are_located(tmp_path: Path, text: str, messages: list[str]) -> None:
    path = _write(tmp_path / "m.yaml", text)
    with pytest.raises(MappingError) as info:
        load_mapping(path)
    prefix = f"{tmp_path}/"
    assert [m.removeprefix(prefix) for m in info.value.messages] == messages


def test_load_inputs_finds_canonical_files_by_name(tmp_path: Path) -> None:
    _write(tmp_path / "Deals.CSV", "id,status\nD1,won\n")
    _write(tmp_path / "reps.json", '[{"id": "R1"}]')
    _write(tmp_path / "notes.txt", "ignored")
    events = tmp_path / "elsewhere.csv"
    _write(events, "deal_id,stage,entered_at\nD1,demo,2026-01-01\n")
    frames = load_inputs(tmp_path, overrides={"stage-events": events})
    assert sorted(frames) == ["deals", "reps", "stage_events"]
    assert frames["deals"].index.tolist() == [2]
    assert frames["reps"].index.tolist() == [1]


def test_load_inputs_refuses_two_files_for_one_table(tmp_path: Path) -> None:
    _write(tmp_path / "deals.csv", "id\n")
    _write(tmp_path / "deals.json", "[]")
    with pytest.raises(DataError) as info:
        load_inputs(tmp_path)
    assert info.value.reason == "both deals.csv and deals.json found for deals: keep one"


def test_load_inputs_rejects_unknown_override(tmp_path: Path) -> None:
    with pytest.raises(DataError) as info:
        load_inputs(tmp_path, overrides={"deal": tmp_path / "x.csv", "stagevents": "y.csv"})
    assert info.value.reason == (
        "unknown input table 'stagevents' (expected one of leads, deals, stage_events, reps, "
        "quotas, territories, quota_relief, cancellations); did you mean 'stage_events'?"
    )


def test_load_inputs_reports_a_missing_mapped_file(tmp_path: Path) -> None:
    mapping = _write(tmp_path / "m.yaml", "tables:\n  deals:\n    file: pipeline.csv\n")
    with pytest.raises(DataError) as info:
        load_inputs(tmp_path, mapping)
    assert (
        str(info.value)
        == f"{tmp_path / 'pipeline.csv'}: file named by the mapping for deals not found"
    )
