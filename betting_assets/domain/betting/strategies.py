"""Betting strategies: each reads a ``MarketView`` and returns the bets it would make.

One interface, registered by name, so a new strategy is a class and a ``register`` line, and
that is all: the same object selects the backtest's bets, the replay's and the live slips
(``backtest.choose``), each through the same gate. A strategy only ever sees the view built at
the decision time; each bet it returns names the quote it takes (bookmaker, snapshot time,
price) and when its probability was known, so the engine can prove it saw nothing later.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol

import polars as pl

from betting_assets.domain.orders.resting import RestingOrder, chase_price
from betting_assets.domain.pricing.market_view import LINE_KEY, UTC, MarketView
from betting_assets.domain.vocabulary import MARKETS, Market, needed

BET_SCHEMA: dict[str, pl.DataType] = {
    "event_id": pl.String, "market": pl.String, "side": pl.String, "point": pl.Float64, "line": pl.Float64,
    "bookmaker": pl.String, "price": pl.Float64, "snapshot_time": UTC, "prob": pl.Float64, "prob_time": UTC,
    "edge": pl.Float64, "group": pl.String, "weight": pl.Float64,
}


class Strategy(Protocol):
    name: str
    default_sizing: ClassVar[str]
    sizing_methods: ClassVar[tuple[str, ...]]
    from_settings: ClassVar[dict[str, str]]
    """the strategy's parameters that come from settings: parameter → the setting's
    ``group.field`` (none when a strategy leaves it out)"""
    needs_model: ClassVar[bool]
    """whether ``select`` reads ``view.model``: only then is the model registry asked"""

    def select(self, view: MarketView) -> pl.DataFrame: ...

    def params(self) -> dict[str, Any]: ...

    # optional: ``reprice(order: RestingOrder) -> float | None``, the price to move one of its
    # unmatched resting orders to (``domain.orders.resting``); a strategy without it never moves one


_REGISTRY: dict[str, tuple[type, dict[str, Any]]] = {}
_SETTING_PATHS: set[str] = set()
"""every ``group.field`` of the settings, given by the settings module (``known_settings``): a
strategy's ``from_settings`` is checked against them when it registers"""
NAME = re.compile(r"^[a-z][a-z0-9_]{0,14}$")
"""a strategy's name: what a slip, a bet, its key and an exchange's strategy reference carry"""


def register(name: str, kind: type, **fixed: Any) -> None:
    """``kind`` built with ``fixed`` (e.g. a pattern) and the parameters a run gives."""
    if name in _REGISTRY:
        raise ValueError(f"strategy {name!r} is already registered")
    if not NAME.match(name):
        raise ValueError(f"strategy name {name!r}: lower-case letters, digits and _, at most 15, starting with a "
                         "letter (it names the strategy's bets everywhere, up to the exchange)")
    for attribute in ("default_sizing", "sizing_methods", "from_settings", "needs_model", "select", "params"):
        if not hasattr(kind, attribute):
            raise ValueError(f"strategy {name!r}: {kind.__name__} has no {attribute}")
    _check_paths(name, kind)
    _REGISTRY[name] = (kind, fixed)


def _check_paths(name: str, kind: type) -> None:
    for param, path in dict(kind.from_settings).items():  # type: ignore[attr-defined]
        if _SETTING_PATHS and path not in _SETTING_PATHS:
            near = sorted(p for p in _SETTING_PATHS if p.endswith(f".{path.rpartition('.')[2]}"))
            raise ValueError(f"strategy {name!r}: from_settings {param!r} → {path!r} is no setting (a group.field, "
                             f"e.g. {', '.join(near) or 'backtest.min_edge'})")


def known_settings(paths: set[str]) -> None:
    """The settings' ``group.field`` names, from the settings module; strategies registered before
    are checked now."""
    _SETTING_PATHS.update(paths)
    for name, (kind, _) in _REGISTRY.items():
        _check_paths(name, kind)


def unregister(name: str) -> None:
    """Takes a strategy out of the registry (a test's own, when it is done)."""
    _REGISTRY.pop(name, None)


