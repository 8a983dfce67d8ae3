"""The parts of the backtest engine that were rewritten to be read (issue 18), as they stood
before, frozen here as the speed baseline of ``backtest_engine``: branch-free settlement and
selection of singles, positional arrays into the day loop. What the rewrite left alone (the
group ordering, the day numbering, sizing, metrics) is the product's own. The benchmark runs
both on the same candidates in the same process, requires identical ledgers and metrics, and
prints both times. Not used by the product."""

from __future__ import annotations

from datetime import timedelta

import numba
import numpy as np
import polars as pl

from betting_assets.domain.betting.backtest import BACKTEST_BETS_SCHEMA, CANDIDATE_COLUMNS, Execution, _ledger, _scored, _units
from betting_assets.domain.kernels.replay import Replay, by_day, day_of, number_days
from betting_assets.domain.kernels.sizing import size_day_in_place
from betting_assets.domain.betting.settlement import read_bets
from betting_assets.domain.betting.staking import Sizing, caps, linear_terms

_PER_PRICE = np.array([0.0, 0.0, 0.0, 0.5, 1.0, 0.0, np.nan])
_FIXED = np.array([0.0, 0.5, 1.0, 0.5, 0.0, 1.0, np.nan])



def execute(candidates: pl.DataFrame, sizing: Sizing, bankroll: float,
            settle_delay: timedelta = timedelta(hours=3)) -> Execution:
    c = candidates.select(CANDIDATE_COLUMNS)
    if c.height == 0:
        return _scored(pl.DataFrame(schema=BACKTEST_BETS_SCHEMA), bankroll)
    decision_us = c["decision_time"].dt.epoch("us").to_numpy()
    lowest, day_number, first_decision = number_days(decision_us)
    numbers = c.select(pl.col("price", "prob", "weight").fill_null(float("nan")))
    weight = numbers["weight"].to_numpy()
    units = _units(c, numbers["price"].to_numpy(), numbers["prob"].to_numpy(), weight, sizing, singles=_singles)
    day = day_of(decision_us, units.lead, lowest, day_number)
    order, day_bounds = by_day(day, len(first_decision))
    units, day = units.ordered(order), day[order]
    a, b = linear_terms(sizing, units.kelly)
    replay = _replay(day_bounds, units.leg_start, units.leg_row, weight, a, b, caps(sizing, units.max_leg),
                     units.min_leg, c["commence_time"].dt.epoch("us").to_numpy(),
                     int(settle_delay.total_seconds() * 1e6), decision_us, first_decision,
                     *read_bets(c, units.leg_row), float(sizing.min_stake), float(sizing.max_day_fraction),
                     float(bankroll))

    return _ledger(c, units.leg_row, weight, day, replay, bankroll)


@numba.njit(cache=True, nogil=True, inline="always")
def _margin(market: int, side: int, point: float, home: float, away: float, three_way: bool) -> float:
    """Goals (or points) by which the bet is ahead at the line: > 0 wins, 0 pushes, < 0 loses. A
    match-result bet is ahead by 1 when its side won and behind by 1 otherwise; a level score
    is the draw's win in a three-way market and a push in a two-way one."""
    diff = home - away
    won = ((side == 0) & (diff > 0)) | ((side == 2) & (diff < 0)) | ((side != 0) & (side != 2) & (diff == 0))
    pushed = (~won) & (diff == 0) & (not three_way)
    match_result = 1.0 * won - 1.0 * ((~won) & (~pushed))
    spread = (1.0 - 2.0 * (side != 0)) * diff + point
    total = (1.0 - 2.0 * (side != 3)) * (home + away - point)
    return match_result * (market == 0) + spread * (market == 1) + total * (market >= 2)


@numba.njit(cache=True, nogil=True, inline="always")
def settle_one(market: int, side: int, status: int, point: float, price: float, home: float, away: float,
               three_way: bool) -> tuple[float, int]:
    """Return per unit staked and result code of one bet. A quarter line is two half stakes on
    the lines 0.25 either side; with whole scores its margin is never 0 and only a margin of
    ±0.25 splits the halves (one decided, one pushed), so the result is the margin's sign,
    halved where that margin is ±0.25."""
    point = point if np.isfinite(point) else 0.0
    m = _margin(market, side, point, home, away, three_way)
    half = (market != 0) & ((np.int64(np.rint(point * 4.0)) & 1) == 1) & (abs(m) <= 0.25)
    code = 2 + (2 - half) * ((m > 0) - (m < 0))
    code = 6 if (status != 0) | (market < 0) | (side < 0) | (not np.isfinite(m)) else code
    code = 5 if status >= 1 else code
    return _PER_PRICE[code] * price + _FIXED[code], code


