"""The backtest's account, compiled: every candidate decided at its moment, sized, gated by the
controls and settled, on one bankroll (``backtest.execute`` prepares what it reads).

Days run in order, and within a day its moments (the distinct decision times) in order. At each
moment the results known by then are booked first (a result is known ``settle_delay`` after its
last leg's kick-off), through the controls' settlement hooks; a day begins at midnight UTC. The
day's cash (equity less open stakes at its first decision) is what its stakes are sized on and
what its exposure cap is a share of, so no stake is sized from a result that came in after the
day's first decision, exactly as the live path sizes (``domain.orders.account``). A moment's
groups (a single bet is a group of one, an arbitrage's legs a group of several) are then asked
the priced controls, sized together, rounded down to the venue's step and gated in order; an
accepted group is settled at once and its result booked when it is known.
"""

from __future__ import annotations

import heapq
from typing import Any, NamedTuple

import numba
import numpy as np

from betting_assets.domain.kernels.gate import accept, gate_group, open_day, refusals, rounded_down, settle
from betting_assets.domain.kernels.gate import take_day_cash
from betting_assets.domain.kernels.settle import settle_one
from betting_assets.domain.kernels.sizing import size_moment_in_place
from betting_assets.domain.orders.book import ORDER_FIELDS, US_PER_DAY, B, L, O
from betting_assets.domain.vocabulary import Result

OPEN_RESULT = 6
assert Result.OPEN.code == OPEN_RESULT


class Days(NamedTuple):
    bounds: np.ndarray
    """where each day's groups start among the groups, and where the last ends (days + 1)"""
    first_decision: np.ndarray
    """each day's first decision time (µs), over every candidate"""


class Groups(NamedTuple):
    """The groups that may get a stake, in day order. Group ``g``'s legs are the candidate rows
    ``leg_row[leg_start[g]:leg_start[g + 1]]``; before caps it stakes ``a + b × cash``; no leg
    above the stake cap (``max_leg`` is its largest share), none below the minimum (``min_leg``
    its smallest)."""
    leg_start: np.ndarray
    leg_row: np.ndarray
    a: np.ndarray
    b: np.ndarray
    max_leg: np.ndarray
    min_leg: np.ndarray


class Rows(NamedTuple):
    """Per candidate row: its share of its group's stake, kick-off and decision time (µs), a
    64-bit key of its event (a hash: events get an index only once one of their bets is gated),
    price (net), price as quoted, edge (NaN: none claimed), and whether sending it is a venue
    transaction."""
    weight: np.ndarray
    commence_us: np.ndarray
    decision_us: np.ndarray
    event: np.ndarray
    price: np.ndarray
    quoted: np.ndarray
    edge: np.ndarray
    venue_tx: np.ndarray


class Controls(NamedTuple):
    """A list of controls compiled (``domain.orders.controls.Controls.compiled``): ``check`` asks
    the checks of the bits it is given and returns a bit for each that refuses; the hooks call
    every control's bookkeeping of that kind."""
    check: Any
    accepted: Any
    settled: Any
    new_day: Any
    account_bits: int
    priced_bits: int
    check_rows: Any
    """``check`` over a matrix of orders in one call"""


class Played(NamedTuple):
    stake: np.ndarray
    """per group"""
    basis: np.ndarray
    """the day's cash each group was sized on"""
    settle_us: np.ndarray
    """per group"""
    refused: np.ndarray
    """per group: a bit per control that refused it (0: placed, or never sized to a stake)"""
    ret: np.ndarray
    """return per unit staked, per leg"""
    code: np.ndarray
    """``Result`` code per leg"""
    leg_stake: np.ndarray
    """per leg"""
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
def _book_until(heap, until_us: int, inclusive: bool, groups: Groups, leg_event: np.ndarray, weight: np.ndarray,  # type: ignore[no-untyped-def]
                stake: np.ndarray, leg_stake: np.ndarray, ret: np.ndarray, book: np.ndarray, exposure: np.ndarray,
                limits: np.ndarray, settled, o: np.ndarray) -> bool:
    """Books every result known by ``until_us`` (or before it), in the order they came in;
    whether there was any."""
    booked = False
    while len(heap) and (heap[0][0] <= until_us if inclusive else heap[0][0] < until_us):
        at, _, g = heapq.heappop(heap)
        first, last = groups.leg_start[g], groups.leg_start[g + 1]
        single = last - first == 1
        if not single:
            gain = 0.0
            for leg in range(first, last):
                gain += weight[groups.leg_row[leg]] * ret[leg]
            book[B.EQUITY] += stake[g] * (gain - 1.0)
        for leg in range(first, last):
            o[O.EVENT] = leg_event[leg]
            o[O.TIME] = at
            o[O.STAKE] = leg_stake[leg]
            o[O.PROFIT] = stake[g] * (ret[leg] - 1.0) if single else leg_stake[leg] * (ret[leg] - 1.0)
            settle(o, book, exposure, limits, settled, single)
        booked = True
    return booked


