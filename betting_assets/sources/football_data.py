"""football-data.co.uk CSV files as bookmaker quotes (data: football-data.co.uk).

Each match gives two real snapshots per bookmaker: the pre-match prices, collected by the
source on the Friday (weekend games) or Tuesday (midweek games) afternoon before kick-off,
and the closing prices just before kick-off. Nothing in between is invented. A missing
column or an empty cell means "no price"; an incomplete market is left out and counted.
"""

from __future__ import annotations

import csv
import hashlib
import io
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import polars as pl

from betting_assets.domain.data.normalize import side_expr
from betting_assets.domain.pricing.odds import MAX_DECIMAL, MIN_DECIMAL
from betting_assets.domain.vocabulary import EventStatus, Market

DIV_TO_SPORT: dict[str, tuple[str, str]] = {
    "E0": ("soccer_epl", "EPL"),
    "E1": ("soccer_efl_champ", "Championship"),
    "E2": ("soccer_england_league1", "League 1"),
    "E3": ("soccer_england_league2", "League 2"),
    "D1": ("soccer_germany_bundesliga", "Bundesliga - Germany"),
    "D2": ("soccer_germany_bundesliga2", "Bundesliga 2 - Germany"),
    "I1": ("soccer_italy_serie_a", "Serie A - Italy"),
    "I2": ("soccer_italy_serie_b", "Serie B - Italy"),
    "SP1": ("soccer_spain_la_liga", "La Liga - Spain"),
    "SP2": ("soccer_spain_segunda_division", "La Liga 2 - Spain"),
    "F1": ("soccer_france_ligue_one", "Ligue 1 - France"),
    "F2": ("soccer_france_ligue_two", "Ligue 2 - France"),
    "N1": ("soccer_netherlands_eredivisie", "Dutch Eredivisie"),
    "B1": ("soccer_belgium_first_div", "Belgium First Div"),
    "P1": ("soccer_portugal_primeira_liga", "Primeira Liga - Portugal"),
    "T1": ("soccer_turkey_super_league", "Turkey Super League"),
    "G1": ("soccer_greece_super_league", "Super League - Greece"),
    "SC0": ("soccer_spl", "Premiership - Scotland"),
}

H2H_BOOKS: dict[str, str] = {
    "B365": "bet365", "BW": "bwin", "IW": "interwetten", "PS": "pinnacle", "WH": "williamhill",
    "VC": "betvictor", "LB": "ladbrokes_uk", "GB": "gamebookers", "1XB": "onexbet", "BF": "betfair_ex_uk",
}
TOTALS_BOOKS: dict[str, str] = {"B365": "bet365", "P": "pinnacle"}
SPREADS_BOOKS: dict[str, str] = {"B365": "bet365", "P": "pinnacle"}

PREMATCH_LOCAL_HOUR = 14
CLOSING_LEAD = timedelta(minutes=5)
LATEST_PREMATCH_LEAD = timedelta(hours=2)
SOCCER_DURATION = timedelta(minutes=115)

QUOTE_SCHEMA: dict[str, pl.DataType] = {
    "event_id": pl.String,
    "snapshot_time": pl.Datetime("us", "UTC"),
    "bookmaker": pl.String,
    "market": pl.String,
    "outcome": pl.String,
    "point": pl.Float64,
    "price": pl.Float64,
}


@dataclass
class FootballData:
    """Events and quotes read from one or more files, and what was left out."""

    events: pl.DataFrame
    quotes: pl.DataFrame
    files: list[str] = field(default_factory=list)
    skipped: dict[str, int] = field(default_factory=dict)


def sport_for_div(div: str) -> tuple[str, str]:
    return DIV_TO_SPORT.get(div, (f"soccer_fd_{div.lower()}", f"football-data {div}"))


def _event_digest(key: str) -> str:
    """Stable id from ``Div|Date|HomeTeam|AwayTeam``: the same match in two files is one event."""
    return hashlib.md5(key.encode()).hexdigest()


