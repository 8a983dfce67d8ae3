"""The sandbox exchange's markets: for every event the sandbox serves, the exchange's event with
its MATCH_ODDS market (runners named as Betfair names teams, "The Draw" for soccer) and its
OVER_UNDER_25 market, listed days ahead as Betfair lists them (priced only once the feed prices
them), its ASIAN_HANDICAP market where the feed prices its lines (one runner per team and line),
and books simulated around the sharp fair price that move with the sandbox clock. Competitions
carry Betfair's names, and the women's twin its own competition.

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

from betting_assets.domain.data.catalog import BOOKMAKERS_BY_REGION
from betting_assets.venues.betfair.venue import EVENT_TYPES as EXCHANGE_EVENT_TYPES
from betting_assets.venues.betfair.ladder import MIN_PRICE, tick_above, tick_below, to_ladder
from betting_assets.domain.timeutil import parse_utc
from betting_assets.sandbox.market import bookmakers_for
from betting_assets.sandbox.team_names import as_betfair

CATALOGUE_WEIGHTS = {"MARKET_DESCRIPTION": 1, "RUNNER_METADATA": 1}
"""listMarketCatalogue's weight per market of each projection (the others weigh 0)"""
BOOK_WEIGHTS = {"SP_AVAILABLE": 3, "SP_TRADED": 7, "EX_BEST_OFFERS": 5, "EX_ALL_OFFERS": 17, "EX_TRADED": 17}
BOOK_COMBINED = {frozenset({"EX_BEST_OFFERS", "EX_TRADED"}): 20, frozenset({"EX_ALL_OFFERS", "EX_TRADED"}): 32}
NO_PROJECTION, MAX_WEIGHT, MAX_RESULTS = 2, 200, 1000
"""Market Data Request Limits: sum(weight) × markets must not exceed 200 (TOO_MUCH_DATA); a book
asked for without a price projection weighs 2; a catalogue returns at most 1000 markets"""
BASE_RATE = 5.0
"""the Market Base Rate, in percent, of the sandbox's markets (the catalogue's marketBaseRate)"""


PROJECTED = {"COMPETITION": "competition", "EVENT": "event", "EVENT_TYPE": "eventType",
             "MARKET_START_TIME": "marketStartTime", "MARKET_DESCRIPTION": "description",
             "RUNNER_DESCRIPTION": "runners", "RUNNER_METADATA": "runners"}
"""MarketProjection → the catalogue field it adds; without it the field is absent"""


def projected(entry: dict[str, Any], projection: list[str] | None) -> dict[str, Any]:
    """A catalogue entry with only the fields its projections ask for (marketId, marketName and
    totalMatched always)."""
    kept = {PROJECTED[p] for p in projection or [] if p in PROJECTED}
    return {k: v for k, v in entry.items() if k not in set(PROJECTED.values()) or k in kept}


class TooMuchData(ValueError):
    """A request weighing more than the documented 200 points."""
DRAW, DRAW_SELECTION = "The Draw", 58805
UNDER, OVER = (47972, "Under 2.5 Goals"), (47973, "Over 2.5 Goals")
MATCH_ODDS, OVER_UNDER_25, ASIAN_HANDICAP = "MATCH_ODDS", "OVER_UNDER_25", "ASIAN_HANDICAP"
FEED_MARKET = {MATCH_ODDS: "h2h", OVER_UNDER_25: "totals", ASIAN_HANDICAP: "spreads"}
MARKET_NAMES = {MATCH_ODDS: "Match Odds", OVER_UNDER_25: "Over/Under 2.5 Goals", ASIAN_HANDICAP: "Asian Handicap"}
TWIN_HOME, LISTED_TWICE_HOME = "Chelsea", "Bournemouth"
COMPETITIONS = {"soccer_epl": "English Premier League", "soccer_germany_bundesliga": "German Bundesliga"}
"""Betfair's name of each competition the sandbox serves"""
WOMENS = "English Women's Super League"
CLOSES_AFTER = timedelta(hours=3)
ALL_BOOKS = bookmakers_for(list(BOOKMAKERS_BY_REGION))
SIMULATED_RULES = ("Simulated by the betting_assets sandbox from the replayed sharp price: not a real "
                   "exchange's book.")


