"""Ingestion: events, raw odds snapshots, normalised odds and scores, with their checks,
jobs, sensors and the discovery schedule."""
