"""The backtest engine: strategies replayed at a decision time, sized, settled and scored.

For each strategy the engine builds the market view at the decision time (nothing later is in
it), asks the strategy for bets, refuses any bet that takes a price not on offer in that view
or a probability known after the decision, then sizes every bet day by day against the
bankroll, settles it against the final score and computes the metrics. Sizing and settlement
run as array operations over all bets at once (``execute``), so a million candidates take a
fraction of a second.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import polars as pl

from betting_assets.domain import betting_metrics as metrics
from betting_assets.domain.devig import Method
from betting_assets.domain.market_view import LINE_KEY, UTC, MarketView, build_view, closing_fair, decision_times
from betting_assets.domain.settlement import RESULTS, settle_frame
from betting_assets.domain.staking import Sizing, compound, kelly, linear_terms
from betting_assets.domain.strategies import BET_SCHEMA, Strategy, describe

LEDGER_SCHEMA: dict[str, pl.DataType] = {
    "event_id": pl.String, "sport_key": pl.String, "commence_time": UTC, "decision_time": UTC,
    "settle_time": UTC, "market": pl.String, "side": pl.String, "point": pl.Float64, "line": pl.Float64,
    "bookmaker": pl.String, "price": pl.Float64, "snapshot_time": UTC, "prob": pl.Float64, "edge": pl.Float64,
    "p_close": pl.Float64, "clv": pl.Float64, "group": pl.String, "weight": pl.Float64, "bankroll": pl.Float64,
    "stake": pl.Float64, "result": pl.String, "unit_return": pl.Float64, "profit": pl.Float64,
}
CANDIDATE_COLUMNS = [*BET_SCHEMA, "sport_key", "commence_time", "decision_time", "three_way", "home_score",
                     "away_score", "status", "p_close"]
_US_PER_DAY = 86_400_000_000
BREAKDOWNS = ("market", "bookmaker", "month")


class LookAheadError(ValueError):
    """A strategy used a price or a probability the bettor could not have had at the decision."""


@dataclass(frozen=True)
class BacktestConfig:
    decision_hours: float = 1.0
    sharp_book: str = "pinnacle"
    devig_method: Method = "multiplicative"
    bankroll: float = 1000.0
    settle_delay: timedelta = timedelta(hours=3)
    lookback: timedelta = timedelta(days=30)
    start: datetime | None = None
    end: datetime | None = None

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["settle_delay"] = self.settle_delay.total_seconds()
        data["lookback"] = self.lookback.total_seconds()
        data["start"] = self.start.isoformat() if self.start else None
        data["end"] = self.end.isoformat() if self.end else None
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> BacktestConfig:
        return cls(**{**data, "settle_delay": timedelta(seconds=data["settle_delay"]),
                      "lookback": timedelta(seconds=data["lookback"]),
                      "start": datetime.fromisoformat(data["start"]) if data["start"] else None,
                      "end": datetime.fromisoformat(data["end"]) if data["end"] else None})


@dataclass(frozen=True)
class StrategyRun:
    strategy: Strategy
    sizing: Sizing

    def __post_init__(self) -> None:
        if self.sizing.method not in self.strategy.sizing_methods:
            raise ValueError(f"strategy {self.strategy.name!r} cannot be sized by {self.sizing.method}; "
                             f"use one of {', '.join(self.strategy.sizing_methods)}")


@dataclass
class StrategyResult:
    name: str
    params: dict[str, Any]
    sizing: dict[str, Any]
    metrics: dict[str, Any]
    bets: pl.DataFrame
    equity: pl.DataFrame
    breakdowns: dict[str, pl.DataFrame]

    def equals(self, other: StrategyResult) -> bool:
        return (self.name == other.name and self.params == other.params and self.sizing == other.sizing
                and self.metrics == other.metrics and self.bets.equals(other.bets)
                and self.equity.equals(other.equity)
                and self.breakdowns.keys() == other.breakdowns.keys()
                and all(self.breakdowns[k].equals(other.breakdowns[k]) for k in self.breakdowns))


@dataclass
class BacktestResult:
    config: dict[str, Any]
    strategies: list[StrategyResult] = field(default_factory=list)

    def strategy(self, name: str) -> StrategyResult:
        for result in self.strategies:
            if result.name == name:
                return result
        raise KeyError(f"no strategy {name!r} in this backtest")

    def comparison(self) -> pl.DataFrame:
        """One row per strategy, every metric a column."""
        rows = [{"strategy": r.name, **{k: r.metrics.get(k) for k in metrics.METRIC_NAMES}} for r in self.strategies]
        schema = {"strategy": pl.String, **{k: (pl.Int64 if k in _INT_METRICS else pl.Float64)
                                            for k in metrics.METRIC_NAMES}}
        return pl.DataFrame(rows, schema=schema, orient="row")

    def equals(self, other: BacktestResult) -> bool:
        return (self.config == other.config and len(self.strategies) == len(other.strategies)
                and all(a.equals(b) for a, b in zip(self.strategies, other.strategies)))


_INT_METRICS = {"bets", "open_bets", "clv_bets", "longest_win_streak", "longest_loss_streak", "days"}


@dataclass
class Execution:
    ledger: pl.DataFrame
    equity: pl.DataFrame
    metrics: dict[str, Any]
    breakdowns: dict[str, pl.DataFrame]


def execute(candidates: pl.DataFrame, sizing: Sizing, bankroll: float,
            settle_delay: timedelta = timedelta(hours=3)) -> Execution:
    """Sizes, settles and scores candidate bets (``CANDIDATE_COLUMNS``). Bets of one group (the
    legs of an arbitrage) must share an event and a decision time."""
    c = _in_decision_order(candidates.select(CANDIDATE_COLUMNS))
    n = c.height
    if n == 0:
        return _scored(pl.DataFrame(schema=LEDGER_SCHEMA), bankroll)
    price = c["price"].to_numpy()
    ret, code = settle_frame(c)
    key = _group_keys(c["group"])
    starts = np.flatnonzero(np.concatenate([[True], key[1:] != key[:-1]]))
    size = np.diff(np.append(starts, n))
    leg_group = np.repeat(np.arange(len(starts)), size)
    weight = c["weight"].to_numpy()
    decision_us = c["decision_time"].dt.epoch("us").to_numpy()
    commence_us = c["commence_time"].dt.epoch("us").to_numpy()

    day_of_group = decision_us[starts] // _US_PER_DAY
    day_bounds = np.append(np.flatnonzero(np.concatenate([[True], day_of_group[1:] != day_of_group[:-1]])),
                           len(starts))
    first_decision = decision_us[starts][day_bounds[:-1]]
    is_open = np.maximum.reduceat(np.isnan(ret).astype(np.int8), starts) > 0
    gain = np.where(is_open, 0.0, np.add.reduceat(weight * np.nan_to_num(ret), starts) - 1.0)
    settle_us = np.maximum.reduceat(commence_us, starts) + int(settle_delay.total_seconds() * 1e6)
    release = np.where(is_open, len(first_decision), np.searchsorted(first_decision, settle_us, side="left"))
    group_kelly = np.where(size == 1, kelly(c["prob"].fill_null(np.nan).to_numpy()[starts], price[starts]), 0.0)
    a, b = linear_terms(sizing, group_kelly)
    run = compound(day_bounds, a, b, np.maximum.reduceat(weight, starts), np.minimum.reduceat(weight, starts),
                   gain, release, sizing, bankroll)

    stake = run.group_stake[leg_group] * weight
    day_index = np.repeat(np.arange(len(first_decision)), np.diff(day_bounds))
    cash = run.cash[day_index][leg_group]
    placed = stake > 0
    settle_leg = np.repeat(settle_us, size)
    ledger = c.with_columns(
        settle_time=pl.Series(settle_leg, dtype=pl.Int64).cast(pl.Datetime("us")).dt.replace_time_zone("UTC"),
        clv=pl.col("price") * pl.col("p_close") - 1.0,
        bankroll=pl.Series(cash),
        stake=pl.Series(stake),
        result=pl.Series(np.asarray(RESULTS, dtype=object)[code], dtype=pl.String),
        unit_return=pl.Series(ret).fill_nan(None),
        profit=pl.Series(stake * (ret - 1.0)).fill_nan(None),
    ).filter(pl.Series(placed))
    return _scored(ledger.select(list(LEDGER_SCHEMA)).cast(LEDGER_SCHEMA), bankroll)


def _group_keys(group: pl.Series) -> np.ndarray:
    """Each row's group as an integer: its own row number when it has no group, else the row
    number of the group's first leg."""
    key = np.arange(group.len(), dtype=np.int64)
    rows = np.flatnonzero(group.is_not_null().to_numpy())
    if rows.size:
        _, first, inverse = np.unique(group.gather(rows).to_numpy().astype(str), return_index=True,
                                      return_inverse=True)
        key[rows] = rows[first][inverse]
    return key


