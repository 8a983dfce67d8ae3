"""The backtest engine as it stood before the account and its controls came into it (issue
28), frozen here as the baseline of ``backtest_engine``: one bankroll per strategy, each day's
stakes sized together against the cash at its start and scaled to a day fraction, no control
asked. The benchmark runs it and the account engine on the same candidates in the same process:
where no control of the account binds the two ledgers must be identical, and both times are
printed. Not used by the product."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import NamedTuple

import numba
import numpy as np
import polars as pl

from betting_assets.domain.betting.backtest import Execution, _scored, _Units
from betting_assets.domain.kernels.account import by_day, day_of, number_days, single_bets
from betting_assets.domain.betting.settlement import RESULTS, read_bets
from betting_assets.domain.kernels.settle import settle_one
from betting_assets.domain.vocabulary import Result

_OPEN = Result.OPEN.code


UTC = pl.Datetime("us", "UTC")
BACKTEST_BETS_SCHEMA: dict[str, pl.DataType] = {
    "event_id": pl.String, "sport_key": pl.String, "commence_time": UTC, "decision_time": UTC,
    "settle_time": UTC, "market": pl.String, "side": pl.String, "point": pl.Float64, "line": pl.Float64,
    "bookmaker": pl.String, "price": pl.Float64, "quoted_price": pl.Float64, "snapshot_time": UTC,
    "prob": pl.Float64, "edge": pl.Float64, "p_close": pl.Float64, "clv": pl.Float64, "group": pl.String, "weight": pl.Float64, "bankroll": pl.Float64,
    "stake": pl.Float64, "result": pl.String, "unit_return": pl.Float64, "profit": pl.Float64,
}
CANDIDATE_COLUMNS = ["event_id", "market", "side", "point", "line", "bookmaker", "price", "snapshot_time", "prob",
                     "prob_time", "edge", "group", "weight", "sport_key", "commence_time", "decision_time", "three_way", "home_score",
                     "away_score", "status", "p_close"]


@dataclass(frozen=True)
class Sizing:
    """The sizing settings of the time, caps and day fraction included."""

    method: str = "kelly"
    kelly_fraction: float = 0.25
    flat_stake: float = 10.0
    percent: float = 0.01
    min_stake: float = 1.0
    max_stake: float | None = 50.0
    max_day_fraction: float = 0.25


_FROM_CANDIDATES = [c for c in BACKTEST_BETS_SCHEMA if c in CANDIDATE_COLUMNS]


def execute(candidates: pl.DataFrame, sizing: Sizing, bankroll: float,
            settle_delay: timedelta = timedelta(hours=3)) -> Execution:
    """Sizes, settles and scores candidate bets (``CANDIDATE_COLUMNS``). Bets of one group (the
    legs of an arbitrage) must share an event and a decision time.

    Only the numbers every candidate needs are read for all of them, and a group that can never
    get a stake (no edge under Kelly, or a cap below the minimum stake) is dropped first. The
    days then run in one compiled loop that settles a group only once it is staked, and only
    the staked bets are gathered into the ledger, so strings are touched for the few rather
    than the million."""
    c = candidates.select(CANDIDATE_COLUMNS + (["quoted_price"] if "quoted_price" in candidates.columns else []))
    if c.height == 0:
        return _scored(pl.DataFrame(schema=BACKTEST_BETS_SCHEMA), bankroll)
    decision_us = c["decision_time"].dt.epoch("us").to_numpy()
    lowest, day_number, first_decision = number_days(decision_us)
    numbers = c.select(pl.col("price", "prob", "weight").fill_null(float("nan")))
    weight = numbers["weight"].to_numpy()
    units = _units(c, numbers["price"].to_numpy(), numbers["prob"].to_numpy(), weight, sizing)
    day = day_of(decision_us, units.lead, lowest, day_number)
    order, day_bounds = by_day(day, len(first_decision))
    units, day = units.ordered(order), day[order]
    a, b = linear_terms(sizing, units.kelly)
    done = replay(
        Days(day_bounds, first_decision),
        Groups(units.leg_start, units.leg_row, a, b, caps(sizing, units.max_leg), units.min_leg),
        Rows(weight, c["commence_time"].dt.epoch("us").to_numpy(), decision_us),
        read_bets(c, units.leg_row),
        Bankroll(float(bankroll), float(sizing.min_stake), float(sizing.max_day_fraction),
                        int(settle_delay.total_seconds() * 1e6)))

    return _ledger(c, units.leg_row, weight, day, done, bankroll)


def _ledger(c: pl.DataFrame, leg_row: np.ndarray, weight: np.ndarray, day: np.ndarray, done: Replay,
            bankroll: float) -> Execution:
    """The staked legs gathered from the candidates, with what the day loop decided for them."""
    staked, group = done.legs, done.groups
    rows = leg_row[staked]
    stake, unit_return = done.stake[group] * weight[rows], done.ret[staked]
    quoted = ["quoted_price"] if "quoted_price" in c.columns else []
    ledger = c.select(*_FROM_CANDIDATES, *quoted)[rows].with_columns(
        settle_time=pl.Series(done.settle_us[group], dtype=pl.Int64).cast(pl.Datetime("us", "UTC")),
        clv=pl.col("price") * pl.col("p_close") - 1.0,
        quoted_price=pl.col("quoted_price") if quoted else pl.col("price"),
        bankroll=pl.Series(done.cash[day[group]]),
        stake=pl.Series(stake),
        result=pl.Series(done.code[staked], dtype=pl.UInt8).replace_strict(dict(enumerate(RESULTS)),
                                                                              return_dtype=pl.String),
        unit_return=pl.Series(unit_return).fill_nan(None),
        profit=pl.Series(stake * (unit_return - 1.0)).fill_nan(None),
    )
    return _scored(ledger.select(list(BACKTEST_BETS_SCHEMA)).cast(BACKTEST_BETS_SCHEMA), bankroll)


def _units(c: pl.DataFrame, price: np.ndarray, prob: np.ndarray, weight: np.ndarray, sizing: Sizing,
           pick: Callable[..., tuple[np.ndarray, np.ndarray]] | None = None) -> _Units:
    grouped = c["group"].is_not_null().to_numpy()
    lead, unit_kelly = (pick or single_bets)(price, prob, grouped, sizing.method == "kelly")
    singles = _Units(lead, unit_kelly, weight[lead], weight[lead], np.arange(len(lead) + 1), lead)
    rows = np.flatnonzero(grouped)
    if rows.size == 0 or sizing.method == "kelly":  # Kelly needs one probability; a group has none of its own
        return singles
    _, inverse = np.unique(c["group"].gather(rows).to_numpy().astype(str), return_inverse=True)
    legs = rows[np.lexsort((rows, inverse))]
    starts = np.flatnonzero(np.concatenate([[True], np.diff(np.sort(inverse)) != 0]))
    max_leg, min_leg = np.maximum.reduceat(weight[legs], starts), np.minimum.reduceat(weight[legs], starts)
    fits = np.ones(len(starts), dtype=bool)
    if sizing.max_stake is not None:  # a cap that leaves the smallest leg below the minimum stakes nothing
        fits = sizing.max_stake / max_leg * min_leg >= sizing.min_stake
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


def linear_terms(sizing: Sizing, group_kelly: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A group's stake before caps is ``a + b × bankroll``; ``group_kelly`` is f* per group
    (zero for a group with no probability)."""
    n = len(group_kelly)
    none = np.broadcast_to(0.0, n)  # a term that is the same for every group takes no memory
    if sizing.method == "flat":
        return np.broadcast_to(sizing.flat_stake, n), none
    if sizing.method == "percent":
        return none, np.broadcast_to(sizing.percent, n)
    return none, sizing.kelly_fraction * np.asarray(group_kelly, dtype=float)


