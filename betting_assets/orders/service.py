"""Placing proposed slips: reconcile what a previous run left pending, re-check each price
against what is on offer now, pass the risk gate, then claim-place-record one bet at a time.

Each step writes before the next may act: a rejection is in the ledger before the run moves
on, and a bet is claimed (pending, committed) before its broker is called, so a crash at any
point leaves either nothing or a pending row that the next run settles with the broker.

Reconciling, gating and placing hold the bankroll lock (``warehouse.locks``): the gate's book
and the claims it leads to are one step, so runs at once behave as some serial order of them
and no interleaving can break a cap. A slip refused by the gate or by a price move stays
proposed (the refusal is a ledger row of its own), because the next run, with a fixed setting
or a better price, may place it; only a closed market ends a slip.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import polars as pl
from sqlalchemy import Engine

from betting_assets.domain.orders.exchange_mapping import index_runners, runner_key
from betting_assets.domain.pricing.market_view import offers_at
from betting_assets.domain.orders.risk import (
    MARKET_CLOSED,
    Order,
    RiskLimits,
    book_from_ledger,
    gate,
    recheck,
    recheck_code,
    recheck_on_book,
)
from betting_assets.venues.betfair import client as exchange_client
from betting_assets.orders.brokers import Broker, ExchangeBroker, Fill, OrderRequest, PaperBroker
from betting_assets.settings import BettingMode, Settings
from betting_assets.warehouse import ledger, locks, queries, writes

QUOTE_LOOKBACK = timedelta(days=3)
BANKROLL_LOCK = "bankroll"


class PlacementRefused(RuntimeError):
    """The settings do not allow placement as asked (live mode, credentials)."""


def kill_reason(settings: Settings) -> str | None:
    if settings.exchange.kill_switch:
        return "BETTING_KILL_SWITCH is set"
    if settings.kill_file.exists():
        return f"the kill file {settings.kill_file} exists"
    return None


def broker_for(settings: Settings, client: Callable[[], exchange_client.PointedClient] | None = None) -> Broker:
    """Paper unless live placement is asked for in full: the live mode, the exchange broker, the
    app key and a session (a token, or an account to log in with). Anything in between is
    refused with what is missing. ``client`` makes the exchange's session instead of the
    settings' credentials (the sandbox's, in the demo)."""
    exchange = settings.exchange
    live = exchange.mode == BettingMode.LIVE
    if exchange.broker == "paper":
        if live:
            raise PlacementRefused("BETTING_MODE=live places real money and needs a real broker: set "
                                   "BETTING_BROKER=exchange with its credentials, or BETTING_MODE=paper")
        return PaperBroker()
    if not live:
        raise PlacementRefused("the exchange broker places real money: it runs only with BETTING_MODE=live "
                               f"(now {exchange.mode.value})")
    try:
        made = client() if client is not None else exchange_client.from_settings(exchange)
    except exchange_client.ExchangeUnavailable as exc:
        raise PlacementRefused(str(exc)) from None
    return ExchangeBroker(made, exchange.commission)


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
                              "stake": row["requested_stake"], "outcome": what, "reason": reason or ""})


STRATEGY_REF = "model_value"
"""the strategy slips come from, as the exchange's customerStrategyRef"""


def _fill_values(fill: Fill, now: datetime, note: str | None = None) -> dict[str, Any]:
    reasons = "; ".join(r for r in (note, fill.reason) if r) or None
    values: dict[str, Any] = {"status": fill.status, "broker_bet_id": fill.broker_bet_id, "reasons": reasons,
                              "updated_at": now, "refusal_codes": fill.code}
    if fill.status == "placed" and fill.price is not None:
        values.update(price=fill.price, quoted_price=fill.quoted_price, stake=fill.matched, placed_at=now)
    return values


def _request(row: dict[str, Any], min_fill: float) -> OrderRequest:
    return OrderRequest(customer_ref=row["customer_ref"], event_id=row["event_id"], market=row["market"],
                        side=row["side"], point=row["point"], price=row["requested_price"],
                        stake=row["requested_stake"], min_fill=min_fill, quoted_price=row.get("quoted_price"),
                        market_id=row.get("market_id"), selection_id=row.get("selection_id"),
                        handicap=row.get("handicap") or 0.0, market_version=row.get("market_version"),
                        strategy_ref=STRATEGY_REF)


