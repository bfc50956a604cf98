"""Training the LMM on LOBSTER days: next-order prediction with a time-split validation.

Training windows are drawn at random (from a seeded generator) from the training part of
each day; the validation loss is the negative log-likelihood per order, in bits, of every
validation order, each scored with at least half a context of preceding orders. The weights
with the best validation loss are the ones saved.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch

from lmm.device import resolve_device
from lmm.model.dataset import DayData, OrderDataset
from lmm.model.features import N_BOOK_FEATURES, mirror_features
from lmm.model.memory import N_MEMORY_FEATURES
from lmm.model.profile import N_PROFILE_FEATURES
from lmm.model.tokenizer import OrderTokenizer
from lmm.model.transformer import LMM, LMMConfig
from lmm.units import NS_PER_SECOND

if TYPE_CHECKING:
    from tqdm import tqdm

__all__ = ["TrainConfig", "TrainResult", "sequence_nll_bits", "train"]

LN2 = math.log(2.0)
# the model's shape defaults, from their one definition (LMMConfig)
_SHAPE = {f.name: f.default for f in fields(LMMConfig)}


@dataclass(frozen=True)
class TrainConfig:
    """Hyper-parameters of ``mars-gym train-lmm``; the defaults train in about 20 minutes
    on 2 CPU cores.

    The shape fields (``context``, ``n_layer``, ``n_head``, ``n_embd``) default to
    :class:`lmm.model.transformer.LMMConfig`'s, their one definition, which also checks them
    (:meth:`model_config`); dropout is the recipe's own choice.

    Attributes:
        context: orders per training window (and the model's attention span).
        n_layer, n_head, n_embd: transformer shape.
        dropout: dropout rate while training.
        batch_size: windows per step.
        steps: optimisation steps.
        lr: peak learning rate (linear warm-up, then cosine decay to lr / 10).
        warmup: warm-up steps.
        weight_decay: AdamW weight decay on weight matrices.
        eval_every: steps between validation passes (and at the end).
        log_every: steps between lines of training figures (and at the end): step, mean
            training loss since the last line, learning rate, tokens per second.
        seed: seeds the model's initialisation and the window sampler.
        device: "auto" (a GPU when present), "cpu" or "cuda".
        subsample: train on the windows starting in one of every ``subsample``
            ten-minute blocks of each day's training part (1: all of it); for measuring
            how the model scales with data. The tokenizer is fitted on the whole part.
        mirror: also train on every day mirrored (buy and sell swapped in the orders and
            the books, :func:`_mirrored`), twice the training windows; validation stays on
            the real days. Needs the same_side_best price reference.
        profile: condition the model on each day's stock profile (:mod:`lmm.model.profile`),
            computed over the day's training part; the model stores the mean over the days
            as its default profile.
        memory: give the model the memory features (:mod:`lmm.model.memory`) of every
            order after its book features.
    """

    context: int = _SHAPE["context"]
    n_layer: int = _SHAPE["n_layer"]
    n_head: int = _SHAPE["n_head"]
    n_embd: int = _SHAPE["n_embd"]
    # the model's own default is none (a model built to generate drops nothing); this small
    # model on a few days of data overfits without it (the shipped checkpoints used 0.1)
    dropout: float = 0.1
    batch_size: int = 32
    steps: int = 3000
    lr: float = 2e-3
    warmup: int = 100
    weight_decay: float = 0.1
    eval_every: int = 250
    log_every: int = 50
    seed: int = 0
    device: str = "auto"
    subsample: int = 1
    mirror: bool = False
    profile: bool = False
    memory: bool = False

    def __post_init__(self) -> None:
        for name in (
            "context",
            "batch_size",
            "steps",
            "eval_every",
            "log_every",
            "n_layer",
            "n_head",
            "n_embd",
            "subsample",
        ):
            if getattr(self, name) < 1:
                raise ValueError(f"TrainConfig.{name} must be >= 1, got {getattr(self, name)}")
        if not self.lr > 0:
            raise ValueError(f"TrainConfig.lr must be > 0, got {self.lr}")
        self.model_config(1, 1, 1)  # the shape, checked where it is defined

    def model_config(self, n_kp: int, n_size: int, n_time: int) -> LMMConfig:
        """The shape of the model this recipe trains, for a tokenizer with these class
        counts."""
        return LMMConfig(
            n_kp=n_kp,
            n_size=n_size,
            n_time=n_time,
            n_book_features=N_BOOK_FEATURES,
            context=self.context,
            n_layer=self.n_layer,
            n_head=self.n_head,
            n_embd=self.n_embd,
            dropout=self.dropout,
            n_profile_features=N_PROFILE_FEATURES if self.profile else 0,
            n_memory_features=N_MEMORY_FEATURES if self.memory else 0,
        )


#: A small setting for tests and smoke runs.
QUICK = TrainConfig(
    context=32, n_layer=1, n_head=2, n_embd=32, batch_size=8, steps=20, eval_every=10
)


@dataclass
class TrainResult:
    """What training produced and measured."""

    model: LMM
    history: list[dict]
    best_validation_bits: float
    best_step: int
    seconds: float
    tokens_per_second: float
    parameters: int
    device: str
    n_train_orders: int
    n_validation_orders: int

    def summary(self) -> dict:
        """JSON-serialisable figures (without the model)."""
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name != "model"}


def train(
    dataset: OrderDataset,
    config: TrainConfig,
    progress: bool = True,
    tensorboard_dir: str | Path | None = None,
) -> TrainResult:
    """Train a fresh LMM on ``dataset`` and return it with its validation history.

    Every ``config.log_every`` steps a line reports the step, the mean training loss since
    the last line (bits per order), the learning rate and the training tokens per second;
    every validation pass a line reports its loss. With ``tensorboard_dir`` the same
    figures are written there as TensorBoard scalars (``train/loss_bits``, ``train/lr``,
    ``train/tokens_per_second``, ``validation/loss_bits``), by step.

    Args:
        dataset: the days to train and validate on, with their tokenizer.
        config: the hyper-parameters.
        progress: show a progress bar (the lines are printed either way).
        tensorboard_dir: folder for TensorBoard event files; None writes none.
    """
    device = resolve_device(config.device, "TrainConfig.device")
    tok = dataset.tokenizer
    model_config = config.model_config(6 * tok.n_price, tok.n_size, tok.n_time)
    torch.manual_seed(config.seed)
    model = LMM(model_config).to(device)
    if config.profile:
        missing = [d.name for d in dataset.days if d.profile is None]
        if missing:
            raise ValueError(f"no stock profile (too few training orders): {', '.join(missing)}")
        center = np.mean([d.profile for d in dataset.days], axis=0)
        model.profile_center.copy_(torch.from_numpy(center))
    days = dataset.days
    if config.mirror:
        days += tuple(_mirrored(day, tok) for day in dataset.days)
    if config.memory:  # what the model reads at each order
        days = tuple(replace(d, features=d.inputs(N_MEMORY_FEATURES)) for d in days)
    starts = _window_starts(days, config.context, config.subsample)
    if not len(starts):
        raise ValueError(f"no training day has more than {config.context + 1} training orders")
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
    history: list[dict] = []
    best = (float("inf"), 0, None)
    steps = range(1, config.steps + 1)
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(steps, desc="train-lmm", unit="step")
        steps = bar
    log = _TrainingLog(config.steps, bar, tensorboard_dir)
    start = time.perf_counter()
    train_time = 0.0
    running_loss = torch.zeros((), device=device)  # summed on the device: no sync per step
    interval = (0, 0.0)  # (steps, seconds) since the last line
    for step in steps:
        t0 = time.perf_counter()
        model.train()
        for group in opt.param_groups:
            group["lr"] = _lr(step, config)
        x, f, y, p = _batch(days, starts, rng, config, device)
        loss = -model.log_prob(model(x, f, profile=p), y).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        seconds = time.perf_counter() - t0
        train_time += seconds
        running_loss += loss.detach()
        interval = (interval[0] + 1, interval[1] + seconds)
        if step % config.log_every == 0 or step == config.steps:
            tokens = interval[0] * config.batch_size * config.context
            log.train(
                step,
                running_loss.item() / interval[0] / LN2,
                opt.param_groups[0]["lr"],
                tokens / max(interval[1], 1e-9),
            )
            running_loss.zero_()
            interval = (0, 0.0)
        if step % config.eval_every == 0 or step == config.steps:
            val = validation_bits(model, dataset.days, config.context, device)
            log.validation(step, val)
            history.append({"step": step, "train_bits": loss.item() / LN2, "validation_bits": val})
            if val < best[0]:
                best = (val, step, {k: v.detach().clone() for k, v in model.state_dict().items()})
            if bar is not None:
                bar.set_postfix(train=f"{loss.item() / LN2:.3f}", val=f"{val:.3f}", refresh=False)
    log.close()
    if best[2] is not None:
        model.load_state_dict(best[2])
    model.eval()
    return TrainResult(
        model=model,
        history=history,
        best_validation_bits=best[0],
        best_step=best[1],
        seconds=time.perf_counter() - start,
        tokens_per_second=config.steps * config.batch_size * config.context / max(train_time, 1e-9),
        parameters=model.num_parameters(),
        device=str(device),
        # real orders only: a mirrored day's are the same orders
        n_train_orders=_orders_seen(dataset.days, starts, config.context),
        n_validation_orders=dataset.n_validation,
    )


class _TrainingLog:
    """Lines of training figures (above the progress bar, if any) and, with a folder, the
    same figures as TensorBoard scalars."""

    def __init__(self, steps: int, bar: tqdm | None, tensorboard_dir: str | Path | None) -> None:
        self.steps, self.bar = steps, bar
        self.writer = None
        if tensorboard_dir is not None:
            from torch.utils.tensorboard import SummaryWriter

            self.writer = SummaryWriter(str(tensorboard_dir))

    def train(self, step: int, loss_bits: float, lr: float, tokens_per_second: float) -> None:
        """Report the training figures at ``step``."""
        self._print(
            f"step {step:>{len(str(self.steps))}}/{self.steps}  train {loss_bits:.4f} bits  "
            f"lr {lr:.2e}  {tokens_per_second:,.0f} tokens/s"
        )
        if self.writer is not None:
            self.writer.add_scalar("train/loss_bits", loss_bits, step)
            self.writer.add_scalar("train/lr", lr, step)
            self.writer.add_scalar("train/tokens_per_second", tokens_per_second, step)

    def validation(self, step: int, loss_bits: float) -> None:
        """Report a validation pass at ``step``."""
        self._print(
            f"step {step:>{len(str(self.steps))}}/{self.steps}  validation {loss_bits:.4f} bits"
        )
        if self.writer is not None:
            self.writer.add_scalar("validation/loss_bits", loss_bits, step)

    def close(self) -> None:
        """Flush and close the event file."""
        if self.writer is not None:
            self.writer.close()

    def _print(self, line: str) -> None:
        if self.bar is not None:
            self.bar.write(line)
        else:
            print(line, flush=True)


@torch.no_grad()
def sequence_nll_bits(
    model: LMM,
    tokens: np.ndarray,
    features: np.ndarray,
    targets: np.ndarray,
    context: int,
    device: torch.device | str = "cpu",
    batch: int = 64,
    profile: np.ndarray | None = None,
) -> np.ndarray:
    """Negative log-likelihood in bits of each order ``j`` in ``targets`` (indices >= 1).

    ``profile`` is the sequence's stock profile, for a model conditioned on one (None: its
    default).

    Targets are taken in chunks of ``context // 2``; each chunk is predicted from the
    ``context`` positions that end just before its last target, so every target is scored
    from at least ``context // 2`` preceding orders (fewer only at a sequence's start).
    """
    targets = np.asarray(targets)
    if len(targets) and targets.min() < 1:
        raise ValueError("the first order of a sequence has no context to be scored from")
    was_training = model.training
    model.eval()
    half = max(context // 2, 1)
    chunks = [targets[i : i + half] for i in range(0, len(targets), half)]
    scores: list[np.ndarray] = []
    for i in range(0, len(chunks), batch):
        group = chunks[i : i + batch]
        # window r holds inputs first[r] .. chunk[-1] - 1; input p predicts order p + 1
        first = [max(int(c[-1]) - context, 0) for c in group]
        width = max(int(c[-1]) - f for c, f in zip(group, first, strict=True))
        x = np.zeros((len(group), width), dtype=np.int64)
        f = np.zeros((len(group), width, features.shape[1]), dtype=np.float32)
        y = np.zeros((len(group), width), dtype=np.int64)
        for r, (c, start) in enumerate(zip(group, first, strict=True)):
            n = int(c[-1]) - start
            x[r, :n] = tokens[start : start + n]
            f[r, :n] = features[start : start + n]
            y[r, :n] = tokens[start + 1 : start + n + 1]
        p = None
        if profile is not None and model.config.n_profile_features:
            p = torch.from_numpy(np.tile(profile, (len(group), 1))).to(device)
        h = model(torch.from_numpy(x).to(device), torch.from_numpy(f).to(device), profile=p)
        log_p = model.log_prob(h, torch.from_numpy(y).to(device)).cpu().numpy()
        for r, (c, start) in enumerate(zip(group, first, strict=True)):
            scores.append(-log_p[r, c - 1 - start] / LN2)
    model.train(was_training)
    return np.concatenate(scores) if scores else np.zeros(0)


def validation_bits(
    model: LMM, days: tuple[DayData, ...], context: int, device: torch.device | str = "cpu"
) -> float:
    """Mean NLL per validation order in bits, over all days."""
    total, count = 0.0, 0
    for day in days:
        targets = np.flatnonzero(day.is_validation)
        targets = targets[targets >= 1]
        if len(targets):
            bits = sequence_nll_bits(
                model,
                day.tokens,
                day.inputs(model.config.n_memory_features),
                targets,
                context,
                device,
                profile=day.profile,
            )
            total += bits.sum()
            count += len(bits)
    return float(total / count) if count else float("nan")


#: Length of the blocks that ``TrainConfig.subsample`` keeps one in every so many of.
SUBSAMPLE_BLOCK_NS = 10 * 60 * NS_PER_SECOND


def _window_starts(days: tuple[DayData, ...], context: int, subsample: int = 1) -> np.ndarray:
    """(day, start) pairs whose window and its targets lie in the training part, and whose
    first order falls in a kept block (one in every ``subsample`` ten-minute blocks,
    counted from each day's first order)."""
    pairs = []
    for d, day in enumerate(days):
        n_train = int(np.argmax(day.is_validation)) if day.is_validation.any() else len(day.flow)
        last = n_train - context - 1  # the window's targets end at start + context
        if last >= 0:
            start = np.arange(last + 1)
            time = day.flow["time"][start]
            start = start[(time - time[0]) // SUBSAMPLE_BLOCK_NS % subsample == 0]
            pairs.append(np.stack([np.full(len(start), d), start], axis=1))
    return np.concatenate(pairs) if pairs else np.zeros((0, 2), dtype=np.int64)


def _mirrored(day: DayData, tokenizer: OrderTokenizer) -> DayData:
    """``day`` with buy and sell swapped in what training reads of it: its tokens
    (:meth:`OrderTokenizer.mirror`), book features (:func:`lmm.model.features.mirror_features`)
    and memory features (all signed: they change sign).
    Its flow and books stay the real day's; it is not meant for anything else."""
    return replace(
        day,
        name=f"{day.name} (mirrored)",
        tokens=tokenizer.mirror(day.tokens),
        features=mirror_features(day.features),
        memory=None if day.memory is None else -day.memory,
    )


def _orders_seen(days: tuple[DayData, ...], starts: np.ndarray, context: int) -> int:
    """How many distinct orders the windows starting at ``starts`` cover (inputs and
    targets)."""
    total = 0
    for d, day in enumerate(days):
        covered = np.zeros(len(day.flow) + 1, dtype=np.int64)
        first = starts[starts[:, 0] == d, 1]
        np.add.at(covered, first, 1)
        np.add.at(covered, first + context + 1, -1)
        total += int((np.cumsum(covered)[:-1] > 0).sum())
    return total


def _batch(
    days: tuple[DayData, ...],
    starts: np.ndarray,
    rng: np.random.Generator,
    config: TrainConfig,
    device: torch.device,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor | None]:
    """A batch of training windows: tokens, features, next tokens and, for a recipe with
    profiles, each window's day profile (None without)."""
    picks = starts[rng.integers(0, len(starts), config.batch_size)]
    ctx = config.context
    x = np.stack([days[d].tokens[s : s + ctx] for d, s in picks])
    f = np.stack([days[d].features[s : s + ctx] for d, s in picks])
    y = np.stack([days[d].tokens[s + 1 : s + ctx + 1] for d, s in picks])
    p = None
    if config.profile:
        p = torch.from_numpy(np.stack([days[d].profile for d, _ in picks])).to(device)
    return (
        torch.from_numpy(x).to(device),
        torch.from_numpy(f).to(device),
        torch.from_numpy(y).to(device),
        p,
    )


def _lr(step: int, config: TrainConfig) -> float:
    if step <= config.warmup:
        return config.lr * step / config.warmup
    progress = (step - config.warmup) / max(config.steps - config.warmup, 1)
    return config.lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * progress)))
