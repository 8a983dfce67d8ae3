"""The backtest's day-by-day bankroll, compiled (``backtest.execute`` prepares what it reads).

Each day's groups (a single bet is a group of one, an arbitrage's legs a group of several) are
sized together against the cash at the start of the day. A staked group is settled at once but
its result is booked only on the first day that starts after it settled (never, while it is
open), so no stake is ever sized from winnings that were not yet known.
"""

from __future__ import annotations

from typing import NamedTuple

import numba
import numpy as np

from betting_assets.domain.codes import Result
from betting_assets.domain.kernels.settle import settle_one
from betting_assets.domain.kernels.sizing import size_day_in_place

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


@numba.njit(cache=True, nogil=True)
def single_bets(price: np.ndarray, prob: np.ndarray, grouped: np.ndarray, kelly: bool) -> tuple[np.ndarray, np.ndarray]:
    """Single bets that may get a stake, and their full-Kelly fraction: under Kelly only those
    with an edge (a missing probability has none); otherwise all of them."""
    rows = np.empty(len(price), dtype=np.int64)
    fraction = np.empty(len(price))
    n = 0
    for i in range(len(price)):
        edge = prob[i] * price[i] - 1.0
        if grouped[i] or (kelly and not edge > 0):
            continue
        rows[n] = i
        fraction[n] = edge / (price[i] - 1.0) if kelly else 0.0
        n += 1
    return rows[:n], fraction[:n]


@numba.njit(cache=True, nogil=True)
def number_days(decision_us: np.ndarray) -> tuple[int, np.ndarray, np.ndarray]:
    """Numbers the days that hold a decision (0, 1, … in time order) and gives each day's first
    decision, over every candidate: a result counts from the first day that starts after it
    settled, whether or not that day stakes. Returns the first calendar day, the number of each
    calendar day from it, and the first decisions."""
    lowest = decision_us.min() // US_PER_DAY
    span = decision_us.max() // US_PER_DAY - lowest + 1
    none = np.iinfo(np.int64).max
    first = np.full(span, none)
    for t in decision_us:
        d = t // US_PER_DAY - lowest
        if t < first[d]:
            first[d] = t
    number = np.full(span, -1)
    days = 0
    for d in range(span):
        if first[d] != none:
            number[d] = days
            first[days] = first[d]
            days += 1
    return lowest, number, first[:days].copy()


@numba.njit(cache=True, nogil=True)
def day_of(decision_us: np.ndarray, rows: np.ndarray, lowest: int, day_number: np.ndarray) -> np.ndarray:
    day = np.empty(len(rows), dtype=np.int64)
    for j in range(len(rows)):
        day[j] = day_number[decision_us[rows[j]] // US_PER_DAY - lowest]
    return day


@numba.njit(cache=True, nogil=True)
def by_day(day: np.ndarray, days: int) -> tuple[np.ndarray, np.ndarray]:
    """A stable counting sort by day, and where each day starts in it (length days + 1)."""
    bounds = np.zeros(days + 1, dtype=np.int64)
    for d in day:
        bounds[d + 1] += 1
    for d in range(days):
        bounds[d + 1] += bounds[d]
    fill = bounds[:-1].copy()
    order = np.empty(len(day), dtype=np.int64)
    for i in range(len(day)):
        order[fill[day[i]]] = i
        fill[day[i]] += 1
    return order, bounds


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
    code = np.full(n_legs, Result.OPEN.value, dtype=np.int8)
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
