"""Scores payloads to event lifecycle updates.

The provider sends scores as strings and keys them by team name; a completed event with a
missing or non-integer score is not final, it is a data-quality finding.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from betting_assets.domain.data.normalize import Finding
from betting_assets.domain.timeutil import parse_utc
from betting_assets.domain.vocabulary import EventStatus


@dataclass(frozen=True)
class ScoreUpdate:
    event_id: str
    sport_key: str | None
    commence_time: str | datetime | None
    home_team: str | None
    away_team: str | None
    status: str
    completed: bool
    home_score: int | None
    away_score: int | None
    last_update: datetime | None


def _score(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if value >= 0 else None
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return None


def parse_scores(payload: Any) -> tuple[list[ScoreUpdate], list[Finding]]:
    updates: list[ScoreUpdate] = []
    findings: list[Finding] = []
    if not isinstance(payload, list):
        return [], [Finding("payload_shape", "error", "scores payload is not a list")]
    for item in payload:
        if not isinstance(item, dict) or not item.get("id"):
            findings.append(Finding("scores_required_fields", "error", "scores item without id skipped"))
            continue
        event_id = item["id"]
        home, away = item.get("home_team"), item.get("away_team")
        if not home or not away:
            findings.append(Finding("scores_required_fields", "error", "scores item without its teams skipped: "
                                    "its scores cannot be told apart", event_id=event_id))
            continue
        by_team: dict[str, Any] = {}
        for entry in item.get("scores") or []:
            if isinstance(entry, dict) and "name" in entry:
                by_team[entry["name"]] = entry.get("score")
        home_score, away_score = _score(by_team.get(home)), _score(by_team.get(away))
        completed = bool(item.get("completed"))
        status = EventStatus.SCHEDULED
        if item.get("scores"):
            status = "live"
        if completed:
            if home_score is None or away_score is None:
                findings.append(
                    Finding(
                        "scores_sane",
                        "error",
                        "completed event without two non-negative integer scores; not finalised",
                        event_id=event_id,
                        context={"scores": item.get("scores")},
                    )
                )
                status = "live"
                completed = False
            else:
                status = EventStatus.FINAL
        updates.append(
            ScoreUpdate(
                event_id=event_id,
                sport_key=item.get("sport_key"),
                commence_time=item.get("commence_time"),
                home_team=home,
                away_team=away,
                status=status,
                completed=completed,
                home_score=home_score,
                away_score=away_score,
                last_update=parse_utc(item.get("last_update")),
            )
        )
    return updates, findings
