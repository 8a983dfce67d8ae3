"""A seeded simulated market (``sim:SEED[:sport]``) whose truth is known.

Teams have latent strength; the sharp book sees the true probability through noise that
shrinks toward kick-off; retail books copy the sharp price with a lag, their own noise and a
wider margin; scores are drawn from the true probabilities. Everything here is simulated and
the sport titles say so.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta, timezone

import numpy as np
import polars as pl
from scipy.stats import norm, poisson

from betting_assets.sandbox.market import QuoteMarket

SNAPSHOT_HOURS = np.array([168, 120, 96, 72, 48, 36, 24, 18, 12, 9, 6, 3, 2, 1, 0.5, 0.25, 1 / 12])
SIM_START = datetime(2024, 8, 17, 14, 0, tzinfo=timezone.utc)

SOCCER_BOOKS = {"pinnacle": (0.025, 0.0, 0.0), "bet365": (0.055, 1, 0.04), "williamhill": (0.065, 2, 0.05),
                "betvictor": (0.06, 1, 0.05), "bwin": (0.07, 3, 0.06)}
US_BOOKS = {"pinnacle": (0.03, 0.0, 0.0), "draftkings": (0.045, 1, 0.04), "fanduel": (0.045, 2, 0.05),
            "betmgm": (0.05, 1, 0.05)}


def _event_id(sport: str, seed: int, index: int) -> str:
    return hashlib.md5(f"sim|{sport}|{seed}|{index}".encode()).hexdigest()


def _round_robin(n_teams: int) -> list[list[tuple[int, int]]]:
    teams = list(range(n_teams))
    rounds = []
    for r in range(n_teams - 1):
        pairs = [(teams[i], teams[n_teams - 1 - i]) for i in range(n_teams // 2)]
        rounds.append([(a, b) if r % 2 == 0 else (b, a) for a, b in pairs])
        teams = [teams[0]] + [teams[-1]] + teams[1:-1]
    return rounds + [[(b, a) for a, b in rnd] for rnd in rounds]


def _belief_paths(rng: np.random.Generator, truth_logit: np.ndarray, scale: float) -> np.ndarray:
    """Sharp log-odds per snapshot: truth plus noise that random-walks away from the close."""
    n_events, n_out = truth_logit.shape
    hours = SNAPSHOT_HOURS
    steps = np.diff(np.concatenate([[0.0], hours[::-1]]))
    increments = rng.normal(0, 1, (n_events, len(hours), n_out)) * np.sqrt(steps / 168.0)[None, :, None] * scale
    walk = np.cumsum(increments, axis=1)[:, ::-1, :]
    close_noise = rng.normal(0, 0.03, (n_events, 1, n_out))
    return truth_logit[:, None, :] + walk + close_noise


def _prices(probs: np.ndarray, margin: float) -> np.ndarray:
    return np.round(1.0 / (probs * (1 + margin)), 2).clip(1.01, None)


def simulate(seed: int, sport: str = "soccer_epl") -> QuoteMarket:
    rng = np.random.default_rng(seed)
    if sport.startswith("soccer"):
        return _soccer(rng, seed, sport)
    return _two_way(rng, seed, sport)


def _frame_quotes(rows: list[dict[str, object]]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema={"event_id": pl.String, "snapshot_time": pl.Datetime("us", "UTC"),
                                      "bookmaker": pl.String, "market": pl.String, "outcome": pl.String,
                                      "point": pl.Float64, "price": pl.Float64})


def _soccer(rng: np.random.Generator, seed: int, sport: str) -> QuoteMarket:
    n_teams = 20
    teams = [f"Sim United {i + 1:02d}" for i in range(n_teams)]
    attack, defence = rng.normal(0, 0.25, n_teams), rng.normal(0, 0.25, n_teams)
    fixtures = [(r, h, a) for r, rnd in enumerate(_round_robin(n_teams)) for h, a in rnd]
    n = len(fixtures)
    home = np.array([h for _, h, _ in fixtures])
    away = np.array([a for _, _, a in fixtures])
    rounds = np.array([r for r, _, _ in fixtures])
    lam_h = np.exp(0.25 + 0.2 + attack[home] - defence[away])
    lam_a = np.exp(0.25 + attack[away] - defence[home])
    goals = np.arange(11)
    ph, pa = poisson.pmf(goals[None, :], lam_h[:, None]), poisson.pmf(goals[None, :], lam_a[:, None])
    joint = ph[:, :, None] * pa[:, None, :]
    p_home = np.tril(joint, -1).sum(axis=(1, 2))
    p_draw = np.trace(joint, axis1=1, axis2=2)
    p_1x2 = np.stack([p_home, p_draw, 1 - p_home - p_draw], axis=1)
    p_over = 1 - poisson.cdf(2, lam_h + lam_a)
    p_ou = np.stack([p_over, 1 - p_over], axis=1)
    kickoff = [SIM_START + timedelta(days=7 * int(r), hours=int(2 * (i % 4))) for i, r in enumerate(rounds)]
    events = pl.DataFrame({
        "event_id": [_event_id(sport, seed, i) for i in range(n)],
        "sport_key": sport, "sport_title": "Simulated soccer",
        "commence_time": kickoff,
        "home_team": [teams[h] for h in home], "away_team": [teams[a] for a in away],
        "home_score": rng.poisson(lam_h), "away_score": rng.poisson(lam_a),
    }).with_columns(commence_time=pl.col("commence_time").dt.cast_time_unit("us"),
                    ends_at=pl.col("commence_time").dt.cast_time_unit("us") + timedelta(minutes=115))
    quotes = _quotes(rng, events, SOCCER_BOOKS, {
        "h2h": (np.log(p_1x2), [None, None, None], ["home", "Draw", "away"]),
        "totals": (np.log(p_ou), [2.5, 2.5], ["Over", "Under"]),
    })
    return QuoteMarket(events, quotes, simulated=True)


def _two_way(rng: np.random.Generator, seed: int, sport: str) -> QuoteMarket:
    n_teams = 30
    teams = [f"Sim City {i + 1:02d}" for i in range(n_teams)]
    rating = rng.normal(0, 5, n_teams)
    pace = rng.normal(225, 6, n_teams)
    rounds = _round_robin(n_teams)
    fixtures = [(d, h, a) for d, rnd in enumerate(rounds) for h, a in rnd]
    n = len(fixtures)
    home = np.array([h for _, h, _ in fixtures])
    away = np.array([a for _, _, a in fixtures])
    days = np.array([d for d, _, _ in fixtures])
    margin_mu = rating[home] - rating[away] + 2.5
    total_mu = (pace[home] + pace[away]) / 2
    p_home = norm.cdf(margin_mu / 12.0)
    line = -np.round(margin_mu * 2) / 2
    p_cover = norm.cdf((margin_mu + line) / 12.0)
    total_line = np.round(total_mu * 2) / 2 + 0.5
    p_over = 1 - norm.cdf((total_line - total_mu) / 18.0)
    margin = np.round(rng.normal(margin_mu, 12.0))
    margin[margin == 0] = rng.choice([-1, 1], size=int((margin == 0).sum()))
    total = np.maximum(np.round(rng.normal(total_mu, 18.0)), np.abs(margin) + 100)
    home_pts = ((total + margin) / 2).astype(int)
    away_pts = (home_pts - margin).astype(int)
    kickoff = [SIM_START + timedelta(days=int(d), hours=int(i % 3)) for i, d in enumerate(days)]
    events = pl.DataFrame({
        "event_id": [_event_id(sport, seed, i) for i in range(n)],
        "sport_key": sport, "sport_title": f"Simulated {sport.split('_')[-1].upper()}",
        "commence_time": kickoff,
        "home_team": [teams[h] for h in home], "away_team": [teams[a] for a in away],
        "home_score": home_pts, "away_score": away_pts,
    }).with_columns(commence_time=pl.col("commence_time").dt.cast_time_unit("us"),
                    ends_at=pl.col("commence_time").dt.cast_time_unit("us") + timedelta(minutes=150))
    two = lambda p: np.log(np.stack([p, 1 - p], axis=1))  # noqa: E731
    quotes = _quotes(rng, events, US_BOOKS, {
        "h2h": (two(p_home), [None, None], ["home", "away"]),
        "spreads": (two(p_cover), [line, -line], ["home", "away"]),
        "totals": (two(p_over), [total_line, total_line], ["Over", "Under"]),
    })
    return QuoteMarket(events, quotes, simulated=True)


def _quotes(rng: np.random.Generator, events: pl.DataFrame, books: dict[str, tuple[float, float, float]],
            markets: dict[str, tuple[np.ndarray, list[object], list[str]]]) -> pl.DataFrame:
    kickoffs = events["commence_time"].to_list()
    home_names, away_names = events["home_team"].to_list(), events["away_team"].to_list()
    ids = events["event_id"].to_list()
    frames = []
    for market, (truth, points, names) in markets.items():
        belief = _belief_paths(rng, truth, scale=0.25)
        for book, (margin, lag, noise) in books.items():
            lagged = np.concatenate([belief[:, :1, :].repeat(int(lag), axis=1), belief], axis=1)[
                :, : belief.shape[1], :] if lag else belief
            view = lagged + rng.normal(0, noise, lagged.shape) if noise else lagged
            probs = np.exp(view) / np.exp(view).sum(axis=2, keepdims=True)
            prices = _prices(probs, margin)
            for k, name in enumerate(names):
                point = points[k]
                outcome = [home_names[i] if name == "home" else away_names[i] if name == "away" else name
                           for i in range(len(ids))]
                point_col = (point if isinstance(point, np.ndarray) else np.full(len(ids), point or 0.0))
                for s, hours in enumerate(SNAPSHOT_HOURS):
                    frames.append(pl.DataFrame({
                        "event_id": ids,
                        "snapshot_time": [t - timedelta(hours=float(hours)) for t in kickoffs],
                        "bookmaker": book, "market": market, "outcome": outcome,
                        "point": point_col.astype(float), "price": prices[:, s, k],
                    }))
    return pl.concat(frames).cast(_frame_quotes([]).schema)