def csv_files(path: Path) -> list[Path]:
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.suffix.lower() == ".csv")
        if not files:
            raise FileNotFoundError(f"no .csv files in {path}")
        return files
    if not path.exists():
        raise FileNotFoundError(f"{path} does not exist")
    return [path]


class FootballDataError(ValueError):
    """A file that cannot be read as it is meant: one line naming the file, the row (the line
    in the file) and the column, and nothing is stored from it."""


QUOTE_KEY = ["event_id", "snapshot_time", "bookmaker", "market", "outcome", "point"]


def read_football_data(path: Path | str) -> FootballData:
    parts = [read_file(p) for p in csv_files(Path(path))]
    _refuse_conflicts(parts)
    skipped: dict[str, int] = {}
    for part in parts:
        for key, value in part.skipped.items():
            skipped[key] = skipped.get(key, 0) + value
    return FootballData(
        events=pl.concat([p.events for p in parts]).unique("event_id", keep="first", maintain_order=True),
        quotes=pl.concat([p.quotes for p in parts]).unique(
            ["event_id", "snapshot_time", "bookmaker", "market", "outcome", "point"], keep="first",
            maintain_order=True),
        files=[f for p in parts for f in p.files],
        skipped=skipped,
    )


def _refuse_conflicts(parts: list[FootballData]) -> None:
    """The same match in two files is one event; with two different prices for one quote it is
    a contradiction no reader should settle by keeping whichever came first."""
    if len(parts) < 2:
        return
    quotes = pl.concat([p.quotes.with_columns(file=pl.lit(p.files[0])) for p in parts if not p.quotes.is_empty()])
    clash = quotes.group_by(QUOTE_KEY).agg(pl.col("price").n_unique().alias("prices"), pl.col("price"),
                                           pl.col("file")).filter(pl.col("prices") > 1)
    if clash.height:
        row = clash.sort(QUOTE_KEY).row(0, named=True)
        raise FootballDataError(
            f"{row['file'][0]} and {row['file'][1]}: the same match (event {row['event_id'][:8]}) quotes "
            f"{row['bookmaker']} {row['market']} {row['outcome']} at {row['price'][0]} and {row['price'][1]}")


def _decoded(path: Path) -> bytes:
    """The file as UTF-8. football-data's older files are Windows-1252 (``Burnl\xe9y`` would
    otherwise come out mangled); bytes no code page defines are read as Latin-1."""
    raw = path.read_bytes()
    try:
        raw.decode("utf-8")
        return raw
    except UnicodeDecodeError:
        try:
            return raw.decode("cp1252").encode("utf-8")
        except UnicodeDecodeError:
            return raw.decode("latin-1").encode("utf-8")


_SLASHED = r"^\s*(\d{1,2})/(\d{1,2})/(\d{2}|\d{4})\s*$"
_ISO = r"^\s*(\d{4})-(\d{2})-(\d{2})\s*$"


