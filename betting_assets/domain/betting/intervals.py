"""Bootstrap intervals for the figures a bettor reads: could chance alone explain this?

Percentile intervals from a fixed seed, so the same data always prints the same interval.
Resampling is done in blocks of replicates, so a hundred thousand bets stay within memory.
Ratios (ROI) resample clusters (days), because bets decided on one day share a bankroll and
often a match; means (CLV, hit rate, a log-loss gap) resample the items themselves.

Below ``MIN_ITEMS`` items (or ``MIN_CLUSTERS`` clusters) no interval is given: a percentile
bootstrap of seven lost bets is the point −100 % to −100 %, which would read as a loss beyond
chance when seven losses in a row at a price of 3 happen one time in sixteen.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

LEVEL = 0.95
REPLICATES = 2000
SEED = 20240801
MIN_ITEMS = 20
MIN_CLUSTERS = 10
_BLOCK_CELLS = 4_000_000


@dataclass(frozen=True)
class Interval:
    estimate: float
    low: float
    high: float
    n: int
    level: float = LEVEL

    @property
    def holds_zero(self) -> bool:
        return self.low <= 0.0 <= self.high


def _draws(n: int, replicates: int, rng: np.random.Generator):  # type: ignore[no-untyped-def]
    """Blocks of resampled indices, one row per replicate."""
    block = max(1, _BLOCK_CELLS // max(n, 1))
    done = 0
    while done < replicates:
        size = min(block, replicates - done)
        yield rng.integers(0, n, size=(size, n))
        done += size


def _percentiles(stats: np.ndarray, level: float) -> tuple[float, float]:
    tail = (1.0 - level) / 2 * 100
    low, high = np.percentile(stats, [tail, 100 - tail])
    return float(low), float(high)


def mean_interval(values: np.ndarray, *, replicates: int = REPLICATES, level: float = LEVEL,
                  seed: int = SEED) -> Interval | None:
    """The mean of ``values`` (NaN left out) with a bootstrap interval over the items; None for
    fewer than ``MIN_ITEMS``."""
    known = np.asarray(values, dtype=float)
    known = known[~np.isnan(known)]
    if known.size < MIN_ITEMS:
        return None
    rng = np.random.default_rng(seed)
    stats = np.concatenate([known[idx].mean(axis=1) for idx in _draws(known.size, replicates, rng)])
    low, high = _percentiles(stats, level)
    return Interval(float(known.mean()), low, high, int(known.size), level)


def ratio_interval(numerator: np.ndarray, denominator: np.ndarray, clusters: np.ndarray, *,
                   replicates: int = REPLICATES, level: float = LEVEL, seed: int = SEED) -> Interval | None:
    """Σ numerator / Σ denominator (profit over turnover) with an interval that resamples whole
    clusters; ``n`` counts the items, the clusters are what was resampled. None for fewer than
    ``MIN_CLUSTERS`` clusters."""
    numerator = np.asarray(numerator, dtype=float)
    denominator = np.asarray(denominator, dtype=float)
    if denominator.sum() <= 0:
        return None
    _, code = np.unique(np.asarray(clusters), return_inverse=True)
    k = int(code.max()) + 1
    if k < MIN_CLUSTERS:
        return None
    num = np.bincount(code, weights=numerator, minlength=k)
    den = np.bincount(code, weights=denominator, minlength=k)
    rng = np.random.default_rng(seed)
    parts = []
    for idx in _draws(k, replicates, rng):
        total = den[idx].sum(axis=1)
        with np.errstate(divide="ignore", invalid="ignore"):
            parts.append(np.where(total > 0, num[idx].sum(axis=1) / total, np.nan))
    stats = np.concatenate(parts)
    low, high = _percentiles(stats[~np.isnan(stats)], level)
    return Interval(float(numerator.sum() / denominator.sum()), low, high, int(numerator.size), level)


SAME = 1e-12
"""per-item differences below this are rounding, not a difference between the forecasts"""


def paired_difference(a: np.ndarray, b: np.ndarray, *, replicates: int = REPLICATES, level: float = LEVEL,
                      seed: int = SEED) -> Interval | None:
    """Mean of a − b over the same items (per-event losses of two forecasts), resampling items,
    so what both got right or wrong together cancels."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if a.shape != b.shape:
        raise ValueError(f"a paired difference needs the same items on both sides ({a.shape} vs {b.shape})")
    diff = a - b
    diff[np.abs(diff) < SAME] = 0.0   # the same forecast computed two ways is no difference, not a tiny loss
    return mean_interval(diff, replicates=replicates, level=level, seed=seed)
