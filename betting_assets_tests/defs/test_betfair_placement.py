"""The exchange path end to end on a real Dagster instance, through betfairlightweight against the
sandbox's exchange over HTTP: the upcoming events mapped, slips priced at the exchange's best
back net of commission, place_bets sending each to its mapped market and runner (the one left
unmapped refused with that reason), a partial fill and a lapse recorded as such, and
settled_bets taking the exchange's profit and commission, with a score/exchange mismatch kept
as a finding rather than overwritten."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import httpx
import polars as pl
import pytest
from dagster import AssetKey, DagsterInstance, materialize
from sqlalchemy import Engine, select

from betting_assets import status as pipeline_status
from betting_assets.defs.collection.assets import events, normalized_odds, odds_snapshots, scores
from betting_assets.defs.orders.assets import exchange_markets, settled_bets
from betting_assets.defs.orders.checks import proposed_slips_mapped
from betting_assets.defs.orders.jobs import place_bets
from betting_assets.defs.resources import VenueResource
from betting_assets.domain.pricing.commission import net_price
from betting_assets.venues.betfair.venue import BOOK as BROKER_BOOK
from betting_assets.venues.betfair.ladder import on_ladder
from betting_assets.venues.betfair import client as exchange_client
from betting_assets.venues.betfair.markets import read_books, runner_quotes
from betting_assets.sandbox.exchange import DEFAULT_APP_KEY, DEFAULT_BALANCE, DEFAULT_SESSION
from betting_assets.sandbox.server import SandboxServer
from betting_assets.warehouse import ledger, queries
from betting_assets.warehouse.tables import data_quality_log
from betting_assets_tests.defs.bind import with_settings
from betting_assets_tests.defs.conftest import DAY, NOW, _propose, set_sandbox

MAPPED_AT = datetime(2023, 8, 12, 10, tzinfo=timezone.utc)


@pytest.fixture
def live(resources: dict[str, object], sandbox: SandboxServer, monkeypatch: pytest.MonkeyPatch) -> dict[str, object]:
    """Live mode with the exchange broker on the sandbox's exchange; the credentials come from
    the environment, as a user's do (settings given to a resource may hold no secret)."""
    monkeypatch.setenv("BETTING_EXCHANGE_APP_KEY", DEFAULT_APP_KEY)
    monkeypatch.setenv("BETTING_EXCHANGE_SESSION_TOKEN", DEFAULT_SESSION)
    given = with_settings(resources, collection={"sports": ["soccer_epl"]},
                          exchange={"mode": "live", "broker": "exchange", "url": sandbox.url})
    set_sandbox(sandbox, "exchange", {"reset": True, "script": [], "default": "book"})
    return {**given, "venue": VenueResource(settings=given["settings"])}  # type: ignore[arg-type]


def _client(sandbox: SandboxServer) -> exchange_client.PointedClient:
    return exchange_client.client(sandbox.url, DEFAULT_APP_KEY, session_token=DEFAULT_SESSION)


def _exchange(sandbox: SandboxServer) -> dict:  # type: ignore[type-arg]
    return httpx.get(f"{sandbox.url}/sandbox/exchange").json()  # type: ignore[no-any-return]


def _mapped_and_priced(live: dict[str, object], sandbox: SandboxServer) -> None:
    """The events mapped at 10:00, the day's odds collected at 13:20."""
    set_sandbox(sandbox, "clock", {"now": MAPPED_AT.isoformat()})
    assert materialize([events, exchange_markets], resources=live, instance=DagsterInstance.ephemeral()).success
    set_sandbox(sandbox, "clock", {"now": NOW.isoformat()})
    assert materialize([odds_snapshots, normalized_odds], resources=live, partition_key=DAY,
                       instance=DagsterInstance.ephemeral()).success


def _slips_on_the_exchange(engine: Engine, live: dict[str, object], sandbox: SandboxServer) -> pl.DataFrame:
    _mapped_and_priced(live, sandbox)
    client = _client(sandbox)
    return _propose(engine, NOW, stake=10.0, exchange_quotes=lambda ids: runner_quotes(read_books(client, ids)))


