"""Settling placed bets against final scores, with the sharp closing price for CLV."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
import polars as pl
from sqlalchemy import Engine

from betting_assets.domain.codes import Result
from betting_assets.domain.intervals import mean_interval, ratio_interval
from betting_assets.domain.market_view import LINE_KEY, closing_fair, offers_at
from betting_assets.domain.settlement import RESULTS, settle_frame
from betting_assets.settings import Settings
from betting_assets.warehouse import ledger, queries

LOOKBACK = timedelta(days=3)


@dataclass
class Settled:
    settled: int
    still_open: int


def settle_placed(engine: Engine, settings: Settings, now: datetime) -> Settled:
    """Placed bets whose event is final, cancelled or postponed are settled by the rules of
    ``domain.settlement``; the rest stay placed until their result is known."""
    with engine.connect() as conn:
        placed = ledger.with_status(conn, "placed")
        if placed.is_empty():
            return Settled(0, 0)
        ids = placed["event_id"].unique().to_list()
        fixtures = queries.events_by_id(conn, ids)
        odds = queries.odds_for_events(conn, ids, fixtures["commence_time"].min() - LOOKBACK,  # type: ignore[operator]
                                       fixtures["commence_time"].max() + timedelta(seconds=1))  # type: ignore[operator]
    cuts = fixtures.select("event_id", "sport_key", "commence_time", decision_time=pl.col("commence_time"))
    shape = offers_at(odds, cuts, sharp_book=settings.features.sharp_book, lookback=LOOKBACK).group_by("event_id").agg(
        pl.col("three_way").any())
    closing = closing_fair(odds, fixtures, sharp_book=settings.features.sharp_book, lookback=LOOKBACK,
                           method=settings.features.devig_method)
    frame = (
        placed.drop("p_close").join(fixtures.select("event_id", "status", "home_score", "away_score"), on="event_id",
                    how="left", suffix="_event")
        .join(shape, on="event_id", how="left")
        .with_columns(pl.col("three_way").fill_null(pl.col("market") == "h2h"),
                      line=pl.when(pl.col("market") == "h2h").then(0.0)
                      .when((pl.col("market") == "spreads") & (pl.col("side") == "away")).then(-pl.col("point"))
                      .otherwise(pl.col("point")))
        .join(closing, on=[*LINE_KEY, "side"], how="left")
        .sort("commence_time", "bet_id")  # the bankroll history runs in the order results came in
    )
    ret, code = settle_frame(frame.with_columns(pl.col("status_event").alias("status")))
    done = np.flatnonzero(code != Result.OPEN)
    ids, stakes, closes = frame["bet_id"].to_list(), frame["stake"].to_list(), frame["p_close"].to_list()
    rows = [{"bet_id": ids[i], "result": RESULTS[code[i]], "unit_return": float(ret[i]),
             "profit": float(stakes[i] * (ret[i] - 1.0)), "p_close": closes[i]} for i in done]
    count = ledger.record_settlement(engine, rows, settings.bankroll, now)
    return Settled(count, placed.height - count)


def summary(placed: pl.DataFrame) -> dict[str, float | int | None]:
    """P&L, ROI and CLV of the settled bets among ledger rows, ROI and CLV with 95 % bootstrap
    intervals over the bets (None where fewer than two)."""
    done = placed.filter(pl.col("status") == "settled")
    turnover = float(done["stake"].sum()) if done.height else 0.0
    profit = float(done["profit"].sum()) if done.height else 0.0
    clv = done.filter(pl.col("p_close").is_not_null()).select(pl.col("price") * pl.col("p_close") - 1.0).to_series()
    roi_ci = ratio_interval(done["profit"].to_numpy(), done["stake"].to_numpy(), np.arange(done.height))
    clv_ci = mean_interval(clv.to_numpy())
    return {"settled_bets": done.height, "open_bets": placed.filter(pl.col("status") == "placed").height,
            "turnover": turnover, "profit": profit, "roi": profit / turnover if turnover else None,
            "roi_low": roi_ci.low if roi_ci else None, "roi_high": roi_ci.high if roi_ci else None,
            "mean_clv": float(clv.mean()) if clv.len() else None,  # type: ignore[arg-type]
            "clv_low": clv_ci.low if clv_ci else None, "clv_high": clv_ci.high if clv_ci else None,
            "clv_bets": clv.len()}


def bankroll_png(history: pl.DataFrame, start: float) -> bytes:
    """The bankroll after each settlement, with the starting bankroll for reference."""
    from betting_assets.modelling.plots import plt, png_bytes

    figure, axis = plt.subplots(figsize=(9, 4))
    axis.step([0, *range(1, history.height + 1)], [start, *history["bankroll"].to_list()], where="post",
              linewidth=1.4)
    axis.axhline(start, color="grey", linestyle="--", linewidth=1)
    axis.set_xlabel("settled bets")
    axis.set_ylabel("bankroll")
    axis.set_title("Placed bets: bankroll after each settlement")
    return png_bytes(figure)