def caps(sizing: Sizing, max_leg: np.ndarray) -> np.ndarray:
    """The largest group stake that keeps every leg within ``max_stake``."""
    max_leg = np.asarray(max_leg, dtype=float)
    return np.full(len(max_leg), np.inf) if sizing.max_stake is None else sizing.max_stake / max_leg


US_PER_DAY = 86_400_000_000


class Days(NamedTuple):
    bounds: np.ndarray
    """where each day's groups start among the groups, and where the last ends (days + 1)"""
    first_decision: np.ndarray
    """each day's first decision time (µs), over every candidate"""


class Groups(NamedTuple):
    """The groups that may get a stake, in day order. Group ``g``'s legs are the candidate rows
    ``leg_row[leg_start[g]:leg_start[g + 1]]``; before caps it stakes ``a + b × cash``, at most
    ``cap``, and nothing when its smallest leg share ``min_leg`` would fall below the minimum."""
    leg_start: np.ndarray
    leg_row: np.ndarray
    a: np.ndarray
    b: np.ndarray
    cap: np.ndarray
    min_leg: np.ndarray


class Rows(NamedTuple):
    """Per candidate row: its share of its group's stake, kick-off and decision time (µs)."""
    weight: np.ndarray
    commence_us: np.ndarray
    decision_us: np.ndarray


class Bankroll(NamedTuple):
    start: float
    min_stake: float
    max_day_fraction: float
    settle_delay_us: int
    """how long after kick-off a result is known"""


class Replay(NamedTuple):
    stake: np.ndarray
    """per group"""
    cash: np.ndarray
    """cash at the start of each day, after the results known by then"""
    settle_us: np.ndarray
    """per group"""
    ret: np.ndarray
    """return per unit staked, per leg"""
    code: np.ndarray
    """``Result`` per leg"""
    legs: np.ndarray
    """the staked legs, in the order they were placed"""
    groups: np.ndarray
    """the group of each staked leg"""


