"""LOBSTER replay compiled end to end: :func:`lmm.engine.replay.replay`'s rules in one
``@njit`` loop.

The loop applies every message to the compiled book with exactly the rules of
:mod:`lmm.engine.replay` (unknown ids served from the volume at their price, anonymous volume
first; size shortfalls settled within the level; crossed stale volume removed before a
submission; level-L reconciliation when verifying), and counts every departure in the same
counters, so its :class:`~lmm.engine.replay.ReplayReport` equals the Python replay's field for field
(timings aside). Tests hold the two to that.
"""

from __future__ import annotations

import time

import numpy as np
from numba import njit

from lmm.data.lobster import EventType, LobsterDay
from lmm.engine.compiled import kernels as k
from lmm.engine.compiled.book import CompiledBooks, CompiledOrderBook
from lmm.engine.compiled.kernels import BookArrays
from lmm.engine.orderbook import OrderBookError
from lmm.engine.replay import ReplayReport

__all__ = ["replay_compiled"]

# columns of the counts array: the ReplayReport fields the loop counts, in this order
_FIELDS = (
    "rows_compared",
    "rows_matched",
    "rows_matched_without_reconciliation",
    "reconciliations",
    "reconciled_shares_added",
    "reconciled_shares_removed",
    "unknown_id_events",
    "size_shortfalls",
    "shares_taken_from_known",
    "crossed_shares_removed",
    "unresolved_events",
    "priority_violations",
    "hidden_executions",
    "first_mismatch_row",
)
(
    COMPARED,
    MATCHED,
    MATCHED_PLAIN,
    RECONCILIATIONS,
    REC_ADDED,
    REC_REMOVED,
    UNKNOWN,
    SHORTFALLS,
    FROM_KNOWN,
    CROSSED,
    UNRESOLVED,
    PRIORITY,
    HIDDEN,
    FIRST_MISMATCH,
) = range(len(_FIELDS))
E_INVALID = 100  # a message the reference engine would reject (non-positive price or size)


def replay_compiled(
    day: LobsterDay,
    *,
    verify: bool = False,
    limit: int | None = None,
    max_orders: int = 1 << 16,
    max_levels: int = 1 << 12,
) -> tuple[CompiledOrderBook, ReplayReport]:
    """Replay a LOBSTER day through a fresh compiled book (see :func:`lmm.engine.replay.replay`).

    Args:
        day: the data, from :func:`lmm.data.read_lobster`.
        verify: compare the top-L book with the file after every message and reconcile
            level L, as the Python replay does.
        limit: replay only the first ``limit`` messages.
        max_orders: the book's capacity in resting orders.
        max_levels: the book's capacity in occupied levels per side.

    Returns:
        The final book and the report (``seconds`` times the compiled loop only).

    Raises:
        OrderBookError: a message the engine rejects, or the book's capacity was exceeded.
    """
    n = len(day) if limit is None else min(limit, len(day))
    report = ReplayReport(source=day.source, levels=day.levels, verified=verify)
    book = CompiledOrderBook(CompiledBooks(1, max_orders, max_levels))
    if n == 0:
        return book, report
    for ask_p, ask_s, bid_p, bid_s in day.book[0].tolist():
        if ask_s:
            book.add_anonymous(-1, ask_p, ask_s)
        if bid_s:
            book.add_anonymous(1, bid_p, bid_s)
    msgs = day.messages[:n]
    columns = [np.ascontiguousarray(msgs[c], dtype=np.int64) for c in _MESSAGE_COLUMNS]
    rows = np.ascontiguousarray(day.book[:n].reshape(n, -1), dtype=np.int64)
    counts = np.zeros(len(_FIELDS), np.int64)
    start = time.perf_counter()
    status, at = _replay(book._b, 0, *columns, rows, verify, counts, book.books.fills)
    report.seconds = time.perf_counter() - start
    if status != k.OK:
        raise OrderBookError(
            f"compiled replay of {day.source} stopped at message line {at + 1}: "
            f"{_STATUS_NAMES.get(status, status)}"
        )
    for name, value in zip(_FIELDS, counts.tolist(), strict=True):
        setattr(report, name, value)
    if report.first_mismatch_row == 0:
        report.first_mismatch_row = None
    report.messages = n - 1
    report.messages_per_second = report.messages / report.seconds if report.seconds else 0.0
    report.final_resting_volume = book.resting_volume
    types, type_counts = np.unique(msgs["type"][1:], return_counts=True)
    report.counts_by_type = {
        EventType(t).name: int(c) for t, c in zip(types, type_counts, strict=True)
    }
    if verify and report.rows_compared:
        report.match_rate = report.rows_matched / report.rows_compared
    return book, report


