"""Placing proposed slips: reconcile what a previous run left pending, re-check each price
against what is on offer now, pass the gate, then claim-place-record one bet at a time.

Each step writes before the next may act: a rejection is in the ledger before the run moves
on, and a bet is claimed (pending, committed) before its venue is called, so a crash at any
point leaves either nothing or a pending row that the next run settles with the venue.

Reconciling, gating and placing hold the bankroll lock (``warehouse.locks``): the gate's book
and the claims it leads to are one step, so runs at once behave as some serial order of them
and no interleaving can break a cap. The gate is the backtest's (``domain.orders.account``): its
book is the ledger folded through the controls' hooks, its controls the same compiled checks,
so a slip is refused here exactly when the backtest would have refused it. A slip the gate refuses is refused for good (its slip
ends rejected), as the backtest refuses a candidate once: it was decided at its decision time,
and placing it later would be another decision. A slip whose price moved, or that the venue
cannot take now, stays proposed (the refusal is a ledger row of its own), because the next run
may find the price back; a closed market ends it.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import polars as pl
from sqlalchemy import Engine

from betting_assets.domain.orders.account import Book, Order, book_from_ledger, gate
from betting_assets.domain.orders.controls import Controls
from betting_assets.domain.orders.risk import MARKET_CLOSED, RiskLimits, recheck, recheck_code, recheck_on_book
from betting_assets.domain.orders.states import BetStatus
from betting_assets.domain.pricing.market_view import offers_at
from betting_assets.settings import Settings
from betting_assets.venues.base import Fill, OrderRequest, Venue
from betting_assets.orders import account_check
from betting_assets.warehouse import ledger, locks, queries

QUOTE_LOOKBACK = timedelta(days=3)
BANKROLL_LOCK = locks.BANKROLL


def patience(settings: Settings) -> timedelta:
    """How long a resting order may wait before it is cancelled."""
    return timedelta(seconds=settings.exchange.order_patience_s)


def movers(settings: Settings) -> dict[str, Any]:
    """The live strategies that may move their resting orders (``reprice``), by name: none unless
    orders rest (a patience above 0) and BETTING_EXCHANGE_REPRICE is on. Built as bet_slips builds
    them, so a strategy prices a move with the parameters it proposed with."""
    if not settings.exchange.reprice or settings.exchange.order_patience_s == 0:
        return {}
    from betting_assets.betting.pipeline import strategy_runs

    runs = strategy_runs([s.name for s in settings.live.strategies], settings)
    return {run.strategy.name: run.strategy for run in runs if hasattr(run.strategy, "reprice")}


def kill_reason(settings: Settings) -> str | None:
    if settings.exchange.kill_switch:
        return "BETTING_KILL_SWITCH is set"
    if settings.kill_file.exists():
        return f"the kill file {settings.kill_file} exists"
    return None


def account_book(engine: Engine, settings: Settings, venue: Venue, now: datetime, *, funds: float | None = None,
                 kill: bool = False) -> Book:
    """The account as the ledger has it at ``now``, folded through the controls' hooks; the day's
    cash taken at the day's first decision."""
    with engine.connect() as conn:
        rows = ledger.frame(conn)
        first = queries.first_decision(conn, now)
    return book_from_ledger(rows, settings.bankroll, now, settings.risk, venue.rules, venue_name=venue.name,
                            first_decision=first, kill_switch=kill, funds=funds)


@dataclass
class PlacementReport:
    counts: dict[str, int] = field(default_factory=dict)
    rows: list[dict[str, Any]] = field(default_factory=list)
    """one line per slip handled: what happened and why"""

    def add(self, what: str, row: dict[str, Any] | None = None, reason: str | None = None) -> None:
        self.counts[what] = self.counts.get(what, 0) + 1
        if row is not None:
            self.rows.append({"slip": row.get("slip_id"), "event": row["event_id"],
                              "match": row.get("match") or row["event_id"], "market": row["market"], "side": row["side"],
                              "bookmaker": row["bookmaker"], "price": row["requested_price"],
                              "stake": row["requested_stake"], "strategy": row.get("strategy"), "outcome": what,
                              "reason": reason or ""})


