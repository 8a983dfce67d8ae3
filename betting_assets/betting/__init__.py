"""Betting between the warehouse, the model registry and ``domain.betting``: backtests, the
strategies' live decisions (bet slips) and their reports."""
