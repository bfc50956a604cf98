"""Training the LMM on LOBSTER days: next-order prediction with a time-split validation.

Training windows are drawn at random (from a seeded generator) from the training part of
each day; the validation loss is the negative log-likelihood per order, in bits, of every
validation order, each scored with at least half a context of preceding orders. The weights
with the best validation loss are the ones saved.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path

import numpy as np
import torch
from torch import nn

from lmm.device import resolve_device
from lmm.model.dataset import DayData, OrderDataset
from lmm.model.distributed import Distributed
from lmm.model.features import N_BOOK_FEATURES, mirror_features
from lmm.model.memory import N_MEMORY_FEATURES
from lmm.model.outlook import N_OUTLOOK_FEATURES, outlook_range
from lmm.model.profile import N_PROFILE_FEATURES
from lmm.model.run_state import RunState, load_run_state, save_run_state
from lmm.model.sizes import flops_per_token
from lmm.model.tokenizer import OrderTokenizer
from lmm.model.training_log import TrainingLog
from lmm.model.transformer import LMM, LMMConfig
from lmm.model.windows import WindowSampler

__all__ = [
    "TrainConfig",
    "TrainResult",
    "adamw",
    "descend",
    "mirrored_day",
    "sequence_nll_bits",
    "train",
    "training_batch",
]

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
            the books, :func:`mirrored_day`), twice the training windows; validation stays on
            the real days. Needs the same_side_best price reference.
        profile: condition the model on each day's stock profile (:mod:`lmm.model.profile`),
            computed over the day's training part; the model stores the mean over the days
            as its default profile.
        memory: give the model the memory features (:mod:`lmm.model.memory`) of every
            order after its book features.
        outlook: give the model the outlook features (:mod:`lmm.model.outlook`: what the
            coming minute realised) of every order after those, the condition a scenario
            sets in simulation; the model stores their range in the training parts.
        outlook_dropout: the share of training windows whose outlook is dropped (read as
            unknown), so that the model also generates without a scenario.
        bf16: on a CUDA GPU, run the training steps in bfloat16 autocast (mixed
            precision; validation stays in float32); the CPU always trains in float32.
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
    outlook: bool = False
    outlook_dropout: float = 0.3
    bf16: bool = True

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
        if not 0.0 <= self.outlook_dropout <= 1.0:
            raise ValueError(
                f"TrainConfig.outlook_dropout must be in [0, 1], got {self.outlook_dropout}"
            )
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
            n_outlook_features=N_OUTLOOK_FEATURES if self.outlook else 0,
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
    flops_per_token: int = 0
    processes: int = 1

    def summary(self) -> dict:
        """JSON-serialisable figures (without the model)."""
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name != "model"}


def train(
    dataset: OrderDataset,
    config: TrainConfig,
    progress: bool = True,
    tensorboard_dir: str | Path | None = None,
    *,
    distributed: Distributed | None = None,
    state_dir: str | Path | None = None,
    save_every: int = 0,
    resume: str | Path | RunState | None = None,
    stop_after: int | None = None,
    run_info: dict | None = None,
) -> TrainResult:
    """Train a fresh LMM on ``dataset`` (or go on with a saved run) and return it with its
    validation history.

    At the start a line reports the model's parameters and FLOPs per token. Every
    ``config.log_every`` steps a line reports the step, the mean training loss since the
    last line (bits per order), the learning rate and the training tokens per second;
    every validation pass a line reports its loss. With ``tensorboard_dir`` the same
    figures are written there as TensorBoard scalars (``train/loss_bits``, ``train/lr``,
    ``train/tokens_per_second``, ``validation/loss_bits``), by step.

    Under torchrun (``distributed`` with several processes) each process trains the model
    wrapped in ``DistributedDataParallel`` on its slice of every global batch of
    ``config.batch_size x world`` windows (:class:`lmm.model.windows.WindowSampler`),
    validation is shared out between the processes, and only rank 0 prints, writes
    TensorBoard events and saves run states. Alone, a run is what it always was, bit for bit.

    Args:
        dataset: the days to train and validate on, with their tokenizer.
        config: the hyper-parameters.
        progress: show a progress bar (the lines are printed either way).
        tensorboard_dir: folder for TensorBoard event files; None writes none.
        distributed: this process's place in the run (default: alone, on ``config.device``).
        state_dir: folder for the run's state (:mod:`lmm.model.run_state`), written every
            ``save_every`` steps and at the end; None writes none.
        save_every: steps between run states (0: none).
        resume: a run state (or its folder) of this run to go on from: the result equals
            an uninterrupted run's bit for bit on the CPU.
        stop_after: stop after this step (saving the run state there), to go on later
            with ``resume``: for a run split over jobs of limited length. The result holds
            the best weights so far.
        run_info: the caller's description of the run, saved with each run state.

    Raises:
        RunStateError: ``resume`` is unreadable or belongs to another recipe, data or number
            of processes.
    """
    run = distributed or Distributed(device=resolve_device(config.device, "TrainConfig.device"))
    device = run.device
    tok = dataset.tokenizer
    model_config = config.model_config(6 * tok.n_price, tok.n_size, tok.n_time)
    torch.manual_seed(config.seed)
    model = LMM(model_config).to(device)
    if run.rank:  # its own dropout masks (rank 0 keeps the seed's stream, as when alone)
        torch.manual_seed(int(np.random.SeedSequence([config.seed, run.rank]).generate_state(1)[0]))
    if config.profile:
        missing = [d.name for d in dataset.days if d.profile is None]
        if missing:
            raise ValueError(f"no stock profile (too few training orders): {', '.join(missing)}")
        center = np.mean([d.profile for d in dataset.days], axis=0)
        model.profile_center.copy_(torch.from_numpy(center))
    days = dataset.days
    if config.mirror:
        days += tuple(mirrored_day(day, tok) for day in dataset.days)
    if config.outlook:
        model.outlook_range.copy_(torch.from_numpy(outlook_range(dataset.days)))
    # what the model reads at each order
    days = tuple(
        replace(
            d, features=d.inputs(model_config.n_memory_features, model_config.n_outlook_features)
        )
        for d in days
    )
    sampler = WindowSampler(days, config.context, config.subsample, config.seed)
    opt = adamw(model, config.lr, config.weight_decay)
    data = _data_signature(dataset)
    loop = _Loop([], (float("inf"), 0, None), torch.zeros((), device=device))
    first = 1
    if resume is not None:
        state = resume if isinstance(resume, RunState) else load_run_state(resume)
        state.check(asdict(config), run.world, data)
        model.load_state_dict(state.model)
        opt.load_state_dict(state.optimizer)
        sampler.state = state.sampler
        torch.set_rng_state(state.rng[run.rank]["cpu"])
        if device.type == "cuda" and "cuda" in state.rng[run.rank]:
            torch.cuda.set_rng_state(state.rng[run.rank]["cuda"], device)
        loop = _Loop.resumed(state, device)
        first = state.step + 1
    net: nn.Module = _StepLoss(model)
    if run.world > 1:
        net = nn.parallel.DistributedDataParallel(
            net, device_ids=[device.index] if device.type == "cuda" else None
        )
    flops = flops_per_token(model)
    last = config.steps if stop_after is None else min(max(stop_after, first), config.steps)
    steps = range(first, last + 1)
    bar = None
    if progress and run.is_main:
        from tqdm import tqdm

        bar = tqdm(steps, desc="train-lmm", unit="step", initial=first - 1, total=config.steps)
        steps = bar
    log = TrainingLog(config.steps, bar, tensorboard_dir if run.is_main else None, run.is_main)
    log.start(model.num_parameters(), flops, run.world, config.batch_size * run.world, device)
    start = time.perf_counter() - loop.seconds
    autocast = torch.autocast(device.type, dtype=torch.bfloat16, enabled=_bf16(config, device))
    for step in steps:
        t0 = time.perf_counter()
        model.train()
        for group in opt.param_groups:
            group["lr"] = _lr(step, config)
        picks = sampler.draw(config.batch_size, run.rank, run.world)
        drops = outlook_drops(config, step, config.batch_size * run.world)
        drops = drops[run.rank * config.batch_size : (run.rank + 1) * config.batch_size]
        with autocast:
            loss = net(*training_batch(days, picks, config, device, drops))
        descend(model, opt, loss)
        seconds = time.perf_counter() - t0
        loop.train_time += seconds
        loop.running_loss += loss.detach()
        loop.interval = (loop.interval[0] + 1, loop.interval[1] + seconds)
        if step % config.log_every == 0 or step == config.steps:
            tokens = loop.interval[0] * config.batch_size * run.world * config.context
            per_second = tokens / max(loop.interval[1], 1e-9)
            log.train(
                step,
                run.mean(loop.running_loss.item() / loop.interval[0]) / LN2,
                opt.param_groups[0]["lr"],
                per_second,
                3 * flops * per_second,
            )
            loop.running_loss.zero_()
            loop.interval = (0, 0.0)
        if step % config.eval_every == 0 or step == config.steps:
            val = validation_bits(model, dataset.days, config.context, device, run)
            log.validation(step, val)
            train_bits = run.mean(loss.item()) / LN2
            loop.history.append({"step": step, "train_bits": train_bits, "validation_bits": val})
            if val < loop.best[0]:
                snapshot = {k: v.detach().clone() for k, v in model.state_dict().items()}
                loop.best = (val, step, snapshot)
            if bar is not None:
                bar.set_postfix(train=f"{train_bits:.3f}", val=f"{val:.3f}", refresh=False)
        if state_dir is not None and save_every and (step % save_every == 0 or step == last):
            loop.seconds = time.perf_counter() - start
            rng = run.gather(_rng_state(device))
            if run.is_main:
                save_run_state(
                    state_dir,
                    loop.state(step, config, run.world, sampler, data, model, opt, rng, run_info),
                )
    log.close()
    if loop.best[2] is not None:
        model.load_state_dict(loop.best[2])
    model.eval()
    return TrainResult(
        model=model,
        history=loop.history,
        best_validation_bits=loop.best[0],
        best_step=loop.best[1],
        seconds=time.perf_counter() - start,
        tokens_per_second=last
        * config.batch_size
        * run.world
        * config.context
        / max(loop.train_time, 1e-9),
        parameters=model.num_parameters(),
        device=str(device),
        # real orders only: a mirrored day's are the same orders
        n_train_orders=sampler.orders_seen(len(dataset.days)),
        n_validation_orders=dataset.n_validation,
        flops_per_token=flops,
        processes=run.world,
    )


class _StepLoss(nn.Module):
    """The training loss of a batch, as one module: what DistributedDataParallel wraps, so
    that the output heads (used by :meth:`LMM.log_prob`, outside :meth:`LMM.forward`) are
    inside the wrapped forward pass."""

    def __init__(self, model: LMM) -> None:
        super().__init__()
        self.model = model

    def forward(
        self, x: torch.Tensor, f: torch.Tensor, y: torch.Tensor, p: torch.Tensor | None
    ) -> torch.Tensor:
        return -self.model.log_prob(self.model(x, f, profile=p), y).mean()


@dataclass
class _Loop:
    """What the training loop carries from step to step besides the model, the optimizer
    and the generators: what a run state saves of it."""

    history: list[dict]
    best: tuple[float, int, dict | None]
    running_loss: torch.Tensor  # summed on the device: no sync per step
    interval: tuple[int, float] = (0, 0.0)  # (steps, seconds) since the last line
    train_time: float = 0.0
    seconds: float = 0.0

    @classmethod
    def resumed(cls, state: RunState, device: torch.device) -> _Loop:
        return cls(
            history=list(state.history),
            best=(state.best_bits, state.best_step, state.best_model),
            running_loss=torch.tensor(state.running_loss, dtype=torch.float32, device=device),
            interval=state.interval,
            train_time=state.train_time,
            seconds=state.seconds,
        )

    def state(
        self,
        step: int,
        config: TrainConfig,
        world: int,
        sampler: WindowSampler,
        data: dict,
        model: LMM,
        opt: torch.optim.Optimizer,
        rng: list,
        run_info: dict | None,
    ) -> RunState:
        return RunState(
            step=step,
            config=asdict(config),
            world=world,
            sampler=sampler.state,
            best_bits=self.best[0],
            best_step=self.best[1],
            history=self.history,
            running_loss=self.running_loss.item(),
            interval=self.interval,
            train_time=self.train_time,
            seconds=self.seconds,
            data=data,
            model=model.state_dict(),
            optimizer=opt.state_dict(),
            rng=rng,
            best_model=self.best[2],
            run=run_info or {},
        )


def _rng_state(device: torch.device) -> dict[str, torch.Tensor]:
    """This process's torch generator states (dropout draws from them)."""
    state = {"cpu": torch.get_rng_state()}
    if device.type == "cuda":
        state["cuda"] = torch.cuda.get_rng_state(device)
    return state