@numba.njit(cache=True, nogil=True)
def _singles(price: np.ndarray, prob: np.ndarray, grouped: np.ndarray, kelly: bool) -> tuple[np.ndarray, np.ndarray]:
    """Single bets that may get a stake, and their full-Kelly fraction: under Kelly only those
    with an edge (a missing probability has none); otherwise all of them."""
    rows = np.empty(len(price), dtype=np.int64)
    fraction = np.empty(len(price))
    n = 0
    for i in range(len(price)):  # without branches: whether a bet has an edge is a coin toss to the CPU
        edge = prob[i] * price[i] - 1.0
        rows[n] = i
        fraction[n] = edge / (price[i] - 1.0) if kelly else 0.0
        n += (not grouped[i]) & ((edge > 0) | (not kelly))
    return rows[:n], fraction[:n]


@numba.njit(cache=True, nogil=True)
def _replay(day_bounds: np.ndarray, leg_start: np.ndarray, leg_row: np.ndarray, weight: np.ndarray, a: np.ndarray,
            b: np.ndarray, cap: np.ndarray, min_leg: np.ndarray, commence_us: np.ndarray, delay_us: int,
            decision_us: np.ndarray, first_decision: np.ndarray, market: np.ndarray, side: np.ndarray,
            status: np.ndarray, point: np.ndarray, price: np.ndarray, home: np.ndarray, away: np.ndarray,
            three_way: np.ndarray, min_stake: float, max_day_fraction: float, bankroll: float) -> Replay:
    """Day by day: size the day's groups against the cash, then settle each staked group and
    book its result on the first day that starts after it settled (never, while it is open),
    so nothing is staked from winnings that were not yet known. ``market``, ``side`` and
    ``status`` are coded per leg, the other columns per candidate (``settlement.Bets``). The
    staked legs come back in decision order, groups in lead order within a moment."""
    days = len(day_bounds) - 1
    stake = np.zeros(len(a))
    cash_by_day = np.zeros(days)
    settle_us = np.zeros(len(a), dtype=np.int64)
    ret = np.full(len(leg_row), np.nan)
    code = np.full(len(leg_row), 6, dtype=np.int8)
    placed_leg = np.empty(len(leg_row), dtype=np.int64)
    placed_unit = np.empty(len(leg_row), dtype=np.int64)
    staked = 0
    profit_due = np.zeros(days + 1)
    stake_due = np.zeros(days + 1)
    chosen = np.empty(np.max(np.diff(day_bounds)) + 1, dtype=np.int64)
    settled, outstanding = 0.0, 0.0
    for day in range(days):
        settled += profit_due[day]
        outstanding -= stake_due[day]
        cash = bankroll + settled - outstanding
        cash_by_day[day] = cash
        if cash <= 0:
            continue
        start, end = day_bounds[day], day_bounds[day + 1]
        size_day_in_place(start, end, a, b, cap, min_leg, cash, min_stake, max_day_fraction, stake)
        placed, day_first_leg = 0, staked
        for u in range(start, end):  # the staked groups, gathered without a branch
            chosen[placed] = u
            placed += stake[u] != 0.0
        for u in chosen[:placed]:
            gain, is_open, settle = 0.0, False, np.iinfo(np.int64).min
            for leg in range(leg_start[u], leg_start[u + 1]):
                row = leg_row[leg]
                ret[leg], code[leg] = settle_one(market[leg], side[leg], status[leg], point[row], price[row],
                                                 home[row], away[row], three_way[row])
                is_open |= np.isnan(ret[leg])
                gain += weight[row] * ret[leg]
                settle = max(settle, commence_us[row])
                placed_leg[staked], placed_unit[staked] = leg, u
                staked += stake[u] * weight[row] > 0
            settle_us[u] = settle + delay_us
            release = days
            if not is_open:
                release = day  # the first day starting at or after the settlement, as searchsorted finds it
                while release < days and first_decision[release] < settle_us[u]:
                    release += 1
                while release > 0 and first_decision[release - 1] >= settle_us[u]:
                    release -= 1
            profit_due[release] += 0.0 if is_open else stake[u] * (gain - 1.0)
            stake_due[release] += stake[u]
            outstanding += stake[u]
        moments = np.empty(staked - day_first_leg, dtype=np.int64)
        for j in range(day_first_leg, staked):
            moments[j - day_first_leg] = decision_us[leg_row[placed_leg[j]]]
        in_time = day_first_leg + np.argsort(moments, kind="mergesort")
        placed_leg[day_first_leg:staked], placed_unit[day_first_leg:staked] = placed_leg[in_time], placed_unit[in_time]
    return Replay(stake, cash_by_day, settle_us, ret, code, placed_leg[:staked].copy(), placed_unit[:staked].copy())


