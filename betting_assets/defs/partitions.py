"""Partitions of the ingestion assets: one per sport and UTC day.

The sport dimension is named so that it sorts first: Dagster orders multi-partition keys by
dimension name, and sport-major keys (``soccer_epl|2023-08-12``) make a CLI range such as
``soccer_epl|2023-08-12...soccer_epl|2023-08-19`` mean one sport over those days.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone

from dagster import (
    AssetExecutionContext,
    DailyPartitionsDefinition,
    Failure,
    MultiPartitionKey,
    MultiPartitionsDefinition,
    StaticPartitionsDefinition,
)

from betting_assets.domain.collection.tiers import FEED_LEAD
from betting_assets.settings import load_settings

SPORT_DIMENSION = "sport"
DATE_DIMENSION = "utc_date"


PLAN_DAYS = FEED_LEAD.days + 1
"""a plan covers today and the days after it that bookmakers list fixtures for"""


def ingestion_partitions(days_ahead: int = 1) -> MultiPartitionsDefinition:
    """The one place under ``defs/`` that reads settings itself: a partitions definition is the
    graph's shape, which Dagster needs when it loads the definitions, before any resource.
    ``days_ahead``: days from today on that have a partition (today's only, for what is fetched)."""
    settings = load_settings()
    return MultiPartitionsDefinition({
        SPORT_DIMENSION: StaticPartitionsDefinition(list(settings.collection.sports)),
        DATE_DIMENSION: DailyPartitionsDefinition(start_date=settings.collection.history_start,
                                                  end_offset=days_ahead),
    })


@dataclass(frozen=True)
class SportDay:
    sport_key: str
    day: date

    @property
    def start(self) -> datetime:
        return datetime.combine(self.day, time(0), tzinfo=timezone.utc)

    @property
    def end(self) -> datetime:
        return self.start + timedelta(days=1)

    @property
    def key(self) -> MultiPartitionKey:
        return partition_key(self.sport_key, self.day)


def partition_key(sport: str, day: date) -> MultiPartitionKey:
    return MultiPartitionKey({SPORT_DIMENSION: sport, DATE_DIMENSION: day.isoformat()})


def parse_key(key: str) -> SportDay:
    if isinstance(key, MultiPartitionKey):
        dims = key.keys_by_dimension
        return SportDay(dims[SPORT_DIMENSION], date.fromisoformat(dims[DATE_DIMENSION]))
    sport, day = key.split("|")
    return SportDay(sport, date.fromisoformat(day))


def run_days(context: AssetExecutionContext) -> list[SportDay]:
    """The sport-days a run covers, sport by sport in date order. A range that selects none
    (its start after its end, or another sport's days) fails the run saying so, instead of
    succeeding with nothing done."""
    keys = context.partition_keys
    if not keys:
        span = context.partition_key_range
        raise Failure(f"the partition range {span.start}...{span.end} selects no partition: its start must not "
                      "be after its end, and both ends must name the same sport", allow_retries=False)
    return sorted((parse_key(k) for k in keys), key=lambda d: (d.sport_key, d.day))


def refuse_after_clock(days: list[SportDay], now: datetime, what: str) -> None:
    """A run over a day the clock has not reached fails before any call to the provider, saying
    ``what`` cannot be done yet, rather than spend credits on the days before it."""
    ahead = next((d for d in days if d.start > now), None)
    if ahead is not None:
        raise Failure(f"{ahead.key} is after the clock ({now.isoformat()}): {what}", allow_retries=False)


PARTITIONS = ingestion_partitions()
"""the one partitions definition of the ingestion and features assets (sports from the settings)"""
PLAN_PARTITIONS = ingestion_partitions(PLAN_DAYS)
"""the collection plan's: the same sports and days, and the days a plan looks ahead to"""


def plan_end(today: date) -> datetime:
    """The end of the days a plan made ``today`` covers."""
    return datetime.combine(today + timedelta(days=PLAN_DAYS), time(0), tzinfo=timezone.utc)


def plan_range(sports: list[str], today: date) -> dict[str, str]:
    """The run tags of one plan over every sport from ``today`` for ``PLAN_DAYS`` days."""
    return {"dagster/asset_partition_range_start": str(partition_key(sports[0], today)),
            "dagster/asset_partition_range_end": str(partition_key(sports[-1], today + timedelta(days=PLAN_DAYS - 1)))}