def test_slips_are_priced_placed_and_settled_on_the_exchange(
        engine: Engine, live: dict[str, object], sandbox: SandboxServer) -> None:
    slips = _slips_on_the_exchange(engine, live, sandbox)
    with engine.connect() as conn:
        mapping = queries.exchange_markets_frame(conn)
    assert slips.height == 3 and set(slips["bookmaker"]) == {BROKER_BOOK}   # the match listed twice has no price
    assert all(on_ladder(p) for p in slips["quoted_price"])
    assert slips["price"].to_list() == pytest.approx([net_price(p, 0.05) for p in slips["quoted_price"]])
    assert slips["market_version"].is_not_null().all()
    # a slip proposed from a bookmaker's price for the match the mapping left out
    with engine.connect() as conn:
        unmapped = queries.upcoming_events(conn, NOW, ["soccer_epl"]).filter(
            (pl.col("home_team") == "Bournemouth") & (pl.col("commence_time") < datetime(2023, 8, 12, 15, tzinfo=timezone.utc)))
    assert unmapped.height == 1 and unmapped["event_id"][0] not in mapping["event_id"].to_list()
    bookmaker = _propose(engine, NOW, stake=10.0).filter(pl.col("event_id") == unmapped["event_id"][0])
    assert bookmaker.height == 1
    checked = materialize([exchange_markets, proposed_slips_mapped], resources=live,
                          instance=DagsterInstance.ephemeral(), raise_on_error=False)
    (evaluation,) = checked.get_asset_check_evaluations()
    assert not evaluation.passed and evaluation.metadata["unmapped"].value == 1
    assert "Bournemouth v West Ham" in evaluation.metadata["sample"].value and "the event is not mapped" in \
        evaluation.metadata["sample"].value

    set_sandbox(sandbox, "exchange", {"script": ["book", "partial:0.5", "lapse"]})
    result = place_bets.execute_in_process(resources=live, instance=DagsterInstance.ephemeral())
    assert result.success
    rows = _bets(engine)
    by = {s: rows.filter(pl.col("event_id") == s) for s in rows["event_id"].unique()}
    refused = by[unmapped["event_id"][0]].row(0, named=True)
    assert refused["status"] == "rejected" and refused["reasons"].startswith("not mapped to a market of the venue")
    assert refused["refusal_codes"] == "not_mapped"
    (bets_event,) = [m for m in result.get_asset_materialization_events() if m.asset_key == AssetKey("bets")]
    assert bets_event.materialization.metadata["refused_by_rule"].value == "not_mapped: 1"
    sent = rows.filter(pl.col("broker") == "betfair").filter(pl.col("status") != "rejected")
    assert sorted(sent["status"].to_list()) == ["lapsed", "placed", "placed"]
    runners = mapping.filter((pl.col("side") == "home") & (pl.col("market_type") == "MATCH_ODDS")).select(
        "event_id", "market_id", "selection_id")
    assert sent.join(runners, on="event_id").filter(
        (pl.col("market_id") != pl.col("market_id_right")) | (pl.col("selection_id") != pl.col("selection_id_right"))
    ).is_empty()
    placed = sent.filter(pl.col("status") == "placed").sort("stake")
    assert placed["stake"].to_list() == [5.0, 10.0]
    assert placed["reasons"][0] == "partly matched: 5.00 of 10.00, the rest lapsed"
    assert placed["price"].to_list() == pytest.approx([net_price(p, 0.05) for p in placed["quoted_price"]])
    orders = _exchange(sandbox)["orders"]
    assert {o["customerStrategyRef"] for o in orders} == {"model_value"}
    assert {o["customerOrderRef"] for o in orders} == set(sent["customer_ref"])

    # after the games: the exchange settles, one of its reports disagrees with the scores
    wrong = placed["customer_ref"][1]
    set_sandbox(sandbox, "exchange", {"misreport": [wrong]})
    set_sandbox(sandbox, "clock", {"now": "2023-08-13T00:00:00Z"})
    assert materialize([scores], resources=live, partition_key=DAY, instance=DagsterInstance.ephemeral()).success
    done = materialize([settled_bets], resources=live, instance=DagsterInstance.ephemeral())
    assert done.success
    settled = _bets(engine).filter(pl.col("status") == "settled").sort("stake")
    assert settled.height == 2 and settled["exchange_profit"].is_not_null().all()
    cleared = {c["customerOrderRef"]: c for c in _cleared(sandbox)}
    charged = _exchange(sandbox)["commission"]                  # by market, as the exchange charged it
    for bet in settled.iter_rows(named=True):                   # one bet a market here
        report = cleared[bet["customer_ref"]]
        assert report["commission"] is None                     # the BET roll-up carries none
        assert bet["exchange_profit"] == report["profit"] and bet["commission"] == charged[bet["market_id"]]
        assert bet["profit"] == pytest.approx(report["profit"] - bet["commission"])
        assert bet["commission"] == pytest.approx(max(0.0, 0.05 * report["profit"]), abs=0.005)
    with engine.connect() as conn:
        history = ledger.bankroll_frame(conn)
        findings = conn.execute(select(data_quality_log.c.message).where(
            data_quality_log.c.check_name == "exchange_settlement")).scalars().all()
    assert sorted(history["change"].to_list()) == pytest.approx(sorted(settled["profit"].to_list()))
    assert len(findings) == 1 and "the exchange's figures are recorded" in findings[0]
    (event,) = [m for m in done.get_asset_materialization_events() if m.asset_key == AssetKey("settled_bets")]
    meta = event.materialization.metadata
    assert meta["settled_by_exchange"].value == 2 and meta["exchange_mismatches"].value == 1
    funds = _client(sandbox).account.get_account_funds().available_to_bet_balance
    assert funds == pytest.approx(DEFAULT_BALANCE + sum(settled["profit"]), abs=0.01)


