"""Drift: how a generated market's state moves, minute by minute, against the real one's.

A model that feeds on its own output can drift away from the states it was trained on
(exposure bias): the spread narrows, orders crowd the touch, the message rate climbs. This
module measures that on LOBSTER-format sessions (real files, or generated ones from
:mod:`lmm.model.sessions`, both holding what a level-L file holds), by minute since each
session's first message:

* ``spread``: median spread in ticks over the books after the minute's messages;
* ``touch_depth``: median shares at the best bid and ask (both sides pooled);
* ``depth``: median shares over the top L levels of a side (both sides pooled);
* ``limit_distance`` and ``limit_distance_p75``: median and 75th percentile of a limit
  order's distance in ticks behind its own side's best quote in the book before it
  (0 at the best, negative inside the spread);
* ``cancel_distance``: the same median for cancellations and deletions;
* ``messages``: messages in the minute;
* ``share_submit``, ``share_cancel``, ``share_execute``: the fractions of the minute's
  messages that are submissions (type 1), cancellations or deletions (2, 3), and executions
  (4, 5).

:func:`drift_table` takes several sessions per side (the rollouts; the real starts) and
reports each statistic's median over sessions, minute by minute.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import numpy as np

from lmm.data.lobster import EventType, LobsterDay
from lmm.units import NS_PER_SECOND

__all__ = [
    "STATISTICS",
    "drift_table",
    "format_drift_table",
    "minute_statistics",
    "real_sessions",
]

#: The statistics :func:`minute_statistics` computes, in its column order.
STATISTICS = (
    "spread",
    "touch_depth",
    "depth",
    "limit_distance",
    "limit_distance_p75",
    "cancel_distance",
    "messages",
    "share_submit",
    "share_cancel",
    "share_execute",
)
_NS_PER_MINUTE = 60 * NS_PER_SECOND


def minute_statistics(day: LobsterDay, minutes: int) -> np.ndarray:
    """The :data:`STATISTICS` of one session for each of its first ``minutes`` minutes:
    a float array ``(minutes, len(STATISTICS))``, NaN where a minute has no sample."""
    m, book = day.messages, day.book
    out = np.full((minutes, len(STATISTICS)), np.nan)
    if len(m) == 0:
        return out
    minute = (m["time"] - m["time"][0]) // _NS_PER_MINUTE
    before = np.concatenate([book[:1], book[:-1]])
    two_sided = (book[:, 0, 1] > 0) & (book[:, 0, 3] > 0)
    spread = np.where(two_sided, book[:, 0, 0] - book[:, 0, 2], -1)
    behind = _distance_behind_best(m, before)
    kind = m["type"]
    is_limit = kind == EventType.SUBMIT
    is_cancel = (kind == EventType.CANCEL) | (kind == EventType.DELETE)
    is_execute = (kind == EventType.EXECUTE) | (kind == EventType.EXECUTE_HIDDEN)
    for k in range(minutes):
        rows = minute == k
        n = int(rows.sum())
        if n == 0:
            continue
        spreads = spread[rows & two_sided]
        touch = np.concatenate([book[rows, 0, 1], book[rows, 0, 3]])
        depth = np.concatenate([book[rows, :, 1].sum(1), book[rows, :, 3].sum(1)])
        limits = behind[rows & is_limit & (behind != _UNKNOWN)]
        cancels = behind[rows & is_cancel & (behind != _UNKNOWN)]
        out[k] = [
            _median(spreads),
            _median(touch),
            _median(depth),
            _median(limits),
            np.percentile(limits, 75) if len(limits) else np.nan,
            _median(cancels),
            n,
            (rows & is_limit).sum() / n,
            (rows & is_cancel).sum() / n,
            (rows & is_execute).sum() / n,
        ]
    return out


def real_sessions(day: LobsterDay, starts_ns: Sequence[int], minutes: float) -> list[LobsterDay]:
    """The real sessions of ``day`` that begin at each of ``starts_ns`` (ns after
    midnight) and last ``minutes``: what a generated session from the same start is
    compared with."""
    times = day.messages["time"]
    out = []
    for start in starts_ns:
        a = int(np.searchsorted(times, start, side="left"))
        b = int(np.searchsorted(times, start + round(minutes * _NS_PER_MINUTE), side="right"))
        if a == b:
            raise ValueError(
                f"{day.source or 'the day'} has no message in the session at {start} ns"
            )
        out.append(replace(day, messages=day.messages[a:b], book=day.book[a:b]))
    return out


def drift_table(sessions: Sequence[LobsterDay], minutes: int) -> np.ndarray:
    """The median over ``sessions`` of each :func:`minute_statistics` entry (NaNs
    ignored): ``(minutes, len(STATISTICS))``."""
    if not sessions:
        raise ValueError("drift_table needs at least one session")
    stacked = np.stack([minute_statistics(s, minutes) for s in sessions])
    out = np.full(stacked.shape[1:], np.nan)
    present = ~np.isnan(stacked).all(axis=0)
    out[present] = np.nanmedian(stacked[:, present], axis=0)
    return out


def format_drift_table(tables: dict[str, np.ndarray], columns: Sequence[str]) -> str:
    """``columns`` of several drift tables side by side, one row per minute: for each
    statistic, one column per table (named ``statistic:table``)."""
    indices = [STATISTICS.index(c) for c in columns]
    head = ["min"] + [f"{c}:{name}" for c in columns for name in tables]
    minutes = min(len(t) for t in tables.values())
    rows = [
        [str(k)] + [f"{t[k, j]:.2f}" for j in indices for t in tables.values()]
        for k in range(minutes)
    ]
    widths = [max(len(h), *(len(r[c]) for r in rows)) + 2 for c, h in enumerate(head)]
    lines = [
        "".join(cell.rjust(w) for cell, w in zip(line, widths, strict=True))
        for line in [head, *rows]
    ]
    return "\n".join(lines)


_UNKNOWN = np.iinfo(np.int64).min


def _distance_behind_best(messages: np.ndarray, before: np.ndarray) -> np.ndarray:
    """Ticks behind the own side's best quote in the book before each message (positive:
    deeper in the book); :data:`_UNKNOWN` where that side was empty."""
    buy = messages["direction"] == 1
    best_bid, bid_size = before[:, 0, 2], before[:, 0, 3]
    best_ask, ask_size = before[:, 0, 0], before[:, 0, 1]
    behind = np.where(buy, best_bid - messages["price"], messages["price"] - best_ask)
    known = np.where(buy, bid_size > 0, ask_size > 0)
    return np.where(known, behind, _UNKNOWN)


def _median(x: np.ndarray) -> float:
    return float(np.median(x)) if len(x) else np.nan
