"""One settings object for the whole product, read from the environment (prefix ``BETTING_``),
grouped by concern.

Each group is a model of its own, and two of them are the domain's: ``sizing`` is the
``Sizing`` the engine stakes by and ``risk`` is the ``RiskLimits`` the gate enforces (and sizing
reads: risk owns every stake limit), so no code
copies settings into them. Every setting has two environment names: the nested one
(``BETTING_RISK__MIN_ODDS``, pydantic-settings' own) and the flat one the product has always
documented (``BETTING_RISK_MIN_ODDS``, listed by ``flat_names``); where both are set the
nested one wins. Errors name the flat one. Secrets are ``SecretStr`` so that a repr, a log line
or Dagster metadata never shows them.
"""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, ClassVar

from pydantic import (BaseModel, ConfigDict, Field, SecretStr, ValidationError, ValidationInfo, field_validator,
                      model_validator)
from pydantic.fields import FieldInfo
from pydantic_settings import (BaseSettings, DotEnvSettingsSource, NoDecode, PydanticBaseSettingsSource,
                               SettingsConfigDict)

from betting_assets.domain.bounds import OUT_OF_ORDER, ordered
from betting_assets.domain.data.quality import QualityMode
from betting_assets.domain.pricing.devig import DEFAULT_CHOICE, DevigChoice
from betting_assets.domain.orders.risk import RiskLimits
from betting_assets.domain.betting import strategies as strategy_registry
from betting_assets.domain.betting.staking import Sizing
from betting_assets.venues import VenueName
from betting_assets.domain.vocabulary import MARKETS

SANDBOX_API_KEY = "sandbox"
PREFIX = "BETTING_"


class BettingMode(StrEnum):
    PAPER = "paper"
    LIVE = "live"


class ClockSource(StrEnum):
    AUTO = "auto"
    SYSTEM = "system"
    PROVIDER = "provider"


def _csv(value: object) -> object:
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


def _a_day(value: str | None) -> str | None:
    if value is not None:
        try:
            date.fromisoformat(value)
        except ValueError:
            raise ValueError(f"{value!r} is not a day as YYYY-MM-DD") from None
    return value


CsvList = Annotated[list[str], NoDecode]


def _http_url(value: str | None) -> str | None:
    """An address the product calls or shows: http or https with a host, nothing else (an
    ``ftp://`` or ``file://`` address would fail later, and far from the setting)."""
    if value is None:
        return value
    from urllib.parse import urlsplit

    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{value!r} is not an http(s) address with a host")
    return value


