"""Which exchange name is which feed name, learned from what both sides publish rather than kept
in a table by hand.

The feed (The Odds API) lists a sport's teams as participants ("Wolverhampton Wanderers",
"Borussia Monchengladbach"); the exchange names its runners its own way ("Wolves", "Mgladbach").
Two kinds of evidence pair them, each one-to-one within a competition:

- the names: equal once normalised ("1. FC Köln" and "FC Koln"), or one an abbreviation of the
  other, word by word ("Man Utd" of "Manchester United", "Nottm Forest" of "Nottingham Forest",
  "Mgladbach" of "Borussia Monchengladbach"), where exactly one name on the other side qualifies;
- the fixtures: a feed match and an exchange match at the same kick-off whose home sides (or away
  sides) are already paired pair their other sides too ("Wolverhampton Wanderers v Tottenham
  Hotspur" and "Wolves v Tottenham" at 14:00 pair Wolverhampton Wanderers with Wolves).

A name that two candidates fit equally, or that fixtures pair two ways, is left unpaired and
reported: the event mapping then refuses it rather than guess.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from betting_assets.domain.orders.event_matching import SIDE_TEAMS, normalise

NAME, ABBREVIATION, FIXTURE = "name", "abbreviation", "fixture"


@dataclass(frozen=True)
class Fixture:
    home: str
    away: str
    start: datetime


@dataclass
class Learned:
    pairs: dict[str, tuple[str, str]] = field(default_factory=dict)
    """feed name → (exchange name, how it was learned)"""
    ambiguous: dict[str, list[str]] = field(default_factory=dict)
    """feed name → the exchange names that fit it equally"""

    def exchange_name(self, feed: str) -> str | None:
        found = self.pairs.get(feed)
        return found[0] if found else None


def abbreviates(short: str, long: str) -> bool:
    """Every word of ``short`` stands for a different word of ``long``, in order, each either
    equal to it, its start, or its letters in order from the same first letter ("nottm" of
    "nottingham", "mgladbach" of "monchengladbach"); ``long`` may have words left over."""
    words, targets = short.split(), long.split()
    if not words or len(words) > len(targets):
        return False
    at = 0
    for word in words:
        while at < len(targets) and not _stands_for(word, targets[at]):
            at += 1
        if at == len(targets):
            return False
        at += 1
    return True


def _stands_for(word: str, target: str) -> bool:
    if word == target or (len(word) >= 3 and target.startswith(word)):
        return True
    if len(word) < 3 or word[0] != target[0]:
        return False
    letters = iter(target)
    return all(c in letters for c in word)


def _fits(feed: str, exchange: str) -> str | None:
    a, b = normalise(feed), normalise(exchange)
    if SIDE_TEAMS & set(a.split()) != SIDE_TEAMS & set(b.split()):
        return None
    if a == b:
        return NAME
    if abbreviates(a, b) or abbreviates(b, a):
        return ABBREVIATION
    return None


def learn(feed_names: Iterable[str], exchange_names: Iterable[str], feed_fixtures: Iterable[Fixture] = (),
          exchange_fixtures: Iterable[Fixture] = (), tolerance: timedelta = timedelta(minutes=30)) -> Learned:
    """Pairs one competition's feed names with its exchange names (module doc)."""
    feed, exchange = sorted(set(feed_names)), sorted(set(exchange_names))
    learned = Learned()
    for how in (NAME, ABBREVIATION):
        taken = {e for e, _ in learned.pairs.values()}
        fits = {f: [e for e in exchange if e not in taken and _fits(f, e) == how] for f in feed if f not in learned.pairs}
        wanted: dict[str, list[str]] = {}
        for f, options in fits.items():
            for e in options:
                wanted.setdefault(e, []).append(f)
        for f, options in fits.items():
            if len(options) == 1 and len(wanted[options[0]]) == 1:
                learned.pairs[f] = (options[0], how)
            elif len(options) > 1:
                learned.ambiguous[f] = options
    _from_fixtures(learned, list(feed_fixtures), list(exchange_fixtures), tolerance)
    for f in learned.pairs:
        learned.ambiguous.pop(f, None)
    return learned


def _from_fixtures(learned: Learned, feed: list[Fixture], exchange: list[Fixture], tolerance: timedelta) -> None:
    """Pairs the other sides of matches at the same kick-off whose one side is paired, until
    nothing new is learned; a name the fixtures pair two ways is ambiguous, not paired."""
    refused: set[str] = set()
    while True:
        taken = {e for e, _ in learned.pairs.values()}
        found: dict[str, set[str]] = {}
        for f in feed:
            for e in exchange:
                if abs(f.start - e.start) > tolerance:
                    continue
                for known, other, their_known, their_other in ((f.home, f.away, e.home, e.away),
                                                               (f.away, f.home, e.away, e.home)):
                    if (learned.exchange_name(known) == their_known and other not in learned.pairs
                            and their_other not in taken and other not in refused
                            and SIDE_TEAMS & set(normalise(other).split()) == SIDE_TEAMS & set(normalise(their_other).split())):
                        found.setdefault(other, set()).add(their_other)
        claimed: dict[str, list[str]] = {}
        for other, names in found.items():
            if len(names) == 1:
                claimed.setdefault(next(iter(names)), []).append(other)
        new = {feeds[0]: e for e, feeds in claimed.items() if len(feeds) == 1}
        for other, names in found.items():
            if other not in new:
                refused.add(other)
                learned.ambiguous[other] = sorted(names)
        if not new:
            return
        for other, e in new.items():
            learned.pairs[other] = (e, FIXTURE)