def _send(engine: Engine, broker: Broker, row: dict[str, Any], now: datetime, outcome: PlacementReport,
          min_fill: float) -> None:
    fill = broker.place(_request(row, min_fill))
    if fill.status == "unknown":
        outcome.add("unknown", row, fill.reason)
        return
    values = _fill_values(fill, now, row.get("note"))
    ledger.finish(engine, row["idempotency_key"], values)
    outcome.add(fill.status, row, values["reasons"])


def reconcile(engine: Engine, broker: Broker, now: datetime, min_fill: float = 1.0) -> PlacementReport:
    """Pending rows from runs that stopped mid-way: the broker's record decides. An order the
    broker never saw is sent now (under the same reference) unless its market has closed."""
    outcome = PlacementReport()
    with locks.named_lock(engine, BANKROLL_LOCK):
        _reconcile(engine, broker, now, min_fill, outcome)
    return outcome


def _reconcile(engine: Engine, broker: Broker, now: datetime, min_fill: float, outcome: PlacementReport) -> None:
    with engine.connect() as conn:
        pending = ledger.with_status(conn, "pending")
    if pending.is_empty():
        return
    known = broker.lookup(pending["customer_ref"].to_list())
    for row in pending.iter_rows(named=True):
        fill = known.get(row["customer_ref"])
        if fill is not None:
            ledger.finish(engine, row["idempotency_key"], _fill_values(fill, now))
            outcome.add(f"reconciled_{fill.status}", row, fill.reason)
        elif row["commence_time"] <= now:
            ledger.finish(engine, row["idempotency_key"], {"status": "failed", "updated_at": now,
                                                            "reasons": "never reached the broker before the event started"})
            outcome.add("failed", row, "never reached the broker before the event started")
        else:
            _send(engine, broker, row, now, outcome, min_fill)


def candidate_rows(engine: Engine, settings: Settings, broker: Broker, now: datetime, run_id: str | None,
                   slip_ids: list[int] | None = None, limit: int | None = None) -> list[dict[str, Any]]:
    """Unclaimed proposed slips as ledger rows, each with the price on offer now (None when
    the bookmaker no longer quotes the line). Bound for an exchange, each also carries the
    market and runner the mapping found and that runner's live book."""
    with engine.connect() as conn:
        slips = ledger.unclaimed_slips(conn, slip_ids, limit)
        if slips.is_empty():
            return []
        ids = slips["event_id"].unique().to_list()
        cut = now + timedelta(microseconds=1)  # a snapshot taken at this very moment is on offer now
        odds = queries.odds_for_events(conn, ids, now - QUOTE_LOOKBACK, cut)
        names = queries.match_names(conn, ids)
        mapping = queries.exchange_markets_frame(conn, ids) if broker.name == "exchange" else None
    cuts = slips.select("event_id", "sport_key", "commence_time").unique("event_id").with_columns(
        decision_time=pl.lit(cut).cast(pl.Datetime("us", "UTC")))
    offered = offers_at(odds, cuts, sharp_book=settings.features.sharp_book, lookback=QUOTE_LOOKBACK,
                        commission=settings.exchange.commission).select(
        "event_id", "market", "side", "point", "bookmaker", pl.col("price").alias("price_now"),
        pl.col("quoted_price").alias("quoted_now"))
    priced = slips.join(offered, on=["event_id", "market", "side", "point", "bookmaker"], how="left")
    rows = [{
        "idempotency_key": s["idempotency_key"], "customer_ref": ledger.customer_ref(s["idempotency_key"]),
        "slip_id": s["slip_id"], "broker": broker.name, "event_id": s["event_id"], "sport_key": s["sport_key"],
        "match": names.get(s["event_id"], s["event_id"]),
        "commence_time": s["commence_time"], "market": s["market"], "side": s["side"], "point": s["point"],
        "bookmaker": s["bookmaker"], "requested_price": s["price"], "requested_stake": s["stake"],
        "edge": s["edge"], "model_version": s["model_version"], "model_prob": s["model_prob"],
        "price_now": s["price_now"], "quoted_now": s["quoted_now"], "created_at": now, "updated_at": now, "run_id": run_id,
        "quoted_price": s.get("quoted_price") or s["price"], "proposed_version": s.get("market_version"),
    } for s in priced.iter_rows(named=True)]
    if mapping is not None:
        _on_exchange(engine, rows, mapping, broker, now)
    return rows


