"""Rules that re-derive what the downstream assets claim from what the warehouse holds: the
backtest's prices were on offer, its ledger adds up, the slips were within bounds at a current
price, the bets are settled and the bankroll history has no gap. Each gives a ``CheckOutcome``
whose findings name the bet, slip or entry that broke it."""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from typing import Any

import polars as pl

from betting_assets.domain.data.normalize import Finding
from betting_assets.domain.data.quality import CheckOutcome
from betting_assets.domain.orders.account import Order, static_refusals
from betting_assets.domain.orders.book import VenueRules
from betting_assets.domain.orders.risk import RiskLimits
from betting_assets.domain.vocabulary import EventStatus

LINE = ["event_id", "bookmaker", "market", "side", "point"]
CENTS = 0.005


def prices_on_offer(bets: pl.DataFrame, odds: pl.DataFrame, lookback: timedelta) -> CheckOutcome:
    """Every backtest bet's price is a valid quote of that bookmaker's line in a snapshot taken
    before its decision time and no older than ``lookback``. ``bets``: the backtest ledger
    (with ``strategy``); ``odds``: the warehouse's normalised quotes of those events. The price
    compared is the one quoted (an exchange's ``price`` is net of commission)."""
    if bets.is_empty():
        return CheckOutcome("prices_on_offer", 0)
    if "quoted_price" in bets.columns:
        bets = bets.with_columns(price=pl.col("quoted_price").fill_null(pl.col("price")))
    quotes = odds.filter(pl.col("is_valid")).select(*LINE, "snapshot_time", pl.col("price_decimal").alias("quoted"))
    joined = bets.with_row_index("bet").join(quotes, on=[*LINE, "snapshot_time"], how="left", nulls_equal=True)
    found = joined.group_by("bet").agg(
        pl.col("quoted").is_not_null().any().alias("quoted_then"),
        ((pl.col("quoted") - pl.col("price")).abs() < 1e-9).any().alias("same_price"),
        pl.first("strategy", "event_id", "bookmaker", "market", "side", "price", "snapshot_time", "decision_time"))
    bad = found.filter(~pl.col("same_price").fill_null(False)
                       | (pl.col("snapshot_time") >= pl.col("decision_time"))
                       | (pl.col("decision_time") - pl.col("snapshot_time") > lookback))
    findings = [Finding(
        "prices_on_offer", "error",
        f"{r['strategy']}: {r['side']} at {r['price']} with {r['bookmaker']} is not a quote of the snapshot of "
        f"{r['snapshot_time']:%Y-%m-%d %H:%M} before the decision at {r['decision_time']:%Y-%m-%d %H:%M}",
        event_id=r["event_id"], bookmaker=r["bookmaker"], market=r["market"])
        for r in bad.head(200).iter_rows(named=True)]
    return CheckOutcome("prices_on_offer", bets.height, findings)


def ledger_adds_up(strategies: list[tuple[str, dict[str, Any], pl.DataFrame]]) -> CheckOutcome:
    """Each strategy's bets, turnover and profit, summed from its ledger, equal the figures
    its comparison row reports (to the cent)."""
    findings = []
    for name, metrics, bets in strategies:
        sums = {"bets": float(bets.height), "turnover": float(bets["stake"].sum()) if bets.height else 0.0,
                "profit": float(bets["profit"].sum()) if bets.height else 0.0}
        for key, summed in sums.items():
            shown = float(metrics.get(key) or 0.0)
            if not math.isclose(summed, shown, abs_tol=CENTS):
                findings.append(Finding("ledger_adds_up", "error",
                                        f"{name}: {key} {shown:,.2f} in the comparison, {summed:,.2f} summed over "
                                        "its ledger"))
    return CheckOutcome("ledger_adds_up", len(strategies), findings)


def slips_within_bounds(slips: pl.DataFrame, limits: RiskLimits, venue: VenueRules) -> CheckOutcome:
    """Every slip passes the gate's static controls at the bankroll (equity) it was sized at."""
    findings = []
    for s in slips.iter_rows(named=True):
        order = Order(str(s["slip_id"]), s["event_id"], s["price"], s["stake"], s["edge"], s.get("quoted_price"))
        problems = [r.message for r in static_refusals(order, s["equity"] or s["bankroll"], limits, venue)]
        if problems:
            findings.append(Finding("slips_within_bounds", "error", f"slip {s['slip_id']}: " + "; ".join(problems),
                                    event_id=s["event_id"], bookmaker=s["bookmaker"], market=s["market"]))
    return CheckOutcome("slips_within_bounds", slips.height, findings)


def slip_prices_current(slips: pl.DataFrame, offered: pl.DataFrame) -> CheckOutcome:
    """Every slip's price is what its bookmaker offered for that line when the slip was
    proposed. ``offered``: the line prices on offer at each slip's ``created_at`` (``slip_id``,
    ``price_then``; absent when the line was not quoted)."""
    joined = slips.join(offered, on="slip_id", how="left")
    bad = joined.filter(pl.col("price_then").is_null() | ((pl.col("price_then") - pl.col("price")).abs() > 1e-9))
    findings = [Finding(
        "slip_prices_current", "error",
        f"slip {r['slip_id']}: {r['side']} at {r['price']} but {r['bookmaker']} offered "
        f"{'nothing' if r['price_then'] is None else r['price_then']} at {r['created_at']:%Y-%m-%d %H:%M}",
        event_id=r["event_id"], bookmaker=r["bookmaker"], market=r["market"]) for r in bad.iter_rows(named=True)]
    return CheckOutcome("slip_prices_current", slips.height, findings)


def final_bets_settled(placed: pl.DataFrame, now: datetime) -> CheckOutcome:
    """No bet stays ``placed`` once its event is final. ``placed``: ledger rows with status
    placed and their event's status."""
    bad = placed.filter(pl.col("event_status") == EventStatus.FINAL)
    findings = [Finding("final_bets_settled", "error",
                        f"bet {r['bet_id']} on a final event is still open at {now:%Y-%m-%d %H:%M}",
                        event_id=r["event_id"], bookmaker=r["bookmaker"], market=r["market"])
                for r in bad.iter_rows(named=True)]
    return CheckOutcome("final_bets_settled", placed.height, findings)


def bankroll_continuous(history: pl.DataFrame, start: float) -> CheckOutcome:
    """Each bankroll entry is the one before it (the starting bankroll first) plus its change."""
    findings = []
    before = start
    for r in history.sort("entry_id").iter_rows(named=True):
        if not math.isclose(before + r["change"], r["bankroll"], abs_tol=CENTS):
            findings.append(Finding("bankroll_continuous", "error",
                                    f"entry {r['entry_id']}: {before:,.2f} {r['change']:+,.2f} should give "
                                    f"{before + r['change']:,.2f}, the history says {r['bankroll']:,.2f}",
                                    context={"bet_id": r["bet_id"]}))
        before = r["bankroll"]
    return CheckOutcome("bankroll_continuous", history.height, findings)
