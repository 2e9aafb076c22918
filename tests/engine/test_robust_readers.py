"""Readers that lost rows or values without a word (issue 15): XLSX by content not by declared
size, formulas without a value, repeated JSON keys, mappings that drop a column or a table,
mixed encodings, YAML alias bombs, fixture limits, CR-only line endings, typed decimals."""

from __future__ import annotations

import re
import shutil
import time
import zipfile
from decimal import Decimal
from pathlib import Path

import openpyxl
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import engine
from dsl.source import SourceFile
from engine.data import DataError, MappingError, load_mapping, read_records, read_table
from engine.testing import load_fixture, run

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def contech() -> engine.Program:
    return engine.load(ROOT / "rulesets" / "contech-saas")


def cells(frame: pd.DataFrame) -> list[list[str | None]]:
    return [[None if pd.isna(v) else str(v) for v in row] for row in frame.itertuples(index=False)]


# ============================================================================ 1. XLSX by content
def xlsx(path: Path, rows: list[list[object]], patch: dict[str, str] | None = None) -> Path:
    """An XLSX file of `rows`, its sheet XML rewritten by `patch` (regex -> replacement)."""
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    for row in rows:
        sheet.append(row)
    workbook.save(path)
    if patch:
        with zipfile.ZipFile(path) as source:
            members = {name: source.read(name) for name in source.namelist()}
        xml = members["xl/worksheets/sheet1.xml"].decode()
        for pattern, replacement in patch.items():
            xml, count = re.subn(pattern, replacement, xml)
            assert count, pattern
        members["xl/worksheets/sheet1.xml"] = xml.encode()
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as target:
            for name, data in members.items():
                target.writestr(name, data)
    return path


DEALS = [["id", "amount", "status"], ["D1", 100, "open"], ["D2", 200, "won"], ["D3", 300, "lost"]]


@pytest.mark.parametrize("declared", ["A1:B2", "A1", "A1:A1", "B2:C3"])
def test_xlsx_reads_rows_and_columns_beyond_the_declared_dimension(
    tmp_path: Path, declared: str
) -> None:
    path = xlsx(
        tmp_path / "deals.xlsx",
        DEALS,
        {r'<dimension ref="[^"]*" />': f'<dimension ref="{declared}"/>'},
    )
    frame = read_table(path)
    assert list(frame.columns) == ["id", "amount", "status"]
    assert frame.index.tolist() == [2, 3, 4]
    assert cells(frame) == [["D1", "100", "open"], ["D2", "200", "won"], ["D3", "300", "lost"]]


def test_xlsx_without_dimension_or_row_numbers_is_read_whole(tmp_path: Path) -> None:
    path = xlsx(
        tmp_path / "deals.xlsx",
        DEALS,
        {r'<dimension ref="[^"]*" />': "", r' r="[A-Z]+\d+"': "", r'<row r="\d+"': "<row"},
    )
    assert cells(read_table(path)) == cells(pd.DataFrame(DEALS[1:], dtype="str"))


def test_xlsx_declaring_the_largest_sheet_reads_its_content_quickly(tmp_path: Path) -> None:
    path = xlsx(
        tmp_path / "deals.xlsx",
        DEALS,
        {r'<dimension ref="[^"]*" />': '<dimension ref="A1:XFD1048576"/>'},
    )
    assert path.stat().st_size < 10_000
    start = time.perf_counter()
    frame = read_table(path)
    assert time.perf_counter() - start < 5
    assert cells(frame) == [["D1", "100", "open"], ["D2", "200", "won"], ["D3", "300", "lost"]]


def test_xlsx_spanning_more_cells_than_the_limit_is_refused(tmp_path: Path) -> None:
    far = '<row r="1048576"><c r="XFD1048576" t="inlineStr"><is><t>x</t></is></c></row></sheetData>'
    path = xlsx(tmp_path / "deals.xlsx", DEALS, {"</sheetData>": far})
    with pytest.raises(DataError) as caught:
        read_table(path)
    assert caught.value.reason == (
        "the first sheet spans more than 50,000,000 cells (row 1,048,576, 16,384 columns): "
        "keep only the table in the sheet"
    )


