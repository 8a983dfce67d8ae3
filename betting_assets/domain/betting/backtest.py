"""The backtest engine: strategies replayed at a decision time, sized, gated, settled and scored.

The engine builds the market view at the decision time (nothing later is in it), asks each
strategy for bets, refuses any bet that takes a price not on offer in that view or a probability
known after the decision, then runs every candidate through the account (``execute``): sized on
the day's cash as risk's limits allow, through the same controls as the live gate in the same
order, settled against the final score, its result booked when it is known. "Backtested"
therefore means "as the gate would have let it bet". Strategies run each on an account of their
own (to compare them) or together on one (as the live strategies bet, each with its share of
the bankroll). Column passes where a rule holds for every bet at once, compiled loops where it
must go moment by moment, so a million candidates take a fraction of a second.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import polars as pl

from betting_assets.domain.betting import metrics
from betting_assets.domain.betting import claims
from betting_assets.domain.pricing.devig import DEFAULT_CHOICE
from betting_assets.domain.pricing.market_view import LINE_KEY, UTC, MarketView, build_view, closing_fair, decision_times
from betting_assets.domain.pricing.commission import DEFAULT_COMMISSION
from betting_assets.domain.kernels import account as replay
from betting_assets.domain.betting.settlement import RESULTS, read_bets
from betting_assets.domain.betting.staking import Sizing, linear_terms
from betting_assets.domain.betting.strategies import BET_SCHEMA, Strategy, describe
from betting_assets.domain.orders.account import limits_vector
from betting_assets.domain.orders.book import VenueRules, new_book
from betting_assets.domain.orders.controls import Controls
from betting_assets.domain.orders.risk import RiskLimits

BACKTEST_BETS_SCHEMA: dict[str, pl.DataType] = {
    "event_id": pl.String, "sport_key": pl.String, "commence_time": UTC, "decision_time": UTC,
    "settle_time": UTC, "market": pl.String, "side": pl.String, "point": pl.Float64, "line": pl.Float64,
    "bookmaker": pl.String, "price": pl.Float64, "quoted_price": pl.Float64, "snapshot_time": UTC,
    "prob": pl.Float64, "edge": pl.Float64, "p_close": pl.Float64, "clv": pl.Float64, "group": pl.String, "weight": pl.Float64, "bankroll": pl.Float64,
    "stake": pl.Float64, "result": pl.String, "unit_return": pl.Float64, "profit": pl.Float64,
    "strategy": pl.String,
}
CANDIDATE_COLUMNS = [*BET_SCHEMA, "sport_key", "commence_time", "decision_time", "three_way", "home_score",
                     "away_score", "status", "p_close"]
CANDIDATE_ORDER = ["decision_time", "run", "event_id", "market", "line", "side", "bookmaker"]
"""how the candidates of one moment queue at the gate, in the backtest as in the live slips"""
RESULTS_AFTER = timedelta(minutes=150)
"""when a result is known after kick-off: the collection plan polls for it then"""
BREAKDOWNS = ("market", "bookmaker", "month")


class LookAheadError(ValueError):
    """A strategy used a price or a probability the bettor could not have had at the decision."""


@dataclass(frozen=True)
class BacktestConfig:
    decision_hours: float = 1.0
    sharp_book: str = "pinnacle"
    devig_method: str = DEFAULT_CHOICE
    """de-vig of the sharp book per market (``devig.parse_choice``): fair prices, edges, CLV"""
    commission: float = DEFAULT_COMMISSION
    """on an exchange's net winnings: its prices count net of it (``domain.commission``)"""
    bankroll: float = 1000.0
    settle_delay: timedelta = RESULTS_AFTER
    """how long after kick-off a result is known (and booked)"""
    lookback: timedelta = timedelta(days=30)
    start: datetime | None = None
    end: datetime | None = None
    limits: RiskLimits = field(default_factory=RiskLimits)
    """what the gate holds every bet to"""
    venue: VenueRules = field(default_factory=VenueRules)
    """the venue's minimum bet, stake step and transaction count"""
    together: bool = False
    """the strategies on one account, each with its share (as the live strategies bet), rather
    than each on an account of its own"""

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["settle_delay"] = self.settle_delay.total_seconds()
        data["lookback"] = self.lookback.total_seconds()
        data["start"] = self.start.isoformat() if self.start else None
        data["end"] = self.end.isoformat() if self.end else None
        data["limits"] = self.limits.model_dump()
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> BacktestConfig:
        return cls(**{**data, "settle_delay": timedelta(seconds=data["settle_delay"]),
                      "lookback": timedelta(seconds=data["lookback"]),
                      "start": datetime.fromisoformat(data["start"]) if data["start"] else None,
                      "end": datetime.fromisoformat(data["end"]) if data["end"] else None,
                      "limits": RiskLimits.model_validate(data.get("limits") or {}),
                      "venue": VenueRules(**(data.get("venue") or {}))})


