"""What the provider is known to send: bookmaker keys by region and market keys.

Anything outside these sets is still stored, but recorded as a data-quality finding so that
a new bookmaker or a typo in a market key is seen rather than silently mixed in.
"""

from __future__ import annotations

BOOKMAKERS_BY_REGION: dict[str, dict[str, str]] = {
    "uk": {
        "bet365": "Bet365",
        "williamhill": "William Hill",
        "betvictor": "Bet Victor",
        "ladbrokes_uk": "Ladbrokes",
        "coral": "Coral",
        "skybet": "Sky Bet",
        "paddypower": "Paddy Power",
        "betfair_ex_uk": "Betfair",
        "smarkets": "Smarkets",
        "betway": "Betway",
        "sport888": "888sport",
        "unibet_uk": "Unibet",
        "boylesports": "BoyleSports",
        "betfred_uk": "Betfred",
        "sbobet_uk": "SBO",
    },
    "eu": {
        "pinnacle": "Pinnacle",
        "bwin": "Bwin",
        "interwetten": "Interwetten",
        "gamebookers": "Gamebookers",
        "betsson": "Betsson",
        "nordicbet": "Nordic Bet",
        "unibet_eu": "Unibet",
        "marathonbet": "Marathon Bet",
        "onexbet": "1xBet",
        "betfair_ex_eu": "Betfair",
        "matchbook": "Matchbook",
        "sbobet": "SBO",
        "tipico_de": "Tipico",
        "williamhill_eu": "William Hill",
        "coolbet": "Coolbet",
    },
    "us": {
        "draftkings": "DraftKings",
        "fanduel": "FanDuel",
        "betmgm": "BetMGM",
        "williamhill_us": "Caesars",
        "betrivers": "BetRivers",
        "bovada": "Bovada",
        "betonlineag": "BetOnline.ag",
        "lowvig": "LowVig.ag",
        "mybookieag": "MyBookie.ag",
        "pinnacle_us": "Pinnacle",
    },
    "au": {
        "sportsbet": "SportsBet",
        "tab": "TAB",
        "neds": "Neds",
        "ladbrokes_au": "Ladbrokes",
        "pointsbetau": "PointsBet (AU)",
        "betfair_ex_au": "Betfair",
    },
}

EXCHANGE_BOOKMAKERS: frozenset[str] = frozenset(
    key for books in BOOKMAKERS_BY_REGION.values() for key, title in books.items()
    if title in ("Betfair", "Matchbook", "Smarkets"))
"""the feed's exchanges: their prices are worth what is left after commission on winnings"""

KNOWN_BOOKMAKERS: frozenset[str] = frozenset(
    key for books in BOOKMAKERS_BY_REGION.values() for key in books
)

KNOWN_MARKETS: frozenset[str] = frozenset(
    {"h2h", "spreads", "totals", "outrights", "h2h_lay", "outrights_lay", "btts", "draw_no_bet",
     "h2h_3_way", "alternate_spreads", "alternate_totals", "team_totals"}
)

SHARP_BOOKMAKER = "pinnacle"
REGIONS: tuple[str, ...] = tuple(BOOKMAKERS_BY_REGION)


def unknown(values: list[str], known: frozenset[str] | tuple[str, ...], what: str) -> str | None:
    """Why ``values`` are not all the provider's own keys (a typo costs credits for nothing),
    or None when they are."""
    strange = [v for v in values if v not in known]
    if not strange:
        return None
    return f"{', '.join(strange)}: not {what} the provider knows ({', '.join(sorted(known))})"


def bookmaker_title(key: str) -> str:
    for books in BOOKMAKERS_BY_REGION.values():
        if key in books:
            return books[key]
    return key


