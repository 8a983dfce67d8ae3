"""``betting exchange check`` against the sandbox's exchange: it logs in, maps, reads books and
funds, says what it would do with each proposed slip, and places nothing; without credentials
it says what to set in one line and exits 2."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import polars as pl
import pytest
from click.testing import CliRunner
from sqlalchemy import Engine

from betting_assets.cli import main
from betting_assets.sandbox.exchange import DEFAULT_APP_KEY, DEFAULT_PASSWORD, DEFAULT_USERNAME
from betting_assets.sandbox.server import SandboxServer
from betting_assets.settings import get_settings
from betting_assets_tests.defs.conftest import NOW


@pytest.fixture
def account(monkeypatch: pytest.MonkeyPatch, sandbox: SandboxServer, db_url: str, home: Path) -> dict[str, str]:
    """The CLI reads the environment, as a user's shell gives it."""
    env = {"BETTING_DATABASE_URL": db_url, "BETTING_HOME": str(home), "BETTING_ODDS_API_BASE_URL": sandbox.url,
           "BETTING_ODDS_API_KEY": "test-key", "BETTING_CLOCK": "provider", "BETTING_SPORTS": "soccer_epl",
           "BETTING_EXCHANGE_URL": sandbox.url, "BETTING_EXCHANGE_APP_KEY": DEFAULT_APP_KEY,
           "BETTING_EXCHANGE_USERNAME": DEFAULT_USERNAME, "BETTING_EXCHANGE_PASSWORD": DEFAULT_PASSWORD}
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    yield env
    get_settings.cache_clear()


def test_the_check_says_what_it_would_place_and_places_nothing(
        engine: Engine, priced: pl.DataFrame, sandbox: SandboxServer, account: dict[str, str]) -> None:
    done = CliRunner().invoke(main, ["exchange", "check", "--at", NOW.isoformat(), "--json"])
    assert done.exit_code == 0, done.output
    found = json.loads(done.output)
    assert found["available"] == 10_000.0 and found["mapped"] == found["events"] - 1
    assert [u["match"] for u in found["unmapped"]] == ["Bournemouth v West Ham United"]
    verdicts = {s["match"]: s for s in found["slips"]}
    assert len(verdicts) == priced.height == 4
    assert verdicts["Bournemouth v West Ham United"]["why"] == "not mapped to an exchange market"
    placed = [s for s in found["slips"] if s["would"] == "place"]
    assert placed and all(" at " in s["why"] and " on 1." in s["why"] for s in placed)
    calls = httpx.get(f"{sandbox.url}/sandbox/exchange").json()["calls"]
    assert "placeOrders" not in calls and calls[0] == "login" and calls[-1] == "logout"
    text = CliRunner().invoke(main, ["exchange", "check", "--at", NOW.isoformat()])
    assert text.exit_code == 0 and "nothing was placed" in text.output and DEFAULT_PASSWORD not in text.output


def test_without_credentials_it_says_what_to_set(account: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("BETTING_EXCHANGE_APP_KEY")
    get_settings.cache_clear()
    done = CliRunner().invoke(main, ["exchange", "check", "--at", NOW.isoformat()])
    assert done.exit_code == 2
    assert done.output.strip().splitlines() == [
        "error: the exchange needs BETTING_EXCHANGE_APP_KEY"]          # the account is set: only the key lacks
    monkeypatch.setenv("BETTING_EXCHANGE_APP_KEY", DEFAULT_APP_KEY)
    monkeypatch.setenv("BETTING_EXCHANGE_PASSWORD", "hunter2")
    get_settings.cache_clear()
    wrong = CliRunner().invoke(main, ["exchange", "check", "--at", NOW.isoformat()])
    assert wrong.exit_code == 2 and wrong.output.strip() == \
        "error: exchange login refused: INVALID_USERNAME_OR_PASSWORD" and "hunter2" not in wrong.output


def test_an_exchange_refusal_mid_check_is_one_line(account: dict[str, str], sandbox: SandboxServer,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """A session token the exchange no longer knows fails the first call of the check: one line,
    exit 2, no traceback."""
    monkeypatch.setenv("BETTING_EXCHANGE_SESSION_TOKEN", "expired-token")
    get_settings.cache_clear()
    done = CliRunner().invoke(main, ["exchange", "check", "--at", NOW.isoformat()])
    assert done.exit_code == 2
    assert done.output.strip() == "error: the exchange refused the check: INVALID_SESSION_INFORMATION"
