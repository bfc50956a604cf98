"""Checkpoints: round trip, and clear errors for anything that is not one."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from lmm.model.checkpoint import (
    DEFAULT_CHECKPOINT,
    PACKAGED,
    Checkpoint,
    CheckpointError,
    checkpoint_folder,
    fingerprint,
    load_checkpoint,
    save_checkpoint,
)
from lmm.model.outlook import N_OUTLOOK_FEATURES


def test_round_trip_restores_weights_tokenizer_and_metadata(
    tiny_checkpoint: Checkpoint, tmp_path: Path
) -> None:
    save_checkpoint(
        tmp_path / "ck", tiny_checkpoint.model, tiny_checkpoint.tokenizer, {"note": "x"}
    )
    loaded = load_checkpoint(tmp_path / "ck")
    assert loaded.tokenizer == tiny_checkpoint.tokenizer
    assert loaded.metadata == {"note": "x"}
    assert loaded.model.config == tiny_checkpoint.model.config
    for (k, a), (_, b) in zip(
        tiny_checkpoint.model.state_dict().items(), loaded.model.state_dict().items(), strict=True
    ):
        assert torch.equal(a, b), k


def _saved(tiny_checkpoint: Checkpoint, path: Path) -> Path:
    return save_checkpoint(path, tiny_checkpoint.model, tiny_checkpoint.tokenizer)


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda p: (p / "model.pt").unlink(), "model.pt is missing"),
        (lambda p: (p / "lmm.json").write_text("{not json"), "not valid JSON"),
        (lambda p: (p / "lmm.json").write_text(json.dumps({"format_version": 99})), "unsupported"),
        (lambda p: (p / "model.pt").write_bytes(b"garbage"), "cannot read weights"),
        (lambda p: torch.save({"x": torch.zeros(2)}, p / "model.pt"), "do not fit the model"),
    ],
)
def test_damaged_checkpoints_raise_checkpoint_error(
    tiny_checkpoint: Checkpoint, tmp_path: Path, damage, message: str
) -> None:
    path = _saved(tiny_checkpoint, tmp_path / "ck")
    damage(path)
    with pytest.raises(CheckpointError, match=message):
        load_checkpoint(path)


def test_pickled_objects_are_refused(tiny_checkpoint: Checkpoint, tmp_path: Path) -> None:
    path = _saved(tiny_checkpoint, tmp_path / "ck")
    torch.save({"weights": Path("not a tensor")}, path / "model.pt")  # an arbitrary object
    with pytest.raises(CheckpointError, match="cannot read weights"):
        load_checkpoint(path)


def test_tokenizer_and_model_must_agree(tiny_checkpoint: Checkpoint, tmp_path: Path) -> None:
    path = _saved(tiny_checkpoint, tmp_path / "ck")
    meta = json.loads((path / "lmm.json").read_text())
    meta["model"]["n_size"] += 1
    (path / "lmm.json").write_text(json.dumps(meta))
    with pytest.raises(CheckpointError, match="do not match the tokenizer"):
        load_checkpoint(path)


def test_the_packaged_default_loads_without_data() -> None:
    ck = load_checkpoint()  # DEFAULT_CHECKPOINT, inside the package
    assert ck.metadata["best_validation_bits"] > 0
    assert sum(f.stat().st_size for f in DEFAULT_CHECKPOINT.iterdir()) <= 25 * 2**20


def test_the_packaged_fast_model_loads_by_name(fingerprint) -> None:
    """``fast``: 2 blocks of width 64, a quarter of the default's size; its generation is
    pinned as the default's is (2 markets x 150 orders from the data-free start)."""
    ck = load_checkpoint("fast")
    assert ck.path == PACKAGED["fast"]
    assert (ck.model.config.n_layer, ck.model.config.n_embd) == (2, 64)
    assert ck.model.num_parameters() < load_checkpoint("default").model.num_parameters() / 4
    assert sum(f.stat().st_size for f in PACKAGED["fast"].iterdir()) <= 25 * 2**20
    assert fingerprint(ck) == "f3a3951cc619a915 0.142456"


def test_the_packaged_profile_model_loads_by_name(fingerprint) -> None:
    """``profile``: the default's shape conditioned on a stock profile (four statistics),
    with its provenance and its training days' profiles in its metadata; its generation is
    pinned as the others' are."""
    ck = load_checkpoint("profile")
    assert ck.path == PACKAGED["profile"]
    assert ck.model.config.n_profile_features == 4
    assert ck.model.num_parameters() == load_checkpoint("default").model.num_parameters() + 640
    assert ck.metadata["tune"]["config"]["rollout_fraction"] == 0.0
    assert "train-lmm --profile" in ck.metadata["provenance"]
    trained = np.array(list(ck.metadata["training_profiles"].values()), dtype=np.float32)
    assert trained.shape == (2, 4)
    np.testing.assert_array_equal(trained.mean(axis=0), ck.model.profile_center.numpy())
    assert sum(f.stat().st_size for f in PACKAGED["profile"].iterdir()) <= 25 * 2**20
    assert fingerprint(ck) == "bdb2846583be3e26 0.236523"


def test_the_packaged_scenario_model_loads_by_name(fingerprint) -> None:
    """``scenario``: the default's shape with outlook inputs (the coming minute's drift,
    volatility and volume), its training range and its chosen guidance; its unconditional
    generation is pinned as the others' are."""
    ck = load_checkpoint("scenario")
    assert ck.path == PACKAGED["scenario"]
    assert ck.model.config.n_outlook_features == N_OUTLOOK_FEATURES
    lo, typical, hi = ck.model.outlook_range.numpy()
    assert lo[0] < 0 < hi[0] and np.all(lo[1:] < typical[1:]) and np.all(typical < hi)
    assert ck.metadata["outlook_guidance"] == 6.0
    assert ck.metadata["tune"]["outlook_added"]
    assert "tune-lmm --outlook" in ck.metadata["provenance"]
    assert sum(f.stat().st_size for f in PACKAGED["scenario"].iterdir()) <= 25 * 2**20
    assert fingerprint(ck) == "deb596b18032580e 0.214295"


def test_a_name_means_a_packaged_checkpoint_and_a_path_a_folder(tmp_path: Path) -> None:
    assert checkpoint_folder(None) == checkpoint_folder("default") == DEFAULT_CHECKPOINT
    assert checkpoint_folder("fast") == PACKAGED["fast"]
    assert checkpoint_folder("./fast") == checkpoint_folder(Path("fast")) == Path("fast")
    with pytest.raises(CheckpointError, match="packaged checkpoints: default, fast"):
        load_checkpoint(tmp_path / "fast")


def test_fingerprint_tells_checkpoints_apart(tiny_checkpoint: Checkpoint, tmp_path: Path) -> None:
    a = save_checkpoint(tmp_path / "a", tiny_checkpoint.model, tiny_checkpoint.tokenizer)
    b = save_checkpoint(tmp_path / "b", tiny_checkpoint.model, tiny_checkpoint.tokenizer)
    assert fingerprint(a) == fingerprint(b) != fingerprint(None)
    changed = copy.deepcopy(tiny_checkpoint.model)
    with torch.no_grad():
        next(changed.parameters()).add_(1.0)
    c = save_checkpoint(tmp_path / "c", changed, tiny_checkpoint.tokenizer)
    assert fingerprint(c) != fingerprint(a)
    with pytest.raises(CheckpointError, match="cannot read checkpoint file"):
        fingerprint(tmp_path)
