"""How often the daemon ticks the sensors.

Each sensor has its own interval, fit for a real clock: a minute for the odds and slips, two for
scores. A season run on a fast sandbox clock (``betting season``) moves an hour of the product's
time in seconds, so ``BETTING_SENSOR_INTERVAL_S`` sets one interval for all of them. Like the
partitions, it is read when the definitions load: Dagster takes a sensor's interval from its
definition, not from a resource.
"""

from __future__ import annotations

from betting_assets.settings import load_settings


def every(own_s: int) -> int:
    """The sensor's interval in seconds: the setting when given, else the sensor's own."""
    given = load_settings().collection.sensor_interval_s
    return given if given is not None else own_s
