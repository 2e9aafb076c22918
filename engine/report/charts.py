"""Charts drawn as SVG text with matplotlib, for HTML reports that open offline.

Why matplotlib: it is the well-kept plotting library of the Python data stack, and its Agg/SVG
backends draw on the machine that builds the report, with no JavaScript and no font or script
fetched from any host. The SVG is inlined in the HTML, so a report is one self-contained file
that any browser (or an e-mail client's preview) shows as drawn. The workbook (`xlsx.py`) draws
the same charts as native Excel charts instead.

Numbers on the axes are written in French with `engine.money.format_french` (Babel). Figures
are built with `matplotlib.figure.Figure`, never pyplot: no global state, nothing to close.
"""

from __future__ import annotations

import datetime as dt
import io
import itertools
import re
from collections.abc import Sequence
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from engine.money import format_french
from engine.report.document import Chart, Series, currency_symbol, decimal_of_cell

__all__ = ["PALETTE", "bins", "render_svg"]

#: Series colours, in order (colour-blind safe: Okabe-Ito), then the reference lines' colour.
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442")
_REFERENCE = "#C0392B"
_WIDTH = 7.5  # inches; drawn at 96 dpi in a browser: 720 px wide
_MAX_TICKS = 40
_FEW = 4


def bins(values: Sequence[float | Decimal], edges: Sequence[float]) -> tuple[Series, ...]:
    """Raw values counted into bins `[edges[i], edges[i+1])`, the last one closed: one series of
    (`"a–b"` label, count) points for a `histogram` chart. Values outside the edges are counted
    in the first or last bin (`< a` / `≥ b` when the outer edges are infinite)."""
    import numpy as np

    if len(edges) < 2:
        raise ValueError("bins: give at least two edges")
    data = np.asarray([float(v) for v in values], dtype=float)
    inner = np.asarray(edges, dtype=float)
    # searchsorted on the inner edges: bin i holds edges[i] <= v < edges[i+1]; ends clamp.
    positions = np.clip(np.searchsorted(inner, data, side="right") - 1, 0, len(inner) - 2)
    last = data == inner[-1]
    positions[last] = len(inner) - 2
    counts = np.bincount(positions, minlength=len(inner) - 1)
    labels = [_bin_label(float(a), float(b)) for a, b in itertools.pairwise(edges)]
    return (
        Series("effectif", tuple((label, int(n)) for label, n in zip(labels, counts, strict=True))),
    )


def _bin_label(low: float, high: float) -> str:
    def text(x: float) -> str:
        return axis_text(x, "number")

    if low == float("-inf"):
        return f"< {text(high)}"
    if high == float("inf"):
        return f"≥ {text(low)}"
    return f"{text(low)}–{text(high)}"


def axis_text(value: float, y_format: str, currency: str = "EUR") -> str:
    """An axis tick in French: `120 k€`, `95 %`, `1 234`."""
    number = Decimal(repr(float(value)))
    if y_format == "percent":
        return f"{format_french(_round(number * 100, 0))} %"
    if y_format == "money":
        symbol = currency_symbol(currency)
        if abs(number) >= 1_000_000:
            return f"{format_french(_round(number / 1_000_000, 1))} M{symbol}"
        if abs(number) >= 10_000:
            return f"{format_french(_round(number / 1_000, 0))} k{symbol}"
        return f"{format_french(_round(number, 0))} {symbol}"
    return format_french(_round(number, 2))


def _round(value: Decimal, places: int) -> Decimal:
    rounded = value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)
    return rounded.quantize(Decimal(1)) if rounded == rounded.to_integral_value() else rounded


def _y(value: object) -> float:
    number = decimal_of_cell(value)
    return float(number) if number is not None else float("nan")


def _categories(chart: Chart) -> list[object]:
    """The x values of all series, in first-seen order."""
    seen: dict[object, None] = {}
    for series in chart.series:
        for x, _ in series.points:
            seen.setdefault(x, None)
    return list(seen)


def _label(x: object) -> str:
    if isinstance(x, dt.date):
        return x.strftime("%d/%m/%Y")
    number = decimal_of_cell(x) if not isinstance(x, str) else None
    if number is not None:
        return format_french(
            number.normalize()
            if number != number.to_integral_value()
            else number.quantize(Decimal(1))
        )
    return str(x)


