"""The lives of a slip and of a bet, each one state machine: every status change the ledger makes
is checked here first, and written by one guarded update that names the status it moves from
(``update … where status = :from``), so an illegal move is refused before anything is written
and a move another run made meanwhile is found, not overwritten.

A slip is born ``proposed``; it ends ``placed``, ``lapsed``, ``cancelled``, ``rejected``
(refused for good: its market closed) or ``failed``, as its bet does, passing through
``resting`` while its bet does. A slip's bet is born ``pending`` (claimed, before any venue
hears of it) or ``rejected`` (refused before it was sent). A pending bet ends ``placed``
(matched, wholly or partly), ``lapsed`` (nothing matched), ``rejected`` (the venue refused it) or
``failed`` (it never reached the venue before the event started), or it rests: ``resting``, an
order the venue holds with a part unmatched, waiting at its price (its whole stake is at risk).
A resting bet ends ``placed`` once wholly matched or once its rest is cancelled or lapsed with a
part matched, ``cancelled`` (we cancelled it with nothing matched) or ``lapsed`` (the venue
lapsed it, at in-play, with nothing matched). A placed bet ends ``settled`` or ``void``.
"""

from __future__ import annotations

from enum import StrEnum

from betting_assets.domain.vocabulary import Result


class BetStatus(StrEnum):
    PENDING = "pending"
    RESTING = "resting"
    PLACED = "placed"
    CANCELLED = "cancelled"
    LAPSED = "lapsed"
    REJECTED = "rejected"
    FAILED = "failed"
    SETTLED = "settled"
    VOID = "void"


class SlipStatus(StrEnum):
    PROPOSED = "proposed"
    RESTING = "resting"
    PLACED = "placed"
    CANCELLED = "cancelled"
    LAPSED = "lapsed"
    REJECTED = "rejected"
    FAILED = "failed"


TRANSITIONS: dict[BetStatus | None, frozenset[BetStatus]] = {
    None: frozenset({BetStatus.PENDING, BetStatus.REJECTED}),
    BetStatus.PENDING: frozenset({BetStatus.PLACED, BetStatus.LAPSED, BetStatus.REJECTED, BetStatus.FAILED,
                                  BetStatus.RESTING}),
    BetStatus.RESTING: frozenset({BetStatus.PLACED, BetStatus.CANCELLED, BetStatus.LAPSED}),
    BetStatus.PLACED: frozenset({BetStatus.SETTLED, BetStatus.VOID}),
}
"""from a status (None: no row yet) to those it may move to; the others are final"""
FINAL = frozenset(BetStatus) - {s for s in TRANSITIONS if s is not None}
SLIP_TRANSITIONS: dict[SlipStatus, frozenset[SlipStatus]] = {
    SlipStatus.PROPOSED: frozenset({SlipStatus.PLACED, SlipStatus.LAPSED, SlipStatus.REJECTED, SlipStatus.FAILED,
                                    SlipStatus.RESTING}),
    SlipStatus.RESTING: frozenset({SlipStatus.PLACED, SlipStatus.CANCELLED, SlipStatus.LAPSED}),
}
OPEN_BETS = frozenset({BetStatus.PENDING, BetStatus.RESTING, BetStatus.PLACED})
"""a bet whose stake is at risk until it settles"""
MATCHED = frozenset({BetStatus.PLACED, BetStatus.SETTLED, BetStatus.VOID})
"""a bet the venue matched, settled or not"""


class IllegalTransition(ValueError):
    """A ledger write that would move a bet or a slip where its life does not allow."""


def check(old: str | None, new: str) -> BetStatus:
    """``new`` as a status, if a bet may move there from ``old``; raises otherwise."""
    try:
        target = BetStatus(new)
        source = BetStatus(old) if old is not None else None
    except ValueError:
        raise IllegalTransition(f"{new if old is None else old!r} is not a bet status") from None
    if target not in TRANSITIONS.get(source, frozenset()):
        allowed = ", ".join(sorted(TRANSITIONS.get(source, frozenset()))) or "nothing: it is final"
        raise IllegalTransition(f"a bet cannot move from {old or 'nothing'} to {new} (from {old or 'nothing'}: "
                                f"{allowed})")
    return target


def check_slip(old: str, new: str) -> SlipStatus:
    """``new`` as a slip status, if a slip may move there from ``old``; raises otherwise."""
    try:
        target, source = SlipStatus(new), SlipStatus(old)
    except ValueError:
        raise IllegalTransition(f"{new!r} or {old!r} is not a slip status") from None
    if target not in SLIP_TRANSITIONS.get(source, frozenset()):
        raise IllegalTransition(f"a slip cannot move from {old} to {new}")
    return target


def slip_status(bet: BetStatus) -> SlipStatus:
    """What a slip becomes when its bet leaves ``pending`` or ``resting`` (or is refused for good)."""
    return SlipStatus(bet.value)


def settled_status(result: str) -> BetStatus:
    """A settled bet's final status: void when its stake came back untouched by the result."""
    return BetStatus.VOID if result == Result.VOID else BetStatus.SETTLED
