"""Training recovers a planted signal; the champion gate promotes only a better model; a
registered model loads by alias in a fresh process and predicts the same numbers."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from betting_assets.domain.modelling.scoring import log_loss
from betting_assets.modelling.pipeline import fit_and_log
from betting_assets.modelling.registry import CHAMPION, Tracker, model_name
from betting_assets.domain.betting.claims import INDISTINGUISHABLE
from betting_assets.modelling.train import TrainConfig, compare_with_market, time_folds, train_model
from betting_assets_tests.modelling.conftest import simulated_rows

FAST = TrainConfig(n_trials=3, n_folds=3, max_rounds=1500, early_stopping=30)


def test_time_folds_never_train_on_the_future() -> None:
    for train, valid in time_folds(200, 4):
        assert train.max() < valid.min() and len(valid) > 0
    with pytest.raises(ValueError, match="too few"):
        time_folds(30, 4)


@pytest.mark.timeout(600)   # 50 s in the suite
def test_a_planted_signal_is_recovered_out_of_time() -> None:
    frame = simulated_rows(900, seed=1)
    train, test = frame.head(700), frame.tail(200)
    model = train_model(train, train["label"].to_numpy(), three_way=True, config=FAST)
    labels = test["label"].to_numpy()
    base = np.bincount(train["label"].to_numpy(), minlength=3) / train.height
    base_loss = log_loss(np.tile(base, (test.height, 1)), labels)
    model_loss = log_loss(model.predict(test), labels)
    assert model.prior is None  # no market in this simulation
    assert model_loss < base_loss - 0.08, (model_loss, base_loss)
    assert model.importance()["feature"][0] == "form_gd_home"


def test_the_market_prior_is_used_and_a_noisy_market_is_beaten() -> None:
    frame = simulated_rows(900, seed=4, market_noise=0.3)
    train, test = frame.head(700), frame.tail(200)
    model = train_model(train, train["label"].to_numpy(), three_way=True, config=FAST)
    labels = test["label"].to_numpy()
    market = test.select("sharp_mult_home", "sharp_mult_draw", "sharp_mult_away").to_numpy()
    assert model.prior == "sharp_mult"
    # the market is noisy; the planted feature lets the model beat it
    assert log_loss(model.predict(test), labels) < log_loss(market, labels)


def test_champion_gate_promotes_a_better_model_and_refuses_a_worse_one(tracker: Tracker) -> None:
    good = simulated_rows(900, seed=2)
    test_from = good["commence_time"][700]
    # the same events and features, but trained on shuffled results: it learns nothing
    in_train = pl.col("commence_time") < test_from
    noise = good.with_columns(label=pl.when(in_train).then(pl.col("label").shuffle(seed=9)).otherwise(pl.col("label")))
    name = model_name(True)

    def run(frame: pl.DataFrame):  # type: ignore[no-untyped-def]
        return fit_and_log(frame, three_way=True, test_from=test_from, config=FAST, tracker=tracker,
                           context={"test": "gate"})

    first = run(noise)
    assert first.record.gate.promoted and first.record.gate.reason == "no champion yet"
    better = run(good)
    assert better.record.gate.promoted, better.record.gate.reason
    assert better.record.gate.new_log_loss < better.record.gate.champion_log_loss
    # the gate records the gain over the champion with its paired interval over the same events
    gate = better.record.gate
    assert gate.gain_low is not None and gate.gain_high is not None
    assert gate.gain_low <= gate.champion_log_loss - gate.new_log_loss <= gate.gain_high
    assert "95% CI" in gate.reason and f"same {gate.events} events" in gate.reason
    worse = run(noise)
    assert not worse.record.gate.promoted and worse.record.gate.alias == "challenger"
    assert tracker.alias_version(name, CHAMPION) == better.record.gate.version
    assert tracker.alias_version(name, "challenger") == worse.record.gate.version
    tags = tracker.client.get_model_version(name, worse.record.gate.version).tags
    assert tags["gate"] == "refused" and float(tags["champion_oot_log_loss"]) < float(tags["oot_log_loss"])
    # the same training again is no gain beyond chance: it stays the challenger, and each page says why
    again = run(good)
    assert not again.record.gate.promoted and again.record.gate.alias == "challenger", again.record.gate.reason
    assert "kept as challenger" in again.record.gate.reason or "within noise" in again.record.gate.reason
    assert tracker.alias_version(name, CHAMPION) == better.record.gate.version
    described = {v: tracker.client.get_model_version(name, v).description
                 for v in (better.record.gate.version, again.record.gate.version)}
    assert described[better.record.gate.version].startswith("Gate: the champion.")
    assert described[again.record.gate.version].startswith("Gate: the challenger")
    assert "95% CI" in described[again.record.gate.version]
    # the run holds the study, the folds, the plots and the model
    run_info = tracker.client.get_run(better.record.run_id)
    assert {"oot_log_loss", "fold_log_loss", "calibration_oof_log_loss_uncalibrated", "split_trees",
            "total_gain"} <= set(run_info.data.metrics)
    assert run_info.data.tags["betting/prior_only"] == "false"  # no market here: the trees carry the signal
    description = run_info.data.tags["mlflow.note.content"]  # what the MLflow UI shows as the run's description
    assert "no market price on the out-of-time events" in description
    assert f"{better.model.split_trees} trees split" in description and better.model.split_trees > 0
    artifacts = {a.path for a in tracker.client.list_artifacts(better.record.run_id)}
    assert {"optuna", "calibration", "importance", "gate"} <= artifacts


def test_the_champion_loads_by_alias_in_a_fresh_process_and_predicts_the_same(
        tracker: Tracker, tmp_path: Path) -> None:
    frame = simulated_rows(400, seed=5, market_noise=0.3)
    outcome = fit_and_log(frame, three_way=True, test_from=frame["commence_time"][320], config=FAST,
                          tracker=tracker, context={})
    sample = frame.tail(20).select(outcome.model.features)
    sample.write_parquet(tmp_path / "input.parquet")
    expected = outcome.model.predict(frame.tail(20))
    script = (
        "import sys, json, mlflow, pandas as pd\n"
        "mlflow.set_tracking_uri(sys.argv[1]); mlflow.set_registry_uri(sys.argv[1])\n"
        "model = mlflow.pyfunc.load_model(f'models:/{sys.argv[2]}@champion')\n"
        "print(json.dumps(model.predict(pd.read_parquet(sys.argv[3])).to_numpy().tolist()))\n"
    )
    done = subprocess.run([sys.executable, "-c", script, tracker.tracking_uri, model_name(True),
                           str(tmp_path / "input.parquet")], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    got = np.array(json.loads(done.stdout.strip().splitlines()[-1]))
    assert np.allclose(got, expected, atol=1e-12)


def test_leaf_sizes_fit_the_training_rows() -> None:
    from betting_assets.modelling.train import leaf_bounds

    low, high = leaf_bounds(23)  # the first fold of the demo's 140 events
    assert low < high <= 23 // 3 + 1
    assert leaf_bounds(5000) == (20, 300)


def test_a_market_that_knows_everything_leaves_the_model_as_its_prior_and_the_claim_says_so() -> None:
    # the market prices the truth exactly and the only feature carries nothing else
    frame = simulated_rows(600, seed=21, signal=1.0, market_noise=0.0).with_columns(
        form_gd_home=pl.Series(np.random.default_rng(0).normal(size=600)))
    train, test = frame.head(450), frame.tail(150)
    model = train_model(train, train["label"].to_numpy(), three_way=True, config=FAST)
    assert model.prior == "sharp_mult"
    assert model.study["trees_beat_prior_in_cv"] is False and model.prior_only
    assert model.split_trees == 0 and model.total_gain == 0.0 and model.prior_alone
    # "the prior alone" is exact: the market's probabilities under the fitted temperature, nothing added
    market = test.select("sharp_mult_home", "sharp_mult_draw", "sharp_mult_away").to_numpy()
    scaled = market ** (1.0 / model.temperature)
    assert np.allclose(model.predict(test), scaled / scaled.sum(axis=1, keepdims=True), atol=1e-12)
    comparison = compare_with_market(model.predict(test), test["label"].to_numpy(), test, model.classes)
    assert comparison is not None and comparison.events == 150
    assert comparison.reference == "multiplicative" and comparison.gain is not None
    assert comparison.gain.holds_zero and comparison.text().endswith(INDISTINGUISHABLE)


def test_the_model_is_compared_with_the_best_of_the_sharp_de_vigs_on_the_same_events() -> None:
    frame = simulated_rows(300, seed=5, market_noise=0.3)
    rng = np.random.default_rng(1)
    worse = frame.select(pl.col(f"sharp_mult_{s}") for s in ("home", "draw", "away")).to_numpy() ** 1.3
    worse /= worse.sum(axis=1, keepdims=True)
    frame = frame.with_columns(**{f"sharp_power_{s}": pl.Series(worse[:, i]) for i, s in enumerate(("home", "draw", "away"))},
                               **{f"sharp_shin_{s}": pl.col(f"sharp_mult_{s}") for s in ("home", "draw", "away")})
    frame = frame.with_columns(sharp_power_home=pl.when(pl.int_range(300) == 7).then(None)
                               .otherwise(pl.col("sharp_power_home")))  # one event the power de-vig did not price
    probs = rng.dirichlet([5, 3, 4], size=300)
    comparison = compare_with_market(probs, frame["label"].to_numpy(), frame, ("home", "draw", "away"))
    assert comparison is not None and comparison.events == 299
    assert set(comparison.by_method) == {"multiplicative", "power", "shin"}
    assert comparison.market_log_loss == min(comparison.by_method.values())
    assert comparison.gain is not None and comparison.gain.high < 0  # random forecasts lose beyond chance


def test_backtest_ratios_reach_mlflow_only_with_their_interval_or_a_sample_to_stand_on() -> None:
    from betting_assets.modelling.registry import claimable

    small = {"bets": 46, "bet_days": 9, "roi": 0.31, "sharpe": 1.95, "calmar": 15.9, "profit": 120.0,
             "clv": 0.01, "clv_low": -0.01, "clv_high": 0.03, "hit_rate": 0.4}
    kept, why = claimable(small)
    assert {"sharpe", "calmar", "roi", "hit_rate"}.isdisjoint(kept)          # no interval, or too few days
    assert kept["clv"] == 0.01 and kept["clv_low"] == -0.01 and kept["profit"] == 120.0 and kept["bets"] == 46
    assert why.startswith("roi, hit_rate, sharpe, calmar not logged: 46 bets over 9 days")
    large = {**small, "bet_days": 30, "roi_low": -0.1, "roi_high": 0.7, "hit_rate_low": 0.3, "hit_rate_high": 0.5}
    kept, why = claimable(large)
    assert {"sharpe", "calmar", "roi", "roi_low", "hit_rate"} <= set(kept) and why == ""
