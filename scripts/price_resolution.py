"""How much of where orders sit relative to the best quote survives tokenization.

Fits the tokenizer on the training orders with each ``--price-bins`` setting, encodes and
decodes the held-out limit orders and cancels, and compares their depth from the same-side
best quote (0: at the best, < 0: inside the spread) before and after the round trip:

    python scripts/price_resolution.py --price-bins 16 48 [--price-reference same_side_best]

No model is involved: this is the floor the tokenizer sets on the limit-depth and
cancel-depth distances of ``mars-gym evaluate-lmm``.
"""

from __future__ import annotations

import argparse

import numpy as np

from lmm.data.lobster import read_lobster
from lmm.data.orderflow import OrderKind
from lmm.model.dataset import day_orders
from lmm.model.features import best_quotes, mid_x2
from lmm.model.price_reference import PriceReference
from lmm.model.size_reference import SizeReference
from lmm.model.tokenizer import OrderTokenizer, TokenizerConfig
from mars_gym.console.flags import days_flags, days_from_args

_DEPTH_BINS = np.arange(-20, 42)
_PASSIVE_KINDS = (
    OrderKind.LIMIT_BUY,
    OrderKind.LIMIT_SELL,
    OrderKind.CANCEL_BUY,
    OrderKind.CANCEL_SELL,
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    days_flags(parser)
    parser.add_argument("--price-bins", type=int, nargs="+", default=[16, 48])
    parser.add_argument("--seed", type=int, default=0, help="seeds the decoding draws")
    parser.add_argument(
        "--price-reference",
        type=PriceReference,
        choices=list(PriceReference),
        default=PriceReference.MID,
        help="what price offsets are measured from (default: %(default)s)",
    )
    args = parser.parse_args()
    reference = args.price_reference
    days = [
        day_orders(read_lobster(f), args.validation_minutes, reference)
        for f in days_from_args(args)
    ]
    train = [~d.is_validation for d in days]

    def training(values: list[np.ndarray]) -> np.ndarray:
        return np.concatenate([v[m] for v, m in zip(values, train, strict=True)])

    print(f"{'bins':>5} {'day':<6} {'kind':<12} {'at best: real':>14} {'round trip':>11} {'L1':>6}")
    for bins in args.price_bins:
        tok = OrderTokenizer.fit(
            training([d.price_offset for d in days]),
            training([d.flow["size"] for d in days]),
            training([d.dt for d in days]),
            # sizes in shares: this measures the price bins alone
            TokenizerConfig(bins, price_reference=reference, size_reference=SizeReference.SHARES),
        )
        rng = np.random.default_rng(args.seed)
        for d in days:
            held_out = np.flatnonzero(d.is_validation)
            flow = d.flow[held_out]
            before = d.book_after[held_out - 1]  # the book each order met
            tokens = tok.encode(
                flow["kind"], d.price_offset[held_out], flow["size"], d.dt[held_out]
            )
            offset = tok.decode(tokens, rng).price_offset
            decoded = tok.prices(flow["kind"], offset, *best_quotes(before), mid_x2(before))
            for kind in _PASSIVE_KINDS:
                sel = flow["kind"] == kind
                best = before[sel, 0, 2] if kind.side == 1 else before[sel, 0, 0]
                real = kind.side * (best - flow["price"][sel])
                trip = kind.side * (best - decoded[sel])
                h_real = np.histogram(np.clip(real, -20, 40), _DEPTH_BINS)[0] / sel.sum()
                h_trip = np.histogram(np.clip(trip, -20, 40), _DEPTH_BINS)[0] / sel.sum()
                print(
                    f"{bins:>5} {d.name.split('_')[2]:<6} {kind.name.lower():<12} "
                    f"{np.mean(real == 0):>14.3f} {np.mean(trip == 0):>11.3f} "
                    f"{0.5 * np.abs(h_real - h_trip).sum():>6.3f}"
                )


if __name__ == "__main__":
    main()
