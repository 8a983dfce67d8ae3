"""Orders outside Dagster: the gate in front of a venue, the two-phase ledger and the settlement
of placed bets. The Dagster job and assets in ``defs/orders`` call into this package."""
