"""Which order in its price level does a real cancel hit, and how much of it? Measured on
LOBSTER message files.

Follows every visible limit order of the given days through the messages (submission,
partial and full cancels, executions) and, for each cancel of an order seen submitted,
records whether it was the newest order of its price level, the chance a uniformly chosen
order would have been, and the order's age; it also prints the share of all cancels that
are partial (the rules of :mod:`lmm.engine.market` rest on these figures):

    python scripts/cancel_priority.py

Orders resting before the first message are unknown and not counted in the levels, which
makes the uniform chance an upper bound.
"""

from __future__ import annotations

import argparse

import numpy as np

from lmm.data.lobster import EventType, read_lobster
from lmm.units import NS_PER_SECOND
from mars_gym.console.flags import days_flags, days_from_args


def cancel_ranks(messages: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per cancel of a known order: hit the newest of its level, the uniform chance of that,
    and its age in seconds."""
    queues: dict[tuple[int, int], list[int]] = {}
    resting: dict[int, list] = {}  # id -> [level key, size left, submission ns]
    newest, uniform, age = [], [], []
    for kind, oid, size, price, direction, t in zip(
        messages["type"].tolist(),
        messages["order_id"].tolist(),
        messages["size"].tolist(),
        messages["price"].tolist(),
        messages["direction"].tolist(),
        messages["time"].tolist(),
        strict=True,
    ):
        if kind == EventType.SUBMIT:
            queues.setdefault((direction, price), []).append(oid)
            resting[oid] = [(direction, price), size, t]
            continue
        if oid not in resting or kind not in (
            EventType.CANCEL,
            EventType.DELETE,
            EventType.EXECUTE,
        ):
            continue
        state = resting[oid]
        queue = queues[state[0]]
        if kind != EventType.EXECUTE:
            newest.append(queue[-1] == oid)
            uniform.append(1 / len(queue))
            age.append((t - state[2]) / NS_PER_SECOND)
        state[1] -= size
        if kind == EventType.DELETE or state[1] <= 0:
            queue.remove(oid)
            del resting[oid]
    return np.array(newest), np.array(uniform), np.array(age)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    days_flags(parser)
    args = parser.parse_args()
    for path in days_from_args(args):
        messages = read_lobster(path).messages
        newest, uniform, age = cancel_ranks(messages)
        shared = uniform < 1
        partial = (messages["type"] == EventType.CANCEL).sum()
        cancels = partial + (messages["type"] == EventType.DELETE).sum()
        print(
            f"{path.name}: {len(newest):,} cancels of known orders; in levels holding more "
            f"than one order ({shared.mean():.0%} of them) the newest order is hit "
            f"{newest[shared].mean():.3f} of the time, against {uniform[shared].mean():.3f} "
            f"for a uniform choice; median age {np.median(age):.2f} s; partial cancels are "
            f"{partial / cancels:.2%} of all {cancels:,} cancels"
        )


if __name__ == "__main__":
    main()
