"""Order tokenizer: one trader action becomes one integer token, and back.

A token combines four fields (MarS's order-level tokenization):

* **kind**: one of six :class:`~lmm.data.orderflow.OrderKind` values (limit, market or
  cancel, on the buy or sell side). Partial cancels and deletes share a kind because they
  differ only in size; executions are grouped into the market order that caused them.
* **price**: the signed offset in ticks from a reference price, chosen by
  :class:`PriceReference` (saved with the checkpoint; :func:`reference_price` computes it):

  - ``MID`` (the default): ``price - mid_x2 // 2`` for every kind (the mid rounded down
    to a tick, which keeps the offset an exact integer whether the spread is odd or even);
  - ``SAME_SIDE_BEST``: from the best quote of the side the order rests on or targets
    (limit and cancel buy: best bid; limit and cancel sell: best ask; market buy: best
    ask, the side it consumes; market sell: best bid), signed by aggressiveness: positive
    toward or through the other side, for both sides (``price - best_bid`` for buy-side
    kinds, ``best_ask - price`` for sell-side kinds). Offset 0 is the best quote itself, a
    negative offset sits behind it, a positive one inside the spread (or, for a market
    order, the ticks it walks beyond the touch), so one set of bins serves both sides.
    When the reference side is empty, the reference falls back to ``mid_x2 // 2`` (with
    :func:`lmm.features.mid_x2`'s one-sided mid, one tick beyond the other side's best),
    keeping the side's sign.

  The distance (``offset`` at or above 0, ``-offset - 1`` below, so that both halves
  start at 0) falls into quantile bins fitted on training data (wide-spread stocks such
  as GOOG place most orders 10-50 ticks from the mid, so fixed one-tick buckets would
  waste the vocabulary); the sign doubles them. The farthest bin on each half is
  open-ended: the overflow bucket.
* **size**: quantile bins fitted on training sizes.
* **time**: the time since the previous order, in quantile bins fitted on training data.

Token id: ``((kind * P + price_bucket) * S + size_bin) * T + time_bin``, where price bucket
``B + b`` is distance bin ``b`` at or above the reference (offset >= 0) and ``B - 1 - b``
the same bin below it.

Decoding a token returns a concrete order by these documented rules, all drawn from an
explicit ``numpy.random.Generator``:

* price: uniform over the integer distances of the bin; in an overflow bin, its lower edge
  plus ``G`` ticks, where ``G`` is geometric with the mean excess seen in training;
* size: drawn from the most frequent training sizes in the bin, in proportion to their
  counts (this keeps round lots such as 100 shares exact);
* time: drawn from the training times of the bin, by interpolating between stored
  quantiles of them (inter-arrival times span nine orders of magnitude, so a bin can be
  wide and its values far from uniform), in integer nanoseconds.

The fitted bins travel with the model's checkpoint as JSON (:meth:`OrderTokenizer.to_dict`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

import numpy as np

from lmm.data.orderflow import OrderKind
from lmm.features import NO_QUOTE

__all__ = [
    "DecodedOrders",
    "OrderTokenizer",
    "PriceReference",
    "TokenizerConfig",
    "reference_price",
]

N_KINDS = len(OrderKind)
#: Quantiles stored per time bin for decoding.
TIME_QUANTILES = 33


class PriceReference(str, Enum):
    """What an order's price offset is measured from (see the module docstring)."""

    MID = "mid"  #: the mid rounded down to a tick, for every kind
    SAME_SIDE_BEST = "same_side_best"  #: the best quote of the side the order rests on or takes

    def __str__(self) -> str:  # command-line choices and help show the value
        return self.value


