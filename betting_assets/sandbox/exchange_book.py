"""The sandbox exchange's markets: for every event the sandbox serves, the exchange's event and
its MATCH_ODDS market, with runners named as an exchange names teams, and books simulated
around the sharp fair price that move with the sandbox clock.

The books are simulated (the market's ``simulated`` flag and its rules say so): best back at
the fair price put on the tick ladder, lay one tick above, three levels each side with sizes
drawn from a hash. A market is OPEN until kick-off, SUSPENDED while the event is played and
CLOSED three hours after kick-off. Two habits of real exchanges are kept on purpose: a women's
fixture at the same kick-off as the men's (Chelsea's home games), and a match listed twice
(Bournemouth's), which a mapping must refuse to choose between.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from betting_assets.domain.catalog import BOOKMAKERS_BY_REGION, EXCHANGE_EVENT_TYPES
from betting_assets.domain.ladder import MIN_PRICE, tick_above, tick_below, to_ladder
from betting_assets.domain.timeutil import parse_utc
from betting_assets.sandbox.market import bookmakers_for

EXCHANGE_NAMES = {
    "Man United": "Man Utd", "Manchester United": "Man Utd", "Nott'm Forest": "Nottm Forest",
    "Sheffield United": "Sheff Utd", "Wolves": "Wolverhampton", "Bayern Munich": "FC Bayern München",
    "Ein Frankfurt": "Eintracht Frankfurt", "M'gladbach": "Mgladbach", "FC Koln": "1. FC Köln",
    "Darmstadt": "SV Darmstadt 98", "Mainz": "Mainz 05",
}
"""feed name → the exchange's, where they differ"""
DRAW, DRAW_SELECTION = "The Draw", 58805
TWIN_HOME, LISTED_TWICE_HOME = "Chelsea", "Bournemouth"
CLOSES_AFTER = timedelta(hours=3)
ALL_BOOKS = bookmakers_for(list(BOOKMAKERS_BY_REGION))
SIMULATED_RULES = ("Simulated by the betting_assets sandbox from the replayed sharp price: not a real "
                   "exchange's book.")


def _stamp(moment: datetime) -> str:
    """Betfair's own time format, which betfairlightweight parses (milliseconds, Z)."""
    return moment.strftime("%Y-%m-%dT%H:%M:%S.000Z")


def _number(*parts: object) -> int:
    return int(hashlib.sha256("|".join(map(str, parts)).encode()).hexdigest()[:7], 16)


def selection_id(team: str) -> int:
    return 1_000 + _number("team", team) % 9_000_000


@dataclass(frozen=True)
class ExchangeMarket:
    market_id: str
    exchange_event_id: str
    feed_event_id: str
    sport_key: str
    competition: str
    start: datetime
    home: str
    away: str
    three_way: bool
    priced: bool = True
    """whether the feed's prices stand behind this listing (not for a twin the feed does not have)"""

    def runners(self) -> list[tuple[int, str, str]]:
        """(selection id, exchange name, feed side) in the exchange's order: home, away, draw."""
        runs = [(selection_id(self.home), self.home, "home"), (selection_id(self.away), self.away, "away")]
        return runs + [(DRAW_SELECTION, DRAW, "draw")] if self.three_way else runs