@numba.njit(cache=True, nogil=True, inline="always")
def _advance(heap, until_us: int, groups: Groups, leg_event: np.ndarray, weight: np.ndarray, stake: np.ndarray,  # type: ignore[no-untyped-def]
             leg_stake: np.ndarray, ret: np.ndarray, book: np.ndarray, exposure: np.ndarray, limits: np.ndarray,
             settled, new_day, o: np.ndarray) -> bool:
    """The book at ``until_us``: results known before its day began, the day begun, then the
    results known by then. Whether anything was booked (what the account controls read moved)."""
    moved = False
    day = until_us // US_PER_DAY
    if day != book[B.DAY]:
        _book_until(heap, day * US_PER_DAY, False, groups, leg_event, weight, stake, leg_stake, ret, book, exposure,
                    limits, settled, o)
        o[O.TIME] = day * US_PER_DAY
        open_day(day, o, book, exposure, limits, new_day)
        moved = True
    return _book_until(heap, until_us, True, groups, leg_event, weight, stake, leg_stake, ret, book, exposure,
                       limits, settled, o) or moved


@numba.njit(cache=True, nogil=True)
def replay(days: Days, groups: Groups, rows: Rows, bets, book: np.ndarray, limits: np.ndarray,  # type: ignore[no-untyped-def]
           check, accepted, settled, new_day, account_bits: int, priced_bits: int, check_rows,
           settle_delay_us: int) -> Played:
    """Day by day, moment by moment: book what is known, size the moment's groups on the day's
    cash, gate them, settle the accepted ones. ``bets`` (``settlement.Bets``) holds the market,
    side and status per leg and the other columns per candidate row."""
    n_groups, n_legs = len(groups.a), len(groups.leg_row)
    stake = np.zeros(n_groups)
    basis = np.zeros(n_groups)
    settle_us = np.zeros(n_groups, dtype=np.int64)
    refused = np.zeros(n_groups, dtype=np.int64)
    ret = np.full(n_legs, np.nan)
    code = np.full(n_legs, OPEN_RESULT, dtype=np.int8)
    leg_stake = np.zeros(n_legs)
    placed_leg = np.empty(n_legs, dtype=np.int64)
    placed_group = np.empty(n_legs, dtype=np.int64)
    placed = 0
    heap = [(np.int64(0), np.int64(0), np.int64(0))]
    heap.pop()
    seq = 0
    o = np.zeros(ORDER_FIELDS)
    orders = np.zeros((max(n_legs, 1), ORDER_FIELDS))
    cap = np.zeros(n_groups)
    masks = np.zeros(max(n_legs, 1), dtype=np.int64)
    asked = ~account_bits
    stops, stale = 0, True
    leg_event = np.zeros(n_legs, dtype=np.int64)
    exposure = np.zeros(64)
    keys = np.zeros(128, dtype=np.int64)
    ids = np.full(128, -1, dtype=np.int64)
    events = 0
    for day in range(len(days.bounds) - 1):
        stale |= _advance(heap, days.first_decision[day], groups, leg_event, rows.weight, stake, leg_stake, ret, book,
                          exposure, limits, settled, new_day, o)
        cash = take_day_cash(book)
        start, end = days.bounds[day], days.bounds[day + 1]
        if cash <= 0 or start == end:
            continue
        moments = np.empty(end - start, dtype=np.int64)
        for g in range(start, end):
            moments[g - start] = rows.decision_us[groups.leg_row[groups.leg_start[g]]]
        order = start + _in_time_order(moments)
        i = 0
        while i < len(order):
            now = moments[order[i] - start]
            j = i
            while j < len(order) and moments[order[j] - start] == now:
                j += 1
            due = len(heap) > 0 and heap[0][0] <= now
            if due and _advance(heap, now, groups, leg_event, rows.weight, stake, leg_stake, ret, book, exposure,
                                limits, settled, new_day, o):
                stale = True
            if stale:
                o[O.TIME] = now
                stops = refusals(o, book, exposure, limits, check, account_bits)
                stale = False
            top = min(limits[L.MAX_STAKE], limits[L.MAX_STAKE_FRACTION] * book[B.EQUITY])
            for k in range(i, j):
                g = order[k]
                cap[g] = top / groups.max_leg[g]
                if stops:
                    refused[g] = stops
                    continue
                for leg in range(groups.leg_start[g], groups.leg_start[g + 1]):
                    _order(o, rows, groups.leg_row[leg], now, 0.0)
                    refused[g] |= refusals(o, book, exposure, limits, check, priced_bits)
                if refused[g]:
                    cap[g] = 0.0
            if stops:
                i = j
                continue
            allowance = limits[L.MAX_DAY_EXPOSURE] * cash - book[B.DAY_STAKED]
            size_moment_in_place(order[i:j], groups.a, groups.b, cap, groups.min_leg, cash, limits[L.MIN_STAKE],
                                 allowance, stake)
            for k in range(i, j):
                g = order[k]
                if stake[g] == 0.0:
                    continue
                first, last = groups.leg_start[g], groups.leg_start[g + 1]
                small = False
                for leg in range(first, last):
                    row = groups.leg_row[leg]
                    leg_stake[leg] = rounded_down(stake[g] * rows.weight[row], limits[L.STAKE_STEP])
                    small |= leg_stake[leg] < limits[L.MIN_STAKE]
                    leg_event[leg], keys, ids, events = _event_index(rows.event[row], keys, ids, events)
                    if events > len(exposure):
                        grown = np.zeros(2 * len(exposure))
                        grown[:len(exposure)] = exposure
                        exposure = grown
                    _order(orders[leg - first], rows, row, now, leg_stake[leg])
                    orders[leg - first][O.EVENT] = leg_event[leg]
                if small:
                    stake[g] = 0.0
                    for leg in range(first, last):
                        leg_stake[leg] = 0.0
                    continue
                if not gate_group(orders, 0, last - first, book, exposure, limits, check, accepted, asked, 0,
                                  masks):
                    for m in range(last - first):
                        refused[g] |= masks[m]
                    stake[g] = 0.0
                    for leg in range(first, last):
                        leg_stake[leg] = 0.0
                    continue
                basis[g] = cash
                is_open, last_kickoff = False, np.iinfo(np.int64).min
                for leg in range(first, last):
                    row = groups.leg_row[leg]
                    ret[leg], code[leg] = settle_one(bets.market[leg], bets.side[leg], bets.status[leg],
                                                     bets.point[row], bets.price[row], bets.home[row],
                                                     bets.away[row], bets.three_way[row])
                    is_open |= np.isnan(ret[leg])
                    last_kickoff = max(last_kickoff, rows.commence_us[row])
                    if leg_stake[leg] > 0:
                        placed_leg[placed], placed_group[placed] = leg, g
                        placed += 1
                settle_us[g] = last_kickoff + settle_delay_us
                if not is_open:
                    heapq.heappush(heap, (np.int64(settle_us[g]), np.int64(seq), np.int64(g)))
                seq += 1
            i = j
    return Played(stake, basis, settle_us, refused, ret, code, leg_stake, placed_leg[:placed].copy(),
                  placed_group[:placed].copy())


