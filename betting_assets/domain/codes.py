"""The closed vocabularies the compiled rules work on, named: markets, sides, event statuses and
settlement results. Each is an ``IntEnum`` so that numba compares and stores its members as the
small integers they are, and code reads ``Side.AWAY`` rather than ``2``."""

from __future__ import annotations

from enum import IntEnum


class Market(IntEnum):
    H2H = 0
    SPREADS = 1
    TOTALS = 2


class Side(IntEnum):
    HOME = 0
    DRAW = 1
    AWAY = 2
    OVER = 3
    UNDER = 4


class Status(IntEnum):
    """An event's status as settlement sees it: any other status (scheduled, in play) is open."""

    OTHER = -1
    FINAL = 0
    CANCELLED = 1
    POSTPONED = 2


class Result(IntEnum):
    LOSS = 0
    HALF_LOSS = 1
    PUSH = 2
    HALF_WIN = 3
    WIN = 4
    VOID = 5
    OPEN = 6



def words(vocabulary: type[IntEnum]) -> list[str]:
    """The strings a vocabulary's codes stand for, in code order (``Status.OTHER`` has none)."""
    return [member.name.lower() for member in sorted(vocabulary, key=int) if member >= 0]