_MESSAGE_COLUMNS = ("type", "order_id", "size", "price", "direction")
_STATUS_NAMES = {
    k.E_DUPLICATE_ID: "a submission reuses a resting order id",
    k.E_ANONYMOUS_CROSSES: "anonymous volume would cross the book",
    k.E_ORDER_CAPACITY: "the book is full (max_orders)",
    k.E_LEVEL_CAPACITY: "the book is full (max_levels)",
    E_INVALID: "a non-positive price, size or order id, or a side other than +1/-1",
}


@njit(cache=True)
def _take_shares(
    b: BookArrays, m: int, s: int, price: int, shares: int, take_all: bool, trade: bool
) -> tuple[int, int]:
    """Take ``shares`` (all if ``take_all``) resting at ``price``: anonymous volume first,
    then the oldest known orders. Returns the shares taken and those from known orders."""
    taken = 0
    from_known = 0
    for anonymous_pass in (True, False):
        lv = k.level_slot(b, m, s, price)
        if lv == k.EMPTY:
            break
        slot = b.levels[m, lv, k.L_HEAD]
        while slot != k.EMPTY:
            nxt = b.orders[m, slot, k.O_NEXT]
            oid = b.orders[m, slot, k.O_ID]
            if (oid < 0) == anonymous_pass:
                if not take_all and taken >= shares:
                    return taken, from_known
                take = b.orders[m, slot, k.O_SIZE]
                if not take_all:
                    take = min(take, shares - taken)
                b.stats[m, k.TRADED if trade else k.CANCELLED] += take
                k._take(b, m, slot, take)
                taken += take
                if oid >= 0:
                    from_known += take
            slot = nxt
    return taken, from_known


@njit(cache=True)
def _take_from_level(
    b: BookArrays, m: int, s: int, price: int, size: int, trade: bool, counts: np.ndarray
) -> None:
    taken, from_known = _take_shares(b, m, s, price, size, False, trade)
    counts[FROM_KNOWN] += from_known
    if taken < size:
        counts[UNRESOLVED] += 1


@njit(cache=True)
def _remove_crossed(b: BookArrays, m: int, s: int, price: int, counts: np.ndarray) -> None:
    o = 1 - s
    while b.n_levels[m, o] > 0:
        lv = b.ladder[m, o, b.n_levels[m, o] - 1, k.SLOT]
        level_price = b.levels[m, lv, k.L_PRICE]
        if level_price > price if s == 0 else level_price < price:
            break
        counts[CROSSED] += b.levels[m, lv, k.L_TOTAL]
        _take_shares(b, m, o, level_price, 0, True, False)


@njit(cache=True)
def _older_known_ahead(b: BookArrays, m: int, slot: int) -> bool:
    other = b.levels[m, b.orders[m, slot, k.O_LEVEL], k.L_HEAD]
    while other != slot:
        if b.orders[m, other, k.O_ID] >= 0:
            return True
        other = b.orders[m, other, k.O_NEXT]
    return False


@njit(cache=True)
def _apply(
    b: BookArrays,
    m: int,
    mtype: int,
    oid: int,
    size: int,
    price: int,
    direction: int,
    verify: bool,
    counts: np.ndarray,
    fills: np.ndarray,
) -> int:
    """One message by :class:`lmm.engine.replay._Applier`'s rules; returns a status."""
    if mtype == 5:
        if price <= 0 or size <= 0:
            return E_INVALID
        counts[HIDDEN] += 1
        b.stats[m, k.HIDDEN] += size
        return k.OK
    if mtype < 1 or mtype > 5:  # cross trades and halts leave the continuous book alone
        return k.OK
    if direction != 1 and direction != -1:
        return E_INVALID
    s = 0 if direction == 1 else 1
    if mtype == 1:
        if price <= 0 or size <= 0 or oid < 0:
            return E_INVALID
        if k.crosses(b, m, s, price):
            _remove_crossed(b, m, s, price, counts)
        return k.add_limit(b, m, oid, s, price, size, 0, fills)[0]
    trade = mtype == 4
    slot = k.find(b, m, oid)
    if slot == k.EMPTY:
        counts[UNKNOWN] += 1
        _take_from_level(b, m, s, price, size, trade, counts)
        return k.OK
    if trade and verify and _older_known_ahead(b, m, slot):
        counts[PRIORITY] += 1
    held = b.orders[m, slot, k.O_SIZE]
    if mtype == 3:
        b.stats[m, k.CANCELLED] += held
        k._take(b, m, slot, held)
        if held != size:  # the level's shares were assigned to the wrong orders
            counts[SHORTFALLS] += 1
            if held < size:
                _take_from_level(b, m, s, price, size - held, False, counts)
            else:
                return k.add_anonymous(b, m, s, price, held - size)[0]
        return k.OK
    if 0 < size <= held:
        b.stats[m, k.TRADED if trade else k.CANCELLED] += size
        k._take(b, m, slot, size)
        return k.OK
    counts[SHORTFALLS] += 1  # asked for more shares than the order holds
    b.stats[m, k.TRADED if trade else k.CANCELLED] += held
    k._take(b, m, slot, held)
    _take_from_level(b, m, s, price, size - held, trade, counts)
    return k.OK