def kind_of(name: str) -> type:
    return _entry(name)[0]


def available() -> list[str]:
    return sorted(_REGISTRY)


def settings_params(name: str) -> dict[str, str]:
    """Which of the strategy's parameters come from settings, and from which field."""
    return dict(_entry(name)[0].from_settings)


def create(name: str, **params: Any) -> Strategy:
    kind, fixed = _entry(name)
    return kind(name=name, **fixed, **params)  # type: ignore[no-any-return]


def _entry(name: str) -> tuple[type, dict[str, Any]]:
    if name not in _REGISTRY:
        raise KeyError(f"unknown strategy {name!r}; registered: {', '.join(available())}")
    return _REGISTRY[name]


def best_prices(offers: pl.DataFrame, markets: tuple[str, ...] = MARKETS,
                exclude: tuple[str, ...] = ()) -> pl.DataFrame:
    """The highest price per (event, market, line, side); ties go to the first bookmaker by name."""
    pool = offers.filter(pl.col("market").is_in(markets) & ~pl.col("bookmaker").is_in(exclude))
    return (pool.sort([*LINE_KEY, "side", "price", "bookmaker"], descending=[False] * 4 + [True, False])
            .group_by([*LINE_KEY, "side"], maintain_order=True).first())


def as_bets(frame: pl.DataFrame, prob: pl.Expr, prob_time: pl.Expr, edge: pl.Expr | None = None,
            group: pl.Expr | None = None, weight: pl.Expr | None = None) -> pl.DataFrame:
    """The bets in the shape the engine reads, in one order whatever the view held (by event,
    market, line, side and bookmaker), so a moment's bets queue the same way at every gate."""
    frame = frame.with_columns(prob=prob, prob_time=prob_time)
    return frame.with_columns(
        edge=edge if edge is not None else pl.col("prob") * pl.col("price") - 1.0,
        group=group if group is not None else pl.lit(None, pl.String),
        weight=weight if weight is not None else pl.lit(1.0),
    ).select(*BET_SCHEMA, *(["quoted_price"] if "quoted_price" in frame.columns else [])).cast(BET_SCHEMA).sort(
        "event_id", "market", "line", "side", "bookmaker")


@dataclass
class FlatPattern:
    """Every match, the same side at the best price: home, away, or the favourite (the side
    with the shortest best price). Its edge is measured against the sharp fair price."""

    name: str
    pattern: str = "home"
    from_settings: ClassVar[dict[str, str]] = {}
    needs_model: ClassVar[bool] = False
    default_sizing: ClassVar[str] = "flat"
    sizing_methods: ClassVar[tuple[str, ...]] = ("flat", "percent", "kelly")

    def __post_init__(self) -> None:
        if self.pattern not in ("home", "away", "favourite"):
            raise ValueError(f"flat pattern {self.pattern!r} must be home, away or favourite")

    def params(self) -> dict[str, Any]:
        return {"pattern": self.pattern}

    def select(self, view: MarketView) -> pl.DataFrame:
        best = best_prices(view.offers, (Market.H2H,))
        if self.pattern == "favourite":
            picked = (best.filter(pl.col("side") != "draw").sort("event_id", "price", "side")
                      .group_by("event_id", maintain_order=True).first())
        else:
            picked = best.filter(pl.col("side") == self.pattern)
        return as_bets(picked, pl.col("fair"), pl.col("fair_time"))


@dataclass
class SharpValue:
    """+EV against the sharp book: any bookmaker's price above the sharp book's de-vigged fair
    price by ``min_edge`` (fair · price − 1 ≥ min_edge), best price per outcome."""

    name: str
    min_edge: float = 0.02
    from_settings: ClassVar[dict[str, str]] = {"min_edge": "backtest.min_edge"}
    needs_model: ClassVar[bool] = False
    markets: tuple[str, ...] = MARKETS
    default_sizing: ClassVar[str] = "kelly"
    sizing_methods: ClassVar[tuple[str, ...]] = ("kelly", "flat", "percent")

    def params(self) -> dict[str, Any]:
        return {"min_edge": self.min_edge, "markets": list(self.markets)}

    def select(self, view: MarketView) -> pl.DataFrame:
        best = best_prices(view.offers.filter(pl.col("fair").is_not_null()), tuple(self.markets),
                           exclude=(view.sharp_book,))
        value = best.filter(pl.col("fair") * pl.col("price") - 1.0 >= self.min_edge)
        return as_bets(value, pl.col("fair"), pl.col("fair_time"))

    def reprice(self, order: RestingOrder) -> float | None:
        """Down to the best back while the fair price still clears the edge there."""
        return chase_price(order, self.min_edge)