def _on_exchange(engine: Engine, rows: list[dict[str, Any]], mapping: pl.DataFrame, broker: Broker,
                 now: datetime) -> None:
    """Each row's exchange market and runner (match odds, over/under 2.5 or the handicap line,
    as the mapping holds them) and its live book, read in one pass over the markets and kept
    whole."""
    def keep(books: dict[str, Any]) -> None:
        with engine.begin() as conn:
            writes.record_exchange_books(conn, books, now, "placement")

    index = index_runners(mapping)
    hits = [index.get(runner_key(row)) for row in rows]
    markets = sorted({hit["market_id"] for hit in hits if hit})
    quotes = getattr(broker, "quotes")(markets, keep) if markets else {}
    for row, hit in zip(rows, hits):
        row.update(on_exchange=True, market_id=hit["market_id"] if hit else None,
                   selection_id=hit["selection_id"] if hit else None, handicap=hit["handicap"] if hit else 0.0,
                   book=quotes.get((hit["market_id"], hit["selection_id"], hit["handicap"])) if hit else None)


LEDGER_FIELDS = [name for name in ledger.BETS_SCHEMA if name not in ("bet_id", "status")]


def _ledger_row(row: dict[str, Any], **changes: Any) -> dict[str, Any]:
    return {k: v for k, v in {**row, **changes}.items() if k in LEDGER_FIELDS}


def recheck_rows(rows: list[dict[str, Any]], limits: RiskLimits, now: datetime, outcome: PlacementReport,
                 commission: float = 0.0, min_stake: float = 1.0,
                 ) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
    """Rows still on offer at an acceptable price (taken at today's price, edge recomputed);
    rows whose market has closed (final); rows whose price fell too far, or that cannot be
    placed on the exchange now (a later run may find them placeable). Refusals come as ledger
    rows with the reason."""
    fresh, closed, moved = [], [], []
    for row in rows:
        if row.get("on_exchange"):
            _recheck_on_exchange(row, limits, now, commission, min_stake, outcome, fresh, closed, moved)
            continue
        reason = recheck(row["requested_price"], row["price_now"], row["commence_time"], now, limits.price_tolerance)
        if reason:
            (closed if reason.startswith(MARKET_CLOSED) else moved).append(
                _ledger_row(row, reasons=reason, refusal_codes=recheck_code(reason)))
            outcome.add("refused", row, reason)
            continue
        price = row["price_now"]
        fresh.append({**row, "requested_price": price, "quoted_price": row["quoted_now"],
                      "edge": row["model_prob"] * price - 1.0})
    return fresh, closed, moved


def _recheck_on_exchange(row: dict[str, Any], limits: RiskLimits, now: datetime, commission: float, min_stake: float,
                         outcome: PlacementReport, fresh: list[dict[str, Any]], closed: list[dict[str, Any]],
                         moved: list[dict[str, Any]]) -> None:
    if row["market_id"] is None:
        reason = "not mapped to an exchange market (see the exchange_mapping findings)"
        moved.append(_ledger_row(row, reasons=reason, refusal_codes="not_mapped"))
        outcome.add("refused", row, reason)
        return
    verdict = recheck_on_book(row["requested_price"], row["book"], row["proposed_version"], row["requested_stake"],
                              row["commence_time"], now, limits.price_tolerance, commission, min_stake)
    if verdict.reason:
        (closed if verdict.final else moved).append(_ledger_row(row, reasons=verdict.reason,
                                                                refusal_codes=verdict.code))
        outcome.add("refused", row, verdict.reason)
        return
    price = verdict.price or row["requested_price"]
    fresh.append({**row, "requested_price": price, "quoted_price": verdict.quoted_price,
                  "requested_stake": verdict.stake, "market_version": verdict.version, "note": verdict.note,
                  "edge": row["model_prob"] * price - 1.0})


