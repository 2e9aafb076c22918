"""Pay over time: payments with true-ups, draws, clawbacks and plan versions.

The worked examples are fixtures of docs/examples/pay-over-time (run here with `koncept test`,
which checks both pay paths equal); these tests add the checker's refusals, the payment
arithmetic's properties on random data, and the table path against the reference.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.cli.main import main
from engine.loader import RulesetError, load_text
from engine.pay.format import payment_row
from engine.pay.reference import payments_of
from engine.periods import parse_period

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "docs" / "examples" / "pay-over-time"

HEADER = """ruleset t { currency EUR  rounding half_up 0.01 }
role AE { mission "x" }
"""


def _plan(body: str, head: str = "period quarter\n  pays monthly") -> str:
    return HEADER + (
        "plan q for AE {\n  effective 2026-01-01 to 2026-12-31\n  " + head + "\n  " + body + "\n"
        "  measure bookings { credit amount of deals where status == won  quota bookings\n"
        "    rates method retroactive { [0%, 100%) 10%  [100%, 120%) 15%  [120%, ...) 20% } }\n"
        "}\n"
    )


def _refusal(text: str) -> str:
    """The diagnostics `koncept check` prints for a ruleset that must not load."""
    with pytest.raises(RulesetError) as caught:
        load_text(text)
    return caught.value.render()


def test_the_worked_examples_pass_on_both_paths(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["test", str(EXAMPLE)]) == 0
    out = capsys.readouterr().out
    assert "8 cases in 2 files: 8 passed" in out


@pytest.mark.parametrize(
    ("head", "body", "message"),
    [
        ("period month\n  pays quarterly", "", "measures per month but pays quarterly"),
        ("period quarter\n  pays weekly", "", "unknown payment frequency `weekly`"),
        ("period quarter\n  pays monthly", "true_up recovr", "did you mean"),
        ("period quarter", "draw 0 recoverable", "a draw guarantees a positive amount"),
        ("period quarter", "draw 100 recoverable up to 150%", "at most 100% of a payment"),
        ("period quarter", "draw 100 non_recoverable up to 50%", "never recovered"),
        ("period quarter", "clawback within 0 days full", "whole number of days"),
        ("period quarter", "clawback within 90 days partial", "unknown clawback mode `partial`"),
        ("period quarter\n  pays monthly\n  pays monthly", "", "2 `pays` lines"),
    ],
)
def test_the_checker_refuses_what_cannot_be_paid(head: str, body: str, message: str) -> None:
    assert message in _refusal(_plan(body, head))


def test_a_true_up_without_payments_is_a_warning() -> None:
    program = load_text(_plan("true_up floor", "period quarter"))
    assert [d.code for d in program.diagnostics] == ["W509"]


def test_a_draw_on_a_plan_computed_beside_another_is_refused() -> None:
    text = (
        HEADER.replace('role AE { mission "x" }', 'role AE { mission "x"  plan a, b }')
        + """
plan a for AE { period quarter  measure m { credit amount of deals  commission 5% } }
plan b for AE { period quarter  draw 500 recoverable
  measure m { credit amount of deals  commission 6% } }
"""
    )
    assert "makes no payment" in _refusal(text)


@pytest.mark.parametrize(
    ("second", "message"),
    [
        ("supersedes a from 2027-02-01 split by close_date", "does not start inside it"),
        ("supersedes a from 2026-07-01 split by weeks", "unknown version split `weeks`"),
        ("supersedes zz from 2026-07-01 split by days", "unknown plan `zz`"),
        ("supersedes a from 2026-07-01 split by days\n  pays monthly", "pay differently"),
        (
            "supersedes a from 2026-07-01 split by days\n  effective 2026-06-01 to 2026-12-31",
            "would overlap",
        ),
    ],
)
def test_versions_are_checked(second: str, message: str) -> None:
    text = (
        HEADER
        + f"""
plan a for AE {{ effective 2026-01-01 to 2026-12-31  period year
  measure m {{ credit amount of deals  commission 5% }} }}
plan b for AE {{ {second}
  period year
  measure m {{ credit amount of deals  commission 6% }} }}
"""
    )
    assert message in _refusal(text)


def test_two_plans_superseding_each_other_are_a_cycle() -> None:
    text = (
        HEADER
        + """
plan a for AE { supersedes b from 2026-07-01 split by days  period year
  measure m { credit amount of deals  commission 5% } }
