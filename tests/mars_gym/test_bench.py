"""`mars-gym bench`: comparing setups (checkpoints, engines, decoders) in alternation."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import gymnasium as gym
import pytest

from mars_gym.console.main import main
from mars_gym.studies.bench import Setup, compare_setups, env_throughput


def test_setups_are_timed_in_alternation_and_set_against_the_first(
    tiny_checkpoint_dir: Path, tmp_path: Path
) -> None:
    other = tmp_path / "other"
    shutil.copytree(tiny_checkpoint_dir, other)
    setups = [Setup(str(tiny_checkpoint_dir)), Setup(str(other), engine="compiled")]
    labels = [s.label for s in setups]
    assert labels == [f"{tiny_checkpoint_dir} python torch", f"{other} compiled torch"]
    result = compare_setups(setups, num_envs=(1, 2), seconds=0.0, rounds=2)
    runs = result["runs"]
    assert [(r["round"], r["num_envs"], r["setup"]) for r in runs] == [
        (r, n, c) for r in (0, 1) for n in (1, 2) for c in labels
    ]
    assert [r["engine"] for r in runs[:2]] == ["python", "compiled"]
    assert all(r["vector_steps"] >= 2 for r in runs)
    by = {(s["setup"], s["num_envs"]): s for s in result["summary"]}
    assert set(by) == {(c, n) for c in labels for n in (1, 2)}
    first, second = labels
    for n in (1, 2):
        assert by[first, n]["ratio_to_first"] == 1.0
        mine = [r for r in runs if r["num_envs"] == n and r["setup"] == second]
        theirs = [r for r in runs if r["num_envs"] == n and r["setup"] == first]
        ratios = [
            a["env_steps_per_second"] / b["env_steps_per_second"]
            for a, b in zip(mine, theirs, strict=True)
        ]
        assert by[second, n]["ratio_to_first"] == pytest.approx(sum(ratios) / 2)
        assert by[second, n]["ratio_range"] == [min(ratios), max(ratios)]


def test_bench_times_every_combination_of_engines_and_decoders(
    tiny_checkpoint_dir: Path, tmp_path: Path, numba_decoder: str
) -> None:
    out = tmp_path / "bench.json"
    args = ["bench", "--checkpoint", str(tiny_checkpoint_dir), "--num-envs", "1"]
    args += ["--engine", "python", "compiled", "--decoder", "torch", numba_decoder]
    args += ["--seconds", "0", "--rounds", "1", "--quiet", "--out", str(out)]
    assert main(args) == 0
    result = json.loads(out.read_text())
    assert [r["setup"].split()[1:] for r in result["summary"]] == [
        ["python", "torch"],
        ["python", "numba"],
        ["compiled", "torch"],
        ["compiled", "numba"],
    ]


def test_bench_refuses_a_missing_checkpoint_folder(
    tiny_checkpoint_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "missing"
    code = main(["bench", "--checkpoint", str(tiny_checkpoint_dir), str(missing), "--quiet"])
    assert code == 2
    assert str(missing) in capsys.readouterr().err


def test_compare_needs_distinct_setups_and_a_round() -> None:
    with pytest.raises(ValueError, match="at least one setup"):
        compare_setups([])
    with pytest.raises(ValueError, match="must differ"):
        compare_setups([Setup(), Setup()])
    with pytest.raises(ValueError, match="rounds"):
        compare_setups([Setup()], rounds=0)


def test_bench_lmm_times_the_numba_decoder_with_the_cache_only(
    tiny_checkpoint_dir: Path, tmp_path: Path, numba_decoder: str
) -> None:
    out = tmp_path / "bench_lmm.json"
    args = ["bench-lmm", "--checkpoint", str(tiny_checkpoint_dir), "--batch-sizes", "1", "3"]
    args += ["--engine", "compiled", "--decoder", numba_decoder, "--seconds", "0"]
    assert main([*args, "--quiet", "--out", str(out)]) == 0
    result = json.loads(out.read_text())
    assert (result["engine"], result["decoder"]) == ("compiled", "numba")
    assert [(r["batch"], r["kv_cache"], r["decoder"]) for r in result["runs"]] == [
        (1, True, "numba"),
        (3, True, "numba"),
    ]
    assert all(r["orders_per_second"] > 0 for r in result["runs"])


def test_a_quiet_bench_hides_the_warm_up_bar_too(
    tiny_checkpoint_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    made = []
    make_vec = gym.make_vec

    def spy(*args, **kwargs):
        made.append(kwargs.get("progress"))
        return make_vec(*args, **kwargs)

    monkeypatch.setattr(gym, "make_vec", spy)
    for progress in (False, True):
        env_throughput(
            num_envs=(1,), seconds=0.0, progress=progress, checkpoint=str(tiny_checkpoint_dir)
        )
    assert made == [False, None]
