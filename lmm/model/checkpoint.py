"""Saving and loading LMM checkpoints: weights, model config, tokenizer bins, provenance.

A checkpoint is a folder with two files:

* ``model.pt``: the model's ``state_dict``, loaded with ``torch.load(weights_only=True)``
  (tensors only; nothing is unpickled);
* ``lmm.json``: the format version, the model config, the fitted tokenizer and the
  training metadata (data, split, losses, time), so a checkpoint documents itself.

Four checkpoints ship inside the package (:data:`PACKAGED`), trained by ``mars-gym
train-lmm``: ``default`` (:data:`DEFAULT_CHECKPOINT`), the one every published figure is
measured on; ``fast``, a smaller model that drives the environments 2.3-2.6 times as fast
and generates a less faithful market; ``profile``, conditioned on a stock profile and
fine-tuned by ``mars-gym tune-lmm``, closer to the real flow by LOB-Bench's scores but
slower and quicker to react to an agent's orders (the LMM page weighs it as the default);
and ``scenario``, the default fine-tuned by ``mars-gym tune-lmm --outlook`` to follow
scenarios (:mod:`lmm.model.outlook`, :mod:`mars_gym.scenario`). Wherever a checkpoint
folder is asked for, one of these names may stand in for it.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

import torch

from lmm.model.tokenizer import OrderTokenizer
from lmm.model.transformer import LMM, LMMConfig
from lmm.results import read_versioned_json

__all__ = [
    "DEFAULT_CHECKPOINT",
    "PACKAGED",
    "Checkpoint",
    "CheckpointError",
    "checkpoint_folder",
    "fingerprint",
    "load_checkpoint",
    "save_checkpoint",
]

_SHIPPED = Path(__file__).resolve().parents[1] / "checkpoints"
#: The checkpoints shipped with the package, by name (see the module docstring).
PACKAGED = {
    "default": _SHIPPED / "default",
    "fast": _SHIPPED / "fast",
    "profile": _SHIPPED / "profile",
    "scenario": _SHIPPED / "scenario",
}
#: The checkpoint used when none is named.
DEFAULT_CHECKPOINT = PACKAGED["default"]
FORMAT_VERSION = 1
_WEIGHTS = "model.pt"
_META = "lmm.json"


class CheckpointError(ValueError):
    """A checkpoint folder is missing, incomplete or inconsistent."""


@dataclass
class Checkpoint:
    """A loaded checkpoint: the model (in eval mode), its tokenizer and metadata."""

    model: LMM
    tokenizer: OrderTokenizer
    metadata: dict = field(default_factory=dict)
    path: Path | None = None


def checkpoint_folder(path: str | Path | None = None) -> Path:
    """The folder of a checkpoint: the packaged checkpoint a string names (``"default"`` or
    ``"fast"``; write ``"./fast"`` for a folder of that name), the packaged default when
    ``path`` is None, else ``path`` itself (a ``Path`` is always a folder)."""
    if path is None:
        return DEFAULT_CHECKPOINT
    if isinstance(path, str) and path in PACKAGED:
        return PACKAGED[path]
    return Path(path)


def fingerprint(path: str | Path | None = None) -> str:
    """A short hash of a checkpoint's files (``path`` as :func:`checkpoint_folder` reads
    it): results generated with different checkpoints never share one."""
    path = checkpoint_folder(path)
    digest = hashlib.sha256()
    for name in (_META, _WEIGHTS):
        try:
            digest.update((path / name).read_bytes())
        except OSError as exc:
            raise CheckpointError(f"cannot read checkpoint file {path / name}: {exc}") from None
    return digest.hexdigest()[:16]


def save_checkpoint(
    path: str | Path, model: LMM, tokenizer: OrderTokenizer, metadata: dict | None = None
) -> Path:
    """Write ``model``, ``tokenizer`` and ``metadata`` to the folder ``path``."""
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    torch.save(state, path / _WEIGHTS)
    meta = {
        "format_version": FORMAT_VERSION,
        "model": model.config.to_dict(),
        "tokenizer": tokenizer.to_dict(),
        "metadata": metadata or {},
    }
    (path / _META).write_text(json.dumps(meta, indent=1) + "\n")
    return path


def load_checkpoint(
    path: str | Path | None = None, device: str | torch.device = "cpu"
) -> Checkpoint:
    """Load a checkpoint: a folder, a packaged name, or the packaged default when ``path``
    is None (see :func:`checkpoint_folder`).

    Raises:
        CheckpointError: the folder lacks a file, the JSON is not a checkpoint description,
            or the weights do not fit the described model.
    """
    path = checkpoint_folder(path)
    weights, meta_file = path / _WEIGHTS, path / _META
    for f in (weights, meta_file):
        if not f.is_file():
            raise CheckpointError(
                f"{path}: not an LMM checkpoint ({f.name} is missing; packaged checkpoints: "
                f"{', '.join(PACKAGED)})"
            )
    meta = read_versioned_json(meta_file, FORMAT_VERSION, "checkpoint", CheckpointError)
    try:
        config = LMMConfig(**meta["model"])
        tokenizer = OrderTokenizer.from_dict(meta["tokenizer"])
    except (KeyError, TypeError, ValueError) as exc:
        raise CheckpointError(f"{meta_file}: bad model or tokenizer description: {exc}") from None
    if config.n_kp != 6 * tokenizer.n_price or (config.n_size, config.n_time) != (
        tokenizer.n_size,
        tokenizer.n_time,
    ):
        raise CheckpointError(f"{meta_file}: the model's token fields do not match the tokenizer")
    try:
        state = torch.load(weights, map_location=device, weights_only=True)
    except Exception as exc:  # torch raises several types for corrupt or foreign files
        raise CheckpointError(
            f"{weights}: cannot read weights ({type(exc).__name__}: {exc})"
        ) from None
    model = LMM(config).to(device)
    try:
        model.load_state_dict(state)
    except (RuntimeError, TypeError, AttributeError) as exc:
        raise CheckpointError(
            f"{weights}: weights do not fit the model in {_META}: {exc}"
        ) from None
    model.eval()
    return Checkpoint(
        model=model, tokenizer=tokenizer, metadata=meta.get("metadata", {}), path=path
    )
