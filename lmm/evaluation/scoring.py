"""Scoring a checkpoint as LOB-Bench does, under an honest protocol.

From real start states of a LOBSTER day at given times, :func:`score_checkpoint` generates
sessions (:mod:`lmm.model.sessions`, cut to what a level-L file holds) and compares them, in
500-message sequences, with the real flow that followed the same starts, by LOB-Bench's 21
unconditional and 3 conditional scores (:mod:`lmm.evaluation.lobbench`). Beside the model it reports
the two real-against-real floors computed the same way on the same windows: even against
odd sequences of the real windows (same times of day), and an earlier part of the day
against them.

The protocol: the held-out part of a day (its last 90 minutes, 14:30 to 16:00, which no
model trains on) is split in two. Starts in :data:`SELECTION_TIMES` (14:30, 14:45, 15:00;
14-minute sessions end by 15:14) are for choices: checkpoints, temperatures, recipes.
Starts in :data:`EVALUATION_TIMES` (15:15, 15:30, 15:45) give the headline figures and are
used for no choice. The same rule holds for a stock kept apart from the repository.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from lmm.data.lobster import read_lobster
from lmm.evaluation.drift import STATISTICS, drift_table, real_sessions
from lmm.evaluation.lobbench import BenchReport, cut_sequences, lobbench, window_sequences
from lmm.model.checkpoint import Checkpoint
from lmm.model.sessions import generate_sessions
from lmm.units import NS_PER_SECOND, time_of_day_ns

__all__ = [
    "EARLY_WINDOW",
    "EVALUATION_TIMES",
    "SELECTION_TIMES",
    "SESSION_MINUTES",
    "Scorecard",
    "score_checkpoint",
    "windows",
]

#: Starts (times of day) whose sessions may be used for choices.
SELECTION_TIMES = ("14:30", "14:45", "15:00")
#: Starts whose sessions give the headline figures, and are used for no choice.
EVALUATION_TIMES = ("15:15", "15:30", "15:45")
#: Market minutes per session: a start's session ends before the next start.
SESSION_MINUTES = 14.0
#: The earlier part of the day that the second floor compares the real windows with.
EARLY_WINDOW = ("10:00", "12:00")
#: Protocol names and their starts.
WINDOWS = {"selection": SELECTION_TIMES, "evaluation": EVALUATION_TIMES}


@dataclass(frozen=True)
class Scorecard:
    """A checkpoint's LOB-Bench scores on one day's windows, with the floors.

    Attributes:
        model: generated against real sequences.
        same_times: even against odd real sequences of the same windows.
        early: real sequences of :data:`EARLY_WINDOW` against the windows' real ones.
        drift_real, drift_model: :mod:`lmm.evaluation.drift` tables by minute (median over starts,
            and over all rollouts).
        seed: the sessions' seed.
    """

    model: BenchReport
    same_times: BenchReport
    early: BenchReport
    drift_real: list[list[float]]
    drift_model: list[list[float]]
    seed: int

    def to_dict(self) -> dict:
        """Plain JSON-ready form."""
        return {
            "model": self.model.to_dict(),
            "floor_same_times": self.same_times.to_dict(),
            "floor_early": self.early.to_dict(),
            "drift": {
                "statistics": list(STATISTICS),
                "real": self.drift_real,
                "model": self.drift_model,
            },
            "seed": self.seed,
        }


def windows(name: str) -> tuple[str, ...]:
    """The start times of the protocol's ``"selection"`` or ``"evaluation"`` windows."""
    if name not in WINDOWS:
        raise ValueError(f"windows must be one of {sorted(WINDOWS)}, got {name!r}")
    return WINDOWS[name]


def score_checkpoint(
    checkpoint: Checkpoint,
    day_file: str | Path,
    times: Sequence[str] = SELECTION_TIMES,
    *,
    minutes: float = SESSION_MINUTES,
    rollouts: int = 4,
    levels: int | None = None,
    seed: int = 0,
    temperature: float = 1.0,
    progress: bool = False,
) -> Scorecard:
    """Score ``checkpoint``'s sessions from the starts ``times`` of ``day_file``.

    Args:
        checkpoint: the LMM.
        day_file: a LOBSTER day (its books at ``times`` are the starts; its flow after
            them is the real side).
        times: start times of day.
        minutes: market minutes per session, real and generated.
        rollouts: generated sessions per start.
        levels: LOBSTER's L (default: the file's levels).
        seed: the sessions' seed (:func:`lmm.model.sessions.generate_sessions`).
        temperature: the model's sampling temperature.
        progress: show the generation's progress bar.
    """
    day = read_lobster(day_file)
    levels = day.levels if levels is None else levels
    starts = [time_of_day_ns(t, "start time") for t in times]
    real = real_sessions(day, starts, minutes)
    sessions = generate_sessions(
        checkpoint,
        start_file=day,
        times=times,
        minutes=minutes,
        rollouts=rollouts,
        levels=levels,
        seed=seed,
        temperature=temperature,
        progress=progress,
    )
    real_sequences = [q for s in real for q in cut_sequences(s.messages, s.book[:, :levels])]
    generated = [q for s in sessions for q in cut_sequences(s.day.messages, s.day.book)]
    early_from, early_to = (time_of_day_ns(t) / NS_PER_SECOND for t in EARLY_WINDOW)
    early = window_sequences(day, early_from, early_to)
    whole = math.ceil(minutes)
    return Scorecard(
        model=lobbench(real_sequences, generated, levels),
        same_times=lobbench(real_sequences[0::2], real_sequences[1::2], levels),
        early=lobbench(real_sequences, early, levels),
        drift_real=drift_table(real, whole).tolist(),
        drift_model=drift_table([s.day for s in sessions], whole).tolist(),
        seed=seed,
    )
