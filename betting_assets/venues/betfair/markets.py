"""Feed events mapped to the exchange's markets: what the exchange broker needs to place a bet
on the right market and runner, and what a user reads to see which events can be bet on.

The upcoming events in the warehouse are matched (``domain.orders.event_matching``) against the
exchange's MATCH_ODDS catalogue over the same window, read one competition of the event's sport
at a time within the request limits (``catalogue``); each mapped event's runners, of its match
odds, over/under 2.5 and Asian handicap markets, become rows of ``exchange_markets`` with the
market's current version, and each unmapped event a data-quality finding naming the candidates,
so nothing is ever placed on a guessed market.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

import polars as pl
from sqlalchemy import Engine

from betting_assets.domain.orders import event_matching as exchange_mapping
from betting_assets.domain.orders import team_names
from betting_assets.venues.betfair.venue import EVENT_TYPES as EXCHANGE_EVENT_TYPES
from betting_assets.domain.pricing.commission import net_price
from betting_assets.venues.betfair.venue import BOOK as BROKER_BOOK
from betting_assets.venues.betfair.runners import ASIAN_HANDICAP, MARKET_TYPES, MATCH_ODDS, OVER_UNDER_25
from betting_assets.domain.data.normalize import Finding
from betting_assets.domain.orders.risk import BookQuote
from betting_assets.venues.betfair.catalogue import Listed, read_catalogue
from betting_assets.venues.betfair.client import PointedClient
from betting_assets.warehouse import queries, writes
from betting_assets.domain.vocabulary import Market

HORIZON = timedelta(days=7)
DRAW = "The Draw"
"""the MATCH_ODDS runner that is no team"""

CHECK = "exchange_mapping"
RUNNER_SCHEMA = {"event_id": pl.String, "market_type": pl.String, "line": pl.Float64, "side": pl.String,
                 "market_id": pl.String, "selection_id": pl.Int64, "handicap": pl.Float64,
                 "exchange_event_id": pl.String, "exchange_event_name": pl.String, "market_version": pl.Int64,
                 "score": pl.Float64, "method": pl.String, "market_base_rate": pl.Float64}


@dataclass
class MappingOutcome:
    events: pl.DataFrame
    runners: pl.DataFrame
    unmapped: pl.DataFrame
    findings: list[Finding]
    books: dict[str, Any] = field(default_factory=dict)
    """the mapped markets' books (best offers) as read for their versions, by market id"""
    findings_new: int = 0
    learned: dict[str, team_names.Learned] = field(default_factory=dict)
    """by sport, the feed's team names paired with the exchange's, and how"""

    @property
    def mapped_events(self) -> int:
        return self.runners["event_id"].n_unique() if self.runners.height else 0


def event_type_ids(sports: list[str]) -> list[str]:
    return sorted({EXCHANGE_EVENT_TYPES[s.split("_")[0]] for s in sports if s.split("_")[0] in EXCHANGE_EVENT_TYPES})


def map_markets(engine: Engine, client: PointedClient, now: datetime, sports: list[str],
                horizon: timedelta = HORIZON, participants: Callable[[str], list[str]] | None = None) -> MappingOutcome:
    """``plan``, then stored: the events' runners replaced, the unmapped ones' findings recorded."""
    outcome = plan(engine, client, now, sports, horizon, participants)
    with engine.begin() as conn:
        writes.record_exchange_books(conn, outcome.books, now, "mapping")
        writes.replace_exchange_markets(conn, outcome.runners, outcome.events["event_id"].to_list(), now)
        outcome.findings_new = writes.record_findings(conn, outcome.findings, source=CHECK, recorded_at=now)
    return outcome


