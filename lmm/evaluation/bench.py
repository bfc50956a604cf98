"""How fast the LMM generates orders, and how that compares with the machine's matmul peak.

Measured, not estimated: :func:`generation_speed` times :class:`lmm.model.generate.LMMMarkets`
end to end (model, sampling, decoding, matching engine, features) for several batch sizes,
with and without the KV cache. :func:`flops_per_order` counts the model's floating-point
operations per generated order analytically; :func:`matmul_peak_gflops` measures what a
large float32 matrix product reaches on this machine, so the two can be set side by side.
"""

from __future__ import annotations

import time

import torch

from lmm.device import resolve_device
from lmm.model.checkpoint import Checkpoint
from lmm.model.generate import LMMMarkets, synthetic_start
from lmm.model.transformer import LMMConfig

__all__ = ["flops_per_order", "generation_speed", "matmul_peak_gflops"]


def flops_per_order(config: LMMConfig, cached: bool = True, history: int | None = None) -> float:
    """Floating-point operations (multiply and add counted apart) to generate one order.

    With the cache, one new position attends over the cache (computed over its whole
    capacity, masked); without it, the whole history of ``history`` positions (default:
    0.75 context, the average between trims) is recomputed for every order.
    """
    c, ctx = config.n_embd, config.context
    per_position = (
        2 * config.n_book_features * c
        + 2 * c * c  # book projection
        + config.n_layer * 2 * 12 * c * c  # qkv, output projection, 4x MLP
    )
    heads = 2 * c * config.n_kp + 2 * c * config.n_size + 2 * c * config.n_time
    if cached:
        attention = config.n_layer * 4 * c * ctx
        return float(per_position + attention + heads)
    t = history if history is not None else int(0.75 * ctx)
    attention = config.n_layer * 4 * c * t * (t + 1) / 2
    return float(t * per_position + attention + heads)


def matmul_peak_gflops(
    n: int = 1024, seconds: float = 1.0, device: str | torch.device = "cpu"
) -> float:
    """Float32 GFLOP/s of an ``n x n`` matrix product on ``device`` (on the CPU, on the
    current torch threads)."""
    device = resolve_device(device)
    a, b = torch.randn(n, n, device=device), torch.randn(n, n, device=device)
    torch.mm(a, b)
    _synchronize(device)
    reps, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        torch.mm(a, b)
        reps += 1
        _synchronize(device)
    return 2 * n**3 * reps / (time.perf_counter() - start) / 1e9


def _synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def generation_speed(
    checkpoint: Checkpoint,
    batch_sizes: tuple[int, ...] = (1, 16, 64, 256),
    seconds: float = 3.0,
    warmup_steps: int | None = None,
    progress: bool = False,
    device: str | torch.device = "cpu",
    engine: str = "python",
    decoder: str = "torch",
) -> list[dict]:
    """Orders per second of :class:`LMMMarkets` for each batch size, with and without the
    KV cache, from :func:`synthetic_start` (each market seeded apart), the model on
    ``device`` (every step ends with its tokens back on the CPU, for the matching engine),
    the books on ``engine`` and the decoding step on ``decoder`` (the numba decoder needs
    the cache: only cached runs are timed with it).

    The warm-up (default: one context of orders, untimed) brings the contexts to their
    steady length, which cycles between half and a full context; ``flops_per_order``
    assumes that average.
    """
    if warmup_steps is None:
        warmup_steps = checkpoint.model.config.context
    start_state = synthetic_start(checkpoint.tokenizer)
    modes = (True,) if decoder == "numba" else (True, False)
    runs = [(b, cached) for b in batch_sizes for cached in modes]
    if progress:
        from tqdm import tqdm

        runs = tqdm(runs, desc="generation speed", unit="run")
    out = []
    for batch, cached in runs:
        markets = LMMMarkets(
            checkpoint,
            batch,
            use_cache=cached,
            device=resolve_device(device),
            engine=engine,
            decoder=decoder,
        )
        for i in range(batch):
            markets.reset(i, start_state, seed=i)
        for _ in range(warmup_steps):
            markets.step()
        steps, begin = 0, time.perf_counter()
        while time.perf_counter() - begin < seconds or steps < 2:
            markets.step()
            steps += 1
        elapsed = time.perf_counter() - begin
        flops = flops_per_order(checkpoint.model.config, cached)
        out.append(
            {
                "batch": batch,
                "kv_cache": cached,
                "engine": engine,
                "decoder": decoder,
                "steps": steps,
                "orders_per_second": steps * batch / elapsed,
                "ms_per_step": 1000 * elapsed / steps,
                "model_gflop_per_second": steps * batch * flops / elapsed / 1e9,
            }
        )
    return out
