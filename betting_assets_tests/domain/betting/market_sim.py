"""A simulated 1X2 market with known true probabilities: a sharp book pricing the truth with a
2 % margin, two soft books with 6 %, snapshots at opening (50 h), pre-match (30 h) and close
(10 min). ``mispricing`` makes one soft book pay (1 + m) / p on one side of every match."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import numpy as np
import polars as pl

SIDES = ("home", "draw", "away")
START = datetime(2024, 1, 1, 14, tzinfo=timezone.utc)
SNAPSHOTS = {"opening": timedelta(hours=50), "prematch": timedelta(hours=30), "closing": timedelta(minutes=10)}
SCORES = {0: (2, 0), 1: (1, 1), 2: (0, 1)}


def simulated_market(n: int, seed: int, mispricing: float | None = None,
                     spacing: timedelta = timedelta(hours=6)) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """(odds in the normalised shape, events with results, true probabilities per event and side)."""
    rng = np.random.default_rng(seed)
    strength = rng.normal(0.0, 0.8, n)
    logits = np.column_stack([strength + 0.25, np.full(n, -0.1), -strength])
    truth = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    results = np.array([rng.choice(3, p=p) for p in truth])
    planted = rng.integers(0, 3, n)
    commence = [START + spacing * i for i in range(n)]
    rows = []
    for i in range(n):
        for snap, lead in SNAPSHOTS.items():
            for book, margin in (("pinnacle", 1.02), ("softa", 1.06), ("softb", 1.06)):
                for k, side in enumerate(SIDES):
                    price = 1.0 / (truth[i, k] * margin)
                    if mispricing is not None and book == "softa" and k == planted[i] and snap != "closing":
                        price = (1.0 + mispricing) / truth[i, k]
                    rows.append((f"ev{i}", book, "h2h", side, 0.0, commence[i] - lead, round(price, 6), True))
    odds = pl.DataFrame(rows, schema={"event_id": pl.String, "bookmaker": pl.String, "market": pl.String,
                                      "side": pl.String, "point": pl.Float64, "snapshot_time": pl.Datetime("us", "UTC"),
                                      "price_decimal": pl.Float64, "is_valid": pl.Boolean}, orient="row")
    events = pl.DataFrame({
        "event_id": [f"ev{i}" for i in range(n)], "sport_key": ["soccer_sim"] * n, "commence_time": commence,
        "status": ["final"] * n, "home_score": [SCORES[int(r)][0] for r in results],
        "away_score": [SCORES[int(r)][1] for r in results]})
    probs = pl.DataFrame({"event_id": [f"ev{i}" for i in range(n) for _ in SIDES],
                          "side": [s for _ in range(n) for s in SIDES], "prob": truth.reshape(-1)})
    return odds, events, probs
