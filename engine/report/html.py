"""A report as one self-contained HTML file: its style inline, its charts inline SVG.

Nothing in the file points to another host, or to any file: no script, no web font, no image
to fetch. It opens offline in any browser, prints cleanly (A4, one chart never cut in two), and
can be sent by e-mail as it is. Numbers are written in French (`engine.report.document`).
"""

from __future__ import annotations

from html import escape
from pathlib import Path

from engine.files import atomic_file
from engine.report.charts import render_svg
from engine.report.document import Chart, Document, Table, show_cell

__all__ = ["render_html", "table_html", "write_html"]

_NUMERIC = frozenset({"int", "number", "money", "percent", "ratio"})
#: Tables longer than this are folded under their title (`<details>`).
_FOLDED_ROWS = 25

# The page's own style (a standalone file only) and the report's, scoped to its wrapper so that a
# report shown inside a notebook does not restyle the notebook.
_PAGE = """
* { box-sizing: border-box; }
body { margin: 0 auto; padding: 24px 32px 48px; max-width: 1100px; }
@media print { body { padding: 0; } }
"""
_PARTS = """
.koncept-report { --ink: #1d2733; --muted: #5b6775; --line: #d8dee6; --band: #f4f6f9;
  font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif;
  color: var(--ink); color-scheme: light; }
.koncept-report header { border-bottom: 3px solid #0072B2; margin-bottom: 16px; }
.koncept-report h1 { font-size: 24px; margin: 0 0 4px; }
.koncept-report .subtitle { color: var(--muted); margin: 0 0 12px; }
.koncept-report h2 { font-size: 19px; margin: 28px 0 8px; border-bottom: 1px solid var(--line);
  padding-bottom: 4px; }
.koncept-report h3 { font-size: 15px; margin: 18px 0 6px; }
.koncept-report p { margin: 6px 0; }
.koncept-report .scroll { overflow: auto; max-height: 640px; border: 1px solid var(--line); }
table.koncept { border-collapse: collapse; width: 100%; font-size: 13px; }
table.koncept th, table.koncept td { padding: 4px 8px; border-bottom: 1px solid var(--line);
  text-align: left; vertical-align: top; }
table.koncept th { background: var(--band); position: sticky; top: 0; }
table.koncept td.num, table.koncept th.num { text-align: right; font-variant-numeric: tabular-nums;
  white-space: nowrap; }
table.koncept tbody tr:nth-child(even) td { background: #fafbfc; }
.koncept-report .note { color: var(--muted); font-size: 12px; }
.koncept-report details > summary { cursor: pointer; }
.koncept-report details > summary h3 { display: inline; }
.koncept-report figure { margin: 12px 0 20px; break-inside: avoid; }
.koncept-report figcaption { font-weight: 600; margin-bottom: 4px; }
.koncept-report figure svg { width: 100%; height: auto; display: block; }
@media print { .koncept-report .scroll { max-height: none; overflow: visible; border: 0; }
  .koncept-report h2 { break-after: avoid; } }
"""


def table_html(table: Table, currency: str = "EUR") -> str:
    """One table as an HTML `<table>`: labels as headers, cells in French, numbers right."""
    head = "".join(f'<th scope="col"{_class(c.kind)}>{escape(c.label)}</th>' for c in table.columns)
    body = []
    kinds = [c.kind for c in table.columns]
    # Babel formats each distinct value once: a column repeats its stages, reps and amounts.
    shown: dict[tuple[object, str], str] = {}

    def cell(value: object, kind: str) -> str:
        key = (value, kind)
        try:
            text = shown.get(key)
        except TypeError:  # an unhashable value: formatted every time
            return f"<td{_class(kind)}>{escape(show_cell(value, kind, currency))}</td>"
        if text is None:
            text = shown[key] = f"<td{_class(kind)}>{escape(show_cell(value, kind, currency))}</td>"
        return text

    for row in table.rows:
        body.append("<tr>" + "".join(map(cell, row, kinds)) + "</tr>")
    if not table.rows:
        body.append(f'<tr><td colspan="{max(1, len(kinds))}">Aucune ligne.</td></tr>')
    return (
        f'<table class="koncept" id="{escape(table.id)}"><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table>"
    )


def _class(kind: str) -> str:
    return ' class="num"' if kind in _NUMERIC else ""


def _chart(chart: Chart, currency: str) -> str:
    return (
        f'<figure class="chart" id="chart-{escape(chart.id)}" data-kind="{escape(chart.kind)}">'
        f"<figcaption>{escape(chart.title)}</figcaption>{render_svg(chart, currency)}</figure>"
    )


def render_html(doc: Document, *, standalone: bool = True) -> str:
    """The document as HTML: a whole page (`standalone`), or a fragment for a notebook."""
    parts = [
        f"<header><h1>{escape(doc.title)}</h1>"
        f'<p class="subtitle">{escape(doc.subtitle)}</p></header>'
    ]
    for section in doc.sections:
        parts.append(f"<section><h2>{escape(section.title)}</h2>")
        parts.extend(f"<p>{escape(p)}</p>" for p in section.paragraphs)
        # The picture first (people look before they read), then the figures behind it; a
        # long table is folded under its title (the XLSX holds every row too).
        parts.extend(_chart(chart, doc.currency) for chart in section.charts)
        for table in section.tables:
            shown = f'<div class="scroll">{table_html(table, doc.currency)}</div>'
            if len(table.rows) > _FOLDED_ROWS:
                title = f"{escape(table.title)} ({len(table.rows):,} lignes)".replace(",", "\u202f")
                parts.append(f"<details><summary><h3>{title}</h3></summary>{shown}</details>")
            else:
                parts.append(f"<h3>{escape(table.title)}</h3>{shown}")
            if table.note:
                parts.append(f'<p class="note">{escape(table.note)}</p>')
        parts.append("</section>")
    body = '<div class="koncept-report">\n' + "\n".join(parts) + "\n</div>"
    if not standalone:
        return f"<style>{_PARTS}</style>{body}"
    return (
        '<!DOCTYPE html>\n<html lang="fr">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        # No request may leave the file: the policy forbids every fetch (inline style and SVG
        # need none), so a stray reference fails visibly instead of calling a host.
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; '
        "style-src 'unsafe-inline'; img-src data:\">\n"
        f"<title>{escape(doc.title)}</title>\n<style>{_PAGE}{_PARTS}</style>\n</head>\n"
        f"<body>\n{body}\n</body>\n</html>\n"
    )


def write_html(doc: Document, path: Path) -> None:
    """Write the document as one self-contained HTML file at `path` (atomically)."""
    text = render_html(doc)
    with atomic_file(path) as stream:
        stream.write(text)
