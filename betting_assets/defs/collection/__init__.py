"""Collection: events, raw odds snapshots, normalised odds and scores, the collection plan,
with their checks, jobs and sensors."""
