"""The order books of many markets as preallocated int64 arrays, and ``@njit`` kernels on them.

This is the compiled twin of :class:`lmm.engine.orderbook.OrderBook`; every kernel takes the
:class:`BookArrays` and a market index ``m`` and does what the reference's method of the same
name does to market ``m``, exactly (same priority, same fills, same counters).

Layout, per market (``K`` levels per side, ``N`` orders, ``H`` hash slots):

* **ladder**, per side ``s`` (0 bids, 1 asks): ``ladder[m, s, :n_levels[m, s], KEY]``
  ascending, where the key of a price is ``price`` for bids and ``-price`` for asks, so the
  best level is always the *last* one on both sides. Trading at the touch and submitting near
  it (the common cases) shift nothing or a few entries; ``SLOT`` is the level-pool slot of
  each sorted position and moves with its key.
* **level pool** (``2K`` slots): price, total size, order count, head and tail of the level's
  FIFO queue (a doubly linked list through the order pool), side. Free slots form a stack in
  field ``L_FREE``; its depth is implied by the number of occupied levels.
* **order pool** (``N`` slots): id, remaining size, owner, previous and next order in the
  queue, level slot, arrival number. Free slots form a stack in field ``O_FREE`` (depth
  ``N - n_orders``).
* **id index**: open addressing with linear probing over ``H`` (a power of two, at least
  ``2N``) slots, deletion by backward shift (no tombstones), so lookups stay short forever.

Records (the last axis) rather than one array per field: every array a kernel receives costs
reference counting on each call, and an order's fields share a cache line.

Kernels never raise: they validate first and return a status code (:data:`OK` or one of the
``E_*`` codes) without touching the book; :mod:`lmm.engine.compiled.book` turns codes into
:class:`lmm.engine.orderbook.OrderBookError`. Fills are written into a caller's ``(F, 4)`` int64
array (maker id, taker id, price, size); a sweep cannot produce more fills than there are
resting orders, so ``F = N`` always suffices.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numba import njit

__all__ = [
    "BookArrays",
    "allocate",
]

# status codes returned by the mutating kernels
OK = 0
E_UNKNOWN_ID = 1
E_DUPLICATE_ID = 2
E_CANCEL_TOO_LARGE = 3
E_EXECUTE_TOO_LARGE = 4
E_ANONYMOUS_CROSSES = 5
E_ORDER_CAPACITY = 6
E_LEVEL_CAPACITY = 7

# columns of BookArrays.stats
ADDED, TRADED, CANCELLED, HIDDEN, NEXT_ANONYMOUS, N_ORDERS, ARRIVALS = range(7)
N_STATS = 7

# fields (last axis) of the ladder, the level pool, the order pool and the id index
KEY, SLOT = 0, 1
L_PRICE, L_TOTAL, L_COUNT, L_HEAD, L_TAIL, L_SIDE, L_FREE = range(7)
O_ID, O_SIZE, O_OWNER, O_PREV, O_NEXT, O_LEVEL, O_SEQ, O_FREE = range(8)
H_KEY, H_SLOT = 0, 1

EMPTY = -1  # no slot / end of a queue

_MIX1 = np.uint64(0xFF51AFD7ED558CCD)
_MIX2 = np.uint64(0xC4CEB9FE1A85EC53)
_S33 = np.uint64(33)


class BookArrays(NamedTuple):
    """The state of ``M`` books (see the module docstring); the last axis of each array is
    a record whose fields are the module's column constants."""

    ladder: np.ndarray  # (M, 2, K, 2) per side, sorted positions: KEY, SLOT
    n_levels: np.ndarray  # (M, 2) occupied levels per side
    levels: np.ndarray  # (M, 2K, 7) level pool: L_PRICE .. L_FREE
    orders: np.ndarray  # (M, N, 8) order pool: O_ID .. O_FREE
    index: np.ndarray  # (M, H, 2) id index: H_KEY, H_SLOT (EMPTY for a free slot)
    stats: np.ndarray  # (M, N_STATS) counters: ADDED .. ARRIVALS


