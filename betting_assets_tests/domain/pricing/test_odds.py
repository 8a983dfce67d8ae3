import csv
import math

import polars as pl
import pytest

from betting_assets.domain.pricing.devig import devig
from betting_assets.domain.pricing.odds import (
    InvalidPrice,
    american_to_decimal,
    decimal_to_american,
    expected_value,
    implied_probability,
    overround,
)


def test_american_and_decimal_conversions_round_trip() -> None:
    assert american_to_decimal(150) == pytest.approx(2.5)
    assert american_to_decimal(-200) == pytest.approx(1.5)
    assert american_to_decimal(100) == pytest.approx(2.0)
    assert decimal_to_american(2.5) == pytest.approx(150)
    assert decimal_to_american(1.5) == pytest.approx(-200)
    for price in (1.01, 1.37, 1.99, 2.0, 3.75, 41.0):
        assert american_to_decimal(decimal_to_american(price)) == pytest.approx(price)


@pytest.mark.parametrize("bad", [0, 1.0, 1.009, -3.0, float("nan"), float("inf")])
def test_invalid_decimal_prices_are_refused(bad: float) -> None:
    with pytest.raises(InvalidPrice):
        implied_probability(bad)


@pytest.mark.parametrize("bad", [0, 50, -99.9, 99])
def test_american_prices_inside_minus_100_plus_100_are_refused(bad: float) -> None:
    with pytest.raises(InvalidPrice):
        american_to_decimal(bad)


def test_expected_value() -> None:
    assert expected_value(0.5, 2.2) == pytest.approx(0.1)
    assert expected_value(0.4, 2.0) == pytest.approx(-0.2)


def _real_pinnacle_markets(shared_data) -> list[tuple[float, float, float]]:  # type: ignore[no-untyped-def]
    with open(shared_data / "E0_2324.csv", newline="", encoding="utf-8-sig") as handle:
        return [(float(r["PSH"]), float(r["PSD"]), float(r["PSA"])) for r in csv.DictReader(handle)
                if r.get("PSH")]


def test_overround_of_real_pinnacle_prices_is_a_few_percent(shared_data) -> None:  # type: ignore[no-untyped-def]
    markets = _real_pinnacle_markets(shared_data)
    assert len(markets) == 380
    margins = [overround(list(m)) for m in markets]
    mean = sum(margins) / len(margins)
    assert 0.015 < mean < 0.045
    assert all(0 < m < 0.1 for m in margins)


@pytest.mark.parametrize("method", ["multiplicative", "power", "shin"])
def test_devig_real_markets_sums_to_one_and_keeps_order(shared_data, method: str) -> None:  # type: ignore[no-untyped-def]
    markets = _real_pinnacle_markets(shared_data)[:100]
    frame = pl.DataFrame({
        "market_id": [i for i in range(len(markets)) for _ in range(3)],
        "price_decimal": [p for m in markets for p in m],
    })
    fair = devig(frame, ["market_id"], method=method)
    sums = fair.group_by("market_id").agg(pl.col("fair_prob").sum())["fair_prob"]
    assert sums.to_list() == pytest.approx([1.0] * len(markets), abs=1e-9)
    for (i, m), probs in zip(enumerate(markets), fair.partition_by("market_id", maintain_order=True)):
        implied = [1 / p for p in m]
        order = sorted(range(3), key=lambda k: implied[k])
        assert sorted(range(3), key=lambda k: probs["fair_prob"][k]) == order


def test_power_and_shin_take_more_margin_from_the_longshot() -> None:
    frame = pl.DataFrame({"m": [0, 0], "price_decimal": [1.25, 4.0]})
    mult = devig(frame, ["m"], method="multiplicative")["fair_prob"].to_list()
    for method in ("power", "shin"):
        other = devig(frame, ["m"], method=method)["fair_prob"].to_list()
        assert other[1] < mult[1]
        assert other[0] > mult[0]
        assert math.isclose(sum(other), 1.0)