plan b for AE { supersedes a from 2026-07-01 split by days  period year
  measure m { credit amount of deals  commission 6% } }
"""
    )
    assert "comes after it" in _refusal(text)


def test_a_month_of_a_quarterly_plan_is_refused_unless_it_pays_monthly() -> None:
    deals = pd.DataFrame(
        [{"id": "D1", "rep_id": "A1", "amount": "60000", "close_date": "2026-01-15",
          "status": "won"}]
    )  # fmt: skip
    reps = pd.DataFrame([{"id": "A1", "role": "AE"}])
    quotas = pd.DataFrame(
        [{"rep_id": "A1", "period": "2026-Q1", "measure": "bookings", "quota": "100000"}]
    )
    quarterly = load_text(_plan("", "period quarter"))
    refused = quarterly.evaluate(deals=deals, reps=reps, quotas=quotas, period="2026-01")
    assert refused.payments is not None and refused.payments.empty
    assert "pays per quarter: ask for a quarter" in " ".join(refused.errors["message"])
    monthly = load_text(_plan(""))
    paid = monthly.evaluate(deals=deals, reps=reps, quotas=quotas, period="2026-01")
    assert paid.payments is not None
    assert paid.payments[["period", "payment"]].values.tolist() == [["2026-01", "6000.00"]]


# ----------------------------------------------------------------------------- properties
_MONTH_DAYS = {1: 31, 2: 28, 3: 31}


def _deals_of(deals: list[tuple[int, int, int, str]]) -> pd.DataFrame:
    """Rep A1's deals (month, day, cents, status) of 2026 as text cells."""
    return pd.DataFrame(
        [
            {"id": f"D{i}", "rep_id": "A1", "amount": f"{cents / 100:.2f}",
             "close_date": dt.date(2026, month, day).isoformat(), "status": status}
            for i, (month, day, cents, status) in enumerate(deals)
        ],
        columns=["id", "rep_id", "amount", "close_date", "status"],
    )  # fmt: skip


_DEALS = st.lists(
    st.tuples(
        st.integers(1, 3),  # month
        st.integers(1, 28),  # day
        st.integers(0, 9_000_000),  # cents
        st.sampled_from(["won", "won", "won", "lost"]),
    ),
    max_size=12,
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    deals=_DEALS,
    method=st.sampled_from(["retroactive", "marginal"]),
    quota=st.integers(1, 200_000),
    draw=st.sampled_from(["", "draw 2000 recoverable up to 50%", "draw 1500 non_recoverable"]),
)
def test_payments_add_up_to_what_is_due_and_both_paths_agree(
    deals: list[tuple[int, int, int, str]], method: str, quota: int, draw: str
) -> None:
    """Over a quarter paid monthly (true_up recover), the payments add up to the quarter's
    payout plus the draw's top-ups less what it recovered; the reference path gives the same
    rows as the table path."""
    text = _plan(f"true_up recover\n  {draw}").replace("retroactive", method)
    program = load_text(text)
    frame = _deals_of(deals)
    reps = pd.DataFrame([{"id": "A1", "role": "AE"}])
    quotas = pd.DataFrame(
        [{"rep_id": "A1", "period": "2026-Q1", "measure": "bookings", "quota": str(quota)}]
    )
    results = program.evaluate(deals=frame, reps=reps, quotas=quotas, period="2026-Q1")
    assert results.payments is not None
    table = results.payments.to_dict("records")
    assert [row["period"] for row in table] == ["2026-01", "2026-02", "2026-03"]
    due = Decimal(results.payouts["payout"].iloc[0])
    draws = sum(Decimal(row["draw"]) for row in table)
    assert sum(Decimal(row["payment"]) for row in table) == due + draws
    assert Decimal(table[-1]["due_to_date"]) == due
    inputs = program.validate(deals=frame, reps=reps, quotas=quotas)
    found, _ = program.pay_each(inputs, parse_period("2026-Q1"))
    reference = [payment_row(line) for line in payments_of(program.book, found).lines]
    assert reference == [{k: v for k, v in row.items()} for row in table]


