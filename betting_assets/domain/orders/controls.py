"""The pre-trade controls, one small object per rule (as flumine's are): each has a code, stored
with every refusal so a user can count refusals by rule, a compiled check that says whether it
refuses an order, the bookkeeping that keeps what it checks current (when an order is accepted,
a bet settles, a day begins) and the words of its refusal.

The gate takes a list of them (``DEFAULT_CONTROLS`` unless told otherwise) and runs them in that
order, live over the ledger's book and in the backtest over the account it replays: the checks
and the hooks are the same compiled functions in both (``kernels.gate``). Account controls look
at the book alone and refuse every order while they hold; the others look at one order against
the book as it stands after the orders accepted before it.

Every check and hook takes the order, the book, the open stake per event and the limits, as the
vectors ``book`` describes, so a new control is one class: its check, the hooks it needs, and a
field of the book if it keeps a count of its own.
"""

from __future__ import annotations

import hashlib
import importlib.util
import inspect
import math
import os
import sys
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from types import ModuleType
from typing import Any, ClassVar

import numba
import numpy as np
from numba import types
from numba.core.errors import NumbaExperimentalFeatureWarning

from betting_assets.domain.kernels.account import Controls as Compiled
from betting_assets.domain.orders.book import US_PER_HOUR, US_PER_MINUTE, B, L, O, View

warnings.filterwarnings("ignore", category=NumbaExperimentalFeatureWarning)

_V = types.float64[::1]
CHECK = types.boolean(_V, _V, _V, _V)
"""(order, book, exposure, limits) → refuses"""
HOOK = types.none(_V, _V, _V, _V)
"""(order, book, exposure, limits): keeps the book current"""
CHECKS = types.int64(_V, _V, _V, _V, types.int64)
"""(order, book, exposure, limits, bits asked) → a bit for each control asked that refuses"""
CHECK_ROWS = types.none(types.float64[:, ::1], _V, _V, _V, types.int64, types.int64[::1])
"""(orders, book, exposure, limits, bits asked, masks out): ``CHECKS`` over many orders in one call"""


def check(fn: Callable[..., bool]) -> Any:
    """Inlined where it is called (each list's composite), so a list of controls is one function."""
    return numba.njit(CHECK, cache=True, inline="always")(fn)


def hook(fn: Callable[..., None]) -> Any:
    return numba.njit(HOOK, cache=True, inline="always")(fn)


@hook
def no_hook(o: np.ndarray, b: np.ndarray, e: np.ndarray, lim: np.ndarray) -> None:
    return None


@dataclass(frozen=True)
class Refusal:
    code: str
    message: str


class Control:
    """``check``: the compiled rule; ``accepted`` / ``settled`` / ``new_day``: its bookkeeping.
    ``account``: it looks at the book alone; ``static``: at the order and the bankroll alone (a
    slip must pass it before it is proposed); ``priced``: at the order's price and edge and the
    limits alone (never the book), so it is asked before an order is sized, and the backtest
    asks it of a whole day's candidates at once."""

    code: ClassVar[str]
    account: ClassVar[bool] = False
    static: ClassVar[bool] = False
    priced: ClassVar[bool] = False
    check: ClassVar[Any]
    accepted: ClassVar[Any] = no_hook
    settled: ClassVar[Any] = no_hook
    new_day: ClassVar[Any] = no_hook

    def message(self, o: View, b: View, exposure: float, lim: View) -> str:
        raise NotImplementedError



@check
def _kill_switch(o, b, e, lim):  # type: ignore[no-untyped-def]
    return b[B.KILL] > 0


class KillSwitch(Control):
    code = "kill_switch"
    account = True
    check = _kill_switch

    def message(self, o: View, b: View, exposure: float, lim: View) -> str:
        return "kill switch: placement is switched off"


@check
def _daily_loss(o, b, e, lim):  # type: ignore[no-untyped-def]
    return b[B.DAY_START] > 0 and -b[B.DAY_PNL] >= lim[L.DAILY_LOSS] * b[B.DAY_START]


@hook
def _daily_loss_settled(o, b, e, lim):  # type: ignore[no-untyped-def]
    b[B.DAY_PNL] += o[O.PROFIT]


