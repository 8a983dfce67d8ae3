"""The vocabularies (``domain.vocabulary``) as the compiled rules read them: each an ``IntEnum``
of its members' codes, built from the vocabulary itself so there is one table, and numba
compares and stores the members as the small integers they are (code reads ``Side.AWAY``
rather than ``2``)."""

from __future__ import annotations

from enum import IntEnum

from betting_assets.domain import vocabulary as v

Market = IntEnum("Market", {m.name: m.code for m in v.Market})
Side = IntEnum("Side", {s.name: s.code for s in v.Side})
Status = IntEnum("Status", {"OTHER": v.OPEN_CODE, **{s.name: s.code for s in v.EventStatus if s.code != v.OPEN_CODE}})
"""an event's status as settlement sees it: any other status (scheduled, in play) is open"""
Result = IntEnum("Result", {r.name: r.code for r in v.Result})


def words(vocabulary: type[IntEnum]) -> list[str]:
    """The strings a vocabulary's codes stand for, in code order (``Status.OTHER`` has none)."""
    return [member.name.lower() for member in sorted(vocabulary, key=int) if member >= 0]
