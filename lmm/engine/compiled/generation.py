"""The non-model work of a generation round, compiled: one ``@njit`` call per round for all
markets, exactly :mod:`lmm.model.generate`'s Python rules.

:class:`lmm.model.generate.LMMMarkets` with ``engine="compiled"`` keeps its markets' books in
:class:`lmm.engine.compiled.book.CompiledBooks` and their scalars (clock, mid, spread, next id,
the stall counter) and pending proposals in int64 arrays, and calls three kernels a round:

* :func:`kp_masks`: the kind x price-bucket classes each market's book can take (a cancel
  bucket needs a background order at a price it covers, a market order a non-empty
  opposite side), as :meth:`lmm.model.generate.LMMMarkets._kp_masks`;
* :func:`decode_inputs`: what decoding a sampled token needs from each market: the shares
  at the touch its kind meets, its quotes and mid, and three uniforms from its own numpy
  generator;
* :func:`apply_round`: each market's proposal through the matching engine by the rules of
  :func:`lmm.engine.market.apply_order` (the generated cancel's level and order included), the
  clock and the stall check, the mid and spread after it, and what the context needs of
  it (the price offset, the touch, the book it left).

Tokens are still drawn by torch, and decoding, encoding and the book features stay the
tokenizer's and :func:`lmm.model.features.book_features`' numpy code, called once per round on
all markets: the kernels feed them the same numbers the Python engine does, so the two
engines generate the same markets bit for bit.

**Random draws.** A market's numpy generator is consumed in compiled code through its
bit generator's C functions (``bit_generator.ctypes``), as numpy's own ``Generator``
methods consume it: ``random()`` is one ``next_double``; ``integers(n)`` (the cancelled
order among the older ones) is numpy's bounded draw, Lemire's method on ``next_uint32``
for ranges below 2**32 (the generation never needs more), reproduced here. Python and
compiled draws of one generator interleave freely, since both advance the same state.
"""

from __future__ import annotations

import ctypes

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.extending import intrinsic

from lmm.engine.compiled import kernels as k
from lmm.engine.compiled.book import CompiledBooks
from lmm.engine.compiled.kernels import BookArrays
from lmm.engine.market import NEWEST_CANCEL_PROBABILITY
from lmm.model.features import FEATURE_LEVELS, NO_QUOTE
from lmm.units import NS_PER_SECOND

__all__ = [
    "BOOK_ROW",
    "N_OUT",
    "N_PROPOSAL",
    "N_STATE",
    "RNG_FUNCTIONS",
    "RoundArrays",
    "apply_round",
    "decode_inputs",
    "kp_masks",
    "rng_state",
]

# columns of the per-market state array
TIME, MID2, SPREAD, NEXT_ID, SECOND, IN_SECOND = range(6)
N_STATE = 6
# columns of the per-market proposal array (PENDING is 1 while one waits)
P_KIND, P_PRICE, P_SIZE, P_DT, P_BUCKET, P_PENDING = range(6)
N_PROPOSAL = 6
# columns of apply_round's per-row output
(
    R_OK,  # 1 when the book took the order, 0 when it could not (nothing else is set)
    R_KIND,
    R_PRICE,
    R_SIZE,
    R_ID,
    R_BEFORE,  # the market's mid x2 before the order
    R_OFFSET,  # price offset from the reference price of the book it met
    R_TOUCH,  # shares at the touch it met (touch-sized tokenizers)
    R_DT,
    R_TIME,
    R_BID,  # quotes of the book it left, an empty side stood in (lmm.model.generate._quotes)
    R_ASK,
    R_FILLS,  # how many fills it made, written to the fills array after the earlier rows'
) = range(13)
N_OUT = 13
#: Columns of the book row :func:`apply_round` writes per order (one LOBSTER row).
BOOK_ROW = 4 * FEATURE_LEVELS
# apply_round's statuses beyond the book's own (lmm.engine.compiled.kernels.OK, E_*)
E_STALL = 100  # more orders within one second of market time than allowed
E_PRICE = 101  # a market order whose worst price is not positive

_MARKET_BUY, _MARKET_SELL = 2, 3
_CANCEL_BUY, _CANCEL_SELL = 4, 5
_NEWEST = NEWEST_CANCEL_PROBABILITY
_ALL_BITS_32 = 0xFFFFFFFF