def _stamp(moment: datetime) -> str:
    """Betfair's own time format, which betfairlightweight parses (milliseconds, Z)."""
    return moment.strftime("%Y-%m-%dT%H:%M:%S.000Z")


def _number(*parts: object) -> int:
    return int(hashlib.sha256("|".join(map(str, parts)).encode()).hexdigest()[:7], 16)


def competition_id(name: str) -> str:
    return str(_number("competition", name) % 10_000_000)


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
    market_type: str = MATCH_ODDS

    def runners(self, lines: tuple[float, ...] = ()) -> list[tuple[int, str, str, float]]:
        """(selection id, exchange name, feed side, handicap) in the exchange's order; an Asian
        handicap market has one runner per team and home ``line`` (the away side at minus it)."""
        if self.market_type == OVER_UNDER_25:
            return [(UNDER[0], UNDER[1], "under", 0.0), (OVER[0], OVER[1], "over", 0.0)]
        home, away = selection_id(self.home), selection_id(self.away)
        if self.market_type == ASIAN_HANDICAP:
            return [r for line in lines for r in ((home, self.home, "home", line), (away, self.away, "away", -line))]
        runs = [(home, self.home, "home", 0.0), (away, self.away, "away", 0.0)]
        return runs + [(DRAW_SELECTION, DRAW, "draw", 0.0)] if self.three_way else runs


def unit_return(market_type: str, side: str, handicap: float, price: float, home: int, away: int) -> float:
    """What one unit backed returns once the match ended ``home``-``away``: the exchange's own
    settlement, written apart from the product's so a disagreement can show. A quarter line is
    half on each neighbouring half line."""
    if market_type == MATCH_ODDS:
        won = {"home": home > away, "away": away > home, "draw": home == away}[side]
        return price if won else 0.0
    if market_type == OVER_UNDER_25:
        return price if (home + away > 2.5) == (side == "over") else 0.0
    margin = (home - away) if side == "home" else (away - home)
    halves = (handicap - 0.25, handicap + 0.25) if abs(handicap * 4) % 2 == 1 else (handicap, handicap)
    total = 0.0
    for line in halves:
        edge = margin + line
        total += 0.5 * (price if edge > 0 else 1.0 if edge == 0 else 0.0)
    return total


