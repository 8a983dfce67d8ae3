"""Recorded provider responses replayed as they were, for any sport.

A folder holds ``*.json`` envelopes of historical odds calls and ``scores*.json`` lists.
The historical endpoint returns a recorded file's bytes unchanged; the live endpoints
derive from the latest envelope at or before the clock.
"""

from __future__ import annotations

import json
from bisect import bisect_right
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from betting_assets.domain.timeutil import format_utc as iso
from betting_assets.domain.timeutil import require_utc
from betting_assets.sandbox.market import envelope


@dataclass
class _Recording:
    timestamp: datetime
    raw: bytes
    data: list[dict[str, Any]]


@dataclass
class RecordedMarket:
    folder: Path
    simulated: bool = False
    _by_sport: dict[str, list[_Recording]] = field(default_factory=dict)
    _scores: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        files = sorted(self.folder.glob("*.json"))
        if not files:
            raise FileNotFoundError(f"no recorded *.json responses in {self.folder}")
        for path in files:
            raw = path.read_bytes()
            try:
                doc = json.loads(raw)
            except ValueError as exc:
                raise ValueError(f"{path.name}: not valid JSON ({exc})") from exc
            if path.name.startswith("scores"):
                if not isinstance(doc, list):
                    raise ValueError(f"{path.name}: a scores file must hold a list")
                for item in doc:
                    self._scores.setdefault(item["sport_key"], {})[item["id"]] = item
                continue
            if not isinstance(doc, dict) or "data" not in doc or "timestamp" not in doc:
                raise ValueError(f"{path.name}: not a historical odds envelope {{timestamp, data, ...}}")
            sports = {event.get("sport_key") for event in doc["data"]} - {None}
            for sport in sports or {path.stem.split("__")[0]}:
                self._by_sport.setdefault(sport, []).append(_Recording(require_utc(doc["timestamp"], path.name), raw, doc["data"]))
        for recordings in self._by_sport.values():
            recordings.sort(key=lambda r: r.timestamp)

    def sports(self) -> list[dict[str, Any]]:
        titles: dict[str, str] = {}
        for sport, recordings in self._by_sport.items():
            title = next((e.get("sport_title") for r in recordings for e in r.data if e.get("sport_title")), sport)
            titles[sport] = title
        return [{"key": k, "group": k.split("_")[0].capitalize(), "title": t, "description": t, "active": True,
                 "has_outrights": False} for k, t in sorted(titles.items())]

    def has_sport(self, sport: str) -> bool:
        return sport in self._by_sport

    def first_time(self) -> datetime:
        return min(r[0].timestamp for r in self._by_sport.values())

    def _at(self, sport: str, date: datetime) -> tuple[int, list[_Recording]]:
        recordings = self._by_sport.get(sport, [])
        return bisect_right([r.timestamp for r in recordings], date), recordings

    def _all_events(self, sport: str, until: datetime) -> dict[str, dict[str, Any]]:
        index, recordings = self._at(sport, until)
        seen: dict[str, dict[str, Any]] = {}
        for recording in recordings[:index]:
            for event in recording.data:
                seen[event["id"]] = {k: v for k, v in event.items() if k != "bookmakers"}
        return seen

    def events(self, sport: str, now: datetime) -> list[dict[str, Any]]:
        events = [e for e in self._all_events(sport, now).values() if require_utc(e["commence_time"], "commence_time") > now]
        return sorted(events, key=lambda e: e["commence_time"])

    def odds(self, sport: str, now: datetime, markets: set[str], bookmakers: set[str],
             odds_format: str) -> list[dict[str, Any]]:
        index, recordings = self._at(sport, now)
        if index == 0:
            return []
        result = []
        for event in recordings[index - 1].data:
            if require_utc(event["commence_time"], "commence_time") <= now:
                continue
            books = [
                {**b, "markets": [m for m in b.get("markets", []) if m.get("key") in markets]}
                for b in event.get("bookmakers", []) if b.get("key") in bookmakers
            ]
            books = [b for b in books if b["markets"]]
            if books:
                result.append({**event, "bookmakers": books})
        return result

    def historical_odds(self, sport: str, date: datetime, markets: set[str], bookmakers: set[str],
                        odds_format: str) -> bytes:
        index, recordings = self._at(sport, date)
        if index == 0:
            following = recordings[0].timestamp if recordings else None
            return envelope(None, None, following, [])
        return recordings[index - 1].raw

    def historical_events(self, sport: str, date: datetime) -> bytes:
        index, recordings = self._at(sport, date)
        timestamp = recordings[index - 1].timestamp if index else None
        previous = recordings[index - 2].timestamp if index > 1 else None
        following = recordings[index].timestamp if index < len(recordings) else None
        return envelope(timestamp, previous, following, self.events(sport, timestamp or date))

    def scores(self, sport: str, now: datetime, days_from: int | None) -> list[dict[str, Any]]:
        items = []
        for item in self._scores.get(sport, {}).values():
            commence = require_utc(item["commence_time"], "commence_time")
            finished_at = require_utc(item["last_update"], "last_update") if item.get("last_update") else None
            done = bool(item.get("completed")) and finished_at is not None and finished_at <= now
            if done:
                if days_from and commence >= now - timedelta(days=days_from):
                    items.append(item)
            elif commence <= now + timedelta(days=2):
                items.append({**item, "completed": False, "scores": None, "last_update": None})
        return sorted(items, key=lambda i: i["commence_time"])


def record_envelope(folder: Path, sport: str, raw: bytes, timestamp: datetime) -> Path:
    """Writes one historical response as the replay expects it; used to make recordings."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{sport}__{iso(timestamp).replace(':', '')}.json"
    path.write_bytes(raw)
    return path
