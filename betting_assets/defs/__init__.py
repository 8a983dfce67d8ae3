"""The Dagster layer: thin assets, checks, sensors and resources, one folder per stage."""
