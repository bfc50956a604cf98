"""``python -m agents.train_ppo`` logs episode figures and losses, to stdout and TensorBoard."""

from __future__ import annotations

import re
from pathlib import Path

import pytest


@pytest.mark.parametrize(
    ("task", "figure"),
    [("execution", "ep_shortfall_bp_mean"), ("market-making", "ep_pnl_mean")],
)
def test_train_ppo_logs_to_stdout_and_tensorboard(
    task: str,
    figure: str,
    tiny_ppo_flags: list[str],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    from agents.train_ppo import main

    main(
        ["--task", task, "--total-timesteps", "64", "--save-every", "0",
         "--out", str(tmp_path / "ppo"), "--tensorboard", str(tmp_path / "tb"), *tiny_ppo_flags]
    )  # fmt: skip
    out = capsys.readouterr().out
    logged = set(re.findall(r"^\|\s+(\w+)\s+\|", out, re.MULTILINE))  # SB3's table rows
    assert {"ep_rew_mean", "ep_len_mean", "value_loss", "policy_gradient_loss", "fps"} <= logged
    (events,) = (tmp_path / "tb").glob("events.out.tfevents.*")
    scalars = set(EventAccumulator(str(events)).Reload().Tags()["scalars"])
    assert {"rollout/ep_rew_mean", "train/value_loss", "train/policy_gradient_loss"} <= scalars
    # the untrained policy ends episodes within this short run, in both tasks
    assert figure in logged and f"rollout/{figure}" in scalars