@dataclass(frozen=True)
class StrategyRun:
    strategy: Strategy
    sizing: Sizing
    share: float = 1.0
    """of the account's cash, when strategies share one"""

    def __post_init__(self) -> None:
        if self.sizing.method not in self.strategy.sizing_methods:
            raise ValueError(f"strategy {self.strategy.name!r} cannot be sized by {self.sizing.method}; "
                             f"use one of {', '.join(self.strategy.sizing_methods)}")
        if not 0 < self.share <= 1:
            raise ValueError(f"strategy {self.strategy.name!r}: a share of the bankroll must be in (0, 1], "
                             f"not {self.share:g}")


@dataclass
class StrategyResult:
    name: str
    params: dict[str, Any]
    sizing: dict[str, Any]
    metrics: dict[str, Any]
    bets: pl.DataFrame
    equity: pl.DataFrame
    breakdowns: dict[str, pl.DataFrame]
    refused: dict[str, int] = field(default_factory=dict)
    """candidates each control refused (one refused by several counts for each)"""

    def equals(self, other: StrategyResult) -> bool:
        return (self.name == other.name and self.params == other.params and self.sizing == other.sizing
                and self.refused == other.refused
                and self.metrics == other.metrics and self.bets.equals(other.bets)
                and self.equity.equals(other.equity)
                and self.breakdowns.keys() == other.breakdowns.keys()
                and all(self.breakdowns[k].equals(other.breakdowns[k]) for k in self.breakdowns))


@dataclass
class BacktestResult:
    config: dict[str, Any]
    strategies: list[StrategyResult] = field(default_factory=list)
    account: StrategyResult | None = None
    """with the strategies together on one account: all of its bets"""

    def strategy(self, name: str) -> StrategyResult:
        for result in self.strategies:
            if result.name == name:
                return result
        raise KeyError(f"no strategy {name!r} in this backtest")

    def comparison(self) -> pl.DataFrame:
        """One row per strategy, every metric a column."""
        names = [*metrics.METRIC_NAMES, *metrics.INTERVAL_NAMES]
        rows = [{"strategy": r.name, **{k: r.metrics.get(k) for k in names}} for r in self.strategies]
        schema = {"strategy": pl.String, **{k: (pl.Int64 if k in _INT_METRICS else pl.Float64) for k in names}}
        return pl.DataFrame(rows, schema=schema, orient="row")

    def equals(self, other: BacktestResult) -> bool:
        return (self.config == other.config and len(self.strategies) == len(other.strategies)
                and all(a.equals(b) for a, b in zip(self.strategies, other.strategies))
                and (self.account is None) == (other.account is None)
                and (self.account is None or self.account.equals(other.account)))  # type: ignore[arg-type]

    def bets(self) -> pl.DataFrame:
        """Every bet placed, each with its strategy: the account's, or each strategy's."""
        parts = [self.account.bets] if self.account is not None else [s.bets for s in self.strategies]
        return pl.concat(parts) if parts else pl.DataFrame(schema=BACKTEST_BETS_SCHEMA)


_INT_METRICS = {"bets", "open_bets", "clv_bets", "longest_win_streak", "longest_loss_streak", "days", "bet_days",
                "hit_rate_bets"}


@dataclass
class Execution:
    ledger: pl.DataFrame
    equity: pl.DataFrame
    metrics: dict[str, Any]
    breakdowns: dict[str, pl.DataFrame]
    refused: dict[str, int] = field(default_factory=dict)
    refused_by_run: dict[int, dict[str, int]] = field(default_factory=dict)


