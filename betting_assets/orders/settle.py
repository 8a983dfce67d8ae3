"""Settling placed bets against final scores, with the sharp closing price for CLV; the bets of a
venue that settles its own by its cleared reports (Betfair's ``listClearedOrders``),
cross-checked against the scores.

A venue that charges commission charges it per market, on the market's net winnings (Betfair
reports it only in the MARKET roll-up). The ledger shares a market's commission over that
market's winning bets in proportion to their profit, to the cent, so that the bets' net profits
add up to what the account moved on the market; a market whose roll-up holds bets or profit the
ledger does not is a finding with both figures."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import polars as pl
from sqlalchemy import Engine

from betting_assets.domain import codes
from betting_assets.domain.orders.states import BetStatus
from betting_assets.domain.betting.intervals import mean_interval, ratio_interval
from betting_assets.domain.kernels.settle import FIXED, PER_PRICE
from betting_assets.domain.pricing.market_view import LINE_KEY, closing_fair, offers_at
from betting_assets.domain.data.normalize import Finding
from betting_assets.domain.betting.settlement import RESULTS, settle_frame
from betting_assets.orders import account_check
from betting_assets.orders.account_check import AccountCheck
from betting_assets.settings import Settings
from betting_assets.venues import kind_of
from betting_assets.venues.base import Cleared, Clearing, Venue
from betting_assets.warehouse import ledger, queries, writes
from betting_assets.domain.vocabulary import Market, Result, line

LOOKBACK = timedelta(days=3)
CHECK = "exchange_settlement"


def gross_profit(result: str, stake: float, price: float) -> float:
    """A result's profit on ``stake`` at the quoted ``price``, by the settlement rules' returns."""
    code = RESULTS.index(result)
    return stake * (PER_PRICE[code] * price + FIXED[code] - 1.0)


def exchange_result(report: Cleared, stake: float) -> str:
    """The result the exchange's money says: void, or the one whose gross profit it paid (the
    exchange reports a half-won handicap as WON with half the winnings)."""
    if report.kind == "voided":
        return Result.VOID
    for name in ("win", "half_win", "push", "half_loss", "loss"):
        if abs(gross_profit(name, stake, report.price_matched) - report.profit) < 0.01:
            return name
    return "win" if report.profit > 0 else "loss"


def share_commission(profits: dict[str, float], commission: float) -> dict[str, float]:
    """A market's ``commission`` shared over its winning bets in proportion to their profit, in
    whole cents that add up to it exactly (largest remainder); nothing for a losing bet."""
    winners = {k: p for k, p in profits.items() if p > 0}
    cents = round(commission * 100)
    total = sum(winners.values())
    if not winners or cents <= 0:
        return {k: 0.0 for k in profits}
    exact = {k: cents * p / total for k, p in winners.items()}
    whole = {k: int(v) for k, v in exact.items()}
    for k in sorted(exact, key=lambda k: (whole[k] - exact[k], k))[:cents - sum(whole.values())]:
        whole[k] += 1
    return {k: whole.get(k, 0) / 100 for k in profits}


def market_commissions(bets: pl.DataFrame, clearing: Clearing) -> tuple[dict[str, float], list[Finding]]:
    """Each settled bet's share of its market's commission, by customer reference, for the
    markets whose every ledger bet the venue has settled and whose roll-up it reported (a market
    not yet complete waits); and a finding for each market where the venue's roll-up (the
    account's movement on it) differs from the ledger's bets."""
    shares: dict[str, float] = {}
    findings: list[Finding] = []
    reported = {ref: r.market_id for ref, r in clearing.bets.items()}
    keyed = bets.with_columns(market_id=pl.coalesce("market_id", pl.col("customer_ref").replace_strict(
        reported, default=None, return_dtype=pl.String)))   # the venue's word where the ledger has none
    for market_id, group in keyed.filter(pl.col("market_id").is_not_null()).group_by("market_id"):
        refs = group["customer_ref"].to_list()
        reports = [clearing.bets.get(r) for r in refs]
        settled = [r for r in reports if r is not None and r.kind == "settled"]
        rolled = clearing.markets.get(str(market_id[0]))
        if any(r is None for r in reports) or not settled or rolled is None:
            continue
        profits = {r.customer_ref: r.profit for r in settled}
        shares.update(share_commission(profits, rolled.commission))
        ours = round(sum(profits.values()), 2)
        if abs(ours - rolled.profit) >= 0.005 or rolled.bet_count != len(settled):
            row = group.row(0, named=True)
            findings.append(Finding(
                CHECK, "error", f"market {rolled.market_id}: the exchange settled {rolled.bet_count} bets for "
                f"{rolled.profit:+.2f} (commission {rolled.commission:.2f}), the ledger holds {len(settled)} for "
                f"{ours:+.2f}: the account moved by {rolled.profit - rolled.commission:+.2f}, the ledger by "
                f"{ours - rolled.commission:+.2f}", event_id=row["event_id"], bookmaker=row["bookmaker"],
                market=row["market"], context={"market_id": rolled.market_id, "exchange_profit": rolled.profit,
                                                "ledger_profit": ours, "commission": rolled.commission}))
    return shares, findings


@dataclass
class Settled:
    settled: int
    still_open: int
    findings: list[Finding] = field(default_factory=list)
    by_exchange: int = 0
    account: AccountCheck | None = None
    """the venue's account beside the ledger after this settlement (None: no venue bet was open,
    or the account moved while it was read: checked next time)"""


def settle_placed(engine: Engine, settings: Settings, now: datetime,
                  venue: Callable[[], Venue] | None = None) -> Settled:
    """Placed bets whose event is final, cancelled or postponed are settled by the rules of
    ``domain.betting.settlement``; the rest stay placed until their result is known. A bet placed
    at a venue that settles its own settles when the venue has settled it (``venue``: asked for
    only then; its ``cleared`` reports by customer reference), with the venue's profit and
    commission as the money (resting orders are brought up to date first, so one the venue lapsed
    at in-play settles what matched); where the scores settle it differently, that is a data-quality
    finding, and the venue's figures stand. The venue's account is read before and after, and
    reconciled with the ledger (``account_check``)."""
    with engine.connect() as conn:
        resting = ledger.with_status(conn, BetStatus.RESTING)
        brokers = set(ledger.with_status(conn, BetStatus.PLACED)["broker"].to_list()) | set(resting["broker"].to_list())
    if venue is None or not any(kind_of(b).settles_own_bets for b in brokers):
        return _settle(engine, settings, now, None)
    made = venue()
    if not resting.is_empty():   # an order the exchange lapsed at in-play ends placed with what matched, then settles
        from betting_assets.orders.service import patience, reconcile_resting

        reconcile_resting(engine, made, now, patience(settings))
    before = made.account()
    done = _settle(engine, settings, now, made)
    if before is not None:
        done.account = account_check.reconcile(engine, made.name, before, made.account(), now)  # type: ignore[arg-type]
        if done.account is not None and done.account.finding is not None:
            done.findings.append(done.account.finding)
    return done


def _settle(engine: Engine, settings: Settings, now: datetime, made: Venue | None) -> Settled:
    with engine.connect() as conn:
        placed = ledger.with_status(conn, BetStatus.PLACED)
        if placed.is_empty():
            return Settled(0, 0)
        ids = placed["event_id"].unique().to_list()
        fixtures = queries.events_by_id(conn, ids)
        odds = queries.odds_for_events(conn, ids, fixtures["commence_time"].min() - LOOKBACK,  # type: ignore[operator]
                                       fixtures["commence_time"].max() + timedelta(seconds=1))  # type: ignore[operator]
    cuts = fixtures.select("event_id", "sport_key", "commence_time", decision_time=pl.col("commence_time"))
    shape = offers_at(odds, cuts, sharp_book=settings.features.sharp_book, lookback=LOOKBACK).group_by("event_id").agg(
        pl.col("three_way").any())
    closing = closing_fair(odds, fixtures, sharp_book=settings.features.sharp_book, lookback=LOOKBACK,
                           method=settings.features.devig_method)
    frame = (
        placed.drop("p_close").join(fixtures.select("event_id", "status", "home_score", "away_score"), on="event_id",
                    how="left", suffix="_event")
        .join(shape, on="event_id", how="left")
        .with_columns(pl.col("three_way").fill_null(pl.col("market") == Market.H2H), line=line())
        .join(closing, on=[*LINE_KEY, "side"], how="left")
        .sort("commence_time", "bet_id")  # the bankroll history runs in the order results came in
    )
    ret, code = settle_frame(frame.with_columns(pl.col("status_event").alias("status")))
    done = np.flatnonzero(code != codes.Result.OPEN)
    ids, stakes, closes = frame["bet_id"].to_list(), frame["stake"].to_list(), frame["p_close"].to_list()
    by_scores = {ids[i]: {"bet_id": ids[i], "result": RESULTS[code[i]], "unit_return": float(ret[i]),
                          "profit": float(stakes[i] * (ret[i] - 1.0)), "p_close": closes[i]} for i in done}
    own = {name: kind_of(name).settles_own_bets for name in frame["broker"].unique().to_list()}
    by_venue = frame.filter(pl.col("broker").replace_strict(own, return_dtype=pl.Boolean))
    clearing = Clearing({}, {})
    if by_venue.height and made is not None:
        clearing = made.cleared(by_venue["customer_ref"].to_list(),
                                {r: b for r, b in zip(by_venue["customer_ref"].to_list(),
                                                      by_venue["broker_bet_id"].to_list()) if b})
    shares, findings = market_commissions(by_venue, clearing)
    rows, by_exchange = [], 0
    for bet in frame.iter_rows(named=True):
        if not own[bet["broker"]]:
            if bet["bet_id"] in by_scores:
                rows.append(by_scores[bet["bet_id"]])
            continue
        report = clearing.bets.get(bet["customer_ref"])
        if report is None or (report.kind == "settled" and bet["customer_ref"] not in shares):
            continue
        row, finding = _from_exchange(bet, report, by_scores.get(bet["bet_id"]), shares.get(bet["customer_ref"], 0.0))
        rows.append(row)
        by_exchange += 1
        if finding is not None:
            findings.append(finding)
    count = ledger.record_settlement(engine, rows, settings.bankroll, now)
    if findings:
        with engine.begin() as conn:
            writes.record_findings(conn, findings, source=CHECK, recorded_at=now)
    return Settled(count, placed.height - count, findings, by_exchange)


def _from_exchange(bet: dict[str, Any], report: Cleared, scored: dict[str, Any] | None,
                   commission: float) -> tuple[dict[str, Any], Finding | None]:
    """The ledger's settlement of an exchange bet from the exchange's report and its share of
    the market's commission, and a finding where the scores disagree on the result or on the
    gross profit (to the cent)."""
    stake = float(bet["stake"] or 0.0)
    result = exchange_result(report, stake)
    net = round(report.profit - commission, 2)
    row = {"bet_id": bet["bet_id"], "result": result, "unit_return": 1.0 + net / stake if stake else 1.0,
           "profit": net, "p_close": bet["p_close"], "exchange_profit": report.profit,
           "commission": commission}
    if scored is None:
        return row, None
    gross = gross_profit(scored["result"], stake, float(bet["quoted_price"] or bet["price"]))
    if scored["result"] == result and abs(gross - report.profit) < 0.01:
        return row, None
    return row, Finding(CHECK, "error", f"bet {bet['bet_id']} ({bet['market']} {bet['side']}): the scores settle it "
                        f"{scored['result']} ({gross:+.2f}), the exchange {result} ({report.profit:+.2f}, "
                        f"commission {commission:.2f}); the exchange's figures are recorded",
                        event_id=bet["event_id"], bookmaker=bet["bookmaker"], market=bet["market"],
                        context={"bet_id": bet["bet_id"], "customer_ref": bet["customer_ref"]})


def summary(placed: pl.DataFrame) -> dict[str, float | int | None]:
    """P&L, ROI and CLV of the settled bets among ledger rows, ROI and CLV with 95 % bootstrap
    intervals over the bets (None where fewer than two)."""
    done = placed.filter(pl.col("status") == BetStatus.SETTLED)
    turnover = float(done["stake"].sum()) if done.height else 0.0
    profit = float(done["profit"].sum()) if done.height else 0.0
    clv = done.filter(pl.col("p_close").is_not_null()).select(pl.col("price") * pl.col("p_close") - 1.0).to_series()
    roi_ci = ratio_interval(done["profit"].to_numpy(), done["stake"].to_numpy(), np.arange(done.height))
    clv_ci = mean_interval(clv.to_numpy())
    commission = float(done["commission"].fill_null(0.0).sum()) if done.height and "commission" in done.columns else 0.0
    return {"settled_bets": done.height, "open_bets": placed.filter(pl.col("status") == BetStatus.PLACED).height,
            "turnover": turnover, "profit": profit, "commission": commission, "roi": profit / turnover if turnover else None,
            "roi_low": roi_ci.low if roi_ci else None, "roi_high": roi_ci.high if roi_ci else None,
            "mean_clv": float(clv.mean()) if clv.len() else None,  # type: ignore[arg-type]
            "clv_low": clv_ci.low if clv_ci else None, "clv_high": clv_ci.high if clv_ci else None,
            "clv_bets": clv.len()}


def bankroll_png(history: pl.DataFrame, start: float) -> bytes:
    """The bankroll after each settlement, with the starting bankroll for reference."""
    from betting_assets.modelling.plots import png_bytes, pyplot

    figure, axis = pyplot().subplots(figsize=(9, 4))
    axis.step([0, *range(1, history.height + 1)], [start, *history["bankroll"].to_list()], where="post",
              linewidth=1.4)
    axis.axhline(start, color="grey", linestyle="--", linewidth=1)
    axis.set_xlabel("settled bets")
    axis.set_ylabel("bankroll")
    axis.set_title("Placed bets: bankroll after each settlement")
    return png_bytes(figure)
