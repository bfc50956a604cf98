"""The mars-gym command line: help, JSON output, clear errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from mars_gym.cli import main


@pytest.mark.parametrize(
    "command", ["replay", "demo", "train-lmm", "evaluate-lmm", "bench-lmm", "bench"]
)
def test_every_subcommand_has_help(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main([command, "--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert "--out" in out and "--quiet" in out


@pytest.mark.parametrize("command", ["fidelity", "impact", "forecast"])
def test_report_commands_write_a_folder(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main([command, "--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert "--out DIR" in out and "--quiet" in out


def test_demo_without_data_times_synthetic_flow(tmp_path: Path) -> None:
    out = tmp_path / "demo.json"
    code = main(
        [
            "demo",
            "--data",
            str(tmp_path / "none"),
            "--orders",
            "2000",
            "--minutes",
            "1",
            "--rollouts",
            "2",
            "--quiet",
            "--out",
            str(out),
        ]
    )
    assert code == 0
    result = json.loads(out.read_text())
    assert result["replays"] == []
    assert result["synthetic"]["orders"] == 2000
    assert result["synthetic"]["orders_per_second"] > 0
    # the packaged model generated markets with no data at all
    assert [r["orders"] > 0 for r in result["generated"]["rollouts"]] == [True, True]


def test_replay_verify_writes_the_promised_fields(lobster_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "r.json"
    zip_path = lobster_dir / "LOBSTER_SampleFile_GOOG_2012-06-21_5.zip"
    code = main(
        ["replay", str(zip_path), "--verify", "--limit", "3000", "--quiet", "--out", str(out)]
    )
    assert code == 0
    result = json.loads(out.read_text())
    for key in ("messages", "rows_matched", "match_rate", "reconciliations", "messages_per_second"):
        assert key in result
    assert result["messages"] == 2999
    assert result["match_rate"] == 1.0


def test_bad_file_is_a_clear_error_not_a_traceback(tmp_path: Path) -> None:
    message = tmp_path / "X_2012-06-21_34200000_57600000_message_1.csv"
    message.write_text("34200.1,1,1,100,1000000,1\n")
    proc = subprocess.run(
        [sys.executable, "-m", "mars_gym.cli", "replay", str(message)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 2
    assert "orderbook" in proc.stderr and "Traceback" not in proc.stderr


def test_train_lmm_quick_writes_a_loadable_checkpoint(lobster_dir: Path, tmp_path: Path) -> None:
    from lmm.checkpoint import load_checkpoint

    out = tmp_path / "train.json"
    ck = tmp_path / "ck"
    code = main(
        [
            "train-lmm",
            "--data",
            str(lobster_dir),
            "--quick",
            "--steps",
            "4",
            "--eval-every",
            "2",
            "--checkpoint",
            str(ck),
            "--quiet",
            "--out",
            str(out),
        ]
    )
    assert code == 0
    result = json.loads(out.read_text())
    assert result["config"]["steps"] == 4 and len(result["history"]) == 2
    assert (
        result["n_validation_orders"] > 0
        and result["n_train_orders"] > 3 * result["n_validation_orders"]
    )
    loaded = load_checkpoint(ck)
    assert loaded.metadata["best_validation_bits"] == result["best_validation_bits"]
