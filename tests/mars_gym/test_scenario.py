"""Scenarios: the one-line grammar and its errors, the outlook path a scenario gives, the
check against the model's training range, a real day's minutes as a scenario, and the
scenario reaching the model that generates the market."""

from __future__ import annotations

import math
import re
import warnings
from pathlib import Path

import numpy as np
import pytest

from lmm.data.orderflow import ORDER_DTYPE, OrderKind
from lmm.model.checkpoint import Checkpoint
from lmm.model.dataset import DayData
from lmm.model.features import N_BOOK_FEATURES
from lmm.model.generate import LMMMarkets, synthetic_start
from lmm.model.outlook import N_OUTLOOK_FEATURES
from lmm.units import NS_PER_SECOND, time_of_day_ns
from mars_gym.scenario import Scenario, ScenarioExtrapolationWarning, Segment
from tests.conftest import OUTLOOK_RANGE

RANGE = np.array(OUTLOOK_RANGE)
MINUTE = 60 * NS_PER_SECOND
TEN = time_of_day_ns("10:00")


def test_the_brief_example_parses_to_segments_in_explicit_units() -> None:
    text = "5m calm; 5m drift -150bp; 5m drift +50bp vol 8bp volume 2x"
    scenario = Scenario.parse(text)
    assert scenario == Scenario(
        (Segment(300.0), Segment(300.0, drift_bp=-150.0), Segment(300.0, 50.0, 8.0, 2.0))
    )
    assert str(scenario) == text
    assert scenario.seconds == 900.0


@pytest.mark.parametrize(
    ("text", "written"),
    [
        ("90s", "1.5m calm"),
        ("1.5m drift 3bp", "1.5m drift +3bp"),
        (
            "  45s vol 0.5bp ;2m   volume 0.25x drift -0bp ",
            "45s vol 0.5bp; 2m drift +0bp volume 0.25x",
        ),
        ("100s volume 1e-3x", "100s volume 0.001x"),
        ("0.5s drift -1e-05bp", "0.5s drift -1e-05bp"),
        ("0.7m", "0.7m calm"),
    ],
)
def test_str_writes_what_parses_back_to_an_equal_scenario(text: str, written: str) -> None:
    scenario = Scenario.parse(text)
    assert str(scenario) == written
    assert Scenario.parse(written) == scenario


