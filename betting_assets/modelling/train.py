"""LightGBM on point-in-time features, tuned by Optuna on time-ordered folds.

The booster starts from the market: its initial score is the log of a de-vigged price (the
sharp book's where quoted, the consensus otherwise), so the trees learn corrections to what the
market already knew rather than relearning the market from a few thousand matches. Early
stopping on a chronologically later slice of each training block stops it from inventing
corrections that do not hold up. A single temperature, fitted on out-of-fold predictions, is
kept only when it improves them.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import lightgbm as lgb
import numpy as np
import optuna
import polars as pl
from scipy.optimize import minimize_scalar

from betting_assets.domain.betting.claims import PRIOR_ALONE, model_gain
from betting_assets.domain.features.build import FEATURE_COLUMNS
from betting_assets.domain.betting.intervals import Interval, paired_difference
from betting_assets.domain.modelling.scoring import brier, classes_for, event_log_losses, log_loss, market_probabilities

PRIORS = ("sharp_mult", "sharp_power", "sharp_shin", "cons")
MARKET_REFERENCES = {"sharp_mult": "multiplicative", "sharp_power": "power", "sharp_shin": "shin"}
"""the sharp book's de-vigged prices the model is compared with: the best of them on the same events"""
_FLOOR = 1e-6


@dataclass(frozen=True)
class TrainConfig:
    n_trials: int = 30
    n_folds: int = 4
    seed: int = 7
    max_rounds: int = 1000
    early_stopping: int = 50
    prior: str = "auto"
    min_calibration_gain: float = 1e-4


@dataclass
class FoldScore:
    fold: int
    train_events: int
    valid_events: int
    best_iteration: int
    metrics: dict[str, float]


@dataclass
class TrainedModel:
    """Everything needed to predict, and the record of how it was chosen."""

    booster_text: str
    features: list[str]
    classes: tuple[str, ...]
    prior: str | None
    base_rate: list[float]
    temperature: float
    params: dict[str, Any]
    num_rounds: int
    folds: list[FoldScore] = field(default_factory=list)
    study: dict[str, Any] = field(default_factory=dict)
    trials: pl.DataFrame | None = None
    calibration: dict[str, float] = field(default_factory=dict)
    split_trees: int = 0
    total_gain: float = 0.0
    prior_alone: bool = False
    """the trees did not beat the prior in cross-validation: predictions ignore the booster"""
    _booster: lgb.Booster | None = field(default=None, repr=False)

    @property
    def prior_only(self) -> bool:
        """No tree split: the model is its market prior (and temperature) alone."""
        return self.prior_alone or self.split_trees == 0 or self.total_gain <= 0.0

    @property
    def booster(self) -> lgb.Booster:
        if self._booster is None:
            self._booster = lgb.Booster(model_str=self.booster_text)
        return self._booster

    def predict(self, frame: pl.DataFrame) -> np.ndarray:
        """Probabilities per class, rows in the order of ``frame``."""
        margin = _prior_margin(frame, self.prior, self.classes, np.asarray(self.base_rate))
        if self.prior_alone:
            return _to_probs(margin, self.temperature)
        raw = self.booster.predict(_matrix(frame, self.features), raw_score=True)
        return _to_probs(np.asarray(raw).reshape(margin.shape) + margin, self.temperature)

    def importance(self) -> pl.DataFrame:
        booster = self.booster
        return pl.DataFrame({
            "feature": booster.feature_name(),
            "gain": booster.feature_importance("gain").astype(float),
            "splits": booster.feature_importance("split").astype(float),
        }).sort("gain", descending=True)

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_booster"] = None
        return state


def _matrix(frame: pl.DataFrame, features: list[str]) -> np.ndarray:
    return frame.select([pl.col(c).cast(pl.Float64) for c in features]).to_numpy()


