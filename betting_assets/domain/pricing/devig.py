"""Removing the bookmaker margin to get fair probabilities.

Multiplicative normalisation is the baseline; the power method and Shin's model correct the
favourite-longshot bias that normalisation leaves (Štrumbelj 2014; Clarke et al. 2017).
All three work on a long frame with one row per outcome and solve every market at once.
"""

from __future__ import annotations

from typing import Annotated

import numpy as np
import polars as pl
from pydantic import AfterValidator

from betting_assets.domain.vocabulary import MARKET_RULES, MARKETS, DevigMethod

METHODS: tuple[DevigMethod, ...] = tuple(DevigMethod)
DEFAULT_CHOICE = ",".join(f"{m}={MARKET_RULES[m].devig}" for m in MARKETS)
"""each market's default de-vig (the markets' table): what was best calibrated on Pinnacle's
prices in the shared history (``betting devig compare``): on 1X2 multiplicative leads (power
and Shin within noise of it), on totals power beats multiplicative beyond chance, on handicaps
the three tie"""
_ITERATIONS = 60


def parse_choice(spec: str) -> dict[str, DevigMethod]:
    """``power`` (every market) or ``h2h=multiplicative,totals=power,spreads=power``; a market
    left out of a per-market choice takes multiplicative."""
    spec = spec.strip()
    if spec in METHODS:
        return dict.fromkeys(MARKETS, DevigMethod(spec))
    choice: dict[str, DevigMethod] = dict.fromkeys(MARKETS, DevigMethod.MULTIPLICATIVE)
    for part in filter(None, (p.strip() for p in spec.split(","))):
        market, sep, method = part.partition("=")
        if not sep or market.strip() not in MARKETS or method.strip() not in METHODS:
            raise ValueError(f"{spec!r} is not a de-vig choice: give one of {', '.join(METHODS)}, or "
                             f"market=method pairs over {', '.join(MARKETS)} (e.g. {DEFAULT_CHOICE})")
        choice[market.strip()] = DevigMethod(method.strip())
    return choice


def _valid_choice(spec: str) -> str:
    parse_choice(spec)
    return spec


DevigChoice = Annotated[str, AfterValidator(_valid_choice)]
"""a de-vig choice as a setting spells it: one method, or market=method pairs"""


def describe_choice(spec: str) -> str:
    choice = parse_choice(spec)
    methods = set(choice.values())
    return next(iter(methods)) if len(methods) == 1 else ", ".join(f"{m} {choice[m]}" for m in MARKETS)


def devig(
    frame: pl.DataFrame,
    group_by: list[str],
    price_col: str = "price_decimal",
    method: DevigMethod = DevigMethod.MULTIPLICATIVE,
    out_col: str = "fair_prob",
) -> pl.DataFrame:
    """Adds ``out_col`` with fair probabilities that sum to one within each group."""
    if frame.is_empty():
        return frame.with_columns(pl.lit(None, dtype=pl.Float64).alias(out_col))
    gid = frame.select(pl.struct(group_by).rank("dense").alias("_g") - 1)["_g"].to_numpy()
    q = 1.0 / frame[price_col].to_numpy().astype(float)
    if method == DevigMethod.MULTIPLICATIVE:
        fair = q / _group_sum(q, gid)
    elif method == DevigMethod.POWER:
        fair = _power(q, gid)
    elif method == DevigMethod.SHIN:
        fair = _shin(q, gid)
    else:
        raise ValueError(f"unknown de-vig method {method!r}")
    return frame.with_columns(pl.Series(out_col, fair))


def _group_sum(values: np.ndarray, gid: np.ndarray) -> np.ndarray:
    sums = np.bincount(gid, weights=values)
    return sums[gid]


def _power(q: np.ndarray, gid: np.ndarray) -> np.ndarray:
    """Finds k per market with sum(q**k) = 1 by bisection (monotone in k for q < 1)."""
    n = gid.max() + 1
    lo, hi = np.full(n, 1e-3), np.full(n, 10.0)
    logq = np.log(np.clip(q, 1e-12, None))
    for _ in range(_ITERATIONS):
        mid = (lo + hi) / 2
        total = np.bincount(gid, weights=np.exp(logq * mid[gid]), minlength=n)
        too_big = total > 1.0
        lo = np.where(too_big, mid, lo)
        hi = np.where(too_big, hi, mid)
    k = (lo + hi) / 2
    fair = np.exp(logq * k[gid])
    return fair / _group_sum(fair, gid)


def _shin(q: np.ndarray, gid: np.ndarray) -> np.ndarray:
    """Shin's insider share z per market, found by bisection on sum(p(z)) = 1."""
    n = gid.max() + 1
    booksum = np.bincount(gid, weights=q, minlength=n)

    def probs(z: np.ndarray) -> np.ndarray:
        zg = z[gid]
        return (np.sqrt(zg**2 + 4 * (1 - zg) * q**2 / booksum[gid]) - zg) / (2 * (1 - zg))

    lo, hi = np.zeros(n), np.full(n, 0.5)
    for _ in range(_ITERATIONS):
        mid = (lo + hi) / 2
        total = np.bincount(gid, weights=probs(mid), minlength=n)
        too_big = total > 1.0
        lo = np.where(too_big, mid, lo)
        hi = np.where(too_big, hi, mid)
    fair = probs((lo + hi) / 2)
    return fair / _group_sum(fair, gid)
