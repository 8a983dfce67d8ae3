"""Where bets go: each venue (paper, Betfair) is one implementation of one protocol (``base.Venue``),
so no layer asks "is this the exchange?". Which one a deployment uses is a setting
(``BETTING_BROKER``), typed as ``VenueName``; ``rules_of`` gives the limits a venue holds every
order to, which sizing, the gate and the backtest read."""

from __future__ import annotations

from enum import StrEnum

from betting_assets.domain.orders.book import VenueRules


class VenueName(StrEnum):
    PAPER = "paper"
    BETFAIR = "betfair"

    @classmethod
    def _missing_(cls, value: object) -> VenueName | None:
        """``exchange``, the name the setting had before Betfair was named, still means Betfair."""
        return cls.BETFAIR if value == "exchange" else None


def kind_of(name: str) -> type:
    """The venue class of a name the ledger holds (its ``broker`` column)."""
    if VenueName(name) is VenueName.BETFAIR:
        from betting_assets.venues.betfair.venue import BetfairVenue

        return BetfairVenue
    from betting_assets.venues.paper import PaperVenue

    return PaperVenue


def rules_of(name: VenueName) -> VenueRules:
    """The venue's own rules, without a session: what a backtest of bets at it is held to."""
    if name is VenueName.BETFAIR:
        from betting_assets.venues.betfair.venue import RULES

        return RULES
    from betting_assets.venues.paper import RULES as PAPER_RULES

    return PAPER_RULES


def venue_for(settings, connect=None):  # type: ignore[no-untyped-def]
    """The settings' venue (``BETTING_BROKER``) once live placement is asked for in full: paper
    needs nothing; the exchange needs the live mode, and ``connect`` makes its session (the
    settings' credentials when not given). Anything in between is refused with what is missing
    (``VenueRefused``)."""
    from betting_assets.settings import BettingMode

    exchange = settings.exchange
    live = exchange.mode == BettingMode.LIVE
    if exchange.broker is VenueName.PAPER:
        if live:
            raise VenueRefused("BETTING_MODE=live places real money and needs a real venue: set "
                               "BETTING_BROKER=betfair with its credentials, or BETTING_MODE=paper")
        from betting_assets.venues.paper import PaperVenue

        return PaperVenue()
    if not live:
        raise VenueRefused(f"the {exchange.broker} venue places real money: it runs only with BETTING_MODE=live "
                           f"(now {exchange.mode.value})")
    from betting_assets.venues.betfair import client as betfair_client
    from betting_assets.venues.betfair.venue import BetfairVenue

    missing = None if connect is not None else betfair_client.missing(exchange)
    if missing:
        raise VenueRefused(missing)
    return BetfairVenue(connect or (lambda: betfair_client.from_settings(exchange)), exchange.commission,
                        settings.collection.sports)


class VenueRefused(RuntimeError):
    """The settings do not allow placement as asked (live mode, credentials)."""