def _prior_probs(frame: pl.DataFrame, prior: str | None, classes: tuple[str, ...],
                 base_rate: np.ndarray) -> np.ndarray:
    """The prior's probabilities, falling back to the consensus, then to the base rate."""
    probs = np.tile(base_rate, (frame.height, 1))
    if prior is None:
        return probs
    filled = np.zeros(frame.height, dtype=bool)
    for prefix in dict.fromkeys([prior, "cons"]):
        if all(f"{prefix}_{c}" in frame.columns for c in classes):
            candidate = market_probabilities(frame, prefix, classes)
            usable = np.all(np.isfinite(candidate), axis=1) & np.all(candidate > 0, axis=1)
            fill = usable & ~filled
            probs[fill] = candidate[fill] / candidate[fill].sum(axis=1, keepdims=True)
            filled |= usable
    return probs


def _prior_margin(frame: pl.DataFrame, prior: str | None, classes: tuple[str, ...],
                  base_rate: np.ndarray) -> np.ndarray:
    probs = np.clip(_prior_probs(frame, prior, classes, base_rate), _FLOOR, 1.0)
    if len(classes) == 2:
        return np.log(probs[:, 1] / probs[:, 0])
    return np.log(probs)


def _to_probs(margin: np.ndarray, temperature: float) -> np.ndarray:
    scaled = margin / temperature
    if scaled.ndim == 1:
        p = 1.0 / (1.0 + np.exp(-scaled))
        return np.column_stack([1.0 - p, p])
    scaled = scaled - scaled.max(axis=1, keepdims=True)
    exp = np.exp(scaled)
    return exp / exp.sum(axis=1, keepdims=True)


def min_events(n_folds: int) -> int:
    """The fewest training events ``n_folds`` time-ordered folds can be cut from."""
    return (n_folds + 1) * 10