def _match_dates(path: Path, raw: pl.DataFrame) -> pl.DataFrame:
    """The match date, the file's format told from the file itself: the source's DD/MM/YY(YY),
    or ISO, or MM/DD/YY(YY) when some second part is over 12 (no month is). A date no format
    reads, or a file that mixes day-first and month-first, is refused naming its row."""
    text = raw["Date"]
    iso = text.str.contains(_ISO)
    slashed = text.str.extract_groups(_SLASHED)
    first, second = slashed.struct.field("1").cast(pl.Int32), slashed.struct.field("2").cast(pl.Int32)
    unreadable = ~iso & slashed.struct.field("1").is_null()
    if unreadable.any():
        _refuse(path, raw.filter(unreadable), "Date", "is not a date (DD/MM/YYYY, DD/MM/YY or YYYY-MM-DD)")
    day_first_rows, month_first_rows = int((first > 12).sum()), int((second > 12).sum())
    if day_first_rows and month_first_rows:
        if day_first_rows >= month_first_rows:
            _refuse(path, raw.filter(second > 12), "Date", "is month-first, while other rows are day-first")
        _refuse(path, raw.filter(first > 12), "Date", "is day-first, while other rows are month-first")
    month_first = month_first_rows > 0
    day, month = ("2", "1") if month_first else ("1", "2")
    year = pl.col("_y").cast(pl.Int32)
    canonical = pl.when(pl.col("Date").str.contains(_ISO)).then(pl.col("Date").str.strip_chars()).otherwise(
        pl.format("{}-{}-{}", pl.when(year < 100).then(year + 2000).otherwise(year),
                  pl.col("_m").str.zfill(2), pl.col("_d").str.zfill(2)))
    parsed = raw.with_columns(
        _d=slashed.struct.field(day), _m=slashed.struct.field(month), _y=slashed.struct.field("3"),
    ).with_columns(_date=canonical.str.strptime(pl.Date, "%Y-%m-%d", strict=False))
    impossible = parsed.filter(pl.col("_date").is_null())
    if impossible.height:
        _refuse(path, impossible, "Date", "is not a day of the calendar")
    # event ids hash the date as the source writes it, so ids stay those of earlier reads; a
    # file in another format names the same match by the source's own spelling of its day
    as_source = pl.when(pl.lit(not month_first) & pl.col("_d").is_not_null()).then(
        pl.col("Date").str.strip_chars()).otherwise(pl.col("_date").dt.strftime("%d/%m/%Y"))
    return parsed.select(pl.col("_date"), as_source.alias("_id_date"))


def _refuse(path: Path, bad: pl.DataFrame, column: str, why: str) -> None:
    row = bad.row(0, named=True)
    more = f" (and {bad.height - 1} more rows)" if bad.height > 1 else ""
    value = row[column]
    shown = repr(value) if value not in (None, "") else "empty"
    raise FootballDataError(f"{path.name}: row {row['_row']}, column {column}: {shown} {why}{more}")


def _rows_whole(path: Path, raw: pl.DataFrame, required: list[str]) -> pl.DataFrame:
    """The rows that are matches: a blank row (no division, date or teams) is no match and is
    dropped; a row with some of them but not all, or cut short before the header's last column
    with a result or a price still due, is refused naming its row and column, since storing it
    would lose the match or its result without a word."""
    given = [pl.col(c).str.strip_chars().replace("", None).is_not_null() for c in required]
    some, every = pl.any_horizontal(given), pl.all_horizontal(given)
    partial = raw.filter(some & ~every)
    if partial.height:
        row = partial.row(0, named=True)
        column = next(c for c in required if not (row[c] or "").strip())
        _refuse(path, partial, column, "while the row names a match")
    return raw.filter(every)


_TIME = r"^\s*([01]?\d|2[0-3]):[0-5]\d\s*$"
MAX_GOALS = 30
"""more goals than any professional match has had: a score above it is a typo, not a result"""


def _check_times_and_scores(path: Path, raw: pl.DataFrame) -> None:
    """A kick-off time the file gives must be a time of day (``25:99`` would move the match);
    a score must be whole, not negative and plausible, and given for both sides or neither (half
    a score is no result)."""
    if "Time" in raw.columns:
        given = pl.col("Time").str.strip_chars().replace("", None)
        bad = raw.filter(given.is_not_null() & ~pl.col("Time").str.contains(_TIME))
        if bad.height:
            _refuse(path, bad, "Time", "is not a time of day (HH:MM, 00:00 to 23:59)")
    present = [c for c in ("FTHG", "FTAG") if c in raw.columns]
    for column in present:
        text = pl.col(column).str.strip_chars().replace("", None)
        goals = text.cast(pl.Int64, strict=False)
        bad = raw.filter(text.is_not_null() & (goals.is_null() | (goals < 0) | (goals > MAX_GOALS)))
        if bad.height:
            _refuse(path, bad, column, f"is not a number of goals (a whole number from 0 to {MAX_GOALS})")
    if len(present) == 1:
        raise FootballDataError(f"{path.name}: column {present[0]} without its other half "
                                f"({'FTAG' if present[0] == 'FTHG' else 'FTHG'}): half a score is no result")
    if len(present) == 2:
        home, away = (pl.col(c).str.strip_chars().replace("", None).is_null() for c in present)
        half = raw.filter(home != away)
        if half.height:
            row = half.row(0, named=True)
            _refuse(path, half, "FTHG" if not (row["FTHG"] or "").strip() else "FTAG",
                    "while the other side's goals are given: half a score is no result")


