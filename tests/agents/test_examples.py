"""Each example runs end to end with a tiny budget."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest
from stable_baselines3 import PPO

from agents.trained import ObsNormalizer, normalizer_path

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def _load(name: str):
    spec = importlib.util.spec_from_file_location(name, EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up while it loads
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


def _study_flags(checkpoint: Path, tmp_path: Path) -> list[str]:
    return ["--checkpoint", str(checkpoint), "--horizon", "4", "--batch", "2",
            "--out", str(tmp_path / "out"), "--runs", str(tmp_path / "runs")]  # fmt: skip


def test_multi_agent_study(tiny_checkpoint_dir: Path, tmp_path: Path) -> None:
    """The baseline part: the quantity measured from the volume without the buyer, then
    paired leagues of the maker without and with it, a summary and a figure."""
    pytest.importorskip("pettingzoo")
    flags = _study_flags(tiny_checkpoint_dir, tmp_path)
    baseline = _load("multi_agent_study").main(["--episodes", "3", *flags])
    assert baseline["quantity"] >= 100 and len(baseline["seeds"]) == 3
    rows = baseline["makers"]["avellaneda_stoikov"]["pnl"]["rows"]
    assert {r["policy"] for r in rows} == {"without buyer", "with buyer"}
    assert 0 < baseline["buyer"]["fraction_of_volume"] < 1
    assert (tmp_path / "out" / "baseline.json").is_file()
    assert (tmp_path / "out" / "baseline.png").is_file()


@pytest.mark.slow
def test_multi_agent_study_ppo_part(tiny_checkpoint_dir: Path, tmp_path: Path) -> None:
    """The PPO part trains two makers and plays each in both markets, with the quantity
    the baseline part measured."""
    pytest.importorskip("pettingzoo")
    study = _load("multi_agent_study")
    flags = _study_flags(tiny_checkpoint_dir, tmp_path)
    with pytest.raises(FileNotFoundError, match="run --part baseline first"):
        study.main(["--part", "ppo", *flags])
    baseline = study.main(["--episodes", "2", *flags])
    ppo = study.main(["--part", "ppo", "--ppo-timesteps", "16", "--ppo-num-envs", "2",
                      "--ppo-episodes", "2", *flags])  # fmt: skip
    assert ppo["quantity"] == baseline["quantity"] and len(ppo["makers"]) == 2
    assert (tmp_path / "out" / "ppo.json").is_file()
