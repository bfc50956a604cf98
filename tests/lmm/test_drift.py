"""Drift statistics by minute, checked on a session small enough to count by hand."""

from __future__ import annotations

import numpy as np
import pytest

from lmm.data.lobster import MESSAGE_DTYPE, EventType, LobsterDay
from lmm.evaluation.drift import STATISTICS, drift_table, minute_statistics, real_sessions

MINUTE = 60 * 10**9


def _session() -> LobsterDay:
    # one level a side; the book after each message: (ask, ask size, bid, bid size)
    rows = [
        # time, type, price, direction, book after
        (0, EventType.SUBMIT, 99, 1, (104, 100, 99, 200)),  # at the best bid: 0 behind
        (1, EventType.SUBMIT, 107, -1, (104, 100, 99, 200)),  # 3 behind the best ask
        (2, EventType.CANCEL, 97, 1, (104, 100, 99, 200)),  # 2 behind the best bid
        (MINUTE, EventType.EXECUTE, 104, -1, (106, 300, 99, 200)),
        (MINUTE + 1, EventType.SUBMIT, 110, -1, (106, 300, 99, 200)),  # 4 behind 106
    ]
    m = np.zeros(len(rows), dtype=MESSAGE_DTYPE)
    book = np.zeros((len(rows), 1, 4), dtype=np.int64)
    for k, (t, kind, price, direction, after) in enumerate(rows):
        m[k] = (t, kind, k + 1, 100, price, price * 100, direction)
        book[k, 0] = after
    return LobsterDay(messages=m, book=book, levels=1)


def test_minute_statistics_by_hand() -> None:
    stats = dict(zip(STATISTICS, minute_statistics(_session(), 3).T, strict=True))
    np.testing.assert_array_equal(stats["spread"][:2], [5, 7])
    np.testing.assert_array_equal(stats["touch_depth"][:2], [150, 250])  # 100,200 / 300,200
    np.testing.assert_array_equal(stats["limit_distance"][:2], [1.5, 4])  # (0, 3); (4)
    np.testing.assert_array_equal(stats["limit_distance_p75"][:2], [2.25, 4])
    np.testing.assert_array_equal(stats["cancel_distance"][:2], [2, np.nan])
    np.testing.assert_array_equal(stats["messages"][:2], [3, 2])
    np.testing.assert_allclose(stats["share_submit"][:2], [2 / 3, 1 / 2])
    np.testing.assert_allclose(stats["share_cancel"][:2], [1 / 3, 0])
    np.testing.assert_allclose(stats["share_execute"][:2], [0, 1 / 2])
    assert np.isnan(minute_statistics(_session(), 3)[2]).all()  # nothing in minute 2


def test_drift_table_is_the_median_over_sessions() -> None:
    one = _session()
    table = drift_table([one, one, one], 2)
    np.testing.assert_array_equal(table, minute_statistics(one, 2))
    with pytest.raises(ValueError, match="at least one session"):
        drift_table([], 2)


def test_real_sessions_cut_a_day_at_start_times() -> None:
    day = _session()
    (first, second) = real_sessions(day, [0, MINUTE], minutes=0.5)
    assert len(first) == 3 and len(second) == 2
    with pytest.raises(ValueError, match="no message"):
        real_sessions(day, [5 * MINUTE], minutes=1)
