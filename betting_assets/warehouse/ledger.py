"""The bets ledger: two-phase writes and the bankroll history.

A bet exists in the ledger before any broker hears of it: ``claim`` inserts the row as
``pending`` in its own transaction, and only the run whose insert went in may call the
broker. The unique idempotency key makes that a database decision, so two runs at once, a
retried op or a re-launched run cannot both claim one slip.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any

import polars as pl
from sqlalchemy import Connection, Engine, and_, func, select, update

from betting_assets.domain.orders import bet_states
from betting_assets.warehouse import queries
from betting_assets.warehouse.tables import bankroll_history, bet_slips, bets, events
from betting_assets.warehouse.writes import _insert


def customer_ref(key: str) -> str:
    """The reference the broker sees: 32 characters, as the Betfair API allows."""
    return hashlib.sha256(key.encode()).hexdigest()[:32]


def claim(engine: Engine, row: dict[str, Any]) -> bool:
    """Inserts a pending row and commits it; False when the key is already in the ledger."""
    bet_states.check(None, "pending")
    with engine.begin() as conn:
        inserted = conn.execute(
            _insert(conn, bets).values(**row, status="pending").on_conflict_do_nothing(
                index_elements=["idempotency_key"]).returning(bets.c.bet_id)).first()
    return inserted is not None


def attempt_key(key: str, attempt: str) -> str:
    """The ledger key of one refused attempt at a slip: unique per attempt, so it never blocks
    the slip's own key from a later claim."""
    tagged = f"{key}|refused@{attempt}"
    return tagged if len(tagged) <= 255 else hashlib.sha256(tagged.encode()).hexdigest()


def record_rejections(engine: Engine, rows: list[dict[str, Any]], attempt: str | None = None) -> int:
    """Rejected slips, never sent. Without ``attempt`` the refusal is final: it takes the
    slip's own key and the slip is marked rejected. With it, the refusal is recorded under a
    key of that attempt and the slip stays proposed for a later run."""
    if not rows:
        return 0
    bet_states.check(None, "rejected")
    if attempt is not None:
        keys = [attempt_key(r["idempotency_key"], attempt) for r in rows]
        rows = [{**r, "idempotency_key": k, "customer_ref": customer_ref(k)} for r, k in zip(rows, keys)]
    with engine.begin() as conn:
        done = conn.execute(_insert(conn, bets).on_conflict_do_nothing(index_elements=["idempotency_key"])
                            .returning(bets.c.slip_id), [{**r, "status": "rejected"} for r in rows]).all()
        if attempt is None:
            _mark_slips(conn, [s for (s,) in done if s is not None], "rejected")
    return len(done)


def finish(engine: Engine, key: str, values: dict[str, Any]) -> bool:
    """Moves a pending row to its final state; a row already final is left alone. A status a
    pending bet may not take (``domain.bet_states``) is refused before anything is written."""
    bet_states.check("pending", values["status"])
    with engine.begin() as conn:
        result = conn.execute(update(bets).where(and_(bets.c.idempotency_key == key, bets.c.status == "pending"))
                              .values(**values).returning(bets.c.slip_id)).first()
        if result is not None and result[0] is not None:
            _mark_slips(conn, [result[0]], values["status"])
    return result is not None


def _mark_slips(conn: Connection, slip_ids: list[int], status: str) -> None:
    if slip_ids:
        conn.execute(update(bet_slips).where(bet_slips.c.slip_id.in_(slip_ids)).values(status=status))


def frame(conn: Connection, condition: Any = None) -> pl.DataFrame:
    query = select(bets).order_by(bets.c.bet_id)
    if condition is not None:
        query = query.where(condition)
    return pl.DataFrame([tuple(r) for r in conn.execute(query).all()], schema=BETS_SCHEMA, orient="row")


BETS_SCHEMA: dict[str, pl.DataType] = {
    c.name: {"Float": pl.Float64, "UtcDateTime": pl.Datetime("us", "UTC"), "BigInteger": pl.Int64}.get(
        type(c.type).__name__, pl.String) for c in bets.columns}


def unclaimed_slips(conn: Connection, slip_ids: list[int] | None = None, limit: int | None = None) -> pl.DataFrame:
    """Proposed slips with no ledger row yet, oldest first."""
    condition = and_(bet_slips.c.status == "proposed",
                     ~select(bets.c.bet_id).where(bets.c.idempotency_key == bet_slips.c.idempotency_key).exists())
    if slip_ids:
        condition = and_(condition, bet_slips.c.slip_id.in_(slip_ids))
    return queries.slips_frame(conn, condition, limit)


def record_settlement(engine: Engine, settled: list[dict[str, Any]], start_bankroll: float, now: datetime) -> int:
    """Settles placed bets (``settled``, or ``void`` when the result gave the stake back) and
    appends the bankroll after each, in settlement order. A bet settled by another run meanwhile
    is skipped (the update only touches placed rows)."""
    count = 0
    with engine.begin() as conn:
        bankroll = current_bankroll(conn, start_bankroll)
        for row in settled:
            bet_id = row.pop("bet_id")
            status = bet_states.check("placed", bet_states.settled_status(row["result"]))
            done = conn.execute(update(bets).where(and_(bets.c.bet_id == bet_id, bets.c.status == "placed"))
                                .values(**row, status=status.value, settled_at=now, updated_at=now)).rowcount
            if not done:
                continue
            bankroll += row["profit"]
            conn.execute(bankroll_history.insert().values(
                recorded_at=now, bet_id=bet_id, change=row["profit"], bankroll=bankroll,
                note=f"bet {bet_id} {row['result']}"))
            count += 1
    return count


def bankroll_frame(conn: Connection) -> pl.DataFrame:
    return queries.result_frame(conn, select(bankroll_history).order_by(bankroll_history.c.entry_id))


def current_bankroll(conn: Connection, start: float) -> float:
    """The bankroll after the last settlement; ``start`` before any."""
    last = conn.execute(select(bankroll_history.c.bankroll).order_by(bankroll_history.c.entry_id.desc())
                        .limit(1)).scalar_one_or_none()
    return start if last is None else float(last)


def counts_by_status(conn: Connection) -> dict[str, int]:
    return dict(conn.execute(select(bets.c.status, func.count()).group_by(bets.c.status)).all())  # type: ignore[arg-type]


def of_run(conn: Connection, run_id: str) -> pl.DataFrame:
    """The ledger rows one placement run wrote."""
    return frame(conn, bets.c.run_id == run_id)


def open_bets_with_event_status(conn: Connection) -> pl.DataFrame:
    """Placed, unsettled bets beside their event's status."""
    rows = conn.execute(select(bets.c.bet_id, bets.c.event_id, bets.c.bookmaker, bets.c.market,
                               events.c.status.label("event_status"))
                        .join(events, events.c.event_id == bets.c.event_id).where(bets.c.status == "placed")).all()
    return pl.DataFrame([tuple(r) for r in rows], orient="row",
                        schema=["bet_id", "event_id", "bookmaker", "market", "event_status"])


def with_status(conn: Connection, status: str) -> pl.DataFrame:
    return frame(conn, bets.c.status == status)
