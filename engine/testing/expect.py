"""What a case wants against what it got: every difference, labelled by what is wanted.

How two values compare (a wanted mapping is a subset, numbers by value...) is decided in
`engine.testing.compare`; here each `want` key finds the rows it is compared with: leads and deals
by id; funnel, KPI, payout, payment, budget and strategy rows by their key columns; alerts by
what they say (or that none is raised); errors one for one (an error not wanted is a
difference); statement lines in order.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from engine.testing.compare import Difference, compare, plain, same

__all__ = ["check"]


def check(want: Mapping[str, Any], got: Mapping[str, Any]) -> Iterator[Difference]:
    """Every difference between what a case wants and what the engine gave."""
    for key, wanted in want.items():
        if isinstance(wanted, list) and not wanted and key not in ("alerts", "errors"):
            # An empty list wants no rows at all (a subset of nothing would check nothing).
            rows = list(got[key].values()) if isinstance(got.get(key), Mapping) else got[key]
            if rows:
                yield Difference(key, [], rows, "the case wants no rows")
            continue
        if key in ("lead", "deal"):
            table = got[f"{key}s"]
            rejected = got["record_errors"]
            if len(table) == 1:
                yield from compare(wanted, next(iter(table.values())), key)
            else:
                message = next(iter(rejected.values()), "no result")
                yield Difference(key, wanted, None, f"rejected: {message}")
        elif key in ("leads", "deals"):
            for item in wanted:
                ident = str(item["id"])
                label = f"{key}[{ident}]"
                if ident in got[key]:
                    yield from compare(item, got[key][ident], label)
                else:
                    why = got["record_errors"].get(ident)
                    yield Difference(label, item, None, f"rejected: {why}" if why else "no such id")
        elif key == "error":
            messages = list(got["record_errors"].values())
            if not messages or str(wanted) not in messages[0]:
                yield Difference(
                    "error",
                    wanted,
                    messages[0] if messages else None,
                    "the message does not say it" if messages else "the record is accepted",
                )
        elif key == "funnel":
            yield from _keyed(key, wanted, got[key], ("stage",))
        elif key == "kpis":
            yield from _kpis(wanted, got[key])
        elif key == "payouts":
            yield from _keyed(key, wanted, got[key], ("rep_id", "plan", "period"))
        elif key == "budget":
            yield from _keyed(key, wanted, got[key], ("plan", "period"))
        elif key == "payout_lines":
            keys = ("rep_id", "plan", "period", "measure", "deal_id")
            yield from _keyed(key, wanted, got[key], keys)
        elif key == "payments":
            yield from _keyed(key, wanted, got[key], ("rep_id", "plan", "period"))
        elif key == "strategy":
            yield from _keyed(key, wanted, got[key], ("kind", "name", "strategy"))
        elif key == "alerts":
            yield from _alerts(wanted, got[key])
        elif key == "errors":
            yield from _errors(wanted, got[key])
        elif key == "statement":
            yield from _statement(wanted, got[key])


def _keyed(
    name: str,
    wanted: Sequence[Mapping[str, Any]],
    rows: Sequence[Mapping[str, Any]],
    keys: Sequence[str],
) -> Iterator[Difference]:
    for item in wanted:
        given = [k for k in keys if k in item]
        label = f"{name}[{' '.join(str(plain(item[k])) for k in given)}]"
        matches = [r for r in rows if all(same(item[k], r.get(k)) for k in given)]
        if not matches:
            yield Difference(label, item, None, "no such row")
        elif len(matches) > 1:
            missing = [k for k in keys if k not in item]
            yield Difference(
                label,
                item,
                None,
                f"{len(matches)} rows match: give {' and '.join(missing)}",
            )
        else:
            yield from compare(item, matches[0], label)


def _kpis(
    wanted: Sequence[Mapping[str, Any]], rows: Sequence[Mapping[str, Any]]
) -> Iterator[Difference]:
    for item in wanted:
        rep = item.get("rep_id")
        who = f"rep {rep}" if rep is not None else "team"
        label = f"kpis[{item['kpi']}{' ' + str(item['role']) if 'role' in item else ''} {who}]"
        matches = [
            r
            for r in rows
            if same(item["kpi"], r["kpi"])
            and ("role" not in item or same(item["role"], r["role"]))
            and same(rep, r["rep_id"])
        ]
        if not matches:
            yield Difference(label, item, None, "no such row")
        for row in matches:
            yield from compare(item, row, label)


def _matches(item: Mapping[str, Any], row: Mapping[str, Any], text: Sequence[str]) -> bool:
    for key, value in item.items():
        if key == "raised":
            continue
        if key in text and isinstance(value, str) and row.get(key) is not None:
            if value not in str(row[key]):
                return False
        elif not same(value, row.get(key)):
            return False
    return True


def _alerts(
    wanted: Sequence[Mapping[str, Any]], rows: Sequence[Mapping[str, Any]]
) -> Iterator[Difference]:
    for index, item in enumerate(wanted):
        raised = item.get("raised", True)
        label = f"alerts[{item.get('subject', index)}]"
        found = [r for r in rows if _matches(item, r, ("message",))]
        if raised and not found:
            near = [r for r in rows if same(item.get("subject"), r.get("subject"))]
            yield Difference(label, item, near or rows or None, "not raised")
        elif not raised and found:
            yield Difference(label, item, found, "raised, but the case wants it not raised")


def _errors(
    wanted: Sequence[Mapping[str, Any]], rows: Sequence[Mapping[str, Any]]
) -> Iterator[Difference]:
    free = list(rows)
    for index, item in enumerate(wanted):
        match = next((r for r in free if _matches(item, r, ("message",))), None)
        if match is None:
            yield Difference(f"errors[{index}]", item, free or None, "no such error")
        else:
            free.remove(match)
    for row in free:
        yield Difference("errors[+]", None, row, "an error the case does not want")


def _statement(wanted: Mapping[str, Any], got: Mapping[str, Any]) -> Iterator[Difference]:
    text = str(got["text"])
    lines = [line.strip() for line in text.splitlines()]
    position = 0
    for line in wanted["lines"]:
        target = " ".join(str(line).split())
        found = next(
            (i for i in range(position, len(lines)) if " ".join(lines[i].split()) == target),
            None,
        )
        if found is None:
            yield Difference(
                f"statement[{got['rep']} {got['period']}]",
                "\n".join(wanted["lines"]),
                text,
                f"line not found (in order): {target}",
            )
            return
        position = found + 1