def _bets(engine: Engine) -> pl.DataFrame:
    with engine.connect() as conn:
        return ledger.frame(conn)


def _cleared(sandbox: SandboxServer) -> list[dict]:  # type: ignore[type-arg]
    return [{"customerOrderRef": o.customer_order_ref, "profit": o.profit, "commission": o.commission}
            for o in _client(sandbox).betting.list_cleared_orders(bet_status="SETTLED").orders]


def test_a_totals_and_a_handicap_bet_go_to_their_own_markets_and_settle_as_the_scores_do(
        engine: Engine, live: dict[str, object], sandbox: SandboxServer) -> None:
    """Slips on over 2.5 goals and on the home handicap line, priced at the exchange's books,
    are placed on the OVER_UNDER_25 and ASIAN_HANDICAP runners the mapping found (the handicap
    sent with the order), and the exchange's settlement agrees with the scores'."""
    from betting_assets.domain.pricing.market_view import offers_at
    from betting_assets.domain.betting.decisions import SLIP_COLUMNS
    from betting_assets.orders import service
    from betting_assets.venues.betfair.venue import BetfairVenue
    from betting_assets.venues.betfair.markets import exchange_offers
    from betting_assets.orders.settle import settle_placed
    from betting_assets.warehouse import writes

    _mapped_and_priced(live, sandbox)
    client = _client(sandbox)
    with engine.connect() as conn:
        due = queries.at_decision(conn, NOW, 1.0, ["soccer_epl"])
        odds = queries.odds_for_events(conn, due["event_id"].to_list(), NOW - timedelta(days=3),
                                       NOW + timedelta(seconds=1))   # the snapshot taken at NOW is on offer
        mapping = queries.exchange_markets_frame(conn, due["event_id"].to_list())
    cuts = due.select("event_id", "sport_key", "commence_time",
                      decision_time=pl.lit(NOW + timedelta(seconds=1)).cast(pl.Datetime("us", "UTC")))
    offers = exchange_offers(offers_at(odds, cuts, sharp_book="pinnacle"), mapping,
                             runner_quotes(read_books(client, mapping["market_id"].unique().to_list())), 0.05, NOW)
    picked = offers.filter(((pl.col("market") == "totals") & (pl.col("side") == "over"))
                           | ((pl.col("market") == "spreads") & (pl.col("side") == "home"))).unique(
        ["event_id", "market"]).sort("event_id", "market").head(4)
    assert set(picked["market"]) == {"totals", "spreads"}
    slips = picked.join(due.select("event_id", "home_team", "away_team"), on="event_id").with_columns(
        idempotency_key=pl.concat_str("event_id", "market", "side", pl.col("point").cast(pl.String), separator="|"),
        strategy=pl.lit("sharp_value"), model_name=pl.lit(None, pl.String), model_version=pl.lit(None, pl.String),
        model_prob=pl.lit(None, pl.Float64), prob=1.05 / pl.col("price"),
        fair_prob=pl.col("fair"), edge=pl.lit(0.05), kelly=pl.lit(0.01), stake=pl.lit(10.0), bankroll=pl.lit(1000.0),
        equity=pl.lit(1000.0), group_key=pl.lit(None, pl.String),
        rationale=pl.lit("planted edge"), price_time=pl.col("snapshot_time"),
        decision_time=pl.lit(NOW).cast(pl.Datetime("us", "UTC"))).select(SLIP_COLUMNS)
    with engine.begin() as conn:
        writes.propose_slips(conn, slips, created_at=NOW)
    broker = BetfairVenue(lambda: client, 0.05)
    outcome = service.run_placement(engine, broker, live["settings"].get(), NOW)  # type: ignore[attr-defined]
    assert outcome.counts == {"placed": slips.height}, outcome.rows
    placed = _bets(engine).join(mapping.select("event_id", "market_type", "side", "market_id", "selection_id",
                                               "handicap", "line"), on=["event_id", "market_id", "selection_id"])
    kinds = {"totals": "OVER_UNDER_25", "spreads": "ASIAN_HANDICAP"}
    assert all(kinds[m] == t for m, t in placed.select("market", "market_type").iter_rows())
    assert (placed.filter(pl.col("market") == "spreads")["point"] == placed.filter(pl.col("market") == "spreads")["line"]
            ).all()
    sent = {o["customerOrderRef"]: o for o in _exchange(sandbox)["orders"]}
    for bet in placed.iter_rows(named=True):
        assert sent[bet["customer_ref"]]["handicap"] == bet["handicap"]

    set_sandbox(sandbox, "clock", {"now": "2023-08-13T00:00:00Z"})
    assert materialize([scores], resources=live, partition_key=DAY, instance=DagsterInstance.ephemeral()).success
    done = settle_placed(engine, live["settings"].get(), datetime(2023, 8, 13, tzinfo=timezone.utc),  # type: ignore[attr-defined]
                         venue=lambda: broker)
    assert done.by_exchange == slips.height and done.findings == []          # the exchange and the scores agree
    settled = _bets(engine)
    assert set(settled["status"]) <= {"settled", "void"} and settled["exchange_profit"].is_not_null().all()


