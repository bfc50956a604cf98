"""Generated sessions as LOBSTER data: synthetic message and orderbook files.

:func:`generate_sessions` runs the LMM from real start states of a LOBSTER day at given
times of day (or from the data-free synthetic start), several rollouts from each, for a
given number of market minutes, recording every event as LOBSTER messages with the top-L
book after each (:class:`lmm.engine.recording.SessionRecorder`). By default a session then holds
what LOBSTER's own level-L file would hold: only the events that touch the top L levels
(:func:`lmm.data.levels.visible_at_levels`), so generated and real level-L flow compare like
with like; ``all_events=True`` keeps every event. :func:`write_sessions` writes them with
:func:`lmm.data.export.write_lobster`, one message and one orderbook file per rollout, named
``gen_START_rROLLOUT_`` followed by LOBSTER's own name (ticker, date, first and last
millisecond, ``message``/``orderbook``, levels): any tool that reads LOBSTER files, LOB-Bench
included, reads them.

Each rollout draws from its own seed (``seed * 1_000_003 + k`` for the k-th rollout in
start-time order), so a rollout is the same whatever else is generated beside it.

A model with outlook features may follow a scenario (:mod:`lmm.model.outlook`): ``outlook``
gives each start the path its rollouts follow.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from lmm.data.export import write_lobster
from lmm.data.levels import visible_at_levels
from lmm.data.lobster import DEFAULT_TICK_SIZE, LobsterDay, read_lobster
from lmm.engine.recording import SessionRecorder
from lmm.model.checkpoint import Checkpoint
from lmm.model.dataset import DayData, build_dataset
from lmm.model.generate import LMMMarkets, StartState, synthetic_start
from lmm.model.outlook import OutlookPath
from lmm.units import NS_PER_SECOND, clock, time_of_day_ns

__all__ = ["GeneratedSession", "generate_sessions", "write_sessions"]

#: Ticker and date of sessions generated from the data-free start.
SYNTHETIC_TICKER, SYNTHETIC_DATE = "SYNTH", "2000-01-03"
_SEED_STRIDE = 1_000_003


@dataclass(frozen=True)
class GeneratedSession:
    """One rollout as LOBSTER data.

    Attributes:
        start: the start's time of day as ``HHMM`` (``synthetic`` for the data-free start).
        rollout: the rollout's number among those from the same start.
        seed: the seed the rollout drew from.
        day: its messages and books (``day.levels`` levels).
    """

    start: str
    rollout: int
    seed: int
    day: LobsterDay


def generate_sessions(
    checkpoint: Checkpoint,
    *,
    start_file: str | Path | LobsterDay | None = None,
    times: Sequence[str] | None = None,
    minutes: float = 14.0,
    rollouts: int = 4,
    levels: int = 10,
    seed: int = 0,
    all_events: bool = False,
    temperature: float = 1.0,
    progress: bool = False,
    outlook: Callable[[StartState, DayData | None], OutlookPath | None] | None = None,
) -> list[GeneratedSession]:
    """Generate ``rollouts`` sessions of ``minutes`` from each start, batched in one model.

    Args:
        checkpoint: the LMM.
        start_file: a LOBSTER day (a file, or one already read) whose books at ``times``
            are the starts; None for the
            data-free synthetic start (``times`` is then ignored).
        times: times of day (``HH:MM``) of the starts in ``start_file`` (default: 14:30);
            none may be given without a start file.
        minutes: market minutes per session.
        rollouts: sessions per start.
        levels: book levels per orderbook row, and LOBSTER's L for the level cut; with a
            start file, at most the file's levels.
        seed: the first rollout's seed (see the module docstring).
        all_events: keep every event rather than what a level-L file holds.
        temperature: the model's sampling temperature.
        progress: show a progress bar over market time.
        outlook: for a model with outlook features, the path the rollouts from a start
            follow (:meth:`LMMMarkets.reset`), called once per start with its state and the
            start day (None for the synthetic start); None returned, or no ``outlook``:
            the unconditional market.

    Returns:
        The sessions, by start (in ``times`` order), then rollout.
    """
    if not minutes > 0:
        raise ValueError(f"minutes must be > 0, got {minutes!r}")
    if type(rollouts) is not int or rollouts < 1:
        raise ValueError(f"rollouts must be a positive integer, got {rollouts!r}")
    if type(levels) is not int or levels < 1:
        raise ValueError(f"levels must be a positive integer, got {levels!r}")
    starts, ticker, date, day = _starts(checkpoint, start_file, times, levels)
    paths = [None if outlook is None else outlook(start, day) for _, start in starts]
    plan = [
        (label, start, r, path)
        for (label, start), path in zip(starts, paths, strict=True)
        for r in range(rollouts)
    ]
    markets = LMMMarkets(checkpoint, len(plan), temperature=temperature)
    recorders, seeds = [], []
    for i, (_, start, _, path) in enumerate(plan):
        seeds.append(seed * _SEED_STRIDE + i)
        markets.reset(i, start, seeds[-1], outlook=path)
        recorders.append(SessionRecorder(levels, DEFAULT_TICK_SIZE))
        markets.record(i, recorders[-1])
    ends = [start.time_ns + round(minutes * 60 * NS_PER_SECOND) for _, start, _, _ in plan]
    _run_until(markets, ends, [start.time_ns for _, start, _, _ in plan], progress)
    sessions = []
    for i, (label, _, r, _) in enumerate(plan):
        day = recorders[i].to_day(ticker, date)
        inside = day.messages["time"] <= ends[i]  # the order that passed the end is not in
        day = LobsterDay(
            day.messages[inside], day.book[inside], levels, day.tick_size, ticker, date
        )
        if not all_events:
            day = visible_at_levels(day, levels)
        sessions.append(GeneratedSession(label, r, seeds[i], day))
    return sessions


def write_sessions(sessions: Sequence[GeneratedSession], folder: str | Path) -> list[Path]:
    """Write each session's message and orderbook files into ``folder``; the paths."""
    paths = []
    for s in sessions:
        if len(s.day) == 0:
            raise ValueError(f"session {s.start} rollout {s.rollout} holds no message to write")
        paths += write_lobster(s.day, folder, prefix=f"gen_{s.start}_r{s.rollout:02d}_")
    return paths


