"""Bet slips from the warehouse, the registry and the venue: the live strategies' decision on the
events whose decision time has come, taken as the backtest takes it.

The view is the backtest's (``market_view``): the prices on offer strictly before now (with a
venue that has its own book, that book's best prices on the markets the mapping found) and,
when a live strategy reads the model, the champion's probabilities on the events' features at
their decision time. Each live strategy chooses through the same look-ahead guard
(``backtest.choose``), and the account decides as the backtest's loop decides a moment
(``decisions.decide``), on the book the ledger folds to now.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

import polars as pl
from sqlalchemy import Engine

from betting_assets.betting.pipeline import champion_probabilities, live_runs, needs_model
from betting_assets.domain.betting.backtest import StrategyRun, choose
from betting_assets.domain.betting.decisions import Decision, decide
from betting_assets.domain.features.build import FeatureConfig, build_features
from betting_assets.domain.orders.account import Book
from betting_assets.domain.orders.controls import Controls
from betting_assets.domain.pricing.market_view import MODEL_SCHEMA, MarketView, offers_at
from betting_assets.modelling.registry import ModelRef, Tracker
from betting_assets.settings import Settings
from betting_assets.warehouse import queries


@dataclass
class SlipProposals:
    slips: pl.DataFrame
    events: int
    """events at their decision time, decided now"""
    decided: pl.DataFrame = field(default_factory=pl.DataFrame)
    """each of them with its decision time, the bets chosen and the slips made"""
    decision: Decision | None = None
    models: list[ModelRef] = field(default_factory=list)
    missing_models: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    """live strategies that read the model, left out for want of a champion"""


def proposals(engine: Engine, tracker: Callable[[], Tracker], settings: Settings, now: datetime,
              book: Callable[[], Book], venue_offers: Callable[[pl.DataFrame, pl.DataFrame], pl.DataFrame],
              controls: Controls | None = None, runs: list[StrategyRun] | None = None) -> SlipProposals:
    """Slips for the events whose decision time has come by ``now`` and that no decision took
    yet. ``tracker``: the registry (asked only when a live strategy reads the model); ``book``:
    the account now; ``venue_offers``: the venue's prices from the feed's offers and the events
    (a venue with no book of its own returns the offers)."""
    runs = runs if runs is not None else live_runs(settings)
    hours = settings.model.decision_hours
    config = FeatureConfig(decision_hours=(hours,), sharp_book=settings.features.sharp_book)
    with engine.connect() as conn:
        due = queries.at_decision(conn, now, hours, settings.collection.sports)
        if due.is_empty():
            return SlipProposals(pl.DataFrame(), 0)
        odds = queries.odds_for_events(conn, due["event_id"].to_list(),
                                       due["commence_time"].min() - config.lookback, now)  # type: ignore[operator]
        results = queries.finished_before(conn, settings.collection.sports, now) if needs_model(runs) else None
    outcome = SlipProposals(pl.DataFrame(), due.height)
    model = None
    if needs_model(runs):
        features = build_features(odds, due, results, config)  # type: ignore[arg-type]
        probs, outcome.models, outcome.missing_models = champion_probabilities(tracker(), features,
                                                                               out_of_time_only=False)
        if probs is None:
            outcome.skipped = [r.strategy.name for r in runs if r.strategy.needs_model]
            runs = [r for r in runs if not r.strategy.needs_model]
        else:
            model = probs
    offers = offers_at(odds, due.select("event_id", "sport_key", "commence_time", decision_time=pl.lit(now)),
                       sharp_book=settings.features.sharp_book, lookback=config.lookback,
                       method=settings.features.devig_method, commission=settings.exchange.commission)
    offers = venue_offers(offers, due)
    view = MarketView(offers=offers, sharp_book=settings.features.sharp_book,
                      model=model.select(list(MODEL_SCHEMA)).cast(MODEL_SCHEMA) if model is not None else None)
    chosen = choose(view, runs) if runs else pl.DataFrame()
    decision = decide(chosen, runs, book(), due, controls or Controls(),
                      model.select("event_id", "side", "model_name", "model_version") if model is not None else None)
    outcome.decision, outcome.slips = decision, decision.slips
    counts = chosen.group_by("event_id").len("candidates") if chosen.height else pl.DataFrame(
        schema={"event_id": pl.String, "candidates": pl.UInt32})
    made = decision.slips.group_by("event_id").len("slips") if decision.slips.height else pl.DataFrame(
        schema={"event_id": pl.String, "slips": pl.UInt32})
    import json

    refusals = pl.DataFrame({"event_id": list(decision.refused_by_event),
                             "refusals": [json.dumps(v, sort_keys=True) for v in decision.refused_by_event.values()]},
                            schema={"event_id": pl.String, "refusals": pl.String})
    outcome.decided = (due.select("event_id", (pl.col("commence_time") - pl.duration(
        microseconds=round(hours * 3.6e9))).alias("decision_time"))
        .join(counts, on="event_id", how="left").join(made, on="event_id", how="left")
        .join(refusals, on="event_id", how="left")
        .with_columns(pl.col("candidates", "slips").fill_null(0).cast(pl.Int64)))
    return outcome
