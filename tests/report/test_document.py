"""The rendering base: French cells, exact JSON, typed workbooks (eval's too), the excel-fr CSV
dialect, every chart kind as SVG, and HTML tables in a notebook."""

from __future__ import annotations

import csv
import datetime as dt
from decimal import Decimal
from pathlib import Path

import openpyxl
import pytest

import engine
from engine.cli.main import main
from engine.demo import demo_tables
from engine.report.charts import bins, render_svg
from engine.report.document import (
    CHART_KINDS,
    Chart,
    Column,
    Document,
    Section,
    Series,
    Table,
    show_cell,
    to_json,
)
from engine.report.html import render_html
from engine.report.xlsx import sheet_titles, write_xlsx

ROOT = Path(__file__).resolve().parents[2]
TABLE = Table(
    "t",
    "Pipeline par étape",
    (
        Column("stage", "Étape"),
        Column("n", "Deals", "int"),
        Column("amount", "Montant", "money"),
        Column("rate", "Taux", "percent"),
        Column("day", "Date", "date"),
    ),
    (
        ("détection", 1234, Decimal("1234.5"), 0.99999, dt.date(2026, 3, 31)),
        ("=HYPERLINK(1)", None, None, None, None),
    ),
)
DOC = Document(
    "Essai",
    "sous-titre",
    (
        Section(
            "S",
            ("un paragraphe",),
            (TABLE,),
            (
                Chart(
                    "c",
                    "Montants",
                    "bar",
                    (Series("m", (("a", 10.0), ("b", 20))),),
                    y_format="money",
                ),
            ),
        ),
    ),
)


def test_cells_read_in_french() -> None:
    assert show_cell(Decimal("1234567.5"), "money") == "1 234 567,50 €"
    assert show_cell(Decimal("12"), "money", "USD") == "12,00 $US"
    assert show_cell(0.99999, "percent") == "99,9 %"  # truncated, never shown as 100 %
    assert show_cell(1234, "int") == "1 234"
    assert show_cell(3.256, "ratio") == "3,26"
    assert show_cell(dt.date(2026, 3, 31), "date") == "31/03/2026"
    assert show_cell(None, "money") == "—"


def test_json_is_exact() -> None:
    rows = to_json(DOC)["sections"][0]["tables"][0]["rows"]
    assert rows[0] == {
        "stage": "détection", "n": 1234, "amount": "1234.50", "rate": 0.99999, "day": "2026-03-31",
    }  # fmt: skip
    chart = to_json(DOC)["sections"][0]["charts"][0]
    assert chart["series"][0]["points"] == [["a", "10.00"], ["b", "20.00"]]


def test_sheet_names_follow_excel_rules() -> None:
    long = "Conversion et durée par étape (équipe complète)"
    assert sheet_titles([long, long, "a/b:c", "Rapport", "rapport"]) == [
        long[:31], "Conversion et durée par éta (2)", "a-b-c", "Rapport", "rapport (2)",
    ]  # fmt: skip


def test_workbook_cells_are_typed(tmp_path: Path) -> None:
    write_xlsx(DOC, tmp_path / "d.xlsx")
    book = openpyxl.load_workbook(tmp_path / "d.xlsx")
    assert book.sheetnames == ["Rapport", "Pipeline par étape", "Graphiques"]
    sheet = book["Pipeline par étape"]
    assert sheet.freeze_panes == "A2" and sheet.auto_filter.ref == "A1:E3"
    row = [(c.value, c.number_format) for c in sheet[2]]
    assert row == [
        ("détection", "General"),
        (1234, "#,##0"),
        (1234.5, '#,##0.00\\ "€"'),
        (0.99999, "0.00%"),
        (dt.datetime(2026, 3, 31), "dd/mm/yyyy"),
    ]
    assert sheet["A3"].value == "'=HYPERLINK(1)" and sheet["A3"].data_type == "s"
    assert 8 <= sheet.column_dimensions["A"].width <= 60
    assert len(book["Graphiques"]._charts) == 1


@pytest.mark.parametrize("kind", CHART_KINDS)
def test_every_chart_kind_draws(kind: str) -> None:
    series = (Series("a", (("x", 1), ("y", 3))), Series("b", (("x", 2), ("y", 1))))
    if kind == "histogram":
        series = bins([0.5, 0.9, 1.1, 2.0], [0, 0.8, 1.0, float("inf")])
        assert [p[1] for p in series[0].points] == [1, 1, 2]
    chart = Chart(kind, "t", kind, series, reference_lines=(("Objectif", 2.0),))
    svg = render_svg(chart)
    assert svg.startswith("<svg") and svg.count("<path") > 3
    assert 'href="http' not in svg and "src=" not in svg and "url(http" not in svg


def test_eval_csv_in_the_excel_fr_dialect(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code = main(
        ["eval", str(ROOT / "rulesets" / "fintech"), "--demo", "60", "--period", "2026-Q1",
         "--format", "csv", "--csv-dialect", "excel-fr", "--out", str(tmp_path)]
    )  # fmt: skip
    capsys.readouterr()
    assert code == 0
    raw = (tmp_path / "payouts_measures.csv").read_bytes()
    assert raw.startswith("\ufeff".encode())  # the BOM French Excel needs for UTF-8
    rows = list(csv.reader(raw.decode("utf-8-sig").splitlines(), delimiter=";"))
    header = rows[0]
    assert header[:3] == ["rep_id", "plan", "period"]
    quota = rows[1][header.index("quota")]
    assert "," in quota and "." not in quota  # decimal comma, never grouped


def test_eval_workbook_types_rates_as_percents(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code = main(
        ["eval", str(ROOT / "rulesets" / "services-b2b"), "--demo", "120", "--period",
         "2026-Q1", "--format", "xlsx", "--out", str(tmp_path)]
    )  # fmt: skip
    capsys.readouterr()
    assert code == 0
    book = openpyxl.load_workbook(tmp_path / "results.xlsx")
    measures = book["payouts_measures"]
    header = [c.value for c in measures[1]]
    cell = measures.cell(row=2, column=header.index("attainment") + 1)
    assert cell.data_type == "n" and cell.number_format == "0.00%"
    assert measures.freeze_panes == "A2" and measures.auto_filter.ref
    kpis = book["kpis"]
    header = [c.value for c in kpis[1]]
    formats = {
        row[0].value: row[header.index("value")].number_format
        for row in kpis.iter_rows(min_row=2)
        if row[header.index("value")].value is not None
    }
    assert formats["demo_to_proposal"] == "0.00%"  # target >= 50%: a rate
    assert formats["revenue"] == '#,##0.00\\ "€"'
    assert book["funnel"].cell(row=2, column=3).number_format == "0.00%"


def test_notebook_html() -> None:
    program = engine.load(ROOT / "rulesets" / "fintech")
    tables, year = demo_tables(program, 30, 30, 0)
    results = program.evaluate(**tables, as_of=dt.date(year, 12, 31), period="2026-Q1")
    html = results._repr_html_()
    assert "<table" in html and "payouts" in html and "rejected" in html
    fragment = DOC._repr_html_()
    assert '<div class="koncept-report">' in fragment and "<svg" in fragment
    assert "body {" not in fragment  # the notebook's page keeps its own style
    assert "1 234,50 €" in render_html(DOC)