def _price_columns(columns: list[str]) -> list[str]:
    wanted = set()
    for c in ("", "C"):
        wanted |= {f"{p}{c}{o}" for p in H2H_BOOKS for o in "HDA"}
        wanted |= {f"{p}{c}{o}" for p in TOTALS_BOOKS for o in (">2.5", "<2.5")}
        wanted |= {f"{p}{c}{o}" for p in SPREADS_BOOKS for o in ("AHH", "AHA")}
    return [c for c in columns if c in wanted]


def _refuse_ragged(path: Path, text: bytes) -> None:
    """A row cut short of the header's columns (a truncated download, a hand edit) would store a
    match without its result or prices as if it had none; one longer than the header with
    values past its end holds values no column names. Either is refused naming its row."""
    rows = csv.reader(io.StringIO(text.decode("utf-8", errors="replace")))
    header = next(rows, None)
    if header is None:
        return
    width = max((i + 1 for i, name in enumerate(header) if name.strip()), default=0)   # trailing blank names aside
    for line, row in enumerate(rows, start=2):
        if not any(cell.strip() for cell in row):
            continue
        if len(row) < width:
            raise FootballDataError(f"{path.name}: row {line}: cut short, {len(row)} of the header's {width} columns "
                                    f"(it stops after {header[len(row) - 1].strip()!r})")
        if any(cell.strip() for cell in row[width:]):
            raise FootballDataError(f"{path.name}: row {line}: {len(row)} values for the header's {width} columns")


