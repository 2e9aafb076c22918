"""The synthetic data generator: deterministic, consistent across tables, valid input."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from dsl.canonical import TABLES, Column
from engine.data import load_mapping, read_table, validate_table
from engine.demo import DEFAULT_STAGES, generate, write
from engine.schemas import RECORD_NAMES

LEAD_FIELDS = (
    Column("budget", "one_of", options=("confirmed", "to_validate", "blocking")),
    Column("employees", "integer"),
    Column("timing_months", "number"),
    Column("decision_maker", "boolean", required=True),
)
COLUMNS = {**TABLES, "lead": TABLES["lead"] + LEAD_FIELDS}
RANGES = {("lead", "employees"): (1.0, 5000.0), ("leads", "timing_months"): (0.0, 12.0)}


@pytest.fixture(scope="module")
def tables() -> dict[str, pd.DataFrame]:
    return generate(COLUMNS, n_leads=5_000, n_deals=20_000, seed=7, ranges=RANGES)


def test_same_seed_same_tables_other_seed_other_tables() -> None:
    first = generate(COLUMNS, n_leads=300, n_deals=300, seed=1, ranges=RANGES)
    again = generate(COLUMNS, n_leads=300, n_deals=300, seed=1, ranges=RANGES)
    other = generate(COLUMNS, n_leads=300, n_deals=300, seed=2, ranges=RANGES)
    assert list(first) == ["leads", "deals", "stage_events", "reps", "quotas", "territories"]
    for name in first:
        pd.testing.assert_frame_equal(first[name], again[name])
    assert not first["deals"].equals(other["deals"])


def test_every_table_is_valid_input(tables: dict[str, pd.DataFrame]) -> None:
    for name, frame in tables.items():
        record = RECORD_NAMES[name]
        result = validate_table(name, frame, COLUMNS[record], {"stage": DEFAULT_STAGES})
        assert result.errors == (), name
        assert result.rows_out == result.rows_in == len(frame)
        assert list(frame.columns) == [column.name for column in COLUMNS[record]]


def test_sizes_and_reference_tables(tables: dict[str, pd.DataFrame]) -> None:
    assert len(tables["leads"]) == 5_000 and len(tables["deals"]) == 20_000
    assert tables["territories"].to_dict("list") == {
        "id": ["idf", "ara", "hdf", "bre"],
        "name": ["Île-de-France", "Auvergne-Rhône-Alpes", "Hauts-de-France", "Bretagne"],
        "potential": ["1.3", "1.0", "0.9", "0.7"],
    }
    reps = tables["reps"]
    assert set(reps["role"]) == {"AE", "SDR", "AM"}
    assert set(reps["territory"]) <= {"idf", "ara", "hdf", "bre"}
    assert reps["id"].is_unique
    quotas = tables["quotas"]
    carrying = set(reps.loc[reps["role"].isin(["AE", "AM"]), "id"])
    assert set(quotas["rep_id"]) == carrying
    assert set(quotas["period"]) == {"2026-Q1", "2026-Q2", "2026-Q3", "2026-Q4"}
    assert set(quotas["measure"]) == {"new_logo", "upsell", "renewal"}
    assert len(quotas) == len(carrying) * 3 * 4
    idf = reps.loc[reps["territory"] == "idf", "id"].iloc[0]
    row = quotas[(quotas["rep_id"] == idf) & (quotas["measure"] == "new_logo")].iloc[0]
    assert row["quota"] == "195000.00"  # 150,000 x potential 1.3


def test_deals_are_consistent_with_their_stage_events(tables: dict[str, pd.DataFrame]) -> None:
    deals = validate_table("deals", tables["deals"], TABLES["deal"]).valid.set_index("id")
    events = validate_table("stage_events", tables["stage_events"], TABLES["stage_event"]).valid
    order = {stage: number for number, stage in enumerate(DEFAULT_STAGES)}
    events = events.assign(order=events["stage"].map(order)).sort_values(["deal_id", "order"])
    per_deal = events.groupby("deal_id")
    same_deal = events["deal_id"].eq(events["deal_id"].shift())
    # Events of a deal start at the first stage, follow the stages in order, dates increasing.
    assert (per_deal.cumcount() == events["order"]).all()
    assert (events["entered_at"].diff()[same_deal] > pd.Timedelta(0)).all()
    summary = pd.DataFrame(
        {
            "last_order": per_deal["order"].max(),
            "first": per_deal["entered_at"].first(),
            "last": per_deal["entered_at"].last(),
        }
    )
    assert set(summary.index) == set(deals.index)  # every deal has its events
    joined = deals.join(summary)
    known = joined["stage"].notna()
    assert (joined.loc[known, "stage"].map(order) == joined.loc[known, "last_order"]).all()
    assert (joined.loc[joined["status"] == "won", "last_order"] == len(DEFAULT_STAGES) - 1).all()
    created = joined["created_at"].notna()
    assert (joined.loc[created, "created_at"] == joined.loc[created, "first"]).all()
    entered = joined["stage_entered_at"].notna()
    assert (joined.loc[entered, "stage_entered_at"] == joined.loc[entered, "last"]).all()
    closed = joined["close_date"].notna()
    assert (joined.loc[closed, "close_date"] > joined.loc[closed, "last"]).all()
    assert joined["close_date"].max() <= pd.Timestamp("2026-12-31")


def test_deal_values_look_like_b2b_sales(tables: dict[str, pd.DataFrame]) -> None:
    deals = validate_table("deals", tables["deals"], TABLES["deal"]).valid
    shares = deals["status"].value_counts(normalize=True)
    assert 0.25 < shares["won"] < 0.35 and 0.40 < shares["open"] < 0.50
    amounts = deals["amount__cents"].dropna() / 100
    assert amounts.min() >= 1_000 and 15_000 < amounts.median() < 60_000
    assert (amounts == 50_000).any()  # round figures hit thresholds exactly
    assert (deals["cost__cents"] < deals["amount__cents"]).dropna().all()
    reps = tables["reps"].set_index("id")["role"]
    owners = deals.dropna(subset=["rep_id", "type"])
    assert set(reps[owners.loc[owners["type"] == "new_logo", "rep_id"]]) == {"AE"}
    for column in ("amount", "close_date", "account"):
        missing = tables["deals"][column].isna().mean()
        assert 0.01 < missing < 0.03, column
    assert tables["deals"]["id"].notna().all() and tables["deals"]["status"].notna().all()


def test_client_fields_follow_their_type_and_range(tables: dict[str, pd.DataFrame]) -> None:
    leads = validate_table("leads", tables["leads"], COLUMNS["lead"]).valid
    assert set(leads["budget"].dropna()) == {"confirmed", "to_validate", "blocking"}
    assert leads["employees"].min() >= 1 and leads["employees"].max() <= 5000
    assert (leads["employees"] >= 250).mean() < 0.6  # head counts are log-uniform
    assert leads["timing_months"].dropna().between(0, 12).all()
    assert leads["decision_maker"].notna().all()  # required fields are never blank
    assert set(leads["source"].dropna()) == {"inbound", "outbound", "referral", "partner", "event"}


def test_written_csv_reads_back_identically(tmp_path: Path) -> None:
    tables = generate(COLUMNS, n_leads=100, n_deals=100, seed=3, ranges=RANGES)
    paths = write(tables, tmp_path / "demo")
    assert [path.name for path in paths] == [*(f"{name}.csv" for name in tables), "mapping.yaml"]
    # The folder says its tables are canonical: read as they are, whatever the ruleset maps.
    assert load_mapping(paths[-1]).tables == {}
    for name, frame in tables.items():
        read = read_table(tmp_path / "demo" / f"{name}.csv")
        pd.testing.assert_frame_equal(read.reset_index(drop=True), frame, check_index_type=False)


def test_other_stages_and_measures() -> None:
    tables = generate(None, n_leads=0, n_deals=500, seed=0, stages=("a", "b"),
                      measures=("bookings",))  # fmt: skip
    assert set(tables["deals"]["stage"].dropna()) == {"a", "b"}
    assert set(tables["stage_events"]["stage"]) == {"a", "b"}
    assert set(tables["quotas"]["measure"]) == {"bookings"}
    assert len(tables["leads"]) == 0
    with pytest.raises(ValueError, match=r"^at least one stage is needed to generate deals$"):
        generate(None, 10, 10, stages=())
