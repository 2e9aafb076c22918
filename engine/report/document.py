"""A report as data: a `Document` of sections holding paragraphs, tables and charts.

What a report says is built once, as these frozen values; how it looks is decided by the
writers (`engine.report.html`, `engine.report.xlsx`, `to_json` here). So a figure shown in the
HTML, typed in the workbook and written in the JSON is one value, never recomputed.

Cells are plain Python values: `str`, `int`, `Decimal`, `float`, `datetime.date`, or None
(missing). A column's `kind` says what its values mean and how each writer shows them:

  text     shown as is
  int      a count: `1 234`
  number   a quantity: at most two decimals, `1 234,5`
  money    an amount in the document's currency: `1 234,50 €`; JSON `"1234.50"`
  percent  a fraction shown as a percentage: 0.955 -> `95,5 %` (truncated, as attainments are:
           99.99% never shows as 100 %); JSON the fraction
  ratio    a plain quotient (LTV/CAC, budget used): `3,25`
  date     `31/03/2026`; JSON ISO `2026-03-31`

French text for people comes from `engine.money.format_french` (Babel), the one formatter of
French numbers.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from decimal import ROUND_FLOOR, ROUND_HALF_UP, Decimal
from functools import cache
from typing import Any

from engine.money import format_french, format_money

__all__ = [
    "CHART_KINDS",
    "COLUMN_KINDS",
    "Chart",
    "Column",
    "Document",
    "Section",
    "Series",
    "Table",
    "currency_symbol",
    "decimal_of_cell",
    "show_cell",
    "to_json",
]

COLUMN_KINDS = ("text", "int", "number", "money", "percent", "ratio", "date")
CHART_KINDS = ("bar", "hbar", "stacked_bar", "line", "step", "histogram", "funnel")
Y_FORMATS = ("number", "money", "percent")
MISSING = "—"


@dataclass(frozen=True, slots=True)
class Column:
    """A column of a table: its key (JSON member, stable), its French label, its kind."""

    key: str
    label: str
    kind: str = "text"

    def __post_init__(self) -> None:
        if self.kind not in COLUMN_KINDS:
            raise ValueError(f"column {self.key!r}: unknown kind {self.kind!r} ({COLUMN_KINDS})")


@dataclass(frozen=True, slots=True)
class Table:
    """A table: one row per tuple, one cell per column (values as in the module note)."""

    id: str
    title: str
    columns: tuple[Column, ...]
    rows: tuple[tuple[object, ...], ...]
    note: str = ""

    def __post_init__(self) -> None:
        width = len(self.columns)
        for number, row in enumerate(self.rows, start=1):
            if len(row) != width:
                raise ValueError(
                    f"table {self.id!r}: row {number} has {len(row)} cells for {width} columns"
                )

    def column(self, key: str) -> list[object]:
        """The cells of one column, by key."""
        index = [c.key for c in self.columns].index(key)
        return [row[index] for row in self.rows]


@dataclass(frozen=True, slots=True)
class Series:
    """A named series of (x, y) points; x is a number, a text category or a date."""

    name: str
    points: tuple[tuple[object, float | Decimal], ...]


@dataclass(frozen=True, slots=True)
class Chart:
    """A chart. Kinds:

      bar, hbar     one bar per x (a category), series side by side (hbar: horizontal)
      stacked_bar   series stacked on each x
      line, step    series as lines over x (numbers or dates); step holds each y until the next x
      histogram     pre-binned counts: each point is (bin label or lower bound, count); bars touch
                    (`bins` makes such points from raw values)
      funnel        one series of (stage, count), drawn as centred horizontal bars, top to bottom

    `reference_lines` are (label, y) drawn across (a budget, a target, 100%); `y_format` says
    how the y values read: "number", "money" (the document's currency) or "percent" (fractions);
    `x_format` the same for numeric x values (an attainment axis is "percent").
    """

    id: str
    title: str
    kind: str
    series: tuple[Series, ...]
    x_label: str = ""
    y_label: str = ""
    y_format: str = "number"
    reference_lines: tuple[tuple[str, float], ...] = ()
    #: How numeric x values read (line and step charts): "number", "money" or "percent".
    x_format: str = "number"

    def __post_init__(self) -> None:
        if self.kind not in CHART_KINDS:
            raise ValueError(f"chart {self.id!r}: unknown kind {self.kind!r} ({CHART_KINDS})")
        for name, shape in (("y_format", self.y_format), ("x_format", self.x_format)):
            if shape not in Y_FORMATS:
                raise ValueError(f"chart {self.id!r}: unknown {name} {shape!r} ({Y_FORMATS})")

    @property
    def empty(self) -> bool:
        """Whether there is no point to draw (every y missing or not a number)."""
        return not any(
            (y := decimal_of_cell(value)) is not None and y.is_finite()
            for s in self.series
            for _, value in s.points
        )


@dataclass(frozen=True, slots=True)
class Section:
    """A titled part of a document: paragraphs first, then tables, then charts."""

    title: str
    paragraphs: tuple[str, ...] = ()
    tables: tuple[Table, ...] = ()
    charts: tuple[Chart, ...] = ()


@dataclass(frozen=True, slots=True)
class Document:
    """A whole report: a title, a subtitle (what, when, on which data) and its sections."""

    title: str
    subtitle: str
    sections: tuple[Section, ...]
    currency: str = "EUR"

    def tables(self) -> list[Table]:
        """Every table, in reading order."""
        return [t for s in self.sections for t in s.tables]

    def charts(self) -> list[Chart]:
        """Every chart, in reading order."""
        return [c for s in self.sections for c in s.charts]

    def table(self, table_id: str) -> Table:
        """The table with this id (KeyError if none)."""
        for table in self.tables():
            if table.id == table_id:
                return table
        raise KeyError(table_id)

    def _repr_html_(self) -> str:
        """The document as HTML in a notebook (charts included)."""
        from engine.report.html import render_html

        return render_html(self, standalone=False)


# ----------------------------------------------------------------------------- values
def decimal_of_cell(value: object) -> Decimal | None:
    """A numeric cell as an exact Decimal (a float by its shortest repr), None if missing or
    not a finite number. Text holding a plain number (`"0.95"`, as pay writes ratios) counts."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, Decimal):
        return value if value.is_finite() else None
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, float):
        return Decimal(repr(value)) if math.isfinite(value) else None
    if isinstance(value, str):
        try:
            found = Decimal(value.strip())
        except ArithmeticError:
            return None
        return found if found.is_finite() else None
    item = getattr(value, "item", None)  # a numpy scalar
    return decimal_of_cell(item()) if callable(item) else None


