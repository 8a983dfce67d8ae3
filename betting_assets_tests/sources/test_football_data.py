import csv
from pathlib import Path

import polars as pl
import pytest

from betting_assets.sources.football_data import H2H_BOOKS, SPREADS_BOOKS, TOTALS_BOOKS, read_file


def _expected_rows(path: Path) -> dict[str, int]:
    """Counted straight from the CSV: a market counts when all its outcome cells hold a price."""
    with open(path, newline="", encoding="utf-8-sig") as handle:
        rows = list(csv.DictReader(handle))

    def complete(row: dict[str, str], cols: list[str]) -> bool:
        return all(row.get(c, "").strip() not in ("",) and float(row[c]) >= 1.01 for c in cols)

    counts = {"h2h": 0, "totals": 0, "spreads": 0}
    for row in rows:
        for c in ("", "C"):
            counts["h2h"] += 3 * sum(complete(row, [f"{p}{c}H", f"{p}{c}D", f"{p}{c}A"]) for p in H2H_BOOKS)
            counts["totals"] += 2 * sum(complete(row, [f"{p}{c}>2.5", f"{p}{c}<2.5"]) for p in TOTALS_BOOKS)
            line = "AHCh" if c else "AHh"
            counts["spreads"] += 2 * sum(
                complete(row, [f"{p}{c}AHH", f"{p}{c}AHA"]) and row.get(line, "").strip() != ""
                for p in SPREADS_BOOKS)
    return counts


@pytest.mark.parametrize("name", [f"{d}_{s}.csv" for d in ("E0", "D1") for s in ("1920", "2021", "2122", "2223", "2324")])
def test_every_shared_file_yields_its_matches_and_odds_rows(shared_data: Path, name: str) -> None:
    data = read_file(shared_data / name)
    assert data.events.height == (380 if name.startswith("E0") else 306)
    assert data.events["event_id"].n_unique() == data.events.height
    assert data.events["home_score"].null_count() == 0
    by_market = dict(data.quotes.group_by("market").len().iter_rows())
    assert by_market == _expected_rows(shared_data / name)
    assert (data.quotes["price"] >= 1.01).all()


def test_kickoff_is_converted_from_uk_time_to_utc(shared_data: Path) -> None:
    events = read_file(shared_data / "E0_2324.csv").events
    summer = events.filter((pl.col("home_team") == "Burnley") & (pl.col("away_team") == "Man City")).row(0, named=True)
    assert summer["commence_time"].isoformat() == "2023-08-11T19:00:00+00:00"
    # 01/01/2024 is in GMT, so local time and UTC agree.
    winter = events.filter((pl.col("home_team") == "Liverpool") & (pl.col("away_team") == "Newcastle")).row(0, named=True)
    assert winter["commence_time"].hour == 20  # 01/01/2024 20:00 GMT


def test_prematch_snapshot_precedes_closing_which_precedes_kickoff(shared_data: Path) -> None:
    data = read_file(shared_data / "D1_2223.csv")
    joined = data.quotes.join(data.events.select("event_id", "commence_time"), on="event_id")
    lead = (joined["commence_time"] - joined["snapshot_time"]).dt.total_minutes()
    assert lead.min() == 5
    assert lead.max() <= 4 * 24 * 60
    per_event = joined.group_by("event_id").agg(pl.col("snapshot_time").n_unique().alias("n"))
    assert per_event["n"].max() == 2


def test_missing_columns_and_empty_cells_mean_no_price(tmp_path: Path) -> None:
    path = tmp_path / "SP1_x.csv"
    path.write_text(
        "Div,Date,HomeTeam,AwayTeam,FTHG,FTAG,B365H,B365D,B365A,PSH,PSD\n"
        "SP1,12/08/23,Sevilla,Valencia,1,2,2.1,3.3,3.6,2.2,\n"
        "SP1,13/08/23,Betis,Girona,,,,,,,\n"
    )
    data = read_file(path)
    assert data.events.height == 2
    assert data.events["sport_key"].unique().to_list() == ["soccer_spain_la_liga"]
    assert data.quotes.height == 3  # bet365 h2h only; Pinnacle's market is incomplete
    assert data.skipped == {"incomplete_market:pinnacle:h2h": 1}


def test_a_file_that_is_not_football_data_gives_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    path.write_text("a,b\n1,2\n")
    with pytest.raises(ValueError, match="missing columns"):
        read_file(path)