def _planted(engine: Engine, sandbox: SandboxServer, pick: pl.Expr, stake: float = 10.0,
             strategy: str = "sharp_value") -> pl.DataFrame:
    """Slips on the exchange's own offers that ``pick`` selects, at 13:20 on match day, each
    with a planted 5 % edge (the gate's other controls as the settings hold them)."""
    from betting_assets.domain.betting.decisions import SLIP_COLUMNS
    from betting_assets.domain.pricing.market_view import offers_at
    from betting_assets.venues.betfair.markets import exchange_offers
    from betting_assets.warehouse import writes

    client = _client(sandbox)
    with engine.connect() as conn:
        due = queries.at_decision(conn, NOW, 1.0, ["soccer_epl"])
        odds = queries.odds_for_events(conn, due["event_id"].to_list(), NOW - timedelta(days=3),
                                       NOW + timedelta(seconds=1))
        mapping = queries.exchange_markets_frame(conn, due["event_id"].to_list())
    cuts = due.select("event_id", "sport_key", "commence_time",
                      decision_time=pl.lit(NOW + timedelta(seconds=1)).cast(pl.Datetime("us", "UTC")))
    offers = exchange_offers(offers_at(odds, cuts, sharp_book="pinnacle"), mapping,
                             runner_quotes(read_books(client, mapping["market_id"].unique().to_list())), 0.05, NOW)
    picked = offers.join(due.select("event_id", "home_team", "away_team"), on="event_id").filter(pick).sort(
        "event_id", "market", "side")
    slips = picked.with_columns(
        idempotency_key=pl.concat_str("event_id", "market", "side", pl.col("point").cast(pl.String), pl.lit(strategy),
                                      separator="|"),
        strategy=pl.lit(strategy), model_name=pl.lit(None, pl.String), model_version=pl.lit(None, pl.String),
        model_prob=pl.lit(None, pl.Float64), prob=1.05 / pl.col("price"), fair_prob=pl.col("fair"),
        edge=pl.lit(0.05), kelly=pl.lit(0.01), stake=pl.lit(stake), bankroll=pl.lit(1000.0), equity=pl.lit(1000.0),
        group_key=pl.lit(None, pl.String), rationale=pl.lit("planted edge"), price_time=pl.col("snapshot_time"),
        decision_time=pl.lit(NOW).cast(pl.Datetime("us", "UTC"))).select(SLIP_COLUMNS)
    with engine.begin() as conn:
        writes.propose_slips(conn, slips, created_at=NOW)
    return picked.select("event_id", "market", "side", "home_team")