def record_refusals(engine: Engine, closed: list[dict[str, Any]], moved: list[dict[str, Any]], attempt: str) -> None:
    ledger.record_rejections(engine, closed)
    ledger.record_rejections(engine, moved, attempt=attempt)


def attempt_tag(run_id: str | None) -> str:
    """Names one placement attempt in the keys of its refusals: the Dagster run (so a retried
    op writes nothing twice), or a fresh id outside Dagster."""
    return run_id or uuid.uuid4().hex[:16]


def gate_and_place(engine: Engine, broker: Broker, rows: list[dict[str, Any]], limits: RiskLimits,
                   start_bankroll: float, now: datetime, kill: Callable[[], str | None], outcome: PlacementReport,
                   attempt: str, min_fill: float = 1.0) -> None:
    """The risk gate over the book as the ledger has it, then a claim and a broker call per
    accepted order, all under the bankroll lock. Rows another run claimed since they were
    loaded are left out before gating, so they are neither placed nor counted twice."""
    with locks.named_lock(engine, BANKROLL_LOCK):
        with engine.connect() as conn:
            book_rows = ledger.frame(conn)
        held = set(book_rows["idempotency_key"].to_list())
        mine = []
        for row in rows:
            if row["idempotency_key"] in held:
                outcome.add("already_claimed", row, "another run holds this slip")
            else:
                mine.append(row)
        available = getattr(broker, "available", None)
        book = book_from_ledger(book_rows, start_bankroll, now, kill(), available() if available else None)
        orders = [Order(r["idempotency_key"], r["event_id"], r["requested_price"], r["requested_stake"], r["edge"],
                        quoted_price=r.get("quoted_price"), on_exchange=bool(r.get("on_exchange")))
                  for r in mine]
        passed, rejected = [], []
        for row, verdict in zip(mine, gate(orders, book, limits, now)):
            if verdict.accepted:
                passed.append(row)
            else:
                reason = "; ".join(verdict.reasons)
                rejected.append(_ledger_row(row, reasons=reason, refusal_codes=",".join(verdict.codes)))
                outcome.add("rejected", row, reason)
        ledger.record_rejections(engine, rejected, attempt=attempt)
        place(engine, broker, passed, now, outcome, min_fill, kill)


def place(engine: Engine, broker: Broker, rows: list[dict[str, Any]], now: datetime, outcome: PlacementReport,
          min_fill: float = 1.0, kill: Callable[[], str | None] | None = None) -> None:
    """``kill`` is asked before each bet, so a kill switch thrown mid-batch stops the rest (they
    stay proposed for a later run)."""
    for row in rows:
        stop = kill() if kill is not None else None
        if stop:
            outcome.add("stopped", row, f"kill switch: {stop}")
            continue
        if not ledger.claim(engine, _ledger_row(row)):
            outcome.add("already_claimed", row, "another run holds this slip")
            continue
        _send(engine, broker, row, now, outcome, min_fill)


def run_placement(engine: Engine, broker: Broker, settings: Settings, now: datetime, run_id: str | None = None,
                  slip_ids: list[int] | None = None, limit: int | None = None) -> PlacementReport:
    """The whole pass outside Dagster (the job runs the same steps as ops)."""
    outcome = reconcile(engine, broker, now, settings.sizing.min_stake)
    limits = settings.risk
    attempt = attempt_tag(run_id)
    rows = candidate_rows(engine, settings, broker, now, run_id, slip_ids, limit)
    fresh, closed, moved = recheck_rows(rows, limits, now, outcome, settings.exchange.commission,
                                        settings.sizing.min_stake)
    record_refusals(engine, closed, moved, attempt)
    gate_and_place(engine, broker, fresh, limits, settings.bankroll, now, lambda: kill_reason(settings), outcome,
                   attempt, settings.sizing.min_stake)
    return outcome