class ExchangeBooks:
    def __init__(self, market: Any, clock: Callable[[], datetime]) -> None:
        self.market = market
        self.clock = clock
        self.known: dict[str, ExchangeMarket] = {}
        self.taken: dict[tuple[str, int, float, float], float] = {}
        """back liquidity already matched, by market, selection, handicap and price: a book does not refill"""
        self.material: dict[str, int] = {}
        """market id → the version of its last material change (made under suspension): an order
        sent with an earlier version lapses; a later price move does not raise it"""
        self.bumps: dict[str, int] = {}

    def material_change(self, market_id: str) -> None:
        """A runner removed (or the like) under suspension: the version moves on, materially."""
        self.bumps[market_id] = self.bumps.get(market_id, 0) + 1
        book = self.current(market_id)
        if book is not None:
            self.material[market_id] = int(book["version"])

    def base_rate(self, market_id: str) -> float:
        return BASE_RATE / 100.0

    @staticmethod
    def weight(method: str, params: dict[str, Any]) -> int:
        """A call's weight by the documented table; over 200 is TOO_MUCH_DATA. A catalogue's is
        its maxResults times its projections' weight (the exchange cannot know the count before)."""
        if method == "listMarketCatalogue":
            per = sum(CATALOGUE_WEIGHTS.get(p, 0) for p in params.get("marketProjection") or [])
            wanted = int(params.get("maxResults") or 0)
            if wanted < 1 or wanted > MAX_RESULTS:
                raise TooMuchData(f"maxResults {wanted}")
            weight = per * wanted
        elif method == "listMarketBook":
            data = frozenset((params.get("priceProjection") or {}).get("priceData") or [])
            per = BOOK_COMBINED.get(data) or sum(BOOK_WEIGHTS.get(p, 0) for p in data) or NO_PROJECTION
            weight = per * len(params.get("marketIds") or [])
        else:
            weight = 0
        if weight > MAX_WEIGHT:
            raise TooMuchData(f"{method} weighs {weight}")
        return weight

    def current(self, market_id: str) -> dict[str, Any] | None:
        """The market's book now, as listMarketBook answers it; None for a market not listed."""
        now = self.clock()
        self._refresh(now)
        listing = self.known.get(market_id)
        return self._book(listing, now, {}) if listing is not None else None

    def take(self, market_id: str, selection: int, price: float, size: float, handicap: float = 0.0) -> None:
        key = (market_id, selection, handicap, price)
        self.taken[key] = self.taken.get(key, 0.0) + size

    def score(self, market_id: str) -> tuple[int, int] | None:
        """The final score of the market's match, None while it is not final."""
        listing = self.known.get(market_id)
        if listing is None:
            return None
        for event in self.market.scores(listing.sport_key, self.clock(), 3):
            if event["id"] != listing.feed_event_id or not event.get("completed"):
                continue
            goals = {s["name"]: int(float(s["score"])) for s in event.get("scores") or []}
            if event["home_team"] in goals and event["away_team"] in goals:
                return goals[event["home_team"]], goals[event["away_team"]]
        return None

    def settle(self, market_id: str, selection: int, handicap: float, price: float) -> float | None:
        """A unit's return on that runner (at its ``handicap``) at ``price`` once the match is
        final, else None."""
        listing, goals = self.known.get(market_id), self.score(market_id)
        if listing is None or goals is None:
            return None
        side = {sid: side for sid, _, side, _ in listing.runners((0.0,))}.get(selection)
        return unit_return(listing.market_type, side, handicap, price, *goals) if side else None

    def _refresh(self, now: datetime) -> None:
        for sport in self.market.sports():
            for event in self.market.events(sport["key"], now):
                for listing in self._listings(event):
                    self.known.setdefault(listing.market_id, listing)

    def _listings(self, event: dict[str, Any]) -> list[ExchangeMarket]:
        home, away = (as_betfair(event[k]) for k in ("home_team", "away_team"))
        start = parse_utc(event["commence_time"])
        assert start is not None
        three_way = event["sport_key"].startswith("soccer")

        competition = COMPETITIONS.get(event["sport_key"], event.get("sport_title") or "")

        def listed(copy: str, h: str, a: str, priced: bool = True, kind: str = MATCH_ODDS) -> ExchangeMarket:
            exchange_event = str(30_000_000 + _number("event", event["id"], copy) % 9_000_000)
            tag = "" if kind == MATCH_ODDS else kind
            return ExchangeMarket(f"1.{200_000_000 + _number('market', event['id'], copy, tag) % 99_000_000}",
                                  exchange_event, event["id"], event["sport_key"],
                                  WOMENS if copy == "women" else competition, start, h, a, three_way, priced, kind)

        listings = [listed("", home, away)]
        if three_way:
            listings += [listed("", home, away, kind=OVER_UNDER_25), listed("", home, away, kind=ASIAN_HANDICAP)]
        if event["home_team"] == TWIN_HOME:
            listings.append(listed("women", f"{home} W", f"{away} W", priced=False))
        if event["home_team"] == LISTED_TWICE_HOME:
            listings.append(listed("twice", home, away))
        return listings

    def catalogue(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        """Markets of the asked types, sports, competitions and window; a handicap market only
        where the feed prices its lines now."""
        now = self.clock()
        self._refresh(now)
        wanted = params.get("filter") or {}
        found = self._filtered(wanted, now)
        odds: dict[str, list[dict[str, Any]]] = {}
        entries = []
        for m in found:
            fair, _ = self._fair(m, now, odds)
            if m.market_type == ASIAN_HANDICAP and not fair:   # its lines come from the feed
                continue
            entries.append(projected(self._catalogue_entry(m, self._lines(fair)), params.get("marketProjection")))
        return entries[:int(params.get("maxResults") or MAX_RESULTS)]

    def _filtered(self, wanted: dict[str, Any], now: datetime) -> list[ExchangeMarket]:
        """The MarketFilter's event types, competitions, market types and start-time window."""
        types = set(wanted.get("eventTypeIds") or [])
        competitions = set(wanted.get("competitionIds") or [])
        codes = set(wanted.get("marketTypeCodes") or [MATCH_ODDS, OVER_UNDER_25, ASIAN_HANDICAP])
        window = wanted.get("marketStartTime") or {}
        low, high = parse_utc(window.get("from")), parse_utc(window.get("to"))
        found = [m for m in self.known.values()
                 if (not types or EXCHANGE_EVENT_TYPES.get(m.sport_key.split("_")[0]) in types)
                 and (not competitions or competition_id(m.competition) in competitions)
                 and m.market_type in codes and (low is None or m.start >= low) and (high is None or m.start <= high)
                 and m.start > now]
        return sorted(found, key=lambda m: (m.start, m.market_id))

    def competitions(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        """listCompetitions: each competition with markets passing the filter, and their count."""
        now = self.clock()
        self._refresh(now)
        counts: dict[str, int] = {}
        for m in self._filtered(params.get("filter") or {}, now):
            counts[m.competition] = counts.get(m.competition, 0) + 1
        return [{"competition": {"id": competition_id(name), "name": name}, "marketCount": n,
                 "competitionRegion": "GBR"} for name, n in sorted(counts.items())]

    @staticmethod
    def _lines(fair: dict[tuple[str, float], float]) -> tuple[float, ...]:
        return tuple(sorted({h for side, h in fair if side == "home"}))

    def _catalogue_entry(self, m: ExchangeMarket, lines: tuple[float, ...]) -> dict[str, Any]:
        kind = m.sport_key.split("_")[0]
        return {
            "marketId": m.market_id, "marketName": MARKET_NAMES[m.market_type], "totalMatched": 0.0,
            "marketStartTime": _stamp(m.start),
            "competition": {"id": competition_id(m.competition), "name": m.competition},
            "event": {"id": m.exchange_event_id, "name": f"{m.home} v {m.away}", "countryCode": "GB",
                      "timezone": "GMT", "openDate": _stamp(m.start)},
            "eventType": {"id": EXCHANGE_EVENT_TYPES.get(kind, "0"), "name": kind.capitalize()},
            "description": {"persistenceEnabled": True, "bspMarket": False, "marketTime": _stamp(m.start),
                            "suspendTime": _stamp(m.start), "bettingType": "ASIAN_HANDICAP_DOUBLE_LINE"
                            if m.market_type == ASIAN_HANDICAP else "ODDS", "turnInPlayEnabled": False,
                            "marketType": m.market_type, "regulator": "SANDBOX", "marketBaseRate": BASE_RATE,
                            "discountAllowed": True, "wallet": "UK", "rules": SIMULATED_RULES,
                            "rulesHasDate": False, "priceLadderDescription": {"type": "CLASSIC"}},
            "runners": [{"selectionId": sid, "runnerName": name, "handicap": handicap, "sortPriority": i + 1}
                        for i, (sid, name, _, handicap) in enumerate(m.runners(lines))],
        }

    def books(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        now = self.clock()
        self._refresh(now)
        odds: dict[str, list[dict[str, Any]]] = {}
        return [self._book(self.known[i], now, odds) for i in params.get("marketIds") or [] if i in self.known]

    def status(self, m: ExchangeMarket, now: datetime) -> str:
        return "OPEN" if now < m.start else "SUSPENDED" if now < m.start + CLOSES_AFTER else "CLOSED"

    def _fair(self, m: ExchangeMarket, now: datetime,
              odds: dict[str, list[dict[str, Any]]]) -> tuple[dict[tuple[str, float], float], datetime | None]:
        """Fair prices by (feed side, handicap) from the sharp book (or every book when it is
        absent), each line de-vigged on its own; over/under at 2.5 goals only."""
        if not m.priced or now >= m.start:
            return {}, None
        if m.sport_key not in odds:
            odds[m.sport_key] = self.market.odds(m.sport_key, now, {"h2h", "totals", "spreads"}, ALL_BOOKS, "decimal")
        events = [e for e in odds[m.sport_key] if e["id"] == m.feed_event_id]
        if not events:
            return {}, None
        event, key = events[0], FEED_MARKET[m.market_type]
        books = [b for b in event["bookmakers"] if any(k["key"] == key for k in b["markets"])]
        sharp = [b for b in books if b["key"] == "pinnacle"] or books
        implied: dict[tuple[str, float], list[float]] = {}
        stamps = []
        for book in sharp:
            for market in book["markets"]:
                if market["key"] != key:
                    continue
                stamps.append(parse_utc(market["last_update"]))
                for outcome in market["outcomes"]:
                    point = float(outcome.get("point") or 0.0)
                    if key == "totals":
                        if point != 2.5:
                            continue
                        side, line = str(outcome["name"]).lower(), 0.0
                    else:
                        side = ("home" if outcome["name"] == event["home_team"] else "away"
                                if outcome["name"] == event["away_team"] else "draw")
                        line = point
                    implied.setdefault((side, line), []).append(1.0 / float(outcome["price"]))
        mean = {k: sum(v) / len(v) for k, v in implied.items()}

        def home_line(side: str, line: float) -> float:
            return (line if side == "home" else -line) if m.market_type == ASIAN_HANDICAP else 0.0

        groups: dict[float, float] = {}
        for (side, line), q in mean.items():
            groups[home_line(side, line)] = groups.get(home_line(side, line), 0.0) + q
        fair = {(side, line): groups[home_line(side, line)] / q for (side, line), q in mean.items()}
        if m.market_type == ASIAN_HANDICAP:      # a line both sides of which are priced
            fair = {(s, h): p for (s, h), p in fair.items()
                    if ("away" if s == "home" else "home", -h) in fair}
        return fair, max((s for s in stamps if s), default=None)

    def _book(self, m: ExchangeMarket, now: datetime, odds: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
        fair, latest = self._fair(m, now, odds)
        status = self.status(m, now)
        runners = []
        for sid, _, side, handicap in m.runners(self._lines(fair)):
            back: list[dict[str, float]] = []
            lay: list[dict[str, float]] = []
            price_now = fair.get((side, handicap))
            if status == "OPEN" and price_now is not None and price_now >= MIN_PRICE:
                price = to_ladder(price_now)
                up = tick_above(price)
                for level in range(3):
                    size = float(20 + _number(m.market_id, sid, handicap, level, latest) % 380)
                    size = round(size - self.taken.get((m.market_id, sid, handicap, price), 0.0), 2)
                    if size > 0:
                        back.append({"price": price, "size": size})
                    lay.append({"price": up, "size": float(20 + _number(m.market_id, sid, handicap, -level, latest)
                                                           % 380)})
                    price, up = tick_below(price), tick_above(up)
            runners.append({"selectionId": sid, "handicap": handicap, "status": "ACTIVE", "totalMatched": 0.0,
                            "ex": {"availableToBack": back, "availableToLay": lay, "tradedVolume": []}})
        version = (int(latest.timestamp()) if latest else int(m.start.timestamp()) - 86_400) + self.bumps.get(
            m.market_id, 0) * 1_000_000_000
        return {"marketId": m.market_id, "isMarketDataDelayed": False, "status": status, "betDelay": 0,
                "bspReconciled": False, "complete": True, "inplay": False, "numberOfWinners": 1,
                "numberOfRunners": len(runners), "numberOfActiveRunners": len(runners), "totalMatched": 0.0,
                "totalAvailable": 0.0, "crossMatching": True, "runnersVoidable": False, "version": version,
                "simulated": True, "runners": runners}
