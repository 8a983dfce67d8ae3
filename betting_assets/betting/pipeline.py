"""Backtests between the warehouse, the model registry and the engine: history read from the
warehouse, the champion's probabilities on stored features, strategies configured from
settings (each alone, or the live ones together as they bet), held to risk's limits and the
venue's rules."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import polars as pl
from sqlalchemy import Engine

from betting_assets.domain.betting import strategies as registry
from betting_assets.domain.betting.backtest import BacktestConfig, BacktestResult, StrategyRun, run_backtest
from betting_assets.domain.features.build import FEATURE_COLUMNS
from betting_assets.domain.betting.staking import Sizing
from betting_assets.modelling.registry import ModelRef, Tracker, model_name
from betting_assets.settings import Settings
from betting_assets.venues import rules_of
from betting_assets.warehouse import queries

_SIDES = {"p_home": "home", "p_draw": "draw", "p_away": "away"}


def sizing_for(settings: Settings, method: str) -> Sizing:
    return settings.sizing.model_copy(update={"method": method})


def needs_model(runs: list[StrategyRun]) -> bool:
    return any(run.strategy.needs_model for run in runs)


def live_runs(settings: Settings) -> list[StrategyRun]:
    """The live strategies, each with its sizing and share, as ``bet_slips`` runs them."""
    live = settings.live.strategies
    return strategy_runs([s.name for s in live], settings, {s.name: s.method for s in live},
                         shares={s.name: s.share for s in live})


def config_for(settings: Settings, *, start: datetime | None = None, end: datetime | None = None,
               bankroll: float | None = None, devig: str | None = None, lookback: timedelta = timedelta(days=30),
               together: bool = False) -> BacktestConfig:
    """A backtest as the settings bet: their decision time, sharp book and de-vig, risk's limits,
    the venue's rules, results booked when the collection plan polls for them."""
    return BacktestConfig(decision_hours=settings.model.decision_hours, sharp_book=settings.features.sharp_book,
                          devig_method=devig or settings.features.devig_method,
                          bankroll=bankroll or settings.bankroll, lookback=lookback, start=start, end=end,
                          commission=settings.exchange.commission, limits=settings.risk,
                          venue=rules_of(settings.exchange.broker),
                          settle_delay=timedelta(minutes=settings.collection.results_after_minutes), together=together)


def _setting(settings: Settings, path: str) -> Any:
    group, _, field = path.partition(".")
    return getattr(getattr(settings, group), field)


def strategy_runs(names: list[str], settings: Settings, sizing: dict[str, str] | None = None,
                  min_edge: float | None = None, shares: dict[str, float] | None = None) -> list[StrategyRun]:
    """The named strategies with their default sizing (or the one given per name), their share
    of the cash (the whole of it unless given) and the parameters each declares from settings
    (``from_settings``); ``min_edge`` overrides the setting for every strategy that has one."""
    runs = []
    for name in names:
        params: dict[str, Any] = {p: _setting(settings, path) for p, path in registry.settings_params(name).items()}
        if min_edge is not None and "min_edge" in params:
            params["min_edge"] = min_edge
        strategy = registry.create(name, **params)
        method = (sizing or {}).get(name) or strategy.default_sizing
        runs.append(StrategyRun(strategy, sizing_for(settings, method), (shares or {}).get(name, 1.0)))
    return runs


def replay(odds: pl.DataFrame, events: pl.DataFrame, runs: list[StrategyRun], settings: Settings, *,
           start: datetime | None, end: datetime | None = None, model: pl.DataFrame | None = None,
           bankroll: float | None = None, devig: str | None = None, lookback: timedelta = timedelta(days=30),
           together: bool = False, progress: Any = None) -> BacktestResult:
    """The one backtest the asset, the CLI, ``devig compare`` and (through the asset) the demo
    run: the strategy runs replayed on ``odds`` and ``events`` over [start, end) at the model's
    decision time, the sharp book de-vigged as the settings (or ``devig``) say; ``together``: on
    one account, as the live strategies bet."""
    config = config_for(settings, start=start, end=end, bankroll=bankroll, devig=devig, lookback=lookback,
                        together=together)
    return run_backtest(odds, events, runs, config, model=model, progress=progress)


def long_probabilities(probs: pl.DataFrame, rows: pl.DataFrame, ref: ModelRef | None = None) -> pl.DataFrame:
    """A model's wide output (``p_home``…) beside its feature rows, as one row per side, stamped
    with the decision time its inputs were cut at."""
    wide = pl.concat([rows.select("event_id", pl.col("decision_time").alias("prob_time")), probs], how="horizontal")
    long = wide.unpivot(index=["event_id", "prob_time"], on=[c for c in probs.columns if c in _SIDES],
                        variable_name="column", value_name="prob")
    long = long.with_columns(side=pl.col("column").replace_strict(_SIDES)).drop("column")
    if ref is not None:
        long = long.with_columns(model_name=pl.lit(ref.name), model_version=pl.lit(ref.version))
    return long


def champion_probabilities(tracker: Tracker, features: pl.DataFrame, out_of_time_only: bool = True
                           ) -> tuple[pl.DataFrame | None, list[ModelRef], list[str]]:
    """The champion of each market kind applied to its feature rows, the versions used, and
    the kinds with rows but no champion. With ``out_of_time_only`` rows before the champion's
    out-of-time start are dropped: a backtest there would replay matches the model learnt from."""
    parts, refs, missing = [], [], []
    for three_way in (True, False):
        rows = features.filter(pl.col("three_way") == three_way)
        if rows.is_empty():
            continue
        ref = tracker.champion(model_name(three_way))
        if ref is None:
            missing.append(model_name(three_way))
            continue
        if out_of_time_only and ref.test_from:
            rows = rows.filter(pl.col("commence_time") >= datetime.fromisoformat(ref.test_from))
        if rows.is_empty():
            continue
        model = tracker.load_version(ref)
        inputs = model.metadata.get_input_schema().input_names()
        probs = pl.from_pandas(model.predict(rows.select(inputs).to_pandas()))
        parts.append(long_probabilities(probs, rows, ref))
        refs.append(ref)
    return (pl.concat(parts) if parts else None), refs, missing


@dataclass
class History:
    odds: pl.DataFrame
    events: pl.DataFrame
    features: pl.DataFrame


def warehouse_history(engine: Engine, sports: list[str], start: datetime | None, end: datetime | None,
                      decision_hours: float, lookback: timedelta) -> History:
    """Events kicking off in [start, end), their normalised odds from ``lookback`` before, and
    their stored features at the decision time."""
    with engine.connect() as conn:
        events = queries.events_of(conn, sports, start, end)
        if events.is_empty():
            return History(pl.DataFrame(), events, pl.DataFrame())
        first, last = events["commence_time"].min(), events["commence_time"].max()
        odds = pl.concat([queries.normalized_between(conn, sport, first - lookback, last)  # type: ignore[operator]
                          for sport in sports])
        features = queries.stored_features(conn, sports, FEATURE_COLUMNS, start=start, end=end)
    features = features.filter(
        (pl.col("commence_time") - pl.col("decision_time")) == timedelta(hours=decision_hours))
    return History(odds, events, features)

