"""Training data for the LMM: LOBSTER days as token sequences with book features.

For each day the replay is run with verification first (:mod:`lmm.engine.replay`): the engine's
book must equal LOBSTER's at every row, so the book after each order can be read from the
verified arrays. Each order becomes one token (:mod:`lmm.model.tokenizer`) and one feature vector
of the book it left behind (:mod:`lmm.model.features`).

Time split: the last ``validation_minutes`` of each day (default 90, i.e. from 14:30) are
validation data. They are never used for training or for fitting the tokenizer's bins.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from lmm.data.lobster import LobsterDay, read_lobster
from lmm.data.orderflow import order_flow
from lmm.engine.replay import replay
from lmm.model.features import SESSION_CLOSE_NS, best_quotes, book_features, mid_x2
from lmm.model.generate import StartState
from lmm.model.memory import (
    MEMORY_HORIZON_NS,
    carried_mid2,
    memory_features,
    signed_market_volume,
)
from lmm.model.outlook import normal_volume, outlook_features, realized_outlook
from lmm.model.price_reference import PriceReference, reference_price
from lmm.model.profile import MIN_PROFILE_ORDERS, stock_profile
from lmm.model.size_reference import touch_size
from lmm.model.tokenizer import OrderTokenizer, TokenizerConfig
from lmm.units import NS_PER_SECOND

__all__ = ["DayData", "OrderDataset", "build_dataset", "day_orders"]

NS_PER_MINUTE = 60 * NS_PER_SECOND


@dataclass(frozen=True)
class DayData:
    """One day's orders, ready for the model.

    Attributes:
        name: where the day came from.
        flow: the orders (:data:`lmm.data.orderflow.ORDER_DTYPE`).
        price_offset: ticks from each order's reference price in the book it met
            (:func:`lmm.model.tokenizer.reference_price`).
        dt: ns since the previous order (0 for the first).
        features: float32 ``(n, N_BOOK_FEATURES)``: the book after each order.
        book_after: int ``(n, L, 4)``: the top-L book after each order (ticks, shares).
        is_validation: bool mask of orders in the validation window.
        tokens: int64 tokens (set by :func:`build_dataset` once the tokenizer is fitted).
        touch: int64 shares at the touch each order met (:func:`lmm.model.tokenizer.touch_size`:
            the opposite best for a market order, 0 for other kinds); None for days built
            without it, which a ``SizeReference.TOUCH`` tokenizer cannot encode.
        profile: float32 the stock profile (:func:`lmm.model.profile.stock_profile`) of the
            day's training part, which a model with profiles is trained on; None where that
            part has too few orders (or for days built without it).
        memory: float32 ``(n, N_MEMORY_FEATURES)`` the memory features
            (:mod:`lmm.model.memory`) at each order, which a model with memory features
            reads after the book features (:meth:`inputs`); None for days built without them.
        outlook: float32 ``(n, N_OUTLOOK_FEATURES)`` the outlook features
            (:mod:`lmm.model.outlook`) the day realised at each order, which a model with
            outlook features reads after the memory features; None for days built without.
    """

    name: str
    flow: np.ndarray
    price_offset: np.ndarray
    dt: np.ndarray
    features: np.ndarray
    book_after: np.ndarray
    is_validation: np.ndarray
    tokens: np.ndarray | None = None
    touch: np.ndarray | None = None
    profile: np.ndarray | None = None
    memory: np.ndarray | None = None
    outlook: np.ndarray | None = None

    def inputs(self, n_memory_features: int, n_outlook_features: int = 0) -> np.ndarray:
        """The per-order inputs of a model with ``n_memory_features`` memory features and
        ``n_outlook_features`` outlook features: the book features, followed by those it
        reads (the outlook the day realised)."""
        parts = [self.features]
        for name, n in (("memory", n_memory_features), ("outlook", n_outlook_features)):
            if not n:
                continue
            values = getattr(self, name)
            if values is None or values.shape[1] != n:
                raise ValueError(
                    f"{self.name}: the model reads {n} {name} features; this day has "
                    f"{None if values is None else values.shape[1]}"
                )
            parts.append(values)
        return parts[0] if len(parts) == 1 else np.concatenate(parts, axis=1)

    def start_state(self, index: int, context: int) -> StartState:
        """The market right after order ``index``: its book, clock, the last ``context``
        orders, the stock profile (:meth:`profile_at`) and, for the memory features, their
        rows of the context and the orders the memory still reaches (:meth:`memory_history`)
        (needs tokens, i.e. a day from :func:`build_dataset`)."""
        if self.tokens is None:
            raise ValueError("this day is not tokenized yet")
        if not 0 <= index < len(self.flow):
            raise ValueError(f"order index {index} is outside 0..{len(self.flow) - 1}")
        first = max(0, index + 1 - context)
        return StartState(
            book=self.book_after[index],
            time_ns=int(self.flow["time"][index]),
            tokens=self.tokens[first : index + 1],
            features=self.features[first : index + 1],
            profile=self.profile_at(index),
            memory=None if self.memory is None else self.memory[first : index + 1],
            memory_history=self.memory_history(index),
        )

    def memory_history(self, index: int) -> np.ndarray:
        """int64 ``(k, 3)`` (time ns, twice the mid after, signed market volume) of the orders
        up to ``index`` that the memory features after it still reach: from the last one at
        or before ``MEMORY_HORIZON_NS`` before it (:class:`lmm.model.memory.MemoryTracker`)."""
        t = self.flow["time"]
        first = max(int(np.searchsorted(t, t[index] - MEMORY_HORIZON_NS, side="right")) - 1, 0)
        before = 0 if first == 0 else int(carried_mid2(self.book_after[: first + 1], 0)[-1])
        mid2 = carried_mid2(self.book_after[first : index + 1], before)
        volume = signed_market_volume(
            self.flow["kind"][first : index + 1], self.flow["size"][first : index + 1]
        )
        return np.stack([t[first : index + 1].astype(np.int64), mid2, volume], axis=1)

    def profile_at(self, index: int) -> np.ndarray | None:
        """The stock profile a session starting right after order ``index`` is given: over
        the orders up to it, or over the training part (:attr:`profile`) when the start is
        past it; None with fewer than :data:`lmm.model.profile.MIN_PROFILE_ORDERS` orders (the
        model's default profile stands in)."""
        n_train = int(np.argmax(self.is_validation)) if self.is_validation.any() else len(self.flow)
        if index + 1 >= n_train:
            return self.profile
        if index + 1 < MIN_PROFILE_ORDERS:
            return None
        return stock_profile(self.flow[: index + 1], self.book_after[: index + 1])

    def index_at(self, time_ns: int) -> int:
        """Index of the last order at or before ``time_ns``."""
        return max(int(np.searchsorted(self.flow["time"], time_ns, side="right")) - 1, 0)


@dataclass(frozen=True)
class OrderDataset:
    """Days and the tokenizer fitted on their training parts."""

    days: tuple[DayData, ...]
    tokenizer: OrderTokenizer
    validation_minutes: int

    @property
    def n_train(self) -> int:
        """Training orders over all days."""
        return int(sum((~d.is_validation).sum() for d in self.days))

    @property
    def n_validation(self) -> int:
        """Validation orders over all days."""
        return int(sum(d.is_validation.sum() for d in self.days))


def day_orders(
    day: LobsterDay,
    validation_minutes: int = 90,
    price_reference: PriceReference = PriceReference.MID,
) -> DayData:
    """Orders of one verified day with price offsets (measured from ``price_reference``),
    inter-arrival times and book features.

    Raises:
        ValueError: the engine's replay does not reproduce the file's books.
    """
    _, report = replay(day, verify=True)
    if report.match_rate != 1.0:
        raise ValueError(
            f"{day.source}: the engine reproduces only {report.match_rate:.4%} of the "
            f"orderbook rows (first mismatch at line {report.first_mismatch_row}); refusing "
            "to train on books the simulator could not produce"
        )
    flow = order_flow(day)
    met = day.book[flow["row"] - 1]  # the book each order met
    before = mid_x2(met)
    ref, sign = reference_price(price_reference, flow["kind"], *best_quotes(met), before)
    after = day.book[flow["last_row"]]
    dt = np.diff(flow["time"], prepend=flow["time"][:1])
    cut = SESSION_CLOSE_NS - validation_minutes * NS_PER_MINUTE
    n_train = int(np.searchsorted(flow["time"], cut, side="left"))
    mid2 = carried_mid2(after, int(before[0]))
    volume = signed_market_volume(flow["kind"], flow["size"])
    profile = None
    if n_train >= MIN_PROFILE_ORDERS:
        profile = stock_profile(flow[:n_train], after[:n_train])
    shares = np.abs(volume)
    normal = normal_volume(flow["time"][: max(n_train, 1)], shares[: max(n_train, 1)])
    return DayData(
        name=Path(day.source).name,
        flow=flow,
        price_offset=sign * (flow["price"] - ref),
        dt=dt,
        features=book_features(after, before, flow["time"]),
        book_after=after,
        is_validation=flow["time"] >= cut,
        touch=touch_size(flow["kind"], met[:, 0, 3], met[:, 0, 1]),
        profile=profile,
        memory=memory_features(flow["time"], mid2, volume),
        outlook=outlook_features(*realized_outlook(flow["time"], mid2, shares, normal)),
    )


def build_dataset(
    paths: Sequence[Path | LobsterDay],
    tokenizer_config: TokenizerConfig | None = None,
    validation_minutes: int = 90,
    progress: bool = False,
    tokenizer: OrderTokenizer | None = None,
) -> OrderDataset:
    """Read, verify and tokenize LOBSTER days (files, or days already read).

    The tokenizer is fitted on the training orders only, unless one is given (a trained
    model's, to evaluate it on the same tokens it was trained with); prices are measured
    from the given tokenizer's or config's reference.
    """
    if not paths:
        raise ValueError("no LOBSTER files given")
    iterator = paths
    if progress:
        from tqdm import tqdm

        iterator = tqdm(paths, desc="reading and verifying days", unit="day")
    reference = (
        tokenizer.config if tokenizer else tokenizer_config or TokenizerConfig()
    ).price_reference
    days = [
        day_orders(
            p if isinstance(p, LobsterDay) else read_lobster(p), validation_minutes, reference
        )
        for p in iterator
    ]
    if tokenizer is None:
        train = [~d.is_validation for d in days]
        tokenizer = OrderTokenizer.fit(
            np.concatenate([d.price_offset[m] for d, m in zip(days, train, strict=True)]),
            np.concatenate([d.flow["size"][m] for d, m in zip(days, train, strict=True)]),
            np.concatenate([d.dt[m] for d, m in zip(days, train, strict=True)]),
            tokenizer_config,
            kind=np.concatenate([d.flow["kind"][m] for d, m in zip(days, train, strict=True)]),
            touch=np.concatenate([d.touch[m] for d, m in zip(days, train, strict=True)]),
        )
    tokenized = tuple(
        replace(
            d,
            tokens=tokenizer.encode(d.flow["kind"], d.price_offset, d.flow["size"], d.dt, d.touch),
        )
        for d in days
    )
    return OrderDataset(days=tokenized, tokenizer=tokenizer, validation_minutes=validation_minutes)