def allocate(markets: int, max_orders: int, max_levels: int) -> BookArrays:
    """Empty books for ``markets`` markets, each holding up to ``max_orders`` resting orders
    and ``max_levels`` occupied price levels per side."""
    m, n, k = markets, max_orders, max_levels
    h = 1 << max(4, int(2 * n - 1).bit_length())  # power of two >= 2n: load <= 1/2
    arrays = BookArrays(
        ladder=np.zeros((m, 2, k, 2), np.int64),
        n_levels=np.zeros((m, 2), np.int64),
        levels=np.zeros((m, 2 * k, 7), np.int64),
        orders=np.zeros((m, n, 8), np.int64),
        index=np.zeros((m, h, 2), np.int64),
        stats=np.zeros((m, N_STATS), np.int64),
    )
    for market in range(m):
        reset(arrays, market)
    return arrays


@njit(cache=True)
def reset(b: BookArrays, m: int) -> None:
    """Empty market ``m`` (counters included)."""
    n_lv = b.levels.shape[1]
    n_o = b.orders.shape[1]
    for i in range(n_lv):
        b.levels[m, i, L_FREE] = n_lv - 1 - i  # popped from the end: slot 0 first
    for i in range(n_o):
        b.orders[m, i, O_FREE] = n_o - 1 - i
    b.index[m, :, H_SLOT] = EMPTY
    b.orders[m, :, O_SIZE] = 0
    b.n_levels[m, :] = 0
    b.stats[m, :] = 0
    b.stats[m, NEXT_ANONYMOUS] = -1


# ------------------------------------------------------------------------ id index
@njit(cache=True, inline="always")
def _home(oid: int, mask: int) -> int:
    x = np.uint64(oid)  # a murmur3 finaliser: sequential ids spread over the table
    x = (x ^ (x >> _S33)) * _MIX1
    x = (x ^ (x >> _S33)) * _MIX2
    x = x ^ (x >> _S33)
    return np.int64(x & np.uint64(mask))


@njit(cache=True)
def find(b: BookArrays, m: int, oid: int) -> int:
    """Order slot of ``oid`` in market ``m``, or EMPTY when it is not resting."""
    mask = b.index.shape[1] - 1
    i = _home(oid, mask)
    while b.index[m, i, H_SLOT] != EMPTY:
        if b.index[m, i, H_KEY] == oid:
            return b.index[m, i, H_SLOT]
        i = (i + 1) & mask
    return EMPTY


@njit(cache=True)
def _index_insert(b: BookArrays, m: int, oid: int, slot: int) -> None:
    mask = b.index.shape[1] - 1
    i = _home(oid, mask)
    while b.index[m, i, H_SLOT] != EMPTY:
        i = (i + 1) & mask
    b.index[m, i, H_KEY] = oid
    b.index[m, i, H_SLOT] = slot


@njit(cache=True)
def _index_remove(b: BookArrays, m: int, oid: int) -> None:
    mask = b.index.shape[1] - 1
    i = _home(oid, mask)
    while b.index[m, i, H_KEY] != oid or b.index[m, i, H_SLOT] == EMPTY:
        i = (i + 1) & mask
    # backward shift: move later entries of the probe run into the hole when their home
    # position does not lie cyclically in (hole, entry]
    j = i
    while True:
        j = (j + 1) & mask
        if b.index[m, j, H_SLOT] == EMPTY:
            break
        k = _home(b.index[m, j, H_KEY], mask)
        if (i < k <= j) if i <= j else (i < k or k <= j):
            continue
        b.index[m, i, H_KEY] = b.index[m, j, H_KEY]
        b.index[m, i, H_SLOT] = b.index[m, j, H_SLOT]
        i = j
    b.index[m, i, H_SLOT] = EMPTY


# -------------------------------------------------------------------------- levels
@njit(cache=True, inline="always")
def _key(s: int, price: int) -> int:
    return price if s == 0 else -price


@njit(cache=True)
def _search(b: BookArrays, m: int, s: int, price: int) -> int:
    """Sorted position of ``price`` on side ``s`` (where it is or would be inserted)."""
    k = _key(s, price)
    lo = 0
    hi = b.n_levels[m, s]
    # the touch is at the end: check it first, it is where most activity is
    if hi > 0 and b.ladder[m, s, hi - 1, KEY] <= k:
        return hi if b.ladder[m, s, hi - 1, KEY] < k else hi - 1
    while lo < hi:
        mid = (lo + hi) >> 1
        if b.ladder[m, s, mid, KEY] < k:
            lo = mid + 1
        else:
            hi = mid
    return lo