def test_a_day_settles_to_the_penny_of_the_accounts_movement_with_commission_per_market(
        engine: Engine, live: dict[str, object], sandbox: SandboxServer) -> None:
    """Three backs on one match's match odds (one wins, two lose), one on another match whose
    market the exchange voids, and one the exchange lapses: commission is charged per market on
    its net winnings at the base rate less the account's discount; the ledger's net P&L equals
    the account's movement to the penny; the void and the lapse hold no exposure."""
    from betting_assets.orders import service
    from betting_assets.orders.settle import settle_placed
    from betting_assets.venues.betfair.venue import BetfairVenue

    _mapped_and_priced(live, sandbox)
    set_sandbox(sandbox, "exchange", {"discount_rate": 20.0})
    with engine.connect() as conn:
        due = queries.at_decision(conn, NOW, 1.0, ["soccer_epl"]).sort("event_id")
    with engine.connect() as conn:
        mapping = queries.exchange_markets_frame(conn, due["event_id"].to_list())
    events = [e for e in due["event_id"].to_list() if e in set(mapping["event_id"])]
    assert len(events) >= 3
    whole, voided, lapsed = events[:3]
    winner = _winner(engine, whole)         # the test's own knowledge of the result, to have net winnings
    loser = next(s for s in ("home", "draw", "away") if s != winner)
    on_whole = (pl.col("event_id") == whole) & (pl.col("market") == "h2h")
    picked = pl.concat([
        _planted(engine, sandbox, on_whole & (pl.col("side") == winner), stake=4.0),
        _planted(engine, sandbox, on_whole & (pl.col("side") == winner), stake=6.0, strategy="model_value"),
        _planted(engine, sandbox, on_whole & (pl.col("side") == loser), stake=4.0),
        _planted(engine, sandbox, (pl.col("event_id") == voided) & (pl.col("market") == "h2h")
                 & (pl.col("side") == "home"), stake=4.0),
        _planted(engine, sandbox, (pl.col("event_id") == lapsed) & (pl.col("market") == "h2h")
                 & (pl.col("side") == "home"), stake=4.0)])
    assert picked.height == 5
    before = _client(sandbox).account.get_account_funds().available_to_bet_balance
    set_sandbox(sandbox, "exchange", {"script": ["book"] * 4 + ["lapse"]})     # placed in the order proposed
    broker = BetfairVenue(lambda: _client(sandbox), 0.05)
    outcome = service.run_placement(engine, broker, live["settings"].get(), NOW)  # type: ignore[attr-defined]
    assert outcome.counts == {"placed": 4, "lapsed": 1}, outcome.rows
    placed = _bets(engine).filter(pl.col("status") == "placed")
    assert placed["price"].to_list() == pytest.approx([net_price(p, 0.05 * 0.8) for p in placed["quoted_price"]])
    match_odds = mapping.filter(pl.col("market_type") == "MATCH_ODDS")
    void_market = match_odds.filter(pl.col("event_id") == voided)["market_id"][0]
    first = settle_placed(engine, live["settings"].get(), NOW, venue=lambda: broker)  # type: ignore[attr-defined]
    assert first.settled == 0 and first.account is not None and first.account.difference == 0.0   # anchored at placement
    deposit = _client(sandbox).account.get_account_funds().available_to_bet_balance + 25.0
    set_sandbox(sandbox, "exchange", {"balance": deposit})          # money the ledger cannot know of
    second = settle_placed(engine, live["settings"].get(), NOW + timedelta(minutes=1),  # type: ignore[attr-defined]
                           venue=lambda: broker)
    assert second.account is not None and second.account.difference == 25.0 and second.account.ledger_moved == 0.0
    (told,) = second.findings
    assert "moved +25.00" in told.message and "ledger's settled net P&L +0.00" in told.message
    before += 25.0
    set_sandbox(sandbox, "exchange", {"void_markets": [void_market]})

    set_sandbox(sandbox, "clock", {"now": "2023-08-13T00:00:00Z"})
    assert materialize([scores], resources=live, partition_key=DAY, instance=DagsterInstance.ephemeral()).success
    done = settle_placed(engine, live["settings"].get(), datetime(2023, 8, 13, tzinfo=timezone.utc),  # type: ignore[attr-defined]
                         venue=lambda: broker)
    assert done.by_exchange == 4
    assert done.account is not None and done.account.difference == 0.0               # the product's own check
    (disagrees,) = done.findings          # the exchange voided a market the scores settle: said, not hidden
    assert "the exchange void" in disagrees.message
    rows = _bets(engine)
    status = dict(zip(rows["event_id"] + "|" + rows["side"], rows["status"]))
    assert status[f"{voided}|home"] == "void" and status[f"{lapsed}|home"] == "lapsed"
    assert set(rows.filter(pl.col("event_id") == whole)["status"]) == {"settled"}
    assert rows.filter(pl.col("status").is_in(["pending", "placed"])).is_empty()     # nothing holds exposure
    three = rows.filter(pl.col("event_id") == whole)
    net_winnings = float(three["exchange_profit"].sum())
    assert net_winnings > 0 and three.height == 3
    charged = _exchange(sandbox)["commission"]
    market = three["market_id"][0]
    assert charged[market] == pytest.approx(round(0.05 * 0.8 * max(net_winnings, 0.0), 2), abs=1e-9)
    assert float(three["commission"].sum()) == pytest.approx(charged[market], abs=1e-9)   # shared to the cent
    assert (three.filter(pl.col("exchange_profit") <= 0)["commission"] == 0).all()
    winners = three.filter(pl.col("exchange_profit") > 0).sort("stake")
    assert winners.height == 2 and (winners["commission"] > 0).all()         # shared by profit, in cents
    with engine.connect() as conn:
        moved = float(ledger.bankroll_frame(conn)["change"].sum())
    after = _client(sandbox).account.get_account_funds().available_to_bet_balance
    assert round(after - before, 2) == round(moved, 2)                        # to the penny
    assert done.account.wallet_moved == done.account.ledger_moved == round(moved, 2)
    shown = pipeline_status.collect(engine, live["settings"].get(), NOW, with_registry=False).account  # type: ignore[attr-defined]
    assert shown is not None and shown["difference"] == 0.0 and (shown["checks"], shown["off"]) == (4, 1)
    assert rows.filter(pl.col("event_id") == voided)["profit"].to_list() == [0.0]


