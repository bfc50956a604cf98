"""Fine-tuning a trained model: more steps at a low learning rate, on real windows and,
optionally, on the model's own rollouts (Data as Demonstrator).

By default a run continues a checkpoint's training for ``rounds x steps_per_round`` steps
at a constant low learning rate (the recipe's final one, after a short warm-up) with a
fresh optimiser, on ordinary teacher-forced windows, and prints the validation loss after
every round. ``train-lmm`` keeps the weights of its best validation pass, about halfway
through its cosine schedule; on the selection windows these further steps bring the
generated market closer to the real one (docs/lmm.md, "Training on its own rollouts").

With ``rollout_fraction > 0`` part of each batch comes from rollouts. A model trained only
on real contexts (teacher forcing) never sees the states its own orders lead to, and in
simulation it feeds on its own output: small errors in where it places orders compound
(exposure bias). DaD (Venkatraman, Hebert and Bagnell, "Improving Multi-step Prediction of
Learned Time Series Models", AAAI 2015) corrects this the way DAgger does for policies, with
the data as the expert: roll the model out from real states, and train it to predict, at
each state it reached, the order that really came at that position of the real sequence.

That target fits this model's states because a token is relative to the book it meets: its
price is an offset from the same-side best quote (or the mid), its size is in shares (or
relative to the touch) and its time is a gap since the previous order
(:mod:`lmm.model.tokenizer`). "The real trader's next order" therefore reads as "place a
limit order 12 ticks behind your best", wherever that best has gone in the rollout.

A rollout starts from the last ``context // 2`` real orders up to a point of a day's
training part and generates ``orders`` orders from there in the simulator
(:class:`lmm.model.generate.LMMMarkets`), each with the features of the book it left. Each
time its context is full it gives a window (a full context is then cut to its last half, so
that is after ``context // 2`` orders and every ``context // 2 + 1`` after): the first half
real and half generated, then wholly generated ones from ever further into the rollout,
where drift has had time to act. Position ``p`` of a window is trained toward the real order
at the next index of the real sequence, counted from the rollout's start, which is the
target it would have under teacher forcing. Fine-tuning alternates rounds: generate windows
with the current weights, then train on batches that mix them with ordinary teacher-forced
windows. Measured on the selection windows, these corrections made the drift worse, not
better (docs/lmm.md): the option stays for further attempts, not as a recipe.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace

import numpy as np
import torch

from lmm.model.checkpoint import Checkpoint
from lmm.model.dataset import DayData, OrderDataset
from lmm.model.generate import LMMMarkets
from lmm.model.outlook import N_OUTLOOK_FEATURES, outlook_range
from lmm.model.train import (
    LN2,
    TrainConfig,
    adamw,
    descend,
    mirrored_day,
    outlook_drops,
    training_batch,
    validation_bits,
)
from lmm.model.transformer import LMM
from lmm.model.windows import WindowSampler

__all__ = [
    "RolloutWindows",
    "TuneConfig",
    "TuneResult",
    "fine_tune",
    "rollout_windows",
    "with_outlook",
]


@dataclass(frozen=True)
class TuneConfig:
    """Settings of a fine-tuning run (the defaults: 1,000 steps on real windows only).

    Attributes:
        rounds: rounds of training, each ending with a validation pass (and, with
            rollouts, each starting by generating them with the current weights).
        starts_per_round: rollouts per round (one window each), from starts drawn uniformly
            over the training parts' orders.
        orders: orders each rollout generates; it gives a window each time its context
            is full (after ``context // 2`` orders, then every ``context // 2 + 1``).
        steps_per_round: optimisation steps per round.
        batch_size: windows per step.
        rollout_fraction: share of each batch drawn from the round's rollout windows (DaD;
            the rest are teacher-forced windows of real orders); 0 makes no rollouts.
        lr: learning rate (constant after a linear warm-up over the first round's first
            tenth; fine-tuning starts from trained weights).
        weight_decay: AdamW weight decay on weight matrices.
        temperature: sampling temperature of the rollouts.
        outlook_dropout: for a model with outlook features, the share of windows whose
            outlook is dropped (read as unknown; :class:`lmm.model.train.TrainConfig`).
        outlook_lr_scale: for a model with outlook features, their projection's learning
            rate as a multiple of ``lr`` (a projection added by :func:`with_outlook` starts
            at zero and learns from a weak signal per order).
        mirror: also train on every day mirrored (buy and sell swapped; the
            same-side-best price reference only), as train-lmm --mirror does; validation
            stays on the real days.
        seed: seeds the starts, the rollouts and the batches.
    """

    rounds: int = 4
    starts_per_round: int = 512
    orders: int = 64
    steps_per_round: int = 250
    batch_size: int = 32
    rollout_fraction: float = 0.0
    lr: float = 2e-4
    weight_decay: float = 0.1
    temperature: float = 1.0
    outlook_dropout: float = 0.3
    outlook_lr_scale: float = 1.0
    mirror: bool = False
    seed: int = 0

    def __post_init__(self) -> None:
        for name in ("rounds", "starts_per_round", "orders", "steps_per_round", "batch_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"TuneConfig.{name} must be >= 1, got {getattr(self, name)}")
        if not 0.0 <= self.rollout_fraction <= 1.0:
            raise ValueError(
                f"TuneConfig.rollout_fraction must be in [0, 1], got {self.rollout_fraction}"
            )
        if not self.outlook_lr_scale > 0:
            raise ValueError(
                f"TuneConfig.outlook_lr_scale must be > 0, got {self.outlook_lr_scale}"
            )
        if not self.lr > 0:
            raise ValueError(f"TuneConfig.lr must be > 0, got {self.lr}")


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


@torch.no_grad()
def rollout_windows(
    checkpoint: Checkpoint,
    days: tuple[DayData, ...],
    n: int,
    orders: int,
    rng: np.random.Generator,
    temperature: float = 1.0,
) -> RolloutWindows:
    """Roll ``checkpoint``'s model out from ``n`` real starts in ``days``' training parts,
    ``orders`` orders each, and pair every full context it reached with the real orders
    (``1 + (orders - context // 2) // (context // 2 + 1)`` windows per rollout).

    Raises:
        ValueError: ``orders`` fills no window, or the model reads memory or outlook
            features (their rollout values are not recorded here).
    """
    cfg = checkpoint.model.config
    context, prefix = cfg.context, cfg.context // 2
    if orders < context - prefix:
        raise ValueError(f"orders must be >= {context - prefix} (half a context), got {orders}")
    if cfg.n_memory_features or cfg.n_outlook_features:
        raise ValueError("rollout windows do not carry memory or outlook features")
    # (day, first real order): the real sequence must reach past the last target
    runs = WindowSampler(days, prefix + orders, 1, seed=0)  # only its enumeration is used
    picks = runs.starts(rng.integers(0, len(runs), n))
    markets = LMMMarkets(checkpoint, n, temperature=temperature)
    for i, (d, first) in enumerate(picks):
        start = days[d].start_state(int(first) + prefix - 1, prefix)
        markets.reset(i, start, int(rng.integers(2**63)))
    made = np.zeros(n, dtype=np.int64)
    windows: list[tuple[np.ndarray, np.ndarray, np.ndarray, int]] = []
    todo = list(range(n))
    while todo:
        done = markets.step(todo)
        for i, order in zip(todo, done, strict=True):
            if order is None:
                continue
            made[i] += 1
            if markets.history_length(i) == context:
                tokens, features = markets.history(i)
                d, first = picks[i]
                target = first + prefix + made[i] - context + 1  # position 0's target
                windows.append((tokens, features, days[d].tokens[target : target + context], d))
        todo = [i for i in todo if made[i] < orders]
    profiles = None
    if cfg.n_profile_features:
        profiles = np.stack([days[d].profile for *_, d in windows]).astype(np.float32)
    return RolloutWindows(
        np.stack([w[0] for w in windows]),
        np.stack([w[1] for w in windows]),
        np.stack([w[2] for w in windows]),
        profiles,
    )


@dataclass
class TuneResult:
    """What fine-tuning measured: validation bits per order (teacher-forced, on the
    held-out part) before and after each round, and the time it took."""

    history: list[dict]
    seconds: float


def fine_tune(
    checkpoint: Checkpoint,
    dataset: OrderDataset,
    config: TuneConfig,
    progress: bool = True,
) -> TuneResult:
    """Fine-tune ``checkpoint``'s model in place on ``dataset``'s training parts (which
    must be tokenized with the checkpoint's tokenizer), in ``config.rounds`` rounds: on real
    windows, and with ``config.rollout_fraction`` on rollout windows too (DaD)."""
    model = checkpoint.model
    if dataset.tokenizer.to_dict() != checkpoint.tokenizer.to_dict():
        raise ValueError("the dataset is tokenized with another tokenizer than the checkpoint's")
    cfg = model.config
    # what the model reads at each order
    days = dataset.days
    if config.mirror:
        days += tuple(mirrored_day(d, checkpoint.tokenizer) for d in dataset.days)
    days = tuple(
        replace(d, features=d.inputs(cfg.n_memory_features, cfg.n_outlook_features)) for d in days
    )
    real = TrainConfig(
        context=cfg.context,
        n_layer=cfg.n_layer,
        n_head=cfg.n_head,
        n_embd=cfg.n_embd,
        batch_size=config.batch_size - round(config.batch_size * config.rollout_fraction),
        profile=bool(cfg.n_profile_features),
        outlook=bool(cfg.n_outlook_features),
        outlook_dropout=config.outlook_dropout,
        seed=config.seed,
    )
    n_rollout = config.batch_size - real.batch_size
    sampler = WindowSampler(days, cfg.context, 1, seed=0)  # drawn from ``rng`` below
    rng = np.random.default_rng(config.seed)
    opt = adamw(model, config.lr, config.weight_decay)
    if cfg.n_outlook_features and config.outlook_lr_scale != 1.0:
        _scale_lr(
            opt,
            [p for n, p in model.named_parameters() if n.startswith("outlook_")],
            config.outlook_lr_scale,
        )
    warmup = max(1, config.steps_per_round // 10)
    begin = time.perf_counter()
    history = [{"round": 0, "validation_bits": validation_bits(model, dataset.days, cfg.context)}]
    _say(progress, f"round 0: validation {history[0]['validation_bits']:.4f} bits/order")
    step = 0
    for r in range(1, config.rounds + 1):
        t0 = time.perf_counter()
        windows = None  # a control run (rollout_fraction 0) trains on real windows only
        if n_rollout:
            windows = rollout_windows(
                checkpoint,
                dataset.days,
                config.starts_per_round,
                config.orders,
                rng,
                config.temperature,
            )
        t_gen = time.perf_counter() - t0
        model.train()
        losses = []
        for _ in range(config.steps_per_round):
            step += 1
            for group in opt.param_groups:
                group["lr"] = group.get("lr_scale", 1.0) * config.lr * min(1.0, step / warmup)
            picks = sampler.starts(rng.integers(0, len(sampler), real.batch_size))
            drops = outlook_drops(real, step, real.batch_size)
            x, f, y, p = training_batch(days, picks, real, torch.device("cpu"), drops)
            if windows is not None:
                pick = rng.integers(0, len(windows.tokens), n_rollout)
                x = torch.cat([x, torch.from_numpy(windows.tokens[pick])])
                f = torch.cat([f, torch.from_numpy(windows.features[pick])])
                y = torch.cat([y, torch.from_numpy(windows.targets[pick])])
                if p is not None:
                    p = torch.cat([p, torch.from_numpy(windows.profiles[pick])])
            loss = -model.log_prob(model(x, f, profile=p), y).mean()
            descend(model, opt, loss)
            losses.append(loss.item() / LN2)
        model.eval()
        val = validation_bits(model, dataset.days, cfg.context)
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
            f"round {r}/{config.rounds}: rollouts {t_gen:.0f} s, train "
            f"{np.mean(losses):.4f} bits/order, validation {val:.4f}",
        )
    return TuneResult(history=history, seconds=time.perf_counter() - begin)


def with_outlook(checkpoint: Checkpoint, dataset: OrderDataset) -> Checkpoint:
    """``checkpoint`` with outlook features added to its model (:mod:`lmm.model.outlook`),
    to be fine-tuned to follow a scenario: the same weights, and a new outlook projection
    whose output layer starts at zero, so that the model starts as the one it came from
    (whatever its outlook reads), with the outlook's range over ``dataset``'s training parts.

    Raises:
        ValueError: the model already reads an outlook.
    """
    old = checkpoint.model
    if old.config.n_outlook_features:
        raise ValueError("this checkpoint's model already reads outlook features")
    model = LMM(replace(old.config, n_outlook_features=N_OUTLOOK_FEATURES))
    missing, unexpected = model.load_state_dict(old.state_dict(), strict=False)
    if unexpected or any(not k.startswith("outlook_") for k in missing):
        raise ValueError(f"the models differ beyond the outlook: {missing}, {unexpected}")
    out = model.outlook_proj[-1]
    torch.nn.init.zeros_(out.weight)
    torch.nn.init.zeros_(out.bias)
    model.outlook_range.copy_(torch.from_numpy(outlook_range(dataset.days)))
    return replace(checkpoint, model=model.eval())


def _scale_lr(opt: torch.optim.Optimizer, params: list[torch.Tensor], scale: float) -> None:
    """Move ``params`` into groups of their own (one per group they were in) whose
    learning rate is ``scale`` times the others' (the group key ``lr_scale``)."""
    ids = {id(p) for p in params}
    for group in list(opt.param_groups):
        mine = [p for p in group["params"] if id(p) in ids]
        if mine:
            group["params"] = [p for p in group["params"] if id(p) not in ids]
            opt.add_param_group(
                {
                    **{k: v for k, v in group.items() if k != "params"},
                    "params": mine,
                    "lr_scale": scale,
                }
            )


def _say(progress: bool, line: str) -> None:
    if progress:
        print(line, flush=True)
