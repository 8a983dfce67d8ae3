"""The Betfair Exchange through betfairlightweight: session, catalogue and books, orders and
their settlement, the price ladder."""