@njit(cache=True)
def _reconcile(
    b: BookArrays, m: int, s: int, last_price: int, last_size: int, n: int, counts: np.ndarray
) -> int:
    """Make level ``n`` of side ``s`` agree with the file (:class:`lmm.engine.replay._Verifier`)."""
    counts[RECONCILIATIONS] += 1
    while b.n_levels[m, s] >= n:
        price = b.levels[m, b.ladder[m, s, b.n_levels[m, s] - n, k.SLOT], k.L_PRICE]
        stale = last_size == 0 or (price < last_price if s == 1 else price > last_price)
        if not stale:
            break
        counts[REC_REMOVED] += _take_shares(b, m, s, price, 0, True, False)[0]
    if last_size == 0:
        return k.OK
    lv = k.level_slot(b, m, s, last_price)
    have = 0 if lv == k.EMPTY else b.levels[m, lv, k.L_TOTAL]
    if have < last_size:
        counts[REC_ADDED] += last_size - have
        return k.add_anonymous(b, m, s, last_price, last_size - have)[0]
    if have > last_size:
        taken = _take_shares(b, m, s, last_price, have - last_size, False, False)[0]
        counts[REC_REMOVED] += taken
    return k.OK


@njit(cache=True)
def _check(
    b: BookArrays, m: int, expected: np.ndarray, row: np.ndarray, counts: np.ndarray
) -> tuple[int, bool]:
    """Compare the book with one file row, reconciling level L; returns (status, match)."""
    n = expected.shape[0] // 4
    k.snapshot_row(b, m, row)
    if (row == expected).all():
        counts[MATCHED_PLAIN] += 1
        return k.OK, True
    for s in (1, 0):  # asks (columns 0-1) first, as the Python verifier does
        col = 0 if s == 1 else 2
        k.snapshot_row(b, m, row)
        if (row[col : 4 * (n - 1) : 4] == expected[col : 4 * (n - 1) : 4]).all() and (
            row[col + 1 : 4 * (n - 1) : 4] == expected[col + 1 : 4 * (n - 1) : 4]
        ).all():
            last = 4 * (n - 1) + col
            if row[last] != expected[last] or row[last + 1] != expected[last + 1]:
                status = _reconcile(b, m, s, expected[last], expected[last + 1], n, counts)
                if status != k.OK:
                    return status, False
    k.snapshot_row(b, m, row)
    return k.OK, bool((row == expected).all())


@njit(cache=True)
def _replay(
    b: BookArrays,
    m: int,
    types: np.ndarray,
    ids: np.ndarray,
    sizes: np.ndarray,
    prices: np.ndarray,
    directions: np.ndarray,
    rows: np.ndarray,
    verify: bool,
    counts: np.ndarray,
    fills: np.ndarray,
) -> tuple[int, int]:
    """Messages 1.. of a day; returns (status, index of the message that stopped it)."""
    row = np.empty(rows.shape[1], np.int64)
    for i in range(1, types.shape[0]):
        status = _apply(
            b, m, types[i], ids[i], sizes[i], prices[i], directions[i], verify, counts, fills
        )
        if status != k.OK:
            return status, i
        if verify:
            counts[COMPARED] += 1
            status, matched = _check(b, m, rows[i], row, counts)
            if status != k.OK:
                return status, i
            if matched:
                counts[MATCHED] += 1
            elif counts[FIRST_MISMATCH] == 0:
                counts[FIRST_MISMATCH] = i + 1
    return k.OK, 0