@numba.njit(cache=True, nogil=True, inline="always")
def release_day(first_decision: np.ndarray, day: int, settled_us: int) -> int:
    """The first day whose first decision is at or after ``settled_us`` (searched from ``day``)."""
    release = day
    while release < len(first_decision) and first_decision[release] < settled_us:
        release += 1
    while release > 0 and first_decision[release - 1] >= settled_us:
        release -= 1
    return release


@numba.njit(cache=True, nogil=True)
def replay(days: Days, groups: Groups, rows: Rows, bets, bankroll: Bankroll) -> Replay:  # type: ignore[no-untyped-def]
    """Day by day: size the day's groups against the cash, then settle each staked group and book
    its result on the day it is known. ``bets`` (``settlement.Bets``) holds the market, side and
    status per leg and the other columns per candidate row. The staked legs come back in
    decision order, groups in their order within a moment."""
    n_days = len(days.bounds) - 1
    n_legs = len(groups.leg_row)
    stake = np.zeros(len(groups.a))
    cash_by_day = np.zeros(n_days)
    settle_us = np.zeros(len(groups.a), dtype=np.int64)
    ret = np.full(n_legs, np.nan)
    code = np.full(n_legs, _OPEN, dtype=np.int8)
    placed_leg = np.empty(n_legs, dtype=np.int64)
    placed_group = np.empty(n_legs, dtype=np.int64)
    placed = 0
    profit_due = np.zeros(n_days + 1)
    stake_due = np.zeros(n_days + 1)
    settled, outstanding = 0.0, 0.0
    for day in range(n_days):
        settled += profit_due[day]
        outstanding -= stake_due[day]
        cash = bankroll.start + settled - outstanding
        cash_by_day[day] = cash
        if cash <= 0:
            continue
        start, end = days.bounds[day], days.bounds[day + 1]
        size_day_in_place(start, end, groups.a, groups.b, groups.cap, groups.min_leg, cash, bankroll.min_stake,
                          bankroll.max_day_fraction, stake)
        placed_before_today = placed
        for g in range(start, end):
            if stake[g] == 0.0:
                continue
            gain, is_open, last_kickoff = 0.0, False, np.iinfo(np.int64).min
            for leg in range(groups.leg_start[g], groups.leg_start[g + 1]):
                row = groups.leg_row[leg]
                ret[leg], code[leg] = settle_one(bets.market[leg], bets.side[leg], bets.status[leg], bets.point[row],
                                                 bets.price[row], bets.home[row], bets.away[row], bets.three_way[row])
                is_open |= np.isnan(ret[leg])
                gain += rows.weight[row] * ret[leg]
                last_kickoff = max(last_kickoff, rows.commence_us[row])
                if stake[g] * rows.weight[row] > 0:
                    placed_leg[placed], placed_group[placed] = leg, g
                    placed += 1
            settle_us[g] = last_kickoff + bankroll.settle_delay_us
            if is_open:
                stake_due[n_days] += stake[g]
            else:
                known = release_day(days.first_decision, day, settle_us[g])
                profit_due[known] += stake[g] * (gain - 1.0)
                stake_due[known] += stake[g]
            outstanding += stake[g]
        _in_decision_order(placed_leg, placed_group, placed_before_today, placed, groups.leg_row, rows.decision_us)
    return Replay(stake, cash_by_day, settle_us, ret, code, placed_leg[:placed].copy(), placed_group[:placed].copy())


@numba.njit(cache=True, nogil=True, inline="always")
def _in_decision_order(placed_leg: np.ndarray, placed_group: np.ndarray, start: int, end: int, leg_row: np.ndarray,
                       decision_us: np.ndarray) -> None:
    """Sorts one day's placed legs by their decision time, keeping the order of equal ones."""
    moments = np.empty(end - start, dtype=np.int64)
    for j in range(start, end):
        moments[j - start] = decision_us[leg_row[placed_leg[j]]]
    order = start + np.argsort(moments, kind="mergesort")
    placed_leg[start:end], placed_group[start:end] = placed_leg[order], placed_group[order]


@numba.njit(cache=True, nogil=True, inline="always")
def size_day_in_place(start: int, end: int, a: np.ndarray, b: np.ndarray, cap: np.ndarray, min_leg: np.ndarray,
                      cash: float, min_stake: float, max_day_fraction: float, stake: np.ndarray) -> None:
    """``size_day`` for the groups ``start:end``, written into ``stake``: each group stakes
    ``a + b × cash`` up to its cap, nothing when its smallest leg would be below the minimum;
    when the day's total passes ``max_day_fraction`` of the cash every stake is scaled down to
    it, and one that falls below the minimum is dropped."""
    total = 0.0
    for i in range(start, end):
        raw = min(a[i] + b[i] * cash, cap[i])
        if raw * min_leg[i] < min_stake or raw <= 0:
            raw = 0.0
        stake[i] = raw
        total += raw
    limit = max_day_fraction * cash
    if total > limit:
        scale = limit / total
        for i in range(start, end):
            raw = stake[i] * scale
            stake[i] = 0.0 if raw * min_leg[i] < min_stake else raw