@numba.njit(cache=True, nogil=True, inline="always")
def _in_time_order(moments: np.ndarray) -> np.ndarray:
    """Positions in time order, equal times in their given order (a stable sort, made cheap: no
    sort at all when already in order, else one sort of unique keys)."""
    n = len(moments)
    for i in range(1, n):
        if moments[i] < moments[i - 1]:
            break
    else:
        return np.arange(n)
    low = moments.min()
    keys = (moments - low) * n + np.arange(n)
    return np.argsort(keys) if (moments.max() - low) < (2 ** 62) // max(n, 1) else np.argsort(moments, kind="mergesort")


@numba.njit(cache=True, nogil=True)
def _event_index(key: int, keys: np.ndarray, ids: np.ndarray, count: int) -> tuple[int, np.ndarray, np.ndarray, int]:
    """The event's index by its key (open addressing, doubled when half full): (index, the
    table, the number of events)."""
    mask = len(keys) - 1
    pos = key & mask
    while ids[pos] >= 0:
        if keys[pos] == key:
            return ids[pos], keys, ids, count
        pos = (pos + 1) & mask
    if 2 * (count + 1) > len(keys):
        old_keys, old_ids = keys, ids
        keys = np.zeros(2 * len(old_keys), dtype=np.int64)
        ids = np.full(2 * len(old_keys), -1, dtype=np.int64)
        mask = len(keys) - 1
        for i in range(len(old_keys)):
            if old_ids[i] >= 0:
                at = old_keys[i] & mask
                while ids[at] >= 0:
                    at = (at + 1) & mask
                keys[at], ids[at] = old_keys[i], old_ids[i]
        pos = key & mask
        while ids[pos] >= 0:
            pos = (pos + 1) & mask
    keys[pos], ids[pos] = key, count
    return count, keys, ids, count + 1


@numba.njit(cache=True, nogil=True)
def count_bits(masks: np.ndarray, runs: np.ndarray, n_runs: int, n_bits: int) -> np.ndarray:
    """How many masks have each bit, per run: (runs, bits)."""
    counts = np.zeros((n_runs, n_bits), dtype=np.int64)
    for i in range(len(masks)):
        m = masks[i]
        bit = 0
        while m:
            if m & 1:
                counts[runs[i], bit] += 1
            m >>= 1
            bit += 1
    return counts


@numba.njit(cache=True, nogil=True, inline="always")
def _order(o: np.ndarray, rows: Rows, row: int, now: int, stake: float) -> None:
    o[O.EVENT] = 0
    o[O.TIME] = now
    o[O.PRICE] = rows.price[row]
    o[O.QUOTED] = rows.quoted[row]
    o[O.STAKE] = stake
    o[O.EDGE] = rows.edge[row]
    o[O.VENUE_TX] = rows.venue_tx[row]
    o[O.PROFIT] = 0.0