def _date_of(value: object) -> dt.date | None:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    return None


@cache
def currency_symbol(currency: str) -> str:
    """The sign French readers write after an amount (`€`, `$US`), from Babel's CLDR data."""
    from babel.numbers import get_currency_symbol

    return str(get_currency_symbol(currency, locale="fr_FR"))


_CENT = Decimal("0.01")


def show_cell(value: object, kind: str, currency: str = "EUR") -> str:
    """One cell as French text for people (see the module note); missing is `—`."""
    if value is None:
        return MISSING
    if kind == "date":
        day = _date_of(value)
        return day.strftime("%d/%m/%Y") if day is not None else str(value)
    if kind == "text":
        return str(value)
    number = decimal_of_cell(value)
    if number is None:
        return MISSING if isinstance(value, float) else str(value)
    if kind == "int":
        return format_french(number.quantize(Decimal(1), rounding=ROUND_HALF_UP))
    if kind == "money":
        return f"{format_french(number.quantize(_CENT, rounding=ROUND_HALF_UP))} " + (
            currency_symbol(currency)
        )
    if kind == "percent":
        # Truncated, as attainments are (engine.pay.format): never above the true value.
        percent = (number * 100).quantize(Decimal("0.1"), rounding=ROUND_FLOOR)
        return f"{format_french(_trimmed(percent))} %"
    return format_french(_trimmed(number.quantize(_CENT, rounding=ROUND_HALF_UP)))


def _trimmed(value: Decimal) -> Decimal:
    """Without trailing decimal zeros (`12.50` -> `12.5`, `3.00` -> `3`)."""
    if value == value.to_integral_value():
        return value.quantize(Decimal(1))
    return value.normalize()


# ----------------------------------------------------------------------------- JSON
def json_cell(value: object, kind: str) -> Any:
    """One cell as a JSON value: money a two-place string, dates ISO, numbers JSON numbers
    (exact Decimals as strings would be for money only), missing null."""
    if value is None:
        return None
    if kind == "date":
        day = _date_of(value)
        return day.isoformat() if day is not None else str(value)
    if kind == "text":
        return str(value)
    number = decimal_of_cell(value)
    if number is None:
        return None if isinstance(value, float) else str(value)
    if kind == "money":
        return format_money(number)
    if kind == "int" or number == number.to_integral_value():
        return int(number)
    return float(number)


def _json_x(value: object) -> Any:
    day = _date_of(value)
    if day is not None:
        return day.isoformat()
    number = decimal_of_cell(value) if not isinstance(value, str) else None
    if number is not None:
        return int(number) if number == number.to_integral_value() else float(number)
    return value if value is None else str(value)


def to_json(doc: Document) -> dict[str, Any]:
    """The document as JSON data: exact (money as `"1234.50"`), every table and chart by id."""

    def y_value(value: float | Decimal, y_format: str) -> Any:
        return json_cell(value, "money" if y_format == "money" else "number")

    return {
        "title": doc.title,
        "subtitle": doc.subtitle,
        "currency": doc.currency,
        "sections": [
            {
                "title": section.title,
                "paragraphs": list(section.paragraphs),
                "tables": [
                    {
                        "id": table.id,
                        "title": table.title,
                        "note": table.note,
                        "columns": [
                            {"key": c.key, "label": c.label, "kind": c.kind} for c in table.columns
                        ],
                        "rows": [
                            {
                                c.key: json_cell(cell, c.kind)
                                for c, cell in zip(table.columns, row, strict=True)
                            }
                            for row in table.rows
                        ],
                    }
                    for table in section.tables
                ],
                "charts": [
                    {
                        "id": chart.id,
                        "title": chart.title,
                        "kind": chart.kind,
                        "x_label": chart.x_label,
                        "y_label": chart.y_label,
                        "y_format": chart.y_format,
                        "x_format": chart.x_format,
                        "reference_lines": [
                            {"label": label, "y": y} for label, y in chart.reference_lines
                        ],
                        "series": [
                            {
                                "name": s.name,
                                "points": [
                                    [_json_x(x), y_value(y, chart.y_format)] for x, y in s.points
                                ],
                            }
                            for s in chart.series
                        ],
                    }
                    for chart in section.charts
                ],
            }
            for section in doc.sections
        ],
    }