@njit(cache=True)
def level_slot(b: BookArrays, m: int, s: int, price: int) -> int:
    """Level slot of ``price`` on side ``s``, or EMPTY when the level is empty."""
    p = _search(b, m, s, price)
    if p < b.n_levels[m, s] and b.ladder[m, s, p, KEY] == _key(s, price):
        return b.ladder[m, s, p, SLOT]
    return EMPTY


@njit(cache=True)
def best(b: BookArrays, m: int, s: int) -> int:
    """Best price of side ``s`` in ticks, or 0 when the side is empty."""
    n = b.n_levels[m, s]
    if n == 0:
        return 0
    return b.levels[m, b.ladder[m, s, n - 1, SLOT], L_PRICE]


@njit(cache=True)
def crosses(b: BookArrays, m: int, s: int, price: int) -> bool:
    """Whether an order of side ``s`` limited at ``price`` would trade on arrival."""
    o = 1 - s
    if b.n_levels[m, o] == 0:
        return False
    touch = best(b, m, o)
    return price >= touch if s == 0 else price <= touch


@njit(cache=True)
def _new_level(b: BookArrays, m: int, s: int, price: int, p: int) -> int:
    n = b.n_levels[m, s]
    used = b.n_levels[m, 0] + b.n_levels[m, 1]
    slot = b.levels[m, b.levels.shape[1] - used - 1, L_FREE]
    for i in range(n, p, -1):
        b.ladder[m, s, i, KEY] = b.ladder[m, s, i - 1, KEY]
        b.ladder[m, s, i, SLOT] = b.ladder[m, s, i - 1, SLOT]
    b.ladder[m, s, p, KEY] = _key(s, price)
    b.ladder[m, s, p, SLOT] = slot
    b.n_levels[m, s] = n + 1
    b.levels[m, slot, L_PRICE] = price
    b.levels[m, slot, L_SIDE] = s
    b.levels[m, slot, L_TOTAL] = 0
    b.levels[m, slot, L_COUNT] = 0
    b.levels[m, slot, L_HEAD] = EMPTY
    b.levels[m, slot, L_TAIL] = EMPTY
    return slot


@njit(cache=True)
def _drop_level(b: BookArrays, m: int, s: int, slot: int) -> None:
    p = _search(b, m, s, b.levels[m, slot, L_PRICE])
    n = b.n_levels[m, s]
    for i in range(p, n - 1):
        b.ladder[m, s, i, KEY] = b.ladder[m, s, i + 1, KEY]
        b.ladder[m, s, i, SLOT] = b.ladder[m, s, i + 1, SLOT]
    used = b.n_levels[m, 0] + b.n_levels[m, 1]
    b.levels[m, b.levels.shape[1] - used, L_FREE] = slot
    b.n_levels[m, s] = n - 1


# -------------------------------------------------------------------------- orders
@njit(cache=True)
def _rest(b: BookArrays, m: int, s: int, oid: int, price: int, size: int, owner: int) -> None:
    """Append an order at the back of its level; capacity was checked by the caller."""
    p = _search(b, m, s, price)
    if p < b.n_levels[m, s] and b.ladder[m, s, p, KEY] == _key(s, price):
        lv = b.ladder[m, s, p, SLOT]
    else:
        lv = _new_level(b, m, s, price, p)
    n_orders = b.stats[m, N_ORDERS]
    slot = b.orders[m, b.orders.shape[1] - n_orders - 1, O_FREE]
    b.stats[m, N_ORDERS] = n_orders + 1
    b.orders[m, slot, O_ID] = oid
    b.orders[m, slot, O_SIZE] = size
    b.orders[m, slot, O_OWNER] = owner
    b.orders[m, slot, O_LEVEL] = lv
    b.orders[m, slot, O_SEQ] = b.stats[m, ARRIVALS]
    b.stats[m, ARRIVALS] += 1
    tail = b.levels[m, lv, L_TAIL]
    b.orders[m, slot, O_PREV] = tail
    b.orders[m, slot, O_NEXT] = EMPTY
    if tail == EMPTY:
        b.levels[m, lv, L_HEAD] = slot
    else:
        b.orders[m, tail, O_NEXT] = slot
    b.levels[m, lv, L_TAIL] = slot
    b.levels[m, lv, L_TOTAL] += size
    b.levels[m, lv, L_COUNT] += 1
    _index_insert(b, m, oid, slot)
    b.stats[m, ADDED] += size