def _winner(engine: Engine, event_id: str) -> str:
    """The match's result as football-data's file has it (the sandbox replays the same file)."""
    from pathlib import Path

    import betting_assets
    from betting_assets.sandbox.team_names import ODDS_API

    with engine.connect() as conn:
        event = queries.events_by_id(conn, [event_id]).row(0, named=True)
    games = pl.read_csv(Path(betting_assets.__file__).parent / "data" / "E0_2324.csv").with_columns(
        pl.col("HomeTeam", "AwayTeam").replace(ODDS_API)).filter(   # the feed names teams as The Odds API does
        (pl.col("HomeTeam") == event["home_team"]) & (pl.col("AwayTeam") == event["away_team"]))
    return {"H": "home", "D": "draw", "A": "away"}[games["FTR"][0]]


def test_three_runs_at_once_on_the_operators_token_never_log_it_out(
        engine: Engine, live: dict[str, object], sandbox: SandboxServer, monkeypatch: pytest.MonkeyPatch) -> None:
    """With both a session token and a password set (the README allows it), three place_bets
    runs at once use the token as given: none logs in, none logs it out, all succeed, every
    slip is placed once, and the token still works afterwards."""
    from betting_assets_tests.defs.test_orders import _concurrent

    monkeypatch.setenv("BETTING_EXCHANGE_USERNAME", "sandbox")
    monkeypatch.setenv("BETTING_EXCHANGE_PASSWORD", "sandbox-password")
    slips = _slips_on_the_exchange(engine, live, sandbox)
    set_sandbox(sandbox, "exchange", {"reset": True, "default": "book"})
    runs = _concurrent(lambda: place_bets.execute_in_process(resources=live, instance=DagsterInstance.ephemeral(),
                                                              raise_on_error=False), [(), (), ()])
    assert all(r.success for r in runs)
    seen = _exchange(sandbox)
    assert "logout" not in seen["calls"] and "login" not in seen["calls"] and seen["logged_in"]
    sent = _bets(engine).filter(pl.col("broker") == "betfair")
    assert sent.height == slips.height and sent["idempotency_key"].n_unique() == slips.height
    assert len(seen["orders"]) == sent.filter(pl.col("status").is_in(["placed", "lapsed"])).height
    assert _client(sandbox).account.get_account_funds().available_to_bet_balance is not None