def test_any_segment_of_floats_round_trips_through_its_text() -> None:
    rng = np.random.default_rng(0)
    segments = tuple(
        Segment(float(rng.uniform(0.1, 900)), *(float(x) for x in rng.uniform(0, 30, 3)))
        for _ in range(50)
    )
    scenario = Scenario(segments)
    assert Scenario.parse(str(scenario)) == scenario


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "at least one segment, got ''"),
        ("5m calm;", "segment 2 of '5m calm;' is empty"),
        ("drift -150bp", "segment 'drift -150bp' must start with its duration"),
        ("0m calm", "duration '0m' in segment '0m calm' must be > 0"),
        ("-5m", "duration '-5m' in segment '-5m' must be > 0"),
        ("5h calm", "unknown duration '5h' in segment '5h calm'"),
        ("5m 90s", "a second duration '90s' in segment '5m 90s'"),
        ("5m drop -150bp", "unknown word 'drop' in segment '5m drop -150bp'"),
        ("5m drift", "'drift' needs a value such as -150bp in segment '5m drift'"),
        ("5m drift -150", "drift '-150' in segment '5m drift -150' must be a number followed"),
        ("5m drift -150 bp", "write the unit without a space, -150bp"),
        ("5m vol 8x", "vol '8x' in segment '5m vol 8x' must be a number followed by 'bp'"),
        ("5m vol -8bp", "vol '-8bp' in segment '5m vol -8bp' must be >= 0"),
        ("5m volume -2x", "volume '-2x' in segment '5m volume -2x' must be >= 0"),
        ("5m drift 1bp drift 2bp", "'drift' given twice in segment '5m drift 1bp drift 2bp'"),
        ("5m calm calm", "'calm' given twice in segment '5m calm calm'"),
        ("5m calm vol 8bp", "stands alone: segment '5m calm vol 8bp' gives vol too"),
        ("5m volume 1e999x", "volume '1e999x' in segment '5m volume 1e999x' must be finite"),
    ],
)
def test_grammar_errors_quote_the_text_at_fault(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        Scenario.parse(text)


@pytest.mark.parametrize(
    ("fields", "error", "message"),
    [
        ({"seconds": 0.0}, ValueError, "seconds must be > 0, got 0.0"),
        ({"seconds": math.nan}, ValueError, "seconds must be finite, got nan"),
        ({"seconds": 60.0, "volatility_bp": -1.0}, ValueError, "volatility_bp must be >= 0"),
        ({"seconds": 60.0, "volume": -0.5}, ValueError, "volume must be >= 0, got -0.5"),
        ({"seconds": "5m"}, TypeError, "seconds must be a number, got '5m'"),
    ],
)
def test_segments_check_their_fields(fields: dict, error: type, message: str) -> None:
    with pytest.raises(error, match=re.escape(message)):
        Segment(**fields)


def test_a_scenario_needs_segments() -> None:
    with pytest.raises(ValueError, match="at least one segment"):
        Scenario(())
    with pytest.raises(TypeError, match="segments must be Segments"):
        Scenario(("5m calm",))
    with pytest.raises(TypeError, match="written as a string"):
        Scenario.parse(5)


def test_the_path_holds_each_segments_rates_and_blends_the_minutes_across_two() -> None:
    scenario = Scenario.parse("5m calm; 5m drift -150bp; 5m drift +50bp vol 8bp volume 2x")
    path = scenario.path(TEN, RANGE)
    # per-minute rates: drift total / minutes; items not given at the range's medians
    assert path.seconds == (300.0, 300.0, 300.0)
    assert path.drift == (0.0, -30.0, 10.0)
    assert path.volatility == (5.0, 5.0, 8.0)
    assert path.volume == (0.9, 0.9, 2.0)
    minutes = np.array([0.0, 5.0, 9.5, 10.0, 20.0])
    values = path.at(TEN + np.round(minutes * MINUTE).astype(np.int64))
    np.testing.assert_allclose(values[0], [0.0, 5.0, 0.9])  # calm: the typical minute
    np.testing.assert_allclose(values[1], [-30.0, 5.0, 0.9])
    # half a minute of each: drifts and volumes add up, variances too
    np.testing.assert_allclose(
        values[2], [(-30 + 10) / 2, math.sqrt((5**2 + 8**2) / 2), (0.9 + 2) / 2]
    )
    np.testing.assert_allclose(values[3], [10.0, 8.0, 2.0])
    np.testing.assert_allclose(values[4], [10.0, 8.0, 2.0])  # the last segment goes on


def test_a_segment_shorter_than_a_minute_drifts_at_its_rate_per_minute() -> None:
    path = Scenario.parse("30s drift -10bp; 1m calm").path(TEN, RANGE)
    assert path.drift == (-20.0, 0.0)
    np.testing.assert_allclose(path.at(TEN)[0, 0], -10.0)  # half a minute of -20 bp/min


@pytest.mark.parametrize(
    "text", ["5m calm", "2m drift +60bp vol 30bp volume 10x", "1m vol 0.6bp volume 0.01x"]
)
def test_rates_within_the_training_range_pass_silently(text: str) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        Scenario.parse(text).check(RANGE)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("1m calm; 5m drift -150bp", "segment 2 '5m drift -150bp': drift -30 bp per minute"),
        ("1m drift +60bp", "segment 1 '1m drift +60bp': drift 60 bp per minute"),
        ("30s drift -20bp", "drift -40 bp per minute"),
        ("1m vol 50bp", "vol 50 bp per sqrt-minute is outside the training data's range (0.6"),
        ("1m vol 0.1bp", "vol 0.1 bp per sqrt-minute is outside"),
        ("1m volume 20x", "volume 20 x normal is outside the training data's range (0.01 to 14"),
    ],
)
def test_a_rate_outside_the_training_range_warns_naming_segment_value_and_range(
    text: str, message: str
) -> None:
    with pytest.warns(ScenarioExtrapolationWarning, match=re.escape(message)):
        Scenario.parse(text).check(RANGE)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("1m drift -70bp", "segment 1 '1m drift -70bp': drift -70 bp per minute is beyond twice"),
        ("30s drift +35bp", "drift 70 bp per minute is beyond twice the training data's range"),
        ("1m vol 69bp", "vol 69 bp per sqrt-minute is beyond twice the training data's range"),
        ("1m calm; 1m volume 29x", "segment 2 '1m volume 29x': volume 29 x normal is beyond"),
    ],
)
def test_a_rate_beyond_twice_the_range_is_refused(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        Scenario.parse(text).check(RANGE)


def test_the_drift_limit_is_twice_the_larger_extreme() -> None:
    with pytest.warns(ScenarioExtrapolationWarning):
        Scenario.parse("1m drift -68bp").check(RANGE)  # 2 x max(|-25|, |34|) = 68
    with pytest.raises(ValueError, match=r"\|drift\| at most 68"):
        Scenario.parse("1m drift -68.5bp").check(RANGE)


def test_a_range_never_set_is_refused() -> None:
    scenario = Scenario.parse("1m calm")
    with pytest.raises(ValueError, match="never set from training data"):
        scenario.check(np.zeros((3, 3)))
    with pytest.raises(ValueError, match=r"shape \(3, 3\), got \(3,\)"):
        scenario.path(TEN, np.ones(3))


# ---------------------------------------------------------------------- history
def invented_day(minutes: int = 6) -> DayData:
    """An order every 10 s from 10:00 for ``minutes`` minutes; the mid rises one tick an
    order from 100.00 (ticks of a cent); every third order a market order of 100 shares."""
    n = minutes * 6 + 1
    k = np.arange(n)
    flow = np.zeros(n, dtype=ORDER_DTYPE)
    flow["time"] = TEN + k * 10 * NS_PER_SECOND
    flow["kind"] = np.where(k % 3 == 0, OrderKind.MARKET_BUY, OrderKind.LIMIT_BUY)
    flow["size"] = 100
    book = np.zeros((n, 1, 4), dtype=np.int64)
    book[:, 0, 0], book[:, 0, 2] = 10_001 + k, 9_999 + k  # mid 10,000 + k
    book[:, 0, 1] = book[:, 0, 3] = 300
    return DayData(
        name="invented",
        flow=flow,
        price_offset=np.zeros(n, dtype=np.int64),
        dt=np.zeros(n, dtype=np.int64),
        features=np.zeros((n, N_BOOK_FEATURES), dtype=np.float32),
        book_after=book,
        is_validation=np.zeros(n, dtype=bool),
    )


def by_hand(index: int, minutes: int) -> tuple[float, float, float]:
    """The invented day's outlook at order ``index``: the minute after it holds six orders."""
    mid = 10_000 + index + np.arange(7)  # now and after each of the next six orders
    drift = 1e4 * (mid[-1] / mid[0] - 1)
    volatility = 1e4 * math.sqrt(np.sum(np.diff(np.log(mid)) ** 2))
    market = sum(100 for j in range(index + 1, index + 7) if j % 3 == 0)
    normal = (100 * len(range(0, 6 * minutes + 1, 3))) / minutes  # the day's shares a minute
    return drift, volatility, market / normal


def test_from_history_holds_what_the_day_realised_each_minute() -> None:
    day = invented_day()
    scenario = Scenario.from_history(day, "10:01", 3)
    assert [s.seconds for s in scenario.segments] == [60.0] * 3
    for k, segment in enumerate(scenario.segments):
        expected = by_hand(6 * (k + 1), 6)  # 10:01, 10:02, 10:03: orders 6, 12, 18
        got = (segment.drift_bp, segment.volatility_bp, segment.volume)
        np.testing.assert_allclose(got, expected, rtol=1e-9)
    assert scenario.segments[0].volume == pytest.approx(200 / 1300 * 6)
    assert Scenario.parse(str(scenario)) == scenario


def test_from_history_reads_each_minute_at_its_last_order_so_far() -> None:
    day = invented_day()
    # 10:00:05 falls between orders 0 and 1; its minutes' first instants too
    scenario = Scenario.from_history(day, TEN + 5 * NS_PER_SECOND, 2)
    for k, segment in enumerate(scenario.segments):
        got = (segment.drift_bp, segment.volatility_bp, segment.volume)
        np.testing.assert_allclose(got, by_hand(6 * k, 6), rtol=1e-9)


@pytest.mark.parametrize(
    ("start", "minutes", "error", "message"),
    [
        ("09:59", 1, ValueError, "start 09:59:00 comes before invented's orders (its first at"),
        ("10:05", 2, ValueError, "2 minutes from 10:05:00 run to 10:07:00, past the last order"),
        ("10:00", 7, ValueError, "past the last order of invented at 10:06:00"),
        ("10:00", 0, ValueError, "minutes must be >= 1, got 0"),
        ("10:00", 1.5, TypeError, "minutes must be an integer >= 1, got 1.5"),
        ("10h", 1, ValueError, "start must be a time of day"),
    ],
)
def test_from_history_refuses_a_window_outside_the_day(
    start: str, minutes: int, error: type, message: str
) -> None:
    with pytest.raises(error, match=re.escape(message)):
        Scenario.from_history(invented_day(), start, minutes)


def test_from_history_reads_a_lobster_file_as_the_dataset_does(lobster_dir: Path) -> None:
    from lmm.data.lobster import read_lobster
    from lmm.model.dataset import day_orders
    from lmm.model.outlook import outlook_values

    path = lobster_dir / "LOBSTER_SampleFile_AMZN_2012-06-21_1.zip"
    day = day_orders(read_lobster(path))
    scenario = Scenario.from_history(path, "14:30", 3)
    assert Scenario.from_history(day, "14:30", 3) == scenario
    # what training reads there (float32 features)
    first = [day.index_at(time_of_day_ns("14:30") + k * MINUTE) for k in range(3)]
    got = [(s.drift_bp, s.volatility_bp, s.volume) for s in scenario.segments]
    np.testing.assert_allclose(got, outlook_values(day.outlook[first]), rtol=1e-5, atol=1e-5)


# ---------------------------------------------------------------------- generation
def test_the_scenarios_outlook_reaches_the_model(tiny_outlook_checkpoint: Checkpoint) -> None:
    checkpoint = tiny_outlook_checkpoint
    start = synthetic_start(checkpoint.tokenizer)
    path = Scenario.parse("1m drift -20bp vol 12bp volume 3x; 5m calm").path(
        start.time_ns, checkpoint.model.outlook_range
    )
    markets = LMMMarkets(checkpoint, 2)
    markets.reset(0, start, seed=1, outlook=path)
    markets.reset(1, start, seed=1)
    orders = [markets.step() for _ in range(12)]
    for i, with_path in ((0, True), (1, False)):
        _, inputs = markets.history(i)
        outlook = inputs[:, -N_OUTLOOK_FEATURES:]
        if not with_path:
            assert not outlook.any()  # unknown: the unconditional market
            continue
        assert np.all(outlook[:, 0] == 1)  # known everywhere, the start's context too
        times = [step[i].time_ns for step in orders]
        np.testing.assert_array_equal(outlook[-len(times) :], path.features(times))
    # the same seed, another outlook: another market
    assert [o[0].time_ns for o in orders] != [o[1].time_ns for o in orders]