@dataclass
class Arbitrage:
    """A full set of best prices across bookmakers whose implied probabilities sum below
    1 − ``min_margin``. Stakes split in proportion to 1/price, so every outcome returns the same
    amount: the profit is locked whatever happens (on Asian lines, at worst the stake back on a
    push)."""

    name: str
    min_margin: float = 0.0
    from_settings: ClassVar[dict[str, str]] = {"min_margin": "backtest.arb_min_margin"}
    needs_model: ClassVar[bool] = False
    markets: tuple[str, ...] = MARKETS
    default_sizing: ClassVar[str] = "percent"
    sizing_methods: ClassVar[tuple[str, ...]] = ("flat", "percent")

    def params(self) -> dict[str, Any]:
        return {"min_margin": self.min_margin, "markets": list(self.markets)}

    def select(self, view: MarketView) -> pl.DataFrame:
        best = best_prices(view.offers, tuple(self.markets))
        full = best.filter(pl.col("side").n_unique().over(LINE_KEY) == needed())
        booksum = (1.0 / pl.col("price")).sum().over(LINE_KEY)
        arbs = full.with_columns(booksum=booksum).filter(pl.col("booksum") < 1.0 - self.min_margin)
        group = pl.concat_str([pl.col("event_id"), pl.col("market"), pl.col("line").cast(pl.String)], separator="|")
        return as_bets(arbs, pl.lit(None, pl.Float64), pl.lit(None, UTC), edge=1.0 / pl.col("booksum") - 1.0,
                       group=group, weight=(1.0 / pl.col("price")) / pl.col("booksum"))


@dataclass
class ModelValue:
    """The model's probability against the best price on offer: bet where p · price − 1 ≥
    ``min_edge`` (match result only: that is what the model predicts)."""

    name: str
    min_edge: float = 0.02
    from_settings: ClassVar[dict[str, str]] = {"min_edge": "backtest.min_edge"}
    needs_model: ClassVar[bool] = True
    exclude_books: tuple[str, ...] = field(default_factory=tuple)
    default_sizing: ClassVar[str] = "kelly"
    sizing_methods: ClassVar[tuple[str, ...]] = ("kelly", "flat", "percent")

    def params(self) -> dict[str, Any]:
        return {"min_edge": self.min_edge, "exclude_books": list(self.exclude_books)}

    def select(self, view: MarketView) -> pl.DataFrame:
        if view.model is None:
            raise ValueError(f"strategy {self.name!r} needs model probabilities and the view has none")
        best = best_prices(view.offers, (Market.H2H,), exclude=tuple(self.exclude_books))
        priced = best.join(view.model, on=["event_id", "side"], how="inner")
        value = priced.filter(pl.col("prob") * pl.col("price") - 1.0 >= self.min_edge)
        return as_bets(value, pl.col("prob"), pl.col("prob_time"))

    def reprice(self, order: RestingOrder) -> float | None:
        """Down to the best back while the model's probability still clears the edge there."""
        return chase_price(order, self.min_edge)


def describe(strategy: Strategy) -> dict[str, Any]:
    return {"name": strategy.name, "kind": type(strategy).__name__, **strategy.params()}


register("flat_home", FlatPattern, pattern="home")
register("flat_away", FlatPattern, pattern="away")
register("flat_favourite", FlatPattern, pattern="favourite")
register("sharp_value", SharpValue)
register("arbitrage", Arbitrage)
register("model_value", ModelValue)
