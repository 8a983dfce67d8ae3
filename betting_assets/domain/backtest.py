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
from betting_assets.domain.settlement import RESULTS, SETTLE_COLUMNS, settle_frame
from betting_assets.domain.staking import Sizing, compound, linear_terms
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
    legs of an arbitrage) must share an event and a decision time.

    Only the numbers every candidate needs are read for all of them. A group that can never
    get a stake (no edge under Kelly, or a cap below the minimum stake) is dropped before
    anything is settled, and only the staked bets are gathered into the ledger, so strings are
    touched for the few rather than the million."""
    c = candidates.select(CANDIDATE_COLUMNS)
    if c.height == 0:
        return _scored(pl.DataFrame(schema=LEDGER_SCHEMA), bankroll)
    decision_us = c["decision_time"].dt.epoch("us").to_numpy()
    days, first_decision = _day_starts(decision_us)
    units = _units(c, decision_us, sizing, int(settle_delay.total_seconds() * 1e6))

    ret, code = settle_frame(c.select(SETTLE_COLUMNS)[units.leg_row])
    is_open = np.bincount(units.leg_unit, np.isnan(ret), minlength=units.size) > 0
    gain = np.bincount(units.leg_unit, units.leg_weight * np.nan_to_num(ret), minlength=units.size) - 1.0
    gain[is_open] = 0.0
    release = np.where(is_open, len(days), np.searchsorted(first_decision, units.settle_us, side="left"))
    day_number = np.zeros(days[-1] - days[0] + 1, dtype=np.int64)
    day_number[days - days[0]] = np.arange(len(days))
    unit_day = day_number[units.decision_us // _US_PER_DAY - days[0]]
    day_bounds = np.searchsorted(unit_day, np.arange(len(days) + 1), side="left")
    run = compound(day_bounds, units.a, units.b, units.max_leg, units.min_leg, gain, release, sizing, bankroll)

    leg_stake = run.group_stake[units.leg_unit] * units.leg_weight
    staked = np.flatnonzero(leg_stake > 0)
    staked = staked[np.lexsort((units.lead[units.leg_unit[staked]], decision_us[units.leg_row[staked]]))]
    unit = units.leg_unit[staked]
    stake, unit_return = leg_stake[staked], ret[staked]
    ledger = c[units.leg_row[staked]].with_columns(
        settle_time=pl.Series(units.settle_us[unit], dtype=pl.Int64).cast(pl.Datetime("us", "UTC")),
        clv=pl.col("price") * pl.col("p_close") - 1.0,
        bankroll=pl.Series(run.cash[unit_day[unit]]),
        stake=pl.Series(stake),
        result=pl.Series(code[staked], dtype=pl.UInt8).replace_strict(dict(enumerate(RESULTS)),
                                                                         return_dtype=pl.String),
        unit_return=pl.Series(unit_return).fill_nan(None),
        profit=pl.Series(stake * (unit_return - 1.0)).fill_nan(None),
    )
    return _scored(ledger.select(list(LEDGER_SCHEMA)).cast(LEDGER_SCHEMA), bankroll)


@dataclass
class _Units:
    """Groups that may get a stake, in day order (a single bet is a group of one), and their
    legs: ``leg_row`` indexes the candidates, ``leg_unit`` the groups."""
    lead: np.ndarray
    decision_us: np.ndarray
    settle_us: np.ndarray
    a: np.ndarray
    b: np.ndarray
    max_leg: np.ndarray
    min_leg: np.ndarray
    leg_row: np.ndarray
    leg_unit: np.ndarray
    leg_weight: np.ndarray

    @property
    def size(self) -> int:
        return len(self.lead)


def _day_starts(decision_us: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The days with a decision and each day's first decision, over every candidate: a result
    counts from the first day that starts after it settled, whether or not that day stakes."""
    firsts = (pl.DataFrame({"t": decision_us}).group_by(day=pl.col("t") // _US_PER_DAY)
              .agg(pl.col("t").min()).sort("day"))
    return firsts["day"].to_numpy(), firsts["t"].to_numpy()


def _units(c: pl.DataFrame, decision_us: np.ndarray, sizing: Sizing, delay_us: int) -> _Units:
    grouped = c["group"].is_not_null().to_numpy()
    price = c["price"].to_numpy()
    if sizing.method == "kelly":
        edge = c["prob"].to_numpy() * price - 1.0  # a null probability is NaN: no edge
        lead = np.flatnonzero((edge > 0) & ~grouped)
        unit_kelly = edge[lead] / (price[lead] - 1.0)
    else:
        lead = np.flatnonzero(~grouped)
        unit_kelly = np.zeros(len(lead))
    weight = c["weight"].to_numpy()
    commence_us = c["commence_time"].dt.epoch("us").to_numpy()
    max_leg = min_leg = weight[lead]
    settle_us = commence_us[lead]
    leg_row, leg_unit = lead, np.arange(len(lead))
    rows = np.flatnonzero(grouped)
    if rows.size and sizing.method != "kelly":  # Kelly needs one probability; a group has none of its own
        _, first, inverse = np.unique(c["group"].gather(rows).to_numpy().astype(str), return_index=True,
                                      return_inverse=True)
        by_group = np.argsort(inverse, kind="stable")
        starts = np.flatnonzero(np.concatenate([[True], np.diff(inverse[by_group]) != 0]))
        legs = rows[by_group]
        leg_row = np.concatenate([leg_row, legs])
        leg_unit = np.concatenate([leg_unit, len(lead) + inverse[by_group]])
        lead = np.concatenate([lead, rows[first]])
        unit_kelly = np.concatenate([unit_kelly, np.zeros(len(first))])
        max_leg = np.concatenate([max_leg, np.maximum.reduceat(weight[legs], starts)])
        min_leg = np.concatenate([min_leg, np.minimum.reduceat(weight[legs], starts)])
        settle_us = np.concatenate([settle_us, np.maximum.reduceat(commence_us[legs], starts)])
    a, b = linear_terms(sizing, unit_kelly)
    can_stake = (a > 0) | (b > 0)
    if sizing.max_stake is not None:
        can_stake &= sizing.max_stake / max_leg * min_leg >= sizing.min_stake
    keep = np.flatnonzero(can_stake)
    keep = keep[np.argsort(decision_us[lead[keep]] // _US_PER_DAY, kind="stable")]
    renumber = np.full(len(lead), -1)
    renumber[keep] = np.arange(len(keep))
    kept_leg = np.flatnonzero(can_stake[leg_unit])
    return _Units(lead=lead[keep], decision_us=decision_us[lead[keep]], settle_us=settle_us[keep] + delay_us,
                  a=a[keep], b=b[keep], max_leg=max_leg[keep], min_leg=min_leg[keep], leg_row=leg_row[kept_leg],
                  leg_unit=renumber[leg_unit[kept_leg]], leg_weight=weight[leg_row[kept_leg]])


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