def test_an_order_resting_at_kick_off_is_lapsed_by_the_exchange_and_settles_what_matched(
        engine: Engine, live: dict[str, object], sandbox: SandboxServer) -> None:
    """With patience, half of the order matches and the market moves away: the bet rests, its
    whole stake counted. No placement run comes again before kick-off; the exchange lapses the
    rest at in-play, and settlement brings the bet up to date and settles the half that matched."""
    from betting_assets.orders import service
    from betting_assets.orders.settle import settle_placed
    from betting_assets.venues.betfair.venue import BetfairVenue

    _mapped_and_priced(live, sandbox)
    with engine.connect() as conn:
        due = queries.at_decision(conn, NOW, 1.0, ["soccer_epl"]).sort("event_id")
    picked = _planted(engine, sandbox, (pl.col("event_id") == due["event_id"][0]) & (pl.col("market") == "h2h")
                      & (pl.col("side") == "home"), stake=6.0)
    assert picked.height == 1
    patient = live["settings"].get().updated(exchange={"order_patience_s": 3600.0})  # type: ignore[attr-defined]
    set_sandbox(sandbox, "exchange", {"script": ["away:0.5"]})
    broker = BetfairVenue(lambda: _client(sandbox), 0.05)
    outcome = service.run_placement(engine, broker, patient, NOW)
    assert outcome.counts == {"resting": 1}, outcome.rows
    (resting,) = _bets(engine).iter_rows(named=True)
    assert (resting["status"], resting["stake"], resting["requested_stake"]) == ("resting", 3.0, 6.0)
    assert _exchange(sandbox)["orders"][0]["status"] == "EXECUTABLE"

    set_sandbox(sandbox, "clock", {"now": "2023-08-13T00:00:00Z"})
    assert materialize([scores], resources=live, partition_key=DAY, instance=DagsterInstance.ephemeral()).success
    done = settle_placed(engine, patient, datetime(2023, 8, 13, tzinfo=timezone.utc), venue=lambda: broker)
    assert done.settled == 1 and done.by_exchange == 1
    (settled,) = _bets(engine).iter_rows(named=True)
    assert settled["status"] == "settled" and settled["stake"] == 3.0 and "partly matched" in settled["reasons"]
    (order,) = _exchange(sandbox)["orders"]
    assert (order["sizeMatched"], order["sizeLapsed"], order["sizeRemaining"]) == (3.0, 3.0, 0.0)


