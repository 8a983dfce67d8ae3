"""What the sandbox knows: events, quotes with the time each was on offer, and results.

The clock decides what is visible: ``odds`` shows each bookmaker's latest quote at or
before "now" for events not yet started; scores complete events once they have ended.
"""

from __future__ import annotations

import json
from bisect import bisect_right
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Protocol

import polars as pl

from betting_assets.domain.data.catalog import BOOKMAKERS_BY_REGION, bookmaker_title
from betting_assets.domain.pricing.odds import decimal_to_american
from betting_assets.domain.timeutil import format_utc as iso


class Market(Protocol):
    def sports(self) -> list[dict[str, Any]]: ...
    def has_sport(self, sport: str) -> bool: ...
    def first_time(self) -> datetime: ...
    def events(self, sport: str, now: datetime) -> list[dict[str, Any]]: ...
    def odds(self, sport: str, now: datetime, markets: set[str], bookmakers: set[str],
             odds_format: str) -> list[dict[str, Any]]: ...
    def historical_odds(self, sport: str, date: datetime, markets: set[str], bookmakers: set[str],
                        odds_format: str) -> bytes: ...
    def historical_events(self, sport: str, date: datetime) -> bytes: ...
    def scores(self, sport: str, now: datetime, days_from: int | None) -> list[dict[str, Any]]: ...


def bookmakers_for(regions: list[str]) -> set[str]:
    return {key for region in regions for key in BOOKMAKERS_BY_REGION.get(region, {})}


def envelope(timestamp: datetime | None, previous: datetime | None, following: datetime | None,
             data: list[dict[str, Any]]) -> bytes:
    return json.dumps({
        "timestamp": iso(timestamp) if timestamp else None,
        "previous_timestamp": iso(previous) if previous else None,
        "next_timestamp": iso(following) if following else None,
        "data": data,
    }, separators=(",", ":")).encode()


