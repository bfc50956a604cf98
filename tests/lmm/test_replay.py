"""Replaying real LOBSTER days reproduces LOBSTER's own orderbook files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from lmm.data import read_lobster
from lmm.engine.orderbook import OrderBook
from lmm.engine.replay import replay, seed_book


def test_full_day_matches_orderbook_file_at_every_row(lobster_dir: Path) -> None:
    day = read_lobster(lobster_dir / "LOBSTER_SampleFile_GOOG_2012-06-21_10.zip")
    _, report = replay(day, verify=True)
    assert report.rows_compared == len(day) - 1 == report.messages
    assert report.rows_matched == report.rows_compared
    assert report.match_rate == 1.0
    assert report.unresolved_events == 0
    # reconciliation is the exception: on well over 90% of rows the messages alone suffice
    assert report.reconciliations < 0.06 * report.rows_compared
    assert report.rows_matched_without_reconciliation > 0.9 * report.rows_compared


@pytest.mark.slow
@pytest.mark.parametrize(
    "name",
    [
        "LOBSTER_SampleFile_GOOG_2012-06-21_5.zip",
        "LOBSTER_SampleFile_AMZN_2012-06-21_5.zip",
        "LOBSTER_SampleFile_GOOG_2012-06-21_1.zip",
        "LOBSTER_SampleFile_AMZN_2012-06-21_1.zip",
    ],
)
def test_other_sample_days_match(lobster_dir: Path, name: str) -> None:
    _, report = replay(read_lobster(lobster_dir / name), verify=True)
    assert report.match_rate == 1.0
    assert report.unresolved_events == 0


def test_seeded_book_equals_first_row(lobster_dir: Path) -> None:
    day = read_lobster(lobster_dir / "LOBSTER_SampleFile_AMZN_2012-06-21_5.zip")
    book = OrderBook()
    seed_book(book, day.book[0])
    np.testing.assert_array_equal(book.snapshot(day.levels), day.book[0])
    assert len(book.orders_of(-1)) == len(book)  # all of it anonymous


def test_replay_without_verify_keeps_volume_accounting(lobster_dir: Path) -> None:
    day = read_lobster(lobster_dir / "LOBSTER_SampleFile_GOOG_2012-06-21_10.zip")
    book, report = replay(day, limit=20_000)
    assert report.messages == 19_999
    assert report.messages_per_second > 0
    assert book.volume_added == book.resting_volume + book.volume_traded + book.volume_cancelled
    best_bid, best_ask = book.best_bid, book.best_ask
    assert best_bid is not None and best_ask is not None and best_bid < best_ask
