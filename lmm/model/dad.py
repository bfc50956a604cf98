"""Training on the model's own rollouts: Data as Demonstrator (DaD).

A model trained only on real contexts (teacher forcing) never sees the states its own
orders lead to, and in simulation it feeds on its own output: small errors in where it
places orders compound (exposure bias). DaD (Venkatraman, Hebert and Bagnell, "Improving
Multi-step Prediction of Learned Time Series Models", AAAI 2015) corrects this the way
DAgger does for policies, with the data as the expert: roll the model out from real
states, and train it to predict, at each state it reached, the order that really came
at that position of the real sequence.

That target fits this model's states because a token is relative to the book it meets:
its price is an offset from the same-side best quote (or the mid), its size is in shares
(or relative to the touch) and its time is a gap since the previous order
(:mod:`lmm.model.tokenizer`). "The real trader's next order" therefore reads as "place a
limit order 12 ticks behind your best", wherever that best has gone in the rollout.

A rollout window is ``context`` positions: the ``context - generated`` real orders up to
a start ``s`` in a day's training part, then the ``generated`` orders the model made from
there in the simulator (:class:`lmm.model.generate.LMMMarkets`), each with the features
of the book it left. Position ``p`` is trained toward real order ``s - (context -
generated) + p + 1``, exactly the target it would have under teacher forcing.
Fine-tuning alternates rounds: generate windows with the current weights, then train on
batches that mix them with ordinary teacher-forced windows.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import torch

from lmm.model.checkpoint import Checkpoint
from lmm.model.dataset import DayData, OrderDataset
from lmm.model.generate import LMMMarkets
from lmm.model.train import LN2, TrainConfig, _batch, _window_starts, validation_bits

__all__ = ["DaDConfig", "DaDResult", "RolloutWindows", "fine_tune", "rollout_windows"]


@dataclass(frozen=True)
class DaDConfig:
    """Settings of a DaD fine-tuning run.

    Attributes:
        rounds: generate-then-train rounds.
        starts_per_round: rollouts per round (one window each), from starts drawn uniformly
            over the training parts' orders.
        generated: orders each rollout generates (the rest of the window is real context).
        steps_per_round: optimisation steps per round.
        batch_size: windows per step.
        rollout_fraction: share of each batch drawn from the round's rollout windows (the
            rest are teacher-forced windows of real orders).
        lr: learning rate (constant after a linear warm-up over the first round's first
            tenth; fine-tuning starts from trained weights).
        weight_decay: AdamW weight decay on weight matrices.
        temperature: sampling temperature of the rollouts.
        seed: seeds the starts, the rollouts and the batches.
    """

    rounds: int = 4
    starts_per_round: int = 512
    generated: int = 64
    steps_per_round: int = 250
    batch_size: int = 32
    rollout_fraction: float = 0.5
    lr: float = 2e-4
    weight_decay: float = 0.1
    temperature: float = 1.0
    seed: int = 0

    def __post_init__(self) -> None:
        for name in ("rounds", "starts_per_round", "generated", "steps_per_round", "batch_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"DaDConfig.{name} must be >= 1, got {getattr(self, name)}")
        if not 0.0 <= self.rollout_fraction <= 1.0:
            raise ValueError(
                f"DaDConfig.rollout_fraction must be in [0, 1], got {self.rollout_fraction}"
            )
        if not self.lr > 0:
            raise ValueError(f"DaDConfig.lr must be > 0, got {self.lr}")


@dataclass(frozen=True)
class RolloutWindows:
    """Training windows whose last positions the model generated.

    Attributes:
        tokens: int64 ``(N, context)`` inputs: real orders, then generated ones.
        features: float32 ``(N, context, F)`` the book features after each input.
        targets: int64 ``(N, context)`` the real order at each position's next index.
        profiles: float32 ``(N, P)`` each window's day profile, or None for a model
            without profiles.
    """

    tokens: np.ndarray
    features: np.ndarray
    targets: np.ndarray
    profiles: np.ndarray | None


def _rollout_starts(
    days: tuple[DayData, ...], context: int, generated: int, n: int, rng: np.random.Generator
) -> np.ndarray:
    """``n`` (day, s) pairs: order ``s`` ends a real prefix of ``context - generated``
    orders, and the targets (up to ``s + generated + 1``) lie in the training part."""
    windows = _window_starts(days, context)  # (day, first) with targets inside training
    picks = windows[rng.integers(0, len(windows), n)]
    picks[:, 1] += context - generated - 1  # the prefix's last order
    return picks


@torch.no_grad()
def rollout_windows(
    checkpoint: Checkpoint,
    days: tuple[DayData, ...],
    n: int,
    generated: int,
    rng: np.random.Generator,
    temperature: float = 1.0,
) -> RolloutWindows:
    """Roll ``checkpoint``'s model out from ``n`` real starts in ``days``' training parts,
    ``generated`` orders each, and pair the states it reached with the real orders.

    Raises:
        ValueError: ``generated`` leaves no real context, or the model reads memory
            features (their rollout values are not recorded here).
    """
    context = checkpoint.model.config.context
    if not 1 <= generated < context:
        raise ValueError(f"generated must be in 1..{context - 1}, got {generated}")
    if checkpoint.model.config.n_memory_features:
        raise ValueError("rollout windows do not carry memory features")
    prefix = context - generated
    picks = _rollout_starts(days, context, generated, n, rng)
    markets = LMMMarkets(checkpoint, n, temperature=temperature)
    for i, (d, s) in enumerate(picks):
        markets.reset(i, days[d].start_state(int(s), prefix), int(rng.integers(2**63)))
    todo = list(range(n))
    while todo:
        markets.step(todo)
        todo = [i for i in todo if len(markets.history(i)[0]) < context]
    tokens = np.empty((n, context), dtype=np.int64)
    features = np.empty((n, context, checkpoint.model.config.n_book_features), np.float32)
    targets = np.empty((n, context), dtype=np.int64)
    for i, (d, s) in enumerate(picks):
        tokens[i], features[i] = markets.history(i)
        first = s - prefix + 2  # the real order after the prefix's first
        targets[i] = days[d].tokens[first : first + context]
    profiles = None
    if checkpoint.model.config.n_profile_features:
        profiles = np.stack([days[d].profile for d, _ in picks]).astype(np.float32)
    return RolloutWindows(tokens, features, targets, profiles)


@dataclass
class DaDResult:
    """What fine-tuning measured: validation bits per order (teacher-forced, on the
    held-out part) before and after each round, and the time it took."""

    history: list[dict]
    seconds: float


def fine_tune(
    checkpoint: Checkpoint,
    dataset: OrderDataset,
    config: DaDConfig,
    progress: bool = True,
) -> DaDResult:
    """Fine-tune ``checkpoint``'s model in place by DaD rounds on ``dataset``'s training
    parts (which must be tokenized with the checkpoint's tokenizer)."""
    model = checkpoint.model
    if dataset.tokenizer.to_dict() != checkpoint.tokenizer.to_dict():
        raise ValueError("the dataset is tokenized with another tokenizer than the checkpoint's")
    days = dataset.days
    cfg = model.config
    profile = bool(cfg.n_profile_features)
    real = TrainConfig(
        context=cfg.context,
        n_layer=cfg.n_layer,
        n_head=cfg.n_head,
        n_embd=cfg.n_embd,
        batch_size=config.batch_size - round(config.batch_size * config.rollout_fraction),
        profile=profile,
    )
    n_rollout = config.batch_size - real.batch_size
    starts = _window_starts(days, cfg.context)
    rng = np.random.default_rng(config.seed)
    decay = [p for p in model.parameters() if p.dim() >= 2]
    no_decay = [p for p in model.parameters() if p.dim() < 2]
    opt = torch.optim.AdamW(
        [
            {"params": decay, "weight_decay": config.weight_decay},
            {"params": no_decay, "weight_decay": 0.0},
        ],
        lr=config.lr,
        betas=(0.9, 0.95),
    )
    warmup = max(1, config.steps_per_round // 10)
    begin = time.perf_counter()
    history = [{"round": 0, "validation_bits": validation_bits(model, days, cfg.context)}]
    _say(progress, f"DaD round 0: validation {history[0]['validation_bits']:.4f} bits/order")
    step = 0
    for r in range(1, config.rounds + 1):
        t0 = time.perf_counter()
        windows = rollout_windows(
            checkpoint, days, config.starts_per_round, config.generated, rng, config.temperature
        )
        t_gen = time.perf_counter() - t0
        model.train()
        losses = []
        for _ in range(config.steps_per_round):
            step += 1
            for group in opt.param_groups:
                group["lr"] = config.lr * min(1.0, step / warmup)
            x, f, y, p = _batch(days, starts, rng, real, torch.device("cpu"))
            if n_rollout:
                pick = rng.integers(0, len(windows.tokens), n_rollout)
                x = torch.cat([x, torch.from_numpy(windows.tokens[pick])])
                f = torch.cat([f, torch.from_numpy(windows.features[pick])])
                y = torch.cat([y, torch.from_numpy(windows.targets[pick])])
                if p is not None:
                    p = torch.cat([p, torch.from_numpy(windows.profiles[pick])])
            loss = -model.log_prob(model(x, f, profile=p), y).mean()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            losses.append(loss.item() / LN2)
        model.eval()
        val = validation_bits(model, days, cfg.context)
        history.append(
            {
                "round": r,
                "train_bits": float(np.mean(losses)),
                "validation_bits": val,
                "rollout_seconds": t_gen,
                "seconds": time.perf_counter() - t0,
            }
        )
        _say(
            progress,
            f"DaD round {r}/{config.rounds}: rollouts {t_gen:.0f} s, train "
            f"{np.mean(losses):.4f} bits/order, validation {val:.4f}",
        )
    return DaDResult(history=history, seconds=time.perf_counter() - begin)


def _say(progress: bool, line: str) -> None:
    if progress:
        print(line, flush=True)