class _Group(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    FLAT_PREFIX: ClassVar[str] = ""
    """what the flat environment name puts before the field's name"""
    FLAT: ClassVar[dict[str, str]] = {}
    """fields whose flat name is not the prefix and the field's name"""


class StorageSettings(_Group):
    """Where state is kept, and where its UIs are served."""

    home: Path = Field(default=Path(".betting_home"), description="Project-local state folder.")
    database_url: SecretStr | None = Field(
        default=None, description="Warehouse URL (may hold a password); SQLite under the home when unset.")
    mlflow_tracking_uri: str | None = Field(default=None, description="MLflow tracking and registry; a SQLite "
                                            "store under the home when unset.")
    mlflow_artifact_root: str | None = Field(
        default=None, description="Where a local MLflow store keeps artifacts; under the home when unset.")
    celery_broker: SecretStr | None = Field(
        default=None, description="A Celery broker URL (e.g. pyamqp://user:password@rabbitmq:5672//): every job's "
        "steps then run as tasks on Celery workers (dagster-celery, `betting worker`); in the run's own process "
        "when unset.")
    mlflow_ui_url: str = Field(default="http://127.0.0.1:5000", description="Where the MLflow UI is served "
                               "(make dev): the Dagster metadata links to runs and versions there.")
    dagster_ui_url: str = Field(default="http://127.0.0.1:3000", description="Where the Dagster UI is served: "
                                "MLflow runs link back to their Dagster run there.")

    _url = field_validator("mlflow_ui_url", "dagster_ui_url")(_http_url)

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


class CollectionSettings(_Group):
    """What is fetched from the odds provider, how, and how often."""

    odds_api_key: SecretStr = Field(default=SecretStr(SANDBOX_API_KEY))
    odds_api_base_url: str = Field(default="http://127.0.0.1:8765")
    sports: CsvList = Field(default_factory=lambda: ["soccer_epl", "soccer_germany_bundesliga"])
    regions: CsvList = Field(default_factory=lambda: ["uk", "eu"])
    markets: CsvList = Field(default_factory=lambda: [str(m) for m in MARKETS])
    bookmakers: CsvList = Field(default_factory=list)
    odds_format: str = Field(default="decimal", pattern="^(decimal|american)$")
    http_timeout_s: float = Field(default=10.0, gt=0)
    http_max_retries: int = Field(default=4, ge=0)
    http_backoff_initial_s: float = Field(default=0.5, ge=0)
    http_backoff_max_s: float = Field(default=30.0, ge=0)
    breaker_failure_threshold: int = Field(default=5, gt=0)
    breaker_cooldown_s: float = Field(default=60.0, ge=0)
    credit_reserve: int = Field(default=50, ge=0, description="Never spend credits below this.")
    credit_budget: int | None = Field(default=None, gt=0, description="Credits a month the collection may spend; "
                                      "unset: what the provider reports remaining.")
    credit_reset_day: int = Field(default=1, ge=1, le=28, description="Day of the month the credit budget resets.")
    closing_markets: CsvList = Field(default_factory=list, description="Markets the closing snapshot fetches (what "
                                     "bets and CLV use); all of BETTING_MARKETS when empty.")
    movement_markets: CsvList = Field(default_factory=list, description="Markets the line-movement snapshots fetch; "
                                      "all of BETTING_MARKETS when empty.")
    results_after_minutes: int = Field(default=150, gt=0, description="How long after kick-off the plan polls for "
                                       "a result (one poll per kick-off slot, serving every game of the sport over "
                                       "by then); the backtest books a result this long after kick-off.")
    movement: bool = Field(default=True, description="Buy line-movement snapshots by tier with what the budget leaves "
                           "after the decision, closing and results calls (false: those calls alone).")
    clock: ClockSource = Field(default=ClockSource.AUTO, description="Where sensors read the time: the system's, "
                               "the provider's (the sandbox's), or auto (the provider's when it is the sandbox).")
    history_start: str = Field(default="2019-08-01", description="First daily partition.")
    results_data: Path | None = Field(
        default=None, description="football-data CSV file or folder with final scores for history older "
        "than the provider's three-day scores window.")
    fetch_retry_minutes: int = Field(default=10, gt=0)
    discovery_minutes: int = Field(default=60, ge=1, le=7 * 24 * 60, description="How often, on the product's "
                                   "clock, the fixture list is refreshed (the events endpoint is free).")
    sensor_interval_s: int | None = Field(default=None, ge=1, le=3600, description="Seconds between two ticks of "
                                          "every sensor; each sensor's own (30 to 120 s) when unset. Read when the "
                                          "definitions load: a season run on a fast clock ticks them every few "
                                          "seconds.")

    _split = field_validator("sports", "regions", "markets", "bookmakers", "closing_markets", "movement_markets",
                             mode="before")(_csv)
    _url = field_validator("odds_api_base_url")(_http_url)
    _day = field_validator("history_start")(_a_day)

    @field_validator("sports", "regions", "markets")
    @classmethod
    def _not_empty(cls, value: list[str]) -> list[str]:
        if not value:
            raise ValueError("needs at least one value")
        return value

    @field_validator("regions", "markets", "closing_markets", "movement_markets")
    @classmethod
    def _provider_keys(cls, value: list[str], info: ValidationInfo) -> list[str]:
        """A region or market the provider does not know would cost credits for nothing."""
        from betting_assets.domain.data.catalog import KNOWN_MARKETS, REGIONS, unknown

        known = REGIONS if info.field_name == "regions" else KNOWN_MARKETS
        if problem := unknown(value, known, info.field_name or ""):
            raise ValueError(problem)
        return value

    @model_validator(mode="after")
    def _backoff_ordered(self) -> "CollectionSettings":
        ordered(self, "http_backoff_initial_s", "http_backoff_max_s", strict=False)
        return self

    @model_validator(mode="after")
    def _plan_markets_fetched(self) -> "CollectionSettings":
        """A closing or movement snapshot can only fetch markets the collection fetches."""
        for name in ("closing_markets", "movement_markets"):
            extra = sorted(set(getattr(self, name)) - set(self.markets))
            if extra:
                raise ValueError(f"{env_name('collection', name)}: {', '.join(extra)} not among the markets fetched "
                                 f"({env_name('collection', 'markets')}: {', '.join(self.markets)})")
        return self


class QualitySettings(_Group):
    FLAT_PREFIX = "data_quality_"

    mode: QualityMode = Field(default=QualityMode.FLAG, description="flag keeps a failing row with its "
                      "finding; reject keeps the finding and drops the row.")


class FeatureSettings(_Group):
    decision_hours: Annotated[list[float], NoDecode] = Field(
        default_factory=lambda: [1.0], description="Decision times, in hours before kick-off; one feature row each.")
    sharp_book: str = Field(default="pinnacle", description="The bookmaker whose de-vigged prices are the reference.")
    devig_method: DevigChoice = Field(default=DEFAULT_CHOICE,
                              description="How the sharp book's margin is removed for fair prices, edges and CLV: "
                              "one method for every market, or market=method pairs; the default is what was best "
                              "calibrated on Pinnacle's prices (betting devig compare).")

    _split = field_validator("decision_hours", mode="before")(_csv)


class ModelSettings(_Group):
    FLAT_PREFIX = "model_"

    trials: int = Field(default=30, gt=0, description="Optuna trials per training run.")
    folds: int = Field(default=4, ge=2, description="Time-ordered cross-validation folds.")
    test_from: str | None = Field(
        default=None, description="First day of the out-of-time evaluation; the last fifth of events when unset.")
    train_from: str | None = Field(default=None, description="First day of training data; all when unset.")
    decision_hours: float = Field(default=1.0, description="The decision time the model trains at.")
    retrain_days: int = Field(default=7, ge=1, le=366, description="Days, on the product's clock, between two "
                              "retrainings by retrain_sensor (features of the days since, then train_model).")
    holdout_days: int = Field(default=28, ge=7, le=366, description="A retraining's out-of-time evaluation: the "
                              "last this many days before it; the champion moves only when the new version wins "
                              "there.")

    _day = field_validator("test_from", "train_from")(_a_day)


class BacktestSettings(_Group):
    FLAT_PREFIX = "backtest_"
    FLAT = {"from_day": "backtest_from", "to_day": "backtest_to", "min_edge": "min_edge",
            "arb_min_margin": "arb_min_margin"}

    strategies: CsvList = Field(
        default_factory=lambda: ["flat_home", "flat_away", "flat_favourite", "sharp_value", "arbitrage", "model_value"],
        description="Registered strategies the backtests asset replays.")
    from_day: str | None = Field(default=None, description="First kick-off day of a backtest; the champion's "
                                 "out-of-time start when the model strategy runs and this is unset.")
    to_day: str | None = Field(default=None, description="Kick-off day a backtest stops before.")
    min_edge: float = Field(default=0.02, ge=0, le=1, description="Smallest expected value per unit (p·d − 1) a "
                            "value strategy bets at (below 0 it would bet what it expects to lose).")
    arb_min_margin: float = Field(default=0.0, ge=0, description="An arbitrage's book sum must be below 1 − this.")

    _split = field_validator("strategies", mode="before")(_csv)
    _day = field_validator("from_day", "to_day")(_a_day)

    @model_validator(mode="after")
    def _days_ordered(self) -> "BacktestSettings":
        if self.from_day and self.to_day and self.from_day >= self.to_day:
            raise ValueError(f"BETTING_BACKTEST_FROM ({self.from_day}) must be before BETTING_BACKTEST_TO "
                             f"({self.to_day})")
        return self


class ExchangeSettings(_Group):
    """Where placed bets go, and what stops them."""

    FLAT_PREFIX = "exchange_"
    FLAT = {"mode": "mode", "broker": "broker", "alert_webhook_url": "alert_webhook_url",
            "alert_telegram_token": "alert_telegram_token", "alert_telegram_chat_id": "alert_telegram_chat_id",
            "alert_telegram_url": "alert_telegram_url", "kill_switch": "kill_switch",
            "kill_switch_file": "kill_switch_file"}

    mode: BettingMode = Field(default=BettingMode.PAPER, description="paper (the default) or live: live placement "
                              "also needs the exchange broker and its credentials.")
    broker: VenueName = Field(default=VenueName.PAPER, description="The venue placed bets go to: paper (fills at "
                              "the price on offer, any bookmaker) or betfair (the exchange; 'exchange' means it too).")

    url: str = Field(default="http://127.0.0.1:8765",
                     description="Base URL of a Betfair-shaped exchange (the sandbox's fake one by default).")
    app_key: SecretStr | None = Field(default=None, description="Exchange application key (X-Application).")
    session_token: SecretStr | None = Field(default=None, description="A session token to use as it is "
                                            "(X-Authentication); without one the broker logs in.")
    username: str | None = Field(default=None, description="Exchange account, to log in when no session token "
                                 "is set.")
    password: SecretStr | None = Field(default=None, description="Exchange password, to log in.")
    certs: Path | None = Field(default=None, description="Folder with the account's API certificate (.crt and "
                               ".key, or .pem): certificate login instead of interactive.")
    commission: float = Field(default=0.05, ge=0, lt=1, description="The exchange's commission on net winnings "
                              "per market: exchange prices (the broker's book, and the feed's betfair_ex_*, "
                              "matchbook, smarkets) count net of it in edges, stakes and backtests.")
    timeout_s: float = Field(default=5.0, gt=0, description="An exchange call unanswered by then is "
                             "left pending and reconciled later.")
    order_patience_s: float = Field(default=0.0, ge=0, le=86_400, description="0 (the default): every exchange "
                                    "order is fill-or-kill. Above 0: a LIMIT order's unmatched part rests at its "
                                    "price (its whole stake counts as exposure) and is cancelled once it has "
                                    "waited this long; the exchange lapses what still rests at in-play.")
    reprice: bool = Field(default=False, description="With order_patience_s above 0: each placement run asks "
                          "the strategy of every order resting with nothing matched whether to move it "
                          "(replaceOrders) down to the best back, which a strategy does while its edge still "
                          "clears there; off, an order waits at its price until cancelled or lapsed.")
    max_consecutive_errors: int = Field(default=3, ge=1, le=100, description="Placement stops for the run after "
                                        "this many venue errors in a row (no answer, or the venue's own error); "
                                        "the slips left stay proposed.")
    kill_switch: bool = Field(default=False, description="Stops all placement.")
    kill_switch_file: Path | None = Field(default=None, description="Placement stops while this file exists; "
                                          "KILL under the home when unset.")
    alert_webhook_url: str | None = Field(default=None, description="Every failed run (any job) is posted here as "
                                          "JSON: text, job, run id, error.")
    alert_telegram_token: SecretStr | None = Field(default=None, description="A Telegram bot's token: every failed "
                                                   "run is sent to the chat below (Bot API sendMessage).")
    alert_telegram_chat_id: str | None = Field(default=None, description="The Telegram chat the bot writes to.")
    alert_telegram_url: str = Field(default="https://api.telegram.org", description="The Telegram Bot API's "
                                    "address (another only for a proxy or a test).")

    _url = field_validator("url", "alert_webhook_url", "alert_telegram_url")(_http_url)

    @model_validator(mode="after")
    def _telegram_whole(self) -> "ExchangeSettings":
        if bool(self.alert_telegram_token) != bool(self.alert_telegram_chat_id):
            raise ValueError("BETTING_ALERT_TELEGRAM_TOKEN and BETTING_ALERT_TELEGRAM_CHAT_ID go together: set both "
                             "or neither")
        return self


class LiveStrategy(BaseModel):
    """A registered strategy that bets live, with its sizing method and its share of the day's cash."""

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    name: str
    method: str
    share: float = Field(gt=0, le=1)

    def __str__(self) -> str:
        return f"{self.name}={self.method}:{self.share:g}"


def _live_strategies(value: object) -> object:
    """``sharp_value=kelly:0.5,model_value=kelly:0.5``: each strategy with its sizing method (its
    default when left out) and share (what the others leave, split evenly, when left out)."""
    if not isinstance(value, str):
        return value
    from betting_assets.domain.betting import strategies

    parsed: list[dict[str, Any]] = []
    for part in (p.strip() for p in value.split(",") if p.strip()):
        name, _, sizing = (x.strip() for x in part.partition("="))
        method, _, share = (x.strip() for x in sizing.partition(":"))
        if name not in strategies.available():
            raise ValueError(f"unknown strategy {name!r} (registered: {', '.join(strategies.available())})")
        kind = strategies.kind_of(name)
        method = method or kind.default_sizing
        if method not in kind.sizing_methods:
            raise ValueError(f"{name} cannot be sized by {method!r} (it can by {', '.join(kind.sizing_methods)})")
        try:
            amount = float(share) if share else None
        except ValueError:
            raise ValueError(f"{part!r}: the share {share!r} is not a number") from None
        parsed.append({"name": name, "method": method, "share": amount})
    names = [p["name"] for p in parsed]
    if len(set(names)) < len(names):
        raise ValueError("a strategy is named twice")
    given = sum(p["share"] for p in parsed if p["share"] is not None)
    missing = [p for p in parsed if p["share"] is None]
    for p in missing:
        p["share"] = (1.0 - given) / len(missing)
    return parsed


class LiveSettings(_Group):
    """Which registered strategies bet live, as the backtest replays them together."""

    FLAT_PREFIX = "live_"

    strategies: Annotated[list[LiveStrategy], NoDecode] = Field(
        default_factory=lambda: [LiveStrategy(name="sharp_value", method="kelly", share=0.5),
                                 LiveStrategy(name="model_value", method="kelly", share=0.5)],
        description="Strategies that bet live, each strategy=method:share (its sizing and its share of the day's "
                    "cash, which together may not pass 1), e.g. sharp_value=kelly:0.5,model_value=kelly:0.5; "
                    "bet_slips runs exactly these, and betting backtest run --live replays them together.")

    _parse = field_validator("strategies", mode="before")(_live_strategies)

    @field_validator("strategies")
    @classmethod
    def _shares_fit(cls, value: list[LiveStrategy]) -> list[LiveStrategy]:
        total = sum(s.share for s in value)
        if total > 1 + 1e-9:
            raise ValueError(f"the shares add up to {total:g}: together they may not pass the whole bankroll (1)")
        return value

    @property
    def names(self) -> list[str]:
        return [s.name for s in self.strategies]


GROUPS: dict[str, type[BaseModel]] = {
    "storage": StorageSettings, "collection": CollectionSettings, "quality": QualitySettings,
    "features": FeatureSettings, "model": ModelSettings, "backtest": BacktestSettings, "live": LiveSettings,
    "sizing": Sizing, "risk": RiskLimits, "exchange": ExchangeSettings,
}
strategy_registry.known_settings({f"{group}.{name}" for group, model in GROUPS.items() for name in model.model_fields})
REMOVED: dict[str, str] = {
    "BETTING_MAX_DAY_FRACTION": "the day's cap is risk's: BETTING_RISK_MAX_DAY_EXPOSURE (sizing reads it)",
    "BETTING_SIZING__MAX_DAY_FRACTION": "the day's cap is risk's: BETTING_RISK_MAX_DAY_EXPOSURE (sizing reads it)",
    "BETTING_SIZING__MIN_STAKE": "the minimum stake is risk's: BETTING_MIN_STAKE (BETTING_RISK__MIN_STAKE)",
    "BETTING_SIZING__MAX_STAKE": "the stake cap is risk's: BETTING_MAX_STAKE (BETTING_RISK__MAX_STAKE)",
}
"""settings that are gone, and what took their place"""
_DOMAIN_FLAT: dict[str, tuple[str, dict[str, str]]] = {
    "sizing": ("", {"percent": "stake_percent", "method": ""}),
    "risk": ("risk_", {"min_edge": "min_edge", "min_stake": "min_stake", "max_stake": "max_stake",
                       "price_tolerance": "price_tolerance"}),
}
"""the flat-name rules of the two groups that are the domain's models ("" for no flat name)"""


def flat_names() -> dict[str, list[tuple[str, str]]]:
    """Each flat name (lower case, no prefix) and the (group, field) paths it sets: one, or two
    where the gate shares a value with sizing or the strategies (``min_stake``, ``max_stake``,
    ``min_edge``)."""
    names: dict[str, list[tuple[str, str]]] = {"bankroll": []}
    for group, model in GROUPS.items():
        prefix, renamed = _DOMAIN_FLAT.get(group) or (getattr(model, "FLAT_PREFIX"), getattr(model, "FLAT"))
        for field in model.model_fields:
            flat = renamed.get(field, prefix + field)
            if flat:
                names.setdefault(flat, []).append((group, field))
    return names


FLAT_NAMES = flat_names()
_FLAT_OF = {path: flat for flat, paths in FLAT_NAMES.items() for path in paths}


def env_name(group: str, field: str | None = None) -> str:
    """The documented environment name of a setting (``bankroll`` is at the top)."""
    flat = _FLAT_OF.get((group, field or ""), group if field is None else f"{group}__{field}")
    return PREFIX + flat.upper()


def _nest(flat: dict[str, Any]) -> dict[str, Any]:
    nested: dict[str, Any] = {}
    for name, value in flat.items():
        for group, field in FLAT_NAMES[name]:
            nested.setdefault(group, {})[field] = value
        if not FLAT_NAMES[name]:
            nested[name] = value
    return nested


class _FlatNames(PydanticBaseSettingsSource):
    """The flat environment names, from the process or from a ``.env`` file, as nested values."""

    def __init__(self, settings_cls: type[BaseSettings], values: dict[str, str | None]) -> None:
        super().__init__(settings_cls)
        self.values = {k.lower(): v for k, v in values.items() if v is not None}

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        prefix = PREFIX.lower()
        found = {name: self.values[prefix + name] for name in FLAT_NAMES if prefix + name in self.values
                 and name != "bankroll"}
        return _nest(found)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix=PREFIX, env_file=".env", env_file_encoding="utf-8", extra="ignore", env_nested_delimiter="__",
        allow_inf_nan=False)

    storage: StorageSettings = Field(default_factory=StorageSettings)
    collection: CollectionSettings = Field(default_factory=CollectionSettings)
    quality: QualitySettings = Field(default_factory=QualitySettings)
    features: FeatureSettings = Field(default_factory=FeatureSettings)
    model: ModelSettings = Field(default_factory=ModelSettings)
    backtest: BacktestSettings = Field(default_factory=BacktestSettings)
    live: LiveSettings = Field(default_factory=LiveSettings)
    sizing: Sizing = Field(default_factory=Sizing)
    risk: RiskLimits = Field(default_factory=RiskLimits)
    exchange: ExchangeSettings = Field(default_factory=ExchangeSettings)
    bankroll: float = Field(default=1000.0, gt=0, le=1e9, description="Starting bankroll of a backtest and of the "
                            "bets ledger; slips are sized against it plus the settled P&L.")

    @model_validator(mode="after")
    def _gate_floor(self) -> "Settings":
        """The gate's edge floor is a control: below 0 it would pass bets expected to lose."""
        if self.risk.min_edge < 0:
            raise ValueError(f"{env_name('risk', 'min_edge')} ({self.risk.min_edge:g}) must be at least 0: a negative "
                             "floor lets the gate pass bets expected to lose (a research backtest lowers it with its "
                             "run config's gate_min_edge)")
        return self

    @classmethod
    def settings_customise_sources(
            cls, settings_cls: type[BaseSettings], init_settings: PydanticBaseSettingsSource,
            env_settings: PydanticBaseSettingsSource, dotenv_settings: PydanticBaseSettingsSource,
            file_secret_settings: PydanticBaseSettingsSource) -> tuple[PydanticBaseSettingsSource, ...]:
        """Nested names before flat ones, the process before ``.env``."""
        import os

        from_file = dict(dotenv_settings.env_vars) if isinstance(dotenv_settings, DotEnvSettingsSource) else {}
        return (init_settings, env_settings, _FlatNames(settings_cls, dict(os.environ)), dotenv_settings,
                _FlatNames(settings_cls, from_file), file_secret_settings)

    @model_validator(mode="before")
    @classmethod
    def _flat_arguments(cls, data: Any) -> Any:
        """``Settings(min_edge=0.04)`` as the environment's flat names are: each sets its paths."""
        if not isinstance(data, dict):
            return data
        flat = {k: data[k] for k in list(data) if k in FLAT_NAMES and k not in cls.model_fields}
        if not flat:
            return data
        merged = {k: (dict(v) if isinstance(v, dict) else v) for k, v in data.items() if k not in flat}
        for group, values in _nest(flat).items():
            base = merged.get(group)
            if isinstance(base, BaseModel):
                base = base.model_dump()
            merged[group] = {**(base or {}), **values}
        return merged

    @model_validator(mode="after")
    def _not_settable(self) -> "Settings":
        if "method" in self.sizing.model_fields_set:
            raise ValueError("BETTING_SIZING__METHOD is not a setting: each strategy sizes by its own method "
                             "(betting backtest run --sizing strategy=method)")
        return self

    def updated(self, **groups: dict[str, Any]) -> "Settings":
        """A copy with some groups' fields changed, each group validated again."""
        changes: dict[str, Any] = {}
        for name, values in groups.items():
            current = getattr(self, name)
            changes[name] = type(current).model_validate({**current.model_dump(), **values}) \
                if isinstance(current, BaseModel) else values
        return self.model_copy(update=changes)

    @property
    def home_dir(self) -> Path:
        return self.storage.home.expanduser().resolve()

    @property
    def warehouse_url(self) -> str:
        url = self.storage.database_url
        if url and url.get_secret_value():
            return url.get_secret_value()
        return f"sqlite:///{self.home_dir / 'warehouse.sqlite'}"

    @property
    def tracking_uri(self) -> str:
        return self.storage.mlflow_tracking_uri or f"sqlite:///{self.home_dir / 'mlflow.sqlite'}"

    @property
    def artifact_root(self) -> str:
        return self.storage.mlflow_artifact_root or (self.home_dir / "mlartifacts").as_uri()

    @property
    def kill_file(self) -> Path:
        return self.exchange.kill_switch_file or self.home_dir / "KILL"

    @property
    def uses_provider_clock(self) -> bool:
        clock = self.collection.clock
        if clock is ClockSource.AUTO:
            return self.collection.odds_api_key.get_secret_value() == SANDBOX_API_KEY
        return clock is ClockSource.PROVIDER

    def public_dict(self) -> dict[str, object]:
        """Settings safe to print or attach to Dagster metadata: secrets masked."""
        data = self.model_dump(mode="json")
        data["collection"]["odds_api_key"] = "********" if self.collection.odds_api_key.get_secret_value() else ""
        data["storage"]["database_url"] = mask_url(self.warehouse_url)
        broker = self.storage.celery_broker
        data["storage"]["celery_broker"] = mask_url(broker.get_secret_value()) if broker else None
        for name in ("app_key", "session_token", "password"):
            data["exchange"][name] = "********" if getattr(self.exchange, name) else None
        return data


