"""The trained model as an MLflow pyfunc: a pandas frame of features in, one probability
column per outcome out. Loading it needs this package installed (it unpickles
``TrainedModel``)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import mlflow.pyfunc
import pandas as pd
import polars as pl

from betting_assets.modelling.train import TrainedModel


def probability_columns(classes: tuple[str, ...]) -> list[str]:
    return [f"p_{c}" for c in classes]


class OutcomeModel(mlflow.pyfunc.PythonModel):
    def __init__(self, model: TrainedModel) -> None:
        self.model = replace(model, folds=[], trials=None, study={})

    def predict(self, context: Any, model_input: pd.DataFrame, params: dict[str, Any] | None = None) -> pd.DataFrame:
        frame = pl.from_pandas(model_input)
        missing = [c for c in self.model.features if c not in frame.columns]
        if missing:
            frame = frame.with_columns([pl.lit(None, pl.Float64).alias(c) for c in missing])
        probs = self.model.predict(frame)
        return pd.DataFrame(probs, columns=probability_columns(self.model.classes))
