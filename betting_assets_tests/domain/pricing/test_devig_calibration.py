"""The de-vig study picks the method that matches how a margin was really applied, and the
default de-vig is what it measured as best on the shared real history."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from betting_assets.domain.pricing.devig import DEFAULT_CHOICE, parse_choice
from betting_assets.domain.pricing.devig_calibration import study

def _market(n: int, margin_rule: str, seed: int) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Matches with known result probabilities, priced by a book that adds its margin by
    ``margin_rule``, and results drawn from the true probabilities."""
    rng = np.random.default_rng(seed)
    start = datetime(2023, 8, 1, 15, tzinfo=timezone.utc)
    odds, events = [], []
    for i in range(n):
        strength = rng.normal(0.0, 0.9)
        raw = np.array([np.exp(strength), 0.75, np.exp(-strength)])
        true = raw / raw.sum()
        if margin_rule == "power":  # q = p ** (1/k), with k < 1 making a 6 % book; longshots carry more of it
            k = 0.93
            implied = true ** k
        else:
            implied = true * 1.06
        result = rng.choice(3, p=true)
        kick_off = start + timedelta(hours=6 * i)
        events.append({"event_id": f"e{i}", "commence_time": kick_off, "home_score": int(result == 0),
                       "away_score": int(result == 2)})
        for side, q in zip(("home", "draw", "away"), implied, strict=True):
            odds.append({"event_id": f"e{i}", "bookmaker": "pinnacle", "market": "h2h", "side": side, "point": 0.0,
                         "snapshot_time": kick_off - timedelta(hours=5), "price_decimal": float(1 / q),
                         "is_valid": True})
    return pl.DataFrame(odds), pl.DataFrame(events)


@pytest.mark.parametrize(("rule", "expected"), [("power", "power"), ("multiplicative", "multiplicative")])
def test_the_study_finds_how_the_margin_was_applied(rule: str, expected: str) -> None:
    odds, events = _market(6000, rule, seed=11)
    found = study(odds, events, sharp_book="pinnacle")
    assert found.best("prematch", "h2h") == expected
    pre = found.scores.filter(pl.col("moment") == "prematch")
    assert set(pre["method"]) == {"multiplicative", "power", "shin"} and pre["markets"].to_list() == [6000] * 3
    bands = found.bands.filter((pl.col("moment") == "prematch") & (pl.col("method") == expected))
    assert bands["outcomes"].sum() == 18000  # every outcome of every market lands in one band


def test_the_default_de_vig_is_the_best_measured_on_the_shared_history(shared_data: Path) -> None:
    from betting_assets.sources.football_data import quotes_as_odds, read_football_data

    files = read_football_data(shared_data)
    found = study(quotes_as_odds(files), files.events, sharp_book="pinnacle")
    default = parse_choice(DEFAULT_CHOICE)
    for market in ("h2h", "totals", "spreads"):
        assert default[market] == found.best("prematch", market), market
    h2h = found.scores.filter((pl.col("moment") == "prematch") & (pl.col("market") == "h2h"))
    assert h2h["markets"].to_list() == [files.events.height] * 3


def test_a_de_vig_choice_is_one_method_or_market_pairs_and_nothing_else() -> None:
    assert set(parse_choice("shin").values()) == {"shin"}
    assert parse_choice("totals=power") == {"h2h": "multiplicative", "totals": "power", "spreads": "multiplicative"}
    for bad in ("linear", "h2h=linear", "corners=power", "h2h"):
        with pytest.raises(ValueError, match="not a de-vig choice"):
            parse_choice(bad)