# ============================================================================ 2. formulas
FORMULA = "formula without a computed value: open and save the file in Excel"


def test_xlsx_formula_without_a_cached_value_is_a_row_error(
    tmp_path: Path, contech: engine.Program
) -> None:
    rows: list[list[object]] = [*DEALS, ["D4", "=B2*2", "open"]]
    path = xlsx(tmp_path / "deals.xlsx", rows)  # openpyxl writes formulas without a value
    frame = read_table(path)
    results = contech.evaluate(deals=frame)
    errors = results.errors[["table", "row", "column", "message"]].values.tolist()
    assert errors == [["deals", 5, "amount", FORMULA]]
    counts = results.counts["deals"]
    assert (counts.rows_in, counts.rows_out, counts.rejected) == (4, 3, 1)


def test_xlsx_formula_with_a_cached_value_reads_its_value(tmp_path: Path) -> None:
    path = xlsx(
        tmp_path / "deals.xlsx",
        [[*DEALS[0]], ["D1", "=1+1", "open"]],
        {r"<f>1\+1</f><v />": "<f>1+1</f><v>2</v>"},
    )
    assert cells(read_table(path)) == [["D1", "2", "open"]]


def test_xlsx_formula_row_error_keeps_its_mapped_column_name(tmp_path: Path) -> None:
    rows: list[list[object]] = [["Id", "Amount", "Status"], ["D1", "=1+1", "open"]]
    xlsx(tmp_path / "export.xlsx", rows)
    mapping = tmp_path / "mapping.yaml"
    mapping.write_text(
        "tables:\n  deals:\n    file: export.xlsx\n"
        "    columns: {Id: id, Amount: amount, Status: status}\n",
        encoding="utf-8",
    )
    frames = engine.data.load_inputs(tmp_path, mapping)
    results = engine.load(ROOT / "rulesets" / "contech-saas").evaluate(deals=frames["deals"])
    assert results.errors[["row", "column", "message"]].values.tolist() == [[2, "amount", FORMULA]]
    assert results.counts["deals"].rejected == 1


def test_xlsx_formula_in_the_header_is_refused(tmp_path: Path) -> None:
    path = xlsx(tmp_path / "deals.xlsx", [["id", "=1+1"], ["D1", 3]])
    with pytest.raises(DataError, match=f"the header row has a {FORMULA}"):
        read_table(path)


# ============================================================================ 3. JSON keys
@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ('[{"id": "D1", "amount": 1, "amount": 2}]', "record 1: key 'amount' appears twice"),
        ('[{"id": "D1"}, {"id": "D2", "id": "D3"}]', "record 2: key 'id' appears twice"),
        ('[{"id": "D1", "x": "", "x": ""}]', "record 1: key 'x' appears twice"),
    ],
)
def test_json_record_with_a_repeated_key_is_refused(tmp_path: Path, text: str, reason: str) -> None:
    path = tmp_path / "deals.json"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(DataError) as caught:
        read_table(path)
    assert caught.value.reason == reason


def test_read_records_keeps_its_signature() -> None:
    frame = read_records([{"id": "D1", "amount": "1.5"}], "deals")
    assert cells(frame) == [["D1", "1.5"]]


# ============================================================================ 4. mappings
def mapping_error(tmp_path: Path, text: str) -> list[str]:
    path = tmp_path / "mapping.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(MappingError) as caught:
        load_mapping(path)
    return [message.removeprefix(f"{path}:") for message in caught.value.messages]


def test_mapping_with_two_sources_for_one_column_is_refused(tmp_path: Path) -> None:
    text = """\
tables:
  deals:
    columns:
      Amount: amount
      Id: id
      Total: [total, amount]
"""
    assert mapping_error(tmp_path, text) == [
        "6:7: tables.deals.columns.Total: 'Amount' and 'Total' both feed column 'amount': keep one"
    ]


