"""The life of a bet in the ledger, as one state machine: every status change the ledger makes
is checked here first, so no code path can move a bet where the rules do not allow.

A slip's bet is born ``pending`` (claimed, before any broker hears of it) or ``rejected``
(refused before it was sent). A pending bet ends ``placed`` (matched, wholly or partly),
``lapsed`` (nothing matched), ``rejected`` (the broker refused it) or ``failed`` (it never
reached the broker before the event started). A placed bet ends ``settled`` or ``void``.
"""

from __future__ import annotations

from enum import StrEnum


class BetStatus(StrEnum):
    PENDING = "pending"
    PLACED = "placed"
    LAPSED = "lapsed"
    REJECTED = "rejected"
    FAILED = "failed"
    SETTLED = "settled"
    VOID = "void"


TRANSITIONS: dict[BetStatus | None, frozenset[BetStatus]] = {
    None: frozenset({BetStatus.PENDING, BetStatus.REJECTED}),
    BetStatus.PENDING: frozenset({BetStatus.PLACED, BetStatus.LAPSED, BetStatus.REJECTED, BetStatus.FAILED}),
    BetStatus.PLACED: frozenset({BetStatus.SETTLED, BetStatus.VOID}),
}
"""from a status (None: no row yet) to those it may move to; the others are final"""
FINAL = frozenset(BetStatus) - {s for s in TRANSITIONS if s is not None}


class IllegalTransition(ValueError):
    """A ledger write that would move a bet where its life does not allow."""


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


def settled_status(result: str) -> BetStatus:
    """A settled bet's final status: void when its stake came back untouched by the result."""
    return BetStatus.VOID if result == "void" else BetStatus.SETTLED
