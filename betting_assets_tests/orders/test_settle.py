"""Settlement of placed bets: every outcome kind against stored events, once only, and the
bankroll history it leaves."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import Engine

from betting_assets.orders.settle import settle_placed
from betting_assets.settings import Settings
from betting_assets.warehouse import ledger
from betting_assets.warehouse.tables import events

KICK_OFF = datetime(2024, 3, 2, 15, 0, tzinfo=timezone.utc)
NOW = KICK_OFF + timedelta(hours=4)

# event: (status, home goals, away goals); bets: (event, market, side, point, price, stake) and the
# expected result and profit
EVENTS = {"won_2_1": ("final", 2, 1), "level_1_1": ("final", 1, 1), "off": ("cancelled", None, None),
          "later": ("scheduled", None, None)}
BETS = [
    ("won_2_1", "h2h", "home", 0.0, 2.5, 10.0, "win", 15.0),
    ("won_2_1", "h2h", "draw", 0.0, 3.4, 10.0, "loss", -10.0),
    ("level_1_1", "h2h", "away", 0.0, 3.0, 10.0, "loss", -10.0),         # level: a loss in 1X2
    ("level_1_1", "totals", "over", 2.0, 1.9, 10.0, "push", 0.0),
    ("won_2_1", "totals", "over", 2.75, 2.0, 10.0, "half_win", 5.0),      # 2.5 wins, 3.0 pushes
    ("level_1_1", "spreads", "home", -0.25, 1.8, 10.0, "half_loss", -5.0),  # 0 pushes, -0.5 loses
    ("won_2_1", "spreads", "away", 1.5, 1.7, 10.0, "win", 7.0),
    ("off", "h2h", "home", 0.0, 2.0, 10.0, "void", 0.0),
    ("later", "h2h", "home", 0.0, 2.0, 10.0, None, None),
]


def _store(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(events.insert(), [
            {"event_id": e, "sport_key": "soccer_epl", "commence_time": KICK_OFF, "home_team": f"{e} H",
             "away_team": f"{e} A", "status": s, "home_score": h, "away_score": a, "completed": s == "final",
             "first_seen_at": KICK_OFF, "updated_at": NOW} for e, (s, h, a) in EVENTS.items()])
    for i, (event, market, side, point, price, stake, _, _) in enumerate(BETS):
        key = f"{event}|{market}|{side}|{point}|m@1"
        assert ledger.claim(engine, {
            "idempotency_key": key, "customer_ref": ledger.customer_ref(key), "broker": "paper", "event_id": event,
            "sport_key": "soccer_epl", "commence_time": KICK_OFF, "market": market, "side": side, "point": point,
            "bookmaker": "bet365", "requested_price": price, "requested_stake": stake, "created_at": KICK_OFF,
            "updated_at": KICK_OFF})
        assert ledger.finish(engine, key, {"status": "placed", "price": price, "stake": stake,
                                           "placed_at": KICK_OFF - timedelta(hours=1), "updated_at": KICK_OFF})


def test_every_outcome_kind_settles_once_and_moves_the_bankroll(engine: Engine) -> None:
    _store(engine)
    settings = Settings(bankroll=1000.0)
    done = settle_placed(engine, settings, NOW)
    assert (done.settled, done.still_open) == (len(BETS) - 1, 1)
    with engine.connect() as conn:
        rows = {(r["event_id"], r["market"], r["side"]): r for r in ledger.frame(conn).iter_rows(named=True)}
        history = ledger.bankroll_frame(conn)
    for event, market, side, _, _, _, result, profit in BETS:
        row = rows[(event, market, side)]
        assert row["result"] == result, (event, market, side)
        if profit is None:
            assert row["status"] == "placed" and row["profit"] is None
        else:
            assert row["status"] == ("void" if result == "void" else "settled")    # a void bet ends void
            assert row["profit"] == pytest.approx(profit)
    total = sum(p for *_, p in BETS if p is not None)
    assert history.height == len(BETS) - 1
    assert history["bankroll"][-1] == pytest.approx(1000.0 + total)

    again = settle_placed(engine, settings, NOW + timedelta(hours=1))
    assert (again.settled, again.still_open) == (0, 1)
    with engine.connect() as conn:
        assert ledger.bankroll_frame(conn).height == len(BETS) - 1


def test_a_markets_commission_is_shared_to_the_cent_over_its_winners_and_a_mismatch_is_a_finding() -> None:
    """Pure logic: 0.25 charged on a market shared 4:2 over two winners (17 and 8 cents, the
    largest remainder taking the odd cent), nothing for the loser, the market found from the
    venue's report where the ledger holds none; a roll-up counting a bet the ledger does not hold
    is a finding with both figures."""
    import polars as pl

    from betting_assets.orders.settle import market_commissions, share_commission
    from betting_assets.venues.base import Cleared, Clearing, MarketCleared

    bets = pl.DataFrame({"customer_ref": ["a", "b", "c"], "market_id": [None, "1.1", "1.1"], "event_id": ["e"] * 3,
                         "bookmaker": ["betfair_exchange"] * 3, "market": ["h2h"] * 3})
    reports = {"a": Cleared("a", "settled", "WON", 2.0, 4.0, 4.0, "1.1"),
               "b": Cleared("b", "settled", "WON", 3.0, 1.0, 2.0, "1.1"),
               "c": Cleared("c", "settled", "LOST", 2.0, 1.0, -1.0, "1.1")}
    shares, findings = market_commissions(bets, Clearing(reports, {"1.1": MarketCleared("1.1", 5.0, 0.25, 3)}))
    assert shares == {"a": 0.17, "b": 0.08, "c": 0.0} and findings == []
    assert sum(share_commission({"x": 1.0, "y": 1.0, "z": 1.0}, 0.10).values()) == pytest.approx(0.10)
    _, (finding,) = market_commissions(bets, Clearing(reports, {"1.1": MarketCleared("1.1", 7.0, 0.35, 4)}))
    assert "the exchange settled 4 bets for +7.00" in finding.message and "the ledger holds 3 for +5.00" in \
        finding.message
    waiting = {k: v for k, v in reports.items() if k != "c"}      # one bet of the market not yet reported
    assert market_commissions(bets, Clearing(waiting, {"1.1": MarketCleared("1.1", 5.0, 0.25, 3)})) == ({}, [])
