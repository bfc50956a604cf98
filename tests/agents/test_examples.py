"""Each example runs end to end with a tiny budget."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
from stable_baselines3 import PPO

from agents.trained import ObsNormalizer, normalizer_path

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def _load(name: str):
    spec = importlib.util.spec_from_file_location(name, EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_quickstart(tiny_checkpoint_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    result = _load("quickstart").main(
        ["--checkpoint", str(tiny_checkpoint_dir), "--quantity", "300", "--horizon", "4"]
    )
    assert result["steps"] == 4 and result["return"] == pytest.approx(-result["shortfall_bp"])
    assert "implementation shortfall" in capsys.readouterr().out


def test_compare_strategies(tiny_checkpoint_dir: Path) -> None:
    result = _load("compare_strategies").main(
        [
            "--checkpoint",
            str(tiny_checkpoint_dir),
            "--episodes",
            "2",
            "--horizon",
            "3",
            "--policies",
            "twap_passive",
            "all_at_market",
        ]
    )
    assert {r["policy"] for r in result["rows"]} == {"twap_passive", "all_at_market"}


@pytest.mark.parametrize("workers", ["1", "2"])
def test_train_execution(tiny_ppo_flags: list[str], tmp_path: Path, workers: str) -> None:
    from agents.train_ppo import main

    model = main(
        ["--task", "execution", "--total-timesteps", "64", "--save-every", "0",
         "--out", str(tmp_path / "ppo"), "--workers", workers, *tiny_ppo_flags]
    )  # fmt: skip
    assert model.exists()
    # the observation statistics it trained with travel beside it, as JSON
    normalizer = ObsNormalizer.load(normalizer_path(model))
    assert len(normalizer.mean) == PPO.load(model).observation_space.shape[0]
    assert _load("train_execution").main is main  # the example is this entry point


def test_train_args_are_checked() -> None:
    from agents.train_ppo import Args

    with pytest.raises(ValueError, match="inventory_penalty"):
        Args(task="market-making", inventory_penalty=-1.0)
    with pytest.raises(ValueError, match="max_minutes"):
        Args(max_minutes=float("nan"))
    with pytest.raises(ValueError, match="task"):
        Args(task="arbitrage")
    with pytest.raises(ValueError, match=r"workers must be in 1\.\.num_envs \(64\), got 65"):
        Args(workers=65)