def mask_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return "<unparseable url>"


SECRET_FIELDS = {("storage", "database_url"), ("storage", "celery_broker"), ("collection", "odds_api_key"), ("exchange", "app_key"),
                 ("exchange", "session_token"), ("exchange", "password")}


class SettingsError(ValueError):
    """Settings that make no sense, said in one line naming each variable."""


def _one(item: Any) -> str:
    loc = [str(part) for part in item["loc"]]
    why = str(item["msg"]).removeprefix("Value error, ")
    if item["type"] == OUT_OF_ORDER and loc:
        ctx = item["ctx"]
        return (f"{env_name(loc[0], ctx['low'])} ({ctx['low_value']}) must {ctx['relation']} "
                f"{env_name(loc[0], ctx['high'])} ({ctx['high_value']})")
    if not loc or (len(loc) == 1 and loc[0] in GROUPS):
        return why
    path = (loc[0], loc[1] if len(loc) > 1 else None)
    name = env_name(*path)
    secret = path in SECRET_FIELDS or isinstance(item.get("input"), dict)
    return f"{name}{'' if secret else '=' + str(item.get('input'))}: {why}"


def describe(error: ValidationError) -> str:
    """One line for all the problems: ``BETTING_NAME=value: why`` (never a secret's value); a
    problem two groups share (a flat name that sets both) is said once."""
    return "; ".join(dict.fromkeys(_one(item) for item in error.errors()))


def _removed(environ: dict[str, str]) -> list[str]:
    found = [name for name in REMOVED if name in environ]
    try:
        from dotenv import dotenv_values

        found += [name for name in REMOVED if name in dotenv_values(".env") and name not in found]
    except Exception:
        pass
    return found


def load_settings(**values: object) -> Settings:
    import os

    gone = _removed(dict(os.environ))
    if gone:
        raise SettingsError("invalid settings: " + "; ".join(f"{name} is gone: {REMOVED[name]}" for name in gone))
    try:
        return Settings(**values)  # type: ignore[arg-type]
    except ValidationError as exc:
        raise SettingsError(f"invalid settings: {describe(exc)}") from None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return load_settings()
