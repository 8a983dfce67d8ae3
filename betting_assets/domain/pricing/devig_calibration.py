"""Which de-vig of the sharp book's prices is best calibrated: log loss of each method on what
happened, and forecast against observed frequency by price band.

The favourite–longshot bias lives in the bands: a method that overstates longshots shows a
mean fair probability above the observed win rate at long prices. Log loss over whole markets
decides the default; the bands say why.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import polars as pl

from betting_assets.domain.pricing.devig import MARKETS, METHODS, DevigMethod
from betting_assets.domain.betting.intervals import paired_difference
from betting_assets.domain.pricing.market_view import LINE_KEY, latest_quotes, sharp_fair
from betting_assets.domain.vocabulary import Market

PRICE_BANDS = (1.0, 1.5, 2.0, 3.0, 5.0, 8.0, 1000.0)
_EPS = 1e-15
_LOOKBACK = timedelta(days=30)


@dataclass(frozen=True)
class CalibrationStudy:
    scores: pl.DataFrame
    """one row per (moment, market, method): markets, log loss, gap to the best with its interval"""
    bands: pl.DataFrame
    """one row per (moment, market, method, band): outcomes, mean fair probability, observed rate"""

    def best(self, moment: str = "prematch", market: str = Market.H2H) -> DevigMethod:
        rows = self.scores.filter((pl.col("moment") == moment) & (pl.col("market") == market))
        if rows.is_empty():
            raise ValueError(f"no {market} markets priced at {moment} to compare de-vig methods on")
        return rows.sort("log_loss")["method"][0]  # type: ignore[no-any-return]


def outcome_wins(events: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Per event and match-result side: 1 if it won, 0 if it lost; and each event's goals, which
    settle any totals or handicap line."""
    done = events.filter(pl.col("home_score").is_not_null() & pl.col("away_score").is_not_null()).select(
        "event_id", diff=(pl.col("home_score").cast(pl.Int64) - pl.col("away_score").cast(pl.Int64)).cast(pl.Float64),
        goals=(pl.col("home_score").cast(pl.Int64) + pl.col("away_score").cast(pl.Int64)).cast(pl.Float64))
    h2h = pl.concat([
        done.select("event_id", side=pl.lit(side), won=cond.cast(pl.Int8))
        for side, cond in (("home", pl.col("diff") > 0), ("draw", pl.col("diff") == 0), ("away", pl.col("diff") < 0))
    ]).with_columns(market=pl.lit(Market.H2H), line=pl.lit(0.0))
    return h2h.select("event_id", "market", "line", "side", "won"), done.select("event_id", "goals", "diff")


def _line_wins(fair: pl.DataFrame, goals: pl.DataFrame) -> pl.DataFrame:
    """Totals and Asian handicap lines that settle whole: a line that landed exactly (a push)
    and quarter lines (settled in halves) are left out. A spread's line is the home handicap."""
    lines = fair.filter(pl.col("market").is_in([Market.TOTALS, Market.SPREADS])).join(goals, on="event_id")
    margin = (pl.when(pl.col("market") == Market.TOTALS).then(pl.col("goals") - pl.col("line"))
              .otherwise(pl.col("diff") + pl.col("line")))
    up = pl.col("side").is_in(["over", "home"])
    return (lines.with_columns(margin=margin)
            .filter((pl.col("margin") != 0) & ((pl.col("line") * 4) % 2 == 0))
            .with_columns(won=pl.when(up).then(pl.col("margin") > 0).otherwise(pl.col("margin") < 0).cast(pl.Int8))
            .drop("goals", "diff", "margin"))


