"""Baseline policies: what they do on hand-made observations, and the league."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from agents.baselines import (
    EXECUTION_BASELINES,
    TWAP,
    AlmgrenChriss,
    AvellanedaStoikov,
    Passive,
    SymmetricSpread,
)
from agents.benchmark import EVALUATION_SEED_BASE, run_league
from agents.console import benchmark
from agents.console.main import main
from mars_gym.envs.core import OBSERVATION_FIELDS
from mars_gym.envs.execution import CROSS, PASSIVE, ExecutionTask
from mars_gym.envs.market_making import MarketMakingTask


def _obs(task, **values: float) -> np.ndarray:
    names = (*OBSERVATION_FIELDS, *task.extra_fields)
    obs = np.zeros(len(names), dtype=np.float32)
    for k, v in values.items():
        obs[names.index(k)] = v
    return obs


def test_twap_trades_a_slice_per_decision_and_rounds_up_small_remainders() -> None:
    task = ExecutionTask(quantity=2000, horizon=60)
    twap = TWAP(task, PASSIVE)
    assert twap(_obs(task, remaining_fraction=1.0, time_left_fraction=1.0)).tolist() == [4, PASSIVE]
    # 3 shares left on the last decision: still one quarter slice, never 0
    last = twap(_obs(task, remaining_fraction=3 / 2000, time_left_fraction=1 / 60))
    assert last[0] >= 1 and task.child_size(int(last[0])) >= 3


def test_almgren_chriss_front_loads_and_completes() -> None:
    task = ExecutionTask(quantity=2000, horizon=60)
    ac, twap = AlmgrenChriss(task, urgency=0.1), TWAP(task)
    first = _obs(task, remaining_fraction=1.0, time_left_fraction=1.0)
    assert ac(first)[0] > twap(first)[0]
    assert ac.holdings(60) == pytest.approx(2000) and ac.holdings(0) == 0


def test_passive_catches_up_at_market_at_the_end() -> None:
    task = ExecutionTask(quantity=2000, horizon=60)
    p = Passive(task, catch_up=0.1)
    assert p(_obs(task, remaining_fraction=0.5, time_left_fraction=0.5))[1] == PASSIVE
    assert p(_obs(task, remaining_fraction=0.5, time_left_fraction=0.05))[1] == CROSS


def test_avellaneda_stoikov_skews_quotes_against_inventory() -> None:
    task = MarketMakingTask()
    a_s = AvellanedaStoikov(task, gamma=0.1, sigma=1.0, kappa=0.5)
    flat = a_s(_obs(task, inventory=0, elapsed_fraction=0.5))
    long = a_s(_obs(task, inventory=500, elapsed_fraction=0.5))
    assert flat[0] == flat[1]
    assert long[0] > long[1]  # long: bid further away, ask closer, to sell
    assert SymmetricSpread(task, 2, 1)(flat).tolist() == [2, 2, 1, 1]


def test_league_pairs_policies_by_seed(tiny_checkpoint_dir: Path, tmp_path: Path) -> None:
    policies = {k: EXECUTION_BASELINES[k] for k in ("twap_passive", "all_at_market")}
    league = run_league(
        "execution",
        policies,
        episodes=3,
        checkpoint=str(tiny_checkpoint_dir),
        warmup_orders=20,
        horizon=4,
        quantity=300,
    )
    rows = {r["policy"]: r for r in league.rows()}
    assert rows["twap_passive"]["vs_twap_passive"] == 0.0 and rows["twap_passive"]["episodes"] == 3
    lo, hi = rows["all_at_market"]["ci95"]
    assert lo <= rows["all_at_market"]["mean"] <= hi
    league.plot(str(tmp_path / "league.png"))
    assert (tmp_path / "league.png").stat().st_size > 1000
    assert EVALUATION_SEED_BASE >= 1_000_000  # far from training seeds


def test_league_scores_do_not_depend_on_the_number_of_worker_processes(
    tiny_checkpoint_dir: Path,
) -> None:
    policies = {"random": EXECUTION_BASELINES["random"]}
    kwargs = {"checkpoint": str(tiny_checkpoint_dir), "warmup_orders": 20, "horizon": 4}
    one = run_league("execution", policies, episodes=3, batch=3, **kwargs)
    two = run_league("execution", policies, episodes=3, batch=3, workers=2, **kwargs)
    assert one.scores["random"].tolist() == two.scores["random"].tolist()


def test_benchmark_command_with_a_user_policy(tiny_checkpoint_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "league.json"
    code = main(
        [
            "benchmark",
            "--task",
            "market-making",
            "--episodes",
            "2",
            "--policies",
            "symmetric_1",
            "--policy",
            "mine=agents.baselines:SymmetricSpread",
            "--checkpoint",
            str(tiny_checkpoint_dir),
            "--quiet",
            "--out",
            str(out),
        ]
    )
    assert code == 0
    rows = json.loads(out.read_text())["rows"]
    assert {r["policy"] for r in rows} == {"symmetric_1", "mine"}
    assert all("pnl_per_std" in r and "mean_abs_inventory" in r for r in rows)


def test_benchmark_joins_a_saved_league(
    tiny_checkpoint_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    common = ["--task", "market-making", "--checkpoint", str(tiny_checkpoint_dir), "--quiet"]
    first, second = tmp_path / "first.json", tmp_path / "second.json"
    assert main(["benchmark", *common, "--episodes", "2", "--policies", "symmetric_1",
                 "--out", str(first)]) == 0  # fmt: skip
    assert main(["benchmark", *common, "--join", str(first), "--policies", "symmetric_3",
                 "--reference", "symmetric_3", "--out", str(second)]) == 0  # fmt: skip
    saved, joined = json.loads(first.read_text()), json.loads(second.read_text())
    assert joined["seeds"] == saved["seeds"] and joined["reference"] == "symmetric_3"
    assert joined["scores"]["symmetric_1"] == saved["scores"]["symmetric_1"]  # not replayed
    assert set(joined["scores"]) == {"symmetric_1", "symmetric_3"}
    # the joined policies pair with the new ones: same seeds, same markets
    capsys.readouterr()
    assert main(["benchmark", *common, "--join", str(first), "--episodes", "3"]) == 2
    assert "--episodes 3: the joined league has 2" in capsys.readouterr().err
    assert main(["benchmark", "--task", "execution", "--join", str(first), "--quiet"]) == 2
    assert "is a market-making league, not execution" in capsys.readouterr().err


def test_benchmark_merges_leagues_run_in_parts(
    tiny_checkpoint_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    common = ["--task", "market-making", "--checkpoint", str(tiny_checkpoint_dir), "--quiet"]
    parts = {"symmetric_1": tmp_path / "a.json", "random": tmp_path / "b.json"}
    for name, path in parts.items():
        assert main(["benchmark", *common, "--episodes", "2", "--policies", name,
                     "--out", str(path)]) == 0  # fmt: skip
    # with every built-in policy in a part, merging plays nothing
    monkeypatch.setitem(benchmark.BASELINES, "market-making", {n: None for n in parts})
    monkeypatch.setattr(benchmark, "trained_policies", lambda task: {})
    monkeypatch.setattr(benchmark, "run_league", lambda *a, **k: pytest.fail("played again"))
    merged = tmp_path / "merged.json"
    args = ["--join", str(parts["symmetric_1"]), "--join", str(parts["random"])]
    assert main(["benchmark", *common, *args, "--out", str(merged)]) == 0
    saved = {n: json.loads(p.read_text())["scores"][n] for n, p in parts.items()}
    assert json.loads(merged.read_text())["scores"] == saved


def test_benchmark_refuses_a_reference_outside_the_league_before_playing(
    tiny_checkpoint_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(benchmark, "run_league", lambda *a, **k: pytest.fail("played first"))
    args = ["benchmark", "--task", "execution", "--checkpoint", str(tiny_checkpoint_dir),
            "--policies", "twap_market", "--reference", "twap_passive", "--quiet"]  # fmt: skip
    assert main(args) == 2
    assert "reference 'twap_passive' is not in the league ['twap_market']" in (
        capsys.readouterr().err
    )


def test_a_league_from_a_real_start_names_it_and_joins_only_its_own(
    tiny_checkpoint_dir: Path, lobster_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``--start-file``/``--start-time``: the markets start from a real day; the league says
    so, and a league of the data-free start does not join it."""
    day = lobster_dir / "LOBSTER_SampleFile_GOOG_2012-06-21_10.zip"
    common = ["--task", "market-making", "--episodes", "2", "--batch", "2", "--quiet",
              "--checkpoint", str(tiny_checkpoint_dir), "--policies", "symmetric_1"]  # fmt: skip
    real, synthetic = tmp_path / "real.json", tmp_path / "synthetic.json"
    assert main(["benchmark", *common, "--start-file", str(day), "--start-time", "14:30",
                 "--out", str(real)]) == 0  # fmt: skip
    assert main(["benchmark", *common, "--out", str(synthetic)]) == 0
    real_league, synthetic_league = (json.loads(p.read_text()) for p in (real, synthetic))
    assert real_league["market"] == (f"{synthetic_league['market']} from {day.name} at 14:30")
    assert real_league["scores"] != synthetic_league["scores"]
    capsys.readouterr()
    assert main(["benchmark", *common, "--start-file", str(day), "--start-time", "14:30",
                 "--join", str(synthetic), "--policies", "symmetric_3"]) == 2  # fmt: skip
    assert "cannot join leagues with different market" in capsys.readouterr().err


def test_a_league_names_a_numba_decoder_and_not_the_engine(
    tiny_checkpoint_dir: Path, tmp_path: Path, numba_decoder: str
) -> None:
    """``--engine compiled`` plays the same markets (the same scores, one league);
    ``--decoder numba`` another numerics path (torch's numbers to float rounding), whose
    league says so and so never joins a torch one."""
    common = ["--task", "execution", "--episodes", "2", "--batch", "2", "--quiet",
              "--checkpoint", str(tiny_checkpoint_dir), "--policies", "twap_passive"]  # fmt: skip
    leagues = {}
    for engine, decoder in (("python", "torch"), ("compiled", "torch"), ("compiled", "numba")):
        out = tmp_path / f"{engine}_{decoder}.json"
        args = [*common, "--engine", engine, "--decoder", decoder, "--out", str(out)]
        assert main(["benchmark", *args]) == 0
        leagues[engine, decoder] = json.loads(out.read_text())
    python, compiled, numba = leagues.values()
    assert compiled["market"] == python["market"]
    assert compiled["scores"] == python["scores"]
    assert numba["market"] == f"{python['market']} decoded by numba"
