"""Order tokenizer: one trader action becomes one integer token, and back.

A token combines four fields (MarS's order-level tokenization):

* **kind**: one of six :class:`~lmm.data.orderflow.OrderKind` values (limit, market or
  cancel, on the buy or sell side). Partial cancels and deletes share a kind because they
  differ only in size; executions are grouped into the market order that caused them.
* **price**: the signed offset in ticks from a reference price, chosen by
  :class:`~lmm.model.price_reference.PriceReference` (saved with the checkpoint): from the best
  quote of the order's own side (the default) or from the mid (:mod:`lmm.model.price_reference`).
  The distance (``offset`` at or above 0, ``-offset - 1`` below, so that both halves
  start at 0) falls into quantile bins fitted on training data (wide-spread stocks such
  as GOOG place most orders 10-50 ticks from the mid, so fixed one-tick buckets would
  waste the vocabulary); the sign doubles them. The farthest bin on each half is
  open-ended: the overflow bucket.
* **size**: quantile bins fitted on training sizes, measured by
  :class:`~lmm.model.size_reference.SizeReference` (saved with the checkpoint): shares, or for
  market orders the ratio to the size at the touch they meet (the default)
  (:mod:`lmm.model.size_reference`); :meth:`OrderTokenizer.size_bins` and
  :meth:`OrderTokenizer.sizes` convert in both directions.
* **time**: the time since the previous order, in quantile bins fitted on training data.

Token id: ``((kind * P + price_bucket) * S + size_bin) * T + time_bin``, where price bucket
``B + b`` is distance bin ``b`` at or above the reference (offset >= 0) and ``B - 1 - b``
the same bin below it.

Decoding a token returns a concrete order by these documented rules, all drawn from an
explicit ``numpy.random.Generator``:

* price: uniform over the integer distances of the bin; in an overflow bin, its lower edge
  plus ``G`` ticks, where ``G`` is geometric with the mean excess seen in training;
* size: drawn from the most frequent training sizes in the bin, in proportion to their
  counts (this keeps round lots such as 100 shares exact); a ``TOUCH`` market bin by
  :func:`lmm.model.size_reference.touch_shares`. With ``TOUCH`` the size field has as many bins
  as the larger of the two sets; a token whose bin lies beyond its kind's set (never seen
  in training) decodes as that set's last bin;
* time: drawn from the training times of the bin, by interpolating between stored
  quantiles of them (:mod:`lmm.model.quantiles`: inter-arrival times span nine orders of
  magnitude, so a bin can be wide and its values far from uniform), in integer
  nanoseconds.

The fitted bins travel with the model's checkpoint as JSON (:meth:`OrderTokenizer.to_dict`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np

from lmm.data.orderflow import BUY_KINDS, MARKET_KINDS, OrderKind, is_market
from lmm.model.features import NO_QUOTE
from lmm.model.price_reference import PriceReference, reference_price
from lmm.model.quantiles import QUANTILES, inverse_cdf, quantile_table
from lmm.model.size_reference import SizeReference, fit_touch_bins, touch_bins, touch_shares

__all__ = ["DecodedOrders", "OrderTokenizer", "TokenizerConfig"]

N_KINDS = len(OrderKind)
_BUY_KINDS = frozenset(int(k) for k in BUY_KINDS)  # for the scalar reference
_MARKET_KINDS = frozenset(int(k) for k in MARKET_KINDS)


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
        size_reference: what sizes are measured in: shares, or touch (a market order's
            size relative to the size resting at the touch it meets: one bin for exactly
            the touch and (size_bins - 1) // 2 quantile bins of the ratios on each side of
            it; other kinds in shares).
    """

    price_bins: int = 48
    size_bins: int = 8
    time_bins: int = 12
    values_per_size_bin: int = 32
    price_reference: PriceReference = PriceReference.SAME_SIDE_BEST
    size_reference: SizeReference = SizeReference.TOUCH

    def __post_init__(self) -> None:
        for name in ("price_bins", "size_bins", "time_bins", "values_per_size_bin"):
            if getattr(self, name) < 1:
                raise ValueError(f"TokenizerConfig.{name} must be >= 1, got {getattr(self, name)}")
        if not isinstance(self.price_reference, PriceReference):
            raise ValueError(
                "TokenizerConfig.price_reference must be a PriceReference "
                f"({', '.join(r.value for r in PriceReference)}), got {self.price_reference!r}"
            )
        if not isinstance(self.size_reference, SizeReference):
            raise ValueError(
                "TokenizerConfig.size_reference must be a SizeReference "
                f"({', '.join(r.value for r in SizeReference)}), got {self.size_reference!r}"
            )