def test_a_strategy_moves_its_unmatched_resting_order_down_to_the_book_and_it_settles_by_its_new_bet(
        engine: Engine, live: dict[str, object], sandbox: SandboxServer) -> None:
    """With patience and BETTING_EXCHANGE_REPRICE, an order resting with nothing matched after the
    book moved down is replaced (replaceOrders) at the new best back, where its strategy's edge
    still clears; the ledger's one row follows the new bet (its id and price) and settles by it,
    and the ledger's P&L equals the account's movement. Without the setting, nothing moves."""
    from betting_assets.orders import service
    from betting_assets.orders.settle import settle_placed
    from betting_assets.venues.betfair.venue import BetfairVenue

    _mapped_and_priced(live, sandbox)
    with engine.connect() as conn:
        due = queries.at_decision(conn, NOW, 1.0, ["soccer_epl"]).sort("event_id")
    picked = _planted(engine, sandbox, (pl.col("event_id") == due["event_id"][0]) & (pl.col("market") == "h2h")
                      & (pl.col("side") == "home"), stake=6.0)
    base = live["settings"].get()  # type: ignore[attr-defined]
    patient = base.updated(exchange={"order_patience_s": 3600.0})
    moving = base.updated(exchange={"order_patience_s": 3600.0, "reprice": True})
    before = _client(sandbox).account.get_account_funds()
    set_sandbox(sandbox, "exchange", {"script": ["away:0"]})           # nothing matches; the order rests
    broker = BetfairVenue(lambda: _client(sandbox), 0.05)
    assert service.run_placement(engine, broker, moving, NOW).counts == {"resting": 1}
    (resting,) = _bets(engine).iter_rows(named=True)
    asked, first_bet = resting["quoted_price"], resting["broker_bet_id"]
    # another backer takes everything offered at the asked price: the best back is now below it
    market_id, selection = resting["market_id"], resting["selection_id"]
    (book,) = _client(sandbox).betting.list_market_book([market_id], price_projection={"priceData": ["EX_BEST_OFFERS"]})
    level = next(r for r in book.runners if r.selection_id == selection).ex.available_to_back[0]
    assert level.price == asked
    _client(sandbox).betting.place_orders(market_id, [{
        "selectionId": selection, "handicap": 0, "side": "BACK", "orderType": "LIMIT",
        "limitOrder": {"size": level.size, "price": level.price, "persistenceType": "LAPSE"},
        "customerOrderRef": "another-backer"}])
    (book,) = _client(sandbox).betting.list_market_book([market_id], price_projection={"priceData": ["EX_BEST_OFFERS"]})
    lower = next(r for r in book.runners if r.selection_id == selection).ex.available_to_back[0].price
    assert lower < asked
    # without the setting the order waits; with it, sharp_value moves it (its edge still clears at the lower price)
    assert service.run_placement(engine, broker, patient, NOW + timedelta(minutes=1)).counts == {}
    assert _bets(engine)["broker_bet_id"].to_list() == [first_bet]
    outcome = service.run_placement(engine, broker, moving, NOW + timedelta(minutes=2))
    assert outcome.counts == {"replaced": 1}, outcome.rows
    (moved,) = _bets(engine).iter_rows(named=True)
    assert moved["broker_bet_id"] != first_bet and f"bet {first_bet} replaced" in moved["reasons"]
    assert (moved["status"], moved["stake"], moved["quoted_price"]) == ("placed", 6.0, lower)
    orders = {o["betId"]: o for o in _exchange(sandbox)["orders"]}
    assert (orders[first_bet]["sizeCancelled"], orders[first_bet]["sizeMatched"]) == (6.0, 0.0)
    assert (orders[moved["broker_bet_id"]]["sizeMatched"], orders[moved["broker_bet_id"]]["priceSize"]["price"]) == (
        6.0, lower)
    assert picked.height == 1
    # settled by the new bet, to the penny of the account
    set_sandbox(sandbox, "clock", {"now": "2023-08-13T00:00:00Z"})
    assert materialize([scores], resources=live, partition_key=DAY, instance=DagsterInstance.ephemeral()).success
    done = settle_placed(engine, moving, datetime(2023, 8, 13, tzinfo=timezone.utc), venue=lambda: broker)
    assert done.settled == 1 and done.by_exchange == 1
    (settled,) = _bets(engine).iter_rows(named=True)
    assert settled["status"] == "settled"
    after = _client(sandbox).account.get_account_funds()
    wallet = (after.available_to_bet_balance - after.exposure) - (before.available_to_bet_balance - before.exposure)
    mine = wallet - float(_cleared_profit(sandbox, "another-backer"))
    assert round(mine, 2) == round(settled["profit"], 2)


def _cleared_profit(sandbox: SandboxServer, ref: str) -> float:
    orders = _client(sandbox).betting.list_cleared_orders(bet_status="SETTLED", customer_order_refs=[ref]).orders
    return sum(float(o.profit or 0) for o in orders)
