"""Reports people read: a `Document` (sections of paragraphs, tables and charts) built once,
written as a self-contained HTML page (`html`), a typed workbook (`xlsx`) or exact JSON
(`document.to_json`); and the ritual reports of a ruleset (`rituals`)."""

from engine.report.document import Chart, Column, Document, Section, Series, Table, to_json

__all__ = ["Chart", "Column", "Document", "Section", "Series", "Table", "to_json"]
