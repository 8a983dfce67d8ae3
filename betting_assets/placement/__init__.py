"""Bet placement outside Dagster: brokers, the two-phase ledger and the settlement of placed
bets. The Dagster job and asset in ``defs/placement`` call into this package."""
