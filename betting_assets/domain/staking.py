"""How much to stake: fractional Kelly, flat or a percentage of the bankroll, within caps.

Bets are sized in groups: a single bet is a group of one, an arbitrage is a group whose legs
keep fixed shares of the group's stake so the locked profit survives every cap. Bets decided
on the same day share the bankroll: each is sized against the cash at the start of the day,
and together they never take more than ``max_day_fraction`` of it. A result adds to the cash
only from the first day that starts after the bet has settled, so nothing is staked from
winnings that were not yet known.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

Method = Literal["kelly", "flat", "percent"]
METHODS: tuple[str, ...] = ("kelly", "flat", "percent")


@dataclass(frozen=True)
class Sizing:
    method: Method = "kelly"
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
    if sizing.method == "flat":
        return np.full(n, sizing.flat_stake), np.zeros(n)
    if sizing.method == "percent":
        return np.zeros(n), np.full(n, sizing.percent)
    return np.zeros(n), sizing.kelly_fraction * np.asarray(group_kelly, dtype=float)


@dataclass
class Compounded:
    group_stake: np.ndarray
    cash: np.ndarray
    """cash at the start of each day, after the results known by then"""


def compound(day_bounds: np.ndarray, a: np.ndarray, b: np.ndarray, max_leg: np.ndarray, min_leg: np.ndarray,
             gain: np.ndarray, release_day: np.ndarray, sizing: Sizing, bankroll: float) -> Compounded:
    """Stakes per group, day by day, with groups sorted by day.

    ``day_bounds``: offsets of each day's groups (length days + 1); ``max_leg``/``min_leg``: the
    largest and smallest leg share in the group (1 for a single bet); ``gain``: profit per unit
    of group stake once settled (0 for an open bet); ``release_day``: the day from which the
    result counts (``days`` or more for never). Vectorised within a day, sequential across days
    because each day's stakes depend on the results before it.
    """
    days = len(day_bounds) - 1
    cap = np.full(len(a), np.inf) if sizing.max_stake is None else sizing.max_stake / max_leg
    stake = np.zeros(len(a))
    cash_by_day = np.zeros(days)
    profit_due = np.zeros(days + 1)
    stake_due = np.zeros(days + 1)
    release = np.minimum(release_day, days)
    settled, outstanding = 0.0, 0.0
    for day in range(days):
        settled += profit_due[day]
        outstanding -= stake_due[day]
        cash = bankroll + settled - outstanding
        cash_by_day[day] = cash
        s, e = day_bounds[day], day_bounds[day + 1]
        if cash <= 0 or s == e:
            continue
        raw = np.minimum(a[s:e] + b[s:e] * cash, cap[s:e])
        low = min_leg[s:e]
        raw[(raw * low < sizing.min_stake) | (raw <= 0)] = 0.0
        total = raw.sum()
        limit = sizing.max_day_fraction * cash
        if total > limit:
            raw *= limit / total
            raw[raw * low < sizing.min_stake] = 0.0
        placed = np.flatnonzero(raw)
        if placed.size == 0:
            continue
        stake[s:e] = raw
        raw, due = raw[placed], release[s + placed]
        np.add.at(profit_due, due, raw * gain[s + placed])
        np.add.at(stake_due, due, raw)
        outstanding += raw.sum()
    return Compounded(group_stake=stake, cash=cash_by_day)
