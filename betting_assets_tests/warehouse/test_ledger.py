"""The ledger moves a bet only as its lifecycle allows (``domain.bet_states``): an illegal
move is refused before anything is written, and a void settlement ends the bet void."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import Engine

from betting_assets.domain.orders.states import IllegalTransition
from betting_assets.warehouse import ledger

NOW = datetime(2024, 3, 2, 12, tzinfo=timezone.utc)


def _row(key: str) -> dict[str, object]:
    return {"idempotency_key": key, "customer_ref": ledger.customer_ref(key), "broker": "paper", "event_id": "e1",
            "sport_key": "soccer_epl", "commence_time": NOW + timedelta(hours=1), "market": "h2h", "side": "home",
            "point": 0.0, "bookmaker": "bet365", "requested_price": 2.0, "requested_stake": 10.0, "edge": 0.05,
            "created_at": NOW, "updated_at": NOW}


def test_the_ledger_refuses_a_move_the_lifecycle_does_not_allow(engine: Engine) -> None:
    assert ledger.claim(engine, _row("k1")) and ledger.claim(engine, _row("k2"))
    with pytest.raises(IllegalTransition, match="cannot move from pending to settled"):
        ledger.finish(engine, "k1", {"status": "settled", "updated_at": NOW})
    with engine.connect() as conn:
        assert ledger.frame(conn)["status"].to_list() == ["pending", "pending"]      # nothing written
    placed = {"status": "placed", "updated_at": NOW, "price": 2.0, "stake": 10.0, "placed_at": NOW}
    assert ledger.finish(engine, "k1", placed) and ledger.finish(engine, "k2", placed)
    with engine.connect() as conn:
        ids = ledger.frame(conn)["bet_id"].to_list()
    done = ledger.record_settlement(engine, [
        {"bet_id": ids[0], "result": "void", "unit_return": 1.0, "profit": 0.0, "p_close": None},
        {"bet_id": ids[1], "result": "win", "unit_return": 2.0, "profit": 10.0, "p_close": None}], 1000.0, NOW)
    assert done == 2
    with engine.connect() as conn:
        assert ledger.frame(conn)["status"].to_list() == ["void", "settled"]
        assert ledger.bankroll_frame(conn)["bankroll"].to_list() == [1000.0, 1010.0]
    assert not ledger.finish(engine, "k1", placed)        # final: a late answer changes nothing