@hook
def _daily_loss_day(o, b, e, lim):  # type: ignore[no-untyped-def]
    b[B.DAY_START] = b[B.EQUITY]
    b[B.DAY_PNL] = 0.0


class DailyLoss(Control):
    code = "daily_loss"
    account = True
    check = _daily_loss
    settled = _daily_loss_settled
    new_day = _daily_loss_day

    def message(self, o: View, b: View, exposure: float, lim: View) -> str:
        return (f"daily loss limit: lost {-b.day_pnl:.2f} today, limit {lim.daily_loss:.0%} of "
                f"{b.day_start:.2f}")


@check
def _drawdown(o, b, e, lim):  # type: ignore[no-untyped-def]
    return b[B.PEAK] > 0 and (b[B.PEAK] - b[B.EQUITY]) / b[B.PEAK] >= lim[L.MAX_DRAWDOWN]


@hook
def _drawdown_settled(o, b, e, lim):  # type: ignore[no-untyped-def]
    if b[B.EQUITY] > b[B.PEAK]:
        b[B.PEAK] = b[B.EQUITY]


class Drawdown(Control):
    code = "drawdown"
    account = True
    check = _drawdown
    settled = _drawdown_settled

    def message(self, o: View, b: View, exposure: float, lim: View) -> str:
        return (f"drawdown: bankroll {b.equity:.2f} is {(b.peak - b.equity) / b.peak:.1%} below its peak "
                f"{b.peak:.2f}, limit {lim.max_drawdown:.0%}")


@check
def _losing_streak(o, b, e, lim):  # type: ignore[no-untyped-def]
    return b[B.STREAK] >= lim[L.MAX_LOSSES]


@hook
def _losing_streak_settled(o, b, e, lim):  # type: ignore[no-untyped-def]
    if o[O.PROFIT] < 0:
        b[B.STREAK] += 1.0
    elif o[O.PROFIT] > 0:
        b[B.STREAK] = 0.0


@hook
def _losing_streak_day(o, b, e, lim):  # type: ignore[no-untyped-def]
    b[B.STREAK] = 0.0


class LosingStreak(Control):
    """Stops for the rest of the UTC day after so many losses in a row: a stop that outlived the
    day could never lift, since a refused bet never settles to end the streak."""

    code = "losing_streak"
    account = True
    check = _losing_streak
    settled = _losing_streak_settled
    new_day = _losing_streak_day

    def message(self, o: View, b: View, exposure: float, lim: View) -> str:
        return f"losing streak: {b.streak:.0f} losses in a row today, limit {lim.max_losses:.0f}"


@check
def _no_bankroll(o, b, e, lim):  # type: ignore[no-untyped-def]
    return b[B.EQUITY] <= 0


class NoBankroll(Control):
    code = "no_bankroll"
    account = True
    check = _no_bankroll

    def message(self, o: View, b: View, exposure: float, lim: View) -> str:
        return f"no bankroll left ({b.equity:.2f})"


@check
def _odds_range(o, b, e, lim):  # type: ignore[no-untyped-def]
    return not (lim[L.MIN_ODDS] <= o[O.PRICE] <= lim[L.MAX_ODDS])


class OddsRange(Control):
    code = "odds_range"
    static = priced = True
    check = _odds_range

    def message(self, o: View, b: View, exposure: float, lim: View) -> str:
        return f"odds {o.price:g} outside [{lim.min_odds:g}, {lim.max_odds:g}]"


@check
def _min_edge(o, b, e, lim):  # type: ignore[no-untyped-def]
    return o[O.EDGE] < lim[L.MIN_EDGE]


class MinEdge(Control):
    """An order whose strategy claims no edge (NaN) is not refused for it."""

    code = "min_edge"
    static = priced = True
    check = _min_edge

    def message(self, o: View, b: View, exposure: float, lim: View) -> str:
        return f"edge {o.edge:.2%} below the minimum {lim.min_edge:.2%}"


@check
def _min_stake(o, b, e, lim):  # type: ignore[no-untyped-def]
    return o[O.STAKE] < lim[L.MIN_STAKE]


class MinStake(Control):
    code = "min_stake"
    static = True
    check = _min_stake

    def message(self, o: View, b: View, exposure: float, lim: View) -> str:
        return f"stake {o.stake:.2f} below the minimum {lim.min_stake:.2f}"