class ExchangeBooks:
    def __init__(self, market: Any, clock: Callable[[], datetime]) -> None:
        self.market = market
        self.clock = clock
        self.known: dict[str, ExchangeMarket] = {}
        self.taken: dict[tuple[str, int, float], float] = {}
        """back liquidity already matched, by market, selection and price: a book does not refill"""

    def now(self) -> datetime:
        return self.clock()

    def current(self, market_id: str) -> dict[str, Any] | None:
        """The market's book now, as listMarketBook answers it; None for a market not listed."""
        now = self.clock()
        self._refresh(now)
        listing = self.known.get(market_id)
        return self._book(listing, now, {}) if listing is not None else None

    def take(self, market_id: str, selection: int, price: float, size: float) -> None:
        key = (market_id, selection, price)
        self.taken[key] = self.taken.get(key, 0.0) + size

    def winner(self, market_id: str) -> str | None:
        """The winning runner's feed side once the event is final ("void" when it was not
        played), None while it is not."""
        listing = self.known.get(market_id)
        if listing is None:
            return None
        now = self.clock()
        for event in self.market.scores(listing.sport_key, now, 3):
            if event["id"] != listing.feed_event_id or not event.get("completed"):
                continue
            goals = {s["name"]: float(s["score"]) for s in event.get("scores") or []}
            home, away = goals.get(event["home_team"]), goals.get(event["away_team"])
            if home is None or away is None:
                return "void"
            return "home" if home > away else "away" if away > home else "draw"
        return None

    def runner_side(self, market_id: str, selection: int) -> str | None:
        listing = self.known.get(market_id)
        return next((side for sid, _, side in listing.runners() if sid == selection), None) if listing else None

    def _refresh(self, now: datetime) -> None:
        for sport in self.market.sports():
            for event in self.market.events(sport["key"], now):
                for listing in self._listings(event):
                    self.known.setdefault(listing.market_id, listing)

    def _listings(self, event: dict[str, Any]) -> list[ExchangeMarket]:
        home, away = (EXCHANGE_NAMES.get(event[k], event[k]) for k in ("home_team", "away_team"))
        start = parse_utc(event["commence_time"])
        assert start is not None
        three_way = event["sport_key"].startswith("soccer")

        def listed(copy: str, h: str, a: str, priced: bool = True) -> ExchangeMarket:
            exchange_event = str(30_000_000 + _number("event", event["id"], copy) % 9_000_000)
            return ExchangeMarket(f"1.{200_000_000 + _number('market', event['id'], copy) % 99_000_000}",
                                  exchange_event, event["id"], event["sport_key"], event.get("sport_title") or "",
                                  start, h, a, three_way, priced)

        listings = [listed("", home, away)]
        if event["home_team"] == TWIN_HOME:
            listings.append(listed("women", f"{home} W", f"{away} W", priced=False))
        if event["home_team"] == LISTED_TWICE_HOME:
            listings.append(listed("twice", home, away))
        return listings

    def catalogue(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        now = self.clock()
        self._refresh(now)
        wanted = params.get("filter") or {}
        types = set(wanted.get("eventTypeIds") or [])
        codes = set(wanted.get("marketTypeCodes") or ["MATCH_ODDS"])
        window = wanted.get("marketStartTime") or {}
        low, high = parse_utc(window.get("from")), parse_utc(window.get("to"))
        found = [m for m in self.known.values()
                 if (not types or EXCHANGE_EVENT_TYPES.get(m.sport_key.split("_")[0]) in types) and "MATCH_ODDS" in codes
                 and (low is None or m.start >= low) and (high is None or m.start <= high) and m.start > now]
        found.sort(key=lambda m: (m.start, m.market_id))
        return [self._catalogue_entry(m) for m in found[:int(params.get("maxResults") or 1000)]]

    def _catalogue_entry(self, m: ExchangeMarket) -> dict[str, Any]:
        kind = m.sport_key.split("_")[0]
        return {
            "marketId": m.market_id, "marketName": "Match Odds", "totalMatched": 0.0,
            "marketStartTime": _stamp(m.start),
            "competition": {"id": str(_number("competition", m.sport_key) % 10_000_000), "name": m.competition},
            "event": {"id": m.exchange_event_id, "name": f"{m.home} v {m.away}", "countryCode": "GB",
                      "timezone": "GMT", "openDate": _stamp(m.start)},
            "eventType": {"id": EXCHANGE_EVENT_TYPES.get(kind, "0"), "name": kind.capitalize()},
            "description": {"persistenceEnabled": True, "bspMarket": False, "marketTime": _stamp(m.start),
                            "suspendTime": _stamp(m.start), "bettingType": "ODDS", "turnInPlayEnabled": False,
                            "marketType": "MATCH_ODDS", "regulator": "SANDBOX", "marketBaseRate": 5.0,
                            "discountAllowed": True, "wallet": "UK", "rules": SIMULATED_RULES,
                            "rulesHasDate": False, "priceLadderDescription": {"type": "CLASSIC"}},
            "runners": [{"selectionId": sid, "runnerName": name, "handicap": 0.0, "sortPriority": i + 1}
                        for i, (sid, name, _) in enumerate(m.runners())],
        }

    def books(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        now = self.clock()
        self._refresh(now)
        odds: dict[str, list[dict[str, Any]]] = {}
        return [self._book(self.known[i], now, odds) for i in params.get("marketIds") or [] if i in self.known]

    def status(self, m: ExchangeMarket, now: datetime) -> str:
        return "OPEN" if now < m.start else "SUSPENDED" if now < m.start + CLOSES_AFTER else "CLOSED"

    def _fair(self, m: ExchangeMarket, now: datetime,
              odds: dict[str, list[dict[str, Any]]]) -> tuple[dict[str, float], datetime | None]:
        """Fair prices by feed side from the sharp book (or every book when it is absent)."""
        if not m.priced or now >= m.start:
            return {}, None
        if m.sport_key not in odds:
            odds[m.sport_key] = self.market.odds(m.sport_key, now, {"h2h"}, ALL_BOOKS, "decimal")
        events = [e for e in odds[m.sport_key] if e["id"] == m.feed_event_id]
        if not events:
            return {}, None
        books = events[0]["bookmakers"]
        sharp = [b for b in books if b["key"] == "pinnacle"] or books
        implied: dict[str, list[float]] = {}
        stamps = []
        for book in sharp:
            for market in book["markets"]:
                stamps.append(parse_utc(market["last_update"]))
                for outcome in market["outcomes"]:
                    side = ("home" if outcome["name"] == events[0]["home_team"] else "away"
                            if outcome["name"] == events[0]["away_team"] else "draw")
                    implied.setdefault(side, []).append(1.0 / float(outcome["price"]))
        mean = {side: sum(v) / len(v) for side, v in implied.items()}
        total = sum(mean.values())
        return {side: total / q for side, q in mean.items()}, max((s for s in stamps if s), default=None)

    def _book(self, m: ExchangeMarket, now: datetime, odds: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
        fair, latest = self._fair(m, now, odds)
        status = self.status(m, now)
        runners = []
        for sid, _, side in m.runners():
            back: list[dict[str, float]] = []
            lay: list[dict[str, float]] = []
            if status == "OPEN" and side in fair and fair[side] >= MIN_PRICE:
                price = to_ladder(fair[side])
                up = tick_above(price)
                for level in range(3):
                    size = float(20 + _number(m.market_id, sid, level, latest) % 380)
                    size = round(size - self.taken.get((m.market_id, sid, price), 0.0), 2)
                    if size > 0:
                        back.append({"price": price, "size": size})
                    lay.append({"price": up, "size": float(20 + _number(m.market_id, sid, -level, latest) % 380)})
                    price, up = tick_below(price), tick_above(up)
            runners.append({"selectionId": sid, "handicap": 0.0, "status": "ACTIVE", "totalMatched": 0.0,
                            "ex": {"availableToBack": back, "availableToLay": lay, "tradedVolume": []}})
        version = int(latest.timestamp()) if latest else int(m.start.timestamp()) - 86_400
        return {"marketId": m.market_id, "isMarketDataDelayed": False, "status": status, "betDelay": 0,
                "bspReconciled": False, "complete": True, "inplay": False, "numberOfWinners": 1,
                "numberOfRunners": len(runners), "numberOfActiveRunners": len(runners), "totalMatched": 0.0,
                "totalAvailable": 0.0, "crossMatching": True, "runnersVoidable": False, "version": version,
                "simulated": True, "runners": runners}
