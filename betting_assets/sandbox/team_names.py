"""What each service the sandbox stands in for calls the teams of the bundled leagues: the
football-data.co.uk files the sandbox replays, The Odds API (its ``home_team``/``away_team``
and participants' ``full_name``) and the Betfair Exchange (its event names and MATCH_ODDS
runner names).

The Odds API's names are as its v4 responses carry them (captured responses for the Premier
League and the Bundesliga, e.g. ``Brighton and Hove Albion``, ``Wolverhampton Wanderers``,
``VfL Bochum``, ``FSV Mainz 05``, ``1. FC Köln``, ``1. FC Heidenheim``, ``Borussia
Monchengladbach``); Betfair's as its catalogue lists them (``Man Utd``, ``Nottm Forest``,
``Wolves``, ``Mgladbach``, ``FC Koln``, ``Mainz``). The product is never given this table: it
learns the pairing from the names each side publishes (``domain.orders.team_names``), and the
tests hold what it learns against it.
"""

from __future__ import annotations

TEAMS: tuple[tuple[str, str, str], ...] = (
    # football-data, The Odds API, Betfair
    ("Arsenal", "Arsenal", "Arsenal"),
    ("Aston Villa", "Aston Villa", "Aston Villa"),
    ("Bournemouth", "Bournemouth", "Bournemouth"),
    ("Brentford", "Brentford", "Brentford"),
    ("Brighton", "Brighton and Hove Albion", "Brighton"),
    ("Burnley", "Burnley", "Burnley"),
    ("Chelsea", "Chelsea", "Chelsea"),
    ("Crystal Palace", "Crystal Palace", "Crystal Palace"),
    ("Everton", "Everton", "Everton"),
    ("Fulham", "Fulham", "Fulham"),
    ("Liverpool", "Liverpool", "Liverpool"),
    ("Luton", "Luton", "Luton"),
    ("Man City", "Manchester City", "Man City"),
    ("Man United", "Manchester United", "Man Utd"),
    ("Newcastle", "Newcastle United", "Newcastle"),
    ("Nott'm Forest", "Nottingham Forest", "Nottm Forest"),
    ("Sheffield United", "Sheffield United", "Sheff Utd"),
    ("Tottenham", "Tottenham Hotspur", "Tottenham"),
    ("West Ham", "West Ham United", "West Ham"),
    ("Wolves", "Wolverhampton Wanderers", "Wolves"),
    ("Augsburg", "Augsburg", "Augsburg"),
    ("Bayern Munich", "Bayern Munich", "Bayern Munich"),
    ("Bochum", "VfL Bochum", "Bochum"),
    ("Darmstadt", "SV Darmstadt 98", "Darmstadt"),
    ("Dortmund", "Borussia Dortmund", "Dortmund"),
    ("Ein Frankfurt", "Eintracht Frankfurt", "Eintracht Frankfurt"),
    ("FC Koln", "1. FC Köln", "FC Koln"),
    ("Freiburg", "SC Freiburg", "Freiburg"),
    ("Heidenheim", "1. FC Heidenheim", "Heidenheim"),
    ("Hoffenheim", "TSG Hoffenheim", "Hoffenheim"),
    ("Leverkusen", "Bayer Leverkusen", "Leverkusen"),
    ("M'gladbach", "Borussia Monchengladbach", "Mgladbach"),
    ("Mainz", "FSV Mainz 05", "Mainz"),
    ("RB Leipzig", "RB Leipzig", "RB Leipzig"),
    ("Stuttgart", "VfB Stuttgart", "Stuttgart"),
    ("Union Berlin", "Union Berlin", "Union Berlin"),
    ("Werder Bremen", "Werder Bremen", "Werder Bremen"),
    ("Wolfsburg", "VfL Wolfsburg", "Wolfsburg"),
)
ODDS_API = {fd: oa for fd, oa, _ in TEAMS}
"""football-data's name → The Odds API's (a name not listed is served as the file has it)"""
BETFAIR = {name: bf for fd, oa, bf in TEAMS for name in (fd, oa)}
"""football-data's or The Odds API's name → Betfair's"""


def as_odds_api(name: str) -> str:
    return ODDS_API.get(name, name)


def as_betfair(name: str) -> str:
    return BETFAIR.get(name, name)