def _fill_values(fill: Fill, now: datetime, note: str | None = None) -> dict[str, Any]:
    reasons = "; ".join(r for r in (note, fill.reason) if r) or None
    values: dict[str, Any] = {"status": fill.status, "reasons": reasons, "updated_at": now,
                              "refusal_codes": fill.code}
    if fill.broker_bet_id is not None:   # a cleared report names no bet: the id the ledger knows stays
        values["broker_bet_id"] = fill.broker_bet_id
    if fill.status == BetStatus.PLACED and fill.price is not None:
        values.update(price=fill.price, quoted_price=fill.quoted_price, stake=fill.matched, placed_at=now)
    if fill.status == BetStatus.RESTING:
        values.update(stake=fill.matched, placed_at=now)
        if fill.price is not None:
            values.update(price=fill.price, quoted_price=fill.quoted_price)
    return values


def _request(row: dict[str, Any], min_fill: float) -> OrderRequest:
    return OrderRequest(customer_ref=row["customer_ref"], event_id=row["event_id"], market=row["market"],
                        side=row["side"], point=row["point"], price=row["requested_price"],
                        stake=row["requested_stake"], min_fill=min_fill, quoted_price=row.get("quoted_price"),
                        market_id=row.get("market_id"), selection_id=row.get("selection_id"),
                        handicap=row.get("handicap") or 0.0, market_version=row.get("market_version"),
                        strategy_ref=row["strategy"], fill_or_kill=row.get("fill_or_kill", True))


def _send(engine: Engine, venue: Venue, row: dict[str, Any], now: datetime, outcome: PlacementReport,
          min_fill: float) -> Fill:
    fill = venue.place(_request(row, min_fill))
    if fill.status == "unknown":
        outcome.add("unknown", row, fill.reason)
        return fill
    values = _fill_values(fill, now, row.get("note"))
    ledger.finish(engine, row["idempotency_key"], values)
    outcome.add(fill.status, row, values["reasons"])
    return fill


def venue_error(fill: Fill) -> bool:
    """An answer that says the venue is in trouble rather than that the order was refused on its
    merits: none at all, or the venue's own failure."""
    return fill.status == "unknown" or fill.fault


def reconcile(engine: Engine, venue: Venue, now: datetime, min_fill: float = 1.0,
              patience: timedelta = timedelta(0), moving: dict[str, Any] | None = None) -> PlacementReport:
    """Resting orders brought up to date (``_reconcile_resting``), then pending rows from runs
    that stopped mid-way: the venue's record decides. An order the venue never saw is sent now
    (under the same reference) unless its market has closed."""
    outcome = PlacementReport()
    with locks.named_lock(engine, BANKROLL_LOCK):
        _reconcile(engine, venue, now, min_fill, outcome, patience, moving or {})
    return outcome


def reconcile_resting(engine: Engine, venue: Venue, now: datetime, patience: timedelta) -> PlacementReport:
    """``_reconcile_resting`` under the bankroll lock, as settlement asks before it settles."""
    outcome = PlacementReport()
    with locks.named_lock(engine, BANKROLL_LOCK):
        _reconcile_resting(engine, venue, now, patience, outcome)
    return outcome


def _bet_ids(rows: pl.DataFrame) -> dict[str, str]:
    """The venue bet id of each ledger reference that has one: what lookups ask by."""
    return {r: b for r, b in zip(rows["customer_ref"].to_list(), rows["broker_bet_id"].to_list()) if b}


