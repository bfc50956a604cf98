"""How fast could MarS-Execution-v0 run at 256 environments on this machine? A roofline.

Every generated order makes the model read its market's whole key/value cache (attention
spans the cache's capacity) and do ``lmm.evaluation.bench.flops_per_order`` floating-point
operations.
With 256 markets the caches are far larger than the CPU's caches, so those reads come from
memory. This script measures, in one run and on the current torch threads:

* the machine: memory read bandwidth (a sum over a tensor much larger than the L3 cache)
  and the float32 matmul peak;
* the environment: env steps/s, generated orders per env step, and how the wall time
  splits between the model's forward passes, its sampling heads (drawing the next order
  from the hidden state) and everything else (engine, masks, features, decoding, the
  environment itself);
* the rounds: how many one-order decoding calls a vector step makes (as many as its
  busiest market has orders before the next decision, however few markets are still
  generating) and what one round costs with a single market (sampling its next order and
  appending it), the fixed cost that every round pays;

and prints the env steps/s that each cost alone would allow, and the CPU time per order
that issue 5's target (2,000 env steps/s on two cores) leaves for all of it:

    python scripts/env_roofline.py --out docs/results/env_roofline.json [--checkpoint fast]
"""

from __future__ import annotations

import argparse
import time

import gymnasium as gym
import numpy as np
import torch

import mars_gym  # noqa: F401  (registers the environments)
from lmm.evaluation.bench import flops_per_order, matmul_peak_gflops
from lmm.model.checkpoint import Checkpoint, load_checkpoint
from lmm.model.generate import LMMMarkets, synthetic_start
from lmm.results import write_json
from mars_gym.console.flags import checkpoint_flag

ENV_ID = "MarS-Execution-v0"
ACTION = (4, 0)  # a TWAP-paced passive child order, as `mars-gym bench` takes
#: Issue 5's target: env steps/s at 256 environments on this many cores.
TARGET_ENV_STEPS, TARGET_CORES = 2_000, 2