def read_file(path: Path) -> FootballData:
    text = _decoded(path)
    _refuse_ragged(path, text)
    try:
        raw = pl.read_csv(text, infer_schema=False, truncate_ragged_lines=True)
    except pl.exceptions.NoDataError:
        raise FootballDataError(f"{path.name}: the file is empty") from None
    except pl.exceptions.ComputeError as exc:
        raise FootballDataError(f"{path.name}: not readable as CSV ({str(exc).splitlines()[0]})") from None
    raw = raw.rename({c: c.strip().lstrip("\ufeff") for c in raw.columns})
    required = ["Div", "Date", "HomeTeam", "AwayTeam"]
    missing = [c for c in required if c not in raw.columns]
    if missing:
        raise FootballDataError(f"{path.name}: not a football-data.co.uk file, missing columns {missing}")
    raw = _rows_whole(path, raw.with_columns(_row=pl.int_range(2, pl.len() + 2)), required)
    if raw.is_empty():
        raise FootballDataError(f"{path.name}: no matches in the file (a header and nothing else)")
    _check_times_and_scores(path, raw)
    for column in _price_columns(raw.columns):
        value = pl.col(column).str.strip_chars().cast(pl.Float64, strict=False)
        bad = raw.filter(value.is_not_null() & (~value.is_finite() | (value > MAX_DECIMAL)))
        if bad.height:
            _refuse(path, bad, column, f"is not a plausible price (above {MAX_DECIMAL:g})")
    if "Time" not in raw.columns:
        raw = raw.with_columns(Time=pl.lit("15:00"))
    raw = pl.concat([raw, _match_dates(path, raw)], how="horizontal")
    twice = raw.filter(pl.struct("Div", "_date", "HomeTeam", "AwayTeam").is_duplicated())
    if twice.height:
        distinct = twice.drop("_row").unique(maintain_order=True)
        if distinct.select("Div", "_date", "HomeTeam", "AwayTeam").is_duplicated().any():
            first = twice.row(0, named=True)
            rows = twice.filter((pl.col("HomeTeam") == first["HomeTeam"]) & (pl.col("AwayTeam") == first["AwayTeam"])
                                & (pl.col("_date") == first["_date"]))["_row"].to_list()
            raise FootballDataError(f"{path.name}: rows {rows[0]} and {rows[1]}: {first['HomeTeam']} v "
                                    f"{first['AwayTeam']} on {first['_date']} twice, with different values")
        raw = raw.unique(["Div", "_date", "HomeTeam", "AwayTeam"], keep="first", maintain_order=True)
    date = pl.col("_date")
    local = (date.cast(pl.Datetime("us")) + pl.col("Time").fill_null("15:00").str.strptime(
        pl.Time, "%H:%M", strict=False).fill_null(pl.time(15)).cast(pl.Duration("us")))
    frame = raw.with_columns(
        kickoff_local=local,
        weekday=date.dt.weekday(),
    ).with_columns(
        commence_time=pl.col("kickoff_local").dt.replace_time_zone(
            "Europe/London", ambiguous="earliest", non_existent="null").dt.convert_time_zone("UTC"),
        prematch_local=(pl.col("kickoff_local").dt.truncate("1d")
                        - pl.duration(days=pl.when(pl.col("weekday").is_in([5, 6, 7]))
                                      .then(pl.col("weekday") - 5)
                                      .when(pl.col("weekday") == 1).then(3)
                                      .otherwise(pl.col("weekday") - 2))
                        + pl.duration(hours=PREMATCH_LOCAL_HOUR)),
    )
    skipped: dict[str, int] = {}
    bad_dates = frame.filter(pl.col("commence_time").is_null()).height
    if bad_dates:
        skipped["unparseable_kickoff"] = bad_dates
    frame = frame.filter(pl.col("commence_time").is_not_null())
    frame = frame.with_columns(
        prematch_time=pl.min_horizontal(
            pl.col("prematch_local").dt.replace_time_zone("Europe/London", ambiguous="earliest",
                                                          non_existent="null").dt.convert_time_zone("UTC"),
            pl.col("commence_time") - LATEST_PREMATCH_LEAD),
        closing_time=pl.col("commence_time") - CLOSING_LEAD,
        event_id=pl.concat_str([pl.col("Div"), pl.col("_id_date"), pl.col("HomeTeam"), pl.col("AwayTeam")],
                               separator="|").map_elements(_event_digest, return_dtype=pl.String),
    )
    divs = frame["Div"].unique().to_list()
    sports = pl.DataFrame(
        {"Div": divs, "sport_key": [sport_for_div(d)[0] for d in divs],
         "sport_title": [sport_for_div(d)[1] for d in divs]},
        schema={"Div": pl.String, "sport_key": pl.String, "sport_title": pl.String},
    )
    frame = frame.join(sports, on="Div", how="left")
    score = {c: pl.col(c).cast(pl.Int64, strict=False) if c in frame.columns else pl.lit(None, pl.Int64)
             for c in ("FTHG", "FTAG")}
    events = frame.select(
        "event_id", "sport_key", "sport_title", "commence_time",
        pl.col("HomeTeam").alias("home_team"), pl.col("AwayTeam").alias("away_team"),
        score["FTHG"].alias("home_score"), score["FTAG"].alias("away_score"),
        (pl.col("commence_time") + SOCCER_DURATION).alias("ends_at"),
        pl.col("Div").alias("div"),
    )
    quotes = _quotes(frame, skipped)
    return FootballData(events=events, quotes=quotes, files=[path.name], skipped=skipped)


def _price(frame: pl.DataFrame, column: str) -> pl.Expr:
    if column not in frame.columns:
        return pl.lit(None, pl.Float64)
    value = pl.col(column).str.strip_chars().cast(pl.Float64, strict=False)
    return pl.when(value >= MIN_DECIMAL).then(value).otherwise(None)


def _point(frame: pl.DataFrame, column: str) -> pl.Expr:
    if column not in frame.columns:
        return pl.lit(None, pl.Float64)
    return pl.col(column).str.strip_chars().cast(pl.Float64, strict=False)