def plan(engine: Engine, client: PointedClient, now: datetime, sports: list[str],
         horizon: timedelta = HORIZON, participants: Callable[[str], list[str]] | None = None) -> MappingOutcome:
    """The upcoming events within ``horizon`` matched to the exchange's catalogue, writing nothing;
    ``participants`` gives a sport's teams as the feed names them, to learn the names by."""
    with engine.connect() as conn:
        upcoming = queries.upcoming_events(conn, now, sports).filter(pl.col("commence_time") <= now + horizon)
    listed = read_catalogue(client, event_type_ids(sports), sports, now, now + horizon)
    catalogue = [m for m in listed if _market_type(m.market) == MATCH_ODDS]   # the events are matched on match odds
    of_event: dict[str, list[Any]] = {m.market.event.id: [m.market] for m in catalogue}   # its match odds first
    for m in listed:
        if _market_type(m.market) != MATCH_ODDS and m.market.event.id in of_event:
            of_event[m.market.event.id].append(m.market)
    exchange = pl.DataFrame([_listing(m) for m in catalogue], schema={
        "exchange_event_id": pl.String, "sport_key": pl.String, "start_time": pl.Datetime("us", "UTC"),
        "home": pl.String, "away": pl.String})
    feed = upcoming.select("event_id", "sport_key", "commence_time", "home_team", "away_team")
    learned = learn_names(feed, exchange, catalogue, participants)
    mapped, unmapped = exchange_mapping.match_events(   # candidates: the sport's own competition
        feed, exchange, learned={s: {f: e for f, (e, _) in paired.pairs.items()} for s, paired in learned.items()})
    books = read_books(client, [m.market_id for e in mapped["exchange_event_id"] for m in of_event[e]])
    rows = []
    for hit in mapped.iter_rows(named=True):
        for market in of_event[hit["exchange_event_id"]]:
            for runner in market.runners:
                side, line = runner_line(market, runner)
                rows.append({"event_id": hit["event_id"], "market_type": _market_type(market), "line": line,
                             "side": side, "market_id": market.market_id, "selection_id": runner.selection_id,
                             "handicap": float(runner.handicap or 0.0), "exchange_event_id": market.event.id,
                             "exchange_event_name": market.event.name,
                             "market_version": books[market.market_id].version if market.market_id in books else None,
                             "score": hit["score"], "method": hit["method"],
                             "market_base_rate": base_rate(market)})
    runners = pl.DataFrame(rows, schema=RUNNER_SCHEMA)
    names = {r["event_id"]: f"{r['home_team']} v {r['away_team']}" for r in feed.iter_rows(named=True)}
    findings = [Finding(CHECK, "warn", f"{names[r['event_id']]}: not mapped to an exchange market: {r['reason']}",
                        event_id=r["event_id"], market=Market.H2H, context={"candidates": r["candidates"]})
                for r in unmapped.iter_rows(named=True)]
    for sport, paired in learned.items():
        findings += [Finding(CHECK, "warn", f"{sport}: the feed's {feed_name!r} fits the exchange's "
                             f"{' and '.join(repr(o) for o in options)} equally: not paired", context={"sport": sport})
                     for feed_name, options in paired.ambiguous.items()]
    return MappingOutcome(feed, runners, unmapped.with_columns(
        match=pl.col("event_id").replace_strict(names, return_dtype=pl.String)), findings, books, learned=learned)


def learn_names(feed: pl.DataFrame, exchange: pl.DataFrame, catalogue: list[Listed],
                participants: Callable[[str], list[str]] | None) -> dict[str, team_names.Learned]:
    """Each sport's feed names (its participants and its upcoming events' teams) paired with the
    exchange's runner names in the sport's competitions, by names and fixtures (``team_names``)."""
    learned = {}
    for sport in sorted(set(feed["sport_key"].to_list())):
        ours = feed.filter(pl.col("sport_key") == sport)
        theirs = exchange.filter(pl.col("sport_key") == sport)
        runners = {r.runner_name for m in catalogue if m.sport_key == sport for r in m.market.runners or []
                   if r.runner_name and r.runner_name != DRAW}
        feed_names = set(ours["home_team"].to_list()) | set(ours["away_team"].to_list())
        learned[sport] = team_names.learn(
            feed_names | set(participants(sport) if participants is not None else []), runners,
            [team_names.Fixture(r["home_team"], r["away_team"], r["commence_time"]) for r in ours.iter_rows(named=True)],
            [team_names.Fixture(r["home"], r["away"], r["start_time"]) for r in theirs.iter_rows(named=True)])
    return learned


def base_rate(market: Any) -> float | None:
    """The market's commission rate as a fraction (the catalogue states it in percent)."""
    rate = market.description.market_base_rate if market.description else None
    return float(rate) / 100.0 if rate is not None else None


def _market_type(market: Any) -> str:
    return str(market.description.market_type) if market.description else MATCH_ODDS


