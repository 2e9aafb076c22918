"""The strategy measured (`engine.vector.strategy`): its table against a plain pandas
computation of the documented semantics on drawn deals, its alerts, the output formats, the
checker's findings on a strategy that cannot be measured, and the formatter's `tolerance`."""

from __future__ import annotations

import datetime as dt
import io
import json
import random
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import Any

import openpyxl
import pandas as pd
import pytest

import engine
from dsl.formatter import format_text
from dsl.parser import parse
from dsl.source import SourceFile
from engine.output import write_csv, write_json, write_xlsx

RULESET = """\
ruleset s "Stratégie" { currency EUR }
record deal {
  sector one_of industrie, services, autre
  channel one_of direct, partner
}
strategy "De 5M€ à 8M€" {
  target revenue 8M€ from 5M€
  growth new_logo 60% when type == new_logo and amount > 50K
  growth upsell 40% when type == upsell and amount > 20K
  focus sector in [industrie, services]
  channel direct 90%
  channel partner 10%
  tolerance 5 pts
}
"""
AS_OF = dt.date(2026, 12, 31)


@pytest.fixture(scope="module")
def program() -> engine.Program:
    return engine.load_text(RULESET, strict=True)


def _deals(seed: int, count: int) -> pd.DataFrame:
    """Deals of every kind: types, amounts around the growth thresholds, statuses, close dates
    over two years, sectors and channels sometimes missing."""
    draw = random.Random(seed)
    rows = []
    for i in range(count):
        amount = draw.choice([None, "20000", "20000.01", "50000", "50000.01"])
        amount = amount or (f"{draw.randint(1, 300_000)}.{draw.randint(0, 99):02d}")
        if draw.random() < 0.05:
            amount = None
        rows.append(
            {
                "id": f"D{i}",
                "type": draw.choice(["new_logo", "upsell", "renewal", None]),
                "amount": amount,
                "status": draw.choice(["won", "won", "lost", "open"]),
                "close_date": (
                    dt.date(2025, 1, 1) + dt.timedelta(days=draw.randint(0, 729))
                ).isoformat(),
                "sector": draw.choice(["industrie", "services", "autre", None]),
                "channel": draw.choice(["direct", "direct", "partner", None]),
            }
        )
    return pd.DataFrame(rows, dtype=object)


def _expected(deals: pd.DataFrame, period: str | None) -> dict[tuple[str, str], dict[str, Any]]:
    """The documented semantics, computed independently: plain pandas and Fractions."""
    frame = deals.copy()
    frame["cents"] = [
        None if a is None else int(Decimal(a) * 100) for a in frame["amount"].tolist()
    ]
    won = frame[(frame["status"] == "won") & frame["cents"].notna()]
    share_of_year = Fraction(1)
    if period is not None:
        starts = {
            "2026-Q2": ("2026-04-01", "2026-06-30", 4),
            "2026": ("2026-01-01", "2026-12-31", 1),
        }
        first, last, per_year = starts[period]
        won = won[(won["close_date"] >= first) & (won["close_date"] <= last)]
        share_of_year = Fraction(1, per_year)

    def cents(rows: pd.DataFrame) -> int:
        return int(sum(int(c) for c in rows["cents"]))

    new_logo = won[(won["type"] == "new_logo") & (won["cents"] > 5_000_000)]
    upsell = won[(won["type"] == "upsell") & (won["cents"] > 2_000_000)]
    growth = cents(new_logo) + cents(upsell)
    focus_known = won[won["sector"].notna()]
    channel_known = won[won["channel"].notna()]
    tolerance = Fraction(5, 100)

    def share(part: int, base: int, target: Fraction | None) -> dict[str, Any]:
        if base == 0:
            return {"actual": None, "status": None}
        actual = Fraction(part, base)
        status = None
        if target is not None:
            status = "on_track" if abs(actual - target) <= tolerance else "off"
        return {"actual": actual, "status": status}

    target = Fraction(8_000_000) * share_of_year
    revenue = Fraction(cents(won), 100)
    return {
        ("revenue", "revenue"): {
            "target": target,
            "actual": revenue,
            "status": "on_track" if revenue >= target * (1 - tolerance) else "off",
        },
        ("growth", "new_logo"): share(cents(new_logo), growth, Fraction(6, 10)),
        ("growth", "upsell"): share(cents(upsell), growth, Fraction(4, 10)),
        ("focus", "sector in [industrie, services]"): share(
            cents(focus_known[focus_known["sector"].isin(["industrie", "services"])]),
            cents(focus_known),
            None,
        ),
        ("channel", "direct"): share(
            cents(channel_known[channel_known["channel"] == "direct"]),
            cents(channel_known),
            Fraction(9, 10),
        ),
        ("channel", "partner"): share(
            cents(channel_known[channel_known["channel"] == "partner"]),
            cents(channel_known),
            Fraction(1, 10),
        ),
    }


