"""``betting bets``: the ledger as an operator reads it, matches by their teams, the settled bets'
P&L with its sample and ROI interval, the refusals by the rule that made them."""

from __future__ import annotations

from typing import Any

import polars as pl
from rich import box
from rich.console import Console
from rich.table import Table

from betting_assets.domain.betting import claims
from betting_assets.domain.orders.states import BetStatus
from betting_assets.settings import Settings


def ledger_rows(settings: Settings, *, refused: bool, statuses: list[str], limit: int | None) -> dict[str, Any]:
    """The rows asked for, newest first, with the totals over the whole ledger."""
    from betting_assets.orders.settle import summary
    from betting_assets.warehouse import ledger, queries
    from betting_assets.warehouse.engine import make_engine

    engine = make_engine(settings.warehouse_url)
    try:
        with engine.connect() as conn:
            frame = ledger.frame(conn)
            names = queries.match_names(conn, frame["event_id"].unique().to_list()) if frame.height else {}
    finally:
        engine.dispose()
    counts = dict(frame.group_by("status").len().iter_rows()) if frame.height else {}
    totals = summary(frame) if frame.height else summary(frame.clear())
    if refused:
        chosen = frame.filter(pl.col("status") == BetStatus.REJECTED)
        rules = (chosen.filter(pl.col("refusal_codes").is_not_null())
                 .select(pl.col("refusal_codes").str.split(",")).explode("refusal_codes")
                 .group_by("refusal_codes").len().sort("len", "refusal_codes", descending=[True, False]))
        by_rule = [{"rule": r, "refused": n} for r, n in rules.iter_rows()]
    else:
        chosen = frame.filter(pl.col("status") != BetStatus.REJECTED)
        if statuses:
            chosen = chosen.filter(pl.col("status").is_in(statuses))
        by_rule = []
    chosen = chosen.sort("bet_id", descending=True)
    shown = chosen.head(limit) if limit is not None else chosen
    rows = [{"bet": r["bet_id"], "strategy": r["strategy"], "match": names.get(r["event_id"], r["event_id"]),
             "market": r["market"], "side": r["side"], "point": r["point"], "bookmaker": r["bookmaker"],
             "price": r["price"] if r["price"] is not None else r["requested_price"],
             "stake": r["stake"] if r["status"] != BetStatus.REJECTED else r["requested_stake"],
             "status": r["status"], "result": r["result"], "profit": r["profit"], "placed_at": r["placed_at"],
             "rules": r["refusal_codes"], "reasons": r["reasons"]} for r in shown.iter_rows(named=True)]
    return {"rows": rows, "matching": chosen.height, "by_status": counts, "by_rule": by_rule, "settled": totals}


def render_ledger(view: dict[str, Any], console: Console, *, refused: bool) -> None:
    settled = view["settled"]
    table = Table(box=box.SIMPLE_HEAD, padding=(0, 1), title_justify="left",
                  title=f"{'refused slips' if refused else 'bets'}: the newest {len(view['rows'])} of "
                        f"{view['matching']:,}")
    columns = ("bet", "match", "side", "price", "stake", "why") if refused else (
        "bet", "match", "side", "price", "stake", "status", "P&L")
    for column in columns:
        table.add_column(column, justify="right" if column in ("bet", "price", "stake", "P&L") else "left",
                         overflow="fold")
    for r in view["rows"]:
        side = f"{r['market']} {r['side']}" + (f" {r['point']:+g}" if r["point"] else "")
        common = [str(r["bet"]), str(r["match"]).split(",")[0], side, f"{r['price']:.2f}", f"{r['stake']:.2f}"]
        if refused:
            table.add_row(*common, f"{r['rules'] or ''}: {r['reasons'] or ''}")
        else:
            table.add_row(*common, r["status"], f"{r['profit']:+.2f}" if r["profit"] is not None else "")
    console.print(table if view["rows"] else "nothing in the ledger matches")
    if refused:
        rules = ", ".join(f"{r['rule']} {r['refused']}" for r in view["by_rule"])
        console.print(f"refusals by rule: {rules or 'none'}")
        return
    console.print("ledger: " + ", ".join(f"{s} {n:,}" for s, n in sorted(view["by_status"].items())))
    bets = settled["settled_bets"]
    if bets:
        console.print(f"settled: {bets:,} bets, P&L {settled['profit']:+,.2f} on {settled['turnover']:,.2f} staked, "
                      f"ROI {claims.pct(settled['roi'])} ({claims.ci(settled['roi_low'], settled['roi_high'])}, "
                      f"{claims.reading(settled['roi_low'], settled['roi_high'])})")