def runner_line(market: Any, runner: Any) -> tuple[str, float]:
    """A runner's feed side and line, as the market view keys them: over/under at 2.5, a
    handicap runner at the home team's handicap (the away runner's negated)."""
    kind = _market_type(market)
    if kind == OVER_UNDER_25:
        return ("over" if runner.runner_name.lower().startswith("over") else "under"), 2.5
    home, _, away = market.event.name.partition(" v ")
    side = "home" if runner.runner_name == home else "away" if runner.runner_name == away else "draw"
    if kind == ASIAN_HANDICAP:
        handicap = float(runner.handicap or 0.0)
        return side, handicap if side == "home" else -handicap
    return side, 0.0


def _listing(listed: Listed) -> dict[str, object]:
    market = listed.market
    home, _, away = market.event.name.partition(" v ")
    return {"exchange_event_id": market.event.id, "sport_key": listed.sport_key,
            "start_time": market.market_start_time.replace(tzinfo=timezone.utc), "home": home, "away": away}


def read_and_keep(engine: Engine, client: PointedClient, market_ids: list[str], read_at: datetime,
                  purpose: str) -> dict[str, Any]:
    """``read_books``, the answers stored whole (``exchange_books``) before anything uses them."""
    books = read_books(client, market_ids)
    with engine.begin() as conn:
        writes.record_exchange_books(conn, books, read_at, purpose)
    return books


def read_books(client: PointedClient, market_ids: list[str]) -> dict[str, Any]:
    """Market books with the best offers, by market id, 40 markets a call (the request weight
    budget allows 200 points; best offers weigh 5 a market)."""
    found: dict[str, Any] = {}
    for start in range(0, len(market_ids), 40):
        for book in client.betting.list_market_book(market_ids[start:start + 40],
                                                     price_projection={"priceData": ["EX_BEST_OFFERS"]}):
            found[book.market_id] = book
    return found


def runner_quotes(books: dict[str, Any]) -> dict[tuple[str, int, float], BookQuote]:
    """The best back offer (and best lay price) of every runner in ``books`` (``read_books``), by
    (market, selection, handicap)."""
    found = {}
    for market_id, book in books.items():
        for runner in book.runners:
            best = runner.ex.available_to_back[0] if runner.ex and runner.ex.available_to_back else None
            lay = runner.ex.available_to_lay[0] if runner.ex and runner.ex.available_to_lay else None
            found[(market_id, runner.selection_id, float(runner.handicap or 0.0))] = BookQuote(
                book.status, book.version, best.price if best else None, best.size if best else None,
                lay.price if lay else None)
    return found


def exchange_offers(offers: pl.DataFrame, mapping: pl.DataFrame, quotes: dict[tuple[str, int, float], BookQuote],
                    commission: float, read_at: datetime, rates: dict[str, float] | None = None) -> pl.DataFrame:
    """The exchange's own prices in the market-view shape, for the lines the mapping covers
    (match odds, over/under 2.5, Asian handicap): the best back net of commission (``price``) and as quoted, its size and
    the market version, with the sharp fair probability of the line taken from ``offers``
    (the feed's, at the same decision time). A runner without a back price, or in a market
    that is not open, is not on offer."""
    lines = offers.filter(pl.col("market").is_in(list(MARKET_TYPES))).unique(
        ["event_id", "market", "line", "side"], keep="first", maintain_order=True).with_columns(
        market_type=pl.col("market").replace_strict(MARKET_TYPES, return_dtype=pl.String))
    runners = mapping.select("event_id", "market_type", "line", "side", "market_id", "selection_id", "handicap")
    joined = lines.join(runners, on=["event_id", "market_type", "line", "side"], how="inner").drop("market_type")
    rows = []
    for row in joined.iter_rows(named=True):
        quote = quotes.get((row["market_id"], row["selection_id"], row["handicap"]))
        if quote is None or quote.status != "OPEN" or quote.back_price is None:
            continue
        rows.append({**row, "bookmaker": BROKER_BOOK, "quoted_price": quote.back_price,
                     "price": net_price(quote.back_price, (rates or {}).get(row["market_id"], commission)),
                     "snapshot_time": read_at,
                     "market_version": quote.version, "available_size": quote.back_size})
    schema = {**dict(offers.schema), "market_id": pl.String, "selection_id": pl.Int64, "handicap": pl.Float64,
              "market_version": pl.Int64, "available_size": pl.Float64}
    return pl.DataFrame(rows, schema=schema).drop("market_id", "selection_id", "handicap")

