"""How much to stake: fractional Kelly, flat or a percentage of the bankroll, within caps.

Bets are sized in groups: a single bet is a group of one, an arbitrage is a group whose legs
keep fixed shares of the group's stake so the locked profit survives every cap. Bets decided
on the same day share the bankroll: each is sized against the cash at the start of the day,
and together they never take more than ``max_day_fraction`` of it (``size_day``; the backtest
engine carries the cash from day to day).
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from betting_assets.domain.bounds import ordered
from betting_assets.domain.kernels.sizing import size_day_in_place

SizingMethod = Literal["kelly", "flat", "percent"]
METHODS: tuple[str, ...] = ("kelly", "flat", "percent")


class Sizing(BaseModel):
    """Also the settings' ``sizing`` group: what the environment sets is what the engine sizes by."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    method: SizingMethod = Field(default="kelly", description="Each strategy's own (or the CLI's --sizing); "
                                 "not a setting.")
    kelly_fraction: float = Field(default=0.25, gt=0, le=1, description="Share of the full Kelly stake.")
    flat_stake: float = Field(default=10.0, gt=0, description="Stake of flat sizing.")
    percent: float = Field(default=0.01, gt=0, le=1, description="Share of the bankroll of percent sizing.")
    min_stake: float = Field(default=1.0, ge=0, description="Bets sized below this are not made.")
    max_stake: float | None = Field(default=50.0, gt=0, description="Largest single stake; none when unset.")
    max_day_fraction: float = Field(default=0.25, description="Bets decided on one day together stake at most "
                                    "this share of the bankroll.")

    @field_validator("max_day_fraction")
    @classmethod
    def _within_the_bankroll(cls, value: float) -> float:
        if not 0 < value <= 1:
            raise ValueError(f"max_day_fraction {value:g} must be in (0, 1]: a day never stakes more than the "
                             "bankroll")
        return value

    @model_validator(mode="after")
    def _stakes_ordered(self) -> "Sizing":
        ordered(self, "min_stake", "max_stake", strict=False,
                message="invalid sizing: max_stake {high_value} is below min_stake {low_value}")
        return self


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