@dataclass
class QuoteMarket:
    """A market held as two frames: ``events`` (with results and end times) and ``quotes``."""

    events_frame: pl.DataFrame
    quotes: pl.DataFrame
    simulated: bool = False

    def __post_init__(self) -> None:
        self.quotes = self.quotes.join(
            self.events_frame.select("event_id", "sport_key", "commence_time"), on="event_id"
        ).sort("sport_key", "snapshot_time")
        self._grid: dict[str, list[datetime]] = {
            sport: sorted(group["snapshot_time"].unique().to_list())
            for (sport,), group in self.quotes.group_by("sport_key")
        }
        self._titles = dict(self.events_frame.select("sport_key", "sport_title").unique().iter_rows())

    def sports(self) -> list[dict[str, Any]]:
        return [
            {"key": key, "group": key.split("_")[0].capitalize(), "title": title, "description": title,
             "active": True, "has_outrights": False}
            for key, title in sorted(self._titles.items())
        ]

    def has_sport(self, sport: str) -> bool:
        return sport in self._titles

    def first_time(self) -> datetime:
        return min(times[0] for times in self._grid.values()) if self._grid else datetime.now(timezone.utc)

    def participants(self, sport: str) -> list[str]:
        """Every team the sport's events name, over the whole data."""
        teams = self.events_frame.filter(pl.col("sport_key") == sport).select("home_team", "away_team")
        return sorted(set(teams["home_team"].to_list()) | set(teams["away_team"].to_list()))

    def _event_dict(self, row: dict[str, Any]) -> dict[str, Any]:
        return {"id": row["event_id"], "sport_key": row["sport_key"], "sport_title": row["sport_title"],
                "commence_time": iso(row["commence_time"]), "home_team": row["home_team"],
                "away_team": row["away_team"]}

    def events(self, sport: str, now: datetime) -> list[dict[str, Any]]:
        upcoming = self.events_frame.filter(
            (pl.col("sport_key") == sport) & (pl.col("commence_time") > now)
        ).sort("commence_time")
        return [self._event_dict(r) for r in upcoming.iter_rows(named=True)]

    def odds(self, sport: str, now: datetime, markets: set[str], bookmakers: set[str],
             odds_format: str) -> list[dict[str, Any]]:
        latest = (
            self.quotes.filter(
                (pl.col("sport_key") == sport) & (pl.col("commence_time") > now)
                & (pl.col("snapshot_time") <= now) & pl.col("market").is_in(list(markets))
                & pl.col("bookmaker").is_in(list(bookmakers))
            )
            .with_columns(latest=pl.col("snapshot_time").max().over("event_id", "bookmaker", "market"))
            .filter(pl.col("snapshot_time") == pl.col("latest"))
        )
        if latest.is_empty():
            return []
        events = self.events_frame.filter(pl.col("event_id").is_in(latest["event_id"].unique().to_list()))
        by_event: dict[str, dict[str, Any]] = {
            r["event_id"]: {**self._event_dict(r), "bookmakers": {}} for r in events.iter_rows(named=True)
        }
        for row in latest.sort("event_id", "bookmaker", "market").iter_rows(named=True):
            event = by_event[row["event_id"]]
            stamp = iso(row["snapshot_time"])
            book = event["bookmakers"].setdefault(
                row["bookmaker"], {"key": row["bookmaker"], "title": bookmaker_title(row["bookmaker"]),
                                   "last_update": stamp, "markets": {}})
            book["last_update"] = max(book["last_update"], stamp)
            market = book["markets"].setdefault(row["market"], {"key": row["market"], "last_update": stamp,
                                                                "outcomes": []})
            price: float | int = row["price"]
            if odds_format == "american":
                price = int(round(decimal_to_american(row["price"])))
            outcome: dict[str, Any] = {"name": row["outcome"], "price": price}
            if row["market"] != "h2h":
                outcome["point"] = row["point"]
            market["outcomes"].append(outcome)
        result = []
        for event in sorted(by_event.values(), key=lambda e: (e["commence_time"], e["id"])):
            event["bookmakers"] = [
                {**b, "markets": list(b["markets"].values())} for b in event["bookmakers"].values()
            ]
            result.append(event)
        return result

    def _around(self, sport: str, date: datetime) -> tuple[datetime | None, datetime | None, datetime | None]:
        grid = self._grid.get(sport, [])
        index = bisect_right(grid, date)
        timestamp = grid[index - 1] if index > 0 else None
        previous = grid[index - 2] if index > 1 else None
        following = grid[index] if index < len(grid) else None
        return timestamp, previous, following

    def historical_odds(self, sport: str, date: datetime, markets: set[str], bookmakers: set[str],
                        odds_format: str) -> bytes:
        timestamp, previous, following = self._around(sport, date)
        data = self.odds(sport, timestamp, markets, bookmakers, odds_format) if timestamp else []
        return envelope(timestamp, previous, following, data)

    def historical_events(self, sport: str, date: datetime) -> bytes:
        timestamp, previous, following = self._around(sport, date)
        return envelope(timestamp or date, previous, following, self.events(sport, timestamp or date))

    def scores(self, sport: str, now: datetime, days_from: int | None) -> list[dict[str, Any]]:
        frame = self.events_frame.filter(pl.col("sport_key") == sport)
        horizon = now + timedelta(days=2)
        earliest = now - timedelta(days=days_from) if days_from else None
        visible = frame.filter(
            ((pl.col("commence_time") <= horizon) & (pl.col("ends_at") > now))
            | (pl.lit(earliest is not None) & (pl.col("ends_at") <= now)
               & (pl.col("commence_time") >= (earliest or now)))
        ).sort("commence_time")
        items = []
        for row in visible.iter_rows(named=True):
            completed = row["ends_at"] <= now
            has_score = row["home_score"] is not None and row["away_score"] is not None
            item = {**self._event_dict(row), "completed": completed and has_score, "scores": None,
                    "last_update": None}
            if completed and has_score:
                item["scores"] = [{"name": row["home_team"], "score": str(row["home_score"])},
                                  {"name": row["away_team"], "score": str(row["away_score"])}]
                item["last_update"] = iso(row["ends_at"])
            items.append(item)
        return items
