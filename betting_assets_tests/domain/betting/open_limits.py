"""Limits no control reaches, for the tests of the engine's arithmetic alone."""

from __future__ import annotations

from typing import Any

from betting_assets.domain.betting.backtest import Account
from betting_assets.domain.orders.book import VenueRules
from betting_assets.domain.orders.risk import RiskLimits

OPEN = RiskLimits(min_odds=1.001, max_odds=1000.0, min_edge=-1.0, min_stake=1.0, max_stake=None, max_stake_fraction=1.0,
                  max_event_exposure=1.0, max_day_exposure=1.0, daily_loss_limit=1.0, max_drawdown=1.0,
                  max_consecutive_losses=1_000_000, max_bets_per_minute=1_000_000)
UNROUNDED = VenueRules(stake_step=0.0)


def account(**limits: Any) -> Account:
    """An account with ``OPEN`` limits but those given, and stakes left unrounded."""
    return Account(OPEN.model_copy(update=limits), UNROUNDED)