def _in_decision_order(frame: pl.DataFrame) -> pl.DataFrame:
    """Bets by decision time, ties in the order given, the legs of a group together."""
    order = np.lexsort((_group_keys(frame["group"]), frame["decision_time"].dt.epoch("us").to_numpy()))
    return frame[order]


def _scored(ledger: pl.DataFrame, bankroll: float) -> Execution:
    curve = metrics.equity_curve(ledger, bankroll)
    return Execution(ledger=ledger, equity=curve, metrics=metrics.summarise(ledger, curve, bankroll),
                     breakdowns={by: metrics.breakdown(ledger, by) for by in BREAKDOWNS})


def check_bets(bets: pl.DataFrame, view: MarketView) -> None:
    """Refuses bets the bettor could not have made at the decision time: a price that was not
    on offer in the view (later, stale or invented) or a probability known after the decision."""
    offers = view.offers.select("event_id", "bookmaker", "market", "side", "point", "snapshot_time", "price",
                                "decision_time")
    decisions = view.offers.select("event_id", "decision_time").unique("event_id")
    checked = (
        bets.join(decisions, on="event_id", how="left")
        .join(offers.drop("decision_time").with_columns(on_offer=pl.lit(True)),
              on=["event_id", "bookmaker", "market", "side", "point", "snapshot_time", "price"], how="left")
    )
    reasons = checked.select(
        "event_id", "bookmaker", "market", "side", "snapshot_time", "price", "decision_time",
        reason=pl.when(pl.col("decision_time").is_null()).then(pl.lit("event not in the backtest"))
        .when(pl.col("snapshot_time") >= pl.col("decision_time")).then(pl.lit("price from after the decision time"))
        .when(pl.col("on_offer").is_null()).then(pl.lit("price not on offer at the decision time"))
        .when(pl.col("prob").is_not_null() & pl.col("prob_time").is_null())
        .then(pl.lit("probability without the time it was known"))
        .when(pl.col("prob_time") > pl.col("decision_time")).then(pl.lit("probability from after the decision time")),
    ).filter(pl.col("reason").is_not_null())
    if not reasons.is_empty():
        counts = reasons.group_by("reason").len().sort("reason")
        summary = "; ".join(f"{r}: {k}" for r, k in counts.iter_rows())
        example = reasons.row(0, named=True)
        raise LookAheadError(f"refused {reasons.height} bet(s) ({summary}); first: {example}")


