"""The exchange_markets asset on a real Dagster instance against the sandbox's exchange through
betfairlightweight: the upcoming events mapped to runners, the one listed twice left unmapped
with a finding, a refresh that changes nothing, and a missing app key said in one line."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import polars as pl
import pytest
from dagster import AssetKey, DagsterInstance, materialize
from sqlalchemy import Engine, func, select

from betting_assets.defs.collection.assets import events
from betting_assets.defs.orders.assets import exchange_markets
from betting_assets.defs.resources import VenueResource
from betting_assets.sandbox.exchange import DEFAULT_APP_KEY, DEFAULT_SESSION
from betting_assets.sandbox.server import SandboxServer
from betting_assets.warehouse import queries
from betting_assets.warehouse.tables import data_quality_log
from betting_assets.warehouse.tables import events as events_table
from betting_assets_tests.defs.bind import with_settings
from betting_assets_tests.defs.conftest import set_sandbox

NOW = datetime(2023, 8, 12, 10, tzinfo=timezone.utc)


@pytest.fixture
def with_exchange(resources: dict[str, object], sandbox: SandboxServer) -> dict[str, object]:
    epl = with_settings(resources, collection={"sports": ["soccer_epl"]},   # the bundled sample's one league
                        exchange={"mode": "live", "broker": "betfair"})
    set_sandbox(sandbox, "clock", {"now": "2023-08-12T10:00:00Z"})
    assert materialize([events], resources=epl, instance=DagsterInstance.ephemeral()).success
    return {**epl, "venue": VenueResource(settings=epl["settings"], base_url=sandbox.url,  # type: ignore[arg-type]
                                          app_key=DEFAULT_APP_KEY, session_token=DEFAULT_SESSION)}


def _metadata(result) -> dict[str, object]:  # type: ignore[no-untyped-def]
    (event,) = [m for m in result.get_asset_materialization_events() if m.asset_key == AssetKey("exchange_markets")]
    return {k: getattr(v, "value", v) for k, v in event.materialization.metadata.items()}


def test_upcoming_events_map_to_runners_and_the_match_listed_twice_does_not(
        engine: Engine, with_exchange: dict[str, object]) -> None:
    done = materialize([exchange_markets], resources=with_exchange, instance=DagsterInstance.ephemeral())
    assert done.success
    meta = _metadata(done)
    with engine.connect() as conn:
        window = conn.execute(select(events_table.c.event_id, events_table.c.home_team).where(
            events_table.c.commence_time > NOW, events_table.c.commence_time <= NOW + timedelta(days=7))).all()
        stored = queries.exchange_markets_frame(conn)
        findings = conn.execute(select(data_quality_log.c.event_id, data_quality_log.c.message, data_quality_log.c.context)
                                .where(data_quality_log.c.check_name == "exchange_mapping")).all()
    home = dict(window)
    bournemouth = {e for e, h in window if h == "Bournemouth"}
    assert meta["events"] == len(window) >= 10 and meta["unmapped_events"] == len(bournemouth) >= 1
    assert meta["mapped_events"] == len(window) - len(bournemouth) and meta["mapped_pct"] < 100
    assert set(stored["event_id"]) == set(home) - bournemouth
    match_odds = stored.filter(pl.col("market_type") == "MATCH_ODDS")
    assert match_odds.group_by("event_id").len()["len"].to_list() == [3] * stored["event_id"].n_unique()
    assert set(match_odds["side"]) == {"home", "away", "draw"} and stored["market_version"].is_not_null().all()
    totals = stored.filter(pl.col("market_type") == "OVER_UNDER_25")   # where the feed prices 2.5 goals
    assert totals["event_id"].n_unique() >= 5 and set(totals["side"]) == {"over", "under"}
    assert (totals["line"] == 2.5).all() and set(totals["selection_id"]) == {47972, 47973}
    handicaps = stored.filter(pl.col("market_type") == "ASIAN_HANDICAP")   # one runner per team and line
    assert handicaps["event_id"].n_unique() >= 5
    assert handicaps.group_by("event_id", "line").len()["len"].unique().to_list() == [2]
    assert (handicaps.filter(pl.col("side") == "home")["handicap"] == handicaps.filter(pl.col("side") == "home")["line"]
            ).all()
    assert (handicaps.filter(pl.col("side") == "away")["handicap"] == -handicaps.filter(pl.col("side") == "away")["line"]
            ).all()
    assert meta["markets"] == f"ASIAN_HANDICAP: {handicaps['market_id'].n_unique()} · MATCH_ODDS: " \
        f"{match_odds['market_id'].n_unique()} · OVER_UNDER_25: {totals['market_id'].n_unique()}"
    united = stored.filter(stored["event_id"].is_in([e for e, h in window if h == "Manchester United"]))
    assert united["exchange_event_name"][0] == "Man Utd v Wolves" and set(united["method"]) == {"learned"}
    learned = meta["names_learned"]           # The Odds API's names paired with Betfair's, shown
    assert "| soccer_epl | Manchester United | Man Utd | abbreviation |" in learned
    assert "| soccer_epl | Wolverhampton Wanderers | Wolves | fixture |" in learned
    assert {e for e, _, _ in findings} == bournemouth
    assert all("2 candidates within 0.15" in m and c["candidates"].count("Bournemouth v") == 2 for _, m, c in findings)

    again = materialize([exchange_markets], resources=with_exchange, instance=DagsterInstance.ephemeral())
    assert again.success and _metadata(again)["new_findings"] == 0
    with engine.connect() as conn:
        refreshed = queries.exchange_markets_frame(conn)
        assert conn.scalar(select(func.count()).select_from(data_quality_log)
                           .where(data_quality_log.c.check_name == "exchange_mapping")) == len(findings)
    assert refreshed.drop("mapped_at").equals(stored.drop("mapped_at"))


def test_without_an_app_key_the_asset_fails_saying_what_to_set(with_exchange: dict[str, object]) -> None:
    bare = VenueResource(settings=with_exchange["settings"])  # type: ignore[arg-type]
    done = materialize([exchange_markets], resources={**with_exchange, "venue": bare},
                       instance=DagsterInstance.ephemeral(), raise_on_error=False)
    assert not done.success
    failure = next(e for e in done.all_events if e.event_type_value == "STEP_FAILURE")
    assert "the exchange needs BETTING_EXCHANGE_APP_KEY and BETTING_EXCHANGE_SESSION_TOKEN (or BETTING_EXCHANGE_USERNAME " \
        "and BETTING_EXCHANGE_PASSWORD to log in)" in str(failure.event_specific_data)
