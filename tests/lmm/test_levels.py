"""The level-L cut: the rule that decides which events a LOBSTER level-L file holds."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from lmm.data.levels import visible_at_levels, visible_mask
from lmm.data.lobster import MESSAGE_DTYPE, EventType, read_lobster


def _messages(rows: list[tuple[int, int, int]]) -> np.ndarray:
    """(type, price, direction) rows as messages, one nanosecond apart."""
    m = np.zeros(len(rows), dtype=MESSAGE_DTYPE)
    for k, (kind, price, direction) in enumerate(rows):
        m[k] = (k, kind, k + 1, 100, price, price * 100, direction)
    return m


def _book(rows: list[list[tuple[int, int, int, int]]]) -> np.ndarray:
    return np.array(rows, dtype=np.int64)


def test_events_beyond_level_l_are_dropped_and_those_at_it_kept() -> None:
    # two levels a side; cut to one: asks 101 (level 1) and 102, bids 99 and 98
    two_levels = [(101, 100, 99, 100), (102, 100, 98, 100)]
    book = _book([two_levels, two_levels, two_levels, two_levels])
    messages = _messages(
        [
            (EventType.SUBMIT, 101, -1),  # at the best ask: kept
            (EventType.SUBMIT, 102, -1),  # level 2 of the asks: dropped
            (EventType.CANCEL, 98, 1),  # level 2 of the bids: dropped
            (EventType.HALT, 0, 0),  # halts are always kept
        ]
    )
    np.testing.assert_array_equal(visible_mask(messages, book, 1), [True, False, False, True])
    np.testing.assert_array_equal(visible_mask(messages, book, 2), [True, True, True, True])


def test_an_event_that_creates_or_removes_level_l_is_kept() -> None:
    before = [(101, 100, 99, 100), (103, 100, 98, 100)]
    improved = [(101, 100, 99, 100), (102, 100, 98, 100)]  # a sell at 102 makes level 2
    book = _book([before, improved, before])
    messages = _messages(
        [
            (EventType.SUBMIT, 103, -1),
            (EventType.SUBMIT, 102, -1),  # inside level 2 after it: kept at 2 levels
            (EventType.DELETE, 102, -1),  # inside level 2 before it: kept at 2 levels
        ]
    )
    np.testing.assert_array_equal(visible_mask(messages, book, 2), [True, True, True])
    np.testing.assert_array_equal(visible_mask(messages, book, 1), [False, False, False])


def test_a_side_with_fewer_than_l_levels_admits_every_price() -> None:
    thin = [(101, 100, 99, 100), (0, 0, 98, 100)]  # one ask level only
    book = _book([thin, thin])
    messages = _messages([(EventType.SUBMIT, 150, -1), (EventType.SUBMIT, 50, 1)])
    np.testing.assert_array_equal(visible_mask(messages, book, 2), [True, False])


def test_bad_arguments_are_named() -> None:
    book = _book([[(101, 100, 99, 100)]])
    messages = _messages([(EventType.SUBMIT, 101, -1)])
    with pytest.raises(ValueError, match="levels must be a positive integer, got 0"):
        visible_mask(messages, book, 0)
    with pytest.raises(ValueError, match="fewer than levels=2"):
        visible_mask(messages, book, 2)
    with pytest.raises(ValueError, match="n = 1 messages"):
        visible_mask(messages, book[:0], 1)


@pytest.mark.parametrize(
    ("ticker", "deep", "shallow"), [("GOOG", 10, 5), ("GOOG", 10, 1), ("AMZN", 5, 1)]
)
def test_a_deeper_lobster_file_cut_to_l_levels_is_lobsters_level_l_file(
    lobster_dir: Path, ticker: str, deep: int, shallow: int
) -> None:
    day = read_lobster(lobster_dir / f"LOBSTER_SampleFile_{ticker}_2012-06-21_{deep}.zip")
    expected = read_lobster(lobster_dir / f"LOBSTER_SampleFile_{ticker}_2012-06-21_{shallow}.zip")
    cut = visible_at_levels(day, shallow)
    assert cut.levels == shallow and len(cut) == len(expected)
    np.testing.assert_array_equal(cut.messages, expected.messages)
    np.testing.assert_array_equal(cut.book, expected.book)