def render_svg(chart: Chart, currency: str = "EUR") -> str:
    """The chart as an `<svg>` element (no XML prolog), ready to inline in HTML."""
    import matplotlib

    matplotlib.use("Agg")
    from cycler import cycler  # matplotlib's own dependency
    from matplotlib import rc_context
    from matplotlib.figure import Figure
    from matplotlib.ticker import FuncFormatter, MaxNLocator

    categories = _categories(chart)
    horizontal = chart.kind in ("hbar", "funnel")
    height = 3.0
    if horizontal:
        height = max(2.4, min(12.0, 0.9 + 0.32 * max(1, len(categories))))
    style: Any = {
        "svg.fonttype": "none",  # text stays text: smaller, selectable, searchable
        "svg.hashsalt": chart.id,  # stable ids, distinct between the charts of one page
        "font.family": "DejaVu Sans",
        "font.size": 9,
        "axes.spines.top": False,
        "axes.spines.right": False,
        "axes.prop_cycle": cycler(color=list(PALETTE)),
    }
    with rc_context(style):
        figure = Figure(figsize=(_WIDTH, height))
        axes = figure.add_subplot()
        formatter = FuncFormatter(lambda v, _: axis_text(v, chart.y_format, currency))
        if chart.empty:
            axes.text(0.5, 0.5, "Aucune donnée", ha="center", va="center", transform=axes.transAxes)
            axes.set_xticks([])
            axes.set_yticks([])
        else:
            _draw(axes, chart, categories)
            values = axes.xaxis if horizontal else axes.yaxis
            if chart.kind != "funnel":  # a funnel shows its counts on the bars, not on an axis
                values.set_major_formatter(formatter)
                if chart.y_format == "number" and _whole(chart):
                    values.set_major_locator(MaxNLocator(integer=True))
            _x_axis(axes, chart, categories, currency)
        if chart.x_label:
            (axes.set_ylabel if horizontal else axes.set_xlabel)(chart.x_label)
        if chart.y_label:
            (axes.set_xlabel if horizontal else axes.set_ylabel)(chart.y_label)
        for position, (label, y) in enumerate(chart.reference_lines):
            line = axes.axvline if horizontal else axes.axhline
            line(
                float(y),
                color=_REFERENCE,
                linestyle=("--", ":", "-.")[position % 3],
                linewidth=1.2,
                label=f"{label} ({axis_text(float(y), chart.y_format, currency)})",
            )
        if len(chart.series) > 1 or chart.reference_lines:
            axes.legend(loc="best", fontsize=8, frameon=False)
        axes.grid(axis="x" if horizontal else "y", color="#dddddd", linewidth=0.6)
        axes.set_axisbelow(True)
        figure.tight_layout()
        out = io.StringIO()
        figure.savefig(out, format="svg", metadata={"Date": None, "Creator": None})
    svg = out.getvalue()
    start = svg.find("<svg")
    return _SIZE.sub(r'\1="100%"', svg[start:], count=1) if start >= 0 else svg


# The figure's fixed width in points becomes 100% so a chart fits narrow screens (the viewBox
# keeps its proportions); only the root element's width is touched.
_SIZE = re.compile(r'(?<=<svg )[^>]*?\b(width)="[^"]*"')


def _whole(chart: Chart) -> bool:
    """Whether every y is a whole number (counts): the axis then ticks whole numbers only."""
    numbers = [decimal_of_cell(y) for s in chart.series for _, y in s.points]
    return all(n is None or n == n.to_integral_value() for n in numbers)


def _x_axis(axes: Any, chart: Chart, categories: list[object], currency: str) -> None:
    """French ticks on a line or step chart's x axis: dates `31/03/26`, numbers per x_format."""
    if chart.kind not in ("line", "step") or not categories:
        return
    if all(isinstance(x, dt.date) for x in categories):
        from matplotlib.dates import DateFormatter

        shown = DateFormatter("%d/%m/%y")  # type: ignore[no-untyped-call, unused-ignore]
        axes.xaxis.set_major_formatter(shown)
        axes.tick_params(axis="x", labelrotation=30)
    elif not any(isinstance(x, str) for x in categories):
        from matplotlib.ticker import FuncFormatter

        axes.xaxis.set_major_formatter(
            FuncFormatter(lambda v, _: axis_text(v, chart.x_format, currency))
        )


