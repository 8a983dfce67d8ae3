"""One settings object for the whole product, read from the environment (prefix ``BETTING_``).

Secrets are ``SecretStr`` so that a repr, a log line or Dagster metadata never shows them.
"""

from __future__ import annotations

from enum import StrEnum
from functools import lru_cache
from pathlib import Path

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict
from typing import Annotated

SANDBOX_API_KEY = "sandbox"


class BettingMode(StrEnum):
    PAPER = "paper"
    LIVE = "live"


def _csv(value: object) -> object:
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


CsvList = Annotated[list[str], NoDecode]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="BETTING_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    home: Path = Field(default=Path(".betting_home"), description="Project-local state folder.")
    database_url: SecretStr | None = Field(
        default=None, description="Warehouse URL (may hold a password); SQLite under the home when unset."
    )
    odds_api_key: SecretStr = Field(default=SecretStr(SANDBOX_API_KEY))
    odds_api_base_url: str = Field(default="http://127.0.0.1:8765")
    sports: CsvList = Field(default_factory=lambda: ["soccer_epl", "soccer_germany_bundesliga"])
    regions: CsvList = Field(default_factory=lambda: ["uk", "eu"])
    markets: CsvList = Field(default_factory=lambda: ["h2h", "totals", "spreads"])
    bookmakers: CsvList = Field(default_factory=list)
    odds_format: str = "decimal"
    http_timeout_s: float = 10.0
    http_max_retries: int = 4
    http_backoff_initial_s: float = 0.5
    http_backoff_max_s: float = 30.0
    breaker_failure_threshold: int = 5
    breaker_cooldown_s: float = 60.0
    credit_reserve: int = Field(default=50, description="Never spend credits below this.")
    mlflow_tracking_uri: str | None = None
    mode: BettingMode = Field(default=BettingMode.PAPER, description="paper (the default) or live: live placement "
                              "also needs the exchange broker and its credentials.")
    data_quality_mode: str = Field(default="flag", pattern="^(flag|reject)$")
    clock: str = Field(default="auto", pattern="^(auto|system|provider)$",
                       description="Where sensors read the time: the provider's clock is the sandbox's.")
    history_start: str = Field(default="2019-08-01", description="First daily partition.")
    results_data: Path | None = Field(
        default=None, description="football-data CSV file or folder with final scores for history older "
        "than the provider's three-day scores window.")
    decision_hours: Annotated[list[float], NoDecode] = Field(
        default_factory=lambda: [1.0], description="Decision times, in hours before kick-off; one feature row each.")
    sharp_book: str = Field(default="pinnacle", description="The bookmaker whose de-vigged prices are the reference.")
    model_trials: int = Field(default=30, description="Optuna trials per training run.")
    model_folds: int = Field(default=4, description="Time-ordered cross-validation folds.")
    model_test_from: str | None = Field(
        default=None, description="First day of the out-of-time evaluation; the last fifth of events when unset.")
    model_train_from: str | None = Field(default=None, description="First day of training data; all when unset.")
    model_decision_hours: float = Field(default=1.0, description="The decision time the model trains at.")
    mlflow_artifact_root: str | None = Field(
        default=None, description="Where a local MLflow store keeps artifacts; under the home when unset.")
    bankroll: float = Field(default=1000.0, gt=0, description="Starting bankroll of a backtest and of the bets "
                            "ledger; slips are sized against it plus the settled P&L.")
    kelly_fraction: float = Field(default=0.25, gt=0, le=1, description="Share of the full Kelly stake.")
    flat_stake: float = Field(default=10.0, gt=0, description="Stake of flat sizing.")
    stake_percent: float = Field(default=0.01, gt=0, le=1, description="Share of the bankroll of percent sizing.")
    min_stake: float = Field(default=1.0, ge=0, description="Bets sized below this are not made.")
    max_stake: float | None = Field(default=50.0, description="Largest single stake; none when unset.")
    max_day_fraction: float = Field(default=0.25, gt=0, le=1,
                                    description="Bets decided on one day together stake at most this share of the bankroll.")
    min_edge: float = Field(default=0.02, description="Smallest expected value per unit (p·d − 1) worth a bet.")
    arb_min_margin: float = Field(default=0.0, ge=0, description="An arbitrage's book sum must be below 1 − this.")
    backtest_strategies: CsvList = Field(
        default_factory=lambda: ["flat_home", "flat_away", "flat_favourite", "sharp_value", "arbitrage", "model_value"],
        description="Registered strategies the backtests asset replays.")
    backtest_from: str | None = Field(default=None, description="First kick-off day of a backtest; the champion's "
                                      "out-of-time start when the model strategy runs and this is unset.")
    backtest_to: str | None = Field(default=None, description="Kick-off day a backtest stops before.")
    broker: str = Field(default="paper", pattern="^(paper|exchange)$",
                        description="Where placed bets go: paper (fills at the price on offer) or the exchange.")
    exchange_url: str = Field(default="http://127.0.0.1:8765",
                              description="Base URL of a Betfair-shaped exchange (the sandbox's fake one by default).")
    exchange_app_key: SecretStr | None = Field(default=None, description="Exchange application key (X-Application).")
    exchange_session_token: SecretStr | None = Field(default=None,
                                                     description="Exchange session token (X-Authentication).")
    exchange_timeout_s: float = Field(default=5.0, gt=0, description="An exchange call unanswered by then is "
                                      "left pending and reconciled later.")
    price_tolerance: float = Field(default=0.02, ge=0, description="Refuse a slip whose price fell by more than "
                                   "this share since it was proposed.")
    risk_min_odds: float = Field(default=1.2, gt=1, description="Refuse prices below this.")
    risk_max_odds: float = Field(default=15.0, gt=1, description="Refuse prices above this.")
    risk_max_stake_fraction: float = Field(default=0.05, gt=0, le=1,
                                           description="Largest stake as a share of the bankroll.")
    risk_max_event_exposure: float = Field(default=0.10, gt=0, le=1,
                                           description="Open stakes on one event, as a share of the bankroll.")
    risk_max_day_exposure: float = Field(default=0.25, gt=0, le=1,
                                         description="Stakes placed in one UTC day, as a share of the bankroll.")
    risk_daily_loss_limit: float = Field(default=0.10, gt=0, le=1, description="Stop for the day once settled "
                                         "losses reach this share of the day's starting bankroll.")
    risk_max_drawdown: float = Field(default=0.25, gt=0, le=1,
                                     description="Stop once the bankroll is this far below its peak.")
    risk_max_consecutive_losses: int = Field(default=8, gt=0, description="Stop after this many losses in a row.")
    risk_max_bets_per_minute: int = Field(default=30, gt=0, description="Rate limit on placements.")
    kill_switch: bool = Field(default=False, description="Stops all placement.")
    kill_switch_file: Path | None = Field(default=None, description="Placement stops while this file exists; "
                                          "KILL under the home when unset.")
    alert_webhook_url: str | None = Field(default=None, description="Failed placement runs are posted here as JSON.")
    scores_poll_minutes: int = 10
    fetch_retry_minutes: int = 10

    _split = field_validator("sports", "regions", "markets", "bookmakers", "decision_hours", "backtest_strategies",
                             mode="before")(_csv)

    @property
    def home_dir(self) -> Path:
        return self.home.expanduser().resolve()

    @property
    def warehouse_url(self) -> str:
        if self.database_url and self.database_url.get_secret_value():
            return self.database_url.get_secret_value()
        return f"sqlite:///{self.home_dir / 'warehouse.sqlite'}"

    @property
    def tracking_uri(self) -> str:
        if self.mlflow_tracking_uri:
            return self.mlflow_tracking_uri
        return f"sqlite:///{self.home_dir / 'mlflow.sqlite'}"

    @property
    def artifact_root(self) -> str:
        if self.mlflow_artifact_root:
            return self.mlflow_artifact_root
        return (self.home_dir / "mlartifacts").as_uri()

    @property
    def kill_file(self) -> Path:
        return self.kill_switch_file or self.home_dir / "KILL"

    @property
    def uses_provider_clock(self) -> bool:
        if self.clock == "auto":
            return self.odds_api_key.get_secret_value() == SANDBOX_API_KEY
        return self.clock == "provider"

    def public_dict(self) -> dict[str, object]:
        """Settings safe to print or attach to Dagster metadata: secrets masked."""
        data = self.model_dump(mode="json")
        data["odds_api_key"] = "********" if self.odds_api_key.get_secret_value() else ""
        data["database_url"] = mask_url(self.warehouse_url)
        for name in ("exchange_app_key", "exchange_session_token"):
            data[name] = "********" if getattr(self, name) else None
        return data


def mask_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return "<unparseable url>"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
