"""Why do the environments make more orders per second than the real market? An agent's
orders excite the generated flow, as any order excites the real one.

Two measurements, printed side by side:

* **Real clustering.** In each LOBSTER day, between ``--from`` and ``--to`` (default 10:00
  to 11:00, where the environments start), the average order rate, and the average number
  of orders in the second after an order (of each kind). Orders cluster: the second after
  an order holds far more orders than an average second.
* **Generated reaction.** MarS-Execution-v0's native vector env, timed in alternation with
  two actions: no child order at all, and a passive TWAP-paced child order every step (the
  one ``mars-gym bench`` sends; it also cancels the previous child, so two agent orders a
  step reach the book and the model's context). The generated orders per env step show
  how many orders the agent's own orders call forth.

The model cannot tell an order that caused the orders after it from one that merely came
before them, so an exogenous order draws the reaction that real orders are followed by:

    python scripts/agent_order_rate.py [--data DIR] [--out FILE]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch

import mars_gym  # noqa: F401  (registers the environments)
from lmm.data.lobster import read_lobster
from lmm.data.orderflow import OrderKind, order_flow
from lmm.results import write_json
from lmm.units import NS_PER_SECOND, time_of_day_ns
from mars_gym.console.flags import data_flags, days_from_args
from mars_gym.studies.bench import env_throughput

#: (size index, aggressiveness) of MarS-Execution-v0: no child order; TWAP's pace, passive
ACTIONS = {"no agent orders": (0, 0), "passive TWAP child each step": (4, 0)}


def clustering(path: Path, start_s: int, end_s: int) -> dict:
    """Order rate between ``start_s`` and ``end_s`` (seconds after midnight) and the mean
    number of orders in the second after an order, overall and by the order's kind."""
    flow = order_flow(read_lobster(path))
    time = flow["time"].astype(np.int64)
    inside = (time >= start_s * NS_PER_SECOND) & (time < end_s * NS_PER_SECOND)
    window, kinds = time[inside], flow["kind"][inside]
    later = (
        np.searchsorted(window, window + NS_PER_SECOND, side="right") - np.arange(len(window)) - 1
    )
    by_kind = {k.name.lower(): float(later[kinds == k].mean()) for k in OrderKind}
    return {
        "orders": len(window),
        "orders_per_second": len(window) / (end_s - start_s),
        "orders_in_the_second_after_an_order": float(later.mean()),
        "by_kind": by_kind,
    }


def generated_rates(num_envs: int, seconds: float, rounds: int) -> dict:
    """Generated orders per env step for each of :data:`ACTIONS`, timed in alternation."""
    runs: dict[str, list[float]] = {name: [] for name in ACTIONS}
    for _ in range(rounds):
        for name, action in ACTIONS.items():
            (run,) = env_throughput(num_envs=(num_envs,), seconds=seconds, action=action)
            runs[name].append(run["orders_per_env_step"])
    return {name: {"orders_per_env_step": float(np.mean(v)), "runs": v} for name, v in runs.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    data_flags(parser)
    parser.add_argument("--from", dest="start", default="10:00", help="HH:MM (default 10:00)")
    parser.add_argument("--to", dest="end", default="11:00", help="HH:MM (default 11:00)")
    parser.add_argument("--num-envs", type=int, default=64)
    parser.add_argument("--seconds", type=float, default=20.0, help="timing per env run")
    parser.add_argument("--rounds", type=int, default=2, help="runs per action, alternating")
    parser.add_argument("--out", type=Path, help="also write the figures as JSON to FILE")
    args = parser.parse_args()
    torch.set_num_threads(1)
    start, end = (time_of_day_ns(t) // NS_PER_SECOND for t in (args.start, args.end))

    real = {path.name: clustering(path, start, end) for path in days_from_args(args)}
    print(f"real flow, {args.start}-{args.end}:")
    for name, r in real.items():
        print(
            f"  {name}: {r['orders_per_second']:.1f} orders/s; the second after an order "
            f"holds {r['orders_in_the_second_after_an_order']:.1f}"
        )
    generated = generated_rates(args.num_envs, args.seconds, args.rounds)
    print(f"MarS-Execution-v0, {args.num_envs} environments, 1 s steps:")
    for name, r in generated.items():
        print(f"  {name}: {r['orders_per_env_step']:.1f} generated orders per env step")
    if args.out:
        write_json(args.out, {"real": real, "generated": generated}, indent=2)
        print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