def _data_signature(dataset: OrderDataset) -> dict:
    """What a run state records of its data, to refuse resuming on other data: each day's
    name and order counts, and the tokenizer."""
    return {
        "days": [[d.name, len(d.flow), int(d.is_validation.sum())] for d in dataset.days],
        "tokenizer": json.loads(json.dumps(dataset.tokenizer.to_dict())),
    }


def _bf16(config: TrainConfig, device: torch.device) -> bool:
    """Whether a step runs in bfloat16 autocast: on CUDA with ``config.bf16`` only."""
    return config.bf16 and device.type == "cuda"


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
    shard: tuple[int, int] = (0, 1),
) -> np.ndarray:
    """Negative log-likelihood in bits of each order ``j`` in ``targets`` (indices >= 1).

    ``profile`` is the sequence's stock profile, for a model conditioned on one (None: its
    default). ``shard = (rank, world)`` scores only every ``world``-th group of ``batch``
    chunks, from the ``rank``-th, and leaves the others' bits 0: the processes of a run
    share the work, each group computed as one process would, so the sum of their results
    is one process's result bit for bit.

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
    rank, world = shard
    for g, i in enumerate(range(0, len(chunks), batch)):
        group = chunks[i : i + batch]
        if g % world != rank:
            scores.extend(np.zeros(len(c), dtype=np.float32) for c in group)
            continue
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
    model: LMM,
    days: tuple[DayData, ...],
    context: int,
    device: torch.device | str = "cpu",
    distributed: Distributed | None = None,
) -> float:
    """Mean NLL per validation order in bits, over all days; with ``distributed``, the
    processes of a run share the work and all get the same result (one process's)."""
    rank, world = (distributed.rank, distributed.world) if distributed else (0, 1)
    total, count = 0.0, 0
    for day in days:
        targets = np.flatnonzero(day.is_validation)
        targets = targets[targets >= 1]
        if len(targets):
            bits = sequence_nll_bits(
                model,
                day.tokens,
                day.inputs(model.config.n_memory_features, model.config.n_outlook_features),
                targets,
                context,
                device,
                profile=day.profile,
                shard=(rank, world),
            )
            if distributed is not None:
                bits = distributed.sum_array(bits)
            total += bits.sum()
            count += len(bits)
    return float(total / count) if count else float("nan")


def mirrored_day(day: DayData, tokenizer: OrderTokenizer) -> DayData:
    """``day`` with buy and sell swapped in what training reads of it: its tokens
    (:meth:`OrderTokenizer.mirror`), book features (:func:`lmm.model.features.mirror_features`)
    and memory features (all signed: they change sign), and its outlook's drift.
    Its flow and books stay the real day's; it is not meant for anything else."""
    return replace(
        day,
        name=f"{day.name} (mirrored)",
        tokens=tokenizer.mirror(day.tokens),
        features=mirror_features(day.features),
        memory=None if day.memory is None else -day.memory,
        outlook=None if day.outlook is None else day.outlook * _OUTLOOK_MIRROR,
    )


#: The outlook features' signs in a mirrored day: the drift changes sign.
_OUTLOOK_MIRROR = np.array([1, -1, 1, 1], dtype=np.float32)


def training_batch(
    days: tuple[DayData, ...],
    picks: np.ndarray,
    config: TrainConfig,
    device: torch.device,
    outlook_drop: np.ndarray | None = None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor | None]:
    """The training windows starting at ``picks`` (day, start): tokens, inputs (the days'
    ``features``), next tokens and, for a recipe with profiles, each window's day profile
    (None without). For a recipe with outlook features (the last
    :data:`~lmm.model.outlook.N_OUTLOOK_FEATURES` inputs), the windows where ``outlook_drop``
    is True read them as unknown (zeros)."""
    ctx = config.context
    x = np.stack([days[d].tokens[s : s + ctx] for d, s in picks])
    f = np.stack([days[d].features[s : s + ctx] for d, s in picks])
    if config.outlook and outlook_drop is not None:
        f[np.asarray(outlook_drop, dtype=bool), :, -N_OUTLOOK_FEATURES:] = 0.0
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


def outlook_drops(config: TrainConfig, step: int, n: int) -> np.ndarray:
    """Which of step ``step``'s ``n`` windows (the global batch) drop their outlook: each
    with probability ``config.outlook_dropout``, from a generator of the seed and the step
    alone (so a resumed or distributed run drops the same ones)."""
    rng = np.random.default_rng([config.seed, step, 0x0D0])
    return rng.random(n) < config.outlook_dropout


def adamw(model: nn.Module, lr: float, weight_decay: float) -> torch.optim.AdamW:
    """The recipe's optimiser: AdamW (betas 0.9, 0.95) with weight decay on the weight
    matrices only (biases, norms and other vectors are not decayed)."""
    decay = [p for p in model.parameters() if p.dim() >= 2]
    no_decay = [p for p in model.parameters() if p.dim() < 2]
    return torch.optim.AdamW(
        [
            {"params": decay, "weight_decay": weight_decay},
            {"params": no_decay, "weight_decay": 0.0},
        ],
        lr=lr,
        betas=(0.9, 0.95),
    )


def descend(model: nn.Module, opt: torch.optim.Optimizer, loss: torch.Tensor) -> None:
    """One step of the recipe's update: the gradient of ``loss``, its norm clipped to 1."""
    opt.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    opt.step()


def _lr(step: int, config: TrainConfig) -> float:
    if step <= config.warmup:
        return config.lr * step / config.warmup
    progress = (step - config.warmup) / max(config.steps - config.warmup, 1)
    return config.lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * progress)))