def _close(got: Any, want: Fraction | None) -> bool:
    """An engine figure (exact to 80 digits) equal to the exact fraction."""
    if want is None or got is None:
        return got is None and want is None
    return abs(Fraction(Decimal(got)) - want) < Fraction(1, 10**70)


@pytest.mark.parametrize(("seed", "period"), [(1, "2026-Q2"), (2, "2026"), (3, None), (4, "2026")])
def test_strategy_table_is_the_documented_computation(
    program: engine.Program, seed: int, period: str | None
) -> None:
    deals = _deals(seed, 400)
    results = program.evaluate(deals=deals, as_of=AS_OF, period=period)
    want = _expected(deals, period)
    rows = results.tables()["strategy"].to_dict("records")
    assert [(r["kind"], r["name"]) for r in rows] == list(want)
    for row in rows:
        expected = want[(row["kind"], row["name"])]
        assert _close(row["actual"], expected["actual"]), row
        assert row["status"] == expected["status"], row
        assert row["strategy"] == "De 5M€ à 8M€"
        assert row["tolerance"] == Decimal("0.05")
        if row["actual"] is not None and row["target"] is not None:
            assert Fraction(row["gap"]) == Fraction(row["actual"]) - Fraction(row["target"])
    revenue = rows[0]
    assert Fraction(revenue["target"]) == want[("revenue", "revenue")]["target"]
    statuses = {r["status"] for r in rows}
    assert "off" in statuses or "on_track" in statuses


def test_each_line_off_raises_one_french_alert(program: engine.Program) -> None:
    deals = pd.DataFrame(
        [
            {"id": "N1", "type": "new_logo", "amount": "450000", "status": "won",
             "close_date": "2026-05-02", "sector": "industrie", "channel": "direct"},
            {"id": "U1", "type": "upsell", "amount": "550000", "status": "won",
             "close_date": "2026-05-03", "sector": "autre", "channel": "partner"},
        ]
    )  # fmt: skip
    results = program.evaluate(deals=deals, as_of=AS_OF, period="2026-Q2")
    alerts = results.alerts[results.alerts["kind"] == "strategy"].to_dict("records")
    assert [a["subject"] for a in alerts] == [
        "revenue revenue",
        "growth new_logo",
        "growth upsell",
        "channel direct",
        "channel partner",
    ]
    assert alerts[1]["message"] == (
        "Stratégie « De 5M€ à 8M€ » : part de la croissance new_logo 45,0 % pour une cible de "
        "60,0 % (écart -15,0 pts, tolérance 5,0 pts)"
    )
    assert alerts[0]["message"] == (
        "Stratégie « De 5M€ à 8M€ » : chiffre d'affaires revenue 1 000 000,00 EUR pour une "
        "cible de 2 000 000,00 EUR (écart -1 000 000,00 EUR, tolérance 5,0 pts)"
    )
    assert {a["id"] for a in alerts} == {"De 5M€ à 8M€"}
    assert {a["severity"] for a in alerts} == {"warning"}


def test_without_deals_there_is_no_strategy_row(program: engine.Program) -> None:
    results = program.evaluate(leads=pd.DataFrame([{"id": "L1"}]), as_of=AS_OF)
    assert results.strategy is not None and results.strategy.empty
    assert list(results.tables()["strategy"].columns) == [
        "strategy", "kind", "name", "target", "actual", "gap", "tolerance", "status",
    ]  # fmt: skip


