"""One settings object for the whole product, read from the environment (prefix ``BETTING_``).

Secrets are ``SecretStr`` so that a repr, a log line or Dagster metadata never shows them.
"""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from functools import lru_cache
from pathlib import Path

from pydantic import Field, SecretStr, ValidationError, ValidationInfo, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict
from typing import Annotated

from betting_assets.domain.devig import DEFAULT_CHOICE, parse_choice

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
    odds_format: str = Field(default="decimal", pattern="^(decimal|american)$")
    http_timeout_s: float = Field(default=10.0, gt=0)
    http_max_retries: int = Field(default=4, ge=0)
    http_backoff_initial_s: float = Field(default=0.5, ge=0)
    http_backoff_max_s: float = Field(default=30.0, ge=0)
    breaker_failure_threshold: int = Field(default=5, gt=0)
    breaker_cooldown_s: float = Field(default=60.0, ge=0)
    credit_reserve: int = Field(default=50, ge=0, description="Never spend credits below this.")
    mlflow_tracking_uri: str | None = None
    mlflow_ui_url: str = Field(default="http://127.0.0.1:5000", description="Where the MLflow UI is served "
                               "(make dev): the Dagster metadata links to runs and versions there.")
    dagster_ui_url: str = Field(default="http://127.0.0.1:3000", description="Where the Dagster UI is served: "
                                "MLflow runs link back to their Dagster run there.")
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
    devig_method: str = Field(default=DEFAULT_CHOICE,
                              description="How the sharp book's margin is removed for fair prices, edges and CLV: "
                              "one method for every market, or market=method pairs; the default is what was best "
                              "calibrated on Pinnacle's prices (betting devig compare).")
    model_trials: int = Field(default=30, gt=0, description="Optuna trials per training run.")
    model_folds: int = Field(default=4, ge=2, description="Time-ordered cross-validation folds.")
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
    max_stake: float | None = Field(default=50.0, gt=0, description="Largest single stake; none when unset.")
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
    scores_poll_minutes: int = Field(default=10, gt=0)
    fetch_retry_minutes: int = Field(default=10, gt=0)

    _split = field_validator("sports", "regions", "markets", "bookmakers", "decision_hours", "backtest_strategies",
                             mode="before")(_csv)

    @field_validator("history_start", "model_test_from", "model_train_from", "backtest_from", "backtest_to")
    @classmethod
    def _a_day(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                date.fromisoformat(value)
            except ValueError:
                raise ValueError(f"{value!r} is not a day as YYYY-MM-DD") from None
        return value

    @field_validator("devig_method")
    @classmethod
    def _a_devig(cls, value: str) -> str:
        parse_choice(value)
        return value

    @field_validator("database_url")
    @classmethod
    def _a_database(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and value.get_secret_value():
            from sqlalchemy.engine import make_url
            from sqlalchemy.exc import ArgumentError

            try:
                backend = make_url(value.get_secret_value()).get_backend_name()
            except ArgumentError:
                raise ValueError("not a database URL, e.g. postgresql+psycopg2://user:password@host:5432/name "
                                 "or sqlite:///path/warehouse.sqlite") from None
            if backend not in ("sqlite", "postgresql"):
                raise ValueError(f"the warehouse runs on sqlite or postgresql, not {backend}")
        return value

    @field_validator("sports", "regions", "markets")
    @classmethod
    def _not_empty(cls, value: list[str]) -> list[str]:
        if not value:
            raise ValueError("needs at least one value")
        return value

    @field_validator("regions", "markets")
    @classmethod
    def _provider_keys(cls, value: list[str], info: ValidationInfo) -> list[str]:
        """A region or market the provider does not know would cost credits for nothing."""
        from betting_assets.domain.catalog import KNOWN_MARKETS, REGIONS, unknown

        known = REGIONS if info.field_name == "regions" else KNOWN_MARKETS
        if problem := unknown(value, known, info.field_name or ""):
            raise ValueError(problem)
        return value

    @model_validator(mode="after")
    def _consistent(self) -> "Settings":
        if self.risk_min_odds >= self.risk_max_odds:
            raise ValueError(f"BETTING_RISK_MIN_ODDS ({self.risk_min_odds:g}) must be below BETTING_RISK_MAX_ODDS "
                             f"({self.risk_max_odds:g})")
        if self.max_stake is not None and self.min_stake > self.max_stake:
            raise ValueError(f"BETTING_MIN_STAKE ({self.min_stake:g}) must not exceed BETTING_MAX_STAKE "
                             f"({self.max_stake:g})")
        if self.http_backoff_initial_s > self.http_backoff_max_s:
            raise ValueError(f"BETTING_HTTP_BACKOFF_INITIAL_S ({self.http_backoff_initial_s:g}) must not exceed "
                             f"BETTING_HTTP_BACKOFF_MAX_S ({self.http_backoff_max_s:g})")
        if self.backtest_from and self.backtest_to and self.backtest_from >= self.backtest_to:
            raise ValueError(f"BETTING_BACKTEST_FROM ({self.backtest_from}) must be before BETTING_BACKTEST_TO "
                             f"({self.backtest_to})")
        return self

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


SECRET_FIELDS = {"database_url", "odds_api_key", "exchange_app_key", "exchange_session_token"}


class SettingsError(ValueError):
    """Settings that make no sense, said in one line naming each variable."""


def describe(error: ValidationError) -> str:
    """One line for all the problems: ``BETTING_NAME=value: why`` (never a secret's value)."""
    parts = []
    for item in error.errors():
        why = str(item["msg"]).removeprefix("Value error, ")
        if not item["loc"]:
            parts.append(why)
            continue
        name = str(item["loc"][0])
        shown = "" if name in SECRET_FIELDS or isinstance(item.get("input"), dict) else f"={item.get('input')}"
        parts.append(f"BETTING_{name.upper()}{shown}: {why}")
    return "; ".join(parts)


def load_settings(**values: object) -> Settings:
    try:
        return Settings(**values)  # type: ignore[arg-type]
    except ValidationError as exc:
        raise SettingsError(f"invalid settings: {describe(exc)}") from None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return load_settings()