@check
def _max_stake(o, b, e, lim):  # type: ignore[no-untyped-def]
    return o[O.STAKE] > lim[L.MAX_STAKE]


class MaxStake(Control):
    code = "max_stake"
    static = True
    check = _max_stake

    def message(self, o: View, b: View, exposure: float, lim: View) -> str:
        return f"stake {o.stake:.2f} above the cap {lim.max_stake:.2f}"


@check
def _stake_fraction(o, b, e, lim):  # type: ignore[no-untyped-def]
    return o[O.STAKE] > lim[L.MAX_STAKE_FRACTION] * b[B.EQUITY] + 1e-9


class StakeFraction(Control):
    code = "stake_fraction"
    static = True
    check = _stake_fraction

    def message(self, o: View, b: View, exposure: float, lim: View) -> str:
        return f"stake {o.stake:.2f} above {lim.max_stake_fraction:.0%} of the bankroll {b.equity:.2f}"


@check
def _event_exposure(o, b, e, lim):  # type: ignore[no-untyped-def]
    return e[int(o[O.EVENT])] + o[O.STAKE] > lim[L.MAX_EVENT_EXPOSURE] * b[B.EQUITY] + 1e-9


@hook
def _event_exposure_accepted(o, b, e, lim):  # type: ignore[no-untyped-def]
    e[int(o[O.EVENT])] += o[O.STAKE]


@hook
def _event_exposure_settled(o, b, e, lim):  # type: ignore[no-untyped-def]
    e[int(o[O.EVENT])] -= o[O.STAKE]


class EventExposure(Control):
    code = "event_exposure"
    check = _event_exposure
    accepted = _event_exposure_accepted
    settled = _event_exposure_settled

    def message(self, o: View, b: View, exposure: float, lim: View) -> str:
        return (f"event exposure {exposure + o.stake:.2f} above {lim.max_event_exposure:.0%} of the bankroll "
                f"{b.equity:.2f}")


@check
def _day_exposure(o, b, e, lim):  # type: ignore[no-untyped-def]
    cash = b[B.DAY_CASH] if b[B.DAY_CASH] == b[B.DAY_CASH] else b[B.EQUITY] - b[B.OPEN]
    return b[B.DAY_STAKED] + o[O.STAKE] > lim[L.MAX_DAY_EXPOSURE] * cash + 1e-9


@hook
def _day_exposure_accepted(o, b, e, lim):  # type: ignore[no-untyped-def]
    b[B.DAY_STAKED] += o[O.STAKE]


@hook
def _day_exposure_day(o, b, e, lim):  # type: ignore[no-untyped-def]
    b[B.DAY_STAKED] = 0.0


class DayExposure(Control):
    """Of the day's cash: what sizing shares out among the day's bets (``staking``)."""

    code = "day_exposure"
    check = _day_exposure
    accepted = _day_exposure_accepted
    new_day = _day_exposure_day

    def message(self, o: View, b: View, exposure: float, lim: View) -> str:
        cash = b.day_cash if not math.isnan(b.day_cash) else b.equity - b.open
        return (f"day exposure {b.day_staked + o.stake:.2f} above {lim.max_day_exposure:.0%} of the day's cash "
                f"{cash:.2f}")


@check
def _rate_limit(o, b, e, lim):  # type: ignore[no-untyped-def]
    ring = len(b) - B.RECENT
    if lim[L.MAX_PER_MINUTE] > ring:
        return False
    oldest = b[B.RECENT + int(b[B.RECENT_NEXT]) % ring]
    return o[O.TIME] - oldest < US_PER_MINUTE


@hook
def _rate_limit_accepted(o, b, e, lim):  # type: ignore[no-untyped-def]
    ring = len(b) - B.RECENT
    b[B.RECENT + int(b[B.RECENT_NEXT]) % ring] = o[O.TIME]
    b[B.RECENT_NEXT] = (b[B.RECENT_NEXT] + 1) % ring


class RateLimit(Control):
    """The ring holds the last ``max_bets_per_minute`` placement times: the oldest of them within
    the minute means the limit is reached."""

    code = "rate_limit"
    check = _rate_limit
    accepted = _rate_limit_accepted

    def message(self, o: View, b: View, exposure: float, lim: View) -> str:
        return f"rate limit: {lim.max_per_minute:.0f} bets in the last minute, limit {lim.max_per_minute:.0f}"