def test_mapping_with_a_key_written_twice_is_refused(tmp_path: Path) -> None:
    text = "tables:\n  deals:\n    columns:\n      Amount: amount\n      Amount: total\n"
    assert mapping_error(tmp_path, text) == [
        "5:7: key 'Amount' appears twice in this mapping (only the last would be kept)"
    ]


def test_mapping_building_a_table_from_itself_is_refused(tmp_path: Path) -> None:
    text = "tables:\n  reps:\n    from: reps\n    columns: {owner: id}\n"
    assert mapping_error(tmp_path, text) == [
        "3:5: tables.reps.from: table 'reps' is built from itself"
    ]


def test_mapping_building_tables_from_each_other_is_refused(tmp_path: Path) -> None:
    text = """\
tables:
  reps:
    from: territories
  territories:
    from: quotas
  quotas:
    from: reps
"""
    assert mapping_error(tmp_path, text) == [
        "3:5: tables.reps.from: table 'reps' is built in a circle "
        "(reps <- territories <- quotas <- reps)",
        "5:5: tables.territories.from: table 'territories' is built in a circle "
        "(territories <- quotas <- reps <- territories)",
        "7:5: tables.quotas.from: table 'quotas' is built in a circle "
        "(quotas <- reps <- territories <- quotas)",
    ]


def test_mapping_builds_a_chain_of_tables_in_any_order(tmp_path: Path) -> None:
    (tmp_path / "deals.csv").write_text("id,owner,team\nD1,A1,T1\nD2,A2,T1\n", encoding="utf-8")
    path = tmp_path / "mapping.yaml"
    path.write_text(
        "tables:\n"
        "  territories:\n    from: reps\n    columns: {territory: id}\n"
        "  reps:\n    from: deals\n    columns: {owner: id, team: territory}\n",
        encoding="utf-8",
    )
    frames = engine.data.load_inputs(tmp_path, path)
    assert cells(frames["reps"]) == [["A1", "T1"], ["A2", "T1"]]
    assert cells(frames["territories"]) == [["T1"]]


def test_a_client_column_takes_over_the_preset_source_of_the_same_column(tmp_path: Path) -> None:
    path = tmp_path / "mapping.yaml"
    path.write_text("preset: hubspot\ntables:\n  deals:\n    columns: {amount_eur: amount}\n")
    columns = dict(load_mapping(path).tables["deals"].columns)
    assert columns["amount_eur"] == ("amount",)
    assert "amount" not in columns  # HubSpot's own `amount` no longer feeds it


# ============================================================================ 5. encodings
def test_a_cp1252_line_in_a_utf8_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "deals.csv"
    path.write_bytes("id;name\nD1;Dé1\nD2;Dé2\n".encode() + "D3;Dé3\n".encode("cp1252"))
    with pytest.raises(DataError) as caught:
        read_table(path)
    assert caught.value.reason == (
        "line 4 is not UTF-8 while the rest of the file is (line 2 is): retype that line's "
        "accents, or save the file again as CSV UTF-8"
    )


def test_a_utf8_line_in_a_cp1252_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "deals.csv"
    lines = ["id;name\r\n", "D1;Dé1\r\n", "D2;été\r\n", "D3;Noël\r\n"]
    path.write_bytes(b"".join(line.encode("cp1252") for line in lines) + "D4;Dé4\r\n".encode())
    with pytest.raises(DataError) as caught:
        read_table(path)
    assert caught.value.reason.startswith("line 5 is UTF-8 while the rest of the file is not")


def test_a_cp1252_line_after_a_utf8_byte_order_mark_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "deals.csv"
    path.write_bytes("\ufeffid;name\rD1;Dé1\r".encode() + "D2;Dé2\r".encode("cp1252"))
    with pytest.raises(DataError) as caught:
        read_table(path)
    assert caught.value.reason.startswith("line 3 is not UTF-8 while the rest of the file is")


