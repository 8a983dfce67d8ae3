"""Bad football-data files: read as meant (date format and encoding told from the file) or
refused in one line naming the file, row and column, with nothing stored."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest

from betting_assets.sources.football_data import FootballDataError, read_football_data
from betting_assets_tests.conftest import BUNDLED

HEADER_AND_60 = 61


@pytest.fixture
def sample(tmp_path: Path) -> Path:
    """The first 60 matches of the bundled EPL 2023-24 file."""
    lines = (BUNDLED / "E0_2324.csv").read_text(encoding="utf-8").splitlines()[:HEADER_AND_60]
    path = tmp_path / "E0_sample.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _rows(path: Path) -> list[list[str]]:
    return [line.split(",") for line in path.read_text(encoding="utf-8").splitlines()]


def _write(path: Path, rows: list[list[str]], encoding: str = "utf-8") -> Path:
    path.write_text("\n".join(",".join(r) for r in rows) + "\n", encoding=encoding)
    return path


def _redate(sample: Path, target: Path, fmt) -> Path:  # type: ignore[no-untyped-def]
    rows = _rows(sample)
    for row in rows[1:]:
        day, month, year = row[1].split("/")
        row[1] = fmt(day, month, year)
    return _write(target, rows)


@pytest.mark.parametrize("fmt", [lambda d, m, y: f"{m}/{d}/{y}", lambda d, m, y: f"{y}-{m}-{d}"],
                         ids=["US month-first", "ISO"])
def test_other_date_formats_are_read_as_the_same_matches(sample: Path, tmp_path: Path, fmt) -> None:  # type: ignore[no-untyped-def]
    expected = read_football_data(sample)
    other = read_football_data(_redate(sample, tmp_path / "E0_other.csv", fmt))
    assert other.events.height == expected.events.height == 60
    assert other.events.equals(expected.events)
    assert other.quotes.equals(expected.quotes)


def test_a_windows_1252_file_keeps_its_team_names(sample: Path, tmp_path: Path) -> None:
    rows = _rows(sample)
    for row in rows[1:]:
        row[3] = row[3].replace("Burnley", "Burnléy")
    data = read_football_data(_write(tmp_path / "E0_cp1252.csv", rows, encoding="cp1252"))
    assert "Burnléy" in data.events["home_team"].to_list()


@pytest.mark.parametrize(("change", "said"), [
    ("header only", "E0_bad.csv: no matches in the file (a header and nothing else)"),
    ("price 1e9", "E0_bad.csv: row 5, column B365H: '1e9' is not a plausible price (above 1000)"),
    ("unreadable date", "E0_bad.csv: row 3, column Date: 'tomorrow' is not a date"),
    ("impossible date", "E0_bad.csv: row 4, column Date: '31/02/2023' is not a day of the calendar"),
    ("mixed day and month order", "E0_bad.csv: row 6, column Date: '08/13/2023' is month-first, while other rows "
                                  "are day-first"),
    ("same match twice", "E0_bad.csv: rows 2 and 62: Burnley v Man City on 2023-08-11 twice, with different values"),
    # the probe's cases: each stored wrong, or dropped, without a word before
    ("time 25:99", "E0_bad.csv: row 3, column Time: '25:99' is not a time of day (HH:MM, 00:00 to 23:59)"),
    ("negative score", "E0_bad.csv: row 4, column FTHG: '-1' is not a number of goals"),
    ("score a word", "E0_bad.csv: row 4, column FTAG: 'two' is not a number of goals"),
    ("half a score", "E0_bad.csv: row 5, column FTAG: empty while the other side's goals are given"),
    ("empty team", "E0_bad.csv: row 6, column AwayTeam: empty while the row names a match"),
    ("truncated row", "E0_bad.csv: row 7: cut short, 5 of the header's 106 columns (it stops after 'AwayTeam')"),
    ("values past the header", "E0_bad.csv: row 8: 107 values for the header's 106 columns"),
])
def test_a_bad_file_is_refused_naming_file_row_and_column(sample: Path, tmp_path: Path, change: str,
                                                          said: str) -> None:
    rows = _rows(sample)
    header = rows[0]
    if change == "header only":
        rows = rows[:1]
    elif change == "price 1e9":
        rows[4][header.index("B365H")] = "1e9"
    elif change == "unreadable date":
        rows[2][1] = "tomorrow"
    elif change == "impossible date":
        rows[3][1] = "31/02/2023"
    elif change == "mixed day and month order":
        rows[5][1] = "08/13/2023"
    elif change == "time 25:99":
        rows[2][header.index("Time")] = "25:99"
    elif change == "negative score":
        rows[3][header.index("FTHG")] = "-1"
    elif change == "score a word":
        rows[3][header.index("FTAG")] = "two"
    elif change == "half a score":
        rows[4][header.index("FTAG")] = ""
    elif change == "empty team":
        rows[5][header.index("AwayTeam")] = ""
    elif change == "truncated row":
        rows[6] = rows[6][:5]
    elif change == "values past the header":
        rows[7] = [*rows[7], "1.5"]
    elif change == "same match twice":
        again = list(rows[1])
        again[header.index("B365H")] = "9.99"
        rows.append(again)
    with pytest.raises(FootballDataError) as caught:
        read_football_data(_write(tmp_path / "E0_bad.csv", rows))
    assert str(caught.value).startswith(said) and "\n" not in str(caught.value)


def test_the_same_match_in_two_files_at_two_prices_is_refused(sample: Path, tmp_path: Path) -> None:
    folder = tmp_path / "two"
    folder.mkdir()
    rows = _rows(sample)
    _write(folder / "a.csv", rows)
    rows[1][rows[0].index("PSH")] = "7.77"
    _write(folder / "b.csv", rows)
    with pytest.raises(FootballDataError, match=r"^a\.csv and b\.csv: the same match .* quotes pinnacle h2h Burnley"):
        read_football_data(folder)
    _write(folder / "b.csv", _rows(sample))                  # the same match at the same prices is one event
    assert read_football_data(folder).events.height == 60


def test_the_cli_refuses_a_bad_file_in_one_line_and_stores_nothing(sample: Path, tmp_path: Path) -> None:
    rows = _rows(sample)
    rows[4][rows[0].index("B365H")] = "1e9"
    bad = _write(tmp_path / "E0_bad.csv", rows)
    home = tmp_path / "home"
    env = {**os.environ, "BETTING_HOME": str(home), "DAGSTER_HOME": str(home / "dagster")}
    env.pop("BETTING_SPORTS", None)
    for command in (["quota", "simulate", "--data", str(bad)], ["demo", "--data", str(bad), "--ingest-only"]):
        done = subprocess.run([sys.executable, "-m", "betting_assets.cli", *command], env=env, capture_output=True,
                              text=True, timeout=300, cwd=tmp_path)
        assert done.returncode == 2, (command, done.stderr[-2000:])
        assert done.stderr.strip().splitlines() == [
            "error: E0_bad.csv: row 5, column B365H: '1e9' is not a plausible price (above 1000)"], command
    assert not (home / "warehouse.sqlite").exists() or pl.read_database_uri(
        "select count(*) as n from odds_snapshots", f"sqlite:///{home / 'warehouse.sqlite'}")["n"][0] == 0
