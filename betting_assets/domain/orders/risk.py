"""The risk limits the gate holds every order to (``account``, ``controls``), and the re-check
that keeps a slip whose price or market moved from ever reaching the gate."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, model_validator

from betting_assets.domain.bounds import ordered
from betting_assets.domain.pricing.commission import net_price

MARKET_CLOSED = "market closed"
EXCHANGE_CODE_PREFIX = "exchange:"
"""refusal codes of the exchange's own answers (``exchange:INVALID_ODDS``)"""


class RiskLimits(BaseModel):
    """The gate's limits; also the settings' ``risk`` group. Risk owns every stake limit (the
    minimum, the cap, the share of the bankroll, the day's exposure) and sizing reads them, so a
    stake is sized within what the gate accepts. The minimum edge is the gate's floor under the
    strategies' own (``BETTING_MIN_EDGE`` sets both; the nested names set them apart)."""

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    min_odds: float = Field(default=1.2, gt=1, description="Refuse prices below this.")
    max_odds: float = Field(default=15.0, gt=1, le=1000, description="Refuse prices above this (an exchange's "
                            "ladder ends at 1000).")
    min_edge: float = Field(default=0.02, ge=-1, le=1, description="Refuse an expected value per unit below this "
                            "(the settings hold it at 0 or more: a negative floor lets through bets expected to lose; "
                            "only a research backtest lowers it, by its run config).")
    min_stake: float = Field(default=1.0, ge=0, description="Refuse stakes below this.")
    max_stake: float | None = Field(default=50.0, gt=0, le=1e9, description="Refuse stakes above this; none when "
                                    "unset.")
    max_stake_fraction: float = Field(default=0.05, gt=0, le=1, description="Largest stake as a share of the bankroll.")
    max_event_exposure: float = Field(default=0.10, gt=0, le=1,
                                      description="Open stakes on one event, as a share of the bankroll.")
    max_day_exposure: float = Field(default=0.25, gt=0, le=1,
                                    description="Stakes placed in one UTC day, as a share of the day's cash (the "
                                    "bankroll less open stakes at the day's first decision): the day's stakes are "
                                    "sized to share it.")
    daily_loss_limit: float = Field(default=0.10, gt=0, le=1, description="Stop for the day once settled losses "
                                    "reach this share of the day's starting bankroll.")
    max_drawdown: float = Field(default=0.25, gt=0, le=1, description="Stop once the bankroll is this far below "
                                "its peak.")
    max_consecutive_losses: int = Field(default=8, gt=0, description="Stop for the rest of the UTC day after this "
                                        "many losses in a row settled that day.")
    max_bets_per_minute: int = Field(default=30, gt=0, description="Rate limit on placements.")
    price_tolerance: float = Field(default=0.02, ge=0, le=0.5, description="Refuse a slip whose price fell by more "
                                   "than this share since it was proposed (at most half: a price cannot fall by all "
                                   "of itself, so a larger tolerance would switch the re-check off).")
    max_transactions_per_hour: int = Field(default=5000, gt=0, description="Orders sent (failed ones too) per "
                                           "clock hour at a venue that counts them; its own budget holds as well.")

    @model_validator(mode="after")
    def _bounds_ordered(self) -> "RiskLimits":
        ordered(self, "min_odds", "max_odds", strict=True)
        ordered(self, "min_stake", "max_stake", strict=False)
        return self


def recheck_code(reason: str) -> str:
    """The code of a bookmaker re-check's refusal (``recheck``)."""
    return "market_closed" if reason.startswith(MARKET_CLOSED) else "price_moved"


def recheck(proposed_price: float, offered_price: float | None, commence_time: datetime, now: datetime,
            tolerance: float) -> str | None:
    """Why a slip can no longer be placed as proposed, or None. A better price is no reason
    to refuse; a worse one beyond the tolerance is."""
    if commence_time <= now:
        return f"{MARKET_CLOSED}: the event started at {commence_time:%Y-%m-%d %H:%M}"
    if offered_price is None:
        return f"{MARKET_CLOSED}: the bookmaker no longer offers this line"
    fall = (proposed_price - offered_price) / proposed_price
    if fall > tolerance:
        return f"price moved from {proposed_price} to {offered_price} ({-fall:+.1%}, tolerance {tolerance:.0%})"
    return None


@dataclass(frozen=True)
class BookQuote:
    """One runner of an exchange's live book."""

    status: str
    version: int | None
    back_price: float | None
    back_size: float | None
    lay_price: float | None = None


@dataclass(frozen=True)
class BookRecheck:
    """What the live book says of a slip: a refusal (``final`` when the market is gone), or the
    price, size and version to place at, with a note of what changed."""

    reason: str | None = None
    code: str | None = None
    final: bool = False
    price: float | None = None
    quoted_price: float | None = None
    stake: float = 0.0
    version: int | None = None
    note: str | None = None


def recheck_on_book(proposed_price: float, quote: BookQuote | None, proposed_version: int | None, stake: float,
                    commence_time: datetime, now: datetime, tolerance: float, commission: float,
                    min_stake: float) -> BookRecheck:
    """The re-check of a slip bound for an exchange against its live book. Its price is the
    best back net of commission; a fall beyond the tolerance refuses the slip. A moved version
    is no refusal of its own: the price is re-checked, and the order carries the new version so
    the exchange lapses it if the market moves again before it arrives. Less size than the
    stake places what is there when that reaches the minimum stake."""
    if commence_time <= now:
        return BookRecheck(f"{MARKET_CLOSED}: the event started at {commence_time:%Y-%m-%d %H:%M}", "market_closed",
                           final=True)
    if quote is None:
        return BookRecheck("the exchange returned no book for this market", "no_book")
    if quote.status == "CLOSED":
        return BookRecheck(f"{MARKET_CLOSED}: the exchange market is closed", "market_closed", final=True)
    if quote.status != "OPEN":
        return BookRecheck(f"the exchange market is {quote.status.lower()}", "market_status")
    if quote.back_price is None:
        return BookRecheck("no back price on the exchange", "no_back_price")
    price = net_price(quote.back_price, commission)
    fall = (proposed_price - price) / proposed_price
    if fall > tolerance:
        return BookRecheck(f"price moved from {proposed_price:.3f} to {price:.3f} (best back {quote.back_price:g} "
                           f"net of {commission:.0%} commission, {-fall:+.1%}, tolerance {tolerance:.0%})", "price_moved")
    notes = []
    if proposed_version is not None and quote.version != proposed_version:
        notes.append(f"market version moved from {proposed_version} to {quote.version}, price within tolerance")
    size = float(quote.back_size or 0.0)
    if size < stake:
        if size < min_stake:
            return BookRecheck(f"only {size:.2f} available at {quote.back_price:g}, below the minimum stake "
                               f"{min_stake:.2f}", "thin_book")
        notes.append(f"only {size:.2f} available at {quote.back_price:g}: placing {size:.2f} of {stake:.2f}")
        stake = size
    return BookRecheck(price=price, quoted_price=quote.back_price, stake=round(stake, 2), version=quote.version,
                       note="; ".join(notes) or None)
