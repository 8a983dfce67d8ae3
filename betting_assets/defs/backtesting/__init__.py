"""Backtests and bet slips."""