def test_every_output_format_carries_the_strategy(program: engine.Program, tmp_path: Path) -> None:
    deals = _deals(5, 40)
    results = program.evaluate(deals=deals, as_of=AS_OF, period="2026")
    stream = io.StringIO()
    write_json(results, stream)
    rows = json.loads(stream.getvalue())["strategy"]
    assert rows[0]["kind"] == "revenue" and rows[0]["target"] == "8000000.00"
    assert isinstance(rows[0]["actual"], str)  # money: an exact two-place string
    assert rows[1]["target"] == 0.6 and isinstance(rows[1]["actual"], float | int | None)
    write_csv(results, tmp_path)
    text = (tmp_path / "strategy.csv").read_text(encoding="utf-8").splitlines()
    assert text[0] == "strategy,kind,name,target,actual,gap,tolerance,status"
    assert text[1].startswith("De 5M€ à 8M€,revenue,revenue,8000000.00,")
    write_xlsx(results, tmp_path / "out.xlsx")
    sheet = openpyxl.load_workbook(tmp_path / "out.xlsx")["strategy"]
    revenue, growth = (list(r) for r in sheet.iter_rows(min_row=2, max_row=3))
    assert revenue[3].value == 8_000_000 and "€" in revenue[3].number_format
    assert growth[3].value == pytest.approx(0.6) and growth[3].number_format == "0.00%"
    assert growth[6].number_format == "0.00%"  # the tolerance


# ----------------------------------------------------------------------------- checker
def _findings(body: str, deal: str = "sector text\n  channel one_of direct, partner") -> list[str]:
    text = f"ruleset s {{ currency EUR }}\nrecord deal {{\n  {deal}\n}}\nstrategy {{\n{body}\n}}\n"
    with pytest.raises(engine.RulesetError) as raised:
        engine.load_text(text, "s.krl", strict=True)
    return [
        f"{d.code} {d.span.line}:{d.span.column} {d.message} | {d.help}"
        for d in raised.value.diagnostics
    ]


def test_a_channel_needs_a_channel_field_on_deals() -> None:
    [found] = _findings("  channel direct 100%", deal="sector text")
    assert found.startswith("E201 6:3 unknown field `channel` on deal | ")
    assert "record deal { channel one_of direct, partner }" in found


def test_a_channel_names_a_value_of_the_field() -> None:
    [found] = _findings("  channel direkt 100%")
    assert found == ("E209 7:11 unknown value `direkt` for `deal.channel` | did you mean `direct`?")


def test_a_share_over_100_percent_and_mixes_that_do_not_add_up() -> None:
    found = _findings(
        "  growth new_logo 160% when type == new_logo\n  channel direct 70%\n  tolerance 101 pts"
    )
    assert found[0].startswith(
        "W506 7:3 the growth shares add up to 160% (160%), not 100% | "
        "a mix is measured between its lines, so its shares add up to 100% (60 points too many)"
    )
    assert found[1].startswith("E410 7:19 growth `new_logo` is 160% of the growth")
    assert found[2].startswith("W506 8:3 the channel shares add up to 70% (70%), not 100% |")
    assert "(30 points to share out)" in found[2]
    assert found[3].startswith("E410 9:13 a tolerance of 101 pts is more than 100 points")


def test_a_condition_that_cannot_be_read_on_deals() -> None:
    found = _findings(
        "  growth x 100% when attainment(bookings) > 1\n  focus secteur == industrie\n"
        "  target bookings 8M from 5M\n  target revenue 0 from 5M"
    )
    assert [f.split(" |")[0] for f in found] == [
        "E214 7:22 `attainment` is not available here",
        "E201 8:9 unknown field `secteur` on deal",
        "E212 9:10 unknown strategy measure `bookings`",
        "E409 10:18 a revenue target of 0 cannot be reached or missed",
    ]
    assert found[1].endswith("did you mean `sector`?")


def test_a_line_or_the_tolerance_written_twice() -> None:
    found = _findings(
        "  channel direct 100%\n  channel direct 100%\n  tolerance 5 pts\n  tolerance 5 pts"
    )
    assert [f.split(" |")[0] for f in found] == [
        "E207 8:3 the strategy measures `direct` twice",
        "W506 8:3 the channel shares add up to 200% (100% + 100%), not 100%",
        "E108 10:3 the strategy's tolerance is given twice",
    ]


# ----------------------------------------------------------------------------- formatter
def test_tolerance_is_formatted_canonically_and_round_trips() -> None:
    messy = "ruleset s { currency EUR }\nstrategy {channel direct 100%,tolerance   2.5    pts}\n"
    formatted = format_text(messy, "s.krl").output
    assert formatted is not None
    assert "  channel direct 100%\n  tolerance 2.5 pts\n}" in formatted
    assert format_text(formatted, "s.krl").output == formatted
    module = parse(SourceFile("s.krl", formatted)).module
    assert module is not None
    strategy = module.declarations[1]
    assert strategy.items[-1].points.value == Decimal("2.5")  # type: ignore[union-attr]