def _reconcile_resting(engine: Engine, venue: Venue, now: datetime, patience: timedelta,
                       outcome: PlacementReport, moving: dict[str, Any] | None = None) -> None:
    """Every resting order as the venue holds it now: matched since (the ledger's stake follows),
    ended (placed with what matched, lapsed or cancelled with nothing), or still waiting, and
    then cancelled once it has waited ``patience`` or its event has started; one still waiting
    with nothing matched is first offered to its strategy to move (``_move``)."""
    with engine.connect() as conn:
        resting = ledger.with_status(conn, BetStatus.RESTING)
    if resting.is_empty():
        return
    ids = _bet_ids(resting)
    known = venue.lookup(resting["customer_ref"].to_list(), ids)
    due: dict[str, tuple[str, str]] = {}    # reference → (market, venue bet id) to cancel
    waiting: list[dict[str, Any]] = []
    for row in resting.iter_rows(named=True):
        held = known.get(row["customer_ref"])
        waited = now >= (row["placed_at"] or row["created_at"]) + patience or now >= row["commence_time"]
        market = (held.market_id or row["market_id"]) if held is not None else None
        if held is not None and held.status == BetStatus.RESTING and held.broker_bet_id and market:
            if waited:
                due[row["customer_ref"]] = (market, held.broker_bet_id)
            elif held.matched == 0 and row["strategy"] in (moving or {}):
                waiting.append({**row, "market_id": market, "broker_bet_id": held.broker_bet_id})
    if due:
        venue.cancel(list(due.values()))
        known.update(venue.lookup(list(due), ids))
    moved, refused = _move(engine, venue, waiting, moving or {}, now, outcome)
    if refused:   # the cancel of a refused replacement stands: the venue says what is left
        known.update(venue.lookup(refused, ids))
    for row in resting.iter_rows(named=True):
        fill = known.get(row["customer_ref"])
        if fill is None or fill.status == "unknown" or row["customer_ref"] in moved:
            continue
        values = _fill_values(fill, now)
        values.pop("placed_at", None)      # placed when it first rested
        if fill.status == BetStatus.PLACED and not values["reasons"] and fill.matched < row["requested_stake"] - 1e-9:
            values["reasons"] = (f"partly matched: {fill.matched:.2f} of {row['requested_stake']:.2f}, the rest "
                                 "lapsed or was cancelled")
        if fill.status == BetStatus.RESTING:
            ledger.still_resting(engine, row["idempotency_key"], values)
            continue
        ledger.finish(engine, row["idempotency_key"], values, old=BetStatus.RESTING)
        outcome.add(f"rested_{fill.status}", row, fill.reason)


def _move(engine: Engine, venue: Venue, waiting: list[dict[str, Any]], moving: dict[str, Any], now: datetime,
          outcome: PlacementReport) -> tuple[set[str], list[str]]:
    """Orders resting with nothing matched, each offered to its strategy with the live book; one
    it moves is replaced at the venue and the ledger row follows the new bet: its id, and the
    price it now asks (the old bet's id and price kept in its reasons). The old bet matched
    nothing, so one ledger row stays one stake. A replacement the venue refused leaves the cancel
    standing. The references moved, which the caller leaves alone, and those refused, which it
    looks up again."""
    if not waiting:
        return set(), []
    from betting_assets.domain.orders.resting import RestingOrder
    from betting_assets.domain.pricing.commission import net_price

    quotes = venue.quotes(sorted({r["market_id"] for r in waiting}))
    handled, refused = set(), []
    for row in waiting:
        quote = (quotes.get((row["market_id"], row["selection_id"], row["point"]))
                 or quotes.get((row["market_id"], row["selection_id"], 0.0)))
        asked, net = row["quoted_price"] or row["requested_price"], row["requested_price"]
        rate = 1.0 - (net - 1.0) / (asked - 1.0) if asked > 1.0 else 0.0   # the rate the row was priced at
        prob = (1.0 + row["edge"]) / net if row["edge"] is not None and net > 0 else None   # edge = p · net − 1
        order = RestingOrder(row["strategy"], asked, quote.back_price if quote and quote.status == "OPEN" else None,
                             prob, max(rate, 0.0))
        price = moving[row["strategy"]].reprice(order)
        if price is None or price >= asked:
            continue
        answer = venue.replace(row["market_id"], row["broker_bet_id"], price)
        note = f"moved by {row['strategy']} from {asked:g} to {price:g} (bet {row['broker_bet_id']} replaced)"
        if answer.fill is None:
            outcome.add("replace_refused", row, f"{note}: {answer.reason}")
            refused.append(row["customer_ref"])
            continue
        handled.add(row["customer_ref"])
        values = {**_fill_values(answer.fill, now, note), "quoted_price": price,
                  "requested_price": net_price(price, order.commission),
                  "edge": prob * net_price(price, order.commission) - 1.0 if prob is not None else row["edge"]}
        values.pop("placed_at", None)
        if answer.fill.status == BetStatus.RESTING:
            ledger.still_resting(engine, row["idempotency_key"], values)
        else:
            if answer.fill.price is not None:
                values.update(price=answer.fill.price, quoted_price=answer.fill.quoted_price)
            ledger.finish(engine, row["idempotency_key"], values, old=BetStatus.RESTING)
        outcome.add("replaced", row, note)
    return handled, refused