def _market_block(frame: pl.DataFrame, skipped: dict[str, int], *, book: str, market: str, when: str,
                  outcomes: list[tuple[pl.Expr, str, pl.Expr]]) -> pl.DataFrame | None:
    """One bookmaker's market at one snapshot: all outcomes or nothing."""
    prices = [_price(frame, col) for _, col, _ in outcomes]
    has_any = pl.any_horizontal([p.is_not_null() for p in prices])
    complete = pl.all_horizontal([p.is_not_null() for p in prices])
    points_ok = pl.all_horizontal([pt.is_not_null() for _, _, pt in outcomes])
    block = frame.select(
        "event_id", pl.col(f"{when}_time").alias("snapshot_time"),
        has_any.alias("has_any"), (complete & points_ok).alias("complete"),
        *[p.alias(f"p{i}") for i, p in enumerate(prices)],
        *[name.alias(f"n{i}") for i, (name, _, _) in enumerate(outcomes)],
        *[pt.cast(pl.Float64).alias(f"x{i}") for i, (_, _, pt) in enumerate(outcomes)],
    ).filter(pl.col("has_any"))
    incomplete = block.filter(~pl.col("complete")).height
    if incomplete:
        key = f"incomplete_market:{book}:{market}"
        skipped[key] = skipped.get(key, 0) + incomplete
    block = block.filter(pl.col("complete"))
    if block.is_empty():
        return None
    return pl.concat(
        [
            block.select(
                "event_id", "snapshot_time", pl.lit(book).alias("bookmaker"), pl.lit(market).alias("market"),
                pl.col(f"n{i}").alias("outcome"), pl.col(f"x{i}").alias("point"), pl.col(f"p{i}").alias("price"),
            )
            for i in range(len(outcomes))
        ]
    )


def _quotes(frame: pl.DataFrame, skipped: dict[str, int]) -> pl.DataFrame:
    home, away = pl.col("HomeTeam"), pl.col("AwayTeam")
    zero = pl.lit(0.0)
    blocks: list[pl.DataFrame | None] = []
    for when, c in (("prematch", ""), ("closing", "C")):
        for prefix, book in H2H_BOOKS.items():
            blocks.append(_market_block(frame, skipped, book=book, market=Market.H2H, when=when, outcomes=[
                (home, f"{prefix}{c}H", zero), (pl.lit("Draw"), f"{prefix}{c}D", zero),
                (away, f"{prefix}{c}A", zero)]))
        for prefix, book in TOTALS_BOOKS.items():
            blocks.append(_market_block(frame, skipped, book=book, market=Market.TOTALS, when=when, outcomes=[
                (pl.lit("Over"), f"{prefix}{c}>2.5", pl.lit(2.5)),
                (pl.lit("Under"), f"{prefix}{c}<2.5", pl.lit(2.5))]))
        line = _point(frame, "AHCh" if c else "AHh")
        for prefix, book in SPREADS_BOOKS.items():
            blocks.append(_market_block(frame, skipped, book=book, market=Market.SPREADS, when=when, outcomes=[
                (home, f"{prefix}{c}AHH", line), (away, f"{prefix}{c}AHA", -line)]))
    present = [b for b in blocks if b is not None]
    if not present:
        return pl.DataFrame(schema=QUOTE_SCHEMA)
    return pl.concat(present).cast(QUOTE_SCHEMA).select(list(QUOTE_SCHEMA))


def events_with_status(events: pl.DataFrame) -> pl.DataFrame:
    """The files' events with the status a backtest settles by: final once both scores are in."""
    scored = pl.col("home_score").is_not_null() & pl.col("away_score").is_not_null()
    return events.with_columns(status=pl.when(scored).then(pl.lit(EventStatus.FINAL)).otherwise(pl.lit(EventStatus.SCHEDULED)))


def quotes_as_odds(data: FootballData) -> pl.DataFrame:
    """The quotes in the shape of normalised odds (side, decimal price, validity), so features
    and backtests read files and the warehouse alike."""
    teams = data.events.select("event_id", "home_team", "away_team")
    return (
        data.quotes.join(teams, on="event_id", how="left")
        .with_columns(
            side=side_expr(),
            price_decimal=pl.col("price"),
            is_valid=pl.col("price") >= MIN_DECIMAL,
        )
        .drop("home_team", "away_team", "price")
    )
