"""Where data comes from: the odds API client, football-data files, recorded responses."""
