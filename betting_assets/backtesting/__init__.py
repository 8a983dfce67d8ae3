"""Backtests and bet slips between the warehouse, the model registry and ``domain``."""