@dataclass(frozen=True)
class Account:
    """What the backtest's bets are held to: risk's limits, the venue's rules and the gate's
    controls, in their order."""

    limits: RiskLimits = field(default_factory=RiskLimits)
    venue: VenueRules = field(default_factory=VenueRules)
    controls: Controls = field(default_factory=Controls)


def execute(candidates: pl.DataFrame, sizing: Sizing | list[tuple[Sizing, float]], bankroll: float,
            settle_delay: timedelta = RESULTS_AFTER, account: Account | None = None) -> Execution:
    """Sizes, gates, settles and scores candidate bets (``CANDIDATE_COLUMNS``) on one account.
    Bets of one group (the legs of an arbitrage) must share an event and a decision time.
    ``sizing``: one, or one (sizing, share of the cash) per strategy run, the candidates' ``run``
    column saying whose each is.

    Only the numbers every candidate needs are read for all of them, and a group that can never
    get a stake (no edge under Kelly, or a cap below the minimum stake) is dropped first. The
    days then run in one compiled loop (``kernels.account``) that books each result when it is
    known, sizes each moment's groups, asks the controls and settles a group only once it is
    staked, and only the staked bets are gathered into the ledger, so strings are touched for
    the few rather than the million."""
    account = account or Account()
    runs = [(sizing, 1.0)] if isinstance(sizing, Sizing) else list(sizing)
    c = candidates.select(CANDIDATE_COLUMNS + (["quoted_price"] if "quoted_price" in candidates.columns else []),
                          run=pl.col("run").cast(pl.Int64) if "run" in candidates.columns else pl.lit(0, pl.Int64),
                          strategy=pl.col("strategy") if "strategy" in candidates.columns else pl.lit(None, pl.String))
    if c.height == 0:
        return _scored(pl.DataFrame(schema=BACKTEST_BETS_SCHEMA), bankroll)
    decision_us = c["decision_time"].dt.epoch("us").to_numpy()
    lowest, day_number, first_decision = replay.number_days(decision_us)
    numbers = c.select(pl.col("price", "prob", "weight", "edge").fill_null(float("nan")))
    weight = numbers["weight"].to_numpy()
    run = c["run"].to_numpy()
    price, prob = numbers["price"].to_numpy(), numbers["prob"].to_numpy()
    if len(runs) == 1:  # the terms follow the order, rather than being reordered with it
        units = _units(c, price, prob, weight, runs[0][0], account.limits)
    else:
        units, a, b = _all_units(c, price, prob, weight, run, runs, account.limits)
    day = replay.day_of(decision_us, units.lead, lowest, day_number)
    order, day_bounds = replay.by_day(day, len(first_decision))
    units = units.ordered(order)
    a, b = _terms(runs[0], units.kelly) if len(runs) == 1 else (a[order], b[order])
    limits = limits_vector(account.limits, account.venue)
    events = c["event_id"].hash().to_numpy().view(np.int64)
    quoted = c["quoted_price"].fill_null(c["price"]) if "quoted_price" in c.columns else c["price"]
    done = replay.replay(
        replay.Days(day_bounds, first_decision),
        replay.Groups(units.leg_start, units.leg_row, a, b, units.max_leg, units.min_leg),
        replay.Rows(weight, c["commence_time"].dt.epoch("us").to_numpy(), decision_us, events,
                    numbers["price"].to_numpy(), quoted.fill_null(float("nan")).to_numpy().astype(float),
                    numbers["edge"].to_numpy(),
                    np.full(c.height, 1.0 if account.venue.transactions_per_hour is not None else 0.0)),
        read_bets(c, units.leg_row), new_book(float(bankroll), limits), limits, *account.controls.compiled(),
        int(settle_delay.total_seconds() * 1e6))
    execution = _ledger(c, units.leg_row, done, bankroll)
    execution.refused, execution.refused_by_run = _refused(done.refused, run[units.lead], account.controls)
    return execution


