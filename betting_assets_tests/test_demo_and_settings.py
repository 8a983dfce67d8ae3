from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from betting_assets.settings import Settings

REPO = Path(__file__).resolve().parents[1]


def test_secrets_never_show_in_reprs_or_public_settings() -> None:
    settings = Settings(odds_api_key="super-secret-key", database_url="postgresql://u:pw-secret@h/db")
    shown = repr(settings) + json.dumps(settings.public_dict())
    assert "super-secret-key" not in shown and "pw-secret" not in shown


def test_betting_demo_cli_runs_end_to_end_and_writes_the_summary(tmp_path: Path) -> None:
    env = {**os.environ, "BETTING_HOME": str(tmp_path / "home")}
    summary = tmp_path / "summary.json"
    done = subprocess.run(
        [sys.executable, "-m", "betting_assets.cli", "demo", "--from", "2023-08-10", "--to", "2023-08-25",
         "--summary-json", str(summary)],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    figures = json.loads(summary.read_text())
    assert figures["sports"] == ["soccer_epl", "soccer_germany_bundesliga"]
    assert figures["odds_rows"] > 1000 and figures["final_events"] > 10
    assert figures["credits_used"] > 0 and figures["failed_calls"] == 0
    assert set(figures["rows_by_market"]) == {"h2h", "totals", "spreads"}
    assert "football-data.co.uk" in done.stdout


def test_demo_accepts_a_simulated_market(tmp_path: Path) -> None:
    from datetime import timedelta

    from betting_assets.demo import run_demo
    from betting_assets.sandbox.server import load_market

    start = load_market("sim:1:basketball_nba").first_time() + timedelta(days=6)
    summary = run_demo(Settings(home=tmp_path), data="sim:1:basketball_nba", start=start,
                       end=start + timedelta(days=2))
    assert summary.sports == ["basketball_nba"] and summary.odds_rows > 0 and summary.final_events > 0


def test_definitions_read_the_key_from_the_environment_not_from_config(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from dagster import EnvVar

    from betting_assets.defs.resources import default_resources

    monkeypatch.setenv("BETTING_ODDS_API_KEY", "super-secret-key")
    odds_api = default_resources()["odds_api"]
    assert odds_api.api_key == EnvVar("BETTING_ODDS_API_KEY")  # type: ignore[attr-defined]
    assert "super-secret-key" not in repr(odds_api)
    from betting_assets.definitions import defs

    assert defs.get_repository_def() is not None


def test_dagster_yaml_puts_the_instance_on_postgres(tmp_path: Path, pg_admin) -> None:  # type: ignore[no-untyped-def]
    from dagster import DagsterInstance
    from sqlalchemy.engine import make_url

    from betting_assets_tests.conftest import PG_ADMIN_URL

    shutil.copy(REPO / "dagster.yaml", tmp_path / "dagster.yaml")
    url = make_url(PG_ADMIN_URL).render_as_string(hide_password=False)
    old = os.environ.get("DAGSTER_PG_URL")
    os.environ["DAGSTER_PG_URL"] = url
    try:
        with DagsterInstance.from_config(str(tmp_path)) as instance:
            assert type(instance.run_storage).__name__ == "PostgresRunStorage"
            assert type(instance.event_log_storage).__name__ == "PostgresEventLogStorage"
    finally:
        if old is None:
            os.environ.pop("DAGSTER_PG_URL", None)
        else:
            os.environ["DAGSTER_PG_URL"] = old
