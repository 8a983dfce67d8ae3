"""The bet lifecycle: every move the ledger may make, and a refusal for every other."""

from __future__ import annotations

import itertools

import pytest

from betting_assets.domain.orders.states import FINAL, BetStatus, IllegalTransition, check, settled_status

LEGAL = {(None, "pending"), (None, "rejected"), ("pending", "placed"), ("pending", "lapsed"),
         ("pending", "rejected"), ("pending", "failed"), ("placed", "settled"), ("placed", "void"),
         ("pending", "resting"), ("resting", "placed"), ("resting", "cancelled"), ("resting", "lapsed")}


def test_only_the_lifecycle_s_moves_are_allowed() -> None:
    for old, new in itertools.product([None, *BetStatus], BetStatus):
        move = (old.value if old else None, new.value)
        if move in LEGAL:
            assert check(*move) is new
        else:
            with pytest.raises(IllegalTransition, match=f"cannot move from {move[0] or 'nothing'} to {move[1]}"):
                check(*move)
    assert FINAL == {BetStatus.LAPSED, BetStatus.CANCELLED, BetStatus.REJECTED, BetStatus.FAILED, BetStatus.SETTLED,
                     BetStatus.VOID}
    with pytest.raises(IllegalTransition, match="'matched' is not a bet status"):
        check(None, "matched")
    assert settled_status("void") is BetStatus.VOID and settled_status("half_win") is BetStatus.SETTLED
