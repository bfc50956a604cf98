"""Replaying LOBSTER messages through the matching engine, optionally verified row by row.

The book starts from the file's first orderbook row (resting volume whose orders were
submitted before the file begins, held as anonymous volume) and every later message is
applied to it. With ``verify=True`` the engine's top-L book is compared with the file after
every message.

A level-L message file only holds events that touch the top L levels at the time, so volume
deeper than level L is invisible to it: when it later moves into the window, the file shows
it without any submission; when a known order deep in the book is cancelled out of sight,
the engine keeps stale volume. Verification therefore *reconciles* the deepest visible level
(and only it): where the first difference between engine and file on a side is at level L,
stale levels in front of the file's level-L price are removed and the size at that price is
set to the file's. Every reconciliation is counted (events and shares); every other
difference is reported as a mismatch and left alone.

Messages that refer to an order id the engine never saw (an order submitted before the file
begins, or deeper than level L) are served from anonymous volume at their price.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from lmm.data.lobster import EventType, LobsterDay
from lmm.engine.orderbook import EMPTY_PRICE, OrderBook, OrderBookError, Side

__all__ = ["ReplayReport", "replay", "seed_book"]


@dataclass
class ReplayReport:
    """What a replay did, and with ``verify`` how well it matched the orderbook file.

    Attributes:
        messages: messages applied (all but the first, whose result is the start state).
        rows_compared: book rows compared with the file (0 without verify).
        rows_matched: rows where the engine's top-L book equals the file's at every level,
            after reconciliation at level L.
        rows_matched_without_reconciliation: rows that matched before any reconciliation.
        match_rate: rows_matched / rows_compared.
        reconciliations: (row, side) pairs where level L was reconciled.
        reconciled_shares_added / reconciled_shares_removed: shares inserted as anonymous
            volume / removed as stale volume by reconciliation.
        unknown_id_events: cancels, deletes and executions of orders the engine never saw,
            served from the volume resting at their price.
        size_shortfalls: cancels, deletes and executions of known orders whose size differs
            from what the engine held for the order (the difference is settled within the
            price level, so its total stays right).
        shares_taken_from_known: shares of such events taken from other known orders at the
            price (orders whose own cancel happened out of sight).
        crossed_shares_removed: stale shares removed because a submission would have crossed
            them.
        unresolved_events: events whose price level held too few shares to serve them.
        priority_violations: executions of an order that had an older known order ahead of
            it at the same price in the engine's queue (0 means the engine's time priority
            agrees with the exchange's).
        first_mismatch_row: 1-based orderbook line of the first unmatched row, if any.
        seconds: wall time of the replay loop (excluding file reading).
        messages_per_second: messages / seconds.
    """

    source: str = ""
    levels: int = 0
    messages: int = 0
    verified: bool = False
    rows_compared: int = 0
    rows_matched: int = 0
    rows_matched_without_reconciliation: int = 0
    match_rate: float = float("nan")
    reconciliations: int = 0
    reconciled_shares_added: int = 0
    reconciled_shares_removed: int = 0
    unknown_id_events: int = 0
    size_shortfalls: int = 0
    shares_taken_from_known: int = 0
    crossed_shares_removed: int = 0
    unresolved_events: int = 0
    priority_violations: int = 0
    hidden_executions: int = 0
    first_mismatch_row: int | None = None
    seconds: float = 0.0
    messages_per_second: float = 0.0
    final_resting_volume: int = 0
    counts_by_type: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict:
        """JSON-serialisable view."""
        return asdict(self)


def seed_book(book: OrderBook, row: np.ndarray) -> None:
    """Rest one LOBSTER orderbook row (``(L, 4)`` ticks/shares) as anonymous volume."""
    for ask_p, ask_s, bid_p, bid_s in row.tolist():
        if ask_s:
            book.add_anonymous(Side.SELL, ask_p, ask_s)
        if bid_s:
            book.add_anonymous(Side.BUY, bid_p, bid_s)


def replay(
    day: LobsterDay,
    *,
    verify: bool = False,
    limit: int | None = None,
    progress: bool = False,
) -> tuple[OrderBook, ReplayReport]:
    """Replay a LOBSTER day through a fresh :class:`OrderBook`.

    Args:
        day: the data, from :func:`lmm.data.read_lobster`.
        verify: compare the engine's top-L book with the file after every message and
            reconcile level L (see the module docstring).
        limit: replay only the first ``limit`` messages.
        progress: show a progress bar.

    Returns:
        The final book and the report.
    """
    n = len(day) if limit is None else min(limit, len(day))
    report = ReplayReport(source=day.source, levels=day.levels, verified=verify)
    book = OrderBook()
    if n == 0:
        return book, report
    seed_book(book, day.book[0])
    msgs = day.messages[1:n]
    columns = (
        msgs["type"].tolist(),
        msgs["order_id"].tolist(),
        msgs["size"].tolist(),
        msgs["price"].tolist(),
        msgs["direction"].tolist(),
    )
    applier = _Applier(book, report)
    rows = _progress(range(1, n), progress, Path(day.source).name)
    start = time.perf_counter()
    if verify:
        checker = _Verifier(book, day.book, report)
        for k, mtype, oid, size, price, direction in zip(rows, *columns, strict=True):
            applier.apply(mtype, oid, size, price, direction, check_priority=True)
            checker.check(k)
    else:
        apply = applier.apply
        for mtype, oid, size, price, direction in zip(*columns, strict=True):
            apply(mtype, oid, size, price, direction)
    report.seconds = time.perf_counter() - start
    report.messages = n - 1
    report.messages_per_second = report.messages / report.seconds if report.seconds else 0.0
    report.final_resting_volume = book.resting_volume
    types, counts = np.unique(msgs["type"], return_counts=True)
    report.counts_by_type = {EventType(t).name: int(c) for t, c in zip(types, counts, strict=True)}
    if verify and report.rows_compared:
        report.match_rate = report.rows_matched / report.rows_compared
    return book, report


class _Applier:
    """Applies one LOBSTER message to the book, resolving what the window hides by rule.

    Every departure from a literal replay is counted in the report:

    * an unknown order id (submitted out of sight) takes its shares from the volume
      resting at its price: anonymous volume first, then the oldest known orders (which
      must be stale: their own cancels happened out of sight);
    * a known order asked for more shares than it holds gives what it has, and the rest
      is taken from its price level the same way;
    * a submission that would cross the engine's book proves that the crossed opposite
      volume is stale (the exchange would have traded it): that volume is removed first,
      so a replayed submission never trades.
    """

    def __init__(self, book: OrderBook, report: ReplayReport) -> None:
        self.book = book
        self.report = report
        self.orders = book._orders  # membership test on the hot path

    def apply(
        self,
        mtype: int,
        oid: int,
        size: int,
        price: int,
        direction: int,
        check_priority: bool = False,
    ) -> None:
        book = self.book
        if mtype == 1:
            if book.would_cross(direction, price):
                self._remove_crossed(direction, price)
            book.add_limit(oid, direction, price, size)
        elif mtype in (2, 3, 4):
            trade = mtype == 4
            if oid not in self.orders:
                self.report.unknown_id_events += 1
                self._take_from_level(direction, price, size, trade)
                return
            if trade and check_priority and self._has_older_known_ahead(oid):
                self.report.priority_violations += 1
            try:
                if mtype == 3:
                    held = book.delete(oid)
                    if held != size:
                        self._settle_delete(direction, price, size, held)
                elif trade:
                    book.execute(oid, size)
                else:
                    book.cancel(oid, size)
            except OrderBookError:  # asked for more shares than the order holds
                held = book.order(oid).size
                self.report.size_shortfalls += 1
                if trade:
                    book.execute(oid, held)
                else:
                    book.cancel(oid, held)
                self._take_from_level(direction, price, size - held, trade)
        elif mtype == 5:
            self.report.hidden_executions += 1
            book.execute_hidden(price, size)
        # 6 (cross trade) and 7 (halt) do not change the continuous book

    def _settle_delete(self, direction: int, price: int, size: int, held: int) -> None:
        """A delete removed ``held`` shares where the exchange removed ``size``: the engine
        had assigned some of the level's shares to the wrong order. Keep the level total
        right: take a shortfall from the level, or leave an excess as anonymous volume."""
        self.report.size_shortfalls += 1
        if held < size:
            self._take_from_level(direction, price, size - held, trade=False)
        else:
            self.book.add_anonymous(direction, price, held - size)

    def _take_from_level(self, direction: int, price: int, size: int, trade: bool) -> None:
        """Take ``size`` shares at ``price`` (see :func:`_take_shares`), counting them."""
        taken, from_known = _take_shares(self.book, direction, price, size, trade)
        self.report.shares_taken_from_known += from_known
        if taken < size:
            self.report.unresolved_events += 1

    def _remove_crossed(self, direction: int, price: int) -> None:
        opposite = -direction
        for level_price, level_size in self.book.levels(opposite, 10**9):
            if (level_price > price) if direction == 1 else (level_price < price):
                break
            self.report.crossed_shares_removed += level_size
            for oid, resting in self.book.queue(opposite, level_price):
                self.book.cancel(oid, resting)

    def _has_older_known_ahead(self, oid: int) -> bool:
        state = self.book.order(oid)
        for other, _ in self.book.queue(state.side, state.price):
            if other == oid:
                return False
            if other >= 0:
                return True
        return False


class _Verifier:
    """Compares the engine's top-L book with the file and reconciles level L."""

    def __init__(self, book: OrderBook, file_book: np.ndarray, report: ReplayReport) -> None:
        self.book = book
        self.file_book = file_book
        self.levels = file_book.shape[1]
        self.report = report

    def check(self, k: int) -> None:
        report = self.report
        report.rows_compared += 1
        # plain lists: comparing them is several times faster than numpy for one small row
        expected = self.file_book[k].ravel().tolist()
        if self.book.snapshot_row(self.levels) == expected:
            report.rows_matched += 1
            report.rows_matched_without_reconciliation += 1
            return
        for side, offset in ((Side.SELL, 0), (Side.BUY, 2)):
            theirs = list(zip(expected[offset::4], expected[offset + 1 :: 4], strict=True))
            ours = self.book.levels(side, self.levels)
            ours += [(EMPTY_PRICE, 0)] * (self.levels - len(ours))
            if ours[:-1] == theirs[:-1] and ours[-1] != theirs[-1]:
                self._reconcile(side, theirs)
        if self.book.snapshot_row(self.levels) == expected:
            report.rows_matched += 1
        elif report.first_mismatch_row is None:
            report.first_mismatch_row = k + 1

    def _reconcile(self, side: Side, file_levels: list[tuple[int, int]]) -> None:
        """Make level L of ``side`` agree with the file; levels 1..L-1 already agree."""
        report = self.report
        report.reconciliations += 1
        book = self.book
        last_price, last_size = file_levels[-1]
        # stale levels: ours in front of the file's level-L price, or, when the file shows
        # fewer than L levels on this side, every level of ours from level L on
        while True:
            ours = book.levels(side, self.levels)
            if len(ours) < self.levels:
                break
            price = ours[-1][0]
            stale = (
                last_size == 0
                or (side == Side.SELL and price < last_price)
                or (side == Side.BUY and price > last_price)
            )
            if not stale:
                break
            report.reconciled_shares_removed += self._remove_level_volume(side, price, None)
        if last_size == 0:
            return
        have = book.depth(side, last_price)
        if have < last_size:
            book.add_anonymous(side, last_price, last_size - have)
            report.reconciled_shares_added += last_size - have
        elif have > last_size:
            report.reconciled_shares_removed += self._remove_level_volume(
                side, last_price, have - last_size
            )

    def _remove_level_volume(self, side: Side, price: int, shares: int | None) -> int:
        """Cancel ``shares`` (all if None) at ``price``; returns the shares removed."""
        return _take_shares(self.book, side, price, shares, trade=False)[0]


def _take_shares(
    book: OrderBook, side: int, price: int, shares: int | None, trade: bool
) -> tuple[int, int]:
    """Take ``shares`` (all if None) resting at ``price``, anonymous volume first, then the
    oldest known orders, by execution (``trade``) or cancel.

    Returns:
        The shares taken, and how many of them came from known (non-anonymous) orders.
    """
    queue = book.queue(side, price)
    queue.sort(key=lambda item: item[0] >= 0)  # stable: anonymous first, then by time
    taken = from_known = 0
    for oid, resting in queue:
        if shares is not None and taken >= shares:
            break
        take = resting if shares is None else min(resting, shares - taken)
        if trade:
            book.execute(oid, take)
        else:
            book.cancel(oid, take)
        taken += take
        if oid >= 0:
            from_known += take
    return taken, from_known


def _progress(rows: range, enabled: bool, label: str) -> Iterator[int] | range:
    if not enabled:
        return rows
    from tqdm import tqdm

    return tqdm(rows, desc=f"replay {label}", unit="msg", mininterval=0.5, leave=False)