def _starts(
    checkpoint: Checkpoint,
    start_file: str | Path | LobsterDay | None,
    times: Sequence[str] | None,
    levels: int,
) -> tuple[list[tuple[str, StartState]], str, str, DayData | None]:
    """The labelled start states, the ticker and date the sessions carry, and the start day
    (None for the synthetic start)."""
    if start_file is None:
        if times is not None:
            raise ValueError("times are times of day in a start file: give start_file too")
        start = synthetic_start(checkpoint.tokenizer, levels=max(levels, 10))
        return [("synthetic", start)], SYNTHETIC_TICKER, SYNTHETIC_DATE, None
    times = ("14:30",) if times is None else times
    if not times:
        raise ValueError("times: give at least one time of day for the starts")
    when = [time_of_day_ns(t, "start time") for t in times]
    named = start_file if isinstance(start_file, LobsterDay) else read_lobster(start_file)
    source = named.source or "the start day"
    day = build_dataset([named], tokenizer=checkpoint.tokenizer).days[0]
    file_levels = day.book_after.shape[1]
    if levels > file_levels:
        raise ValueError(f"levels={levels}, but {source} holds {file_levels} levels")
    first, last = int(day.flow["time"][0]), int(day.flow["time"][-1])
    starts = []
    for text, t in zip(times, when, strict=True):
        if not first <= t <= last:
            raise ValueError(
                f"start time {text} is outside {source}'s session ({clock(first)} to {clock(last)})"
            )
        state = day.start_state(day.index_at(t), checkpoint.model.config.context)
        starts.append((text.replace(":", ""), state))
    return starts, named.ticker or SYNTHETIC_TICKER, named.date or SYNTHETIC_DATE, day


def _run_until(markets: LMMMarkets, ends: list[int], begins: list[int], progress: bool) -> None:
    """Step every market until its clock passes its end."""
    total = max(e - b for e, b in zip(ends, begins, strict=True)) / NS_PER_SECOND
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=round(total), desc="generating", unit="market s")
    active = list(range(markets.n))
    while active:
        markets.step(active)
        active = [i for i in active if markets.time_ns(i) <= ends[i]]
        if bar is not None and active:
            done = min((markets.time_ns(i) - begins[i]) / NS_PER_SECOND for i in active)
            bar.update(max(0, int(done) - bar.n))
    if bar is not None:
        bar.update(bar.total - bar.n)
        bar.close()
