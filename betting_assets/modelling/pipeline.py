"""From labelled feature rows to a registered model: the out-of-time split, training, the
market comparison on the same events, and the MLflow record. Shared by the Dagster asset
(features from the warehouse) and ``betting model evaluate`` (features from files)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
import polars as pl
from sqlalchemy import Engine

from betting_assets.domain.features.build import FEATURE_COLUMNS
from betting_assets.domain.modelling.scoring import log_loss, market_probabilities, outcome_labels
from betting_assets.modelling.registry import Tracker, TrainingRecord, model_name
from betting_assets.modelling.train import MarketComparison, TrainConfig, TrainedModel, evaluate, train_model
from betting_assets.warehouse import queries
from betting_assets.domain.vocabulary import EventStatus

OOT_SHARE = 0.2


@dataclass
class TrainingResult:
    name: str
    three_way: bool
    train_events: int
    test_events: int
    test_from: datetime
    model: TrainedModel
    oot: dict[str, float]
    market: MarketComparison | None
    """the model against the best sharp de-vig on the out-of-time events"""
    record: TrainingRecord | None


def labelled(features: pl.DataFrame, results: pl.DataFrame, decision_hours: float) -> pl.DataFrame:
    """Rows at the model's decision time with a result, a label per kind, sorted by time."""
    at = features.filter(
        (pl.col("commence_time") - pl.col("decision_time")) == timedelta(hours=decision_hours))
    parts = []
    for three_way in (True, False):
        kind = at.filter(pl.col("three_way") == three_way)
        if not kind.is_empty():
            parts.append(kind.join(outcome_labels(results, three_way), on="event_id", how="inner"))
    if not parts:
        return at.with_columns(label=pl.lit(None, pl.Int32)).clear()
    return pl.concat(parts).sort("decision_time", "event_id")


def split_out_of_time(frame: pl.DataFrame, test_from: datetime | None) -> tuple[pl.DataFrame, pl.DataFrame, datetime]:
    """Everything before ``test_from`` trains, everything from it is held out; without a date,
    the last fifth of events (by kick-off) is held out."""
    if test_from is None:
        test_from = frame["commence_time"].sort()[int(frame.height * (1 - OOT_SHARE))]
    train = frame.filter(pl.col("commence_time") < test_from)
    test = frame.filter(pl.col("commence_time") >= test_from)
    return train, test, test_from


def fit_and_log(frame: pl.DataFrame, *, three_way: bool, test_from: datetime | None, config: TrainConfig,
                tracker: Tracker | None, context: dict[str, str],
                progress: Callable[[str], None] | None = None) -> TrainingResult:
    kind = frame.filter(pl.col("three_way") == three_way)
    train, test, cut = split_out_of_time(kind, test_from)
    if test.is_empty():
        raise ValueError(f"no out-of-time events from {cut:%Y-%m-%d}: the champion gate needs some")
    model = train_model(train, train["label"].to_numpy(), three_way=three_way, config=config, progress=progress)
    labels = test["label"].to_numpy()
    probs = model.predict(test)
    oot, market = evaluate(probs, labels, test, model.classes)
    name = model_name(three_way)
    record = None
    if tracker is not None:
        record = tracker.log_training(
            model, test, labels, probs, oot, market, run_name=f"{name} {cut:%Y-%m-%d}", train=train,
            context={**context, "train_events": str(train.height), "test_events": str(test.height),
                     "test_from": cut.isoformat()})
    return TrainingResult(name, three_way, train.height, test.height, cut, model, oot, market, record)


def warehouse_training_frame(engine: Engine, sports: list[str], decision_hours: float,
                             train_from: datetime | None) -> pl.DataFrame:
    with engine.connect() as conn:
        features = queries.stored_features(conn, sports, FEATURE_COLUMNS, start=train_from)
        results = queries.events_of(conn, sports, status=EventStatus.FINAL)
    return labelled(features, results, decision_hours)


def closing_log_loss(closing: pl.DataFrame, test: pl.DataFrame, classes: tuple[str, ...]) -> tuple[float, int]:
    """The sharp closing price's log loss on the test events it priced."""
    joined = test.select("event_id", "label").join(closing, on="event_id")
    probs = market_probabilities(joined, "sharp_mult", classes)
    priced = np.all(np.isfinite(probs), axis=1)
    return log_loss(probs[priced], joined["label"].to_numpy()[priced]), int(priced.sum())