@dataclass(frozen=True)
class DecodedOrders:
    """Orders decoded from tokens (arrays of equal length)."""

    kind: np.ndarray  # int8 OrderKind
    price_offset: np.ndarray  # int64 ticks from the reference price (config.price_reference)
    size: np.ndarray  # int64 shares, > 0
    dt: np.ndarray  # int64 ns since the previous order, >= 0


class _Arrays(NamedTuple):
    """A tokenizer's tables as arrays, made once (numpy would convert the tuples on every
    call of the generation loop)."""

    size_edges: np.ndarray
    time_edges: np.ndarray
    price_edges: np.ndarray
    time_quantiles: np.ndarray  # (time bins, QUANTILES) float64


@dataclass(frozen=True)
class OrderTokenizer:
    """Fitted order tokenizer; build it with :meth:`fit` or :meth:`from_dict`.

    Attributes:
        config: field resolutions.
        size_edges: ascending bin edges; bin i holds sizes in ``[edges[i], edges[i+1])``,
            the last bin also everything above.
        size_values / size_counts: per bin, the most frequent sizes and their counts.
        time_edges: ascending edges of the inter-arrival bins in ns, as for sizes.
        time_quantiles: per bin, :data:`~lmm.model.quantiles.QUANTILES` evenly spaced quantiles
            (ns) of the training times in it, from its minimum to its maximum.
        price_edges: ascending edges of the distance-from-reference bins in ticks, from 0.
        price_tail_mean: mean excess (ticks beyond the overflow bin's lower edge) of
            distances in the overflow bins.
        touch_edges: with ``SizeReference.TOUCH``, the ascending edges of the market size
            ratio (size / touch) bins: from 0 up to 1 the bins below the touch, from 1 on
            those above it (the last one open); the ratio 1 itself has a bin of its own.
            Empty with ``SHARES``.
        touch_quantiles: per ratio bin (one per edge), :data:`~lmm.model.quantiles.QUANTILES`
            evenly spaced quantiles of the training ratios in it, for decoding.
    """

    config: TokenizerConfig
    size_edges: tuple[int, ...]
    size_values: tuple[tuple[int, ...], ...]
    size_counts: tuple[tuple[int, ...], ...]
    time_edges: tuple[int, ...]
    time_quantiles: tuple[tuple[int, ...], ...]
    price_edges: tuple[int, ...]
    price_tail_mean: float
    touch_edges: tuple[float, ...] = ()
    touch_quantiles: tuple[tuple[float, ...], ...] = ()
    _size_tables: list[tuple[np.ndarray, np.ndarray]] = field(init=False, repr=False, compare=False)
    _arrays: _Arrays = field(init=False, repr=False, compare=False)

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
            len(q) != QUANTILES for q in self.time_quantiles
        ):
            raise ValueError(
                f"time_quantiles must hold {QUANTILES} values per time bin "
                f"({len(self.time_edges) - 1})"
            )
        if self.config.size_reference is SizeReference.TOUCH:
            e = np.asarray(self.touch_edges, dtype=np.float64)
            if len(e) < 2 or e[0] != 0 or 1.0 not in e or (np.diff(e) <= 0).any():
                raise ValueError(
                    "tokenizer touch_edges must be strictly ascending from 0 and hold 1, "
                    f"got {list(self.touch_edges)}"
                )
            if len(self.touch_quantiles) != len(e) or any(
                len(q) != QUANTILES for q in self.touch_quantiles
            ):
                raise ValueError(
                    f"touch_quantiles must hold {QUANTILES} values per ratio bin ({len(e)})"
                )
        elif self.touch_edges or self.touch_quantiles:
            raise ValueError("touch_edges and touch_quantiles need size_reference=touch")
        tables = []
        for values, counts in zip(self.size_values, self.size_counts, strict=True):
            c = np.asarray(counts, dtype=np.float64)
            tables.append((np.asarray(values, dtype=np.int64), np.cumsum(c) / c.sum()))
        object.__setattr__(self, "_size_tables", tables)
        arrays = _Arrays(
            size_edges=np.asarray(self.size_edges, dtype=np.int64),
            time_edges=np.asarray(self.time_edges, dtype=np.int64),
            price_edges=np.asarray(self.price_edges, dtype=np.int64),
            time_quantiles=np.asarray(self.time_quantiles, dtype=np.float64),
        )
        object.__setattr__(self, "_arrays", arrays)

    # ----------------------------------------------------------------- shape
    @property
    def n_price(self) -> int:
        """P: price buckets (B distance bins on each side of the reference price)."""
        return 2 * (len(self.price_edges) - 1)

    @property
    def n_size(self) -> int:
        """S: size bins (share bins, or with ``TOUCH`` as many as the larger of the share
        bins and the market ratio bins with the exact one)."""
        return max(len(self.size_edges) - 1, len(self.touch_edges) + 1)

    @property
    def _touch(self) -> bool:
        return self.config.size_reference is SizeReference.TOUCH

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
        kind: np.ndarray | None = None,
        touch: np.ndarray | None = None,
    ) -> OrderTokenizer:
        """Fit the bins on training orders (never on validation data).

        Args:
            price_offset: ticks from each order's reference price (:meth:`offsets`).
            size: shares (> 0).
            dt: ns since the previous order (>= 0).
            config: resolutions (defaults: :class:`TokenizerConfig`).
            kind, touch: each order's kind and the shares at the touch it met
                (:func:`~lmm.model.size_reference.touch_size`); needed with ``SizeReference.TOUCH``
                only, whose share bins are then fitted on the orders other than market
                orders.
        """
        config = config or TokenizerConfig()
        touch_fit: dict = {}
        if config.size_reference is SizeReference.TOUCH:
            if kind is None or touch is None:
                raise ValueError("size_reference=touch needs each order's kind and touch size")
            market = np.isin(kind, MARKET_KINDS)
            touch_fit = fit_touch_bins(
                np.asarray(size)[market], np.asarray(touch)[market], config.size_bins
            )
            if (~market).any():
                size = np.asarray(size)[~market]
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
        time_quantiles = tuple(
            tuple(int(q) for q in quantile_table(dt[time_bin == b]))
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
            **touch_fit,
        )

    # ----------------------------------------------------------------- encode / decode
    def encode(
        self,
        kind: np.ndarray,
        price_offset: np.ndarray,
        size: np.ndarray,
        dt: np.ndarray,
        touch: np.ndarray | None = None,
    ) -> np.ndarray:
        """Tokens (int64) for orders given as equal-length arrays; ``touch`` (shares at the
        touch each order met, :func:`~lmm.model.size_reference.touch_size`) is needed with
        ``SizeReference.TOUCH``."""
        kind = np.asarray(kind, dtype=np.int64)
        if ((kind < 0) | (kind >= N_KINDS)).any():
            raise ValueError(
                f"order kind must be in 0..{N_KINDS - 1}, got {kind.min()}..{kind.max()}"
            )
        p = self.price_bucket(price_offset)
        s = self.size_bins(kind, size, touch)
        t = np.searchsorted(self._arrays.time_edges[1:-1], np.asarray(dt), side="right")
        return self._join(kind, p, s, t)

    def _join(self, kind: np.ndarray, p: np.ndarray, s: np.ndarray, t: np.ndarray) -> np.ndarray:
        """Tokens from their fields (kind, price bucket, size bin, time bin), the inverse of
        :meth:`fields`."""
        return ((kind * self.n_price + p) * self.n_size + s) * self.n_time + t

    def size_bins(
        self, kind: np.ndarray, size: np.ndarray, touch: np.ndarray | None = None
    ) -> np.ndarray:
        """Size bins of orders (the inverse of :meth:`sizes`): share bins, or with
        ``SizeReference.TOUCH`` the ratio bins of market orders against ``touch`` (the
        shares at the touch each met, >= 1 for market orders)."""
        kind, size = np.broadcast_arrays(np.asarray(kind, dtype=np.int64), np.asarray(size))
        s = np.searchsorted(self._arrays.size_edges[1:-1], size, side="right")
        market = is_market(kind) if self._touch else np.zeros(kind.shape, dtype=bool)
        if not market.any():
            return s
        s = s.copy()
        s[market] = touch_bins(self.touch_edges, size[market], self._touch_of(market, touch))
        return s

    def sizes(
        self,
        kind: np.ndarray,
        size_bin: np.ndarray,
        u: np.ndarray,
        touch: np.ndarray | None = None,
    ) -> np.ndarray:
        """Shares (int64, > 0) of size bins, drawn with uniforms ``u`` in [0, 1) (the rules
        are in the module docstring); ``touch`` as in :meth:`size_bins`."""
        kind, s, u = np.broadcast_arrays(
            np.asarray(kind, dtype=np.int64), np.asarray(size_bin, dtype=np.int64), np.asarray(u)
        )
        market = is_market(kind) if self._touch else np.zeros(kind.shape, dtype=bool)
        share_bin = np.minimum(s, len(self.size_edges) - 2)  # a share bin for every token
        size = np.empty(s.shape, dtype=np.int64)
        for b, (values, cdf) in enumerate(self._size_tables):
            mask = (share_bin == b) & ~market
            if mask.any():
                pick = np.searchsorted(cdf, u[mask], side="right").clip(max=len(values) - 1)
                size[mask] = values[pick]
        if market.any():
            size[market] = touch_shares(
                self.touch_edges,
                self.touch_quantiles,
                s[market],
                u[market],
                self._touch_of(market, touch),
            )
        return size

    def _touch_of(self, market: np.ndarray, touch: np.ndarray | None) -> np.ndarray:
        """Touch sizes (int64) of the market orders, checked."""
        if touch is None:
            raise ValueError("size_reference=touch needs the touch size of each market order")
        q = np.broadcast_to(np.asarray(touch, dtype=np.int64), market.shape)[market]
        if (q < 1).any():
            raise ValueError(f"a market order needs a touch of >= 1 share, got {q.min()}")
        return q

    def price_bucket(self, price_offset: np.ndarray | int) -> np.ndarray:
        """Price bucket of offsets from the reference (0 and P-1 are the overflow buckets)."""
        offset = np.asarray(price_offset, dtype=np.int64)
        b = np.searchsorted(self._arrays.price_edges[1:-1], _distance(offset), side="right")
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

    def mirror(self, tokens: np.ndarray) -> np.ndarray:
        """The tokens of the same orders on the other side of the book (each kind's buy and
        sell swapped; price bucket, size and time bins kept), for training on mirrored days.

        Only the same-side-best price reference measures offsets alike on both sides
        (positive is more aggressive for buys and sells); from the mid, a mirrored offset
        would need its sign turned and the bins are not symmetric about it.
        """
        if self.config.price_reference is not PriceReference.SAME_SIDE_BEST:
            raise ValueError(
                "mirroring needs the same_side_best price reference, got "
                f"{self.config.price_reference.value}"
            )
        kind, p, s, t = self.fields(tokens)
        return self._join(kind ^ 1, p, s, t)

    def decode(
        self,
        tokens: np.ndarray,
        rng: np.random.Generator | np.ndarray,
        touch: np.ndarray | None = None,
    ) -> DecodedOrders:
        """Concrete orders for ``tokens`` (see the module docstring for the rules).

        Args:
            tokens: (n,) tokens.
            rng: a generator, or an (n, 3) array of uniforms in [0, 1) (price, size, time
                draws of each order), so that each order can draw from its own generator.
            touch: (n,) shares at the touch each order meets
                (:func:`~lmm.model.size_reference.touch_size`); needed with ``SizeReference.TOUCH``
                for market orders.
        """
        kind, p, s, t = self.fields(tokens)
        n = len(kind)
        u = rng.random((n, 3)) if isinstance(rng, np.random.Generator) else np.asarray(rng)
        if u.shape != (n, 3):
            raise ValueError(f"need (n, 3) uniforms for {n} tokens, got shape {u.shape}")
        half = self.n_price // 2
        below = p < half
        b = np.where(below, half - 1 - p, p - half)
        edges = self._arrays.price_edges
        lo, hi = edges[b], edges[b + 1]
        distance = lo + (u[:, 0] * (hi - lo)).astype(np.int64)
        overflow = b == len(edges) - 2
        if overflow.any():
            # geometric on {0, 1, ...} with the fitted mean excess, by inversion
            q = 1.0 / (self.price_tail_mean + 1.0)
            excess = np.floor(np.log1p(-u[overflow, 0]) / np.log1p(-q)) if q < 1 else 0
            distance[overflow] = lo[overflow] + np.asarray(excess, dtype=np.int64)
        offset = np.where(below, -distance - 1, distance)
        size = self.sizes(kind, s, u[:, 1], touch)
        value = inverse_cdf(self._arrays.time_quantiles[t], u[:, 2])
        lo, hi = self._arrays.time_edges[t], self._arrays.time_edges[t + 1]
        dt = np.clip(value.astype(np.int64), lo, np.maximum(hi - 1, lo))
        return DecodedOrders(kind=kind.astype(np.int8), price_offset=offset, size=size, dt=dt)

    def reference(self, kind: int, best_bid: int, best_ask: int, mid_x2: int) -> tuple[int, int]:
        """Reference price and sign of one order
        (:func:`~lmm.model.price_reference.reference_price` for scalars, without numpy: the
        generation loop asks once per order)."""
        if self.config.price_reference is PriceReference.MID:
            return mid_x2 // 2, 1
        buy_side = kind in _BUY_KINDS
        quote = best_bid if buy_side != (kind in _MARKET_KINDS) else best_ask
        return (quote if quote != NO_QUOTE else mid_x2 // 2), (1 if buy_side else -1)

    def offsets(
        self,
        kind: np.ndarray | int,
        price: np.ndarray | int,
        best_bid: np.ndarray | int,
        best_ask: np.ndarray | int,
        mid_x2: np.ndarray | int,
    ) -> np.ndarray:
        """Price offsets (int64 ticks) of orders meeting a book, by this tokenizer's
        reference rule (:func:`~lmm.model.price_reference.reference_price` describes the
        arguments)."""
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
        ``ref`` and offset sign ``sign`` (:func:`~lmm.model.price_reference.reference_price`);
        ``None`` for the open end of an overflow bucket."""
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
            "config": {
                **vars(self.config),
                "price_reference": self.config.price_reference.value,
                "size_reference": self.config.size_reference.value,
            },
            "size_edges": list(self.size_edges),
            "size_values": [list(v) for v in self.size_values],
            "size_counts": [list(c) for c in self.size_counts],
            "time_edges": list(self.time_edges),
            "time_quantiles": [list(q) for q in self.time_quantiles],
            "price_edges": list(self.price_edges),
            "price_tail_mean": self.price_tail_mean,
        } | (
            {
                "touch_edges": list(self.touch_edges),
                "touch_quantiles": [list(q) for q in self.touch_quantiles],
            }
            if self._touch
            else {}
        )

    @classmethod
    def from_dict(cls, data: dict) -> OrderTokenizer:
        """Rebuild a tokenizer from :meth:`to_dict` output, checking its consistency."""
        try:
            config = dict(data["config"])
            # checkpoints from before the option lack it: they measured from the mid
            config["price_reference"] = PriceReference(config.get("price_reference", "mid"))
            config["size_reference"] = SizeReference(config.get("size_reference", "shares"))
            tok = cls(
                config=TokenizerConfig(**config),
                size_edges=tuple(int(e) for e in data["size_edges"]),
                size_values=tuple(tuple(int(v) for v in vs) for vs in data["size_values"]),
                size_counts=tuple(tuple(int(c) for c in cs) for cs in data["size_counts"]),
                time_edges=tuple(int(e) for e in data["time_edges"]),
                time_quantiles=tuple(tuple(int(v) for v in q) for q in data["time_quantiles"]),
                price_edges=tuple(int(e) for e in data["price_edges"]),
                price_tail_mean=float(data["price_tail_mean"]),
                touch_edges=tuple(float(e) for e in data.get("touch_edges", ())),
                touch_quantiles=tuple(
                    tuple(float(v) for v in q) for q in data.get("touch_quantiles", ())
                ),
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
