"""Where bets go: each venue (paper, Betfair) is one implementation of one protocol."""