def reference_price(
    reference: PriceReference,
    kind: np.ndarray | int,
    best_bid: np.ndarray | int,
    best_ask: np.ndarray | int,
    mid_x2: np.ndarray | int,
) -> tuple[np.ndarray, np.ndarray]:
    """Reference price (ticks) and sign of each order's offset, from the book it meets:
    ``offset = sign * (price - reference)`` and ``price = reference + sign * offset``.

    Args:
        reference: which rule (see the module docstring).
        kind: :class:`~lmm.data.orderflow.OrderKind` values.
        best_bid, best_ask: the book's best quotes in ticks, :data:`lmm.features.NO_QUOTE`
            for an empty side.
        mid_x2: twice the book's mid (:func:`lmm.features.mid_x2`, one-sided books included).

    Arrays broadcast; the results are int64 arrays of their common shape.
    """
    kind, bid, ask, m2 = np.broadcast_arrays(
        *(np.asarray(a, dtype=np.int64) for a in (kind, best_bid, best_ask, mid_x2))
    )
    mid_ref = m2 // 2
    if reference is PriceReference.MID:
        return mid_ref, np.ones_like(kind)
    if reference is not PriceReference.SAME_SIDE_BEST:
        raise ValueError(f"unknown price reference {reference!r}")
    buy_side = kind % 2 == 0  # OrderKind: even values are the buy side
    market = (kind == OrderKind.MARKET_BUY) | (kind == OrderKind.MARKET_SELL)
    quote = np.where(buy_side != market, bid, ask)  # market orders take the other side
    return np.where(quote != NO_QUOTE, quote, mid_ref), np.where(buy_side, 1, -1)


@dataclass(frozen=True)
class TokenizerConfig:
    """Resolution of the token fields.

    Attributes:
        price_bins: the most distance-from-reference bins to fit per side (B). 48 keeps orders
            at and near the best quote apart, one tick per bin (16 merged a third of the
            at-best orders into deeper ticks: ``python scripts/price_resolution.py``).
        size_bins: the most size bins to fit (fewer when sizes repeat a lot).
        time_bins: the most inter-arrival-time bins to fit.
        values_per_size_bin: how many of the most frequent sizes each bin keeps for decoding.
        price_reference: what price offsets are measured from: mid (the mid rounded down
            to a tick) or same_side_best (the best quote of the side an order rests on or
            takes, signed so that positive is more aggressive on both sides; the mid when
            that side is empty).
    """

    price_bins: int = 48
    size_bins: int = 8
    time_bins: int = 12
    values_per_size_bin: int = 32
    price_reference: PriceReference = PriceReference.MID

    def __post_init__(self) -> None:
        for name in ("price_bins", "size_bins", "time_bins", "values_per_size_bin"):
            if getattr(self, name) < 1:
                raise ValueError(f"TokenizerConfig.{name} must be >= 1, got {getattr(self, name)}")
        if not isinstance(self.price_reference, PriceReference):
            raise ValueError(
                "TokenizerConfig.price_reference must be a PriceReference "
                f"({', '.join(r.value for r in PriceReference)}), got {self.price_reference!r}"
            )


@dataclass(frozen=True)
class DecodedOrders:
    """Orders decoded from tokens (arrays of equal length)."""

    kind: np.ndarray  # int8 OrderKind
    price_offset: np.ndarray  # int64 ticks from the reference price (config.price_reference)
    size: np.ndarray  # int64 shares, > 0
    dt: np.ndarray  # int64 ns since the previous order, >= 0


