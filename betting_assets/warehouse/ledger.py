"""The bets ledger: two-phase writes and the bankroll history.

A bet exists in the ledger before any venue hears of it: ``claim`` inserts the row as
``pending`` in its own transaction, and only the run whose insert went in may call the
venue. The unique idempotency key makes that a database decision, so two runs at once, a
retried op or a re-launched run cannot both claim one slip. Every later status change of a bet
or a slip is one guarded update (``move_bets``, ``move_slips``): checked by the state machine
(``domain.orders.states``) first, and written only where the row still has the status it moves
from, so a move another run made meanwhile is found rather than overwritten.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any

import polars as pl
from sqlalchemy import Connection, Engine, and_, func, select, update

from betting_assets.domain.orders import states as bet_states
from betting_assets.domain.orders.states import BetStatus, SlipStatus
from betting_assets.warehouse import queries
from betting_assets.warehouse.tables import bankroll_history, bet_slips, bets, events
from betting_assets.warehouse.writes import _insert


def customer_ref(key: str) -> str:
    """The reference the broker sees: 32 characters, as the Betfair API allows."""
    return hashlib.sha256(key.encode()).hexdigest()[:32]


def claim(engine: Engine, row: dict[str, Any]) -> bool:
    """Inserts a pending row and commits it; False when the key is already in the ledger."""
    status = bet_states.check(None, BetStatus.PENDING)
    with engine.begin() as conn:
        inserted = conn.execute(
            _insert(conn, bets).values(**row, status=status.value).on_conflict_do_nothing(
                index_elements=["idempotency_key"]).returning(bets.c.bet_id)).first()
    return inserted is not None


def move_bets(conn: Connection, condition: Any, old: BetStatus, new: BetStatus, values: dict[str, Any]) -> list[Any]:
    """Moves the bets matching ``condition`` from ``old`` to ``new`` (with ``values``) in one
    guarded update; the slip ids of those moved (a bet no longer ``old`` is left as it is)."""
    bet_states.check(old, new)
    return [r[0] for r in conn.execute(update(bets).where(and_(condition, bets.c.status == old.value))
                                       .values(**values, status=new.value).returning(bets.c.slip_id)).all()]


def move_slips(conn: Connection, slip_ids: list[int], new: SlipStatus, old: SlipStatus = SlipStatus.PROPOSED) -> int:
    """Moves slips from ``old`` to ``new`` in one guarded update; how many moved."""
    if not slip_ids:
        return 0
    bet_states.check_slip(old, new)
    return conn.execute(update(bet_slips).where(and_(bet_slips.c.slip_id.in_(slip_ids), bet_slips.c.status == old.value))
                        .values(status=new.value)).rowcount


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
    status = bet_states.check(None, BetStatus.REJECTED)
    if attempt is not None:
        keys = [attempt_key(r["idempotency_key"], attempt) for r in rows]
        rows = [{**r, "idempotency_key": k, "customer_ref": customer_ref(k)} for r, k in zip(rows, keys)]
    with engine.begin() as conn:
        done = conn.execute(_insert(conn, bets).on_conflict_do_nothing(index_elements=["idempotency_key"])
                            .returning(bets.c.slip_id), [{**r, "status": status.value} for r in rows]).all()
        if attempt is None:
            move_slips(conn, [s for (s,) in done if s is not None], SlipStatus.REJECTED)
    return len(done)


def finish(engine: Engine, key: str, values: dict[str, Any], old: BetStatus = BetStatus.PENDING) -> bool:
    """Moves a pending (or ``old``) row to its next state, and its slip with it; a row no longer
    ``old`` is left alone. A status the bet may not take (``domain.orders.states``) is refused
    before anything is written."""
    new = BetStatus(values["status"])
    changes = {k: v for k, v in values.items() if k != "status"}
    with engine.begin() as conn:
        moved = move_bets(conn, bets.c.idempotency_key == key, old, new, changes)
        move_slips(conn, [s for s in moved if s is not None], bet_states.slip_status(new),
                   bet_states.slip_status(old) if old != BetStatus.PENDING else SlipStatus.PROPOSED)
    return bool(moved)


def still_resting(engine: Engine, key: str, values: dict[str, Any]) -> bool:
    """A resting bet's matched part so far, written only while it is still resting."""
    changes = {k: v for k, v in values.items() if k != "status"}
    with engine.begin() as conn:
        return bool(conn.execute(update(bets).where(and_(bets.c.idempotency_key == key,
                                                         bets.c.status == BetStatus.RESTING)).values(**changes)).rowcount)


def frame(conn: Connection, condition: Any = None) -> pl.DataFrame:
    query = select(bets).order_by(bets.c.bet_id)
    if condition is not None:
        query = query.where(condition)
    return pl.DataFrame([tuple(r) for r in conn.execute(query).all()], schema=BETS_SCHEMA, orient="row")


BETS_SCHEMA: dict[str, pl.DataType] = {
    c.name: {"Float": pl.Float64, "UtcDateTime": pl.Datetime("us", "UTC"), "BigInteger": pl.Int64}.get(
        type(c.type).__name__, pl.String) for c in bets.columns}


def keys(conn: Connection, wanted: list[str]) -> list[str]:
    """Which of these idempotency keys the ledger holds already."""
    if not wanted:
        return []
    return list(conn.execute(select(bets.c.idempotency_key).where(bets.c.idempotency_key.in_(wanted))).scalars())


def unclaimed_slips(conn: Connection, slip_ids: list[int] | None = None, limit: int | None = None) -> pl.DataFrame:
    """Proposed slips with no ledger row yet, oldest first."""
    condition = and_(bet_slips.c.status == SlipStatus.PROPOSED,
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
            if not move_bets(conn, bets.c.bet_id == bet_id, BetStatus.PLACED, bet_states.settled_status(row["result"]),
                             {**row, "settled_at": now, "updated_at": now}):
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
                        .join(events, events.c.event_id == bets.c.event_id).where(bets.c.status == BetStatus.PLACED)).all()
    return pl.DataFrame([tuple(r) for r in rows], orient="row",
                        schema=["bet_id", "event_id", "bookmaker", "market", "event_status"])


def with_status(conn: Connection, status: BetStatus) -> pl.DataFrame:
    return frame(conn, bets.c.status == status.value)