def read_bandwidth_gbs(megabytes: int = 512, repeats: int = 5) -> float:
    """GB/s of summing a float32 tensor of ``megabytes`` on the current torch threads (best
    of ``repeats``)."""
    a = torch.ones(megabytes * 2**20 // 4)
    a.sum()
    best = min(_timed(a.sum) for _ in range(repeats))
    return a.numel() * 4 / best / 1e9


def _timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def _timed_method(obj: object, name: str, total: list[float]) -> None:
    """Make ``obj.name`` add its wall time to ``total[0]`` (an instance attribute shadows
    the method). Methods timed into the same ``total`` may call each other (``sample_next``
    computes ``kp_logits`` when not given them): only the outermost call counts."""
    method = getattr(obj, name)

    def timed(*args, **kwargs):
        if len(total) > 1:  # inside another timed call of this total
            return method(*args, **kwargs)
        total.append(time.perf_counter())
        try:
            return method(*args, **kwargs)
        finally:
            total[0] += time.perf_counter() - total.pop()

    setattr(obj, name, timed)


def measure_env(num_envs: int, steps: int, seed: int, checkpoint: str | None = None) -> dict:
    """Env steps/s of the native vector env, with the model's forward passes and its
    sampling heads (the kind-and-price logits, then size and time, drawn) timed apart."""
    env = gym.make_vec(
        ENV_ID, num_envs=num_envs, vectorization_mode="vector_entry_point", checkpoint=checkpoint
    )
    env.reset(seed=seed)
    sim = env.unwrapped.runner.sim
    model = sim.markets.model
    sampling_s = [0.0]
    for name in ("kp_logits", "sample_next"):
        _timed_method(model, name, sampling_s)
    forward_s, started = [0.0], [0.0]
    decode_rows: list[int] = []  # rows of every one-position (decoding) forward pass

    def before(_module, args) -> None:
        started[0] = time.perf_counter()
        if args[0].shape[1] == 1:
            decode_rows.append(args[0].shape[0])

    model.register_forward_pre_hook(before)
    model.register_forward_hook(
        lambda *_: forward_s.__setitem__(0, forward_s[0] + time.perf_counter() - started[0])
    )
    actions = np.tile(np.asarray(ACTION), (num_envs, 1))
    env.step(actions)  # the first step after a reset is not typical
    orders0, forward_s[0], sampling_s[0] = sim.orders_generated, 0.0, 0.0
    decode_rows.clear()
    start = time.perf_counter()
    for _ in range(steps):
        env.step(actions)
    elapsed = time.perf_counter() - start
    orders = sim.orders_generated - orders0
    env.close()
    return {
        "num_envs": num_envs,
        "vector_steps": steps,
        "env_steps_per_second": num_envs * steps / elapsed,
        "orders_per_env_step": orders / (num_envs * steps),
        "model_forward_share": forward_s[0] / elapsed,
        "us_per_order_model": 1e6 * forward_s[0] / orders,
        "us_per_order_rest": 1e6 * (elapsed - forward_s[0]) / orders,
        "us_per_order_sampling": 1e6 * sampling_s[0] / orders,
        "us_per_order_engine": 1e6 * (elapsed - forward_s[0] - sampling_s[0]) / orders,
        "decode_calls_per_vector_step": len(decode_rows) / steps,
        "rows_per_decode_call": float(np.mean(decode_rows)),
    }


def round_ms_one_market(checkpoint: Checkpoint, rounds: int = 300, seed: int = 0) -> float:
    """Milliseconds of one round (propose, then commit) with a single market, after a
    warm-up from the data-free start."""
    markets = LMMMarkets(checkpoint, 1)
    markets.reset(0, synthetic_start(checkpoint.tokenizer), seed)
    for _ in range(200):
        markets.step()
    start = time.perf_counter()
    for _ in range(rounds):
        markets.step()
    return 1e3 * (time.perf_counter() - start) / rounds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--num-envs", type=int, default=256, help="environments (default: 256)")
    parser.add_argument("--steps", type=int, default=5, help="timed vector steps (default: 5)")
    parser.add_argument("--seed", type=int, default=0, help="reset seed (default: 0)")
    checkpoint_flag(parser)
    parser.add_argument("--out", help="write the figures as JSON")
    args = parser.parse_args()

    bandwidth = read_bandwidth_gbs()
    peak = matmul_peak_gflops()
    env = measure_env(args.num_envs, args.steps, args.seed, args.checkpoint)
    checkpoint = load_checkpoint(args.checkpoint)  # the model the env ran
    round_ms = round_ms_one_market(checkpoint)
    config = checkpoint.model.config
    kv_bytes = config.n_layer * 2 * config.context * config.n_embd * 4  # float32 keys + values
    flops = flops_per_order(config)
    per_step = env["orders_per_env_step"]
    bounds = {
        "memory: reading each order's key/value cache": bandwidth * 1e9 / kv_bytes / per_step,
        "compute: model FLOPs at the matmul peak": peak * 1e9 / flops / per_step,
        "everything but the model, as measured": 1e6 / env["us_per_order_rest"] / per_step,
        "everything but the model and its sampling": 1e6 / env["us_per_order_engine"] / per_step,
        "the rounds alone, at one market's cost each": args.num_envs
        / (env["decode_calls_per_vector_step"] * round_ms / 1e3),
    }
    # one core does both in turn: the model at its roofline, everything else free
    memory, compute = list(bounds.values())[:2]
    bounds["the model at its roofline (memory, then compute)"] = 1 / (1 / memory + 1 / compute)
    print(f"torch threads: {torch.get_num_threads()}")
    print(f"memory read bandwidth: {bandwidth:.1f} GB/s; float32 matmul peak: {peak:.1f} GFLOP/s")
    print(
        f"per order: {kv_bytes / 1e3:.0f} kB of key/value cache read, {flops / 1e6:.2f} MFLOP; "
        f"{args.num_envs} markets hold {args.num_envs * kv_bytes / 2**20:.0f} MiB of cache"
    )
    print(
        f"{ENV_ID}, {args.num_envs} envs: {env['env_steps_per_second']:,.0f} env steps/s, "
        f"{per_step:.1f} orders per env step; per order {env['us_per_order_model']:.0f} us in "
        f"the model's forward passes, {env['us_per_order_rest']:.0f} us in the rest"
    )
    print(
        f"{env['decode_calls_per_vector_step']:.0f} decoding calls per vector step, "
        f"{env['rows_per_decode_call']:.1f} markets each on average; one round with a single "
        f"market takes {round_ms:.2f} ms"
    )
    print(
        f"of the rest, {env['us_per_order_sampling']:.0f} us per order draw the next order "
        f"from the model's heads and {env['us_per_order_engine']:.0f} us are the engine, "
        "tokenizer, masks, features and environment"
    )
    budget = 1e6 * TARGET_CORES / (TARGET_ENV_STEPS * per_step)
    print(
        f"the target, {TARGET_ENV_STEPS:,} env steps/s on {TARGET_CORES} cores at "
        f"{per_step:.1f} orders per env step, leaves {budget:.0f} us of CPU per order for "
        "all of it, before uneven workers and resets"
    )
    print("env steps/s that each cost alone would allow in this process:")
    for name, bound in bounds.items():
        print(f"  {bound:>8,.0f}  {name}")
    if args.out:
        figures = {
            "torch_threads": torch.get_num_threads(),
            "read_bandwidth_gbs": bandwidth,
            "matmul_peak_gflops": peak,
            "kv_bytes_per_order": kv_bytes,
            "flops_per_order": flops,
            "env": env,
            "round_ms_one_market": round_ms,
            "env_steps_per_second_bounds": bounds,
            "target_us_per_order": budget,
        }
        write_json(args.out, figures)


if __name__ == "__main__":
    main()
