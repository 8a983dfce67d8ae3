"""Scoring probabilistic forecasts of match outcomes: labels, log loss, Brier, calibration."""

from __future__ import annotations

import numpy as np
import polars as pl

THREE_WAY = ("home", "draw", "away")
TWO_WAY = ("home", "away")
_EPS = 1e-15


def classes_for(three_way: bool) -> tuple[str, ...]:
    return THREE_WAY if three_way else TWO_WAY


def outcome_labels(events: pl.DataFrame, three_way: bool) -> pl.DataFrame:
    """event_id and the index of the result in ``classes_for(three_way)``; a two-way event that
    ended level (a void in most two-way markets) gets no label."""
    diff = pl.col("home_score").cast(pl.Int64) - pl.col("away_score").cast(pl.Int64)
    if three_way:
        label = pl.when(diff > 0).then(0).when(diff == 0).then(1).otherwise(2)
    else:
        label = pl.when(diff > 0).then(0).when(diff < 0).then(1)
    return (
        events.filter(pl.col("home_score").is_not_null() & pl.col("away_score").is_not_null())
        .select("event_id", label.cast(pl.Int32).alias("label"))
        .drop_nulls("label")
    )


def event_log_losses(probs: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Negative log probability of what happened, per event; rows are renormalised first."""
    probs = np.asarray(probs, dtype=float)
    probs = probs / probs.sum(axis=1, keepdims=True)
    picked = probs[np.arange(len(labels)), np.asarray(labels, dtype=int)]
    return -np.log(np.clip(picked, _EPS, 1.0))


def log_loss(probs: np.ndarray, labels: np.ndarray) -> float:
    return float(np.mean(event_log_losses(probs, labels)))


def brier(probs: np.ndarray, labels: np.ndarray) -> float:
    """Multi-class Brier score: mean over events of the summed squared error over classes."""
    probs = np.asarray(probs, dtype=float)
    onehot = np.zeros_like(probs)
    onehot[np.arange(len(labels)), np.asarray(labels, dtype=int)] = 1.0
    return float(np.mean(np.sum((probs - onehot) ** 2, axis=1)))


def calibration_table(probs: np.ndarray, labels: np.ndarray, classes: tuple[str, ...],
                      bins: int = 10) -> pl.DataFrame:
    """Per class and probability bin: mean forecast against observed frequency."""
    probs = np.asarray(probs, dtype=float)
    labels = np.asarray(labels, dtype=int)
    parts = []
    for index, name in enumerate(classes):
        frame = pl.DataFrame({"forecast": probs[:, index], "hit": (labels == index).astype(float)})
        parts.append(
            frame.with_columns(bin=(pl.col("forecast") * bins).floor().clip(0, bins - 1).cast(pl.Int32))
            .group_by("bin").agg(pl.col("forecast").mean(), observed=pl.col("hit").mean(), n=pl.len())
            .with_columns(outcome=pl.lit(name))
        )
    return pl.concat(parts).sort("outcome", "bin").select("outcome", "bin", "n", "forecast", "observed")


def market_probabilities(features: pl.DataFrame, prefix: str, classes: tuple[str, ...]) -> np.ndarray:
    """The columns ``{prefix}_{class}`` of a features frame as a probability matrix (NaN where
    the market had no price)."""
    return features.select([pl.col(f"{prefix}_{c}").cast(pl.Float64) for c in classes]).to_numpy()