def test_french_excel_exports_in_cp1252_still_read(tmp_path: Path) -> None:
    path = tmp_path / "deals.csv"
    path.write_bytes("id;nom\r\nD1;Dé1\r\nD2;Noël\r\n".encode("cp1252"))
    assert cells(read_table(path)) == [["D1", "Dé1"], ["D2", "Noël"]]


# ============================================================================ 6. YAML bombs
def bomb(levels: int) -> str:
    lines = ['a0: &a0 ["x", "x", "x", "x", "x", "x", "x", "x", "x"]']
    for level in range(1, levels):
        lines.append(f"a{level}: &a{level} [{', '.join([f'*a{level - 1}'] * 9)}]")
    return "\n".join(lines) + "\n"


def test_a_yaml_alias_bomb_in_a_mapping_is_refused_quickly(tmp_path: Path) -> None:
    start = time.perf_counter()
    assert mapping_error(tmp_path, bomb(7)) == [
        "1:1: the file's aliases (*name) expand to more than 1,000,000 values"
    ]
    assert time.perf_counter() - start < 5


def test_a_yaml_file_with_too_many_aliases_is_refused(tmp_path: Path) -> None:
    text = "x: &x 1\ny: [" + ", ".join(["*x"] * 1001) + "]\n"
    messages = mapping_error(tmp_path, text)
    assert len(messages) == 1
    assert messages[0].endswith(": more than 1,000 aliases (*name) in the file")


def fixture(tmp_path: Path, text: str) -> Path:
    folder = tmp_path / "r"
    (folder / "tests").mkdir(parents=True, exist_ok=True)
    (folder / "main.krl").write_text('ruleset t "T" { currency EUR }\n', encoding="utf-8")
    path = folder / "tests" / "cases.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_a_yaml_alias_bomb_in_a_fixture_is_a_problem(tmp_path: Path) -> None:
    start = time.perf_counter()
    loaded = load_fixture(fixture(tmp_path, bomb(7) + "cases: []\n"))
    assert [(p.line, p.message) for p in loaded.problems] == [
        (1, "the file's aliases (*name) expand to more than 1,000,000 values")
    ]
    assert time.perf_counter() - start < 5


def test_yaml_anchors_used_reasonably_still_load(tmp_path: Path) -> None:
    text = """\
defaults: {lead: &base {budget: confirmed}}
cases:
  - name: one
    lead: *base
    want: {lead: {status: hot}}
"""
    loaded = load_fixture(fixture(tmp_path, text))
    assert loaded.problems == ()
    assert loaded.cases[0].inputs["leads"] == ({"budget": "confirmed", "id": "L1"},)


# ============================================================================ 7. fixtures
@pytest.mark.parametrize("count", [100_001, 100_000_000])
def test_a_huge_repeat_is_a_fixture_problem(tmp_path: Path, count: int) -> None:
    text = f"cases:\n  - name: many\n    leads: [{{id: L, _repeat: {count}}}]\n    want: {{}}\n"
    loaded = load_fixture(fixture(tmp_path, text.replace("want: {}", "want: {leads: []}")))
    assert [(p.line, p.message) for p in loaded.problems] == [
        (
            2,
            f"the case holds more than 100,000 records (_repeat: {count:,}); "
            "give a large table as a file",
        )
    ]
    assert loaded.cases == ()


def test_repeats_add_up_across_the_records_of_a_case(tmp_path: Path) -> None:
    text = (
        "cases:\n  - name: many\n"
        "    leads: [{id: A, _repeat: 60000}, {id: B, _repeat: 50000}]\n"
        "    want: {leads: []}\n"
    )
    loaded = load_fixture(fixture(tmp_path, text))
    assert [p.message for p in loaded.problems] == [
        "the case holds more than 100,000 records (_repeat: 50,000); give a large table as a file"
    ]


