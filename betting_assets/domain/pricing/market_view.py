"""The market as a bettor saw it at a decision time: every bookmaker's prices on offer, each
with the sharp book's de-vigged fair probability for the same line.

``price`` is what a unit returns on a win: an exchange's price net of its commission
(``domain.commission``), a bookmaker's as quoted; ``quoted_price`` is the price as shown.

"On offer" means the quotes of each bookmaker's latest snapshot of a market strictly before the
decision time: a line a book stopped quoting is no longer on offer. The sharp book's closing
price (its latest snapshot before kick-off) is the yardstick for closing line value.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import polars as pl

from betting_assets.domain.pricing.commission import DEFAULT_COMMISSION, effective_price
from betting_assets.domain.pricing.devig import DEFAULT_CHOICE, devig, parse_choice
from betting_assets.domain.vocabulary import SIDES, Market, Side, line, needed

UTC = pl.Datetime("us", "UTC")
LINE_KEY = ["event_id", "market", "line"]
OFFER_SCHEMA: dict[str, pl.DataType] = {
    "event_id": pl.String, "sport_key": pl.String, "commence_time": UTC, "decision_time": UTC,
    "three_way": pl.Boolean, "market": pl.String, "side": pl.String, "point": pl.Float64, "line": pl.Float64,
    "bookmaker": pl.String, "price": pl.Float64, "quoted_price": pl.Float64, "snapshot_time": UTC,
    "fair": pl.Float64, "fair_time": UTC,
}
MODEL_SCHEMA: dict[str, pl.DataType] = {"event_id": pl.String, "side": pl.String, "prob": pl.Float64,
                                        "prob_time": UTC}


@dataclass(frozen=True)
class MarketView:
    """What strategies may look at. ``model``: a model's probability per (event, side), with
    the time its inputs were cut (``prob_time``)."""

    offers: pl.DataFrame
    sharp_book: str
    model: pl.DataFrame | None = None


def decision_times(fixtures: pl.DataFrame, hours: float) -> pl.DataFrame:
    return fixtures.select(
        "event_id", "sport_key", "commence_time",
        decision_time=pl.col("commence_time") - pl.duration(microseconds=round(hours * 3.6e9)))


def latest_quotes(odds: pl.DataFrame, cuts: pl.DataFrame, cut: str, lookback: timedelta) -> pl.DataFrame:
    """Valid quotes of each (event, bookmaker, market)'s latest snapshot strictly before the
    event's ``cut`` column; ``line`` keys the two sides of a spread together."""
    quotes = (
        odds.select("event_id", "bookmaker", "market", "side", "point", "snapshot_time", "price_decimal", "is_valid")
        .filter(pl.col("is_valid") & pl.col("price_decimal").is_not_null() & pl.col("side").is_not_null())
        .join(cuts, on="event_id", how="inner")
        .filter((pl.col("snapshot_time") < pl.col(cut))
                & (pl.col("snapshot_time") >= pl.col("commence_time") - lookback))
    )
    book_market = ["event_id", "bookmaker", "market"]
    latest = quotes.filter(pl.col("snapshot_time") == pl.col("snapshot_time").max().over(book_market))
    three = latest.filter(pl.col("market") == Market.H2H).group_by("event_id").agg(
        three_way=(pl.col("side") == Side.DRAW).any())
    return latest.join(three, on="event_id", how="left").with_columns(
        pl.col("three_way").fill_null(False),
        point=pl.col("point").fill_null(0.0),
        line=line(),
        price=pl.col("price_decimal"),
    ).drop("price_decimal", "is_valid")


def sharp_fair(quotes: pl.DataFrame, sharp_book: str, method: str) -> pl.DataFrame:
    """The sharp book's fair probability per (event, market, line, side), from markets it priced
    in full (every side, once)."""
    sharp = quotes.filter(pl.col("bookmaker") == sharp_book)
    complete = sharp.filter((pl.col("side").n_unique().over(LINE_KEY) == needed())
                            & (pl.len().over(LINE_KEY) == needed())
                            & pl.col("side").is_in(list(SIDES)))
    if complete.is_empty():
        return pl.DataFrame(schema={"event_id": pl.String, "market": pl.String, "line": pl.Float64,
                                    "side": pl.String, "fair": pl.Float64, "fair_time": UTC})
    choice = parse_choice(method)
    parts = [devig(part, LINE_KEY, price_col="price", method=choice.get(market, "multiplicative"), out_col="fair")
             for (market,), part in complete.partition_by("market", as_dict=True).items()]
    fair = pl.concat(parts)
    return fair.select(*LINE_KEY, "side", "fair", pl.col("snapshot_time").alias("fair_time"))


def offers_at(odds: pl.DataFrame, cuts: pl.DataFrame, *, sharp_book: str, method: str = DEFAULT_CHOICE,
              lookback: timedelta = timedelta(days=30), commission: float = DEFAULT_COMMISSION) -> pl.DataFrame:
    """Prices on offer strictly before each event's ``decision_time`` in ``cuts`` (event_id,
    sport_key, commence_time, decision_time), with the sharp fair probability of each line
    (de-vigged from the prices as quoted)."""
    quotes = latest_quotes(odds, cuts, "decision_time", lookback)
    offers = quotes.join(sharp_fair(quotes, sharp_book, method), on=[*LINE_KEY, "side"], how="left").with_columns(
        quoted_price=pl.col("price"), price=effective_price(pl.col("price"), pl.col("bookmaker"), commission))
    return offers.select(list(OFFER_SCHEMA)).cast(OFFER_SCHEMA).sort(
        "decision_time", "event_id", "market", "line", "side", "bookmaker")


def build_view(odds: pl.DataFrame, fixtures: pl.DataFrame, *, decision_hours: float, sharp_book: str,
               method: str = DEFAULT_CHOICE, lookback: timedelta = timedelta(days=30),
               model: pl.DataFrame | None = None, commission: float = DEFAULT_COMMISSION) -> MarketView:
    """``odds`` in the normalised shape (event_id, bookmaker, market, side, point, snapshot_time,
    price_decimal, is_valid); ``fixtures``: event_id, sport_key, commence_time."""
    offers = offers_at(odds, decision_times(fixtures, decision_hours), sharp_book=sharp_book, method=method,
                       lookback=lookback, commission=commission)
    if model is not None:
        model = model.select(list(MODEL_SCHEMA)).cast(MODEL_SCHEMA)
    return MarketView(offers=offers, sharp_book=sharp_book, model=model)


def closing_fair(odds: pl.DataFrame, fixtures: pl.DataFrame, *, sharp_book: str, method: str = DEFAULT_CHOICE,
                 lookback: timedelta = timedelta(days=30)) -> pl.DataFrame:
    """The sharp book's de-vigged closing probability per (event, market, line, side)."""
    cuts = fixtures.select("event_id", "commence_time")
    quotes = latest_quotes(odds.filter(pl.col("bookmaker") == sharp_book), cuts, "commence_time", lookback)
    return sharp_fair(quotes, sharp_book, method).select(*LINE_KEY, "side", pl.col("fair").alias("p_close"))