def time_folds(n: int, n_folds: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Expanding-window folds over rows already sorted by time: train on every block before
    the validation block, never after it."""
    if n < min_events(n_folds):
        raise ValueError(f"{n} events are too few for {n_folds} time-ordered folds")
    edges = np.linspace(0, n, n_folds + 2).astype(int)
    return [(np.arange(0, edges[i]), np.arange(edges[i], edges[i + 1])) for i in range(1, n_folds + 1)]


def _lgb_params(trial_params: dict[str, Any], n_classes: int, seed: int) -> dict[str, Any]:
    objective = {"objective": "binary"} if n_classes == 2 else {"objective": "multiclass", "num_class": n_classes}
    return {**objective, "verbosity": -1, "seed": seed, "deterministic": True, "num_threads": 2,
            "bagging_freq": 1, **trial_params}


def leaf_bounds(fit_rows: int) -> tuple[int, int]:
    """The range of ``min_data_in_leaf`` searched, bounded by the rows the smallest fold fits
    on: a leaf of 300 rows cannot split 140 events, and a search there only finds the prior."""
    low = max(2, min(20, fit_rows // 10))
    return low, max(low + 1, min(300, fit_rows // 3))


def _suggest(trial: optuna.Trial, leaves: tuple[int, int]) -> dict[str, Any]:
    return {
        "learning_rate": trial.suggest_float("learning_rate", 0.005, 0.1, log=True),
        "num_leaves": trial.suggest_int("num_leaves", 3, 31),
        "min_data_in_leaf": trial.suggest_int("min_data_in_leaf", *leaves),
        "feature_fraction": trial.suggest_float("feature_fraction", 0.3, 1.0),
        "bagging_fraction": trial.suggest_float("bagging_fraction", 0.5, 1.0),
        "lambda_l2": trial.suggest_float("lambda_l2", 1e-3, 30.0, log=True),
    }


@dataclass
class _Data:
    x: np.ndarray
    y: np.ndarray
    margin: np.ndarray
    names: list[str]


def _fit(params: dict[str, Any], data: _Data, train: np.ndarray, stop: np.ndarray | None,
         rounds: int, early_stopping: int) -> lgb.Booster:
    train_set = lgb.Dataset(data.x[train], data.y[train], init_score=data.margin[train], free_raw_data=False,
                            feature_name=data.names)
    if stop is None:
        return lgb.train(params, train_set, num_boost_round=rounds)
    stop_set = lgb.Dataset(data.x[stop], data.y[stop], init_score=data.margin[stop], reference=train_set)
    return lgb.train(params, train_set, num_boost_round=rounds, valid_sets=[stop_set],
                     callbacks=[lgb.early_stopping(early_stopping, verbose=False)])


def _split_for_stopping(train: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    cut = int(len(train) * 0.85)
    return train[:cut], train[cut:]


def _cross_validate(params: dict[str, Any], data: _Data, folds: list[tuple[np.ndarray, np.ndarray]],
                    config: TrainConfig) -> tuple[list[float], list[int], np.ndarray]:
    """Per-fold log loss, best iterations and out-of-fold raw margins (NaN outside folds)."""
    losses, iterations = [], []
    oof = np.full(data.margin.shape, np.nan)
    for train, valid in folds:
        fit_rows, stop_rows = _split_for_stopping(train)
        booster = _fit(params, data, fit_rows, stop_rows, config.max_rounds, config.early_stopping)
        raw = np.asarray(booster.predict(data.x[valid], raw_score=True, num_iteration=booster.best_iteration))
        oof[valid] = raw.reshape(data.margin[valid].shape) + data.margin[valid]
        losses.append(log_loss(_to_probs(oof[valid], 1.0), data.y[valid]))
        iterations.append(max(1, booster.best_iteration))
    return losses, iterations, oof


def choose_prior(frame: pl.DataFrame, labels: np.ndarray, classes: tuple[str, ...],
                 base_rate: np.ndarray) -> tuple[str | None, dict[str, float]]:
    """The sharp book's de-vig that scored best on the training events; the consensus only
    when the sharp book priced none of them. (Choosing the consensus whenever it scored better
    in training lost out of time on real data: the sharp reference is the steadier prior.)"""
    scores = {"none": log_loss(np.tile(base_rate, (len(labels), 1)), labels)}
    for prefix in PRIORS:
        columns = [f"{prefix}_{c}" for c in classes]
        if all(c in frame.columns for c in columns) and frame.select(columns).drop_nulls().height:
            scores[prefix] = log_loss(_prior_probs(frame, prefix, classes, base_rate), labels)
    sharp = [p for p in scores if p.startswith("sharp_")]
    best = min(sharp or list(scores), key=scores.__getitem__)
    return (None if best == "none" else best), scores


def train_model(frame: pl.DataFrame, labels: np.ndarray, *, three_way: bool, config: TrainConfig | None = None,
                progress: Callable[[str], None] | None = None) -> TrainedModel:
    """``frame``: feature rows sorted by decision time; ``labels``: class index per row."""
    config = config or TrainConfig()
    note = progress or (lambda _m: None)
    classes = classes_for(three_way)
    labels = np.asarray(labels, dtype=int)
    features = [c for c in FEATURE_COLUMNS if c in frame.columns and frame[c].null_count() < frame.height]
    base_rate = np.bincount(labels, minlength=len(classes)) / len(labels)
    base_rate = np.clip(base_rate, _FLOOR, 1.0)
    if config.prior == "auto":
        prior, prior_scores = choose_prior(frame, labels, classes, base_rate)
    else:
        prior = None if config.prior == "none" else config.prior
        prior_scores = {}
    data = _Data(_matrix(frame, features), labels, _prior_margin(frame, prior, classes, base_rate), features)
    folds = time_folds(frame.height, config.n_folds)
    leaves = leaf_bounds(len(_split_for_stopping(folds[0][0])[0]))

    out_of_fold: dict[int, np.ndarray] = {}

    def objective(trial: optuna.Trial) -> float:
        params = _lgb_params(_suggest(trial, leaves), len(classes), config.seed)
        losses, iterations, out_of_fold[trial.number] = _cross_validate(params, data, folds, config)
        trial.set_user_attr("best_iterations", iterations)
        trial.set_user_attr("fold_log_loss", losses)
        note(f"trial {trial.number + 1}/{config.n_trials}: mean fold log loss {np.mean(losses):.5f}")
        return float(np.mean(losses))

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(direction="minimize", sampler=optuna.samplers.TPESampler(seed=config.seed),
                                study_name="lightgbm_time_folds")
    study.optimize(objective, n_trials=config.n_trials)
    best = _lgb_params(study.best_params, len(classes), config.seed)
    iterations = study.best_trial.user_attrs["best_iterations"]
    oof = out_of_fold[study.best_trial.number]
    prior_cv = float(np.mean([log_loss(_to_probs(data.margin[valid], 1.0), labels[valid]) for _, valid in folds]))
    rows = np.concatenate([valid for _, valid in folds])
    cv_gain = paired_difference(event_log_losses(_to_probs(data.margin[rows], 1.0), labels[rows]),
                                event_log_losses(_to_probs(oof[rows], 1.0), labels[rows]))
    trees_help = cv_gain is not None and cv_gain.low > 0
    if not trees_help:
        # the best of the trials may beat the prior on the folds by luck alone: keep the prior unless
        # the trees beat it beyond chance on the folds' events, and say so
        note(f"the best trial's fold log loss {study.best_value:.5f} against the prior's {prior_cv:.5f} is within "
             f"noise: {PRIOR_ALONE}")
        best = {**best, "min_data_in_leaf": len(labels) + 1}
        iterations = [1] * len(folds)
        oof = np.full(data.margin.shape, np.nan)
        for _, valid in folds:
            oof[valid] = data.margin[valid]

    covered = ~np.isnan(oof.reshape(len(labels), -1)).any(axis=1)
    temperature, calibration = _calibrate(oof[covered], labels[covered], config.min_calibration_gain)
    fold_scores = []
    for index, ((train, valid), iteration) in enumerate(zip(folds, iterations, strict=True)):
        probs = _to_probs(oof[valid], temperature)
        fold_scores.append(FoldScore(index, len(train), len(valid), iteration,
                                     evaluate(probs, labels[valid], frame[valid], classes)[0]))
    rounds = max(1, int(math.ceil(np.median(iterations) * 1.1))) if trees_help else 1
    note(f"final fit: {rounds} rounds on {len(labels)} events")
    booster = _fit(best, data, np.arange(len(labels)), None, rounds, config.early_stopping)
    split_trees = sum(1 for tree in booster.dump_model()["tree_info"] if tree.get("num_leaves", 1) > 1)
    total_gain = float(booster.feature_importance("gain").sum())
    note(f"final fit: {split_trees} of {booster.num_trees()} trees split, total gain {total_gain:.3f}")
    return TrainedModel(
        booster_text=booster.model_to_string(), features=features, classes=classes, prior=prior,
        base_rate=base_rate.tolist(), temperature=temperature, params=best, num_rounds=rounds,
        folds=fold_scores, study={**_study_summary(study, prior_scores, leaves), "prior_cv_log_loss": prior_cv,
                                  "trees_beat_prior_in_cv": trees_help,
                                  "cv_gain_over_prior": [cv_gain.low, cv_gain.high] if cv_gain else None},
        trials=_trials(study),
        calibration=calibration, split_trees=split_trees, total_gain=total_gain, prior_alone=not trees_help,
    )


def _calibrate(margin: np.ndarray, labels: np.ndarray, min_gain: float) -> tuple[float, dict[str, float]]:
    before = log_loss(_to_probs(margin, 1.0), labels)
    result = minimize_scalar(lambda t: log_loss(_to_probs(margin, t), labels), bounds=(0.25, 4.0),
                             method="bounded")
    after = float(result.fun)
    used = before - after > min_gain
    return (float(result.x) if used else 1.0), {
        "oof_log_loss_uncalibrated": before, "oof_log_loss_calibrated": after,
        "fitted_temperature": float(result.x), "temperature_used": float(used)}


@dataclass(frozen=True)
class MarketComparison:
    """The model against each of the sharp book's de-vigged prices (those it has) on the events
    all of them priced; the reference is the best of them there, and the gain (market − model
    log loss, positive when the model is better) comes with a paired bootstrap interval over
    events."""

    events: int
    model_log_loss: float
    by_method: dict[str, float]
    reference: str
    gain: Interval | None
    priced: np.ndarray
    """the rows of the compared frame that every reference priced"""
    reference_probs: np.ndarray
    """the reference's probabilities on those rows"""

    @property
    def market_log_loss(self) -> float:
        return self.by_method[self.reference]

    def text(self) -> str:
        return model_gain(self.model_log_loss, self.market_log_loss, self.reference, self.events, self.gain)

    def metrics(self, probs: np.ndarray, labels: np.ndarray) -> dict[str, float]:
        out = {"market_events": float(self.events), "model_log_loss_priced": self.model_log_loss,
               "market_log_loss": self.market_log_loss, "gain_vs_market": self.market_log_loss - self.model_log_loss,
               **{f"market_log_loss_{m}": v for m, v in self.by_method.items()},
               "model_brier_priced": brier(probs[self.priced], labels[self.priced]),
               "market_brier": brier(self.reference_probs / self.reference_probs.sum(axis=1, keepdims=True),
                                     labels[self.priced])}
        if self.gain is not None:
            out |= {"gain_vs_market_low": self.gain.low, "gain_vs_market_high": self.gain.high}
        return out


def compare_with_market(probs: np.ndarray, labels: np.ndarray, frame: pl.DataFrame,
                        classes: tuple[str, ...]) -> MarketComparison | None:
    references = {method: market_probabilities(frame, prefix, classes) for prefix, method in MARKET_REFERENCES.items()
                  if all(f"{prefix}_{c}" in frame.columns for c in classes)}
    references = {m: r for m, r in references.items() if np.all(np.isfinite(r), axis=1).any()}
    if not references:
        return None
    priced = np.logical_and.reduce([np.all(np.isfinite(r), axis=1) for r in references.values()])
    if not priced.any():
        return None
    model_losses = event_log_losses(probs[priced], labels[priced])
    market_losses = {m: event_log_losses(r[priced], labels[priced]) for m, r in references.items()}
    by_method = {m: float(v.mean()) for m, v in market_losses.items()}
    best = min(by_method, key=by_method.__getitem__)
    return MarketComparison(int(priced.sum()), float(model_losses.mean()), by_method, best,
                            paired_difference(market_losses[best], model_losses), priced, references[best][priced])


def evaluate(probs: np.ndarray, labels: np.ndarray, frame: pl.DataFrame,
             classes: tuple[str, ...]) -> tuple[dict[str, float], MarketComparison | None]:
    """The model on every event, and model and market side by side on the events the market
    priced (the fair comparison, ``compare_with_market``)."""
    out = {"events": float(len(labels)), "log_loss": log_loss(probs, labels), "brier": brier(probs, labels)}
    comparison = compare_with_market(probs, labels, frame, classes)
    if comparison is not None:
        out |= comparison.metrics(probs, labels)
    return out, comparison


def _study_summary(study: optuna.Study, prior_scores: dict[str, float], leaves: tuple[int, int]) -> dict[str, Any]:
    return {
        "trials": len(study.trials),
        "best_trial": study.best_trial.number,
        "best_value": study.best_value,
        "best_params": study.best_params,
        "best_iterations": study.best_trial.user_attrs.get("best_iterations"),
        "min_data_in_leaf_range": list(leaves),
        "prior_log_loss": prior_scores,
    }


def _trials(study: optuna.Study) -> pl.DataFrame:
    return pl.DataFrame([
        {"number": t.number, "value": t.value, "state": t.state.name, **{f"param_{k}": v for k, v in t.params.items()}}
        for t in study.trials
    ])