def study(odds: pl.DataFrame, events: pl.DataFrame, *, sharp_book: str, decision_hours: float = 1.0,
          methods: tuple[DevigMethod, ...] = METHODS, bands: tuple[float, ...] = PRICE_BANDS) -> CalibrationStudy:
    """``odds`` in the normalised shape, ``events`` with scores. ``prematch``: the sharp book's
    latest prices ``decision_hours`` before kick-off; ``closing``: its latest before kick-off."""
    h2h_wins, goals = outcome_wins(events)
    fixtures = events.select("event_id", "commence_time")
    cuts = {
        "prematch": fixtures.with_columns(
            cut=pl.col("commence_time") - pl.duration(microseconds=round(decision_hours * 3.6e9))),
        "closing": fixtures.with_columns(cut=pl.col("commence_time")),
    }
    sharp_odds = odds.filter(pl.col("bookmaker") == sharp_book)
    score_rows, band_rows = [], []
    for moment, cut in cuts.items():
        quotes = latest_quotes(sharp_odds, cut, "cut", lookback=_LOOKBACK)
        prices = quotes.select(*LINE_KEY, "side", "price")
        losses: dict[str, dict[str, pl.DataFrame]] = {}
        for method in methods:
            fair = sharp_fair(quotes, sharp_book, method).join(prices, on=[*LINE_KEY, "side"])
            won = pl.concat([fair.join(h2h_wins, on=[*LINE_KEY, "side"]), _line_wins(fair, goals)],
                            how="diagonal_relaxed")
            for market in MARKETS:
                rows = won.filter(pl.col("market") == market)
                if rows.is_empty():
                    continue
                losses.setdefault(market, {})[method] = rows.filter(pl.col("won") == 1).select(
                    "event_id", "line", loss=-pl.col("fair").clip(_EPS, 1.0).log())
                band_rows.append(_bands(rows, bands).with_columns(
                    moment=pl.lit(moment), market=pl.lit(market), method=pl.lit(method)))
        for market, by_method in losses.items():
            score_rows.extend(_scores(moment, market, by_method))
    return CalibrationStudy(
        scores=pl.DataFrame(score_rows, schema=SCORE_SCHEMA),
        bands=pl.concat(band_rows).select("moment", "market", "method", "band", "outcomes", "fair", "observed",
                                          "observed_se") if band_rows else pl.DataFrame())


SCORE_SCHEMA: dict[str, pl.DataType] = {
    "moment": pl.String, "market": pl.String, "method": pl.String, "markets": pl.Int64, "log_loss": pl.Float64,
    "gap_to_best": pl.Float64, "gap_low": pl.Float64, "gap_high": pl.Float64}


def _scores(moment: str, market: str, by_method: dict[str, pl.DataFrame]) -> list[dict[str, object]]:
    """Each method's log loss on the markets every method priced, and its gap to the best with
    a paired bootstrap interval over those markets."""
    names = list(by_method)
    wide = by_method[names[0]].rename({"loss": names[0]})
    for name in names[1:]:
        wide = wide.join(by_method[name].rename({"loss": name}), on=["event_id", "line"], how="inner")
    means = {name: float(wide[name].mean()) for name in names}  # type: ignore[arg-type]
    best = min(means, key=means.__getitem__)
    rows: list[dict[str, object]] = []
    for name in names:
        gap = paired_difference(wide[name].to_numpy(), wide[best].to_numpy()) if name != best else None
        rows.append({"moment": moment, "market": market, "method": name, "markets": wide.height,
                     "log_loss": means[name], "gap_to_best": means[name] - means[best],
                     "gap_low": gap.low if gap else None, "gap_high": gap.high if gap else None})
    return rows


def _bands(rows: pl.DataFrame, bands: tuple[float, ...]) -> pl.DataFrame:
    labels = [f"{lo:g}–{hi:g}" for lo, hi in zip(bands[:-1], bands[1:], strict=True)]
    return (
        rows.with_columns(band=pl.col("price").cut(list(bands[1:-1]), labels=labels, left_closed=True))
        .group_by("band").agg(outcomes=pl.len(), fair=pl.col("fair").mean(), observed=pl.col("won").mean())
        .with_columns(observed_se=(pl.col("observed") * (1 - pl.col("observed")) / pl.col("outcomes")).sqrt(),
                      band=pl.col("band").cast(pl.String))
        .sort(pl.col("band").replace_strict(labels, list(range(len(labels))), return_dtype=pl.Int32))
    )