@pytest.mark.parametrize("target", ["secret.txt", "secrets", "."])
def test_a_fixture_ruleset_must_be_a_ruleset_and_is_never_echoed(
    tmp_path: Path, target: str
) -> None:
    secrets = tmp_path / "r" / "tests" / "secrets"
    secrets.mkdir(parents=True)
    (secrets / "key.txt").write_text("TOP SECRET\n", encoding="utf-8")
    (tmp_path / "r" / "tests" / "secret.txt").write_text("TOP SECRET\n", encoding="utf-8")
    path = fixture(
        tmp_path,
        f"ruleset: {target}\ncases:\n  - name: a\n    lead: {{}}\n    want: {{lead: {{}}}}\n",
    )
    loaded = load_fixture(path)
    assert [(p.line, p.message) for p in loaded.problems] == [
        (1, f"ruleset: {target!r} is not a ruleset (a .krl file, or a folder holding .krl files)")
    ]
    report = run([path])
    assert not report.ok
    assert "TOP SECRET" not in str(report)


def test_a_fixture_ruleset_may_be_a_krl_file_or_a_ruleset_folder(tmp_path: Path) -> None:
    case = "cases:\n  - name: a\n    lead: {id: L1}\n    want: {lead: {status: hot}}\n"
    path = fixture(tmp_path, f"ruleset: ../main.krl\n{case}")
    assert load_fixture(path).problems == ()
    path.write_text(f"ruleset: {ROOT / 'rulesets' / 'fintech'}\n{case}", encoding="utf-8")
    assert load_fixture(path).problems == ()


# ============================================================================ 8. CR-only files
def test_a_cr_only_source_has_its_lines() -> None:
    source = SourceFile("x.krl", "a\rbc\r\nd\re")
    assert source.text == "a\nbc\r\nd\ne"
    assert [source.position(offset) for offset in (0, 2, 3, 6, 8)] == [
        (1, 1), (2, 1), (2, 2), (3, 1), (4, 1)
    ]  # fmt: skip
    assert [source.line_text(line) for line in (1, 2, 3, 4)] == ["a", "bc", "d", "e"]


def test_a_cr_only_ruleset_loads_like_its_lf_twin(tmp_path: Path) -> None:
    text = (ROOT / "rulesets" / "contech-saas" / "main.krl").read_text(encoding="utf-8")
    for name in ("leads", "deals", "pipeline", "team", "plans"):
        text += (ROOT / "rulesets" / "contech-saas" / f"{name}.krl").read_text(encoding="utf-8")
    shutil.copytree(ROOT / "rulesets" / "house", tmp_path / "house")  # `extends "../house"`
    (tmp_path / "contech").mkdir()
    lf, cr = tmp_path / "contech" / "lf.krl", tmp_path / "contech" / "cr.krl"
    lf.write_bytes(text.encode())
    cr.write_bytes(text.replace("\n", "\r").encode())
    lead = {"id": "L1", "budget": "confirmed", "sector": "industrie", "employees": 300}
    assert engine.load(cr).evaluate_lead(lead) == engine.load(lf).evaluate_lead(lead)


def test_a_cr_only_ruleset_error_points_at_its_line(tmp_path: Path) -> None:
    path = tmp_path / "cr.krl"
    path.write_bytes(
        b'# one\rruleset t "T" { currency EUR }\r\rscore s "S" on lead max 1 {\r  x {\r'
    )
    with pytest.raises(engine.RulesetError) as caught:
        engine.load(path)
    assert caught.value.render().startswith(f"{path}:4:27: error[E105]: this `{{` is never closed")


def test_a_cr_only_csv_is_read_by_its_lines(tmp_path: Path) -> None:
    path = tmp_path / "deals.csv"
    path.write_bytes(b"id;name\rD1;a\r\rD2;b\r")
    frame = read_table(path)
    assert frame.index.tolist() == [2, 4]
    assert cells(frame) == [["D1", "a"], ["D2", "b"]]


