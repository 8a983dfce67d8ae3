"""Simulated feature rows with a planted signal, and a real MLflow store per test."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from betting_assets.domain.features.build import FEATURE_COLUMNS
from betting_assets.modelling.registry import Tracker


def simulated_rows(n: int, seed: int, signal: float = 1.2, market_noise: float | None = None) -> pl.DataFrame:
    """1X2 events whose result follows a hidden strength ``s`` exposed as ``form_gd_home``.
    With ``market_noise`` a sharp market prices the truth blurred by that much noise."""
    rng = np.random.default_rng(seed)
    strength = rng.normal(0.0, 1.0, n)
    logits = np.column_stack([signal * strength + 0.2, np.zeros(n) - 0.1, -signal * strength])
    truth = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    labels = np.array([rng.choice(3, p=p) for p in truth])
    start = datetime(2022, 1, 1, tzinfo=timezone.utc)
    commence = [start + timedelta(hours=12 * i) for i in range(n)]
    data: dict[str, object] = {c: [None] * n for c in FEATURE_COLUMNS}
    data["form_gd_home"] = strength + rng.normal(0.0, 0.05, n)
    data["rest_home"] = rng.uniform(2, 9, n)
    if market_noise is not None:
        blurred = np.exp(logits + rng.normal(0.0, market_noise, (n, 3)))
        blurred /= blurred.sum(axis=1, keepdims=True)
        for i, side in enumerate(("home", "draw", "away")):
            data[f"sharp_mult_{side}"] = blurred[:, i]
            data[f"cons_{side}"] = blurred[:, i]
    return pl.DataFrame({
        "event_id": [f"e{seed}_{i}" for i in range(n)], "decision_time": [c - timedelta(hours=1) for c in commence],
        "sport_key": ["soccer_sim"] * n, "commence_time": commence, "home_team": ["H"] * n,
        "away_team": ["A"] * n, "three_way": [True] * n, "sharp_book_used": ["pinnacle"] * n,
        **data, "label": labels.astype(np.int32),
    }, schema_overrides={c: pl.Float64 for c in FEATURE_COLUMNS})


@pytest.fixture
def tracker(tmp_path: Path) -> Tracker:
    return Tracker(f"sqlite:///{tmp_path / 'mlflow.sqlite'}", (tmp_path / "artifacts").as_uri())
