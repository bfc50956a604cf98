"""`mars-gym bench`: comparing checkpoints in alternation."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from mars_gym.console.main import main
from mars_gym.studies.bench import compare_checkpoints


def test_checkpoints_are_timed_in_alternation_and_set_against_the_first(
    tiny_checkpoint_dir: Path, tmp_path: Path
) -> None:
    other = tmp_path / "other"
    shutil.copytree(tiny_checkpoint_dir, other)
    first = str(tiny_checkpoint_dir)
    result = compare_checkpoints([first, str(other)], num_envs=(1, 2), seconds=0.0, rounds=2)
    runs = result["runs"]
    assert [(r["round"], r["num_envs"], r["checkpoint"]) for r in runs] == [
        (r, n, c) for r in (0, 1) for n in (1, 2) for c in (first, str(other))
    ]
    assert all(r["vector_steps"] >= 2 for r in runs)
    by = {(s["checkpoint"], s["num_envs"]): s for s in result["summary"]}
    assert set(by) == {(c, n) for c in (first, str(other)) for n in (1, 2)}
    for n in (1, 2):
        assert by[first, n]["ratio_to_first"] == 1.0
        mine = [r for r in runs if r["num_envs"] == n and r["checkpoint"] == str(other)]
        theirs = [r for r in runs if r["num_envs"] == n and r["checkpoint"] == first]
        ratios = [
            a["env_steps_per_second"] / b["env_steps_per_second"]
            for a, b in zip(mine, theirs, strict=True)
        ]
        assert by[str(other), n]["ratio_to_first"] == pytest.approx(sum(ratios) / 2)
        assert by[str(other), n]["ratio_range"] == [min(ratios), max(ratios)]


def test_bench_refuses_a_missing_checkpoint_folder(
    tiny_checkpoint_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "missing"
    code = main(["bench", "--checkpoint", str(tiny_checkpoint_dir), str(missing), "--quiet"])
    assert code == 2
    assert str(missing) in capsys.readouterr().err


def test_compare_needs_a_checkpoint_and_a_round() -> None:
    with pytest.raises(ValueError, match="at least one checkpoint"):
        compare_checkpoints([])
    with pytest.raises(ValueError, match="rounds"):
        compare_checkpoints([None], rounds=0)
