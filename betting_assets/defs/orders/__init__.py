"""The bets ledger, placement, settlement and the exchange's markets."""