def _refused(masks: np.ndarray, runs: np.ndarray, controls: Controls) -> tuple[dict[str, int], dict[int, dict[str, int]]]:
    """Candidates refused by each control, over all and per strategy run."""
    counts = replay.count_bits(masks, runs.astype(np.int64), int(runs.max()) + 1 if len(runs) else 1,
                               len(controls.codes))
    by_run = {r: {code: int(n) for code, n in zip(controls.codes, row) if n} for r, row in enumerate(counts)}
    total = {code: int(n) for code, n in zip(controls.codes, counts.sum(axis=0)) if n}
    return total, {r: found for r, found in by_run.items() if found}


def _ledger(c: pl.DataFrame, leg_row: np.ndarray, done: replay.Played, bankroll: float) -> Execution:
    """The staked legs gathered from the candidates, with what the account decided for them."""
    staked, group = done.legs, done.groups
    rows = leg_row[staked]
    stake, unit_return = done.leg_stake[staked], done.ret[staked]
    quoted = ["quoted_price"] if "quoted_price" in c.columns else []
    ledger = c.select(*_FROM_CANDIDATES, *quoted, "strategy")[rows].with_columns(
        settle_time=pl.Series(done.settle_us[group], dtype=pl.Int64).cast(pl.Datetime("us", "UTC")),
        clv=pl.col("price") * pl.col("p_close") - 1.0,
        quoted_price=pl.col("quoted_price") if quoted else pl.col("price"),
        bankroll=pl.Series(done.basis[group]),
        stake=pl.Series(stake),
        result=pl.Series(done.code[staked], dtype=pl.UInt8).replace_strict(dict(enumerate(RESULTS)),
                                                                              return_dtype=pl.String),
        unit_return=pl.Series(unit_return).fill_nan(None),
        profit=pl.Series(stake * (unit_return - 1.0)).fill_nan(None),
    )
    return _scored(ledger.select(list(BACKTEST_BETS_SCHEMA)).cast(BACKTEST_BETS_SCHEMA), bankroll)


_FROM_CANDIDATES = [c for c in BACKTEST_BETS_SCHEMA if c in CANDIDATE_COLUMNS]
"""``price`` is net of commission at an exchange (``market_view``); ``quoted_price``, carried
when the candidates have it, is the price as quoted"""


@dataclass
class _Units:
    """Groups that may get a stake (a single bet is a group of one), ordered by their lead row,
    so that bets decided at the same moment keep the candidates' order. Legs are held as
    ``leg_row[leg_start[u]:leg_start[u + 1]]``."""
    lead: np.ndarray
    kelly: np.ndarray
    max_leg: np.ndarray
    min_leg: np.ndarray
    leg_start: np.ndarray
    leg_row: np.ndarray

    @property
    def size(self) -> int:
        return len(self.lead)

    def ordered(self, order: np.ndarray) -> _Units:
        if len(self.leg_row) == len(self.lead):  # singles only: each unit is its own leg
            lead = self.lead[order]
            share = self.max_leg[order]
            return _Units(lead, self.kelly[order], share, share, np.arange(len(lead) + 1), lead)
        counts = np.diff(self.leg_start)[order]
        starts = self.leg_start[order]
        take = np.repeat(starts - np.concatenate([[0], np.cumsum(counts)[:-1]]), counts) + np.arange(counts.sum())
        return _Units(self.lead[order], self.kelly[order], self.max_leg[order], self.min_leg[order],
                      np.concatenate([[0], np.cumsum(counts)]), self.leg_row[take])