def _draw(axes: Any, chart: Chart, categories: list[object]) -> None:
    kind = chart.kind
    series = chart.series
    if kind in ("line", "step"):
        for s in series:
            xs = [_x(x) for x, _ in s.points]
            ys = [_y(y) for _, y in s.points]
            if kind == "step":
                axes.step(xs, ys, where="post", label=s.name, linewidth=1.8)
            else:
                axes.plot(
                    xs,
                    ys,
                    label=s.name,
                    linewidth=1.8,
                    marker="o" if len(xs) <= 24 else None,
                    markersize=3,
                )
        if categories and all(isinstance(x, str) for x in categories):
            _ticks(axes.xaxis, len(categories), categories)
        return
    positions = list(range(len(categories)))
    index = {x: i for i, x in enumerate(categories)}
    if kind == "funnel":
        values = [_y(y) for _, y in series[0].points]
        top = max((v for v in values if v == v), default=0.0) or 1.0
        lefts = [(top - v) / 2 if v == v else 0.0 for v in values]
        bars = axes.barh(positions, values, left=lefts, color=PALETTE[0], height=0.7)
        for bar, value in zip(bars, values, strict=True):
            shown = _label(value) if value == value else "—"
            middle = bar.get_y() + bar.get_height() / 2
            axes.text(top / 2, middle, shown, ha="center", va="center", color="white", fontsize=8)
        _ticks(axes.yaxis, len(categories), categories)
        axes.invert_yaxis()
        axes.set_xticks([])
        axes.spines["bottom"].set_visible(False)
        return
    if kind == "histogram":
        for s in series:
            heights = _heights(s, index, len(categories))
            axes.bar(positions, heights, width=1.0, label=s.name, edgecolor="white", linewidth=0.8)
        _ticks(axes.xaxis, len(categories), categories)
        return
    count = max(1, len(series))
    bottoms = [0.0] * len(categories)
    width = 0.8 if kind == "stacked_bar" else 0.8 / count
    for number, s in enumerate(series):
        heights = _heights(s, index, len(categories))
        if kind == "stacked_bar":
            axes.bar(positions, heights, width=width, bottom=bottoms, label=s.name)
            bottoms = [b + (h if h == h else 0.0) for b, h in zip(bottoms, heights, strict=True)]
            continue
        offset = (number - (count - 1) / 2) * width
        shifted = [p + offset for p in positions]
        if kind == "hbar":
            axes.barh(shifted, heights, height=width, label=s.name)
        else:
            axes.bar(shifted, heights, width=width, label=s.name)
    if kind == "hbar":
        _ticks(axes.yaxis, len(categories), categories)
        _room(axes.set_ylim, len(categories))
        axes.invert_yaxis()
    else:
        _ticks(axes.xaxis, len(categories), categories)
        _room(axes.set_xlim, len(categories))


def _room(set_limits: Any, count: int) -> None:
    """With fewer than 4 categories, room as for 4: one bar is not the whole chart's width."""
    if 0 < count < _FEW:
        pad = (_FEW - count) / 2
        set_limits(-0.5 - pad, count - 0.5 + pad)


def _heights(series: Series, index: dict[object, int], size: int) -> list[float]:
    heights = [float("nan")] * size
    for x, y in series.points:
        heights[index[x]] = _y(y)
    return heights


def _x(value: object) -> Any:
    if isinstance(value, dt.date | str):
        return value
    return _y(value)


def _ticks(axis: Any, count: int, categories: list[object]) -> None:
    """Category labels on an axis: every one up to `_MAX_TICKS`, then evenly spaced ones; long
    or many labels on the x axis are slanted."""
    step = max(1, -(-count // _MAX_TICKS))
    positions = list(range(0, count, step))
    axis.set_ticks(positions, [_label(categories[p])[:28] for p in positions])
    if axis.axis_name == "x" and (count > 6 or any(len(_label(c)) > 10 for c in categories)):
        for tick in axis.get_ticklabels():
            tick.set_rotation(30)
            tick.set_horizontalalignment("right")
