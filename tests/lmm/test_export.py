"""Tests of the LOBSTER writer: what it writes reads back unchanged; bad input is named."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from lmm.data.export import write_lobster
from lmm.data.lobster import MESSAGE_DTYPE, LobsterDay, read_lobster
from lmm.engine.orderbook import EMPTY_PRICE


def small_day() -> LobsterDay:
    """Three invented messages on a 2-level book (a submit, a partial cancel, a fill)."""
    messages = np.zeros(3, dtype=MESSAGE_DTYPE)
    messages["time"] = [36_000_000_000_001, 36_000_500_000_000, 36_001_000_000_000]
    messages["type"] = [1, 2, 4]
    messages["order_id"] = [7, 7, 7]
    messages["size"] = [100, 40, 10]
    messages["price"] = [5000, 5000, 5000]
    messages["price_raw"] = messages["price"] * 100
    messages["direction"] = [1, 1, 1]
    book = np.zeros((3, 2, 4), dtype=np.int64)
    book[:, 0] = [5002, 30, 5000, 100]
    book[1, 0, 3], book[2, 0, 3] = 60, 50
    book[:, 1] = [EMPTY_PRICE, 0, 4999, 5]
    return LobsterDay(messages, book, levels=2, ticker="TEST", date="2012-06-21")


def assert_same_day(a: LobsterDay, b: LobsterDay) -> None:
    assert a.levels == b.levels and a.tick_size == b.tick_size
    for name in MESSAGE_DTYPE.names:
        np.testing.assert_array_equal(a.messages[name], b.messages[name], err_msg=name)
    np.testing.assert_array_equal(a.book, b.book)


@pytest.mark.parametrize("zipped", [False, True])
def test_written_files_read_back_unchanged(tmp_path: Path, zipped: bool) -> None:
    day = small_day()
    paths = write_lobster(day, tmp_path, zipped=zipped)
    if zipped:
        assert [p.name for p in paths] == ["TEST_2012-06-21_36000000_36001000_2.zip"]
    else:
        assert [p.name for p in paths] == [
            "TEST_2012-06-21_36000000_36001000_message_2.csv",
            "TEST_2012-06-21_36000000_36001000_orderbook_2.csv",
        ]
        first = paths[0].read_text().splitlines()[0]
        assert first == "36000.000000001,1,7,100,500000,1"  # LOBSTER units and ns time
        assert paths[1].read_text().splitlines()[0].startswith("500200,30,500000,100,9999999999,0")
    back = read_lobster(paths[0])
    assert_same_day(day, back)
    assert (back.ticker, back.date) == ("TEST", "2012-06-21")


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"ticker": "A B"}, "ticker 'A B'"),
        ({"date": "21/06/2012"}, "date"),
        ({"book": np.zeros((2, 2, 4), dtype=np.int64)}, "book has shape"),
        ({"messages": np.zeros(0, dtype=MESSAGE_DTYPE), "book": np.zeros((0, 2, 4))}, "empty"),
        ({"messages": np.zeros(3, dtype=[("time", np.int64)])}, "MESSAGE_DTYPE"),
    ],
)
def test_malformed_days_are_refused_by_field(tmp_path: Path, change: dict, problem: str) -> None:
    day = dataclasses.replace(small_day(), **change)
    with pytest.raises(ValueError, match=problem):
        write_lobster(day, tmp_path)
    assert not any(tmp_path.iterdir())  # nothing half-written


def test_bad_rows_are_refused_with_their_line(tmp_path: Path) -> None:
    day = small_day()
    day.messages["time"][2] = 1  # backwards
    with pytest.raises(ValueError, match=r"message_2\.csv, line 3: time goes backwards"):
        write_lobster(day, tmp_path)
    day = small_day()
    day.book[1, 1, 3] = 0  # a bid level with a price and no size
    with pytest.raises(ValueError, match=r"orderbook_2\.csv, line 2: bid level 2"):
        write_lobster(day, tmp_path)


def test_a_real_day_round_trips(lobster_dir: Path, tmp_path: Path) -> None:
    day = read_lobster(lobster_dir / "LOBSTER_SampleFile_AMZN_2012-06-21_1.zip")
    (path,) = write_lobster(day, tmp_path, zipped=True)
    assert_same_day(day, read_lobster(path))
