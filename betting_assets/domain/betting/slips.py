"""Bet slips: the champion model's probabilities against the best price on offer now.

A slip is a proposal, not a bet: the placement job re-checks the price and the risk rules
before anything is sent. Its idempotency key (event, market, outcome, point, model version)
is what keeps a re-run from proposing, and later placing, the same bet twice.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from betting_assets.domain.orders.risk import RiskLimits, stake_cap
from betting_assets.domain.betting.staking import Sizing, kelly, linear_terms, size_day
from betting_assets.domain.betting.strategies import best_prices

SLIP_COLUMNS = ["idempotency_key", "event_id", "sport_key", "commence_time", "decision_time", "home_team",
                "away_team", "market", "side", "point", "bookmaker", "price", "price_time", "model_name",
                "model_version", "model_prob", "fair_prob", "edge", "kelly", "stake", "bankroll", "rationale",
                "quoted_price", "market_version", "available_size"]
BOOK_COLUMNS = {"quoted_price": pl.Float64, "market_version": pl.Int64, "available_size": pl.Float64}
"""what offers read from an exchange's book carry besides the market view's columns"""


def idempotency_key(event_id: str, market: str, side: str, point: float, model_name: str, version: str) -> str:
    return f"{event_id}|{market}|{side}|{point:g}|{model_name}@{version}"


def propose(offers: pl.DataFrame, probs: pl.DataFrame, fixtures: pl.DataFrame, *, bankroll: float,
            sizing: Sizing, min_edge: float, limits: RiskLimits | None = None) -> pl.DataFrame:
    """``offers``: prices on offer now in the market-view shape (with the sharp ``fair``);
    ``probs``: event_id, side, prob, model_name, model_version; edges and stakes use ``price``
    (net of commission at an exchange); ``fixtures``: event_id,
    sport_key, commence_time, decision_time, home_team, away_team. One slip per outcome whose
    edge at the best price reaches ``min_edge``, sized by Kelly against ``bankroll`` with the
    slips sharing the day's allowance. With ``limits``, a slip also passes the risk gate's
    static controls (odds bounds, minimum edge, stakes capped and at least the minimum)."""
    offers = offers.with_columns(pl.lit(None, dtype).alias(name) for name, dtype in BOOK_COLUMNS.items()
                                 if name not in offers.columns)
    best = best_prices(offers, ("h2h",))
    floor = max(min_edge, limits.min_edge) if limits else min_edge
    in_bounds = pl.col("price").is_between(limits.min_odds, limits.max_odds) if limits else pl.lit(True)
    priced = (best.drop("decision_time").join(probs, on=["event_id", "side"], how="inner")
              .with_columns(edge=pl.col("prob") * pl.col("price") - 1.0)
              .filter((pl.col("edge") >= floor) & in_bounds)
              .join(fixtures.select("event_id", "decision_time", "home_team", "away_team"), on="event_id")
              .sort("commence_time", "event_id", "side"))
    if priced.is_empty():
        return pl.DataFrame(schema={c: pl.String for c in SLIP_COLUMNS})
    full = kelly(priced["prob"].to_numpy(), priced["price"].to_numpy())
    a, b = linear_terms(sizing, full)
    ones = np.ones(priced.height)
    stake = size_day(a, b, ones, ones, sizing, bankroll)
    if limits is not None:
        stake = np.minimum(stake, np.floor(stake_cap(limits, bankroll) * 100) / 100)
        stake = np.where(stake >= limits.min_stake, stake, 0.0)
    slips = priced.with_columns(kelly=pl.Series(full), stake=pl.Series(np.round(stake, 2)),
                                bankroll=pl.lit(float(bankroll))).filter(pl.col("stake") > 0)
    return slips.with_columns(
        idempotency_key=pl.struct("event_id", "market", "side", "point", "model_name", "model_version").map_elements(
            lambda r: idempotency_key(r["event_id"], r["market"], r["side"], r["point"], r["model_name"],
                                      r["model_version"]), return_dtype=pl.String),
        rationale=pl.format(
            "{} v{}: p({})={} vs best {} at {}{} (implied {}){}; edge {}%; Kelly {}% × {} of {} → stake {}",
            "model_name", "model_version", "side", pl.col("prob").round(4), pl.col("price").round(3), "bookmaker",
            pl.when(pl.col("quoted_price").is_not_null() & (pl.col("quoted_price") != pl.col("price")))
            .then(pl.format(" (quoted {}, net of commission)", pl.col("quoted_price").round(3))).otherwise(pl.lit("")),
            (1.0 / pl.col("price")).round(4),
            pl.when(pl.col("fair").is_not_null()).then(pl.format("; sharp fair {}", pl.col("fair").round(4)))
            .otherwise(pl.lit("")),
            (pl.col("edge") * 100).round(2), (pl.col("kelly") * 100).round(2), pl.lit(sizing.kelly_fraction),
            pl.lit(bankroll), "stake"),
        price_time=pl.col("snapshot_time"),
        fair_prob=pl.col("fair"),
        model_prob=pl.col("prob"),
    ).select(SLIP_COLUMNS)