# ============================================================================ 9. typed decimals
def test_a_parquet_decimal_is_not_ambiguous(tmp_path: Path, contech: engine.Program) -> None:
    values = [Decimal("1.100"), Decimal("2.000"), Decimal("1.123"), Decimal("1234.500"), None]
    path = tmp_path / "deals.parquet"
    table = pa.table(
        {
            "id": ["D1", "D2", "D3", "D4", "D5"],
            "amount": pa.array(values, type=pa.decimal128(10, 3)),
            "status": ["open"] * 5,
        }
    )
    pq.write_table(table, path)
    frame = read_table(path)
    assert frame["amount"].tolist()[:4] == ["1.10", "2.00", "1.1230", "1234.50"]
    inputs = contech.validate(deals=frame)
    # A typed 1.123 is a sub-cent amount, said as such; none is "ambiguous".
    assert [(e.row, e.message) for e in inputs.errors] == [
        (3, "'1.1230' has more than two decimals (amounts are kept to the cent)")
    ]
    assert inputs.valid["deals"]["amount__cents"].tolist()[:3] == [110, 200, 123450]


def test_a_parquet_decimal_in_scientific_range_is_plain_text(tmp_path: Path) -> None:
    path = tmp_path / "deals.parquet"
    values = [Decimal("0.0000001000"), Decimal("12.5000000000")]
    pq.write_table(pa.table({"x": pa.array(values, type=pa.decimal128(38, 10))}), path)
    assert read_table(path)["x"].tolist() == ["0.0000001", "12.50"]


def test_python_decimals_in_a_dataframe_are_not_ambiguous(contech: engine.Program) -> None:
    deals = pd.DataFrame(
        {
            "id": ["D1", "D2", "D3"],
            "amount": [Decimal("1.100"), Decimal("6E+4"), "2.5"],
            "status": ["open", "won", "open"],
        }
    )
    inputs = contech.validate(deals=deals)
    assert inputs.errors == ()
    assert inputs.valid["deals"]["amount__cents"].tolist() == [110, 6_000_000, 250]


# ----------------------------------------------------------------------------- time of day
@pytest.mark.parametrize(
    "cell",
    ["2026-02-01 25:99", "2026-02-01 24:00", "2026-02-01T10:60", "2026-02-01 99:99:99+99:99",
     "2026-02-01T10:00+15:00", "01/02/2026 25:99", "01/02/2026 12:75"],
)  # fmt: skip
def test_a_date_with_an_impossible_time_is_an_error_on_both_paths(cell: str) -> None:
    program = engine.load(ROOT / "rulesets" / "fintech")
    deals = pd.DataFrame({"id": ["D1", "D2"], "status": "won", "amount": "100",
                          "close_date": [cell, "2026-02-01 23:59"]})  # fmt: skip
    results = program.evaluate(deals=deals)
    assert results.errors[["column", "value"]].values.tolist() == [["close_date", cell]]
    assert results.deals["id"].tolist() == ["D2"]
    record = {"id": "D1", "status": "open", "stage": "demo", "stage_entered_at": cell}
    with pytest.raises(engine.RecordError, match="not a date"):
        program.evaluate_deal(record)


@pytest.mark.parametrize(
    ("cell", "day"),
    [("2026-02-01T23:59:60Z", "2026-02-01"), ("2026-02-01 00:00:00.5+14:00", "2026-02-01"),
     ("01/02/2026 9:05", "2026-02-01"), ("28/02/2026 23:59:59", "2026-02-28")],
)  # fmt: skip
def test_a_date_with_a_possible_time_is_its_day_on_both_paths(cell: str, day: str) -> None:
    program = engine.load(ROOT / "rulesets" / "fintech")
    deals = pd.DataFrame({"id": ["D1"], "status": "won", "amount": "100", "close_date": [cell]})
    assert program.evaluate(deals=deals).errors.empty
    validated = program.validate(deals=deals).records("deals")
    assert str(validated[0]["close_date"])[:10] == day