def _reconcile(engine: Engine, venue: Venue, now: datetime, min_fill: float, outcome: PlacementReport,
               patience: timedelta = timedelta(0), moving: dict[str, Any] | None = None) -> None:
    _reconcile_resting(engine, venue, now, patience, outcome, moving)
    with engine.connect() as conn:
        pending = ledger.with_status(conn, BetStatus.PENDING)
    if pending.is_empty():
        return
    known = venue.lookup(pending["customer_ref"].to_list(), _bet_ids(pending))
    for row in pending.iter_rows(named=True):
        fill = known.get(row["customer_ref"])
        if fill is not None:
            ledger.finish(engine, row["idempotency_key"], _fill_values(fill, now))
            outcome.add(f"reconciled_{fill.status}", row, fill.reason)
        elif row["commence_time"] <= now:
            reason = "never reached the venue before the event started"
            ledger.finish(engine, row["idempotency_key"], {"status": BetStatus.FAILED, "updated_at": now,
                                                            "reasons": reason})
            outcome.add(BetStatus.FAILED, row, reason)
        else:
            _send(engine, venue, {**row, "fill_or_kill": patience == timedelta(0)}, now, outcome, min_fill)


def candidate_rows(engine: Engine, settings: Settings, venue: Venue, now: datetime, run_id: str | None,
                   slip_ids: list[int] | None = None, limit: int | None = None) -> list[dict[str, Any]]:
    """Unclaimed proposed slips as ledger rows, in the order they were proposed, each with the
    price on offer now (None when the bookmaker no longer quotes the line). At a venue that
    prices from its own book, the venue adds where each sits on it and its live book
    (``Venue.locate``)."""
    with engine.connect() as conn:
        slips = ledger.unclaimed_slips(conn, slip_ids, limit)
        if slips.is_empty():
            return []
        ids = slips["event_id"].unique().to_list()
        cut = now + timedelta(microseconds=1)  # a snapshot taken at this very moment is on offer now
        odds = queries.odds_for_events(conn, ids, now - QUOTE_LOOKBACK, cut)
        names = queries.match_names(conn, ids)
    cuts = slips.select("event_id", "sport_key", "commence_time").unique("event_id").with_columns(
        decision_time=pl.lit(cut).cast(pl.Datetime("us", "UTC")))
    offered = offers_at(odds, cuts, sharp_book=settings.features.sharp_book, lookback=QUOTE_LOOKBACK,
                        commission=settings.exchange.commission).select(
        "event_id", "market", "side", "point", "bookmaker", pl.col("price").alias("price_now"),
        pl.col("quoted_price").alias("quoted_now"))
    priced = slips.join(offered, on=["event_id", "market", "side", "point", "bookmaker"], how="left",
                        maintain_order="left")
    rows = [{
        "idempotency_key": s["idempotency_key"], "customer_ref": ledger.customer_ref(s["idempotency_key"]),
        "slip_id": s["slip_id"], "broker": venue.name.value, "strategy": s["strategy"], "group_key": s["group_key"],
        "event_id": s["event_id"], "sport_key": s["sport_key"], "match": names.get(s["event_id"], s["event_id"]),
        "commence_time": s["commence_time"], "market": s["market"], "side": s["side"], "point": s["point"],
        "bookmaker": s["bookmaker"], "requested_price": s["price"], "requested_stake": s["stake"],
        "edge": s["edge"], "prob": s["prob"], "model_version": s["model_version"],
        "price_now": s["price_now"], "quoted_now": s["quoted_now"], "created_at": now, "updated_at": now,
        "run_id": run_id, "quoted_price": s.get("quoted_price") or s["price"],
        "proposed_version": s.get("market_version"), "on_venue_book": venue.books_own_prices,
        "fill_or_kill": settings.exchange.order_patience_s == 0,
    } for s in priced.iter_rows(named=True)]
    if venue.books_own_prices:
        venue.locate(engine, rows, now)
    return rows


