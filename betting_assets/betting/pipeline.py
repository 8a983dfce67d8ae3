"""Backtests between the warehouse, the model registry and the engine: history read from the
warehouse, the champion's probabilities on stored features, strategies configured from
settings, and the model strategy's result logged to the champion's MLflow run."""

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
from betting_assets.warehouse import queries

MODEL_STRATEGY = "model_value"
_SIDES = {"p_home": "home", "p_draw": "draw", "p_away": "away"}


def sizing_for(settings: Settings, method: str) -> Sizing:
    return settings.sizing.model_copy(update={"method": method})


def _setting(settings: Settings, path: str) -> Any:
    group, _, field = path.partition(".")
    return getattr(getattr(settings, group), field)


def strategy_runs(names: list[str], settings: Settings, sizing: dict[str, str] | None = None,
                  min_edge: float | None = None) -> list[StrategyRun]:
    """The named strategies with their default sizing (or the one given per name) and the
    parameters each declares from settings (``from_settings``); ``min_edge`` overrides the
    setting for every strategy that has one."""
    runs = []
    for name in names:
        params: dict[str, Any] = {p: _setting(settings, path) for p, path in registry.settings_params(name).items()}
        if min_edge is not None and "min_edge" in params:
            params["min_edge"] = min_edge
        strategy = registry.create(name, **params)
        method = (sizing or {}).get(name) or strategy.default_sizing
        runs.append(StrategyRun(strategy, sizing_for(settings, method)))
    return runs


def replay(odds: pl.DataFrame, events: pl.DataFrame, names: list[str], settings: Settings, *,
           start: datetime | None, end: datetime | None = None, model: pl.DataFrame | None = None,
           sizing: dict[str, str] | None = None, min_edge: float | None = None, bankroll: float | None = None,
           devig: str | None = None, lookback: timedelta = timedelta(days=30),
           progress: Any = None) -> BacktestResult:
    """The one backtest the asset, the CLI, ``devig compare`` and (through the asset) the demo run: the named
    strategies configured from settings, replayed on ``odds`` and ``events`` over [start, end)
    at the model's decision time, the sharp book de-vigged as the settings (or ``devig``) say."""
    config = BacktestConfig(decision_hours=settings.model.decision_hours, sharp_book=settings.features.sharp_book,
                            devig_method=devig or settings.features.devig_method, bankroll=bankroll or settings.bankroll,
                            lookback=lookback, start=start, end=end, commission=settings.exchange.commission)
    return run_backtest(odds, events, strategy_runs(names, settings, sizing, min_edge), config, model=model,
                        progress=progress)


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

