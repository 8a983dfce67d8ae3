"""Prices: conversions, margins, de-vig, commission and the market as a bettor saw it."""
