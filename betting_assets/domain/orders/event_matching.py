"""Which exchange event is a feed event: by sport, kick-off and team names, never by guess.

The odds feed and the exchange name teams their own ways ("Man United" and "Man Utd", "Bayern
Munich" and "FC Bayern München"). A name is normalised (accents, punctuation, club prefixes
such as FC, "Utd" as "United"), then looked up in a maintained alias table, then compared by
similarity. An event maps only when one exchange event within the kick-off tolerance scores at
least ``threshold`` on both teams and no other comes within ``margin`` of it; otherwise it stays
unmapped, with the candidates and why, so a person can add an alias rather than the code
betting on the wrong match.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import timedelta
from difflib import SequenceMatcher

import polars as pl

KICK_OFF_TOLERANCE = timedelta(minutes=30)
THRESHOLD = 0.8
MARGIN = 0.15

_DROPPED = {"fc", "afc", "cf", "sc", "sv", "vfl", "vfb", "tsg", "fsv", "1", "04", "05", "98", "1899", "1846"}
_WORDS = {"utd": "united", "&": "and"}

ALIASES: dict[str, str] = {
    "man united": "manchester united", "man city": "manchester city", "nottm forest": "nottingham forest",
    "sheff united": "sheffield united", "spurs": "tottenham", "tottenham hotspur": "tottenham",
    "wolves": "wolverhampton", "wolverhampton wanderers": "wolverhampton", "newcastle united": "newcastle",
    "west ham united": "west ham", "brighton and hove albion": "brighton", "luton town": "luton",
    "bayern munchen": "bayern munich", "ein frankfurt": "eintracht frankfurt", "cologne": "koln",
    "mgladbach": "monchengladbach", "borussia monchengladbach": "monchengladbach",
    "borussia dortmund": "dortmund", "bayer leverkusen": "leverkusen", "leipzig": "rb leipzig",
    "bremen": "werder bremen",
}
"""normalised variant → the name every variant of a team is compared as"""
_KNOWN = set(ALIASES.values())
SIDE_TEAMS = {"w", "women", "u19", "u21", "u23", "ii", "b", "res", "reserves"}
"""a word that makes another team of the club's ("Chelsea W" is not Chelsea)"""


def normalise(name: str) -> str:
    """Lower case, accents and punctuation dropped, club prefixes left out, "Utd" as "United"."""
    plain = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().lower()
    words = re.sub(r"[^a-z0-9& ]+", "", plain.replace("-", " ")).split()
    return " ".join(_WORDS.get(w, w) for w in words if w not in _DROPPED)


def canonical(name: str) -> tuple[str, bool]:
    """The normalised name as the alias table has it, and whether the table was needed."""
    plain = normalise(name)
    return ALIASES.get(plain, plain), plain in ALIASES


def similarity(feed: str, exchange: str) -> tuple[float, str]:
    """1 for the same team (``exact`` or by ``alias``), 0 for two teams known apart (the alias
    table's "Manchester City" and "Manchester United" look alike; "Chelsea W" is the women's
    side), else the names' similarity."""
    (a, via_a), (b, via_b) = canonical(feed), canonical(exchange)
    if SIDE_TEAMS & set(a.split()) != SIDE_TEAMS & set(b.split()):
        return 0.0, "different teams"
    if a == b:
        return 1.0, "alias" if via_a or via_b else "exact"
    if a in _KNOWN and b in _KNOWN:
        return 0.0, "different teams"
    return SequenceMatcher(None, a, b).ratio(), "similarity"


@dataclass(frozen=True)
class Candidate:
    exchange_event_id: str
    name: str
    score: float
    method: str


MAPPED_SCHEMA = {"event_id": pl.String, "exchange_event_id": pl.String, "score": pl.Float64, "method": pl.String}
UNMAPPED_SCHEMA = {"event_id": pl.String, "reason": pl.String, "candidates": pl.String}


def match_events(feed: pl.DataFrame, exchange: pl.DataFrame, *, tolerance: timedelta = KICK_OFF_TOLERANCE,
                 threshold: float = THRESHOLD, margin: float = MARGIN,
                 learned: dict[str, dict[str, str]] | None = None) -> tuple[pl.DataFrame, pl.DataFrame]:
    """``feed``: event_id, sport_key, commence_time, home_team, away_team; ``exchange``:
    exchange_event_id, sport_key, start_time, home, away; ``learned``: by sport, each feed name's
    exchange name as learned from both sides' names and fixtures (``team_names``), which settles
    a name it covers (that name and no other). Returns the mapped events (``MAPPED_SCHEMA``) and
    the unmapped ones with why and the candidates (``UNMAPPED_SCHEMA``)."""
    mapped, unmapped = [], []
    by_sport = {key: group for (key,), group in exchange.group_by("sport_key")}
    none = exchange.clear()
    for event in feed.iter_rows(named=True):
        options = by_sport.get(event["sport_key"], none)
        near = options.filter((pl.col("start_time") - event["commence_time"]).abs() <= tolerance)
        known = (learned or {}).get(event["sport_key"], {})
        candidates = sorted((_score(event, row, known) for row in near.iter_rows(named=True)), key=lambda c: -c.score)
        shown = [c for c in candidates if c.score >= 0.5][:3] or candidates[:1]
        listed = "; ".join(f"{c.name} ({c.score:.2f})" for c in shown)
        if not candidates:
            unmapped.append((event["event_id"], f"no exchange event within {tolerance.total_seconds() / 60:g} min "
                             "of kick-off", ""))
        elif candidates[0].score < threshold:
            unmapped.append((event["event_id"], f"best match {candidates[0].score:.2f} is below {threshold:g}",
                             listed))
        elif len(candidates) > 1 and candidates[1].score > candidates[0].score - margin:
            unmapped.append((event["event_id"], f"{len([c for c in candidates if c.score > candidates[0].score - margin])}"
                             f" candidates within {margin:g} of each other", listed))
        else:
            best = candidates[0]
            mapped.append((event["event_id"], best.exchange_event_id, best.score, best.method))
    return (pl.DataFrame(mapped, schema=MAPPED_SCHEMA, orient="row"),
            pl.DataFrame(unmapped, schema=UNMAPPED_SCHEMA, orient="row"))


def _score(event: dict[str, object], row: dict[str, object], known: dict[str, str]) -> Candidate:
    home, home_how = _side(str(event["home_team"]), str(row["home"]), known)
    away, away_how = _side(str(event["away_team"]), str(row["away"]), known)
    how = next(h for h in ("different teams", "similarity", "alias", "learned", "exact") if h in (home_how, away_how))
    return Candidate(str(row["exchange_event_id"]), f"{row['home']} v {row['away']}", round(min(home, away), 4), how)


def _side(feed: str, exchange: str, known: dict[str, str]) -> tuple[float, str]:
    if feed in known:
        return (1.0, "exact" if feed == exchange else "learned") if known[feed] == exchange else (0.0, "different teams")
    return similarity(feed, exchange)
