"""How much to stake: fractional Kelly, flat or a percentage of the day's cash.

A strategy's sizing says how it turns an edge into a stake; the limits a stake must keep to are
risk's (``RiskLimits``: the minimum and maximum stake, the largest share of the bankroll, the
day's exposure cap), and sizing reads them rather than keeping its own. Bets are sized in
groups: a single bet is a group of one, an arbitrage is a group whose legs keep fixed shares of
the group's stake so the locked profit survives every cap. The bets decided at one moment share
what the day has left of its cap (``size_moment``): each is sized on the day's cash, capped,
and together they are scaled down to the allowance, then rounded down to the venue's step.
The backtest's loop and the live slips size with these same compiled rules.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from betting_assets.domain.kernels.gate import rounded_down
from betting_assets.domain.kernels.sizing import size_moment_in_place

SizingMethod = Literal["kelly", "flat", "percent"]
METHODS: tuple[str, ...] = ("kelly", "flat", "percent")


class Sizing(BaseModel):
    """Also the settings' ``sizing`` group: what the environment sets is what the engine sizes by."""

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    method: SizingMethod = Field(default="kelly", description="Each strategy's own (or the CLI's --sizing, or "
                                 "BETTING_LIVE_STRATEGIES); not a setting.")
    kelly_fraction: float = Field(default=0.25, gt=0, le=1, description="Share of the full Kelly stake.")
    flat_stake: float = Field(default=10.0, gt=0, le=1e9, description="Stake of flat sizing.")
    percent: float = Field(default=0.01, gt=0, le=1, description="Share of the day's cash of percent sizing.")


def kelly(prob: np.ndarray | float, price: np.ndarray | float) -> np.ndarray:
    """Full-Kelly fraction f* = (p·d − 1)/(d − 1), zero where the bet has no edge (or no
    probability)."""
    p = np.asarray(prob, dtype=float)
    d = np.asarray(price, dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        f = (p * d - 1.0) / (d - 1.0)
    return np.where(np.isfinite(f) & (f > 0), f, 0.0)


def linear_terms(sizing: Sizing, group_kelly: np.ndarray, share: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """A group's stake before caps is ``a + b × cash``; ``group_kelly`` is f* per group (zero for
    a group with no probability); ``share`` is the strategy's share of the account's cash."""
    n = len(group_kelly)
    none = np.broadcast_to(0.0, n)  # a term that is the same for every group takes no memory
    if sizing.method == "flat":
        return np.broadcast_to(sizing.flat_stake, n), none
    if sizing.method == "percent":
        return none, np.broadcast_to(sizing.percent * share, n)
    return none, sizing.kelly_fraction * share * np.asarray(group_kelly, dtype=float)


def stake_cap(max_stake: float | None, max_stake_fraction: float, bankroll: float) -> float:
    """The largest single stake the limits allow at this bankroll."""
    cap = max_stake_fraction * bankroll
    return min(cap, max_stake) if max_stake is not None else cap


def size_moment(a: np.ndarray, b: np.ndarray, max_leg: np.ndarray, min_leg: np.ndarray, *, cash: float,
                cap: float, min_stake: float, allowance: float) -> np.ndarray:
    """Stakes of one moment's groups on the day's ``cash``: ``a + b × cash`` each, no leg above
    ``cap``, nothing below ``min_stake``, together at most ``allowance`` (what the day's exposure
    cap has left)."""
    stake = np.zeros(len(a))
    if cash > 0 and len(a):
        caps = cap / np.asarray(max_leg, dtype=float)
        size_moment_in_place(np.arange(len(a)), np.ascontiguousarray(a, dtype=float),
                             np.ascontiguousarray(b, dtype=float), caps, np.asarray(min_leg, dtype=float), cash,
                             min_stake, allowance, stake)
    return stake


def to_step(stake: np.ndarray, step: float) -> np.ndarray:
    """Stakes rounded down to the venue's step, as the account's loop rounds them."""
    return np.array([rounded_down(float(s), step) for s in np.asarray(stake, dtype=float)])
