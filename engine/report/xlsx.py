"""Workbooks that open right in (French) Excel: the one XLSX styling of the project.

Every sheet written here, by a report (`write_xlsx`) or by `koncept eval` (`engine.output`),
has its header on row 1, frozen, with a filter on every column and widths that fit what the
column holds; cells are typed: numbers are number cells, dates date cells, percentages
fractions with a percent format, money two places with the currency; text a spreadsheet would
run as a formula is made inert. Sheet names are unique, at most 31 characters, without the
characters Excel refuses (`[]:*?/\\`).

A report's workbook: a first sheet `Rapport` (title, subtitle, the paragraphs of each
section and the list of its tables), one sheet per table, and a sheet `Graphiques` holding the
data of each chart beside the same chart drawn as a native Excel chart (bars for bar, hbar,
stacked_bar, histogram and funnel; lines for line and step).

Sheets are written in openpyxl's write-only mode: a sheet of a million rows streams to the
file instead of living in memory.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Iterable, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

from engine.files import atomic_files
from engine.report.document import (
    Chart,
    Document,
    Table,
    currency_symbol,
    decimal_of_cell,
    show_cell,
)
from engine.report.spreadsheet import escape_formula

__all__ = [
    "SheetWriter",
    "number_format",
    "sheet_titles",
    "write_xlsx",
    "xlsx_value",
]

_FORBIDDEN = re.compile(r"[\[\]:*?/\\]")
# Characters XML 1.0 cannot hold; openpyxl refuses them, a CRM export may contain them.
_ILLEGAL_XML = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")
_MAX_TITLE = 31
_SAMPLE = 200  # rows looked at to size a column
_MIN_WIDTH, _MAX_WIDTH = 8.0, 60.0


def sheet_titles(names: Sequence[str]) -> list[str]:
    """Sheet names for these names, in order: forbidden characters replaced, at most 31
    characters, unique whatever the case (Excel's rule), `(2)`... added to a repeated one."""
    taken: set[str] = set()
    titles = []
    for name in names:
        base = _FORBIDDEN.sub("-", name).strip().strip("'") or "Feuille"
        title = base[:_MAX_TITLE]
        number = 2
        while title.lower() in taken:
            suffix = f" ({number})"
            title = base[: _MAX_TITLE - len(suffix)].rstrip() + suffix
            number += 1
        taken.add(title.lower())
        titles.append(title)
    return titles


def number_format(kind: str, currency: str = "EUR") -> str | None:
    """The Excel number format of a column kind (see `engine.report.document`), None for text.
    Formats are written with `,` grouping and `.` decimals, as the file format wants; Excel
    shows them with the reader's own marks (`1 234,50 €` in French)."""
    if kind == "money":
        return f'#,##0.00\\ "{currency_symbol(currency)}"'
    return _FORMATS.get(kind)


_FORMATS = {
    "int": "#,##0",
    "number": "#,##0.00",
    "percent": "0.00%",
    "ratio": "0.00",
    "date": "dd/mm/yyyy",
}


def xlsx_value(value: object, kind: str) -> Any:
    """One cell as an openpyxl value of its kind: a number, a date, or inert text."""
    if value is None or isinstance(value, bool):
        return value
    if kind == "date":
        if isinstance(value, dt.datetime):
            return value.date() if value.time() == dt.time() else value.replace(tzinfo=None)
        if isinstance(value, dt.date):
            return value
    elif kind != "text":
        number = decimal_of_cell(value)
        if number is not None:
            if kind == "money":
                # openpyxl writes a Decimal's exact text into the file: the cents as computed.
                return number.quantize(Decimal("0.01"))
            if kind == "int" and number == number.to_integral_value():
                return int(number)
            return number if isinstance(value, Decimal | str) else value
        if isinstance(value, float) and not math.isfinite(value):
            return None
    if isinstance(value, dt.datetime):
        return value.date() if value.time() == dt.time() else value.replace(tzinfo=None)
    if isinstance(value, dt.date):
        return value
    if isinstance(value, int | float | Decimal):
        return value
    # A workbook cell is never split on `;`: only its start matters.
    return _ILLEGAL_XML.sub("", escape_formula(str(value), semicolons=False))


def _letter(index: int) -> str:
    from openpyxl.utils import get_column_letter  # type: ignore[import-untyped, unused-ignore]

    return str(get_column_letter(index))


class SheetWriter:
    """One sheet of a write-only workbook: header frozen, filtered, columns sized and typed.

    `kinds` gives each column's kind; a row may override the kind of its cells (`append(...,
    kinds=...)`: a KPI table mixes amounts and rates in one column). `rows` is how many rows
    will be appended (the filter covers them); `sample` some of them, to size the columns.
    """

    def __init__(
        self,
        workbook: Any,
        title: str,
        header: Sequence[str],
        kinds: Sequence[str],
        rows: int,
        sample: Iterable[Sequence[object]] = (),
        currency: str = "EUR",
    ) -> None:
        from openpyxl.cell import WriteOnlyCell  # type: ignore[import-untyped, unused-ignore]

        self._make = WriteOnlyCell
        self.currency = currency
        self.kinds = list(kinds)
        self.sheet = workbook.create_sheet(title=title)
        widths = [float(len(str(h))) + 2 for h in header]
        for row in sample:
            for i, (value, kind) in enumerate(zip(row, self.kinds, strict=False)):
                shown = show_cell(value, kind, currency) if value is not None else ""
                widths[i] = max(widths[i], len(shown) * 1.1 + 2)
        for i, width in enumerate(widths, start=1):
            self.sheet.column_dimensions[_letter(i)].width = min(_MAX_WIDTH, max(_MIN_WIDTH, width))
        if header:
            self.sheet.freeze_panes = "A2"
            self.sheet.auto_filter.ref = f"A1:{_letter(len(header))}{rows + 1}"
        self._by_kind: dict[str, str | None] = {}
        self._formats = [self._format(k) for k in self.kinds]
        bold = _bold()
        head = []
        for name in header:
            cell = self._make(self.sheet, value=xlsx_value(name, "text"))
            cell.font = bold
            head.append(cell)
        self.sheet.append(head)

    def append(
        self, values: Sequence[object], kinds: Sequence[str] | None = None, typed: bool = False
    ) -> None:
        """Write one row, each cell typed and formatted by its column's kind (or `kinds`);
        `typed`: the values are openpyxl values already (`xlsx_value`), only formats are set."""
        if kinds is None:
            kinds, formats = self.kinds, self._formats
        else:
            formats = [self._format(k) for k in kinds]
        cells: list[Any] = []
        for value, kind, shape in zip(values, kinds, formats, strict=True):
            cell = value if typed else xlsx_value(value, kind)
            if isinstance(cell, dt.date):
                shape = shape or _FORMATS["date"]  # a date without one shows as a serial number
            elif shape is None or cell is None or isinstance(cell, str | bool):
                cells.append(cell)
                continue
            styled = self._make(self.sheet, value=cell)
            styled.number_format = shape
            cells.append(styled)
        self.sheet.append(cells)

    def _format(self, kind: str) -> str | None:
        found = self._by_kind.get(kind, "")
        if found == "":
            found = self._by_kind[kind] = number_format(kind, self.currency)
        return found


def _bold() -> Any:
    from openpyxl.styles import Font  # type: ignore[import-untyped, unused-ignore]

    return Font(bold=True)


# ----------------------------------------------------------------------------- a report
def write_xlsx(doc: Document, path: Path) -> None:
    """The report as a workbook at `path` (written atomically): `Rapport`, one sheet per
    table, `Graphiques` (see the module note)."""
    from openpyxl import Workbook  # type: ignore[import-untyped, unused-ignore]

    workbook = Workbook(write_only=True)
    tables = doc.tables()
    charts = doc.charts()
    names = ["Rapport", *[t.title or t.id for t in tables], *(["Graphiques"] if charts else [])]
    titles = sheet_titles(names)
    _summary(workbook, titles[0], doc, dict(zip((id(t) for t in tables), titles[1:], strict=False)))
    for table, title in zip(tables, titles[1:], strict=False):
        _table(workbook, title, table, doc.currency)
    if charts:
        _charts(workbook, titles[-1], charts, doc.currency)
    with atomic_files(path.parent) as place:
        workbook.save(place(path.name))


def _summary(workbook: Any, title: str, doc: Document, sheets: dict[int, str]) -> None:
    rows: list[list[object]] = [[doc.title], [doc.subtitle], []]
    for section in doc.sections:
        rows.append([section.title])
        rows.extend([paragraph] for paragraph in section.paragraphs)
        rows.extend([f"Tableau : {t.title} (feuille « {sheets[id(t)]} »)"] for t in section.tables)
        rows.append([])
    sheet = workbook.create_sheet(title=title)
    sheet.column_dimensions["A"].width = 110
    bold = _bold()
    from openpyxl.cell import WriteOnlyCell  # type: ignore[import-untyped, unused-ignore]

    headings = {doc.title, *(s.title for s in doc.sections)}
    for row in rows:
        if row and row[0] in headings:
            cell = WriteOnlyCell(sheet, value=xlsx_value(row[0], "text"))
            cell.font = bold
            sheet.append([cell])
        else:
            sheet.append([xlsx_value(v, "text") for v in row])


def _table(workbook: Any, title: str, table: Table, currency: str) -> None:
    writer = SheetWriter(
        workbook,
        title,
        [c.label for c in table.columns],
        [c.kind for c in table.columns],
        len(table.rows),
        table.rows[:_SAMPLE],
        currency,
    )
    for row in table.rows:
        writer.append(row)


_BLOCK = 20  # rows each chart takes on the charts sheet (data beside it may run longer)


def _charts(workbook: Any, title: str, charts: list[Chart], currency: str) -> None:
    """Each chart's data as a block of columns A.., the native chart anchored to its right."""
    sheet = workbook.create_sheet(title=title)
    sheet.column_dimensions["A"].width = 28
    row = 1
    for chart in charts:
        categories: dict[object, None] = {}
        for series in chart.series:
            for x, _ in series.points:
                categories.setdefault(x, None)
        xs = list(categories)
        names = [s.name for s in chart.series]
        lines = [label for label, _ in chart.reference_lines]
        sheet.append([xlsx_value(chart.title, "text")])
        sheet.append(
            [
                xlsx_value(chart.x_label or "x", "text"),
                *[xlsx_value(n, "text") for n in names + lines],
            ]
        )
        y_kind = {"money": "money", "percent": "percent"}.get(chart.y_format, "number")
        values = [{x: y for x, y in s.points} for s in chart.series]
        shape = number_format(y_kind, currency)
        from openpyxl.cell import WriteOnlyCell  # type: ignore[import-untyped, unused-ignore]

        for x in xs:
            cells: list[Any] = [_x_cell(sheet, x)]
            for points in values:
                number = decimal_of_cell(points.get(x))
                cell = WriteOnlyCell(sheet, value=None if number is None else number)
                cell.number_format = shape
                cells.append(cell)
            cells.extend(y for _, y in chart.reference_lines)
            sheet.append(cells)
        first = row + 2
        last = row + 1 + len(xs)
        if xs:
            sheet.add_chart(
                _native(sheet, chart, first, last, len(names), len(lines), shape),
                f"{_letter(len(names) + len(lines) + 3)}{row}",
            )
        used = 2 + len(xs)
        for _ in range(max(1, _BLOCK - used)):
            sheet.append([])
        row += used + max(1, _BLOCK - used)


def _x_cell(sheet: Any, x: object) -> Any:
    from openpyxl.cell import WriteOnlyCell  # type: ignore[import-untyped, unused-ignore]

    if isinstance(x, dt.date):
        cell = WriteOnlyCell(sheet, value=xlsx_value(x, "date"))
        cell.number_format = "dd/mm/yyyy"
        return cell
    if isinstance(x, str):
        return xlsx_value(x, "text")
    return xlsx_value(x, "number")


def _native(
    sheet: Any, chart: Chart, first: int, last: int, series: int, lines: int, shape: str | None
) -> Any:
    """The Excel chart of a report chart, over the data block's rows `first`..`last`."""
    from openpyxl.chart import BarChart, LineChart, Reference  # type: ignore[import-untyped, unused-ignore]

    categories = Reference(sheet, min_col=1, min_row=first, max_row=last)
    data = Reference(sheet, min_col=2, max_col=1 + series, min_row=first - 1, max_row=last)
    if chart.kind in ("line", "step"):
        native: Any = LineChart()
        native.add_data(data, titles_from_data=True)
    else:
        native = BarChart()
        native.type = "bar" if chart.kind in ("hbar", "funnel") else "col"
        if chart.kind == "stacked_bar":
            native.grouping = "stacked"
            native.overlap = 100
        if chart.kind == "histogram":
            native.gapWidth = 0
        if chart.kind in ("hbar", "funnel"):
            native.x_axis.scaling.orientation = "maxMin"  # first category on top, as in HTML
        native.add_data(data, titles_from_data=True)
    native.set_categories(categories)
    if lines:
        reference = LineChart()
        columns = Reference(
            sheet, min_col=2 + series, max_col=1 + series + lines, min_row=first - 1, max_row=last
        )
        reference.add_data(columns, titles_from_data=True)
        if chart.kind in ("line", "step"):
            native.add_data(columns, titles_from_data=True)
        elif chart.kind not in ("hbar", "funnel"):
            native += reference
    native.title = chart.title
    native.y_axis.title = chart.y_label or None
    native.x_axis.title = chart.x_label or None
    if shape:
        native.y_axis.number_format = shape
        native.y_axis.majorGridlines = native.y_axis.majorGridlines
    # openpyxl hides axes unless told otherwise (its `delete` defaults to True in new Excel).
    native.x_axis.delete = False
    native.y_axis.delete = False
    native.width, native.height = 18, 9
    if series == 1 and not lines:
        native.legend = None
    return native
