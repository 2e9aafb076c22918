"""A review written out: text for a terminal, Markdown for a pull-request comment, JSON.

Words are English, like `koncept check` and `eval`'s summaries (a review is read by the
consultant and the developers of the rules); the ruleset's own ids and labels appear as written.
Markdown opens with a summary table, folds details in `<details>`, and never exceeds GitHub's
65,536 characters for a comment: rows that do not fit are left out and counted. The JSON
document follows `schemas/diff.schema.json` (`engine.schemas.diff_schema`).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from engine.diff.impact import Gate, Impact, PayoutChange
from engine.diff.review import Review, RulesetDiff
from engine.money import format_money
from engine.results import error_text

__all__ = ["MARKDOWN_LIMIT", "to_json", "write_json", "write_markdown", "write_text"]

#: GitHub's limit on the body of a comment, in characters.
MARKDOWN_LIMIT = 65_536
#: Lead ids shown per status transition in text and Markdown (JSON has them all).
SHOWN_IDS = 10
#: Rows per table in the terminal (JSON and Markdown have more).
TEXT_ROWS = 20


# ----------------------------------------------------------------------------- numbers
def _amount(value: Decimal | None) -> str:
    return "-" if value is None else f"{Decimal(format_money(value)):,.2f}"


def _delta(value: Decimal) -> str:
    return f"{Decimal(format_money(value)):+,.2f}"


def _percent(value: Decimal | None) -> str:
    return "n/a" if value is None else f"{value * 100:+.2f}%"


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def _kpi_value(value: Any, money: bool) -> str:
    if money and value is not None:
        try:
            return _amount(Decimal(str(value)))
        except ArithmeticError:
            return _cell(value)
    return _cell(value)


def _ids(ids: tuple[str, ...]) -> str:
    shown = ", ".join(ids[:SHOWN_IDS])
    more = len(ids) - SHOWN_IDS
    return shown + (f" and {more:,} more" if more > 0 else "")


# ----------------------------------------------------------------------------- summaries
def _verdict(item: RulesetDiff) -> str:
    if item.status == "error":
        return "does not check in " + " and ".join(sorted(item.problems))
    if item.status in ("added", "removed"):
        return f"ruleset {item.status}"
    if not item.changes:
        return "no change in meaning"
    return f"{len(item.changes):,} change(s) in meaning"


def _pay_line(impact: Impact) -> str:
    paid = impact.paid_after - impact.paid_before
    return (
        f"{len(impact.payouts):,} payout(s) changed; total paid {_amount(impact.paid_before)}"
        f" -> {_amount(impact.paid_after)} ({_delta(paid)})"
    )


def _gate_lines(review: Review) -> list[str]:
    lines: list[str] = []
    tripped = {g.name: g for g in review.tripped}
    for gate in review.gates:
        hit = tripped.get(gate.name)
        name = _gate_name(gate)
        if hit is None:
            lines.append(f"passed: --fail-on {name}")
            continue
        lines.append(f"FAILED: --fail-on {name}")
        lines.extend(f"  {reason}" for reason in hit.reasons[:TEXT_ROWS])
        if len(hit.reasons) > TEXT_ROWS:
            lines.append(f"  ... and {len(hit.reasons) - TEXT_ROWS:,} more")
    return lines


def _gate_name(gate: Gate) -> str:
    if gate.name == "status-flips":
        return f"status-flips={int(gate.limit or 0)}"
    if gate.name == "pay-change" and gate.limit is not None:
        limit = f"{(gate.limit * 100).normalize():f}%" if gate.percent else format_money(gate.limit)
        return f"pay-change (--max-change {limit})"
    return str(gate.name)


# ----------------------------------------------------------------------------- text
def write_text(review: Review) -> str:
    """The review for a terminal."""
    lines = [f"koncept diff {review.base} -> {review.head}"]
    if not review.rulesets:
        lines.append("no ruleset changed")
    for item in review.rulesets:
        lines.append("")
        lines.append(f"{item.path}: {_verdict(item)}")
        for side, text in sorted(item.problems.items()):
            lines.append(f"  {side}:")
            lines.extend(f"    {line}" for line in text.rstrip().splitlines())
        for change in item.changes:
            where = _places(change.before_at, change.after_at)
            lines.append(f"  {change.text()}{where}")
        if item.impact is not None:
            lines.extend(_text_impact(item.impact, item.origin))
    gates = _gate_lines(review)
    if gates:
        lines.append("")
        lines.extend(gates)
    return "\n".join(lines) + "\n"


def _places(before: str | None, after: str | None) -> str:
    if before and after:
        return f"  ({before})" if before == after else f"  ({before} -> {after})"
    return f"  ({before or after})" if before or after else ""


def _text_impact(impact: Impact, origin: str | None) -> list[str]:
    when = f", as of {impact.as_of.isoformat()}" if impact.as_of else ""
    period = f", period {impact.period}" if impact.period else ""
    lines = [f"  impact on {origin}{when}{period}:"]
    if impact.empty:
        lines.append("    no change in results")
    flips = sum(len(t.ids) for t in impact.transitions)
    lines.append(f"    leads: {flips:,} of {impact.leads:,} change status")
    for t in impact.transitions[:TEXT_ROWS]:
        lines.append(f"      {_cell(t.before)} -> {_cell(t.after)}: {len(t.ids):,} ({_ids(t.ids)})")
    lines.append(f"    deals: {len(impact.deal_changes):,} of {impact.deals:,} change")
    for d in impact.deal_changes[:TEXT_ROWS]:
        moves = "; ".join(f"{k} {_cell(a)} -> {_cell(b)}" for k, (a, b) in d.changes.items())
        lines.append(f"      {d.id}: {moves}")
    _more(lines, len(impact.deal_changes))
    lines.append(f"    KPIs: {len(impact.kpis):,} value(s) change")
    for k in impact.kpis[:TEXT_ROWS]:
        who = k.rep_id or f"team {k.role}" if k.role else k.rep_id or "all"
        lines.append(
            f"      {k.kpi} ({who}): {_kpi_value(k.before, k.money)}"
            f" -> {_kpi_value(k.after, k.money)}"
        )
    _more(lines, len(impact.kpis))
    raised = sum(1 for a in impact.alerts if a.change == "raised")
    lines.append(f"    alerts: {raised:,} raised, {len(impact.alerts) - raised:,} cleared")
    for a in impact.alerts[:TEXT_ROWS]:
        lines.append(f"      {a.change}: {a.message}")
    _more(lines, len(impact.alerts))
    lines.append(f"    payouts: {_pay_line(impact)}")
    for p in impact.payouts[:TEXT_ROWS]:
        lines.append(
            f"      {p.rep_id} {p.plan} {p.period}: {_amount(p.before)} -> {_amount(p.after)}"
            f" ({_delta(p.delta)}, {_percent(p.percent)}){'' if p.paid else ' [compared]'}"
        )
    _more(lines, len(impact.payouts))
    lines.append(f"    budget: {len(impact.budget):,} plan period(s) change")
    for b in impact.budget[:TEXT_ROWS]:
        guard = f", guardrail {b.guardrail}" if b.guardrail else ""
        breach = f", above guardrail {_cell(b.alert_before)} -> {_cell(b.alert_after)}"
        lines.append(
            f"      {b.plan} {b.period}: {_amount(b.before)} -> {_amount(b.after)}"
            f" ({_delta(b.delta)}) of budget {_amount(b.budget_after)}{guard}{breach}"
        )
    _more(lines, len(impact.budget))
    invalid = [e for e in impact.errors_after if e and e[0] != "payouts"]
    if invalid:
        lines.append(f"    {len(invalid):,} invalid input row(s), left out of both evaluations:")
        for row in invalid[:5]:
            lines.append(f"      {error_text(*row[:5])}")
        _more(lines, len(invalid), 5)
    return lines


def _more(lines: list[str], count: int, shown: int = TEXT_ROWS) -> None:
    if count > shown:
        lines.append(f"      ... and {count - shown:,} more (--format json lists them all)")


# ----------------------------------------------------------------------------- Markdown
class _Page:
    """Markdown lines under a size limit: rows past it are counted, not written."""

    def __init__(self, limit: int) -> None:
        self.lines: list[str] = []
        self.size = 0
        self.limit = limit
        self.left_out = 0

    def add(self, line: str, *, needed: bool = False) -> bool:
        if not needed and self.size + len(line) + 1 > self.limit:
            self.left_out += 1
            return False
        self.lines.append(line)
        self.size += len(line) + 1
        return True

    def rows(self, rows: Iterable[str]) -> None:
        for row in rows:
            self.add(row)


def _md(text: str) -> str:
    """Text safe in a table cell."""
    return text.replace("|", "\\|").replace("\n", " ")


def write_markdown(review: Review, limit: int | None = None) -> str:
    """The review as a pull-request comment: summary table, gates, then folded details; at
    most `limit` characters (GitHub's `MARKDOWN_LIMIT` unless given)."""
    limit = MARKDOWN_LIMIT if limit is None else limit
    # Room kept for the closing tags and the note on what was left out.
    page = _Page(limit - 600)
    page.add(f"### koncept diff: `{review.base}` → `{review.head}`", needed=True)
    page.add("", needed=True)
    if not review.rulesets:
        page.add("No ruleset changed.", needed=True)
    else:
        page.add(
            "| Ruleset | Meaning | Status flips | Deals | KPIs | Alerts | Payouts | Pay Δ"
            " | Budget over guardrail |",
            needed=True,
        )
        page.add("|---|---|--:|--:|--:|--:|--:|--:|--:|", needed=True)
        for item in review.rulesets:
            page.add(_summary_row(item))
    gates = _gate_lines(review)
    if gates:
        page.add("", needed=True)
        for line in gates:
            if line.startswith("  "):
                page.add(f"  - {_md(line.strip())}")
            else:
                mark = "❌" if line.startswith("FAILED") else "✅"
                page.add(f"- {mark} {line}", needed=True)
    for item in review.rulesets:
        _md_ruleset(page, item)
    lines = page.lines
    if page.left_out:
        lines.append("")
        lines.append(
            f"_{page.left_out:,} line(s) left out to stay under GitHub's {limit:,}-character "
            "limit; `koncept diff --format json` lists everything._"
        )
    text = "\n".join(lines) + "\n"
    return text if len(text) <= limit else text[: limit - 2] + "\n"


def _summary_row(item: RulesetDiff) -> str:
    impact = item.impact
    if impact is None:
        rest = " - | - | - | - | - | - | - |"
    else:
        flips = sum(len(t.ids) for t in impact.transitions)
        raised = sum(1 for a in impact.alerts if a.change == "raised")
        cleared = len(impact.alerts) - raised
        rest = (
            f" {flips:,} | {len(impact.deal_changes):,} | {len(impact.kpis):,} |"
            f" +{raised:,} / -{cleared:,} | {len(impact.payouts):,} |"
            f" {_delta(impact.paid_after - impact.paid_before)} | {len(impact.breaches):,} |"
        )
    return f"| `{item.path}` | {_md(_verdict(item))} |{rest}"


def _md_ruleset(page: _Page, item: RulesetDiff) -> None:
    if not (item.changes or item.problems or item.impact):
        return
    page.add("", needed=True)
    page.add(f"#### `{item.path}`: {_md(_verdict(item))}", needed=True)
    for side, text in sorted(item.problems.items()):
        page.add(f"<details><summary>{side}: diagnostics</summary>", needed=True)
        page.add("", needed=True)
        page.add("```", needed=True)
        page.rows(text.rstrip().splitlines())
        page.add("```", needed=True)
        page.add("</details>", needed=True)
    if item.changes:
        page.add("", needed=True)
        page.add(
            f"<details><summary>Changes in meaning ({len(item.changes):,})</summary>", needed=True
        )
        page.add("", needed=True)
        for change in item.changes:
            page.add(f"- {_md(change.text())}{_places(change.before_at, change.after_at)}")
        page.add("", needed=True)
        page.add("</details>", needed=True)
    if item.impact is not None:
        _md_impact(page, item.impact, item.origin)


def _table(page: _Page, title: str, head: list[str], rows: Iterable[list[str]]) -> None:
    page.add("", needed=True)
    page.add(f"<details><summary>{_md(title)}</summary>", needed=True)
    page.add("", needed=True)
    page.add("| " + " | ".join(head) + " |", needed=True)
    page.add("|" + "|".join("---" for _ in head) + "|", needed=True)
    page.rows("| " + " | ".join(_md(c) for c in row) + " |" for row in rows)
    page.add("", needed=True)
    page.add("</details>", needed=True)


def _md_impact(page: _Page, impact: Impact, origin: str | None) -> None:
    when = f", as of {impact.as_of.isoformat()}" if impact.as_of else ""
    period = f", period {impact.period}" if impact.period else ""
    page.add("", needed=True)
    page.add(
        f"Impact on {_md(origin or 'the data')}{when}{period}: {_pay_line(impact)}.", needed=True
    )
    if impact.payouts:
        _table(
            page,
            f"Payouts: {len(impact.payouts):,} changed",
            ["Rep", "Plan", "Period", "Before", "After", "Δ", "Δ %"],
            ([p.rep_id, p.plan + ("" if p.paid else " (compared)"), p.period, _amount(p.before),
              _amount(p.after), _delta(p.delta), _percent(p.percent)] for p in impact.payouts),
        )  # fmt: skip
    if impact.budget:
        _table(
            page,
            f"Budget: {len(impact.budget):,} plan period(s) changed",
            ["Plan", "Period", "Before", "After", "Δ", "Budget", "Guardrail", "Over"],
            ([b.plan, b.period, _amount(b.before), _amount(b.after), _delta(b.delta),
              _amount(b.budget_after), b.guardrail or "-",
              f"{_cell(b.alert_before)} → {_cell(b.alert_after)}"] for b in impact.budget),
        )  # fmt: skip
    if impact.transitions:
        flips = sum(len(t.ids) for t in impact.transitions)
        _table(
            page,
            f"Leads: {flips:,} of {impact.leads:,} change status",
            ["From", "To", "Leads", "Ids"],
            ([_cell(t.before), _cell(t.after), f"{len(t.ids):,}", _ids(t.ids)]
             for t in impact.transitions),
        )  # fmt: skip
    if impact.deal_changes:
        _table(
            page,
            f"Deals: {len(impact.deal_changes):,} of {impact.deals:,} change",
            ["Deal", "Changes"],
            ([d.id, "; ".join(f"{k} {_cell(a)} → {_cell(b)}" for k, (a, b) in d.changes.items())]
             for d in impact.deal_changes),
        )  # fmt: skip
    if impact.kpis:
        _table(
            page,
            f"KPIs: {len(impact.kpis):,} value(s) change",
            ["KPI", "Role", "Rep", "Before", "After"],
            ([k.kpi, _cell(k.role), k.rep_id or "team", _kpi_value(k.before, k.money),
              _kpi_value(k.after, k.money)] for k in impact.kpis),
        )  # fmt: skip
    if impact.alerts:
        _table(
            page,
            f"Alerts: {len(impact.alerts):,} raised or cleared",
            ["Change", "Alert"],
            ([a.change, a.message] for a in impact.alerts),
        )


# ----------------------------------------------------------------------------- JSON
def _money_json(value: Decimal | None) -> str | None:
    return None if value is None else format_money(value)


def _share(value: Decimal | None) -> str | None:
    return None if value is None else f"{value:.6f}"


def _plain(value: Any, money: bool = False) -> Any:
    """A result cell as JSON, as `koncept eval` writes it (money as a two-place string)."""
    from engine.output import to_json as cell_json

    return cell_json(value, money)


def _payout_json(p: PayoutChange) -> dict[str, Any]:
    return {
        "rep_id": p.rep_id, "plan": p.plan, "period": p.period, "paid": p.paid,
        "before": _money_json(p.before), "after": _money_json(p.after),
        "delta": format_money(p.delta), "percent": _share(p.percent),
    }  # fmt: skip


def _impact_json(impact: Impact, origin: str | None) -> dict[str, Any]:
    return {
        "data": origin,
        "as_of": impact.as_of.isoformat() if impact.as_of else None,
        "period": impact.period,
        "leads": {
            "count": impact.leads,
            "transitions": [
                {"from": t.before, "to": t.after, "count": len(t.ids), "ids": list(t.ids)}
                for t in impact.transitions
            ],
        },
        "deals": {
            "count": impact.deals,
            "changes": [
                {
                    "id": d.id,
                    "changes": {
                        k: {"before": _plain(a), "after": _plain(b)}
                        for k, (a, b) in d.changes.items()
                    },
                }
                for d in impact.deal_changes
            ],
        },
        "kpis": [
            {
                "kpi": k.kpi,
                "role": k.role,
                "rep_id": k.rep_id,
                "before": _plain(k.before, k.money),
                "after": _plain(k.after, k.money),
                "met_before": k.met_before,
                "met_after": k.met_after,
            }
            for k in impact.kpis
        ],
        "alerts": [
            {
                "change": a.change,
                "kind": a.kind,
                "subject": a.subject,
                "id": a.id,
                "message": a.message,
                "severity": a.severity,
            }
            for a in impact.alerts
        ],
        "payouts": {
            "total_before": format_money(impact.paid_before),
            "total_after": format_money(impact.paid_after),
            "delta": format_money(impact.paid_after - impact.paid_before),
            "changes": [_payout_json(p) for p in impact.payouts],
        },
        "budget": [
            {
                "plan": b.plan,
                "period": b.period,
                "before": _money_json(b.before),
                "after": _money_json(b.after),
                "delta": format_money(b.delta),
                "budget_before": _money_json(b.budget_before),
                "budget_after": _money_json(b.budget_after),
                "guardrail": b.guardrail,
                "alert_before": b.alert_before,
                "alert_after": b.alert_after,
                "message": b.message,
            }
            for b in impact.budget
        ],
        "errors": [
            {
                "table": e[0],
                "row": _plain(e[1]),
                "column": e[2],
                "value": _plain(e[3]),
                "message": e[4],
                "text": error_text(*e[:5]),
            }
            for e in impact.errors_after
        ],
    }


def to_json(review: Review) -> dict[str, Any]:
    """The review as one JSON document (`schemas/diff.schema.json`)."""
    return {
        "base": review.base,
        "head": review.head,
        "failed": review.failed,
        "rulesets": [
            {
                "path": item.path,
                "status": item.status,
                "changes": [
                    {
                        "kind": c.kind,
                        "where": list(c.where),
                        "what": c.what,
                        "before": c.before,
                        "after": c.after,
                        "before_at": c.before_at,
                        "after_at": c.after_at,
                        "text": c.text(),
                    }
                    for c in item.changes
                ],
                "diagnostics": dict(sorted(item.problems.items())),
                "impact": None if item.impact is None else _impact_json(item.impact, item.origin),
            }
            for item in review.rulesets
        ],
        "gates": [
            {
                "gate": _gate_name(g),
                "tripped": g.name in {t.name for t in review.tripped},
                "reasons": next((list(t.reasons) for t in review.tripped if t.name == g.name), []),
            }
            for g in review.gates
        ],
    }


def write_json(review: Review, *, ascii_only: bool = False) -> str:
    """The JSON document as text."""
    return json.dumps(to_json(review), indent=2, ensure_ascii=ascii_only) + "\n"