LEDGER_FIELDS = [name for name in ledger.BETS_SCHEMA if name not in ("bet_id", "status")]


def _ledger_row(row: dict[str, Any], **changes: Any) -> dict[str, Any]:
    return {k: v for k, v in {**row, **changes}.items() if k in LEDGER_FIELDS}


def _edge(row: dict[str, Any], price: float) -> float | None:
    """The expected value per unit at the price now; none where the strategy claimed no probability."""
    return row["prob"] * price - 1.0 if row.get("prob") is not None else row.get("edge")


def recheck_rows(rows: list[dict[str, Any]], limits: RiskLimits, now: datetime, outcome: PlacementReport,
                 commission: float = 0.0, min_stake: float = 1.0,
                 ) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
    """Rows still on offer at an acceptable price (taken at today's price, edge recomputed);
    rows whose market has closed (final); rows whose price fell too far, or that cannot be
    placed at the venue now (a later run may find them placeable). Refusals come as ledger
    rows with the reason."""
    fresh, closed, moved = [], [], []
    for row in rows:
        if row.get("on_venue_book"):
            _recheck_on_book(row, limits, now, commission, min_stake, outcome, fresh, closed, moved)
            continue
        reason = recheck(row["requested_price"], row["price_now"], row["commence_time"], now, limits.price_tolerance)
        if reason:
            (closed if reason.startswith(MARKET_CLOSED) else moved).append(
                _ledger_row(row, reasons=reason, refusal_codes=recheck_code(reason)))
            outcome.add("refused", row, reason)
            continue
        price = row["price_now"]
        fresh.append({**row, "requested_price": price, "quoted_price": row["quoted_now"], "edge": _edge(row, price)})
    return fresh, closed, moved


def _recheck_on_book(row: dict[str, Any], limits: RiskLimits, now: datetime, commission: float, min_stake: float,
                     outcome: PlacementReport, fresh: list[dict[str, Any]], closed: list[dict[str, Any]],
                     moved: list[dict[str, Any]]) -> None:
    if row["market_id"] is None:
        reason = "not mapped to a market of the venue (see the exchange_mapping findings)"
        moved.append(_ledger_row(row, reasons=reason, refusal_codes="not_mapped"))
        outcome.add("refused", row, reason)
        return
    verdict = recheck_on_book(row["requested_price"], row["book"], row["proposed_version"], row["requested_stake"],
                              row["commence_time"], now, limits.price_tolerance, row.get("commission_rate", commission),
                              min_stake)
    if verdict.reason:
        (closed if verdict.final else moved).append(_ledger_row(row, reasons=verdict.reason,
                                                                refusal_codes=verdict.code))
        outcome.add("refused", row, verdict.reason)
        return
    price = verdict.price or row["requested_price"]
    fresh.append({**row, "requested_price": price, "quoted_price": verdict.quoted_price,
                  "requested_stake": verdict.stake, "market_version": verdict.version, "note": verdict.note,
                  "edge": _edge(row, price)})


def record_refusals(engine: Engine, closed: list[dict[str, Any]], moved: list[dict[str, Any]], attempt: str) -> None:
    ledger.record_rejections(engine, closed)
    ledger.record_rejections(engine, moved, attempt=attempt)


def attempt_tag(run_id: str | None) -> str:
    """Names one placement attempt in the keys of its refusals: the Dagster run (so a retried
    op writes nothing twice), or a fresh id outside Dagster."""
    return run_id or uuid.uuid4().hex[:16]


