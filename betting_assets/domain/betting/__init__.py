"""Strategies, staking, the backtest engine, settlement and the figures a bettor reads."""
