"""The discovery schedule: the events endpoint is free, so the fixture list is refreshed hourly."""

from dagster import DefaultScheduleStatus, ScheduleDefinition

from betting_assets.defs.collection.jobs import discover_events

discovery_schedule = ScheduleDefinition(
    name="discover_events_hourly", job=discover_events, cron_schedule="7 * * * *",
    default_status=DefaultScheduleStatus.RUNNING,
    description="The events endpoint is free: refresh the fixture list every hour.",
)