@check
def _available_funds(o, b, e, lim):  # type: ignore[no-untyped-def]
    return b[B.FUNDS] == b[B.FUNDS] and o[O.STAKE] > b[B.FUNDS] + 1e-9


@hook
def _funds_accepted(o, b, e, lim):  # type: ignore[no-untyped-def]
    if b[B.FUNDS] == b[B.FUNDS]:
        b[B.FUNDS] -= o[O.STAKE]


class AvailableFunds(Control):
    """The venue's own figure, read before each batch (a venue that reports none: never refuses)."""

    code = "available_funds"
    check = _available_funds
    accepted = _funds_accepted

    def message(self, o: View, b: View, exposure: float, lim: View) -> str:
        return f"available funds {b.funds:.2f} below the stake {o.stake:.2f}"


@check
def _transaction_budget(o, b, e, lim):  # type: ignore[no-untyped-def]
    if o[O.VENUE_TX] == 0:
        return False
    hour = o[O.TIME] // US_PER_HOUR
    count = b[B.TX_COUNT] if b[B.TX_HOUR] == hour else 0.0
    return count >= lim[L.TX_PER_HOUR]


@hook
def _transaction_accepted(o, b, e, lim):  # type: ignore[no-untyped-def]
    if o[O.VENUE_TX] == 0:
        return
    hour = o[O.TIME] // US_PER_HOUR
    if b[B.TX_HOUR] != hour:
        b[B.TX_HOUR] = hour
        b[B.TX_COUNT] = 0.0
    b[B.TX_COUNT] += 1.0


class TransactionBudget(Control):
    """Orders sent to a venue that counts them (placed, lapsed and refused by the venue alike)
    per clock hour."""

    code = "transaction_budget"
    check = _transaction_budget
    accepted = _transaction_accepted

    def message(self, o: View, b: View, exposure: float, lim: View) -> str:
        return f"transaction budget: {b.tx_count:.0f} venue transactions this hour, limit {lim.tx_per_hour:.0f}"


@check
def _venue_minimum(o, b, e, lim):  # type: ignore[no-untyped-def]
    return o[O.STAKE] < lim[L.VENUE_MIN_STAKE] and o[O.STAKE] * o[O.QUOTED] < lim[L.VENUE_MIN_PAYOUT]


class VenueMinimum(Control):
    """The venue's own minimum bet, checked before sending (the venue would refuse it)."""

    code = "venue_minimum"
    check = _venue_minimum

    def message(self, o: View, b: View, exposure: float, lim: View) -> str:
        return (f"stake {o.stake:.2f} below the venue's minimum {lim.venue_min_stake:.2f} (or a payout of "
                f"{lim.venue_min_payout:.0f} at {o.quoted:g})")


DEFAULT_CONTROLS: tuple[Control, ...] = (
    KillSwitch(), DailyLoss(), Drawdown(), LosingStreak(), NoBankroll(),
    OddsRange(), MinEdge(), MinStake(), MaxStake(), StakeFraction(),
    EventExposure(), DayExposure(), RateLimit(), AvailableFunds(), TransactionBudget(), VenueMinimum(),
)


