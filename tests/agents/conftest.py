"""Shared settings of the agents' tests."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture
def tiny_ppo_flags(tiny_checkpoint_dir: Path) -> list[str]:
    """``agents.train_ppo`` flags for a run of seconds on the tiny LMM checkpoint."""
    return [
        "--num-envs", "2", "--n-steps", "16", "--batch-size", "16", "--n-epochs", "1",
        "--checkpoint", str(tiny_checkpoint_dir),
    ]  # fmt: skip
