"""What a LOBSTER level-L file holds: the events that touch the top L levels of the book.

LOBSTER's level-L message file is not every event of the day: it holds an event only if
its price lies within the top ``L`` price levels of its side of the book, in the book just
before the event or just after it (an order that lands deeper than level L, or is
cancelled there, is absent; one that creates or removes level L is present). Where a side
has fewer than ``L`` levels, every price on it counts as within them. Trading halts (type 7)
are always kept.

:func:`visible_at_levels` applies that rule to a day, so a deeper file, or a simulated
session recorded with every event (:class:`lmm.engine.recording.SessionRecorder`), compares like
with like with LOBSTER's own level-L files. The rule reproduces LOBSTER's files exactly:
the GOOG 2012-06-21 level-10 sample cut to 5 and to 1 levels gives, message for message,
the level-5 and level-1 samples (``tests/lmm/test_levels.py``).
"""

from __future__ import annotations

import numpy as np

from lmm.data.lobster import EventType, LobsterDay

__all__ = ["visible_at_levels", "visible_mask"]


def visible_mask(messages: np.ndarray, book: np.ndarray, levels: int) -> np.ndarray:
    """Which ``messages`` a LOBSTER level-``levels`` file would hold (a boolean array).

    Args:
        messages: structured array of :data:`lmm.data.lobster.MESSAGE_DTYPE`.
        book: ``(n, L, 4)`` books after each message (ask price, ask size, bid price, bid
            size), with ``L >= levels``; the book before the first message is taken to be
            the one after it.
        levels: the file's number of levels.
    """
    if type(levels) is not int or levels < 1:
        raise ValueError(f"levels must be a positive integer, got {levels!r}")
    if book.ndim != 3 or book.shape[2] != 4 or len(book) != len(messages):
        raise ValueError(
            f"book must be (n, L, 4) with n = {len(messages)} messages, got {book.shape}"
        )
    if book.shape[1] < levels:
        raise ValueError(f"the book holds {book.shape[1]} levels, fewer than levels={levels}")
    if len(messages) == 0:
        return np.zeros(0, dtype=bool)
    deepest_after = book[:, levels - 1, :]  # level L after each message
    deepest_before = np.concatenate([deepest_after[:1], deepest_after[:-1]])
    price, buy = messages["price"], messages["direction"] == 1
    keep = _inside(price, buy, deepest_before) | _inside(price, buy, deepest_after)
    return keep | (messages["type"] == EventType.HALT)


def visible_at_levels(day: LobsterDay, levels: int) -> LobsterDay:
    """``day`` as LOBSTER's level-``levels`` files would hold it: the messages that touch
    the top ``levels`` levels (:func:`visible_mask`), each with the top ``levels`` of the
    book after it."""
    keep = visible_mask(day.messages, day.book, levels)
    return LobsterDay(
        messages=day.messages[keep],
        book=np.ascontiguousarray(day.book[keep, :levels]),
        levels=levels,
        tick_size=day.tick_size,
        ticker=day.ticker,
        date=day.date,
        source=day.source,
    )


def _inside(price: np.ndarray, buy: np.ndarray, deepest: np.ndarray) -> np.ndarray:
    """Whether each price is within the levels that end at ``deepest`` (one book level per
    message: ask price, ask size, bid price, bid size) on its own side; an empty deepest
    level (size 0) admits every price on that side."""
    ask_inside = (deepest[:, 1] == 0) | (price <= deepest[:, 0])
    bid_inside = (deepest[:, 3] == 0) | (price >= deepest[:, 2])
    return np.where(buy, bid_inside, ask_inside)
