"""Training windows: which windows a recipe may draw, how they are drawn, and how the draw
is shared out between the processes of a distributed run.

A window is ``context`` consecutive orders of one day's training part, and its targets
the ``context`` orders after each of them. The windows a recipe may draw are kept as runs
``(day, first start, count)`` rather than one row per window, so their index stays as
small as the number of days and ten-minute blocks, however many orders the days hold.

Every process of a run draws the *global* batch (``batch_size x world`` windows) from the
same seeded generator and takes its own slice of it: rank ``r`` trains on windows
``r * batch_size`` to ``(r + 1) * batch_size - 1``, so the run sees the windows one process
would see with the combined batch, and a single process draws exactly what it always did.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from lmm.model.dataset import DayData
from lmm.units import NS_PER_SECOND

__all__ = ["SUBSAMPLE_BLOCK_NS", "WindowSampler", "window_runs"]

#: Length of the blocks that ``TrainConfig.subsample`` keeps one in every so many of.
SUBSAMPLE_BLOCK_NS = 10 * 60 * NS_PER_SECOND


def window_runs(days: Sequence[DayData], context: int, subsample: int = 1) -> np.ndarray:
    """int64 ``(k, 3)`` runs ``(day, first start, count)`` of the windows whose inputs and
    targets lie in a day's training part and whose first order falls in a kept block (one
    in every ``subsample`` ten-minute blocks, counted from each day's first order), in the
    order of days and starts."""
    runs = []
    for d, day in enumerate(days):
        n_train = int(np.argmax(day.is_validation)) if day.is_validation.any() else len(day.flow)
        last = n_train - context - 1  # the window's targets end at start + context
        if last < 0:
            continue
        time = np.asarray(day.flow["time"][: last + 1])
        kept = (time - time[0]) // SUBSAMPLE_BLOCK_NS % subsample == 0
        # the runs of kept starts: where the mask switches on and off
        edges = np.flatnonzero(np.diff(np.concatenate([[False], kept, [False]]).astype(np.int8)))
        first, end = edges[::2], edges[1::2]
        runs.append(np.stack([np.full(len(first), d), first, end - first], axis=1))
    return np.concatenate(runs).astype(np.int64) if runs else np.zeros((0, 3), dtype=np.int64)


class WindowSampler:
    """Draws training windows uniformly, with replacement, from a seeded generator.

    Args:
        days: the days the windows come from.
        context: orders per window.
        subsample: keep the windows starting in one of every ``subsample`` blocks.
        seed: seeds the generator (``numpy.random.default_rng``).

    Raises:
        ValueError: no day has a window.
    """

    def __init__(self, days: Sequence[DayData], context: int, subsample: int, seed: int) -> None:
        self.days, self.context = tuple(days), context
        self.runs = window_runs(self.days, context, subsample)
        if not len(self.runs):
            raise ValueError(f"no training day has more than {context + 1} training orders")
        self._ends = np.cumsum(self.runs[:, 2])  # windows up to the end of each run
        self.rng = np.random.default_rng(seed)

    def __len__(self) -> int:
        """The windows there are to draw from."""
        return int(self._ends[-1])

    def starts(self, index: np.ndarray) -> np.ndarray:
        """``(n, 2)`` (day, start) of the windows at ``index``, counted in the order of
        :func:`window_runs`."""
        run = np.searchsorted(self._ends, index, side="right")
        before = self._ends[run] - self.runs[run, 2]
        return np.stack([self.runs[run, 0], self.runs[run, 1] + index - before], axis=1)

    def draw(self, batch: int, rank: int = 0, world: int = 1) -> np.ndarray:
        """``(batch, 2)`` (day, start) of rank ``rank``'s slice of the next global batch of
        ``batch * world`` windows. Every rank draws the whole global batch, so the
        generators stay in step."""
        picks = self.rng.integers(0, len(self), batch * world)
        return self.starts(picks[rank * batch : (rank + 1) * batch])

    def orders_seen(self, n_days: int | None = None) -> int:
        """How many distinct orders the windows cover (inputs and targets), in all days or
        in the first ``n_days``."""
        total = 0
        for d, day in enumerate(self.days[:n_days]):
            mine = self.runs[self.runs[:, 0] == d]
            if not len(mine):
                continue
            covered = np.zeros(len(day.flow) + 1, dtype=np.int64)
            np.add.at(covered, mine[:, 1], 1)
            # a run of starts s .. s + n - 1 covers orders s .. s + n - 1 + context
            np.add.at(covered, mine[:, 1] + mine[:, 2] + self.context, -1)
            total += int((np.cumsum(covered)[:-1] > 0).sum())
        return total

    @property
    def state(self) -> dict:
        """The generator's state (JSON-serialisable): where the draws have got to."""
        return self.rng.bit_generator.state

    @state.setter
    def state(self, value: dict) -> None:
        self.rng.bit_generator.state = value