def _terms(run: tuple[Sizing, float], kelly: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    a, b = linear_terms(run[0], kelly, run[1])
    return np.ascontiguousarray(np.broadcast_to(a, len(kelly))), np.ascontiguousarray(np.broadcast_to(b, len(kelly)))


def _all_units(c: pl.DataFrame, price: np.ndarray, prob: np.ndarray, weight: np.ndarray, run: np.ndarray,
               runs: list[tuple[Sizing, float]], limits: RiskLimits) -> tuple[_Units, np.ndarray, np.ndarray]:
    """Every run's units, in lead-row order, with each one's stake terms (``linear_terms``)."""
    if len(runs) == 1:
        units = _units(c, price, prob, weight, runs[0][0], limits)
        return (units, *_terms(runs[0], units.kelly))
    parts, terms = [], []
    for r, (sizing, share) in enumerate(runs):
        rows = np.flatnonzero(run == r)
        if rows.size == 0:
            continue
        units = _units(c[rows], price[rows], prob[rows], weight[rows], sizing, limits)
        units = _Units(rows[units.lead], units.kelly, units.max_leg, units.min_leg, units.leg_start,
                       rows[units.leg_row])
        parts.append(units)
        terms.append(list(_terms((sizing, share), units.kelly)))
    merged = _Units(np.concatenate([u.lead for u in parts]), np.concatenate([u.kelly for u in parts]),
                    np.concatenate([u.max_leg for u in parts]), np.concatenate([u.min_leg for u in parts]),
                    np.concatenate([[0], np.cumsum(np.concatenate([np.diff(u.leg_start) for u in parts]))]),
                    np.concatenate([u.leg_row for u in parts]))
    by_lead = np.argsort(merged.lead, kind="stable")
    a, b = (np.concatenate([t[k] for t in terms]) for k in (0, 1))
    return merged.ordered(by_lead), a[by_lead], b[by_lead]


def _units(c: pl.DataFrame, price: np.ndarray, prob: np.ndarray, weight: np.ndarray, sizing: Sizing,
           limits: RiskLimits,
           singles: Callable[..., tuple[np.ndarray, np.ndarray]] = replay.single_bets) -> _Units:
    grouped = c["group"].is_not_null().to_numpy()
    lead, unit_kelly = singles(price, prob, grouped, sizing.method == "kelly")
    singles = _Units(lead, unit_kelly, weight[lead], weight[lead], np.arange(len(lead) + 1), lead)
    rows = np.flatnonzero(grouped)
    if rows.size == 0 or sizing.method == "kelly":  # Kelly needs one probability; a group has none of its own
        return singles
    _, inverse = np.unique(c["group"].gather(rows).to_numpy().astype(str), return_inverse=True)
    legs = rows[np.lexsort((rows, inverse))]
    starts = np.flatnonzero(np.concatenate([[True], np.diff(np.sort(inverse)) != 0]))
    max_leg, min_leg = np.maximum.reduceat(weight[legs], starts), np.minimum.reduceat(weight[legs], starts)
    fits = np.ones(len(starts), dtype=bool)
    if limits.max_stake is not None:  # a cap that leaves the smallest leg below the minimum stakes nothing
        fits = limits.max_stake / max_leg * min_leg >= limits.min_stake
    ends = np.concatenate([starts[1:], [len(legs)]])
    keep = np.flatnonzero(fits)
    group_legs = np.concatenate([legs[starts[g]:ends[g]] for g in keep]) if keep.size else legs[:0]
    counts = (ends - starts)[keep]
    lead_all = np.concatenate([lead, legs[starts[keep]]])
    by_lead = np.argsort(lead_all, kind="stable")
    merged = _Units(lead_all, np.concatenate([unit_kelly, np.zeros(len(keep))]),
                    np.concatenate([singles.max_leg, max_leg[keep]]), np.concatenate([singles.min_leg, min_leg[keep]]),
                    np.concatenate([[0], np.cumsum(np.concatenate([np.ones(len(lead), dtype=np.int64), counts]))]),
                    np.concatenate([lead, group_legs]))
    return merged.ordered(by_lead)


def _scored(ledger: pl.DataFrame, bankroll: float) -> Execution:
    curve, figures, breakdowns = metrics.score(ledger, bankroll, BREAKDOWNS)
    return Execution(ledger=ledger, equity=curve, metrics=figures, breakdowns=breakdowns)


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


def choose(view: MarketView, runs: list[StrategyRun]) -> pl.DataFrame:
    """Each run's bets on ``view``, proven to take only prices on offer and probabilities known at
    the decision (``check_bets``), with the strategy's name, its run's index and its decision
    time, in the order they queue at the gate (``CANDIDATE_ORDER``): what the backtest replays
    and what the live slips are made from."""
    parts = []
    for index, run in enumerate(runs):
        chosen = run.strategy.select(view)
        quoted = pl.col("quoted_price") if "quoted_price" in chosen.columns else pl.col("price").alias("quoted_price")
        bets = chosen.select(*BET_SCHEMA, quoted.cast(pl.Float64)).cast(BET_SCHEMA)
        check_bets(bets, view)
        parts.append(bets.with_columns(run=pl.lit(index, pl.Int64), strategy=pl.lit(run.strategy.name)))
    if not parts:
        return pl.DataFrame(schema={**BET_SCHEMA, "quoted_price": pl.Float64, "run": pl.Int64, "strategy": pl.String,
                                    "decision_time": UTC, "three_way": pl.Boolean})
    decided = pl.concat(parts).join(view.offers.select("event_id", "decision_time", "three_way").unique("event_id"),
                                    on="event_id")
    return decided.sort(CANDIDATE_ORDER)


def run_backtest(odds: pl.DataFrame, events: pl.DataFrame, runs: list[StrategyRun], config: BacktestConfig,
                 model: pl.DataFrame | None = None, progress: Callable[[str], None] | None = None,
                 controls: Controls | None = None) -> BacktestResult:
    """``odds`` in the normalised shape; ``events`` with sport_key, commence_time, status,
    home_score and away_score; ``model`` (optional): event_id, side, prob, prob_time. With
    ``config.together`` the runs share one account, each sized on its share of the day's cash
    (the result's ``account`` holds all their bets); otherwise each run is an account of its
    own with the whole bankroll."""
    fixtures = events
    if config.start is not None:
        fixtures = fixtures.filter(pl.col("commence_time") >= config.start)
    if config.end is not None:
        fixtures = fixtures.filter(pl.col("commence_time") < config.end)
    if model is not None:
        check_model(model, decision_times(fixtures, config.decision_hours))
    view = build_view(odds, fixtures, decision_hours=config.decision_hours, sharp_book=config.sharp_book,
                      method=config.devig_method, lookback=config.lookback, model=model, commission=config.commission)
    closing = closing_fair(odds, fixtures, sharp_book=config.sharp_book, method=config.devig_method,
                           lookback=config.lookback)
    outcome_cols = fixtures.select("event_id", "sport_key", "commence_time", "status", "home_score", "away_score")
    candidates = (choose(view, runs).join(outcome_cols, on="event_id")
                  .join(closing, on=[*LINE_KEY, "side"], how="left").sort(CANDIDATE_ORDER))
    account = Account(config.limits, config.venue, controls or Controls())
    result = BacktestResult(config=config.as_dict())
    if config.together:
        done = execute(candidates, [(r.sizing, r.share) for r in runs], config.bankroll, config.settle_delay, account)
        for index, run in enumerate(runs):
            mine = done.ledger.filter(pl.col("strategy") == run.strategy.name)
            part = _scored(mine, config.bankroll * run.share)
            result.strategies.append(_result(run, part, done.refused_by_run.get(index, {})))
        everything = Execution(done.ledger, done.equity, done.metrics, done.breakdowns)
        result.account = StrategyResult(
            name="account", params={"strategies": [describe(r.strategy) for r in runs]},
            sizing={r.strategy.name: {**r.sizing.model_dump(), "share": r.share} for r in runs},
            metrics={**everything.metrics, **metrics.intervals(everything.ledger)}, bets=done.ledger,
            equity=done.equity, breakdowns=done.breakdowns, refused=done.refused)
    else:
        for index, run in enumerate(runs):
            mine = candidates.filter(pl.col("run") == index).with_columns(run=pl.lit(0, pl.Int64))
            done = execute(mine, run.sizing, config.bankroll, config.settle_delay, account)
            result.strategies.append(_result(run, done, done.refused))
    if progress is not None:
        for strategy in result.strategies:
            progress(f"{strategy.name}: {claims.strategy_line(strategy.metrics)}")
    return result


def _result(run: StrategyRun, done: Execution, refused: dict[str, int]) -> StrategyResult:
    figures = {**done.metrics, **metrics.intervals(done.ledger)}
    return StrategyResult(name=run.strategy.name, params=describe(run.strategy),
                          sizing={**run.sizing.model_dump(), "share": run.share}, metrics=figures, bets=done.ledger,
                          equity=done.equity, breakdowns=done.breakdowns, refused=dict(refused))
