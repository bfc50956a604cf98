"""Bits a tokenizer's price decoding adds to a likelihood in bits per order.

``mars-gym evaluate-lmm`` reports the negative log-likelihood of *tokens*. Two tokenizers
with different price bins (or price references) cut prices differently, so their token
likelihoods are not comparable: a coarser bin is easier to predict. Decoding draws the
exact tick inside a bin by a documented rule (uniform inside a bin, geometric in an
overflow bin), so the likelihood of the exact tick price is the token's times that rule's
probability. This prints, for each checkpoint, the mean of ``-log2`` of that probability
over the held-out orders; adding it to the token NLL gives bits per order of the exact
price, comparable across tokenizations (sizes and times share their bins here):

    python scripts/price_bits.py --checkpoint lmm/checkpoints/mid lmm/checkpoints/same_side_best
"""

from __future__ import annotations

import argparse

import numpy as np

from lmm.model.checkpoint import load_checkpoint
from lmm.model.dataset import build_dataset
from lmm.model.tokenizer import OrderTokenizer
from mars_gym.console.flags import days_flags, days_from_args


def price_bits(tokenizer: OrderTokenizer, offset: np.ndarray) -> np.ndarray:
    """``-log2`` of the probability that decoding an order's price bucket gives back its
    exact offset (inf where the decoding rule cannot reach it)."""
    offset = np.asarray(offset, dtype=np.int64)
    distance = np.where(offset >= 0, offset, -offset - 1)
    edges = np.asarray(tokenizer.price_edges, dtype=np.int64)
    b = np.searchsorted(edges[1:-1], distance, side="right")
    bits = np.log2(edges[b + 1] - edges[b]).astype(np.float64)
    overflow = b == len(edges) - 2
    excess = distance[overflow] - edges[-2]
    q = 1.0 / (tokenizer.price_tail_mean + 1.0)
    if q < 1:
        bits[overflow] = -np.log2(q) - excess * np.log2(1 - q)
    else:  # the overflow bin decodes to its lower edge only
        bits[overflow] = np.where(excess == 0, 0.0, np.inf)
    return bits


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    days_flags(parser)
    parser.add_argument("--checkpoint", nargs="+", required=True, help="checkpoint folders")
    args = parser.parse_args()
    files = days_from_args(args)
    print(f"{'checkpoint':<36}{'reference':>16}{'bins':>6}{'bits':>8}{'unreachable':>13}")
    for path in args.checkpoint:
        tokenizer = load_checkpoint(path).tokenizer
        dataset = build_dataset(
            files, tokenizer=tokenizer, validation_minutes=args.validation_minutes
        )
        offset = np.concatenate([d.price_offset[d.is_validation] for d in dataset.days])
        bits = price_bits(tokenizer, offset)
        finite = np.isfinite(bits)
        print(
            f"{path:<36}{tokenizer.config.price_reference.value:>16}"
            f"{len(tokenizer.price_edges) - 1:>6}{bits[finite].mean():>8.3f}"
            f"{1 - finite.mean():>13.5f}"
        )


if __name__ == "__main__":
    main()