@dataclass(frozen=True)
class Controls:
    """Controls in the order the gate asks them, with their compiled functions as the tuples the
    compiled loops take (``kernels.account.Controls``): a bit per control in a refusal's mask."""

    rules: tuple[Control, ...] = DEFAULT_CONTROLS

    def __post_init__(self) -> None:
        codes = self.codes
        twice = sorted({c for c in codes if codes.count(c) > 1})
        if twice:
            raise ValueError(f"controls with the same code: {', '.join(twice)}")
        if not 0 < len(codes) <= 62:
            raise ValueError("between 1 and 62 controls: a refusal's codes are held as the bits of one integer")

    @property
    def codes(self) -> list[str]:
        return [r.code for r in self.rules]

    def bits(self, which: Callable[[Control], bool]) -> int:
        return sum(1 << i for i, rule in enumerate(self.rules) if which(rule))

    def compiled(self) -> Compiled:
        """The list's checks and hooks as four compiled functions (``kernels.account.Controls``),
        each in a tuple of one: numba then types it by its signature alone (a first-class
        function), so the loops are compiled once for every list of controls."""
        made = _composite(tuple(type(r) for r in self.rules))
        return Compiled((made.check,), (made.accepted,), (made.settled,), (made.new_day,),
                        self.bits(lambda r: r.account), self.bits(lambda r: r.priced), (made.check_rows,))

    def refusals(self, mask: int, order: np.ndarray, book: np.ndarray, exposure: np.ndarray,
                 limits: np.ndarray) -> list[Refusal]:
        """The refusals a mask names, in words, read against the book the order was checked on."""
        found = []
        o, b, lim = View(O, order), View(B, book), View(L, limits)
        on_event = float(exposure[int(order[O.EVENT])]) if len(exposure) else 0.0
        for bit, rule in enumerate(self.rules):
            if mask >> bit & 1:
                found.append(Refusal(rule.code, rule.message(o, b, on_event, lim)))
        return found

    def codes_of(self, mask: int) -> list[str]:
        return [rule.code for bit, rule in enumerate(self.rules) if mask >> bit & 1]


GENERATED = Path(__file__).resolve().parent / "__pycache__" / "controls"
"""where the compiled functions of each list of controls are written, beside numba's cache"""


@lru_cache(maxsize=None)
def _composite(kinds: tuple[type[Control], ...]) -> ModuleType:
    """A module calling each control's check (when its bit is asked) and each of its hooks,
    directly: numba compiles and caches it as it does any source file, so the loops pay one
    indirect call per order rather than one per control. Its name is a digest of the controls
    and of their sources, so a changed rule is a new module, never a stale cache."""
    lines = ["import numba", "from betting_assets.domain.orders.controls import CHECK_ROWS, CHECKS, HOOK"]
    names: dict[str, list[str]] = {"accepted": [], "settled": [], "new_day": []}
    for i, kind in enumerate(kinds):
        if "<locals>" in kind.__qualname__:
            raise ValueError(f"control {kind.__qualname__} must be defined at a module's top level")
        lines.append(f"from {kind.__module__} import {kind.__qualname__} as _K{i}")
        lines.append(f"_c{i} = _K{i}.check")
        for hook in names:
            if getattr(kind, hook) is not no_hook:
                lines.append(f"_{hook}{i} = _K{i}.{hook}")
                names[hook].append(f"_{hook}{i}")
    lines += ["", "", "@numba.njit(CHECKS, cache=True, nogil=True)", "def check(o, b, e, lim, asked):", "    mask = 0"]
    for i in range(len(kinds)):
        lines += [f"    if asked & {1 << i} and _c{i}(o, b, e, lim):", f"        mask |= {1 << i}"]
    lines.append("    return mask")
    lines += ["", "", "@numba.njit(CHECK_ROWS, cache=True, nogil=True)", "def check_rows(orders, b, e, lim, asked, masks):",
              "    for i in range(orders.shape[0]):", "        masks[i] = check(orders[i], b, e, lim, asked)"]
    for hook, called in names.items():
        lines += ["", "", "@numba.njit(HOOK, cache=True, nogil=True)", f"def {hook}(o, b, e, lim):"]
        lines += [f"    {name}(o, b, e, lim)" for name in called] or ["    return None"]
    text = "\n".join(lines) + "\n"
    sources = "".join(_source(kind) for kind in kinds)
    digest = hashlib.sha256((text + sources).encode()).hexdigest()[:20]
    name = f"controls_{digest}"
    path = GENERATED / f"{name}.py"
    if not path.exists() or path.read_text() != text:
        GENERATED.mkdir(parents=True, exist_ok=True)
        temporary = path.with_suffix(f".{os.getpid()}.tmp")
        temporary.write_text(text)
        temporary.replace(path)
    spec = importlib.util.spec_from_file_location(f"betting_assets._compiled_{name}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def _source(kind: type) -> str:
    """The control's class and the functions it compiles, as written."""
    parts = [inspect.getsource(kind)]
    for hook in ("check", "accepted", "settled", "new_day"):
        function = getattr(getattr(kind, hook), "py_func", None)
        if function is not None:
            parts.append(inspect.getsource(function))
    return "".join(parts)