@dataclass(frozen=True)
class OrderTokenizer:
    """Fitted order tokenizer; build it with :meth:`fit` or :meth:`from_dict`.

    Attributes:
        config: field resolutions.
        size_edges: ascending bin edges; bin i holds sizes in ``[edges[i], edges[i+1])``,
            the last bin also everything above.
        size_values / size_counts: per bin, the most frequent sizes and their counts.
        time_edges: ascending edges of the inter-arrival bins in ns, as for sizes.
        time_quantiles: per bin, ``TIME_QUANTILES`` evenly spaced quantiles (ns) of the
            training times in it, from its minimum to its maximum.
        price_edges: ascending edges of the distance-from-reference bins in ticks, from 0.
        price_tail_mean: mean excess (ticks beyond the overflow bin's lower edge) of
            distances in the overflow bins.
    """

    config: TokenizerConfig
    size_edges: tuple[int, ...]
    size_values: tuple[tuple[int, ...], ...]
    size_counts: tuple[tuple[int, ...], ...]
    time_edges: tuple[int, ...]
    time_quantiles: tuple[tuple[int, ...], ...]
    price_edges: tuple[int, ...]
    price_tail_mean: float
    _size_tables: list[tuple[np.ndarray, np.ndarray]] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        for name in ("size_edges", "time_edges", "price_edges"):
            edges = np.asarray(getattr(self, name))
            if len(edges) < 2 or (np.diff(edges) <= 0).any():
                raise ValueError(f"tokenizer {name} must be strictly ascending, got {list(edges)}")
        n_bins = len(self.size_edges) - 1
        if not (len(self.size_values) == len(self.size_counts) == n_bins) or not all(
            len(v) == len(c) > 0 for v, c in zip(self.size_values, self.size_counts, strict=True)
        ):
            raise ValueError(
                f"size_values and size_counts must hold one non-empty list per size bin ({n_bins})"
            )
        if len(self.time_quantiles) != len(self.time_edges) - 1 or any(
            len(q) != TIME_QUANTILES for q in self.time_quantiles
        ):
            raise ValueError(
                f"time_quantiles must hold {TIME_QUANTILES} values per time bin "
                f"({len(self.time_edges) - 1})"
            )
        tables = []
        for values, counts in zip(self.size_values, self.size_counts, strict=True):
            c = np.asarray(counts, dtype=np.float64)
            tables.append((np.asarray(values, dtype=np.int64), np.cumsum(c) / c.sum()))
        object.__setattr__(self, "_size_tables", tables)

    # ----------------------------------------------------------------- shape
    @property
    def n_price(self) -> int:
        """P: price buckets (B distance bins on each side of the reference price)."""
        return 2 * (len(self.price_edges) - 1)

    @property
    def n_size(self) -> int:
        """S: fitted size bins."""
        return len(self.size_edges) - 1

    @property
    def n_time(self) -> int:
        """T: fitted inter-arrival bins."""
        return len(self.time_edges) - 1

    @property
    def vocab_size(self) -> int:
        """Number of distinct order tokens."""
        return N_KINDS * self.n_price * self.n_size * self.n_time

    # ----------------------------------------------------------------- fit
    @classmethod
    def fit(
        cls,
        price_offset: np.ndarray,
        size: np.ndarray,
        dt: np.ndarray,
        config: TokenizerConfig | None = None,
    ) -> OrderTokenizer:
        """Fit the bins on training orders (never on validation data).

        Args:
            price_offset: ticks from each order's reference price (:meth:`offsets`).
            size: shares (> 0).
            dt: ns since the previous order (>= 0).
            config: resolutions (defaults: :class:`TokenizerConfig`).
        """
        config = config or TokenizerConfig()
        size = np.asarray(size, dtype=np.int64)
        dt = np.asarray(dt, dtype=np.int64)
        price_offset = np.asarray(price_offset, dtype=np.int64)
        if len(size) == 0:
            raise ValueError("cannot fit a tokenizer on zero orders")
        if (size <= 0).any():
            raise ValueError(f"sizes must be > 0, got {size[size <= 0][0]}")
        if (dt < 0).any():
            raise ValueError(f"inter-arrival times must be >= 0, got {dt[dt < 0][0]}")
        size_edges = _quantile_edges(size, config.size_bins)
        time_edges = _quantile_edges(dt, config.time_bins)
        time_bin = np.searchsorted(time_edges[1:-1], dt, side="right")
        grid = np.linspace(0.0, 1.0, TIME_QUANTILES)
        time_quantiles = tuple(
            tuple(int(q) for q in np.quantile(dt[time_bin == b], grid, method="lower"))
            for b in range(len(time_edges) - 1)
        )
        bins = np.searchsorted(size_edges[1:-1], size, side="right")
        values, counts = [], []
        for b in range(len(size_edges) - 1):
            v, c = np.unique(size[bins == b], return_counts=True)
            top = np.argsort(-c, kind="stable")[: config.values_per_size_bin]
            values.append(tuple(int(x) for x in v[top]))
            counts.append(tuple(int(x) for x in c[top]))
        distance = _distance(price_offset)
        price_edges = _quantile_edges(np.append(distance, 0), config.price_bins)
        tail = distance[distance >= price_edges[-2]] - price_edges[-2]
        return cls(
            config=config,
            size_edges=tuple(int(e) for e in size_edges),
            size_values=tuple(values),
            size_counts=tuple(counts),
            time_edges=tuple(int(e) for e in time_edges),
            time_quantiles=time_quantiles,
            price_edges=tuple(int(e) for e in price_edges),
            price_tail_mean=float(tail.mean()) if len(tail) else 0.0,
        )

    # ----------------------------------------------------------------- encode / decode
    def encode(
        self, kind: np.ndarray, price_offset: np.ndarray, size: np.ndarray, dt: np.ndarray
    ) -> np.ndarray:
        """Tokens (int64) for orders given as equal-length arrays."""
        kind = np.asarray(kind, dtype=np.int64)
        if ((kind < 0) | (kind >= N_KINDS)).any():
            raise ValueError(
                f"order kind must be in 0..{N_KINDS - 1}, got {kind.min()}..{kind.max()}"
            )
        p = self.price_bucket(price_offset)
        s = np.searchsorted(self.size_edges[1:-1], np.asarray(size), side="right")
        t = np.searchsorted(self.time_edges[1:-1], np.asarray(dt), side="right")
        return ((kind * self.n_price + p) * self.n_size + s) * self.n_time + t

    def price_bucket(self, price_offset: np.ndarray | int) -> np.ndarray:
        """Price bucket of offsets from the reference (0 and P-1 are the overflow buckets)."""
        offset = np.asarray(price_offset, dtype=np.int64)
        b = np.searchsorted(self.price_edges[1:-1], _distance(offset), side="right")
        half = self.n_price // 2
        return np.where(offset >= 0, half + b, half - 1 - b)

    def fields(self, tokens: np.ndarray) -> tuple[np.ndarray, ...]:
        """Split tokens into (kind, price bucket, size bin, time bin) arrays."""
        tokens = np.asarray(tokens, dtype=np.int64)
        if ((tokens < 0) | (tokens >= self.vocab_size)).any():
            raise ValueError(f"tokens must be in 0..{self.vocab_size - 1}")
        rest, t = np.divmod(tokens, self.n_time)
        rest, s = np.divmod(rest, self.n_size)
        kind, p = np.divmod(rest, self.n_price)
        return kind, p, s, t

    def decode(self, tokens: np.ndarray, rng: np.random.Generator | np.ndarray) -> DecodedOrders:
        """Concrete orders for ``tokens`` (see the module docstring for the rules).

        Args:
            tokens: (n,) tokens.
            rng: a generator, or an (n, 3) array of uniforms in [0, 1) (price, size, time
                draws of each order), so that each order can draw from its own generator.
        """
        kind, p, s, t = self.fields(tokens)
        n = len(kind)
        u = rng.random((n, 3)) if isinstance(rng, np.random.Generator) else np.asarray(rng)
        if u.shape != (n, 3):
            raise ValueError(f"need (n, 3) uniforms for {n} tokens, got shape {u.shape}")
        half = self.n_price // 2
        below = p < half
        b = np.where(below, half - 1 - p, p - half)
        edges = np.asarray(self.price_edges, dtype=np.int64)
        lo, hi = edges[b], edges[b + 1]
        distance = lo + (u[:, 0] * (hi - lo)).astype(np.int64)
        overflow = b == len(edges) - 2
        if overflow.any():
            # geometric on {0, 1, ...} with the fitted mean excess, by inversion
            q = 1.0 / (self.price_tail_mean + 1.0)
            excess = np.floor(np.log1p(-u[overflow, 0]) / np.log1p(-q)) if q < 1 else 0
            distance[overflow] = lo[overflow] + np.asarray(excess, dtype=np.int64)
        offset = np.where(below, -distance - 1, distance)
        size = np.empty(n, dtype=np.int64)
        for b, (values, cdf) in enumerate(self._size_tables):
            mask = s == b
            if mask.any():
                pick = np.searchsorted(cdf, u[mask, 1], side="right").clip(max=len(values) - 1)
                size[mask] = values[pick]
        # inverse CDF of the bin's training times, linear between stored quantiles
        table = np.asarray(self.time_quantiles, dtype=np.float64)[t]  # (n, Q)
        pos = u[:, 2] * (TIME_QUANTILES - 1)
        k = np.minimum(pos.astype(np.int64), TIME_QUANTILES - 2)
        rows = np.arange(n)
        value = table[rows, k] + (pos - k) * (table[rows, k + 1] - table[rows, k])
        lo = np.asarray(self.time_edges, dtype=np.int64)[t]
        hi = np.asarray(self.time_edges, dtype=np.int64)[t + 1]
        dt = np.clip(value.astype(np.int64), lo, np.maximum(hi - 1, lo))
        return DecodedOrders(kind=kind.astype(np.int8), price_offset=offset, size=size, dt=dt)

    def offsets(
        self,
        kind: np.ndarray | int,
        price: np.ndarray | int,
        best_bid: np.ndarray | int,
        best_ask: np.ndarray | int,
        mid_x2: np.ndarray | int,
    ) -> np.ndarray:
        """Price offsets (int64 ticks) of orders meeting a book, by this tokenizer's
        reference rule (:func:`reference_price` describes the arguments)."""
        ref, sign = reference_price(self.config.price_reference, kind, best_bid, best_ask, mid_x2)
        return sign * (np.asarray(price, dtype=np.int64) - ref)

    def prices(
        self,
        kind: np.ndarray | int,
        offset: np.ndarray | int,
        best_bid: np.ndarray | int,
        best_ask: np.ndarray | int,
        mid_x2: np.ndarray | int,
    ) -> np.ndarray:
        """Tick prices of decoded offsets, the inverse of :meth:`offsets`."""
        ref, sign = reference_price(self.config.price_reference, kind, best_bid, best_ask, mid_x2)
        return ref + sign * np.asarray(offset, dtype=np.int64)

    def price_range(self, bucket: int, ref: int, sign: int = 1) -> tuple[int | None, int | None]:
        """Tick prices ``[low, high]`` that a price bucket covers for the reference price
        ``ref`` and offset sign ``sign`` (:func:`reference_price`); ``None`` for the open end
        of an overflow bucket."""
        half = self.n_price // 2
        below = bucket < half
        b = half - 1 - bucket if below else bucket - half
        lo, hi = self.price_edges[b], self.price_edges[b + 1] - 1
        open_end = b == len(self.price_edges) - 2
        # the bucket's offsets, then prices (a negative sign swaps the ends)
        if below:
            first, last = (None if open_end else -hi - 1), -lo - 1
        else:
            first, last = lo, (None if open_end else hi)
        ends = [None if o is None else int(ref + sign * o) for o in (first, last)]
        return (ends[0], ends[1]) if sign > 0 else (ends[1], ends[0])

    # ----------------------------------------------------------------- persistence
    def to_dict(self) -> dict:
        """JSON-serialisable form, saved beside the model checkpoint."""
        return {
            "config": {**vars(self.config), "price_reference": self.config.price_reference.value},
            "size_edges": list(self.size_edges),
            "size_values": [list(v) for v in self.size_values],
            "size_counts": [list(c) for c in self.size_counts],
            "time_edges": list(self.time_edges),
            "time_quantiles": [list(q) for q in self.time_quantiles],
            "price_edges": list(self.price_edges),
            "price_tail_mean": self.price_tail_mean,
        }

    @classmethod
    def from_dict(cls, data: dict) -> OrderTokenizer:
        """Rebuild a tokenizer from :meth:`to_dict` output, checking its consistency."""
        try:
            config = dict(data["config"])
            # checkpoints from before the option lack it: they measured from the mid
            config["price_reference"] = PriceReference(config.get("price_reference", "mid"))
            tok = cls(
                config=TokenizerConfig(**config),
                size_edges=tuple(int(e) for e in data["size_edges"]),
                size_values=tuple(tuple(int(v) for v in vs) for vs in data["size_values"]),
                size_counts=tuple(tuple(int(c) for c in cs) for cs in data["size_counts"]),
                time_edges=tuple(int(e) for e in data["time_edges"]),
                time_quantiles=tuple(tuple(int(v) for v in q) for q in data["time_quantiles"]),
                price_edges=tuple(int(e) for e in data["price_edges"]),
                price_tail_mean=float(data["price_tail_mean"]),
            )
        except (KeyError, TypeError) as exc:
            raise ValueError(f"not a tokenizer description: missing or mistyped {exc}") from None
        return tok


def _distance(price_offset: np.ndarray) -> np.ndarray:
    """Distance from the reference in ticks: ``offset`` at or above it, ``-offset - 1`` below."""
    offset = np.asarray(price_offset, dtype=np.int64)
    return np.where(offset >= 0, offset, -offset - 1)


def _quantile_edges(values: np.ndarray, max_bins: int) -> np.ndarray:
    """Ascending integer edges of at most ``max_bins`` quantile bins covering ``values``.

    Heavily repeated values (100-share lots, zero inter-arrival times) collapse quantiles;
    the duplicates are dropped, so a repeated value opens a bin of its own.
    """
    qs = np.quantile(values, np.linspace(0.0, 1.0, max_bins + 1), method="lower")
    edges = np.unique(qs.astype(np.int64))
    top = int(values.max()) + 1
    if edges[-1] < top:
        edges = np.append(edges, top) if len(edges) > 1 else np.array([edges[0], top])
    if len(edges) - 1 > max_bins:  # the appended top edge made one bin too many
        edges = np.delete(edges, -2)
    return edges
