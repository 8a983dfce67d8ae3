"""The exchange's catalogue read within Betfair's request limits: one competition at a time (the
feed's sport restricts which), every call weighing at most 200 points, a window halved while a
call comes back full (a full page may have cut markets off), and a clear error when even the
smallest window holds too many.

Market Data Request Limits: sum(weight) × markets must not exceed 200 points, and
listMarketCatalogue's MARKET_DESCRIPTION weighs 1 a market (the others used here weigh 0), so a
call asks for at most 200 markets.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from betting_assets.venues.base import VenueError
from betting_assets.venues.betfair.runners import MARKET_TYPES

PROJECTION = ["EVENT", "RUNNER_DESCRIPTION", "MARKET_START_TIME", "COMPETITION", "EVENT_TYPE", "MARKET_DESCRIPTION"]
WEIGHTS = {"MARKET_DESCRIPTION": 1, "RUNNER_METADATA": 1}
MAX_WEIGHT = 200
PAGE = MAX_WEIGHT // sum(WEIGHTS.get(p, 0) for p in PROJECTION)
"""markets one catalogue call may ask for"""
SMALLEST_WINDOW = timedelta(minutes=10)
COMPETITIONS: dict[str, tuple[str, ...]] = {
    "soccer_epl": ("English Premier League",),
    "soccer_efl_champ": ("English Championship",),
    "soccer_england_league1": ("English League 1",),
    "soccer_england_league2": ("English League 2",),
    "soccer_fa_cup": ("English FA Cup",),
    "soccer_germany_bundesliga": ("German Bundesliga",),
    "soccer_germany_bundesliga2": ("German Bundesliga 2",),
    "soccer_spain_la_liga": ("Spanish La Liga",),
    "soccer_italy_serie_a": ("Italian Serie A",),
    "soccer_france_ligue_one": ("French Ligue 1",),
    "soccer_netherlands_eredivisie": ("Dutch Eredivisie",),
    "soccer_spl": ("Scottish Premiership",),
    "soccer_uefa_champs_league": ("UEFA Champions League",),
    "soccer_uefa_europa_league": ("UEFA Europa League",),
}
"""the feed's sport key → the names Betfair lists its competition under"""


class CatalogueTooLarge(VenueError):
    """Even the smallest window of one competition holds more markets than one call may ask for."""


@dataclass(frozen=True)
class Listed:
    sport_key: str
    """the feed's sport whose competition the market is in"""
    market: Any


def competitions_for(sports: list[str], listed: list[Any]) -> dict[str, list[Any]]:
    """The exchange's competitions (listCompetitions' answers) of each feed sport, by the names
    the table holds; a sport without an entry, or whose competition is not listed, has none."""
    by_name = {str(c.competition.name): c.competition for c in listed}
    return {sport: [by_name[n] for n in COMPETITIONS.get(sport, ()) if n in by_name] for sport in sports}


def read_catalogue(client: Any, event_types: list[str], sports: list[str], low: datetime, high: datetime,
                   page: int = PAGE, weighed: Callable[[int], None] | None = None) -> list[Listed]:
    """Every market of the product's types in the feed sports' competitions starting within
    [``low``, ``high``], each once; ``weighed`` is told each call's weight."""
    window = {"from": _stamp(low), "to": _stamp(high)}
    types = list(MARKET_TYPES.values())
    competitions = client.betting.list_competitions(filter={"eventTypeIds": event_types, "marketTypeCodes": types,
                                                            "marketStartTime": window})
    found: list[Listed] = []
    for sport, held in competitions_for(sports, competitions).items():
        seen: set[str] = set()
        for competition in held:
            for market in _window(client, competition, types, low, high, page, weighed):
                if market.market_id not in seen:
                    seen.add(market.market_id)
                    found.append(Listed(sport, market))
    return found


def _window(client: Any, competition: Any, types: list[str], low: datetime, high: datetime, page: int,
            weighed: Callable[[int], None] | None) -> list[Any]:
    per = sum(WEIGHTS.get(p, 0) for p in PROJECTION)
    got = client.betting.list_market_catalogue(
        filter={"competitionIds": [competition.id], "marketTypeCodes": types,
                "marketStartTime": {"from": _stamp(low), "to": _stamp(high)}},
        market_projection=PROJECTION, max_results=page)
    if weighed is not None:
        weighed(per * page)
    if len(got) < page:
        return list(got)
    if high - low <= SMALLEST_WINDOW:
        raise CatalogueTooLarge(
            f"{competition.name} lists {page} or more markets starting between {low:%Y-%m-%d %H:%M} and "
            f"{high:%H:%M} UTC, more than one request may ask for (200 points): narrow BETTING_COLLECTION_SPORTS")
    middle = low + (high - low) / 2
    return _window(client, competition, types, low, middle, page, weighed) + _window(
        client, competition, types, middle, high, page, weighed)


def _stamp(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
