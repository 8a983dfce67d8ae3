"""A local server speaking The Odds API v4 over a replayed or simulated market."""