@njit(cache=True)
def _take(b: BookArrays, m: int, slot: int, size: int) -> None:
    """Remove ``size`` shares (1..remaining) of the order in ``slot``; an emptied order
    leaves the book, and an emptied level leaves its side."""
    lv = b.orders[m, slot, O_LEVEL]
    b.levels[m, lv, L_TOTAL] -= size
    left = b.orders[m, slot, O_SIZE] - size
    if left > 0:
        b.orders[m, slot, O_SIZE] = left
        return
    prev = b.orders[m, slot, O_PREV]
    nxt = b.orders[m, slot, O_NEXT]
    if prev == EMPTY:
        b.levels[m, lv, L_HEAD] = nxt
    else:
        b.orders[m, prev, O_NEXT] = nxt
    if nxt == EMPTY:
        b.levels[m, lv, L_TAIL] = prev
    else:
        b.orders[m, nxt, O_PREV] = prev
    b.levels[m, lv, L_COUNT] -= 1
    if b.levels[m, lv, L_COUNT] == 0:
        _drop_level(b, m, b.levels[m, lv, L_SIDE], lv)
    _index_remove(b, m, b.orders[m, slot, O_ID])
    n_orders = b.stats[m, N_ORDERS] - 1
    b.orders[m, b.orders.shape[1] - n_orders - 1, O_FREE] = slot
    b.stats[m, N_ORDERS] = n_orders
    b.orders[m, slot, O_SIZE] = 0


@njit(cache=True)
def _match(
    b: BookArrays,
    m: int,
    s: int,
    taker: int,
    size: int,
    limited: bool,
    limit: int,
    fills: np.ndarray,
) -> tuple[int, int]:
    """Trade an incoming order of side ``s`` against the other side by price-time
    priority. Returns the unfilled size and the number of fills written."""
    o = 1 - s
    nf = 0
    while size > 0 and b.n_levels[m, o] > 0:
        lv = b.ladder[m, o, b.n_levels[m, o] - 1, SLOT]
        price = b.levels[m, lv, L_PRICE]
        if limited and (price > limit if o == 1 else price < limit):
            break
        slot = b.levels[m, lv, L_HEAD]
        while size > 0 and slot != EMPTY:
            nxt = b.orders[m, slot, O_NEXT]
            traded = min(b.orders[m, slot, O_SIZE], size)
            fills[nf, 0] = b.orders[m, slot, O_ID]
            fills[nf, 1] = taker
            fills[nf, 2] = price
            fills[nf, 3] = traded
            nf += 1
            size -= traded
            b.stats[m, TRADED] += traded
            _take(b, m, slot, traded)
            slot = nxt
    return size, nf


@njit(cache=True)
def add_limit(
    b: BookArrays,
    m: int,
    oid: int,
    s: int,
    price: int,
    size: int,
    owner: int,
    fills: np.ndarray,
) -> tuple[int, int]:
    """Submit a limit order (arguments already validated). Returns (status, fills)."""
    if find(b, m, oid) != EMPTY:
        return E_DUPLICATE_ID, 0
    o = 1 - s
    # what would trade, and the order slots that trading would free, decide beforehand
    # whether a remainder can rest, so a full book is left unchanged
    available = 0
    freed = 0
    for q in range(b.n_levels[m, o] - 1, -1, -1):
        if available >= size:
            break
        lv = b.ladder[m, o, q, SLOT]
        level_price = b.levels[m, lv, L_PRICE]
        if level_price > price if o == 1 else level_price < price:
            break
        available += b.levels[m, lv, L_TOTAL]
        freed += b.levels[m, lv, L_COUNT]
    if available < size:
        if b.stats[m, N_ORDERS] - freed >= b.orders.shape[1]:
            return E_ORDER_CAPACITY, 0
        if level_slot(b, m, s, price) == EMPTY and b.n_levels[m, s] >= b.ladder.shape[2]:
            return E_LEVEL_CAPACITY, 0
    nf = 0
    if available > 0:
        size, nf = _match(b, m, s, oid, size, True, price, fills)
    if size > 0:
        _rest(b, m, s, oid, price, size, owner)
    return OK, nf