# PCG64's C functions, shared by every PCG64 instance: their addresses are passed to the
# kernels as integers (a ctypes function as a global would keep numba from caching them)
_PCG64 = np.random.PCG64()
#: The addresses of PCG64's ``next_double`` and ``next_uint32``, the kernels' ``rng_fns``.
RNG_FUNCTIONS = np.array(
    [
        ctypes.cast(_PCG64.ctypes.next_double, ctypes.c_void_p).value,
        ctypes.cast(_PCG64.ctypes.next_uint32, ctypes.c_void_p).value,
    ],
    dtype=np.int64,
)
_DOUBLE, _UINT32 = 0, 1


def _caller(returns: ir.Type, result: types.Type) -> object:
    """An intrinsic calling the bit generator function at address ``fn`` (an integer) on
    the state at address ``state``, returning ``result`` (``returns`` in LLVM's types)."""

    def call(typingctx: object, fn: types.Integer, state: types.Integer) -> tuple:
        def codegen(context, builder, signature, args):  # numba's codegen signature
            void_p = ir.IntType(8).as_pointer()
            function = builder.inttoptr(args[0], ir.FunctionType(returns, [void_p]).as_pointer())
            return builder.call(function, [builder.inttoptr(args[1], void_p)])

        return result(fn, state), codegen

    return intrinsic(call)


_call_double = _caller(ir.DoubleType(), types.float64)
_call_uint32 = _caller(ir.IntType(32), types.uint32)


@njit(cache=True, inline="always")
def _next_double(fns: np.ndarray, state: int) -> float:
    return _call_double(fns[_DOUBLE], state)


@njit(cache=True, inline="always")
def _next_uint32(fns: np.ndarray, state: int) -> int:
    return _call_uint32(fns[_UINT32], state)


def rng_state(generator: np.random.Generator) -> int:
    """The address of ``generator``'s PCG64 state, for the kernels' draws (valid while
    the generator lives)."""
    if type(generator.bit_generator) is not np.random.PCG64:
        raise TypeError(
            "the compiled engine draws from PCG64 generators (numpy.random.default_rng), got "
            f"{type(generator.bit_generator).__name__}"
        )
    return int(generator.bit_generator.ctypes.state_address)


@njit(cache=True)
def _integers(fns: np.ndarray, state: int, high: int) -> int:
    """``Generator.integers(high)`` for ``1 <= high <= 2**32``, draw for draw."""
    rng = high - 1
    if rng == 0:
        return 0
    if rng == _ALL_BITS_32:
        return np.int64(_next_uint32(fns, state))
    excl = np.uint64(rng + 1)
    m = np.uint64(_next_uint32(fns, state)) * excl
    leftover = m & np.uint64(_ALL_BITS_32)
    if leftover < excl:
        threshold = (np.uint64(_ALL_BITS_32) - np.uint64(rng)) % excl
        while leftover < threshold:
            m = np.uint64(_next_uint32(fns, state)) * excl
            leftover = m & np.uint64(_ALL_BITS_32)
    return np.int64(m >> np.uint64(32))


# ------------------------------------------------------------------ book and tokenizer
@njit(cache=True)
def _quotes(b: BookArrays, m: int, spread: int) -> tuple[int, int]:
    """Best bid and ask of market ``m``, an empty side stood in at ``spread`` from the
    other (:func:`lmm.model.generate._quotes`); NO_QUOTE for both when both are empty."""
    has_bid = b.n_levels[m, 0] > 0
    has_ask = b.n_levels[m, 1] > 0
    bid = k.best(b, m, 0) if has_bid else NO_QUOTE
    ask = k.best(b, m, 1) if has_ask else NO_QUOTE
    if has_bid and not has_ask:
        ask = bid + spread
    elif has_ask and not has_bid:
        bid = ask - spread
    return bid, ask


