"""The gate and the account's bookkeeping, compiled: the controls' checks over an order, their
hooks when an order is accepted, a bet settles or a day begins, and the account's own
arithmetic around them (equity, open stakes, the day's cash). The backtest's loop
(``kernels.account``) and the live gate (``domain.orders.account``) both run these, so the same
book comes out of the same events whichever of them keeps it.

The controls arrive as four compiled functions made for their list (``domain.orders.controls``:
one asks every check, three call every hook), each in a tuple of one, so numba types it by its
signature and calls it through its address: a list of controls is an argument of these loops,
not code compiled into them, and one compilation serves every list.
"""

from __future__ import annotations

import numba
import numpy as np

from betting_assets.domain.orders.book import US_PER_DAY, B, L, O

SETTLE, PLACE, SEND, OPEN_DAY = 0, 1, 2, 3
"""kinds of ledger events a book is folded from: a bet settled, a bet placed, an order the venue
refused (a transaction all the same), a day's first decision (the day's cash is taken then)"""


@numba.njit(cache=True, nogil=True, inline="always")
def refusals(o: np.ndarray, book: np.ndarray, exposure: np.ndarray, limits: np.ndarray, check, asked: int) -> int:  # type: ignore[no-untyped-def]
    """A bit per control that refuses the order, among the ``asked`` bits."""
    return check[0](o, book, exposure, limits, asked) if asked else 0


@numba.njit(cache=True, nogil=True, inline="always")
def accept(o: np.ndarray, book: np.ndarray, exposure: np.ndarray, limits: np.ndarray, hooks) -> None:  # type: ignore[no-untyped-def]
    book[B.OPEN] += o[O.STAKE]
    hooks[0](o, book, exposure, limits)


@numba.njit(cache=True, nogil=True, inline="always")
def settle(o: np.ndarray, book: np.ndarray, exposure: np.ndarray, limits: np.ndarray, hooks,  # type: ignore[no-untyped-def]
           booked: bool = True) -> None:
    """A settled bet: its profit joins the equity (unless ``booked`` is False: a group's legs
    settle one by one, its profit is booked once), its stake leaves the open stakes."""
    if booked:
        book[B.EQUITY] += o[O.PROFIT]
    book[B.OPEN] -= o[O.STAKE]
    hooks[0](o, book, exposure, limits)


@numba.njit(cache=True, nogil=True, inline="always")
def open_day(day: int, o: np.ndarray, book: np.ndarray, exposure: np.ndarray, limits: np.ndarray, hooks) -> None:  # type: ignore[no-untyped-def]
    """A new UTC day: its counts start again, and its cash is taken at its first decision."""
    book[B.DAY] = day
    book[B.DAY_CASH] = np.nan
    hooks[0](o, book, exposure, limits)


@numba.njit(cache=True, nogil=True, inline="always")
def take_day_cash(book: np.ndarray) -> float:
    if book[B.DAY_CASH] != book[B.DAY_CASH]:
        book[B.DAY_CASH] = book[B.EQUITY] - book[B.OPEN]
    return book[B.DAY_CASH]


@numba.njit(cache=True, nogil=True)
def fold(kind: np.ndarray, orders: np.ndarray, book: np.ndarray, exposure: np.ndarray, limits: np.ndarray,  # type: ignore[no-untyped-def]
         accepted, settled, new_day, until_us: int) -> None:
    """The book after the ledger's events (sorted by time, settlements before placements at one
    time, as the backtest books results known by a decision before deciding), then the day of
    ``until_us`` begun if the last event was on an earlier one."""
    o = np.zeros(orders.shape[1])
    for j in range(len(kind)):
        row = orders[j]
        day = int(row[O.TIME]) // US_PER_DAY
        if day != book[B.DAY]:
            o[O.TIME] = day * US_PER_DAY
            open_day(day, o, book, exposure, limits, new_day)
        if kind[j] == SETTLE:
            settle(row, book, exposure, limits, settled)
        elif kind[j] == PLACE:
            accept(row, book, exposure, limits, accepted)
        elif kind[j] == SEND:
            hold = row[O.STAKE]
            row[O.STAKE] = 0.0
            accept(row, book, exposure, limits, accepted)
            row[O.STAKE] = hold
        else:
            take_day_cash(book)
    day = until_us // US_PER_DAY
    if day != book[B.DAY]:
        o[O.TIME] = day * US_PER_DAY
        open_day(day, o, book, exposure, limits, new_day)


@numba.njit(cache=True, nogil=True)
def gate(orders: np.ndarray, group: np.ndarray, book: np.ndarray, exposure: np.ndarray, limits: np.ndarray,  # type: ignore[no-untyped-def]
         check, accepted, account_bits: int) -> np.ndarray:
    """Each order's refusals, in order, each accepted order booked before the next is checked.
    Orders of one ``group`` (the legs of an arbitrage) stand or fall together: a refused leg
    refuses the others, and what the accepted ones booked is undone. The account controls
    (``account_bits``) are asked once, for the book as it stands before the batch: nothing in
    it moves what they read."""
    masks = np.zeros(len(orders), dtype=np.int64)
    if len(orders) == 0:
        return masks
    stops = refusals(orders[0], book, exposure, limits, check, account_bits)
    asked = ~account_bits
    start = 0
    while start < len(orders):
        end = start + 1
        while end < len(orders) and group[end] == group[start] and group[start] >= 0:
            end += 1
        gate_group(orders, start, end, book, exposure, limits, check, accepted, asked, stops, masks)
        start = end
    return masks


@numba.njit(cache=True, nogil=True, inline="always")
def gate_group(orders: np.ndarray, start: int, end: int, book: np.ndarray, exposure: np.ndarray,  # type: ignore[no-untyped-def]
               limits: np.ndarray, check, accepted, asked: int, stops: int, masks: np.ndarray) -> bool:
    """The orders ``start:end`` (one group) through the checks; booked when every one passes."""
    if stops:
        for j in range(start, end):
            masks[j] = stops
        return False
    if end - start == 1:
        masks[start] = refusals(orders[start], book, exposure, limits, check, asked)
        if masks[start] == 0:
            accept(orders[start], book, exposure, limits, accepted)
            return True
        return False
    saved = book.copy()
    event = int(orders[start][O.EVENT])
    held = exposure[event]
    failed = 0
    for j in range(start, end):
        masks[j] = refusals(orders[j], book, exposure, limits, check, asked)
        if masks[j]:
            failed |= masks[j]
            break
        accept(orders[j], book, exposure, limits, accepted)
    if failed:
        book[:] = saved
        exposure[event] = held
        for j in range(start, end):
            masks[j] |= failed
        return False
    return True


@numba.njit(cache=True, nogil=True)
def rounded_down(stake: float, step: float) -> float:
    """A stake in whole steps of the venue's (a cent), never more than sized: the nearest double
    to a whole number of cents, so the same stake is written wherever it is sized."""
    if step <= 0:
        return stake
    per_unit = np.rint(1.0 / step)
    if abs(per_unit * step - 1.0) < 1e-12:
        return np.floor(stake * per_unit + 1e-6) / per_unit
    return np.floor(stake / step + 1e-6) * step
