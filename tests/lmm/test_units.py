"""Times of day: parsed exactly to nanoseconds after midnight, bad ones named."""

from __future__ import annotations

import pytest

from lmm.units import NS_PER_SECOND, clock, time_of_day_ns


def test_times_of_day_to_nanoseconds_and_back() -> None:
    assert time_of_day_ns("00:00") == 0
    assert time_of_day_ns("14:30") == (14 * 3600 + 30 * 60) * NS_PER_SECOND
    assert time_of_day_ns("23:59:59") == (86_400 - 1) * NS_PER_SECOND
    assert clock(time_of_day_ns("09:05:07") + 999) == "09:05:07"


@pytest.mark.parametrize("text", ["25:00", "12:60", "12:00:60", "9:5", "12", "12:00:00:00", "a:b"])
def test_a_bad_time_of_day_is_named(text: str) -> None:
    with pytest.raises(ValueError, match=f"start_time must be a time of day.*got '{text}'"):
        time_of_day_ns(text, "start_time")


def test_a_time_of_day_must_be_text() -> None:
    with pytest.raises(ValueError, match="got 930"):
        time_of_day_ns(930)  # type: ignore[arg-type]
