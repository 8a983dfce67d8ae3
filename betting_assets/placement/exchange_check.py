"""``betting exchange check``: what the exchange path would do now, placing nothing. It logs in,
reads the funds, maps the upcoming events, reads their books, and says for each proposed slip
whether it would be placed and at what price, or why not: the first command to run with a real
account."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Engine

from betting_assets.domain.risk import BookQuote, recheck_on_book
from betting_assets.placement.exchange_client import PointedClient
from betting_assets.domain.exchange_mapping import exchange_runner
from betting_assets.placement.exchange_markets import MappingOutcome, plan, runner_quotes
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
    quotes = []
    for row in mapping.runners.iter_rows(named=True):
        book = mapping.books.get(row["market_id"])
        runner = next((r for r in book.runners if r.selection_id == row["selection_id"]
                       and float(r.handicap or 0.0) == row["handicap"]), None) if book else None
        back = runner.ex.available_to_back[0] if runner and runner.ex.available_to_back else None
        lay = runner.ex.available_to_lay[0] if runner and runner.ex.available_to_lay else None
        quotes.append({**row, "status": book.status if book else "UNKNOWN",
                       "back": back.price if back else None, "back_size": back.size if back else None,
                       "lay": lay.price if lay else None})
    by_line = {(q["event_id"], q["market_type"], q["line"], q["side"]): q for q in quotes}
    book = runner_quotes(mapping.books)
    with engine.connect() as conn:
        slips = queries.proposed_slips(conn)
    verdicts = [_verdict(s, _runner(by_line, s), book, settings, now) for s in slips.iter_rows(named=True)]
    return ExchangeCheck(float(funds.available_to_bet_balance or 0.0), float(funds.exposure or 0.0), mapping,
                         quotes, verdicts)


def _runner(by_line: dict[tuple[Any, ...], dict[str, Any]], slip: dict[str, Any]) -> dict[str, Any] | None:
    found = exchange_runner(slip["market"], slip["side"], slip["point"])
    return by_line.get((slip["event_id"], found[0], found[1], slip["side"])) if found else None


def _verdict(slip: dict[str, Any], runner: dict[str, Any] | None, book: dict[tuple[str, int, float], BookQuote],
             settings: Settings, now: datetime) -> dict[str, Any]:
    """The placement job's own re-check (``recheck_on_book``) of the slip against the live book."""
    match = f"{slip['home_team']} v {slip['away_team']}"
    said = {"slip": slip["slip_id"], "match": match, "side": slip["side"], "price": slip["price"],
            "stake": slip["stake"]}
    if runner is None:
        return {**said, "would": "refuse", "why": "not mapped to an exchange market"}
    verdict = recheck_on_book(slip["price"], book.get((runner["market_id"], runner["selection_id"], runner["handicap"])),
                              slip.get("market_version"), float(slip["stake"]), slip["commence_time"], now,
                              settings.risk.price_tolerance, settings.exchange.commission, settings.sizing.min_stake)
    if verdict.reason:
        return {**said, "would": "refuse", "why": verdict.reason}
    why = (f"{verdict.stake:.2f} at {verdict.quoted_price:g} ({verdict.price:.3f} net of commission) on "
           f"{runner['market_id']} / {runner['selection_id']}")
    return {**said, "would": "place", "why": why + (f"; {verdict.note}" if verdict.note else "")}