@njit(cache=True)
def add_ioc(
    b: BookArrays,
    m: int,
    oid: int,
    s: int,
    limited: bool,
    limit: int,
    size: int,
    fills: np.ndarray,
) -> int:
    """Submit a market order (``limited`` False) or an immediate-or-cancel order limited at
    ``limit``; the remainder is dropped. Returns the number of fills."""
    return _match(b, m, s, oid, size, limited, limit, fills)[1]


@njit(cache=True)
def reduce(b: BookArrays, m: int, oid: int, size: int, trade: bool) -> tuple[int, int]:
    """Cancel (``trade`` False) or execute ``size`` shares of a resting order, or the whole
    order when ``size`` is 0 (a delete). Returns (status, shares removed)."""
    slot = find(b, m, oid)
    if slot == EMPTY:
        return E_UNKNOWN_ID, 0
    remaining = b.orders[m, slot, O_SIZE]
    if size == 0:
        size = remaining
    elif size > remaining:
        return (E_EXECUTE_TOO_LARGE if trade else E_CANCEL_TOO_LARGE), remaining
    b.stats[m, TRADED if trade else CANCELLED] += size
    _take(b, m, slot, size)
    return OK, size


@njit(cache=True)
def add_anonymous(b: BookArrays, m: int, s: int, price: int, size: int) -> tuple[int, int]:
    """Rest anonymous volume (negative id, owner -1). Returns (status, id)."""
    if crosses(b, m, s, price):
        return E_ANONYMOUS_CROSSES, 0
    if b.stats[m, N_ORDERS] >= b.orders.shape[1]:
        return E_ORDER_CAPACITY, 0
    if level_slot(b, m, s, price) == EMPTY and b.n_levels[m, s] >= b.ladder.shape[2]:
        return E_LEVEL_CAPACITY, 0
    oid = b.stats[m, NEXT_ANONYMOUS]
    b.stats[m, NEXT_ANONYMOUS] = oid - 1
    _rest(b, m, s, oid, price, size, -1)
    return OK, oid


# ------------------------------------------------------------------------- queries
@njit(cache=True)
def levels(b: BookArrays, m: int, s: int, out: np.ndarray) -> int:
    """Write the best ``len(out)`` levels of side ``s`` as (price, size) rows into ``out``;
    returns how many exist."""
    n = min(out.shape[0], b.n_levels[m, s])
    top = b.n_levels[m, s] - 1
    for i in range(n):
        lv = b.ladder[m, s, top - i, SLOT]
        out[i, 0] = b.levels[m, lv, L_PRICE]
        out[i, 1] = b.levels[m, lv, L_TOTAL]
    return n


@njit(cache=True)
def snapshot_row(b: BookArrays, m: int, out: np.ndarray) -> None:
    """Write the top-``len(out) // 4`` book as one LOBSTER orderbook row into ``out``
    (ask price, ask size, bid price, bid size per level; empty levels 0, 0)."""
    n = out.shape[0] // 4
    out[:] = 0
    for s in range(2):
        col = 2 * (1 - s)  # asks in columns 0-1, bids in 2-3
        top = b.n_levels[m, s] - 1
        for i in range(min(n, top + 1)):
            lv = b.ladder[m, s, top - i, SLOT]
            out[4 * i + col] = b.levels[m, lv, L_PRICE]
            out[4 * i + col + 1] = b.levels[m, lv, L_TOTAL]


@njit(cache=True)
def queue(b: BookArrays, m: int, lv: int, out: np.ndarray) -> int:
    """Write the orders of level slot ``lv`` as (id, size) rows in time priority into
    ``out`` (at least ``lv_count`` rows); returns their number."""
    slot = b.levels[m, lv, L_HEAD]
    n = 0
    while slot != EMPTY:
        out[n, 0] = b.orders[m, slot, O_ID]
        out[n, 1] = b.orders[m, slot, O_SIZE]
        n += 1
        slot = b.orders[m, slot, O_NEXT]
    return n


@njit(cache=True)
def queue_ahead(b: BookArrays, m: int, slot: int) -> int:
    """Shares resting ahead of the order in ``slot`` at its level."""
    ahead = 0
    other = b.orders[m, slot, O_PREV]
    while other != EMPTY:
        ahead += b.orders[m, other, O_SIZE]
        other = b.orders[m, other, O_PREV]
    return ahead
