"""Bootstrap intervals cover what they claim to, widen when bets move together, and read the
same words everywhere."""

from __future__ import annotations

import numpy as np

from betting_assets.domain.betting import claims
from betting_assets.domain.betting.intervals import mean_interval, paired_difference, ratio_interval


def test_a_95_percent_interval_covers_the_true_mean_about_95_times_in_100() -> None:
    rng = np.random.default_rng(3)
    covered = 0
    for trial in range(200):
        sample = rng.normal(0.3, 1.0, size=150)
        found = mean_interval(sample, replicates=400, seed=trial)
        assert found is not None and found.n == 150
        covered += found.low <= 0.3 <= found.high
    assert 0.90 <= covered / 200 <= 0.99, covered


def test_the_same_data_gives_the_same_interval_and_too_little_gives_none() -> None:
    values = np.linspace(-1, 2, 40)
    assert mean_interval(values) == mean_interval(values)
    assert mean_interval(np.array([0.5])) is None
    assert mean_interval(np.array([np.nan] * 30 + [1.0] * 19)) is None  # 19 known values: too few
    # seven lost bets on seven days: a bootstrap would say -100 % to -100 %, a loss "beyond chance"
    lost = ratio_interval(-np.ones(7), np.ones(7), np.arange(7))
    assert lost is None and claims.reading(None, None) == claims.TOO_FEW


def test_roi_resampled_by_day_is_wider_when_the_bets_of_a_day_share_their_fate() -> None:
    rng = np.random.default_rng(5)
    days = np.repeat(np.arange(40), 10)
    fate = rng.choice([-1.0, 1.0], size=40)[days]  # every bet of a day wins or loses together
    stake = np.ones(days.size)
    by_day = ratio_interval(fate, stake, days)
    by_bet = ratio_interval(fate, stake, np.arange(days.size))
    assert by_day is not None and by_bet is not None
    assert by_day.estimate == by_bet.estimate == fate.sum() / stake.sum()
    assert (by_day.high - by_day.low) > 2 * (by_bet.high - by_bet.low)


def test_a_paired_gap_holds_zero_for_equal_forecasts_and_not_for_a_clearly_better_one() -> None:
    rng = np.random.default_rng(7)
    loss = rng.exponential(1.0, size=500)
    same = paired_difference(loss, loss.copy())
    assert same is not None and same.estimate == 0.0 and same.holds_zero
    better = paired_difference(loss + 0.05 + rng.normal(0, 0.01, size=500), loss)
    assert better is not None and better.low > 0


def test_readings_and_the_order_of_a_comparison() -> None:
    edge = {"bets": 300, "roi": 0.08, "roi_low": 0.01, "roi_high": 0.15, "bet_days": 90}
    noise = {"bets": 40, "roi": 0.30, "roi_low": -0.20, "roi_high": 0.80, "bet_days": 12}
    loss = {"bets": 500, "roi": -0.05, "roi_low": -0.09, "roi_high": -0.01, "bet_days": 120}
    assert claims.strategy_reading(edge) == claims.EDGE
    assert claims.strategy_reading(noise) == claims.NOISE
    assert claims.strategy_reading(loss) == claims.LOSS
    # a large ROI within noise never heads the table above a smaller one beyond chance
    order = sorted({"noise": noise, "loss": loss, "edge": edge}.items(), key=lambda kv: claims.sort_key(*kv))
    assert [name for name, _ in order] == ["edge", "noise", "loss"]
    line = claims.strategy_line(noise)
    assert "40 bets" in line and "95% CI -20.0% to +80.0%" in line and "12 days" in line
    assert line.endswith(f"ROI {claims.NOISE}")


def test_the_same_forecast_computed_two_ways_is_no_difference_not_a_loss_beyond_chance() -> None:
    """A model that is its market prior alone scores the market's losses up to rounding."""
    from betting_assets.domain.betting import claims
    from betting_assets.domain.betting.intervals import paired_difference

    rng = np.random.default_rng(3)
    losses = rng.uniform(0.2, 2.0, 400)
    rounded = losses * (1 + 1e-15) + 1e-16
    gain = paired_difference(losses, rounded)
    assert gain is not None and gain.low == gain.high == 0.0
    assert claims.reading(gain.low, gain.high) == claims.NOISE
