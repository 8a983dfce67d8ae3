"""``betting exchange check``: what the exchange path would do now, placing nothing. It logs in,
reads the funds, maps the upcoming events, reads their books, and says for each proposed slip
whether it would be placed and at what price, or why not: the first command to run with a real
account."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import polars as pl
from sqlalchemy import Engine

from betting_assets.placement.exchange_client import PointedClient
from betting_assets.placement.exchange_markets import MappingOutcome, plan
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
        runner = next((r for r in book.runners if r.selection_id == row["selection_id"]), None) if book else None
        back = runner.ex.available_to_back[0] if runner and runner.ex.available_to_back else None
        lay = runner.ex.available_to_lay[0] if runner and runner.ex.available_to_lay else None
        quotes.append({**row, "status": book.status if book else "UNKNOWN",
                       "back": back.price if back else None, "back_size": back.size if back else None,
                       "lay": lay.price if lay else None})
    by_side = {(q["event_id"], q["side"]): q for q in quotes}
    with engine.connect() as conn:
        slips = queries.proposed_slips(conn)
    h2h = slips.filter(pl.col("market") == "h2h") if slips.height else slips
    verdicts = [_verdict(s, by_side.get((s["event_id"], s["side"])), settings.risk.price_tolerance)
                for s in h2h.iter_rows(named=True)]
    return ExchangeCheck(float(funds.available_to_bet_balance or 0.0), float(funds.exposure or 0.0), mapping,
                         quotes, verdicts)


def _verdict(slip: dict[str, Any], quote: dict[str, Any] | None, tolerance: float) -> dict[str, Any]:
    match = f"{slip['home_team']} v {slip['away_team']}"
    said = {"slip": slip["slip_id"], "match": match, "side": slip["side"], "price": slip["price"],
            "stake": slip["stake"]}
    if quote is None:
        return {**said, "would": "refuse", "why": "not mapped to an exchange market"}
    if quote["status"] != "OPEN":
        return {**said, "would": "refuse", "why": f"market {quote['status'].lower()}"}
    if quote["back"] is None:
        return {**said, "would": "refuse", "why": "no back price on the exchange"}
    if quote["back"] < slip["price"] * (1 - tolerance):
        return {**said, "would": "refuse", "why": f"best back {quote['back']:g} is more than {tolerance:.0%} below "
                f"the slip's {slip['price']:g}"}
    stake = min(float(slip["stake"]), float(quote["back_size"] or 0.0))
    why = f"{stake:.2f} at {quote['back']:g} on {quote['market_id']} / {quote['selection_id']}"
    if stake < float(slip["stake"]):
        why += f" (only {quote['back_size']:g} available of {slip['stake']:g})"
    return {**said, "would": "place", "why": why}
