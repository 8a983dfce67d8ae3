"""The live account's decision at one moment: the live strategies' bets (``backtest.choose``, on
the view at the decision time) sized and turned into slips, exactly as the backtest's loop
decides a moment (``kernels.account``).

The priced controls refuse first; what passes is sized on the day's cash (each strategy on its
share), capped by risk's stake limits at the bankroll as it stands, scaled together to what the
day's exposure cap has left, rounded down to the venue's step, with the same compiled rules. A
slip is a proposal, not a bet: the placement job re-checks its price and passes it through the
whole gate before anything is sent. Its idempotency key (strategy, event, market, outcome,
point, and the model version for a strategy that reads the model) keeps a re-run from
proposing, and later placing, the same bet twice.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import polars as pl

from betting_assets.domain.betting.backtest import StrategyRun, _all_units
from betting_assets.domain.kernels import gate as kernel
from betting_assets.domain.kernels.sizing import size_moment_in_place
from betting_assets.domain.orders.account import Book, us
from betting_assets.domain.orders.book import B, L, order_vector
from betting_assets.domain.orders.controls import Controls

SLIP_COLUMNS = ["idempotency_key", "strategy", "event_id", "sport_key", "commence_time", "decision_time", "home_team",
                "away_team", "market", "side", "point", "bookmaker", "price", "price_time", "prob", "model_name",
                "model_version", "model_prob", "fair_prob", "edge", "kelly", "stake", "bankroll", "rationale",
                "quoted_price", "market_version", "available_size", "group_key", "equity"]
BOOK_COLUMNS = {"quoted_price": pl.Float64, "market_version": pl.Int64, "available_size": pl.Float64}
"""what offers read from a venue's book carry besides the market view's columns"""


def idempotency_key(strategy: str, event_id: str, market: str, side: str, point: float,
                    model: str | None = None) -> str:
    """``model``: ``name@version`` of the model a strategy read, so a new champion may bet again."""
    return f"{strategy}|{event_id}|{market}|{side}|{point:g}" + (f"|{model}" if model else "")


@dataclass
class Decision:
    slips: pl.DataFrame
    candidates: int
    """the strategies' bets before any control or sizing"""
    refused: dict[str, int] = field(default_factory=dict)
    """candidates each control refused before sizing (or all of them, when the account stops)"""
    cash: float | None = None
    """the day's cash the moment was sized on"""
    refused_by_event: dict[str, dict[str, int]] = field(default_factory=dict)


def decide(chosen: pl.DataFrame, runs: list[StrategyRun], book: Book, fixtures: pl.DataFrame,
           controls: Controls, models: pl.DataFrame | None = None) -> Decision:
    """``chosen``: the strategies' bets at this moment, in the order they queue
    (``backtest.choose``); ``book``: the account now, its day's cash taken at the day's first
    decision (this one, if none came before it today); ``fixtures``: event_id, home_team,
    away_team, sport_key, commence_time; ``models``: event_id, side, model_name, model_version of
    the probabilities a model strategy read."""
    if chosen.is_empty():
        return Decision(_empty(), 0)
    cash = book.take_day_cash()
    compiled = controls.compiled()
    o = order_vector(0, us(chosen["decision_time"][0]), 1.0, None, 0.0, None, False)
    stops = int(kernel.refusals(o, book.vector, book.exposure, book.limits, compiled.check, compiled.account_bits))
    if stops or cash <= 0:
        codes = controls.codes_of(stops)
        per_event = {e: {c: n for c in codes} for e, n in chosen.group_by("event_id").len().iter_rows()}
        return Decision(_empty(), chosen.height, {code: chosen.height for code in codes}, cash, per_event)
    numbers = chosen.select(pl.col("price", "prob", "weight", "edge", "quoted_price").fill_null(float("nan")))
    price, prob, weight = (numbers[c].to_numpy() for c in ("price", "prob", "weight"))
    run = chosen["run"].to_numpy()
    limits = book.limits
    priced = np.zeros(chosen.height, dtype=np.int64)
    for i, (p, e, q) in enumerate(zip(price, numbers["edge"].to_numpy(), numbers["quoted_price"].to_numpy())):
        o = order_vector(0, 0, float(p), float(q), 0.0, float(e), False)
        priced[i] = kernel.refusals(o, book.vector, book.exposure, limits, compiled.check, compiled.priced_bits)
    units, a, b = _all_units(chosen, price, prob, weight, run, [(r.sizing, r.share) for r in runs], _limits(book))
    top = min(limits[L.MAX_STAKE], limits[L.MAX_STAKE_FRACTION] * book.vector[B.EQUITY])
    cap = np.array([top / m for m in units.max_leg], dtype=float)
    for u in range(units.size):
        legs = units.leg_row[units.leg_start[u]:units.leg_start[u + 1]]
        if priced[legs].any():
            cap[u] = 0.0
    stake = np.zeros(units.size)
    allowance = limits[L.MAX_DAY_EXPOSURE] * cash - book.vector[B.DAY_STAKED]
    size_moment_in_place(np.arange(units.size), np.ascontiguousarray(a, dtype=float),
                         np.ascontiguousarray(b, dtype=float), cap, np.ascontiguousarray(units.min_leg, dtype=float),
                         cash, limits[L.MIN_STAKE], allowance, stake)
    rows, stakes, groups = [], [], []
    for u in range(units.size):
        if stake[u] == 0.0:
            continue
        legs = units.leg_row[units.leg_start[u]:units.leg_start[u + 1]]
        leg_stakes = [float(kernel.rounded_down(stake[u] * weight[r], limits[L.STAKE_STEP])) for r in legs]
        if min(leg_stakes) < limits[L.MIN_STAKE]:
            continue
        rows.extend(int(r) for r in legs)
        stakes.extend(leg_stakes)
        groups.extend([int(u) if len(legs) > 1 else -1] * len(legs))
    refused: dict[str, int] = {}
    per_event: dict[str, dict[str, int]] = {}
    for event, mask in zip(chosen["event_id"].to_list(), priced.tolist()):
        for code in controls.codes_of(int(mask)):
            refused[code] = refused.get(code, 0) + 1
            per_event.setdefault(event, {})[code] = per_event.get(event, {}).get(code, 0) + 1
    if not rows:
        return Decision(_empty(), chosen.height, refused, cash, per_event)
    order = np.argsort(np.asarray(rows), kind="stable")
    kelly_of = dict(zip(units.lead.tolist(), units.kelly.tolist()))
    picked = chosen[[rows[i] for i in order]].with_columns(
        stake=pl.Series([stakes[i] for i in order], dtype=pl.Float64),
        group_index=pl.Series([groups[i] for i in order], dtype=pl.Int64),
        kelly=pl.Series([kelly_of.get(rows[i], 0.0) for i in order], dtype=pl.Float64))
    slips = _slips(picked, runs, fixtures, cash, models).with_columns(equity=pl.lit(float(book.vector[B.EQUITY])))
    return Decision(slips.select(SLIP_COLUMNS), chosen.height, refused, cash, per_event)


