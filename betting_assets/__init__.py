"""Dagster asset graph for sports betting: odds, features, models, backtests and placement."""

__version__ = "0.1.0"