@settings(max_examples=40, deadline=None)
@given(
    dues=st.lists(st.integers(-500_000, 2_000_000), min_size=6, max_size=6),
    policy=st.sampled_from(["recover", "floor", "carry_forward"]),
)
def test_what_each_policy_does_with_a_due_that_goes_down(dues: list[int], policy: str) -> None:
    """Two quarters paid monthly whose due to date moves up and down: `recover` pays each
    quarter exactly what it owes; `floor` never pays a negative amount and writes off, at a
    quarter's end, what it paid beyond the due; `carry_forward` carries it into the next
    quarter's payments instead, and what is still owed at the end is the difference."""
    from engine.pay.payments import settle
    from engine.pay.schedule import Window

    program = load_text(_plan(f"true_up {policy}"))
    plan = program.book.plans["q"]
    steps = []
    for index, due in enumerate(dues):
        quarter = parse_period(f"2026-Q{index // 3 + 1}")
        month = parse_period(f"2026-{index + 1:02d}")
        window = Window(quarter, month, True, index % 3 == 2)
        steps.append((window, Decimal(due) / 100, Decimal(0), None))
    lines = settle(plan, "A1", steps)
    first, second = lines[:3], lines[3:]
    due_first, due_second = Decimal(dues[2]) / 100, Decimal(dues[5]) / 100
    paid_first = sum((line.payment for line in first), Decimal(0))
    paid_second = sum((line.payment for line in second), Decimal(0))
    if policy == "recover":
        assert (paid_first, paid_second) == (due_first, due_second)
        return
    assert all(line.payment >= 0 for line in lines)
    if policy == "floor":
        assert paid_first == due_first + first[-1].written_off
        assert paid_second == due_second + second[-1].written_off
        assert first[-1].carried == second[-1].carried == 0
    else:
        assert all(line.written_off == 0 for line in lines)
        assert paid_first + paid_second == due_first + due_second + second[-1].carried


_VERSIONED = (
    HEADER
    + """
plan a for AE { effective 2026-01-01 to 2026-12-31  period quarter  pays monthly
  clawback within 60 days prorata
  measure bookings { credit amount of deals where status == won  quota bookings
    rates method marginal { [0%, 100%) 10%  [100%, ...) 15% } } }
plan b for AE { supersedes a from 2026-02-15 split by SPLIT  period quarter  pays monthly
  clawback within 60 days prorata
  measure bookings { credit amount of deals where status == won  quota bookings
    rates method retroactive { [0%, 100%) 12%  [100%, ...) 18% } } }
"""
)


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    deals=_DEALS,
    split=st.sampled_from(["close_date", "days"]),
    cancelled=st.lists(st.tuples(st.integers(0, 11), st.integers(0, 80)), max_size=4),
)
def test_versions_and_clawbacks_agree_on_both_paths(
    deals: list[tuple[int, int, int, str]], split: str, cancelled: list[tuple[int, int]]
) -> None:
    """A plan changed mid-quarter, paid monthly, with clawbacks of random cancellations: the
    reference path's payments, pay per deal and issues are the table path's."""
    program = load_text(_VERSIONED.replace("SPLIT", split))
    frame = _deals_of(deals)
    by_deal = {f"D{index}": days for index, days in cancelled}
    cancellations = pd.DataFrame(
        [
            {"deal_id": deal_id,
             "date": (dt.date(2026, 1, 1) + dt.timedelta(days=days)).isoformat()}
            for deal_id, days in by_deal.items()
        ],
        columns=["deal_id", "date"],
    )  # fmt: skip
    reps = pd.DataFrame([{"id": "A1", "role": "AE"}])
    quotas = pd.DataFrame(
        [{"rep_id": "A1", "period": "2026-Q1", "measure": "bookings", "quota": "50000"}]
    )
    tables = {"deals": frame, "reps": reps, "quotas": quotas, "cancellations": cancellations}
    results = program.evaluate(**tables, period="2026-Q1")
    assert results.payments is not None
    inputs = program.validate(**tables)
    found, _ = program.pay_each(inputs, parse_period("2026-Q1"))
    settled = payments_of(program.book, found, inputs.records("cancellations"), list(frame["id"]))
    assert [payment_row(line) for line in settled.lines] == results.payments.to_dict("records")
    due = sum(Decimal(p) for p in results.payouts["payout"])
    paid = sum(Decimal(p) for p in results.payments["payment"])
    clawed = sum(Decimal(c) for c in results.payments["clawbacks"])
    held = sum(Decimal(c) for c in results.payments["held"])
    recovered = sum(Decimal(c) for c in results.payments["recovered"])
    assert paid == due + clawed + held + recovered
    # The quarter straddles the change: both versions have a payouts row.
    assert set(results.payouts["plan"]) == {"a", "b"}