@njit(cache=True)
def _reference(kind: int, bid: int, ask: int, mid2: int, mid_reference: bool) -> tuple[int, int]:
    """Reference price and sign of an order
    (:meth:`lmm.model.tokenizer.OrderTokenizer.reference`)."""
    if mid_reference:
        return mid2 // 2, 1
    buy = kind % 2 == 0
    market = kind in (_MARKET_BUY, _MARKET_SELL)
    quote = bid if buy != market else ask
    return (quote if quote != NO_QUOTE else mid2 // 2), (1 if buy else -1)


@njit(cache=True)
def _price_bucket(offset: int, edges: np.ndarray, half: int) -> int:
    """:meth:`lmm.model.tokenizer.OrderTokenizer.price_bucket` of one offset."""
    distance = offset if offset >= 0 else -offset - 1
    lo, hi = 1, len(edges) - 1  # searchsorted(edges[1:-1], distance, "right")
    while lo < hi:
        mid = (lo + hi) >> 1
        if edges[mid] <= distance:
            lo = mid + 1
        else:
            hi = mid
    bin_ = lo - 1
    return half + bin_ if offset >= 0 else half - 1 - bin_


@njit(cache=True)
def _touch(b: BookArrays, m: int, kind: int) -> int:
    """Shares at the touch an order of ``kind`` meets (:func:`lmm.model.generate._touch`)."""
    s = 1 if kind == _MARKET_BUY else (0 if kind == _MARKET_SELL else -1)
    if s < 0 or b.n_levels[m, s] == 0:
        return 0
    return b.levels[m, b.ladder[m, s, b.n_levels[m, s] - 1, k.SLOT], k.L_TOTAL]


@njit(cache=True)
def _is_protected(protected: np.ndarray, n_protected: np.ndarray, m: int, oid: int) -> bool:
    for j in range(n_protected[m]):  # noqa: SIM110  (numba compiles no generators)
        if protected[m, j] == oid:
            return True
    return False


@njit(cache=True)
def _protected_here(
    b: BookArrays, protected: np.ndarray, n_protected: np.ndarray, m: int, lv: int
) -> int:
    """How many protected orders rest in level slot ``lv`` of market ``m``."""
    n = 0
    for j in range(n_protected[m]):
        slot = k.find(b, m, protected[m, j])
        if slot != k.EMPTY and b.orders[m, slot, k.O_LEVEL] == lv:
            n += 1
    return n


@njit(cache=True)
def _cancellable(
    b: BookArrays, protected: np.ndarray, n_protected: np.ndarray, m: int, lv: int
) -> bool:
    """Whether level slot ``lv`` holds an order a generated cancel may take
    (:func:`lmm.engine.market.cancellable_levels`)."""
    if n_protected[m] == 0:
        return True
    return _protected_here(b, protected, n_protected, m, lv) < b.levels[m, lv, k.L_COUNT]


# ------------------------------------------------------------------ the kernels
@njit(cache=True)
def kp_masks(
    b: BookArrays,
    rows: np.ndarray,
    state: np.ndarray,
    protected: np.ndarray,
    n_protected: np.ndarray,
    price_edges: np.ndarray,
    mid_reference: bool,
    allowed: np.ndarray,
) -> None:
    """Write into ``allowed`` (``(len(rows), 6 * P)`` bool) the kind x price-bucket classes
    that each market of ``rows`` can take (:meth:`lmm.model.generate.LMMMarkets._kp_masks`)."""
    n_price = 2 * (len(price_edges) - 1)
    half = n_price // 2
    for r in range(len(rows)):
        m = rows[r]
        allowed[r, :] = True
        bid, ask = _quotes(b, m, state[m, SPREAD])
        mid2 = state[m, MID2]
        for kind in (_CANCEL_BUY, _CANCEL_SELL):
            first = kind * n_price
            allowed[r, first : first + n_price] = False
            s = kind % 2
            ref, sign = _reference(kind, bid, ask, mid2, mid_reference)
            for p in range(b.n_levels[m, s]):
                lv = b.ladder[m, s, p, k.SLOT]
                if _cancellable(b, protected, n_protected, m, lv):
                    offset = sign * (b.levels[m, lv, k.L_PRICE] - ref)
                    allowed[r, first + _price_bucket(offset, price_edges, half)] = True
        if b.n_levels[m, 1] == 0:
            allowed[r, _MARKET_BUY * n_price : (_MARKET_BUY + 1) * n_price] = False
        if b.n_levels[m, 0] == 0:
            allowed[r, _MARKET_SELL * n_price : (_MARKET_SELL + 1) * n_price] = False


@njit(cache=True)
def decode_inputs(
    b: BookArrays,
    rows: np.ndarray,
    kinds: np.ndarray,
    state: np.ndarray,
    rng_states: np.ndarray,
    rng_fns: np.ndarray,
    touch: np.ndarray,
    uniforms: np.ndarray,
    quotes: np.ndarray,
) -> None:
    """For each market of ``rows`` whose sampled token has kind ``kinds[r]``: the shares
    at the touch it meets into ``touch[r]``, three uniforms from its generator (its state
    at address ``rng_states[r]``, the functions at :data:`RNG_FUNCTIONS` ``rng_fns``) into
    ``uniforms[r]``, and its bid, ask and mid x2 into
    ``quotes[r]``."""
    for r in range(len(rows)):
        m = rows[r]
        touch[r] = _touch(b, m, kinds[r])
        for j in range(3):
            uniforms[r, j] = _next_double(rng_fns, rng_states[r])
        bid, ask = _quotes(b, m, state[m, SPREAD])
        quotes[r, 0] = bid
        quotes[r, 1] = ask
        quotes[r, 2] = state[m, MID2]


@njit(cache=True)
def _price_range(
    bucket: int, ref: int, sign: int, edges: np.ndarray
) -> tuple[bool, int, bool, int]:
    """:meth:`lmm.model.tokenizer.OrderTokenizer.price_range` as (has low, low, has high, high)."""
    half = len(edges) - 1
    below = bucket < half
    b_ = half - 1 - bucket if below else bucket - half
    lo, hi = edges[b_], edges[b_ + 1] - 1
    open_end = b_ == len(edges) - 2
    if below:
        has_first, first, has_last, last = not open_end, -hi - 1, True, -lo - 1
    else:
        has_first, first, has_last, last = True, lo, not open_end, hi
    first, last = ref + sign * first, ref + sign * last
    if sign > 0:
        return has_first, first, has_last, last
    return has_last, last, has_first, first


@njit(cache=True)
def _cancel(
    b: BookArrays,
    m: int,
    kind: int,
    price: int,
    low_ok: bool,
    low: int,
    high_ok: bool,
    high: int,
    protected: np.ndarray,
    n_protected: np.ndarray,
    rng: int,
    rng_fns: np.ndarray,
) -> tuple[int, int, int]:
    """A generated cancel by :func:`lmm.engine.market.apply_order`'s rules: (order id, price,
    shares) of the order it deleted, shares 0 when no order in range may be taken."""
    s = kind % 2
    chosen_lv = k.EMPTY
    best_distance, best_tie = 0, 0
    for p in range(b.n_levels[m, s]):
        lv = b.ladder[m, s, p, k.SLOT]
        level = b.levels[m, lv, k.L_PRICE]
        if (low_ok and level < low) or (high_ok and level > high):
            continue
        if not _cancellable(b, protected, n_protected, m, lv):
            continue
        # nearest to the proposed price; on a tie the better-priced one
        distance, tie = abs(level - price), (-level if s == 0 else level)
        if (
            chosen_lv == k.EMPTY
            or distance < best_distance
            or (distance == best_distance and tie < best_tie)
        ):
            chosen_lv, best_distance, best_tie = lv, distance, tie
    if chosen_lv == k.EMPTY:
        return 0, 0, 0
    n = 0
    slot = b.levels[m, chosen_lv, k.L_HEAD]
    while slot != k.EMPTY:
        if not _is_protected(protected, n_protected, m, b.orders[m, slot, k.O_ID]):
            n += 1
        slot = b.orders[m, slot, k.O_NEXT]
    # the newest with probability _NEWEST, else one of the older ones uniformly
    pick = n - 1
    if n > 1 and not _next_double(rng_fns, rng) < _NEWEST:
        pick = _integers(rng_fns, rng, n - 1)
    slot = b.levels[m, chosen_lv, k.L_HEAD]
    j = 0
    while True:
        oid = b.orders[m, slot, k.O_ID]
        if not _is_protected(protected, n_protected, m, oid):
            if j == pick:
                break
            j += 1
        slot = b.orders[m, slot, k.O_NEXT]
    size = b.orders[m, slot, k.O_SIZE]
    k.reduce(b, m, oid, 0, False)
    return oid, b.levels[m, chosen_lv, k.L_PRICE], size


@njit(cache=True)
def apply_round(
    b: BookArrays,
    rows: np.ndarray,
    proposals: np.ndarray,
    state: np.ndarray,
    rng_states: np.ndarray,
    rng_fns: np.ndarray,
    protected: np.ndarray,
    n_protected: np.ndarray,
    price_edges: np.ndarray,
    mid_reference: bool,
    max_per_second: int,
    out: np.ndarray,
    book_rows: np.ndarray,
    fills: np.ndarray,
) -> tuple[int, int]:
    """Apply the pending proposal of each market of ``rows`` in turn, as
    :meth:`lmm.model.generate.LMMMarkets.commit` and ``_apply`` do.

    Writes one row of ``out`` (the ``R_*`` columns) and of ``book_rows`` (the top
    FEATURE_LEVELS of the book it left, one LOBSTER row) per market, and its
    ``out[r, R_FILLS]`` fills (maker, taker, price, size) into ``fills`` after those of
    the earlier rows. Returns
    ``(status, r)``: :data:`lmm.engine.compiled.kernels.OK`, or the error that stopped the round
    at row ``r`` (its earlier rows are applied, as the Python loop leaves them).
    """
    n_fills = 0
    for r in range(len(rows)):
        m = rows[r]
        out[r, R_FILLS] = 0
        out[r, R_OK] = 0
        kind = proposals[m, P_KIND]
        price = proposals[m, P_PRICE]
        size = proposals[m, P_SIZE]
        dt = proposals[m, P_DT]
        proposals[m, P_PENDING] = 0
        before = state[m, MID2]
        state[m, TIME] += dt
        now = state[m, TIME]
        if now - state[m, SECOND] >= NS_PER_SECOND:
            state[m, SECOND] = now
            state[m, IN_SECOND] = 0
        state[m, IN_SECOND] += 1
        if state[m, IN_SECOND] > max_per_second:
            return E_STALL, r
        bid, ask = _quotes(b, m, state[m, SPREAD])
        ref, sign = _reference(kind, bid, ask, before, mid_reference)
        touch = _touch(b, m, kind)
        oid = state[m, NEXT_ID]
        s = kind % 2  # 0 the buy side (bids), 1 the sell side
        done_size = 0
        done_price = price
        nf = 0
        if kind <= 1:  # limit
            if price > 0:
                status, nf = k.add_limit(b, m, oid, s, price, size, 0, fills[n_fills:])
                if status != k.OK:
                    return status, r
                done_size = size
        elif kind <= 3:  # market: at least the touch, as deep as proposed
            if b.n_levels[m, 1 - s] > 0:
                touch_price = k.best(b, m, 1 - s)
                limit = max(price, touch_price) if s == 0 else min(price, touch_price)
                if limit <= 0:
                    return E_PRICE, r
                nf = k.add_ioc(b, m, oid, s, True, limit, size, fills[n_fills:])
                done_price = fills[n_fills + nf - 1, 2]
                for f in range(nf):
                    done_size += fills[n_fills + f, 3]
        else:  # cancel: the nearest cancellable level in the bucket's range
            low_ok, low, high_ok, high = _price_range(
                proposals[m, P_BUCKET], ref, sign, price_edges
            )
            oid, done_price, done_size = _cancel(
                b,
                m,
                kind,
                price,
                low_ok,
                low,
                high_ok,
                high,
                protected,
                n_protected,
                rng_states[r],
                rng_fns,
            )
        state[m, NEXT_ID] += 1
        if done_size == 0:
            continue
        n_fills += nf
        k.snapshot_row(b, m, book_rows[r])
        if b.n_levels[m, 0] > 0 and b.n_levels[m, 1] > 0:
            state[m, SPREAD] = k.best(b, m, 1) - k.best(b, m, 0)
        bid, ask = _quotes(b, m, state[m, SPREAD])
        if bid != NO_QUOTE:
            state[m, MID2] = bid + ask
        out[r, R_OK] = 1
        out[r, R_KIND] = kind
        out[r, R_PRICE] = done_price
        out[r, R_SIZE] = done_size
        out[r, R_ID] = oid
        out[r, R_BEFORE] = before
        out[r, R_OFFSET] = sign * (done_price - ref)
        out[r, R_TOUCH] = touch
        out[r, R_DT] = dt
        out[r, R_TIME] = now
        out[r, R_BID] = bid
        out[r, R_ASK] = ask
        out[r, R_FILLS] = nf
    return k.OK, len(rows)


class RoundArrays:
    """What the kernels read and write for ``n`` markets: their books, their scalars
    (``state``, the columns TIME .. IN_SECOND), their pending proposals (``proposals``,
    P_KIND .. P_PENDING), the addresses of their generators' states and the ids of their
    protected (agent) orders.

    Args:
        n: markets.
        max_orders: resting orders each market's book can hold.
        max_levels: occupied price levels each side of a book can hold.
    """

    def __init__(self, n: int, max_orders: int, max_levels: int) -> None:
        self.books = CompiledBooks(n, max_orders=max_orders, max_levels=max_levels)
        self.state = np.zeros((n, N_STATE), dtype=np.int64)
        self.proposals = np.zeros((n, N_PROPOSAL), dtype=np.int64)
        self.rng_states = np.zeros(n, dtype=np.int64)
        self.protected = np.zeros((n, 4), dtype=np.int64)
        self.n_protected = np.zeros(n, dtype=np.int64)

    def set_protected(self, i: int, ids: set[int]) -> None:
        """Market ``i``'s protected order ids are now ``ids``."""
        if len(ids) > self.protected.shape[1]:
            grown = np.zeros((len(self.protected), 2 * len(ids)), dtype=np.int64)
            grown[:, : self.protected.shape[1]] = self.protected
            self.protected = grown
        self.protected[i, : len(ids)] = sorted(ids)
        self.n_protected[i] = len(ids)
