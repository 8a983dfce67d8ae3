"""``betting bets`` over a ledger place_bets wrote: the placed bets by match, the refused slip under
--refused with its rule and reason, every row in --json, and a user's mistake in one line."""

from __future__ import annotations

import json

import polars as pl
import pytest
from click.testing import CliRunner
from sqlalchemy import Engine, update

from betting_assets.cli import main
from betting_assets.settings import get_settings
from betting_assets.warehouse.tables import bet_slips
from betting_assets_tests.defs.test_orders import _bets, _run


def test_the_ledger_command_shows_bets_refusals_and_totals(engine: Engine, db_url: str, resources: dict[str, object],
                                                          priced: pl.DataFrame, monkeypatch: pytest.MonkeyPatch) -> None:
    moved = priced.row(0, named=True)
    with engine.begin() as conn:   # proposed at a price 10 % above the one now on offer: refused
        conn.execute(update(bet_slips).where(bet_slips.c.idempotency_key == moved["idempotency_key"])
                     .values(price=round(moved["price"] * 1.1, 2)))
    assert _run(resources).success
    stored = _bets(engine)
    monkeypatch.setenv("BETTING_DATABASE_URL", db_url)
    get_settings.cache_clear()
    try:
        shown = CliRunner().invoke(main, ["bets"], terminal_width=80)
        as_json = CliRunner().invoke(main, ["bets", "--json"])
        refused = CliRunner().invoke(main, ["bets", "--refused", "--json"])
        refused_text = CliRunner().invoke(main, ["bets", "--refused"], terminal_width=80)
        wrong = CliRunner().invoke(main, ["bets", "--status", "won"])
    finally:
        get_settings.cache_clear()
    assert shown.exit_code == 0, shown.output
    placed_teams = priced.filter(pl.col("idempotency_key") != moved["idempotency_key"])["home_team"].to_list()
    assert all(team in shown.output for team in placed_teams) and moved["home_team"] not in shown.output
    assert f"placed {stored.height - 1}, rejected 1" in shown.output
    assert max(len(line) for line in shown.output.splitlines()) <= 80
    view = json.loads(as_json.output)
    assert view["matching"] == stored.height - 1 and {r["status"] for r in view["rows"]} == {"placed"}
    assert {r["bet"] for r in view["rows"]} == set(stored.filter(pl.col("status") == "placed")["bet_id"])
    (row,) = json.loads(refused.output)["rows"]
    assert row["rules"] == "price_moved" and row["reasons"].startswith("price moved from")
    assert moved["home_team"] in row["match"]
    assert "refusals by rule: price_moved 1" in refused_text.output
    assert wrong.exit_code == 2 and wrong.output.count("\n") == 1 and "'won' is not a bet status" in wrong.output
