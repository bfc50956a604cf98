"""Where a generated order's time goes, by part, under each engine and decoder of ``LMMMarkets``.

Runs MarS-Execution-v0's native vector env (a TWAP-paced passive child order every step, as
``mars-gym bench`` takes), with each part of the generation round timed by wrapping the
functions that do it, and prints microseconds per generated order:

* prefill: recomputing a context trimmed to half its length (torch under both decoders;
  about one position per generated order);
* model forward: the one-position forward passes that append each order to the KV cache
  (torch, or :func:`lmm.model.decode_numba.forward_step`);
* sampling heads: the kind-and-price logits, then size and time, drawn (torch, or
  :func:`lmm.model.decode_numba.sample_step`);
* masks: which kind x price classes each book can take;
* decode: tokens into concrete orders (the tokenizer's numpy code; with the compiled
  engine also the kernel that gathers each market's touch, quotes and uniforms);
* engine apply: the orders through the books (the cancel rules included);
* features: the book features of each order's book (numpy);
* tokenizer encode: the realised orders' tokens (numpy);
* rest: everything else (the proposal and commit loops, the environment, observations).

The wrappers cost about a microsecond a call, so the Python engine's per-order parts read
slightly high. ::

    python scripts/round_profile.py --checkpoint fast --num-envs 64 --steps 4 \\
        [--engines python compiled] [--decoders torch numba] [--out FILE.json]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import gymnasium as gym
import numpy as np

import lmm.model.generate
import mars_gym  # noqa: F401  (registers the environments)
from lmm.engine.compiled import generation as cg
from lmm.model import decode_numba
from lmm.model.generate import DECODERS, ENGINES
from lmm.results import write_json
from mars_gym.console.flags import checkpoint_flag

ENV_ID = "MarS-Execution-v0"
ACTION = (4, 0)


class _Timers:
    """Seconds per part; a wrapped call inside another wrapped call counts only once."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self._depth = 0

    def wrap(self, part: str, fn: Callable) -> Callable:
        self.seconds.setdefault(part, 0.0)

        def timed(*args, **kwargs):
            if self._depth:
                return fn(*args, **kwargs)
            self._depth += 1
            start = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                self.seconds[part] += time.perf_counter() - start
                self._depth -= 1

        return timed

    def patch(self, owner: object, name: str, part: str) -> None:
        # object.__setattr__: the tokenizer is a frozen dataclass
        object.__setattr__(owner, name, self.wrap(part, getattr(owner, name)))

    def clear(self) -> None:
        for part in self.seconds:
            self.seconds[part] = 0.0


def profile(
    engine: str, decoder: str, num_envs: int, steps: int, seed: int, checkpoint: str | None
) -> dict:
    """Microseconds per generated order by part (see the module docstring)."""
    env = gym.make_vec(
        ENV_ID,
        num_envs=num_envs,
        vectorization_mode="vector_entry_point",
        checkpoint=checkpoint,
        engine=engine,
        decoder=decoder,
    )
    env.reset(seed=seed)
    sim = env.unwrapped.runner.sim
    markets = sim.markets
    model, tokenizer = markets.model, markets.tokenizer
    t = _Timers()
    t.patch(markets, "_prefill", "prefill")  # its forward passes count here, not below
    t.patch(model, "forward", "model forward")  # an instance attribute shadows the method
    for name in ("kp_logits", "sample_next"):
        t.patch(model, name, "sampling heads")
    for name in ("decode", "prices"):
        t.patch(tokenizer, name, "decode")
    t.patch(tokenizer, "encode", "tokenizer encode")
    features = lmm.model.generate.book_features
    t.patch(lmm.model.generate, "book_features", "features")
    if engine == "python":
        t.patch(markets, "_kp_masks", "masks")
        t.patch(markets, "_apply", "engine apply")
    saved = {name: getattr(cg, name) for name in ("kp_masks", "decode_inputs", "apply_round")}
    kernels = {name: getattr(decode_numba, name) for name in ("forward_step", "sample_step")}
    t.patch(cg, "kp_masks", "masks")
    t.patch(cg, "decode_inputs", "decode")
    t.patch(cg, "apply_round", "engine apply")
    t.patch(decode_numba, "forward_step", "model forward")
    t.patch(decode_numba, "sample_step", "sampling heads")
    actions = np.tile(np.asarray(ACTION), (num_envs, 1))
    try:
        env.step(actions)  # the first step after a reset is not typical
        t.clear()
        orders0 = sim.orders_generated
        start = time.perf_counter()
        for _ in range(steps):
            env.step(actions)
        elapsed = time.perf_counter() - start
    finally:
        for name, fn in saved.items():
            setattr(cg, name, fn)
        for name, fn in kernels.items():
            setattr(decode_numba, name, fn)
        lmm.model.generate.book_features = features
    orders = sim.orders_generated - orders0
    env.close()
    parts = {part: 1e6 * s / orders for part, s in t.seconds.items()}
    parts["rest"] = 1e6 * elapsed / orders - sum(parts.values())
    return {
        "engine": engine,
        "decoder": decoder,
        "num_envs": num_envs,
        "env_steps_per_second": num_envs * steps / elapsed,
        "orders_per_env_step": orders / (num_envs * steps),
        "us_per_order": 1e6 * elapsed / orders,
        "us_per_order_by_part": parts,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--num-envs", type=int, default=64, help="environments (default: 64)")
    parser.add_argument("--steps", type=int, default=4, help="timed vector steps (default: 4)")
    parser.add_argument("--seed", type=int, default=0, help="reset seed (default: 0)")
    parser.add_argument(
        "--engines", nargs="+", choices=ENGINES, default=list(ENGINES), help="engines to profile"
    )
    parser.add_argument(
        "--decoders", nargs="+", choices=DECODERS, default=["torch"], help="decoders to profile"
    )
    checkpoint_flag(parser)
    parser.add_argument("--out", help="write the figures as JSON")
    args = parser.parse_args()
    results = [
        profile(e, d, args.num_envs, args.steps, args.seed, args.checkpoint)
        for e in args.engines
        for d in args.decoders
    ]
    parts = list(results[0]["us_per_order_by_part"])
    print(f"{ENV_ID}, {args.num_envs} envs, us per generated order:")
    print(f"{'part':<18}" + "".join(f"{r['engine']:>16}" for r in results))
    print(f"{'':<18}" + "".join(f"{r['decoder']:>16}" for r in results))
    for part in parts:
        print(f"{part:<18}" + "".join(f"{r['us_per_order_by_part'][part]:>16.1f}" for r in results))
    print(f"{'total':<18}" + "".join(f"{r['us_per_order']:>16.1f}" for r in results))
    print(f"{'env steps/s':<18}" + "".join(f"{r['env_steps_per_second']:>16.0f}" for r in results))
    if args.out:
        write_json(args.out, {"env": ENV_ID, "checkpoint": args.checkpoint, "runs": results})


if __name__ == "__main__":
    main()
