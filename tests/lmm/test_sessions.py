"""Generated sessions as LOBSTER files: seeded, cut to level L like LOBSTER's own, readable,
following the outlook each start is given."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from lmm.data.levels import visible_at_levels
from lmm.data.lobster import read_lobster
from lmm.model.checkpoint import Checkpoint
from lmm.model.dataset import DayData
from lmm.model.generate import StartState, synthetic_start
from lmm.model.outlook import OutlookPath
from lmm.model.sessions import generate_sessions, write_sessions
from lmm.units import time_of_day_ns

# the untrained model's clock jumps tens of seconds an order: ten minutes are a few dozen
SHORT = {"minutes": 10.0, "levels": 5}


def test_a_seed_gives_the_same_sessions_whatever_is_generated_beside_them(
    tiny_checkpoint: Checkpoint,
) -> None:
    one = generate_sessions(tiny_checkpoint, rollouts=1, seed=3, **SHORT)
    two = generate_sessions(tiny_checkpoint, rollouts=2, seed=3, **SHORT)
    assert [s.rollout for s in two] == [0, 1] and two[0].seed == one[0].seed
    assert len(one[0].day) > 0
    np.testing.assert_array_equal(one[0].day.messages, two[0].day.messages)
    np.testing.assert_array_equal(one[0].day.book, two[0].day.book)
    assert not np.array_equal(two[0].day.messages["time"], two[1].day.messages["time"])


def test_by_default_a_session_holds_what_a_level_l_file_would(
    tiny_checkpoint: Checkpoint,
) -> None:
    every = generate_sessions(tiny_checkpoint, rollouts=1, seed=4, all_events=True, **SHORT)
    cut = generate_sessions(tiny_checkpoint, rollouts=1, seed=4, **SHORT)
    expected = visible_at_levels(every[0].day, SHORT["levels"])
    np.testing.assert_array_equal(cut[0].day.messages, expected.messages)
    np.testing.assert_array_equal(cut[0].day.book, expected.book)
    end = every[0].day.messages["time"][0] + round(SHORT["minutes"] * 60e9)
    assert every[0].day.messages["time"].max() <= end


def test_written_sessions_read_back_as_lobster_days(
    tiny_checkpoint: Checkpoint, tmp_path: Path
) -> None:
    sessions = generate_sessions(tiny_checkpoint, rollouts=2, seed=5, **SHORT)
    paths = write_sessions(sessions, tmp_path)
    messages = sorted(p for p in paths if "_message_" in p.name)
    assert [p.name[:17] for p in messages] == ["gen_synthetic_r00", "gen_synthetic_r01"]
    for path, session in zip(messages, sessions, strict=True):
        day = read_lobster(path)
        assert (day.ticker, day.levels) == ("SYNTH", SHORT["levels"])
        np.testing.assert_array_equal(day.messages, session.day.messages)
        np.testing.assert_array_equal(day.book, session.day.book)


def test_real_starts_at_times_of_day(tiny_checkpoint: Checkpoint, lobster_dir: Path) -> None:
    path = lobster_dir / "LOBSTER_SampleFile_AMZN_2012-06-21_5.zip"
    sessions = generate_sessions(
        tiny_checkpoint, start_file=path, times=["14:30", "15:00"], rollouts=1, **SHORT
    )
    assert [s.start for s in sessions] == ["1430", "1500"]
    assert sessions[0].day.ticker == "AMZN" and sessions[0].day.date == "2012-06-21"
    first = sessions[1].day.messages["time"][0]
    assert abs(first - time_of_day_ns("15:00")) < 10 * 60 * 10**9


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"times": ["25:99"]}, "start time must be a time of day"),
        ({"times": ["14:3"]}, r"from 00:00 to 23:59, got '14:3'"),
        ({"times": ["03:00"]}, "outside"),
        ({"levels": 6}, "holds 5 levels"),
        ({"rollouts": 0}, "rollouts must be a positive integer"),
        ({"minutes": 0}, "minutes must be > 0"),
        ({"start_file": None}, "give start_file too"),
    ],
)
def test_bad_requests_are_named(
    tiny_checkpoint: Checkpoint, lobster_dir: Path, settings: dict, message: str
) -> None:
    path = lobster_dir / "LOBSTER_SampleFile_AMZN_2012-06-21_5.zip"
    kwargs = {"start_file": path, "times": ["14:30"], **SHORT, **settings}
    with pytest.raises(ValueError, match=message):
        generate_sessions(tiny_checkpoint, **kwargs)


def test_sessions_follow_the_outlook_each_start_is_given(
    tiny_outlook_checkpoint: Checkpoint,
) -> None:
    given = []

    def outlook(start: StartState, day: DayData | None) -> OutlookPath:
        given.append((start.time_ns, day))
        return OutlookPath.of(start.time_ns, [(120, -20.0, 12.0, 3.0)])

    path = generate_sessions(tiny_outlook_checkpoint, rollouts=2, seed=3, outlook=outlook, **SHORT)
    plain = generate_sessions(tiny_outlook_checkpoint, rollouts=2, seed=3, **SHORT)
    assert given == [(synthetic_start(tiny_outlook_checkpoint.tokenizer).time_ns, None)]
    assert [s.seed for s in path] == [s.seed for s in plain]
    assert not np.array_equal(path[0].day.messages, plain[0].day.messages)
