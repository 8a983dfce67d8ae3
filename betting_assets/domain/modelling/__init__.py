"""Scoring probabilistic forecasts."""
