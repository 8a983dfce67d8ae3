"""``overround_range`` on real books: every complete market of the shared history (five seasons of
the Premier League and the Bundesliga, Pinnacle and five soft books, match result, handicap and
totals) passes, while one mis-keyed price in any of them fails. A check that fails on correct
data is a defect; one that passes a corrupt quote is no check."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from betting_assets.domain.data.quality import overround_range
from betting_assets.sources.football_data import quotes_as_odds, read_football_data


@pytest.fixture(scope="module")
def history(shared_data: Path) -> pl.DataFrame:
    odds = quotes_as_odds(read_football_data(shared_data)).filter(pl.col("is_valid"))
    return odds.with_columns(implied_prob=1.0 / pl.col("price_decimal"),
                             sport_key=pl.lit("soccer_epl"))   # a soccer key: three outcomes in h2h


def test_every_real_book_of_the_history_passes(history: pl.DataFrame) -> None:
    outcome = overround_range(history)
    assert outcome.checked > 60_000
    assert outcome.findings == [], outcome.findings[:5]


@pytest.mark.parametrize("mistake", [10.0, 0.55], ids=["a digit added", "a price mis-keyed low"])
def test_one_mis_keyed_price_fails(history: pl.DataFrame, mistake: float) -> None:
    """A home price multiplied by ten (2.10 as 21.0) or cut to about half (2.10 as 1.16)."""
    books = history.select("bookmaker").unique().sort("bookmaker")["bookmaker"].to_list()
    for book in books:
        target = history.filter((pl.col("bookmaker") == book) & (pl.col("market") == "h2h")
                                & (pl.col("side") == "home")).row(0, named=True)
        hit = ((pl.col("event_id") == target["event_id"]) & (pl.col("bookmaker") == book)
               & (pl.col("market") == "h2h") & (pl.col("side") == "home")
               & (pl.col("snapshot_time") == target["snapshot_time"]))
        price = pl.when(hit).then(pl.col("price_decimal") * mistake).otherwise(pl.col("price_decimal"))
        corrupt = history.filter(pl.col("event_id") == target["event_id"]).with_columns(
            price_decimal=price).with_columns(implied_prob=1.0 / pl.col("price_decimal"))
        (finding,) = overround_range(corrupt).findings
        assert (finding.event_id, finding.bookmaker, finding.market) == (target["event_id"], book, "h2h"), book
