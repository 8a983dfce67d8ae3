"""Bet slips from the warehouse and the registry: features of the events at their decision
time, the champion of their market kind, and the prices on offer now."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

import polars as pl
from sqlalchemy import Engine

from betting_assets.betting.pipeline import champion_probabilities, sizing_for
from betting_assets.domain.betting import slips
from betting_assets.domain.features.build import FeatureConfig, build_features
from betting_assets.domain.pricing.market_view import offers_at
from betting_assets.domain.orders.risk import BookQuote
from betting_assets.venues.betfair.markets import exchange_offers
from betting_assets.modelling.registry import ModelRef, Tracker
from betting_assets.settings import Settings
from betting_assets.warehouse import ledger, queries


@dataclass
class SlipProposals:
    slips: pl.DataFrame
    events: int
    models: list[ModelRef] = field(default_factory=list)
    missing_models: list[str] = field(default_factory=list)


def proposals(engine: Engine, tracker: Tracker, settings: Settings, now: datetime,
              exchange_quotes: Callable[[list[str]], dict[tuple[str, int, float], BookQuote]] | None = None) -> SlipProposals:
    """Slips for the events whose decision time has come by ``now``. The model sees features cut
    at the decision time it was trained at; the price is the best on offer now; stakes are sized
    against the bankroll after the last settled bet. With ``exchange_quotes`` (the exchange
    broker's live books by market id) the price is the exchange's best back, net of its
    commission, on the markets the mapping found: what the broker can actually place."""
    config = FeatureConfig(decision_hours=(settings.model.decision_hours,), sharp_book=settings.features.sharp_book)
    with engine.connect() as conn:
        due = queries.at_decision(conn, now, settings.model.decision_hours, settings.collection.sports)
        if due.is_empty():
            return SlipProposals(pl.DataFrame(), 0)
        odds = queries.odds_for_events(conn, due["event_id"].to_list(),
                                       due["commence_time"].min() - config.lookback, now)  # type: ignore[operator]
        results = queries.finished_before(conn, settings.collection.sports, now)
        bankroll = ledger.current_bankroll(conn, settings.bankroll)
    features = build_features(odds, due, results, config)
    probs, refs, missing = champion_probabilities(tracker, features, out_of_time_only=False)
    if probs is None:
        return SlipProposals(pl.DataFrame(), due.height, refs, missing)
    offers = offers_at(odds, due.select("event_id", "sport_key", "commence_time", decision_time=pl.lit(now)),
                       sharp_book=settings.features.sharp_book, lookback=config.lookback,
                       method=settings.features.devig_method, commission=settings.exchange.commission)
    if exchange_quotes is not None:
        with engine.connect() as conn:
            mapping = queries.exchange_markets_frame(conn, due["event_id"].to_list())
        quotes = exchange_quotes(mapping["market_id"].unique().to_list()) if mapping.height else {}
        offers = exchange_offers(offers, mapping, quotes, settings.exchange.commission, now)
    fixtures = features.select("event_id", "decision_time", "home_team", "away_team")
    proposed = slips.propose(offers, probs, fixtures, bankroll=bankroll, sizing=sizing_for(settings, "kelly"),
                             min_edge=settings.backtest.min_edge, limits=settings.risk)
    return SlipProposals(proposed, due.height, refs, missing)
