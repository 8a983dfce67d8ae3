"""``betting exchange check``: what the exchange path would do now, placing nothing. It logs in,
reads the funds, maps the upcoming events, reads their books, and says for each proposed slip
whether it would be placed and at what price, or why not: the first command to run with a real
account."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Engine

from betting_assets.domain.orders.risk import BookQuote, recheck_on_book
from betting_assets.venues.betfair.client import PointedClient
from betting_assets.venues.betfair.runners import index_runners, runner_key
from betting_assets.venues.betfair.venue import charged_rate
from betting_assets.venues.betfair.markets import MappingOutcome, plan, runner_quotes
from betting_assets.settings import Settings
from betting_assets.warehouse import queries


@dataclass
class ExchangeCheck:
    available: float
    exposure: float
    mapping: MappingOutcome
    books: list[dict[str, Any]] = field(default_factory=list)
    """per mapped event and side: the market's status and the best back and lay"""
    slips: list[dict[str, Any]] = field(default_factory=list)
    """per proposed slip: what would happen to it"""


def check(engine: Engine, client: PointedClient, settings: Settings, now: datetime) -> ExchangeCheck:
    funds = client.account.get_account_funds()
    mapping = plan(engine, client, now, settings.collection.sports)
    book = runner_quotes(mapping.books)
    quotes = []
    for row in mapping.runners.iter_rows(named=True):
        quote = book.get((row["market_id"], row["selection_id"], row["handicap"]))
        quotes.append({**row, "status": quote.status if quote else "UNKNOWN",
                       "back": quote.back_price if quote else None, "back_size": quote.back_size if quote else None,
                       "lay": quote.lay_price if quote else None})
    index = index_runners(mapping.runners)
    with engine.connect() as conn:
        slips = queries.proposed_slips(conn)
    discount = float(funds.discount_rate or 0.0)
    verdicts = [_verdict(s, index.get(runner_key(s)), book, settings, now, discount)
                for s in slips.iter_rows(named=True)]
    return ExchangeCheck(float(funds.available_to_bet_balance or 0.0), float(funds.exposure or 0.0), mapping,
                         quotes, verdicts)


def _verdict(slip: dict[str, Any], runner: dict[str, Any] | None, book: dict[tuple[str, int, float], BookQuote],
             settings: Settings, now: datetime, discount: float) -> dict[str, Any]:
    """The placement job's own re-check (``recheck_on_book``) of the slip against the live book."""
    match = f"{slip['home_team']} v {slip['away_team']}"
    said = {"slip": slip["slip_id"], "match": match, "side": slip["side"], "price": slip["price"],
            "stake": slip["stake"]}
    if runner is None:
        return {**said, "would": "refuse", "why": "not mapped to an exchange market"}
    verdict = recheck_on_book(slip["price"], book.get((runner["market_id"], runner["selection_id"], runner["handicap"])),
                              slip.get("market_version"), float(slip["stake"]), slip["commence_time"], now,
                              settings.risk.price_tolerance,
                              charged_rate(runner["market_base_rate"], discount, settings.exchange.commission),
                              settings.risk.min_stake)
    if verdict.reason:
        return {**said, "would": "refuse", "why": verdict.reason}
    why = (f"{verdict.stake:.2f} at {verdict.quoted_price:g} ({verdict.price:.3f} net of commission) on "
           f"{runner['market_id']} / {runner['selection_id']}")
    return {**said, "would": "place", "why": why + (f"; {verdict.note}" if verdict.note else "")}
