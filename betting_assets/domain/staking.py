"""How much to stake: fractional Kelly, flat or a percentage of the bankroll, within caps.

Bets are sized in groups: a single bet is a group of one, an arbitrage is a group whose legs
keep fixed shares of the group's stake so the locked profit survives every cap. Bets decided
on the same day share the bankroll: each is sized against the cash at the start of the day,
and together they never take more than ``max_day_fraction`` of it (``size_day``; the backtest
engine carries the cash from day to day).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numba
import numpy as np

SizingMethod = Literal["kelly", "flat", "percent"]
METHODS: tuple[str, ...] = ("kelly", "flat", "percent")


@dataclass(frozen=True)
class Sizing:
    method: SizingMethod = "kelly"
    kelly_fraction: float = 0.25
    flat_stake: float = 10.0
    percent: float = 0.01
    min_stake: float = 1.0
    max_stake: float | None = 50.0
    max_day_fraction: float = 0.25

    def __post_init__(self) -> None:
        problems = []
        if self.method not in METHODS:
            problems.append(f"method {self.method!r} is not one of {', '.join(METHODS)}")
        if not 0 < self.kelly_fraction <= 1:
            problems.append(f"kelly_fraction {self.kelly_fraction} must be in (0, 1]")
        if self.flat_stake <= 0:
            problems.append(f"flat_stake {self.flat_stake} must be positive")
        if not 0 < self.percent <= 1:
            problems.append(f"percent {self.percent} must be in (0, 1]")
        if self.min_stake < 0:
            problems.append(f"min_stake {self.min_stake} must not be negative")
        if self.max_stake is not None and self.max_stake < self.min_stake:
            problems.append(f"max_stake {self.max_stake} is below min_stake {self.min_stake}")
        if not 0 < self.max_day_fraction <= 1:
            problems.append(f"max_day_fraction {self.max_day_fraction} must be in (0, 1]: a day never "
                            "stakes more than the bankroll")
        if problems:
            raise ValueError("invalid sizing: " + "; ".join(problems))


def kelly(prob: np.ndarray | float, price: np.ndarray | float) -> np.ndarray:
    """Full-Kelly fraction f* = (p·d − 1)/(d − 1), zero where the bet has no edge (or no
    probability)."""
    p = np.asarray(prob, dtype=float)
    d = np.asarray(price, dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        f = (p * d - 1.0) / (d - 1.0)
    return np.where(np.isfinite(f) & (f > 0), f, 0.0)


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


def size_day(a: np.ndarray, b: np.ndarray, max_leg: np.ndarray, min_leg: np.ndarray, sizing: Sizing,
             cash: float) -> np.ndarray:
    """Stakes of one day's groups against ``cash``: ``a + b × cash`` each, capped so that no leg
    stakes more than ``max_stake``, nothing below the minimum stake, and together at most
    ``max_day_fraction`` of the cash. ``max_leg``/``min_leg``: the largest and smallest leg
    share in each group (1 for a single bet)."""
    stake = np.zeros(len(a))
    if cash > 0:
        size_day_in_place(0, len(a), np.asarray(a, dtype=float), np.asarray(b, dtype=float), caps(sizing, max_leg),
                  np.asarray(min_leg, dtype=float), cash, float(sizing.min_stake), float(sizing.max_day_fraction),
                  stake)
    return stake


def caps(sizing: Sizing, max_leg: np.ndarray) -> np.ndarray:
    """The largest group stake that keeps every leg within ``max_stake``."""
    max_leg = np.asarray(max_leg, dtype=float)
    return np.full(len(max_leg), np.inf) if sizing.max_stake is None else sizing.max_stake / max_leg


@numba.njit(cache=True, nogil=True, inline="always")
def size_day_in_place(start: int, end: int, a: np.ndarray, b: np.ndarray, cap: np.ndarray, min_leg: np.ndarray,
                      cash: float, min_stake: float, max_day_fraction: float, stake: np.ndarray) -> None:
    """``size_day`` for the groups ``start:end``, written into ``stake``."""
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
