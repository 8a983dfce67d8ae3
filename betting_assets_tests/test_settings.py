"""Settings that make no sense are refused when they load, in one line naming the variable,
never with a traceback or a secret."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from betting_assets.settings import SettingsError, load_settings

BAD = [
    ({"BETTING_MAX_STAKE": "-10"}, "BETTING_MAX_STAKE=-10: Input should be greater than 0"),
    ({"BETTING_RISK_MIN_ODDS": "20"}, "BETTING_RISK_MIN_ODDS (20) must be below BETTING_RISK_MAX_ODDS (15)"),
    ({"BETTING_MIN_STAKE": "80"}, "BETTING_MIN_STAKE (80) must not exceed BETTING_MAX_STAKE (50)"),
    ({"BETTING_HTTP_TIMEOUT_S": "-1"}, "BETTING_HTTP_TIMEOUT_S=-1: Input should be greater than 0"),
    ({"BETTING_EXCHANGE_TIMEOUT_S": "0"}, "BETTING_EXCHANGE_TIMEOUT_S=0: Input should be greater than 0"),
    ({"BETTING_HISTORY_START": "yesterday"}, "BETTING_HISTORY_START=yesterday: 'yesterday' is not a day as YYYY-MM-DD"),
    ({"BETTING_DATABASE_URL": "postgres//u:hunter2@db"}, "BETTING_DATABASE_URL: not a database URL"),
    ({"BETTING_DATABASE_URL": "mysql://u:hunter2@db/x"}, "BETTING_DATABASE_URL: the warehouse runs on sqlite or postgresql"),
    ({"BETTING_SPORTS": ""}, "BETTING_SPORTS=: needs at least one value"),
    ({"BETTING_ODDS_FORMAT": "fractional"}, "BETTING_ODDS_FORMAT=fractional"),
    ({"BETTING_REGIONS": "uk,mars"}, "BETTING_REGIONS=uk,mars: mars: not regions the provider knows"),
    ({"BETTING_MARKETS": "h2h,corners"}, "BETTING_MARKETS=h2h,corners: corners: not markets the provider knows"),
    ({"BETTING_DEVIG_METHOD": "h2h=linear"}, "BETTING_DEVIG_METHOD=h2h=linear: 'h2h=linear' is not a de-vig choice"),
    # settings that would switch a control off (the probe's cases)
    ({"BETTING_PRICE_TOLERANCE": "inf"}, "BETTING_PRICE_TOLERANCE=inf: Input should be a finite number"),
    ({"BETTING_PRICE_TOLERANCE": "5"}, "BETTING_PRICE_TOLERANCE=5: Input should be less than or equal to 0.5"),
    ({"BETTING_BANKROLL": "inf"}, "BETTING_BANKROLL=inf: Input should be a finite number"),
    ({"BETTING_BANKROLL": "nan"}, "BETTING_BANKROLL=nan: Input should be a finite number"),
    ({"BETTING_MAX_STAKE": "inf"}, "BETTING_MAX_STAKE=inf: Input should be a finite number"),
    ({"BETTING_MIN_EDGE": "-1"}, "BETTING_MIN_EDGE=-1: Input should be greater than or equal to 0"),
    ({"BETTING_RISK__MIN_EDGE": "-0.5"}, "BETTING_MIN_EDGE (-0.5) must be at least 0"),
    ({"BETTING_RISK_MAX_ODDS": "inf"}, "BETTING_RISK_MAX_ODDS=inf: Input should be a finite number"),
    ({"BETTING_EXCHANGE_COMMISSION": "nan"}, "BETTING_EXCHANGE_COMMISSION=nan: Input should be a finite number"),
    ({"BETTING_ODDS_API_BASE_URL": "ftp://odds.example"},
     "BETTING_ODDS_API_BASE_URL=ftp://odds.example: 'ftp://odds.example' is not an http(s) address with a host"),
    ({"BETTING_EXCHANGE_URL": "file:///etc/passwd"}, "is not an http(s) address with a host"),
    ({"BETTING_ALERT_WEBHOOK_URL": "hooks.example/x"}, "BETTING_ALERT_WEBHOOK_URL=hooks.example/x"),
]


@pytest.mark.parametrize(("env", "said"), BAD, ids=[next(iter(e)) + "=" + next(iter(e.values())) for e, _ in BAD])
def test_nonsense_is_refused_at_load_naming_the_variable(env: dict[str, str], said: str,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError) as caught:
        load_settings()
    message = str(caught.value)
    assert said in message and "\n" not in message and "hunter2" not in message


def test_the_cli_says_it_in_one_line_and_exits_2(tmp_path: Path) -> None:
    env = {**os.environ, "BETTING_HOME": str(tmp_path), "BETTING_MAX_STAKE": "-10"}
    done = subprocess.run([sys.executable, "-m", "betting_assets.cli", "status"], env=env, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "error: invalid settings: BETTING_MAX_STAKE=-10: Input should be greater than 0"]
    assert "Traceback" not in done.stderr + done.stdout


def test_sensible_settings_still_load(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BETTING_DATABASE_URL", "postgresql+psycopg2://u:pw@127.0.0.1:5432/x")
    monkeypatch.setenv("BETTING_MAX_STAKE", "25")
    monkeypatch.setenv("BETTING_HISTORY_START", "2023-08-01")
    settings = load_settings()
    assert settings.risk.max_stake == 25 and settings.collection.history_start == "2023-08-01"


def test_each_setting_answers_to_its_flat_and_its_nested_name(monkeypatch: pytest.MonkeyPatch,
                                                              tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".env").write_text("BETTING_RISK_MAX_ODDS=9\nBETTING_MODEL__TRIALS=7\nBETTING_MIN_EDGE=0.05\n")
    monkeypatch.setenv("BETTING_RISK_MIN_ODDS", "1.5")            # flat, from the process
    monkeypatch.setenv("BETTING_COLLECTION__SPORTS", "soccer_epl")  # nested
    monkeypatch.setenv("BETTING_MIN_STAKE", "2")                    # flat
    monkeypatch.setenv("BETTING_RISK__MAX_STAKE", "30")             # nested
    settings = load_settings()
    assert (settings.risk.min_odds, settings.risk.max_odds, settings.model.trials) == (1.5, 9.0, 7)
    assert settings.collection.sports == ["soccer_epl"]
    assert (settings.risk.min_stake, settings.risk.max_stake) == (2.0, 30.0)
    assert settings.backtest.min_edge == settings.risk.min_edge == 0.05   # a flat name sets every path it names
    assert load_settings(risk={"max_odds": 11.0}).risk.min_odds == 1.5     # values merge into the environment's
    assert load_settings(min_edge=0.07).backtest.min_edge == 0.07          # flat arguments, as the environment's


def test_the_groups_are_the_domain_models_not_copies() -> None:
    from betting_assets.domain.orders.risk import RiskLimits
    from betting_assets.domain.betting.staking import Sizing

    settings = load_settings(risk_max_day_exposure=0.05, kelly_fraction=0.5)
    assert type(settings.risk) is RiskLimits and settings.risk.max_day_exposure == 0.05
    assert type(settings.sizing) is Sizing and settings.sizing.kelly_fraction == 0.5
    with pytest.raises(SettingsError, match="BETTING_SIZING__METHOD is not a setting"):
        load_settings(sizing={"method": "flat"})
