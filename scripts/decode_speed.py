"""The decoding step under torch and under numba (:mod:`lmm.model.decode_numba`): numerics
and speed, in one run.

* **numerics**: contexts from generated markets (torch decoder), their last position decoded
  by both: the largest differences of the hidden state and of the kind-and-price logits, and
  how often the token drawn from the same uniforms differs, over ``--draws`` draws;
* **decode step**: orders/s of the step alone (one new position with the KV cache at 3/4 of
  the context, the heads and the sampling from per-row generators) per batch size;
* **cache fill**: the step's orders/s against how many positions each row's KV cache holds
  (``--fills``), at a few batch sizes (``--fill-batches``), for the first checkpoint: every
  order reads its row's whole cache, 2 x layers x positions x n_embd floats;
* **LMMMarkets.step**: orders/s end to end, compiled engine, after a context of warm-up;
* **env**: MarS-Execution-v0's native vector env, steps/s, compiled engine.

Torch and numba alternate within each measurement (``--repeats`` rounds each, best kept),
so that the load of the machine falls on both alike. ::

    python scripts/decode_speed.py [--checkpoints default fast] [--batches 1 4 16 64 256]
        [--fills 4 32 64 96 127] [--fill-batches 8 256] [--envs 1 64 256] [--seconds 0.5]
        [--out FILE.json]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import gymnasium as gym
import numpy as np
import torch

import mars_gym  # noqa: F401  (registers the environments)
from lmm.model import decode_numba
from lmm.model.checkpoint import Checkpoint, load_checkpoint
from lmm.model.generate import DECODERS, LMMMarkets, synthetic_start
from lmm.model.transformer import KVCache, sample
from lmm.results import write_json

ENV_ID = "MarS-Execution-v0"
ACTION = (4, 0)


def _best_rate(runs: dict[str, Callable[[], int]], seconds: float, repeats: int) -> dict:
    """Items per second of each run (it returns how many items it did), best of
    ``repeats`` alternating rounds of about ``seconds`` each."""
    best = dict.fromkeys(runs, 0.0)
    for _ in range(repeats):
        for name, run in runs.items():
            done, start = 0, time.perf_counter()
            while (elapsed := time.perf_counter() - start) < seconds or done == 0:
                done += run()
            best[name] = max(best[name], done / elapsed)
    return best


def _contexts(checkpoint: Checkpoint, n: int, every: int, rounds: int) -> list[tuple]:
    """(tokens, features) of ``n`` generated markets, taken every ``every`` orders."""
    markets = LMMMarkets(checkpoint, n, engine="compiled")
    start = synthetic_start(checkpoint.tokenizer)
    for i in range(n):
        markets.reset(i, start, seed=1000 + i)
    out = []
    for r in range(rounds * every):
        markets.step()
        if r % every == every - 1:
            for i in range(n):
                m = markets._market(i)  # a measurement reads the histories
                if len(m.history_tokens) > 1:
                    out.append((list(m.history_tokens), np.stack(m.history_features)))
    return out


def numerics(checkpoint: Checkpoint, draws: int) -> dict:
    """Torch against numba on the last position of generated contexts (module docstring)."""
    model = checkpoint.model.eval()
    w = decode_numba.export_weights(model)
    contexts = _contexts(checkpoint, 32, 40, 8)
    dh = dl = 0.0
    differ = total = 0
    per = -(-draws // len(contexts))
    rng = np.random.default_rng(0)
    for tokens, feats in contexts:
        x = torch.tensor([tokens])
        f = torch.from_numpy(feats)[None]
        cache = KVCache(model.config, 1)
        with torch.inference_mode():
            model(x[:, :-1], f[:, :-1], cache)
            h = model(x[:, -1:], f[:, -1:], cache)[:, -1]
            logits = model.kp_logits(h)
        cache.lengths -= 1
        got = np.zeros((1, model.config.n_embd), dtype=np.float32)
        decode_numba.forward_step(
            *w,
            x[0, -1:].numpy(),
            feats[-1:],
            np.zeros(1, dtype=np.int64),
            cache.lengths.numpy(),
            cache.k.numpy(),
            cache.v.numpy(),
            got,
            decode_numba.conditioning(model, 1),
        )
        with torch.inference_mode():
            got_logits = model.kp_logits(torch.from_numpy(got))
        dh = max(dh, float((torch.from_numpy(got) - h).abs().max()))
        dl = max(dl, float((got_logits - logits).abs().max()))
        u = rng.random((per, 3))
        tu = torch.from_numpy(u)
        with torch.inference_mode():
            hh = h.expand(per, -1)
            kp = sample(logits.expand(per, -1), tu[:, 0])
            size = sample(model.size_logits(hh, kp), tu[:, 1])
            want = model.join(kp, size, sample(model.time_logits(hh, kp, size), tu[:, 2]))
        tokens_numba = np.empty(per, dtype=np.int64)
        decode_numba.sample_step(
            w.buffer,
            w.offsets,
            w.dims,
            np.repeat(got, per, axis=0),
            np.arange(per),
            np.ones((per, model.config.n_kp), dtype=bool),
            u,
            1.0,
            tokens_numba,
            np.empty(per),
        )
        differ += int((tokens_numba != want.numpy()).sum())
        total += per
    return {
        "contexts": len(contexts),
        "max_abs_hidden_diff": dh,
        "max_abs_kp_logit_diff": dl,
        "draws": total,
        "tokens_differing": differ,
    }


def decode_step(
    checkpoint: Checkpoint, batch: int, seconds: float, repeats: int, fill: int | None = None
) -> dict:
    """Orders/s of the decoding step alone under each decoder, each row's cache holding
    ``fill`` positions (default: 3/4 of the context)."""
    model = checkpoint.model.eval()
    cfg = model.config
    w = decode_numba.export_weights(model)
    fill = 3 * cfg.context // 4 if fill is None else fill
    cache = KVCache(cfg, batch)
    gen = torch.Generator().manual_seed(0)
    cache.k.normal_(generator=gen)
    cache.v.normal_(generator=gen)
    tokens = torch.randint(0, cfg.vocab_size, (batch, 1), generator=gen)
    feats = torch.randn(batch, 1, cfg.n_book_features, generator=gen)
    generators = [torch.Generator().manual_seed(i) for i in range(batch)]
    mask = torch.ones(batch, cfg.n_kp, dtype=torch.bool)
    h_np = np.zeros((batch, cfg.n_embd), dtype=np.float32)
    rows = np.arange(batch)
    out, masked = np.empty(batch, dtype=np.int64), np.empty(batch)
    views = (cache.lengths.numpy(), cache.k.numpy(), cache.v.numpy())
    conditioning = decode_numba.conditioning(model, batch)

    def with_torch() -> int:
        cache.lengths.fill_(fill)
        with torch.inference_mode():
            h = model(tokens, feats, cache)[:, -1]
            model.sample_next(h, generators, 1.0, mask, model.kp_logits(h))
        return batch

    def with_numba() -> int:
        cache.lengths.fill_(fill)
        decode_numba.forward_step(
            *w, tokens[:, 0].numpy(), feats[:, 0].numpy(), rows, *views, h_np, conditioning
        )
        u = torch.stack([torch.rand(3, generator=g, dtype=torch.float64) for g in generators])
        decode_numba.sample_step(
            w.buffer, w.offsets, w.dims, h_np, rows, mask.numpy(), u.numpy(), 1.0, out, masked
        )
        return batch

    return _best_rate({"torch": with_torch, "numba": with_numba}, seconds, repeats)


def markets_step(checkpoint: Checkpoint, batch: int, seconds: float, repeats: int) -> dict:
    """Orders/s of ``LMMMarkets.step`` (compiled engine) under each decoder."""
    start = synthetic_start(checkpoint.tokenizer)
    runs = {}
    for decoder in DECODERS:
        m = LMMMarkets(checkpoint, batch, engine="compiled", decoder=decoder)
        for i in range(batch):
            m.reset(i, start, seed=i)
        for _ in range(checkpoint.model.config.context):
            m.step()

        def run(m: LMMMarkets = m) -> int:
            m.step()
            return m.n

        runs[decoder] = run
    return _best_rate(runs, seconds, repeats)


def env_steps(checkpoint: str, num_envs: int, seconds: float, repeats: int) -> dict:
    """Steps/s of MarS-Execution-v0's native vector env under each decoder."""
    runs = {}
    actions = np.tile(np.asarray(ACTION), (num_envs, 1))
    for decoder in DECODERS:
        env = gym.make_vec(
            ENV_ID,
            num_envs=num_envs,
            vectorization_mode="vector_entry_point",
            checkpoint=checkpoint,
            engine="compiled",
            decoder=decoder,
            progress=False,
        )
        env.reset(seed=0)
        env.step(actions)

        def run(env: gym.vector.VectorEnv = env) -> int:
            env.step(actions)
            return num_envs

        runs[decoder] = run
    return _best_rate(runs, seconds, repeats)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoints", nargs="+", default=["default", "fast"])
    parser.add_argument("--batches", nargs="+", type=int, default=[1, 4, 16, 64, 256])
    parser.add_argument("--fills", nargs="+", type=int, default=[4, 32, 64, 96, 127])
    parser.add_argument("--fill-batches", nargs="+", type=int, default=[8, 256])
    parser.add_argument("--envs", nargs="+", type=int, default=[1, 64, 256])
    parser.add_argument("--seconds", type=float, default=0.5, help="per timed round")
    parser.add_argument("--repeats", type=int, default=2, help="alternating rounds each")
    parser.add_argument("--draws", type=int, default=100_000, help="numerics: draws")
    parser.add_argument("--out", help="write the figures as JSON")
    args = parser.parse_args()
    torch.set_num_threads(1)
    result: dict = {"threads": 1, "checkpoints": {}}
    for name in args.checkpoints:
        ck = load_checkpoint(name)
        entry = {"numerics": numerics(ck, args.draws), "decode_step": [], "markets_step": []}
        print(f"{name}: numerics {entry['numerics']}")
        print(f"{name}: orders/s   batch   step torch   step numba   markets torch  markets numba")
        for b in args.batches:
            d = decode_step(ck, b, args.seconds, args.repeats)
            s = markets_step(ck, b, args.seconds, args.repeats)
            entry["decode_step"].append({"batch": b, **d})
            entry["markets_step"].append({"batch": b, **s})
            print(
                f"{'':>18}{b:>6}{d['torch']:>13.0f}{d['numba']:>13.0f}"
                f"{s['torch']:>15.0f}{s['numba']:>15.0f}"
            )
        result["checkpoints"][name] = entry
    first = load_checkpoint(args.checkpoints[0])
    cfg = first.model.config
    kv_bytes = 2 * cfg.n_layer * cfg.n_embd * 4  # keys and values, float32, per position
    fills = []
    print(f"{args.checkpoints[0]}: step orders/s by cache fill (the KV cache read per order)")
    for b in args.fill_batches:
        for fill in args.fills:
            d = decode_step(first, b, args.seconds, args.repeats, fill)
            fills.append({"batch": b, "fill": fill, "kv_bytes_per_order": kv_bytes * fill, **d})
            print(
                f"{'':>18}batch {b:>4} fill {fill:>4} ({kv_bytes * fill / 1024:>4.0f} KB): "
                f"torch {d['torch']:>7.0f} numba {d['numba']:>7.0f}"
            )
    result["cache_fill"] = {"checkpoint": args.checkpoints[0], "runs": fills}
    env = []
    for n in args.envs:
        e = env_steps(args.checkpoints[0], n, args.seconds, args.repeats)
        env.append({"num_envs": n, **e})
        print(
            f"{ENV_ID} ({args.checkpoints[0]}), {n} envs: env steps/s torch {e['torch']:.0f}, "
            f"numba {e['numba']:.0f}"
        )
    result["env"] = {"env": ENV_ID, "checkpoint": args.checkpoints[0], "runs": env}
    if args.out:
        write_json(args.out, result)


if __name__ == "__main__":
    main()
