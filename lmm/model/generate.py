"""Generating order flow with the LMM: many independent markets, one batched model call.

Each market has its own order book, clock, context and generators. One :meth:`step`
advances every market by one order:

1. the model scores the next order of every market in one forward pass (with a KV cache,
   only the newest position is computed);
2. order kinds the book cannot take are masked out (a cancel needs a background order in
   the price bucket's range, a market order a non-empty opposite side); the probability
   mass removed this way is reported as the *masked rate*;
3. each market draws its token from its own ``torch.Generator`` and decodes it with its own
   ``numpy`` generator (:meth:`lmm.model.tokenizer.OrderTokenizer.decode`);
4. the order goes through the matching engine (:func:`lmm.engine.market.apply_order`), and the
   order *as it happened* is tokenized and appended to the context together with the
   features of the book it left: the new state conditions the next prediction.

Markets never share randomness, so a market's path depends only on its own seed and start.
:meth:`inject` puts an outside (agent) order into a market's book and context the same way.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np
import torch

from lmm.data.orderflow import CANCEL_KINDS, MARKET_KINDS, OrderKind
from lmm.device import available_memory
from lmm.engine.compiled import generation as cg
from lmm.engine.compiled import kernels as ck
from lmm.engine.compiled.book import CompiledOrderBook
from lmm.engine.market import Realized, apply_order, cancel_order, cancellable_levels
from lmm.engine.orderbook import Fill, OrderBook, OrderBookError
from lmm.engine.recording import SessionRecorder
from lmm.engine.replay import seed_book
from lmm.model import decode_numba
from lmm.model.checkpoint import Checkpoint
from lmm.model.features import FEATURE_LEVELS, NO_QUOTE, book_features, mid_x2
from lmm.model.memory import MemoryTracker, signed_market_volume
from lmm.model.outlook import OutlookPath
from lmm.model.price_reference import PriceReference
from lmm.model.profile import PROFILE_FEATURES, nearest_trained_profile
from lmm.model.size_reference import SizeReference
from lmm.model.tokenizer import OrderTokenizer
from lmm.model.transformer import KVCache, LMMConfig
from lmm.units import NS_PER_SECOND

__all__ = [
    "DECODERS",
    "ENGINES",
    "HOST_BYTES_PER_MARKET",
    "GeneratedOrder",
    "LMMMarkets",
    "OutsideOrder",
    "StartState",
    "check_memory",
    "memory_estimate",
    "synthetic_start",
]

# read once per generated order: a module name is cheaper than an enum class attribute
_MARKET_BUY, _MARKET_SELL = MARKET_KINDS
_KINDS = tuple(OrderKind)  # OrderKind by value, without the enum's call
# the columns of a compiled round's output that make a GeneratedOrder
_REALIZED = [cg.R_KIND, cg.R_PRICE, cg.R_SIZE, cg.R_ID, cg.R_BEFORE, cg.R_TIME, cg.R_FILLS]
#: The engines :class:`LMMMarkets` can run its markets' books and per-order rules on.
ENGINES = ("python", "compiled")
#: What can run :class:`LMMMarkets`' decoding step (one new position and the sampling heads).
DECODERS = ("torch", "numba")

#: Host memory of one market beyond the model's tensors: its book, context history (a
#: feature array per order) and generators. About 210 KiB measured after a 200-order
#: warm-up with the default checkpoint; rounded up, since books grow with their orders.
HOST_BYTES_PER_MARKET = 256 * 1024
_FLOAT32 = 4


def memory_estimate(config: LMMConfig, n: int) -> tuple[int, int]:
    """Bytes that :class:`LMMMarkets` of ``n`` markets of a model shaped ``config`` needs:
    ``(model tensors, host bookkeeping)``, the first on the model's device.

    Per market, the tensors are the KV cache (``n_layer x 2 x context x n_embd`` float32,
    allocated up front) plus the largest forward pass a generation makes: when contexts
    fill up they are cut to their last half and recomputed, all markets at once (they fill
    together from a common start), which holds ``n_head x T x T`` attention scores twice
    and about ``12 x T x n_embd`` activations for ``T = context / 2``. The host part is
    :data:`HOST_BYTES_PER_MARKET`. With the default checkpoint this is about 1.3 MB per
    market (0.5 MiB of cache), within a few percent of the peak measured for 300 markets.
    """
    half = config.context // 2
    cache = config.n_layer * 2 * config.context * config.n_embd
    forward = 2 * config.n_head * half * half + 12 * half * config.n_embd
    return n * (cache + forward) * _FLOAT32, n * HOST_BYTES_PER_MARKET


def check_memory(config: LMMConfig, n: int, device: torch.device) -> None:
    """Raise a MemoryError, before anything is allocated, when ``n`` markets need more
    memory than ``device`` (and the host) has available (:func:`memory_estimate`,
    :func:`lmm.device.available_memory`); where the available memory is unknown, nothing
    is checked."""
    tensors, host = memory_estimate(config, n)
    cpu = torch.device("cpu")
    needs = {device: tensors + host} if device.type == "cpu" else {device: tensors, cpu: host}
    for where, need in needs.items():
        have = available_memory(where)
        if have is not None and need > have:
            per_market = (tensors + host) / n
            raise MemoryError(
                f"{n:,} markets (one per environment) need about {need / 2**30:.1f} GiB on "
                f"{where} ({per_market / 2**20:.2f} MiB each: KV cache, forward pass and book; "
                f"see lmm.model.generate.memory_estimate), but only {have / 2**30:.1f} GiB is "
                f"available; use at most {int(n * have / need):,}"
            )


@dataclass(frozen=True)
class StartState:
    """Where a generated market starts: a book, a clock and the recent order flow.

    Attributes:
        book: ``(L, 4)`` int snapshot (ask price, ask size, bid price, bid size per level).
        time_ns: the clock, ns after midnight.
        tokens: the most recent orders' tokens, oldest first (at least one).
        features: their book features, ``(len(tokens), N_BOOK_FEATURES)``.
        profile: the stock profile (:mod:`lmm.model.profile`) the session is given, from the
            start's own data before it; None gives a model with profiles its default (the
            mean of its training days'), and a model without them reads none.
        memory: the memory features (:mod:`lmm.model.memory`) of the context orders,
            ``(len(tokens), N_MEMORY_FEATURES)``, for a model that reads them; None for a
            start without data (a model with memory features then reads zeros there).
        memory_history: int64 ``(k, 3)`` (time ns, twice the mid after, signed market
            volume) of the orders up to the start that the memory still reaches
            (:meth:`lmm.model.dataset.DayData.memory_history`); None: the memory starts at the
            start, as if the mid had stood still before it.
    """

    book: np.ndarray
    time_ns: int
    tokens: np.ndarray
    features: np.ndarray
    profile: np.ndarray | None = None
    memory: np.ndarray | None = None
    memory_history: np.ndarray | None = None

    def __post_init__(self) -> None:
        if len(self.tokens) < 1 or len(self.tokens) != len(self.features):
            raise ValueError(
                f"a start state needs >= 1 context order with features; got {len(self.tokens)} "
                f"tokens and {len(self.features)} feature rows"
            )
        if self.memory is not None and len(self.memory) != len(self.tokens):
            raise ValueError(
                f"a start state with {len(self.tokens)} context orders has "
                f"{len(self.memory)} rows of memory features"
            )


def synthetic_start(
    tokenizer: OrderTokenizer,
    mid_ticks: int = 10_000,
    spread: int = 2,
    levels: int = 10,
    size: int = 100,
    time_ns: int = 36_000 * NS_PER_SECOND,
) -> StartState:
    """A data-free start: ``levels`` one-tick-spaced levels of ``size`` shares on each side
    of a ``spread``-tick spread around ``mid_ticks``, and a one-order context (a limit buy
    joining the best bid). Generation from it needs a warm-up before it looks like a
    market; it is meant for speed measurements and for running with no data at all."""
    bid = mid_ticks - spread // 2
    ask = bid + spread
    book = np.zeros((levels, 4), dtype=np.int64)
    book[:, 0] = ask + np.arange(levels)
    book[:, 1] = size
    book[:, 2] = bid - np.arange(levels)
    book[:, 3] = size
    m2 = int(mid_x2(book))
    kind = np.array([OrderKind.LIMIT_BUY])
    offset = tokenizer.offsets(kind, bid, bid, ask, m2)
    token = tokenizer.encode(kind, offset, np.array([size]), np.array([0]))
    features = book_features(book, np.int64(m2), np.int64(time_ns))[None]
    return StartState(book=book, time_ns=time_ns, tokens=token, features=features)


@dataclass(frozen=True)
class GeneratedOrder:
    """One order of a generated market, as it happened."""

    time_ns: int
    realized: Realized
    mid_x2_before: int


class _Happened(NamedTuple):
    """A realised order waiting to enter its market's context (a tuple: one is made per
    order, and a frozen dataclass is several times slower to make)."""

    market: int
    realized: Realized
    mid_x2_before: int  # the market's mid before it
    price_offset: int  # from the reference price in the book the order met
    touch: int  # shares at the touch the order met (lmm.model.tokenizer.touch_size)
    dt: int
    time_ns: int
    book_row: list[int]  # top FEATURE_LEVELS of the book it left, as one LOBSTER row
    quotes: tuple[int, int]  # that book's best bid and ask, an empty side stood in (_quotes)


@dataclass(frozen=True)
class OutsideOrder:
    """An order from outside the model (an agent's), for :meth:`LMMMarkets.inject`.

    Attributes:
        market: which market.
        kind: what it is; a cancel needs ``target``.
        price: limit price in ticks (for a market order, the worst acceptable price).
        size: shares (for a cancel, shares to cancel; the whole order if it holds less).
        time_ns: when it reaches the book (its market's clock if earlier).
        owner: owner tag of a resting order (> 0 for agents).
        target: for a cancel, the id of the order to cancel (it must be the caller's).
        in_context: whether the model sees it as an order in its context (and discards its
            pending proposal). False makes the model blind to it: it still changes the book,
            which the model sees only through the book features of later orders.
    """

    market: int
    kind: OrderKind
    price: int
    size: int
    time_ns: int
    owner: int = 1
    target: int | None = None
    in_context: bool = True


class _Proposal(NamedTuple):
    """A sampled order not yet applied."""

    kind: OrderKind
    price: int
    size: int
    dt: int
    bucket: int


@dataclass
class _Market:
    book: OrderBook
    time_ns: int
    mid_x2: int  # the market's mid; with an empty side, see LMMMarkets
    spread: int  # ticks, of the last two-sided book
    torch_gen: torch.Generator
    np_gen: np.random.Generator
    history_tokens: list[int]
    history_features: list[np.ndarray]
    next_id: int = 1
    protected: set[int] = field(default_factory=set)
    proposal: _Proposal | None = None
    second_ns: int = 0  # start of the current one-second window of the stall check
    orders_in_second: int = 0  # generated orders since then


def _state_column(column: int) -> property:
    """A :class:`_ArrayMarket` attribute kept in column ``column`` of the engine's state."""

    def get(self: _ArrayMarket) -> int:
        return int(self._arrays.state[self._i, column])

    def put(self: _ArrayMarket, value: int) -> None:
        self._arrays.state[self._i, column] = value

    return property(get, put)


class _ArrayMarket:
    """A market of the compiled engine: the attributes of :class:`_Market`, its book a view
    of the engine's compiled books and its scalars and pending proposal read from and
    written to the engine's arrays (:class:`lmm.engine.compiled.generation.RoundArrays`), so that
    the rare per-order paths (outside orders, recording) run the same Python code on it."""

    def __init__(
        self,
        arrays: cg.RoundArrays,
        i: int,
        torch_gen: torch.Generator,
        np_gen: np.random.Generator,
        history_tokens: list[int],
        history_features: list[np.ndarray],
    ) -> None:
        self._arrays, self._i = arrays, i
        self.book = CompiledOrderBook(arrays.books, i)
        self.torch_gen, self.np_gen = torch_gen, np_gen
        self.history_tokens, self.history_features = history_tokens, history_features
        self._protected: set[int] = set()
        arrays.rng_states[i] = cg.rng_state(np_gen)
        arrays.set_protected(i, self._protected)
        arrays.proposals[i, cg.P_PENDING] = 0

    time_ns = _state_column(cg.TIME)
    mid_x2 = _state_column(cg.MID2)
    spread = _state_column(cg.SPREAD)
    next_id = _state_column(cg.NEXT_ID)
    second_ns = _state_column(cg.SECOND)
    orders_in_second = _state_column(cg.IN_SECOND)

    @property
    def protected(self) -> set[int]:
        """Ids of the agent orders that generated cancels leave alone (replace, never
        mutate: the engine's arrays follow each assignment)."""
        return self._protected

    @protected.setter
    def protected(self, ids: set[int]) -> None:
        self._protected = ids
        self._arrays.set_protected(self._i, ids)

    @property
    def proposal(self) -> _Proposal | None:
        """The pending proposal, or None."""
        p = self._arrays.proposals[self._i]
        if not p[cg.P_PENDING]:
            return None
        return _Proposal(
            _KINDS[p[cg.P_KIND]],
            int(p[cg.P_PRICE]),
            int(p[cg.P_SIZE]),
            int(p[cg.P_DT]),
            int(p[cg.P_BUCKET]),
        )

    @proposal.setter
    def proposal(self, p: _Proposal | None) -> None:
        row = self._arrays.proposals[self._i]
        if p is None:
            row[cg.P_PENDING] = 0
        else:
            row[:] = (int(p.kind), p.price, p.size, p.dt, p.bucket, 1)


def _touch(book: OrderBook, kind: int) -> int:
    """Shares at the touch that an order of ``kind`` meets in ``book``
    (:func:`lmm.model.size_reference.touch_size` for one order, without numpy: the generation
    loop asks once per order)."""
    if kind == _MARKET_BUY:
        return 0 if book.best_ask is None else book.depth(-1, book.best_ask)
    if kind == _MARKET_SELL:
        return 0 if book.best_bid is None else book.depth(1, book.best_bid)
    return 0


def _quotes(m: _Market | _ArrayMarket) -> tuple[int, int]:
    """Best bid and best ask of market ``m``'s book, as price offsets are measured from.

    An empty side (a programme swept it) stands in at the last two-sided spread from the
    other side's best, so that the same-side price reference places its orders where the
    side stood rather than at the mid (which would pull the refilled side, and the mid,
    back across the sweep). Both sides empty: :data:`lmm.model.features.NO_QUOTE` for both (the
    reference falls back to the mid). The mid price reference does not read them.
    """
    bid, ask = m.book.best_bid, m.book.best_ask
    if ask is None and bid is not None:
        ask = bid + m.spread
    elif bid is None and ask is not None:
        bid = ask - m.spread
    return (NO_QUOTE if bid is None else bid), (NO_QUOTE if ask is None else ask)


class LMMMarkets:
    """``n`` markets driven by one LMM checkpoint, advanced together.

    Args:
        checkpoint: the model and tokenizer (from :func:`lmm.model.checkpoint.load_checkpoint`).
        n: number of markets.
        temperature: sampling temperature (1 samples the model's distribution).
        use_cache: keep a KV cache (the fast path); without it every step recomputes the
            whole context window (kept for measurements and as a reference).
        device: where the model runs.
        engine: what runs the books and the per-order rules: ``"python"`` (the readable
            reference, :class:`lmm.engine.orderbook.OrderBook` and :mod:`lmm.engine.market`) or
            ``"compiled"`` (:mod:`lmm.engine.compiled`: one compiled call per round for all
            markets' masks, decoding inputs and orders). Both generate the same markets
            bit for bit; :meth:`book` returns an :class:`~lmm.engine.orderbook.OrderBook` or a
            :class:`~lmm.engine.compiled.book.CompiledOrderBook`, with the same methods.
        max_orders, max_levels: with the compiled engine, the resting orders and the
            occupied price levels per side that each book can hold (a book that would
            hold more raises :class:`~lmm.engine.orderbook.OrderBookError`).
        decoder: what runs the decoding step, the model's forward for each new order and
            the sampling heads: ``"torch"`` (default, the model itself) or ``"numba"``
            (:mod:`lmm.model.decode_numba`, the same network compiled row by row, faster for
            small batches; CPU and KV cache only). Their sums round differently, so their
            markets are alike in distribution but not bit for bit; each is reproducible on
            its own (a seed gives the same market in any batch, on any number of threads).
            Prefills (resets, trimmed contexts) run in torch for both.
        max_orders_per_second: a market that generates more orders than this within one
            second of its market time raises a RuntimeError naming it: a model whose clock
            stops advancing (orders at zero time, one after another) would otherwise never
            let a caller reach a later time. The default is far above any market seen here
            (the busiest second of the sample days holds 344 orders, of LMM rollouts 623).
        guidance: for a model with outlook features, how strongly it follows a scenario
            (:meth:`lmm.model.transformer.LMM.forward`'s ``outlook_guidance``); None takes
            the checkpoint's ``outlook_guidance`` metadata (the packaged ``scenario``
            checkpoint's was chosen on selection starts, docs/scenarios.md), else 1. A
            market without an outlook is the same at any guidance.

    Raises:
        MemoryError: before anything is allocated, when the ``n`` markets would need more
            memory than is available (:func:`check_memory`).

    A market's mid (what price offsets are measured from, and what agents and measurements
    read) is its book's; while one side is empty (a programme swept it), it stays half the
    last two-sided spread beyond the other side's best, so that sweeping a side moves the
    mid the way the sweep went rather than to one tick from the surviving quote. The
    model's book features measure from the same stood-in side (their spread, mid, level
    distances and mid move), so that the model sees a sweep as the market does; the
    training days never have an empty side, and two-sided books are described as there.
    """

    def __init__(
        self,
        checkpoint: Checkpoint,
        n: int,
        temperature: float = 1.0,
        use_cache: bool = True,
        device: str | torch.device = "cpu",
        max_orders_per_second: int = 100_000,
        engine: str = "python",
        max_orders: int = 4096,
        max_levels: int = 1024,
        decoder: str = "torch",
        guidance: float | None = None,
    ) -> None:
        if engine not in ENGINES:
            raise ValueError(f"engine must be one of {', '.join(ENGINES)}, got {engine!r}")
        if decoder not in DECODERS:
            raise ValueError(f"decoder must be one of {', '.join(DECODERS)}, got {decoder!r}")
        if decoder == "numba" and (not use_cache or torch.device(device).type != "cpu"):
            raise ValueError(
                "decoder='numba' runs on the CPU with the KV cache: it needs device='cpu' "
                f"and use_cache=True, got device={str(device)!r}, use_cache={use_cache}"
            )
        for name, what in (
            ("n_memory_features", "memory features"),
            ("n_outlook_features", "outlook features"),
        ):
            if decoder == "numba" and getattr(checkpoint.model.config, name):
                raise ValueError(
                    f"decoder='numba' does not yet take {what}: use decoder='torch' with this "
                    f"checkpoint (its config has {name}={getattr(checkpoint.model.config, name)})"
                )
        if n < 1:
            raise ValueError(f"need at least one market, got n={n}")
        if max_orders_per_second < 1:
            raise ValueError(f"max_orders_per_second must be >= 1, got {max_orders_per_second}")
        check_memory(checkpoint.model.config, n, torch.device(device))
        self.max_orders_per_second = max_orders_per_second
        self.model = checkpoint.model.to(device).eval()
        self.tokenizer = checkpoint.tokenizer
        self.n = n
        self.temperature = temperature
        if guidance is None:
            guidance = float(checkpoint.metadata.get("outlook_guidance", 1.0))
        if not 0 <= guidance < float("inf"):
            raise ValueError(f"guidance must be finite and >= 0, got {guidance}")
        #: how strongly the model reads the outlook (LMM.forward's outlook_guidance)
        self.guidance = float(guidance)
        self.device = torch.device(device)
        self.context = self.model.config.context
        self.cache = KVCache(self.model.config, n, device=self.device) if use_cache else None
        # private: a market's state is ours
        self._markets: list[_Market | _ArrayMarket | None] = [None] * n
        self._h = torch.zeros(n, self.model.config.n_embd, device=self.device)
        # each market's stock profile, set at its reset, for a model conditioned on one
        n_profile = self.model.config.n_profile_features
        self._profiles = torch.zeros(n, n_profile, device=self.device) if n_profile else None
        trained = checkpoint.metadata.get("training_profiles") if n_profile else None
        self._trained_profiles = None if not trained else np.array(list(trained.values()))
        # each market's memory features (lmm.model.memory), for a model that reads them
        self._memory: list[MemoryTracker | None] = [None] * n
        # each market's outlook (lmm.model.outlook), for a model that reads one; None: unknown
        self._outlook: list[OutlookPath | None] = [None] * n
        self.masked_mass = 0.0  # summed probability mass removed by masking
        self._recorders: dict[int, SessionRecorder] = {}
        self.steps = 0
        tok = self.tokenizer
        # kind -> its slice of kp classes
        self._block = {
            k: slice(int(k) * tok.n_price, (int(k) + 1) * tok.n_price) for k in OrderKind
        }
        # for the masks, made once: each cancel kind as an int, its side, its first class
        self._cancel_kinds = np.array([int(k) for k in CANCEL_KINDS])
        self._cancel_sides = tuple(k.side for k in CANCEL_KINDS)
        self._cancel_first = self._cancel_kinds * tok.n_price
        self.engine = engine
        self._arrays = cg.RoundArrays(n, max_orders, max_levels) if engine == "compiled" else None
        self._touch_sized = tok.config.size_reference is SizeReference.TOUCH
        self._mid_reference = tok.config.price_reference is PriceReference.MID
        self._price_edges = np.asarray(tok.price_edges, dtype=np.int64)
        self.decoder = decoder
        self._weights = None
        if decoder == "numba":
            # the kernels read and write the torch tensors' memory
            self._weights = decode_numba.export_weights(self.model)
            self._h_np = self._h.numpy()
            self._k_np, self._v_np = self.cache.k.numpy(), self.cache.v.numpy()
            self._lengths_np = self.cache.lengths.numpy()
            # each market's stock-profile embedding, set at its reset ((n, 0) without one)
            self._conditioning_np = decode_numba.conditioning(self.model, n)

    # ------------------------------------------------------------------ set-up
    def reset(
        self, i: int, start: StartState, seed: int, outlook: OutlookPath | None = None
    ) -> None:
        """(Re)start market ``i`` from ``start``; all its randomness comes from ``seed``.

        A model conditioned on a stock profile is given the start's for the whole session
        (its own default where the start has none); a model without one ignores it.

        ``outlook`` is the scenario the market follows (:mod:`lmm.model.outlook`), for a
        model with outlook features: each order is given its outlook at that order's time,
        and the start's context orders the outlook at the start. None leaves the outlook
        unknown (the unconditional market). A model without outlook features refuses one.
        """
        if outlook is not None and not self.model.config.n_outlook_features:
            raise ValueError(
                "this checkpoint's model reads no outlook, so it cannot follow a scenario: "
                "use a checkpoint trained or tuned with outlook features (tune-lmm --outlook)"
            )
        self._outlook[i] = outlook
        self._recorders.pop(i, None)  # a recording ends with its session
        if self._profiles is not None:
            if start.profile is None:
                self._profiles[i] = self.model.profile_center
            else:
                profile = np.asarray(start.profile, dtype=np.float32)
                if profile.shape != self._profiles.shape[1:]:
                    raise ValueError(
                        f"the start's profile has shape {tuple(profile.shape)}; the model "
                        f"takes {tuple(self._profiles.shape[1:])}"
                    )
                if not np.isfinite(profile).all():
                    raise ValueError(f"the start's profile must be finite, got {profile.tolist()}")
                self._profiles[i] = torch.from_numpy(self._within_range(profile)).to(self.device)
            if self._weights is not None:
                row = self._profiles[i : i + 1]
                self._conditioning_np[i] = decode_numba.conditioning(self.model, 1, row)[0]
        m2 = int(mid_x2(np.asarray(start.book)))
        tokens = [int(t) for t in start.tokens[-self.context :]]
        feats = [np.asarray(f, dtype=np.float32) for f in self._start_inputs(i, start, m2)]
        if len(tokens) >= self.context:  # leave room, as when a full context is trimmed
            tokens, feats = tokens[-self.context // 2 :], feats[-self.context // 2 :]
        torch_gen = torch.Generator().manual_seed(seed)
        np_gen = np.random.default_rng(seed)
        if self._arrays is None:
            m: _Market | _ArrayMarket = _Market(
                OrderBook(), 0, 0, 0, torch_gen, np_gen, tokens, feats
            )
        else:
            self._arrays.books.reset(i)
            self._arrays.state[i] = 0
            m = _ArrayMarket(self._arrays, i, torch_gen, np_gen, tokens, feats)
        seed_book(m.book, np.asarray(start.book))
        spread = m.book.spread()
        m.time_ns, m.mid_x2 = int(start.time_ns), m2
        m.spread = 2 if spread is None else spread
        m.next_id = 1
        self._markets[i] = m
        self._prefill([i])

    def _start_inputs(self, i: int, start: StartState, mid2: int) -> np.ndarray:
        """The per-order inputs of ``start``'s last ``context`` orders: their book features,
        followed, for a model with memory features, by theirs (zeros where the start has
        none), and for a model with outlook features by market ``i``'s outlook at the start
        (zeros without one); sets market ``i``'s memory from the start's history (or from
        its book)."""
        parts = [np.asarray(start.features[-self.context :], dtype=np.float32)]
        rows = len(parts[0])
        n_memory = self.model.config.n_memory_features
        if n_memory:
            if start.memory_history is None:
                history = np.array([[start.time_ns], [mid2], [0]])
            else:
                history = np.asarray(start.memory_history).T
            self._memory[i] = MemoryTracker.from_history(*history)
            memory = np.zeros((rows, n_memory), dtype=np.float32)
            if start.memory is not None:
                memory = np.asarray(start.memory[-self.context :], dtype=np.float32)
            parts.append(memory)
        n_outlook = self.model.config.n_outlook_features
        if n_outlook:
            outlook = np.zeros((rows, n_outlook), dtype=np.float32)
            if self._outlook[i] is not None:
                outlook[:] = self._outlook[i].features(start.time_ns)
            parts.append(outlook)
        return parts[0] if len(parts) == 1 else np.concatenate(parts, axis=1)

    def _prefill(self, rows: list[int]) -> None:
        """Recompute the hidden state of ``rows`` from their whole history (and, with a
        cache, rewrite their cache rows). Rows with equal history lengths share a pass."""
        by_length: dict[int, list[int]] = {}
        for i in rows:
            by_length.setdefault(len(self._market(i).history_tokens), []).append(i)
        for group in by_length.values():
            idx = torch.tensor(group, device=self.device)
            x = torch.tensor([self._market(i).history_tokens for i in group], device=self.device)
            f = np.stack([np.stack(self._market(i).history_features) for i in group])
            f = torch.from_numpy(f).to(self.device)
            with torch.inference_mode():
                profile = self._profile_rows(idx)
                if self.cache is not None:
                    self.cache.reset(idx)
                    h = self.model(
                        x, f, self.cache, rows=idx, profile=profile, outlook_guidance=self.guidance
                    )
                else:
                    h = self.model(x, f, profile=profile, outlook_guidance=self.guidance)
            self._h[idx] = h[:, -1]

    def _within_range(self, profile: np.ndarray) -> np.ndarray:
        """``profile``, or the nearest mixture of the checkpoint's training profiles when it
        lies outside them, with a warning (:func:`lmm.model.profile.nearest_trained_profile`;
        unchanged for a checkpoint that keeps none)."""
        if self._trained_profiles is None:
            return profile
        nearest = nearest_trained_profile(profile, self._trained_profiles)
        if not np.array_equal(nearest, profile):
            given = ", ".join(
                f"{name} {a:.2f} -> {b:.2f}"
                for name, a, b in zip(PROFILE_FEATURES, profile, nearest, strict=True)
            )
            warnings.warn(
                "the start's stock profile lies outside the mixtures of the profiles the "
                f"model was trained on; it is given the nearest of those instead ({given})",
                stacklevel=3,
            )
        return nearest

    def _profile_rows(self, idx: torch.Tensor) -> torch.Tensor | None:
        """The profiles of markets ``idx``, for the model's forward pass (None for a model
        without profiles)."""
        return None if self._profiles is None else self._profiles[idx]

    def _market(self, i: int) -> _Market | _ArrayMarket:
        m = self._markets[i]
        if m is None:
            raise RuntimeError(f"market {i} has not been reset")
        return m

    # ------------------------------------------------------------------ stepping
    @torch.inference_mode()
    def propose(self, rows: list[int] | None = None) -> None:
        """Sample the next order of each market in ``rows`` (all by default) that has none
        pending, in one batched model call; it is applied by :meth:`commit`.

        A pending proposal lets a caller look at its time (:meth:`proposal_time`) before
        deciding to apply it; an injected order discards it, since it was drawn from a
        context that no longer holds.
        """
        rows = [i for i in (range(self.n) if rows is None else rows) if not self._pending(i)]
        if not rows:
            return
        markets = [self._market(i) for i in rows]
        index = np.asarray(rows, dtype=np.int64)
        a = self._arrays
        if a is None:
            allowed = self._kp_masks(markets)
        else:
            allowed = np.empty((len(rows), self.model.config.n_kp), dtype=bool)
            cg.kp_masks(
                a.books.arrays,
                index,
                a.state,
                a.protected,
                a.n_protected,
                self._price_edges,
                self._mid_reference,
                allowed,
            )
        self.steps += len(rows)
        generators = [m.torch_gen for m in markets]
        if self._weights is None:
            h = self._h[rows]
            mask = torch.from_numpy(allowed).to(self.device)
            kp_logits = self.model.kp_logits(h)
            probs = torch.softmax(kp_logits.float(), -1)
            self.masked_mass += float((probs * ~mask).sum())
            tokens = self.model.sample_next(h, generators, self.temperature, mask, kp_logits)
            tokens = tokens.cpu().numpy()
        else:
            tokens = self._sample_numba(index, allowed, generators)
        kinds, buckets, _, _ = self.tokenizer.fields(tokens)
        if a is not None:
            touch = np.empty(len(rows), dtype=np.int64)
            uniforms = np.empty((len(rows), 3))
            quotes = np.empty((len(rows), 3), dtype=np.int64)
            cg.decode_inputs(
                a.books.arrays,
                index,
                kinds,
                a.state,
                a.rng_states[index],
                cg.RNG_FUNCTIONS,
                touch,
                uniforms,
                quotes,
            )
            decoded = self.tokenizer.decode(tokens, uniforms, touch if self._touch_sized else None)
            bid, ask, mids = quotes.T
            prices = self.tokenizer.prices(decoded.kind, decoded.price_offset, bid, ask, mids)
            p = a.proposals
            p[index, cg.P_KIND] = decoded.kind
            p[index, cg.P_PRICE] = prices
            p[index, cg.P_SIZE] = decoded.size
            p[index, cg.P_DT] = decoded.dt
            p[index, cg.P_BUCKET] = buckets
            p[index, cg.P_PENDING] = 1
            return
        touch = None
        if self._touch_sized:
            # Python ints: comparing numpy scalars with the kind constants is far slower
            touch = np.array(
                [_touch(m.book, k) for m, k in zip(markets, kinds.tolist(), strict=True)]
            )
        uniforms = np.stack([m.np_gen.random(3) for m in markets])
        decoded = self.tokenizer.decode(tokens, uniforms, touch)
        bid, ask = np.array([_quotes(m) for m in markets]).T
        mids = np.array([m.mid_x2 for m in markets])
        prices = self.tokenizer.prices(decoded.kind, decoded.price_offset, bid, ask, mids)
        for k, m in enumerate(markets):
            m.proposal = _Proposal(
                kind=OrderKind(int(decoded.kind[k])),
                price=int(prices[k]),
                size=int(decoded.size[k]),
                dt=int(decoded.dt[k]),
                bucket=int(buckets[k]),
            )

    def _sample_numba(
        self, index: np.ndarray, allowed: np.ndarray, generators: list[torch.Generator]
    ) -> np.ndarray:
        """The tokens of markets ``index`` from their hidden states with the numba kernel,
        each from three uniforms of its own generator, as the model's ``sample_next``
        draws them."""
        if not self.temperature >= 0:  # also rejects NaN
            raise ValueError(f"temperature must be >= 0, got {self.temperature}")
        if not allowed.any(axis=1).all():
            raise ValueError("the mask leaves a row with no allowed class")
        u = torch.stack([torch.rand(3, generator=g, dtype=torch.float64) for g in generators])
        tokens = np.empty(len(index), dtype=np.int64)
        masked = np.empty(len(index))
        w = self._weights
        decode_numba.sample_step(
            w.buffer,
            w.offsets,
            w.dims,
            self._h_np,
            index,
            allowed,
            u.numpy(),
            float(self.temperature),
            tokens,
            masked,
        )
        self.masked_mass += float(masked.sum())
        return tokens

    def _pending(self, i: int) -> bool:
        """Whether market ``i`` has a proposal waiting."""
        if self._arrays is not None:
            self._market(i)  # raises for a market never reset
            return bool(self._arrays.proposals[i, cg.P_PENDING])
        return self._market(i).proposal is not None

    def proposal_time(self, i: int) -> int | None:
        """When market ``i``'s pending proposal would happen (None if it has none)."""
        m = self._market(i)
        if self._arrays is not None:  # read the arrays, not a proposal made of them
            pending, dt = self._arrays.proposals[i, [cg.P_PENDING, cg.P_DT]].tolist()
            return m.time_ns + dt if pending else None
        return None if m.proposal is None else m.time_ns + m.proposal.dt

    @torch.inference_mode()
    def commit(self, rows: list[int] | None = None) -> list[GeneratedOrder | None]:
        """Apply the pending proposals of ``rows`` (all by default), in one batched model
        call for the new context; returns them in that order (None where the book could
        not take the order, which masking makes very rare)."""
        rows = list(range(self.n)) if rows is None else list(rows)
        if self._arrays is not None:
            return self._commit_compiled(rows)
        out: list[GeneratedOrder | None] = []
        happened: list[_Happened] = []
        for i in rows:
            m = self._market(i)
            p = m.proposal
            if p is None:
                raise RuntimeError(f"market {i} has no proposal to commit; call propose first")
            m.proposal = None
            before = m.mid_x2
            m.time_ns += p.dt
            self._check_stall(i, m)
            event = self._apply(i, p.kind, p.price, p.size, p.dt, p.bucket)
            if event is None:
                out.append(None)
            else:
                happened.append(event)
                out.append(GeneratedOrder(m.time_ns, event.realized, before))
        self._advance_context(happened)
        return out

    def _commit_compiled(self, rows: list[int]) -> list[GeneratedOrder | None]:
        """:meth:`commit` on the compiled engine: every market's order in one kernel call
        (:func:`lmm.engine.compiled.generation.apply_round`), then the same context update."""
        a = self._arrays
        for i in rows:
            if not self._pending(i):
                raise RuntimeError(f"market {i} has no proposal to commit; call propose first")
        index = np.asarray(rows, dtype=np.int64)
        out = np.empty((len(rows), cg.N_OUT), dtype=np.int64)
        book_rows = np.zeros((len(rows), cg.BOOK_ROW), dtype=np.int64)
        # an order's fills each empty a resting order, but for its last
        resting = int(a.books.arrays.stats[index, ck.N_ORDERS].sum())
        fills = np.empty((resting + len(rows), 4), dtype=np.int64)
        status, at = cg.apply_round(
            a.books.arrays,
            index,
            a.proposals,
            a.state,
            a.rng_states[index],
            cg.RNG_FUNCTIONS,
            a.protected,
            a.n_protected,
            self._price_edges,
            self._mid_reference,
            self.max_orders_per_second,
            out,
            book_rows,
            fills,
        )
        if status != ck.OK:
            self._raise_compiled(status, rows[at])
        done = np.flatnonzero(out[:, cg.R_OK])
        results: list[GeneratedOrder | None] = [None] * len(rows)
        realized_rows = out[done][:, _REALIZED]
        # the fills the round wrote, one after another; ``fills`` is sized for the worst case
        fill_rows = fills[: int(out[done, cg.R_FILLS].sum())].tolist()
        first = 0
        for r, (kind, price, size, oid, before, time_ns, n_fills) in zip(
            done.tolist(), realized_rows.tolist(), strict=True
        ):
            realized = Realized(
                _KINDS[kind],
                price,
                size,
                tuple(Fill(*f) for f in fill_rows[first : first + n_fills]),
                oid,
            )
            first += n_fills
            results[r] = GeneratedOrder(time_ns, realized, before)
            if rows[r] in self._recorders:
                self._recorders[rows[r]].record(time_ns, realized, self._market(rows[r]).book)
        o = out[done]
        self._extend_contexts(
            index[done].tolist(),
            o[:, cg.R_KIND],
            o[:, cg.R_OFFSET],
            o[:, cg.R_SIZE],
            o[:, cg.R_DT],
            o[:, cg.R_TOUCH],
            book_rows[done],
            o[:, cg.R_BEFORE],
            o[:, cg.R_TIME],
            (o[:, cg.R_BID], o[:, cg.R_ASK]),
        )
        return results

    def _raise_compiled(self, status: int, i: int) -> None:
        """Raise what the Python engine raises where the compiled round stopped with
        ``status`` at market ``i``."""
        if status == cg.E_STALL:
            raise self._stall_error(i)
        if status == cg.E_PRICE:
            raise OrderBookError("price must be > 0 (a generated market order's worst price)")
        raise self._arrays.books.full_error(i, status)

    def _check_stall(self, i: int, m: _Market) -> None:
        """Count market ``i``'s generated order in its current second of market time; raise
        past ``max_orders_per_second``."""
        if m.time_ns - m.second_ns >= NS_PER_SECOND:
            m.second_ns, m.orders_in_second = m.time_ns, 0
        m.orders_in_second += 1
        if m.orders_in_second > self.max_orders_per_second:
            raise self._stall_error(i)

    def _stall_error(self, i: int) -> RuntimeError:
        """The error of market ``i`` generating too many orders within one second."""
        return RuntimeError(
            f"market {i} generated more than max_orders_per_second="
            f"{self.max_orders_per_second:,} orders within one second of its market time: "
            "its model's clock has nearly stopped; check the checkpoint (a sound one "
            "makes a few hundred orders a second at most)"
        )

    def step(self, rows: list[int] | None = None) -> list[GeneratedOrder | None]:
        """Generate and apply one order in every market (or in ``rows`` only)."""
        self.propose(rows)
        return self.commit(rows)

    @torch.inference_mode()
    def inject(self, orders: list[OutsideOrder]) -> list[Realized | None]:
        """Apply outside (agent) orders and append them to their markets' contexts.

        Each order happens at its ``time_ns`` (not before its market's clock), discards
        the market's pending proposal, and its resting part is protected from generated
        cancels. Orders for different markets share one model call per round.
        """
        results: dict[int, Realized | None] = {}
        remaining = list(enumerate(orders))
        while remaining:  # one order per market per round: a row's positions are sequential
            seen: set[int] = set()
            this_round, later = [], []
            for k, o in remaining:
                (later if o.market in seen else this_round).append((k, o))
                seen.add(o.market)
            happened = []
            for k, o in this_round:
                m = self._market(o.market)
                dt = max(o.time_ns - m.time_ns, 0)
                if o.in_context:
                    m.proposal = None
                    m.time_ns += dt
                event = self._apply(
                    o.market, o.kind, o.price, o.size, dt, None, owner=o.owner, target=o.target
                )
                results[k] = None if event is None else event.realized
                if event is not None:
                    if o.in_context:
                        happened.append(event)
                    r = event.realized
                    if o.kind not in CANCEL_KINDS and r.order_id in m.book:
                        m.protected = m.protected | {r.order_id}  # the engine sees a new set
            self._advance_context(happened)
            remaining = later
        return [results[k] for k in range(len(orders))]

    def _apply(
        self,
        i: int,
        kind: OrderKind,
        price: int,
        size: int,
        dt: int,
        bucket: int | None,
        owner: int = 0,
        target: int | None = None,
    ) -> _Happened | None:
        """Realise an order in market ``i``'s book (None if the book cannot take it)."""
        m = self._market(i)
        ref, sign = self.tokenizer.reference(kind, *_quotes(m), m.mid_x2)
        before = m.mid_x2
        touch = 0  # only a touch-sized tokenizer reads it
        if self.tokenizer.config.size_reference is SizeReference.TOUCH:
            touch = int(_touch(m.book, kind))
        if target is not None:  # an outside cancel of its own order
            realized = cancel_order(m.book, kind, target, size)
        else:
            price_range = None
            if kind in CANCEL_KINDS and bucket is not None:
                price_range = self.tokenizer.price_range(bucket, ref, sign)
            realized = apply_order(
                m.book,
                kind,
                price,
                size,
                m.next_id,
                m.np_gen,
                price_range,
                owner=owner,
                protected=m.protected,
            )
        m.next_id += 1
        if m.protected:  # forget agent orders that left the book
            m.protected = {oid for oid in m.protected if oid in m.book}
        if realized is None:
            return None
        if i in self._recorders:
            self._recorders[i].record(m.time_ns, realized, m.book)
        book_row = m.book.snapshot_row(FEATURE_LEVELS)
        spread = m.book.spread()
        if spread is not None:
            m.spread = spread
        quotes = _quotes(m)
        if quotes[0] != NO_QUOTE:  # the mid of the quotes, an empty side stood in
            m.mid_x2 = quotes[0] + quotes[1]
        offset = sign * (realized.price - ref)
        return _Happened(i, realized, before, offset, touch, dt, m.time_ns, book_row, quotes)

    def _advance_context(self, happened: list[_Happened]) -> None:
        """Append each market's realised order (token and features of the book it left)
        to its context and refresh its hidden state, all markets at once.

        A context that would outgrow the model's window is cut to its last half and
        recomputed (with or without a cache alike, so both modes see the same context).
        """
        if not happened:
            return
        self._extend_contexts(
            [e.market for e in happened],
            np.array([int(e.realized.kind) for e in happened]),
            np.array([e.price_offset for e in happened]),
            np.array([e.realized.size for e in happened]),
            np.array([e.dt for e in happened]),
            np.array([e.touch for e in happened]),
            np.array([e.book_row for e in happened], dtype=np.int64),
            np.array([e.mid_x2_before for e in happened], dtype=np.int64),
            np.array([e.time_ns for e in happened], dtype=np.int64),
            tuple(np.array([e.quotes for e in happened], dtype=np.int64).T),
        )

    def _extend_contexts(
        self,
        markets: list[int],
        kinds: np.ndarray,
        offsets: np.ndarray,
        sizes: np.ndarray,
        dts: np.ndarray,
        touches: np.ndarray,
        book_rows: np.ndarray,
        before: np.ndarray,
        times: np.ndarray,
        quotes: tuple[np.ndarray, np.ndarray],
    ) -> None:
        """Append one realised order to each of ``markets``' contexts (its token and the
        features of the book it left, from the arrays' rows) and refresh their hidden
        states, all at once; see :meth:`_advance_context`."""
        tokens = self.tokenizer.encode(kinds, offsets, sizes, dts, touches)
        features = book_features(
            book_rows.reshape(len(markets), FEATURE_LEVELS, 4), before, times, quotes
        )
        if self.model.config.n_memory_features:
            features = np.concatenate(
                [features, self._memory_rows(markets, kinds, sizes, book_rows, times)], axis=1
            )
        if self.model.config.n_outlook_features:
            features = np.concatenate([features, self._outlook_rows(markets, times)], axis=1)
        rows, trimmed = [], []
        for i, token, feats in zip(markets, tokens.tolist(), features, strict=True):
            m = self._market(i)
            m.history_tokens.append(token)
            m.history_features.append(feats)
            if len(m.history_tokens) > self.context:
                m.history_tokens = m.history_tokens[-self.context // 2 :]
                m.history_features = m.history_features[-self.context // 2 :]
                trimmed.append(i)
            else:
                rows.append(i)
        if self.cache is None:
            self._prefill(rows + trimmed)
            return
        self._prefill(trimmed)
        if not rows:
            return
        if self._weights is not None:
            # the rows' last orders, in the order of ``markets`` with the trimmed ones left out
            keep = np.isin(markets, rows)
            w = self._weights
            decode_numba.forward_step(
                w.buffer,
                w.offsets,
                w.dims,
                w.eps,
                np.ascontiguousarray(tokens[keep], dtype=np.int64),
                np.ascontiguousarray(features[keep], dtype=np.float32),
                np.asarray(rows, dtype=np.int64),
                self._lengths_np,
                self._k_np,
                self._v_np,
                self._h_np,
                self._conditioning_np,
            )
            return
        idx = torch.tensor(rows, device=self.device)
        x = torch.tensor([[self._market(i).history_tokens[-1]] for i in rows], device=self.device)
        f = torch.from_numpy(np.stack([self._market(i).history_features[-1] for i in rows]))
        h = self.model(
            x,
            f[:, None].to(self.device),
            self.cache,
            rows=idx,
            profile=self._profile_rows(idx),
            outlook_guidance=self.guidance,
        )
        self._h[idx] = h[:, -1]

    def _memory_rows(
        self,
        markets: list[int],
        kinds: np.ndarray,
        sizes: np.ndarray,
        book_rows: np.ndarray,
        times: np.ndarray,
    ) -> np.ndarray:
        """The memory features after one realised order in each of ``markets`` (kinds,
        sizes, the books they left, times), as training computes them
        (:func:`lmm.model.memory.memory_features`)."""
        volumes = signed_market_volume(kinds, sizes).tolist()
        mids = mid_x2(book_rows.reshape(len(markets), FEATURE_LEVELS, 4)).tolist()
        rows = []
        for i, t, mid2, volume in zip(markets, times.tolist(), mids, volumes, strict=True):
            tracker = self._memory[i]
            rows.append(tracker.update(t, mid2 or tracker.last_mid2, volume))
        return np.stack(rows)

    def _outlook_rows(self, markets: list[int], times: np.ndarray) -> np.ndarray:
        """The outlook features of one realised order in each of ``markets`` at ``times``
        (zeros for a market without an outlook)."""
        rows = np.zeros((len(markets), self.model.config.n_outlook_features), dtype=np.float32)
        for k, (i, t) in enumerate(zip(markets, times.tolist(), strict=True)):
            path = self._outlook[i]
            if path is not None:
                rows[k] = path.features(t)[0]
        return rows

    def _kp_masks(self, markets: list[_Market]) -> np.ndarray:
        """(len(markets), n_kp) allowed kind x price-bucket classes, all markets at once.

        A cancel bucket is allowed where a background order rests at a price it covers
        (measured from the cancel's reference price, as decoding measures it); a market
        order needs a non-empty opposite side.
        """
        allowed = np.ones((len(markets), self.model.config.n_kp), dtype=bool)
        for kind in CANCEL_KINDS:
            allowed[:, self._block[kind]] = False
        prices: list[int] = []
        counts: list[int] = []  # per (market, cancel kind), in that order
        for k, m in enumerate(markets):
            for side in self._cancel_sides:
                levels = cancellable_levels(m.book, side, m.protected)
                prices.extend(levels)
                counts.append(len(levels))
            # a market order needs a non-empty opposite side
            if m.book.best_ask is None:
                allowed[k, self._block[OrderKind.MARKET_BUY]] = False
            if m.book.best_bid is None:
                allowed[k, self._block[OrderKind.MARKET_SELL]] = False
        if prices:
            n = np.asarray(counts).reshape(len(markets), len(CANCEL_KINDS))
            rows = np.repeat(np.arange(len(markets)), n.sum(1))
            classes = np.repeat(np.tile(self._cancel_first, len(markets)), n.ravel())
            # each level's offset as a cancel of its kind would measure it in its market
            kinds = np.repeat(np.tile(self._cancel_kinds, len(markets)), n.ravel())
            bid, ask = np.array([_quotes(m) for m in markets]).T
            mids = np.array([m.mid_x2 for m in markets])
            offsets = self.tokenizer.offsets(kinds, prices, bid[rows], ask[rows], mids[rows])
            allowed[rows, classes + self.tokenizer.price_bucket(offsets)] = True
        return allowed

    @property
    def masked_rate(self) -> float:
        """Mean probability mass per generated order that masking removed."""
        return self.masked_mass / self.steps if self.steps else 0.0

    def record(self, i: int, recorder: SessionRecorder) -> None:
        """Tell ``recorder`` of every later event in market ``i``, generated or injected,
        until the market is reset (:mod:`lmm.engine.recording`).

        An injected order the model does not see (``in_context=False``) leaves the clock
        alone and is recorded at it, the time of the market's latest order.
        """
        self._market(i)
        self._recorders[i] = recorder

    def book(self, i: int) -> OrderBook:
        """Market ``i``'s order book."""
        return self._market(i).book

    def history(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        """Market ``i``'s context, oldest first: the tokens ``(T,)`` and per-order inputs
        ``(T, F)`` the model reads before its next order (copies)."""
        m = self._market(i)
        return np.array(m.history_tokens, dtype=np.int64), np.stack(m.history_features)

    def history_length(self, i: int) -> int:
        """How many orders market ``i``'s context holds (:meth:`history` without the copy)."""
        return len(self._market(i).history_tokens)

    def time_ns(self, i: int) -> int:
        """Market ``i``'s clock in ns after midnight."""
        return self._market(i).time_ns

    def mid_x2(self, i: int) -> int:
        """Twice market ``i``'s mid price in ticks (exact; with an empty side, see the
        class docstring)."""
        return self._market(i).mid_x2