def _limits(book: Book):  # type: ignore[no-untyped-def]
    """Risk's stake limits as ``_all_units`` reads them (which groups could ever be staked)."""
    from betting_assets.domain.orders.risk import RiskLimits

    limits = book.limits
    return RiskLimits.model_construct(min_stake=float(limits[L.MIN_STAKE]),
                                      max_stake=None if np.isinf(limits[L.MAX_STAKE]) else float(limits[L.MAX_STAKE]))


def _slips(picked: pl.DataFrame, runs: list[StrategyRun], fixtures: pl.DataFrame, cash: float,
           models: pl.DataFrame | None) -> pl.DataFrame:
    shares = {r.strategy.name: r.share for r in runs}
    reads_model = {r.strategy.name for r in runs if r.strategy.needs_model}
    frame = picked.join(fixtures.select("event_id", "sport_key", "commence_time", "home_team", "away_team"),
                        on="event_id", how="left")
    if models is not None and models.height:
        frame = frame.join(models.select("event_id", "side", "model_name", "model_version"), on=["event_id", "side"],
                           how="left")
    else:
        frame = frame.with_columns(model_name=pl.lit(None, pl.String), model_version=pl.lit(None, pl.String))
    uses_model = pl.col("strategy").is_in(list(reads_model))
    frame = frame.with_columns(
        model_name=pl.when(uses_model).then(pl.col("model_name")),
        model_version=pl.when(uses_model).then(pl.col("model_version")),
        model_prob=pl.when(uses_model).then(pl.col("prob")),
        bankroll=pl.col("strategy").replace_strict(shares, return_dtype=pl.Float64) * cash,
        group_key=pl.when(pl.col("group_index") >= 0).then(
            pl.format("{}|{}|{}", "strategy", "event_id", "group_index")),
    )
    keys = [idempotency_key(r["strategy"], r["event_id"], r["market"], r["side"], r["point"],
                            f"{r['model_name']}@{r['model_version']}" if r["model_name"] else None)
            for r in frame.select("strategy", "event_id", "market", "side", "point", "model_name",
                                  "model_version").iter_rows(named=True)]
    frame = frame.with_columns(
        idempotency_key=pl.Series(keys, dtype=pl.String),
        price_time=pl.col("snapshot_time"),
        fair_prob=pl.col("fair") if "fair" in frame.columns else pl.lit(None, pl.Float64),
        rationale=pl.format(
            "{}: p({})={} vs {} at {}{} (implied {}); edge {}; {} sizing on {} of the day's cash {} → stake {}",
            "strategy", "side", pl.col("prob").round(4), pl.col("price").round(3), "bookmaker",
            pl.when(pl.col("quoted_price").is_not_null() & (pl.col("quoted_price") != pl.col("price")))
            .then(pl.format(" (quoted {}, net of commission)", pl.col("quoted_price").round(3))).otherwise(pl.lit("")),
            (1.0 / pl.col("price")).round(4),
            pl.when(pl.col("edge").is_not_null()).then(pl.format("{}%", (pl.col("edge") * 100).round(2)))
            .otherwise(pl.lit("none claimed")),
            pl.col("strategy").replace_strict({r.strategy.name: r.sizing.method for r in runs}, return_dtype=pl.String),
            pl.col("strategy").replace_strict({k: f"{v:.0%}" for k, v in shares.items()}, return_dtype=pl.String),
            pl.lit(round(cash, 2)), "stake"),
    )
    for name, dtype in BOOK_COLUMNS.items():
        if name not in frame.columns:
            frame = frame.with_columns(pl.lit(None, dtype).alias(name))
    return frame.select([c for c in SLIP_COLUMNS if c != "equity"])


def _empty() -> pl.DataFrame:
    return pl.DataFrame(schema={c: pl.String for c in SLIP_COLUMNS})