def check_model(model: pl.DataFrame, cuts: pl.DataFrame) -> None:
    late = model.join(cuts.select("event_id", "decision_time"), on="event_id").filter(
        pl.col("prob_time") > pl.col("decision_time"))
    if not late.is_empty():
        raise LookAheadError(f"{late.height} model probabilities were computed after their decision time; "
                             f"first: {late.row(0, named=True)}")


def run_backtest(odds: pl.DataFrame, events: pl.DataFrame, runs: list[StrategyRun], config: BacktestConfig,
                 model: pl.DataFrame | None = None, progress: Callable[[str], None] | None = None) -> BacktestResult:
    """``odds`` in the normalised shape; ``events`` with sport_key, commence_time, status,
    home_score and away_score; ``model`` (optional): event_id, side, prob, prob_time."""
    fixtures = events
    if config.start is not None:
        fixtures = fixtures.filter(pl.col("commence_time") >= config.start)
    if config.end is not None:
        fixtures = fixtures.filter(pl.col("commence_time") < config.end)
    if model is not None:
        check_model(model, decision_times(fixtures, config.decision_hours))
    view = build_view(odds, fixtures, decision_hours=config.decision_hours, sharp_book=config.sharp_book,
                      method=config.devig_method, lookback=config.lookback, model=model)
    closing = closing_fair(odds, fixtures, sharp_book=config.sharp_book, method=config.devig_method,
                           lookback=config.lookback)
    outcome_cols = fixtures.select("event_id", "sport_key", "commence_time", "status", "home_score", "away_score")
    result = BacktestResult(config=config.as_dict())
    for run in runs:
        bets = run.strategy.select(view).select(list(BET_SCHEMA)).cast(BET_SCHEMA)
        check_bets(bets, view)
        decided = bets.join(view.offers.select("event_id", "decision_time", "three_way").unique("event_id"),
                            on="event_id")
        candidates = (decided.join(outcome_cols, on="event_id")
                      .join(closing, on=[*LINE_KEY, "side"], how="left"))
        done = execute(candidates, run.sizing, config.bankroll, config.settle_delay)
        result.strategies.append(StrategyResult(
            name=run.strategy.name, params=describe(run.strategy), sizing=asdict(run.sizing), metrics=done.metrics,
            bets=done.ledger, equity=done.equity, breakdowns=done.breakdowns))
        if progress is not None:
            m = done.metrics
            progress(f"{run.strategy.name}: {m['bets']} bets, profit {m['profit']:.2f}, ROI {_pct(m['roi'])}, "
                     f"CLV {_pct(m['clv'])}")
    return result


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value:+.2%}"