def gate_and_place(engine: Engine, venue: Venue, rows: list[dict[str, Any]], settings: Settings, now: datetime,
                   kill: Callable[[], str | None], outcome: PlacementReport, min_fill: float = 1.0,
                   controls: Controls | None = None) -> None:
    """The gate over the account as the ledger has it, then a claim and a venue call per accepted
    order, all under the bankroll lock. Rows another run claimed since they were loaded are left
    out before gating, so they are neither placed nor counted twice."""
    with locks.named_lock(engine, BANKROLL_LOCK):
        with engine.connect() as conn:
            held = set(ledger.keys(conn, [r["idempotency_key"] for r in rows]))
        mine = []
        for row in rows:
            if row["idempotency_key"] in held:
                outcome.add("already_claimed", row, "another run holds this slip")
            else:
                mine.append(row)
        stop = kill()
        if mine:
            account_check.anchor_once(engine, venue, now)
        held = venue.account() if mine else None
        book = account_book(engine, settings, venue, now, funds=held.available if held is not None else None,
                            kill=bool(stop))
        book.take_day_cash()   # slips of a day no decision of today's proposed: the day's cash is taken now
        counts = venue.rules.transactions_per_hour is not None
        orders = [Order(r["idempotency_key"], r["event_id"], r["requested_price"], r["requested_stake"], r["edge"],
                        quoted_price=r.get("quoted_price"), venue_tx=counts, group=r.get("group_key"))
                  for r in mine]
        passed, rejected = [], []
        for row, verdict in zip(mine, gate(orders, book, now, controls or Controls())):
            if verdict.accepted:
                passed.append(row)
            else:
                reason = "; ".join(f"kill switch: {stop}" if r.code == "kill_switch" else r.message
                                   for r in verdict.refusals)
                rejected.append(_ledger_row(row, reasons=reason, refusal_codes=",".join(verdict.codes)))
                outcome.add(BetStatus.REJECTED, row, reason)
        ledger.record_rejections(engine, rejected)
        place(engine, venue, passed, now, outcome, min_fill, kill, settings.exchange.max_consecutive_errors)


def place(engine: Engine, venue: Venue, rows: list[dict[str, Any]], now: datetime, outcome: PlacementReport,
          min_fill: float = 1.0, kill: Callable[[], str | None] | None = None, max_errors: int = 3) -> None:
    """``kill`` is asked before each bet, so a kill switch thrown mid-batch stops the rest (they
    stay proposed for a later run); so does the circuit breaker after ``max_errors`` venue errors
    in a row (flumine's rule: a venue in trouble is not sent more orders)."""
    errors = 0
    for row in rows:
        stop = kill() if kill is not None else None
        if stop:
            outcome.add("stopped", row, f"kill switch: {stop}")
            continue
        if errors >= max_errors:
            outcome.add("stopped", row, f"circuit breaker: {errors} venue errors in a row; the slip stays proposed")
            continue
        if not ledger.claim(engine, _ledger_row(row)):
            outcome.add("already_claimed", row, "another run holds this slip")
            continue
        errors = errors + 1 if venue_error(_send(engine, venue, row, now, outcome, min_fill)) else 0


def run_placement(engine: Engine, venue: Venue, settings: Settings, now: datetime, run_id: str | None = None,
                  slip_ids: list[int] | None = None, limit: int | None = None) -> PlacementReport:
    """The whole pass outside Dagster (the job runs the same steps as ops)."""
    min_stake = settings.risk.min_stake
    outcome = reconcile(engine, venue, now, min_stake, patience(settings), movers(settings))
    attempt = attempt_tag(run_id)
    rows = candidate_rows(engine, settings, venue, now, run_id, slip_ids, limit)
    fresh, closed, moved = recheck_rows(rows, settings.risk, now, outcome, settings.exchange.commission, min_stake)
    record_refusals(engine, closed, moved, attempt)
    gate_and_place(engine, venue, fresh, settings, now, lambda: kill_reason(settings), outcome, min_stake)
    return outcome
