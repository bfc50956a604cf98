"""A training run's state on disk, so that a stopped run resumes exactly where it was.

A run state is a folder:

* ``state.json``: the format version, the step reached, the recipe (``TrainConfig`` as a
  dict), the number of processes, the window sampler's generator state (the data
  position), the best validation loss so far and its step, the history, the running
  training loss since the last log line, what the run trains on (its days and tokenizer,
  checked on resume) and the caller's own description of the run (``run``; ``train-lmm``
  keeps its files and flags there to rebuild the dataset);
* ``model.pt``, ``optimizer.pt`` and ``best_model.pt``: the weights, AdamW's moments and
  the best weights so far, tensors only, loaded with ``torch.load(weights_only=True)``;
* ``rng.pt``: each process's torch generator states (CPU, and its GPU's), which dropout
  draws from.

Rank 0 writes it into a fresh folder beside the old one and swaps them, so a run killed
while saving still has its previous state.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import torch

from lmm.results import read_versioned_json

__all__ = ["FORMAT_VERSION", "RunState", "RunStateError", "load_run_state", "save_run_state"]

FORMAT_VERSION = 1
_JSON = "state.json"
_TENSORS = ("model", "optimizer", "best_model", "rng")


class RunStateError(ValueError):
    """A run state is missing, unreadable, or does not belong to the run resuming it."""


@dataclass
class RunState:
    """Everything a training loop needs to go on from ``step`` as if never stopped."""

    step: int
    config: dict
    world: int
    sampler: dict
    best_bits: float
    best_step: int
    history: list[dict]
    running_loss: float
    interval: tuple[int, float]
    train_time: float
    seconds: float
    data: dict
    model: dict[str, torch.Tensor]
    optimizer: dict
    rng: list[dict[str, torch.Tensor]]
    best_model: dict[str, torch.Tensor] | None = None
    run: dict = field(default_factory=dict)

    def check(self, config: dict, world: int, data: dict) -> None:
        """Raise :class:`RunStateError` unless this state belongs to a run with this recipe
        (but its device), number of processes and data."""
        mine = {k: v for k, v in self.config.items() if k != "device"}
        theirs = {k: v for k, v in config.items() if k != "device"}
        if mine != theirs:
            changed = sorted(k for k in mine.keys() | theirs.keys() if mine.get(k) != theirs.get(k))
            raise RunStateError(
                "the run state was saved by another recipe: "
                + ", ".join(f"{k} {mine.get(k)!r} there, {theirs.get(k)!r} here" for k in changed)
            )
        if self.world != world:
            raise RunStateError(
                f"the run was saved by {self.world} process(es); resume it with as many "
                f"(here {world}), or the windows each process draws would change"
            )
        if self.data != data:
            keys = sorted(self.data.keys() | data.keys())
            which = [k for k in keys if self.data.get(k) != data.get(k)]
            raise RunStateError(
                f"the run state was saved on other data (its {' and '.join(which)} differ)"
            )


def save_run_state(path: str | Path, state: RunState) -> Path:
    """Write ``state`` to the folder ``path``, replacing what was there only once the new
    state is complete."""
    path = Path(path)
    fresh, old = path.with_name(path.name + ".new"), path.with_name(path.name + ".old")
    shutil.rmtree(fresh, ignore_errors=True)
    fresh.mkdir(parents=True)
    for name in _TENSORS:
        value = getattr(state, name)
        if value is not None:
            torch.save(_to_cpu(value), fresh / f"{name}.pt")
    meta = {k: getattr(state, k) for k in state.__dataclass_fields__ if k not in _TENSORS}
    meta = {"format_version": FORMAT_VERSION, **meta}
    (fresh / _JSON).write_text(json.dumps(meta, indent=1) + "\n")
    shutil.rmtree(old, ignore_errors=True)
    if path.exists():
        path.rename(old)
    fresh.rename(path)
    shutil.rmtree(old, ignore_errors=True)
    return path


def load_run_state(path: str | Path) -> RunState:
    """Read a run state written by :func:`save_run_state` (tensors only are unpickled).

    Raises:
        RunStateError: the folder is missing, lacks a file, or holds another format.
    """
    path = Path(path)
    meta_file = path / _JSON
    if not meta_file.is_file():
        raise RunStateError(
            f"{path}: not a training run state ({_JSON} is missing; "
            "train-lmm --save-every N writes one into the checkpoint folder's state/)"
        )
    meta = read_versioned_json(meta_file, FORMAT_VERSION, "run state", RunStateError)
    meta.pop("format_version")
    tensors = {}
    for name in _TENSORS:
        file = path / f"{name}.pt"
        if name == "best_model" and not file.exists():
            tensors[name] = None
            continue
        try:
            tensors[name] = torch.load(file, map_location="cpu", weights_only=True)
        except Exception as exc:  # torch raises several types for missing or foreign files
            raise RunStateError(f"{file}: cannot read ({type(exc).__name__}: {exc})") from None
    try:
        state = RunState(**meta, **tensors)
    except TypeError as exc:
        raise RunStateError(f"{meta_file}: not a run state description ({exc})") from None
    state.interval = tuple(state.interval)
    return state


def _to_cpu(value: object) -> object:
    """``value`` with every tensor in it moved to the CPU (for files any machine reads)."""
    if isinstance(value, torch.Tensor):
        return value.detach().cpu()
    if isinstance(value, dict):
        return {k: _to_cpu(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_to_cpu(v) for v in value)
    return value
