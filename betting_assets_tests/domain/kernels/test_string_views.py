"""Coding short strings from their Arrow views gives exactly what a string replace gives: nulls,
look-alikes longer than twelve bytes, sliced and chunked columns, and a column polars hands over
in another layout."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from betting_assets.domain.kernels.string_views import code_strings

WORDS = ["h2h", "spreads", "totals", "", "twelve_bytes"]
OTHERS = ["h2h_lay", "totals_but_much_longer", "spreads ", "H2H", "twelve_bytesX", "twelve_byte", "h2", "tot"]


def _expected(series: pl.Series) -> np.ndarray:
    return series.replace_strict({w: i for i, w in enumerate(WORDS)}, default=-1, return_dtype=pl.Int8).to_numpy()


@pytest.fixture
def values() -> pl.Series:
    rng = np.random.default_rng(3)
    drawn: list[str | None] = list(rng.choice(np.array(WORDS + OTHERS, dtype=object), 5_000))
    for i in range(0, len(drawn), 7):
        drawn[i] = None
    return pl.Series(drawn, dtype=pl.String)


@pytest.mark.parametrize("shape", ["whole", "sliced", "chunked", "categorical"])
def test_codes_match_a_string_replace(values: pl.Series, shape: str) -> None:
    series = {"whole": values, "sliced": values[13:4_000],
              "chunked": pl.concat([values[:100], values[100:]], rechunk=False),
              "categorical": values.cast(pl.Categorical)}[shape]
    expected = _expected(series.cast(pl.String))
    assert (code_strings(series, WORDS) == expected).all()
    rows = np.random.default_rng(4).integers(0, len(series), 700)
    assert (code_strings(series, WORDS, rows) == expected[rows]).all()
    assert set(expected.tolist()) == {-1, *range(len(WORDS))}  # every word, the others and nulls were there


def test_a_word_that_cannot_be_inlined_is_refused() -> None:
    with pytest.raises(ValueError, match="at most 12 bytes"):
        code_strings(pl.Series(["x"]), ["thirteen_byte"])
