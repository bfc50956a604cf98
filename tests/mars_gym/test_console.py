"""The mars-gym console (mars_gym.console): help, JSON output, clear errors; its flags."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from lmm.model.checkpoint import Checkpoint
from lmm.model.price_reference import PriceReference
from lmm.model.size_reference import SizeReference
from lmm.model.tokenizer import TokenizerConfig
from mars_gym.console.flags import config_from_args, dataclass_flags
from mars_gym.console.main import main
from mars_gym.scenario import Scenario
from mars_gym.studies.fidelity import FidelityConfig
from mars_gym.studies.metaorder import QUICK, MetaorderConfig


@pytest.mark.parametrize(
    "command", ["replay", "check", "train-lmm", "evaluate-lmm", "bench-lmm", "bench"]
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


def test_check_without_data_times_synthetic_flow(tmp_path: Path) -> None:
    out = tmp_path / "check.json"
    code = main(
        [
            "check",
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


# a LOBSTER day of two levels: time, type, order id, size, price (dollars x 10000), direction
_MESSAGES = [
    "34200.000000001,1,1001,100,1000000,1",
    "34200.5,1,1002,50,1000300,-1",
    "34201.25,1,1003,30,999900,1",
    "34202,2,1003,10,999900,1",
]
_EA, _EB = "9999999999,0", "-9999999999,0"  # an empty ask level, an empty bid level
# ask1 price, ask1 size, bid1 price, bid1 size, ask2 ..., bid2 ... after each message
_ORDERBOOK = [
    f"{_EA},1000000,100,{_EA},{_EB}",
    f"1000300,50,1000000,100,{_EA},{_EB}",
    f"1000300,50,1000000,100,{_EA},999900,30",
    f"1000300,50,1000000,100,{_EA},999900,20",
]


def _day(folder: Path, orderbook: list[str]) -> Path:
    stem = "TEST_2012-06-21_34200000_57600000"
    (folder / f"{stem}_orderbook_2.csv").write_text("\n".join(orderbook) + "\n")
    message = folder / f"{stem}_message_2.csv"
    message.write_text("\n".join(_MESSAGES) + "\n")
    return message


def test_replay_verify_passes_on_a_matching_day(tmp_path: Path) -> None:
    assert main(["replay", str(_day(tmp_path, _ORDERBOOK)), "--verify", "--quiet"]) == 0


def test_replay_verify_fails_when_a_row_does_not_match(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A wrong size at level 1 of a 2-level file (never reconciled) is a failed check: exit
    status 1 with a message saying how many rows differ; --out still gets the report."""
    planted = [*_ORDERBOOK]
    planted[2] = planted[2].replace("1000000,100", "1000000,90")  # bid 1: 90, not 100
    out = tmp_path / "r.json"
    code = main(["replay", str(_day(tmp_path, planted)), "--verify", "--quiet", "--out", str(out)])
    assert code == 1
    result = json.loads(out.read_text())
    assert 0 < result["match_rate"] < 1
    err = capsys.readouterr().err
    assert "mars-gym replay: failed:" in err and "differs from the orderbook file in 1 of" in err


def test_bad_file_is_a_clear_error_not_a_traceback(tmp_path: Path) -> None:
    message = tmp_path / "X_2012-06-21_34200000_57600000_message_1.csv"
    message.write_text("34200.1,1,1,100,1000000,1\n")
    proc = subprocess.run(
        [sys.executable, "-m", "mars_gym.console", "replay", str(message)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 2
    assert "orderbook" in proc.stderr and "Traceback" not in proc.stderr


def test_train_lmm_quick_writes_a_loadable_checkpoint(lobster_dir: Path, tmp_path: Path) -> None:
    from lmm.model.checkpoint import load_checkpoint

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
            "--price-bins",
            "24",
            "--profile",
            "--checkpoint",
            str(ck),
            "--tensorboard",
            str(tmp_path / "tb"),
            "--quiet",
            "--out",
            str(out),
        ]
    )
    assert code == 0
    assert list((tmp_path / "tb").glob("events.out.tfevents.*"))  # the losses, for TensorBoard
    result = json.loads(out.read_text())
    assert result["config"]["steps"] == 4 and len(result["history"]) == 2
    assert (
        result["n_validation_orders"] > 0
        and result["n_train_orders"] > 3 * result["n_validation_orders"]
    )
    loaded = load_checkpoint(ck)
    assert loaded.metadata["best_validation_bits"] == result["best_validation_bits"]
    # a model with profiles keeps its training days' (the start profiles it can mix)
    trained = loaded.metadata["training_profiles"]
    assert sorted(trained) == sorted(Path(f).name for f in result["files"])
    np.testing.assert_allclose(
        np.mean(list(trained.values()), axis=0), loaded.model.profile_center.numpy(), rtol=1e-6
    )
    # the tokenizer flags reach the fitted bins saved with the model
    assert result["tokenizer_config"]["price_bins"] == 24
    assert loaded.tokenizer.config.price_bins == 24
    # (same-side offsets pile up at 0, so fewer distinct quantile edges than asked)
    assert 12 < len(loaded.tokenizer.price_edges) - 1 <= 24
    # the defaults are the shipped checkpoint's options
    assert result["tokenizer_config"]["price_reference"] == "same_side_best"
    assert loaded.tokenizer.config.price_reference is PriceReference.SAME_SIDE_BEST
    assert result["tokenizer_config"]["size_reference"] == "touch"
    assert loaded.tokenizer.config.size_reference is SizeReference.TOUCH
    assert 1.0 in loaded.tokenizer.touch_edges


def _parser(cls: type, **kwargs: object) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser()
    dataclass_flags(p, cls, **kwargs)
    return p


def test_tuple_fields_take_several_values_and_omitted_flags_keep_the_defaults() -> None:
    args = _parser(FidelityConfig).parse_args(["--start-minutes", "0", "30", "--rollouts", "3"])
    config = config_from_args(FidelityConfig, args)
    assert config.start_minutes == (0, 30) and config.rollouts == 3
    d = FidelityConfig()
    assert config.intraday_starts == d.intraday_starts and config.bootstrap == d.bootstrap
    assert config_from_args(FidelityConfig, _parser(FidelityConfig).parse_args([])) == d


def test_tuple_elements_get_the_annotated_type_and_flags_override_a_preset() -> None:
    p = _parser(MetaorderConfig)
    args = p.parse_args(["--fractions", "0.1", "1", "--durations-s", "2", "4", "--seeds", "3"])
    config = config_from_args(QUICK, args)
    assert config.fractions == (0.1, 1.0) and config.durations_s == (2, 4)
    assert all(type(d) is int for d in config.durations_s) and config.seeds == 3
    assert config.bootstrap == QUICK.bootstrap != MetaorderConfig().bootstrap
    with pytest.raises(SystemExit):
        p.parse_args(["--durations-s", "1.5"])


def test_help_shows_the_docstring_and_the_default() -> None:
    text = " ".join(_parser(FidelityConfig).format_help().split())  # "95%" must not break it
    assert "held-out start times, minutes after the held-out window opens (default: 0 15 30" in text
    assert "for the 95% intervals (default: 1000)" in text
    text = " ".join(_parser(MetaorderConfig).format_help().split())
    assert "(default: 0.05 0.1 0.2 0.4)" in text and "(default: 15 30 60)" in text


def test_excluded_fields_have_no_flag() -> None:
    p = _parser(FidelityConfig, exclude=("validation_minutes",))
    with pytest.raises(SystemExit):
        p.parse_args(["--validation-minutes", "60"])
    config = config_from_args(FidelityConfig, argparse.Namespace(validation_minutes=100))
    assert config.validation_minutes == 100  # an attribute of that name still counts


@dataclass(frozen=True)
class _WithBool:
    verbose: bool = False


def test_a_bool_field_is_switched_on_and_off_by_name() -> None:
    """``--verbose`` and ``--no-verbose``, never a value that ``bool("False")`` would read as
    True; without either the config keeps its default."""
    p = _parser(_WithBool)
    assert config_from_args(_WithBool, p.parse_args(["--verbose"])).verbose is True
    assert config_from_args(_WithBool(True), p.parse_args(["--no-verbose"])).verbose is False
    assert config_from_args(_WithBool(True), p.parse_args([])).verbose is True
    with pytest.raises(SystemExit):
        p.parse_args(["--verbose", "False"])


def test_an_enum_field_takes_one_of_its_values() -> None:
    p = _parser(TokenizerConfig)
    config = config_from_args(TokenizerConfig, p.parse_args(["--price-reference", "mid"]))
    assert config.price_reference is PriceReference.MID
    default = config_from_args(TokenizerConfig, p.parse_args([])).price_reference
    assert default is PriceReference.SAME_SIDE_BEST
    assert "{mid,same_side_best}" in p.format_help()
    assert "(default: same_side_best)" in p.format_help()
    with pytest.raises(SystemExit):
        p.parse_args(["--price-reference", "best"])


def test_generate_writes_lobster_files_that_read_back(
    tiny_checkpoint_dir: Path, tmp_path: Path
) -> None:
    from lmm.data.lobster import read_lobster

    out = tmp_path / "generate.json"
    folder = tmp_path / "sessions"
    argv = ["generate", "--checkpoint", str(tiny_checkpoint_dir), "--minutes", "10"]
    argv += ["--rollouts", "2", "--levels", "5", "--folder", str(folder), "--quiet"]
    assert main([*argv, "--out", str(out)]) == 0
    result = json.loads(out.read_text())
    assert [s["rollout"] for s in result["sessions"]] == [0, 1]
    messages = sorted(folder.glob("gen_synthetic_r0*_message_5.csv"))
    assert len(messages) == 2 and len(list(folder.glob("*_orderbook_5.csv"))) == 2
    for path, session in zip(messages, result["sessions"], strict=True):
        assert len(read_lobster(path)) == session["messages"] > 0
    assert main([*argv, "--times", "14:30"]) == 2  # a time of day needs a --start-file


def test_score_prints_the_table_and_draws_the_scorecard(
    lobster_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    day = lobster_dir / "LOBSTER_SampleFile_AMZN_2012-06-21_5.zip"
    png, out = tmp_path / "score.png", tmp_path / "score.json"
    argv = ["score", "--day", str(day), "--times", "15:15", "--minutes", "3", "--rollouts", "1"]
    argv += ["--checkpoint", "fast", "--plot", str(png), "--out", str(out), "--quiet"]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "mean L1 (21 scores)" in printed and "spread:real" in printed
    assert png.stat().st_size > 10_000
    result = json.loads(out.read_text())
    assert result["times"] == ["15:15"] and len(result["model"]["unconditional"]) == 21


def test_replay_through_the_compiled_engine_reports_as_the_python_one(
    lobster_dir: Path, tmp_path: Path
) -> None:
    day = str(lobster_dir / "LOBSTER_SampleFile_AMZN_2012-06-21_1.zip")
    reports = {}
    for engine in ("python", "compiled"):
        out = tmp_path / f"{engine}.json"
        argv = ["replay", day, "--verify", "--limit", "20000", "--engine", engine]
        assert main([*argv, "--quiet", "--out", str(out)]) == 0
        reports[engine] = json.loads(out.read_text())
    timing = {"seconds", "messages_per_second"}
    assert {k: v for k, v in reports["compiled"].items() if k not in timing} == {
        k: v for k, v in reports["python"].items() if k not in timing
    }


def test_train_lmm_sizes_stops_and_resumes(
    lobster_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A named size sets the shape; a run stopped after step 1 goes on with --resume and
    refuses flags that would change it."""
    from lmm.model.checkpoint import load_checkpoint

    ck = tmp_path / "ck"
    common = ["--quiet", "--checkpoint", str(ck)]
    day = str(lobster_dir / "LOBSTER_SampleFile_AMZN_2012-06-21_5.zip")
    first = [
        "train-lmm", day, "--quick", "--size", "tiny", "--steps", "2", "--eval-every", "1",
        "--save-every", "1", "--stop-after", "1", *common,
    ]  # fmt: skip
    assert main(first) == 0
    assert json.loads((ck / "state" / "state.json").read_text())["step"] == 1
    assert main(["train-lmm", "--resume", str(ck), "--lr", "0.1"]) == 2  # refused
    # the held-out window is the run's: one given, even the default, is refused too
    capsys.readouterr()
    assert main(["train-lmm", "--resume", str(ck), "--validation-minutes", "90"]) == 2
    assert "drop --validation-minutes" in capsys.readouterr().err
    out = tmp_path / "r.json"
    assert main(["train-lmm", "--resume", str(ck), "--quiet", "--out", str(out)]) == 0
    result = json.loads(out.read_text())
    assert [h["step"] for h in result["history"]] == [1, 2]
    config = load_checkpoint(ck).model.config
    assert (config.n_layer, config.n_head, config.n_embd) == (2, 4, 64)  # tiny
    assert main(["train-lmm", "--resume", str(tmp_path / "nowhere")]) == 2


def test_lobster_files_takes_folders_and_patterns(tmp_path: Path) -> None:
    from mars_gym.console.flags import lobster_files

    for name in ("b_message_5.csv", "a.zip", "notes.txt"):
        (tmp_path / name).write_text("")
    assert [f.name for f in lobster_files(tmp_path)] == ["a.zip", "b_message_5.csv"]
    assert [f.name for f in lobster_files(tmp_path / "*.zip")] == ["a.zip"]
    with pytest.raises(FileNotFoundError, match="no LOBSTER files match"):
        lobster_files(tmp_path / "*.nothing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="holds no LOBSTER"):
        lobster_files(tmp_path / "empty")


def test_generate_follows_a_scenario(tiny_outlook_checkpoint_dir: Path, tmp_path: Path) -> None:
    argv = ["generate", "--checkpoint", str(tiny_outlook_checkpoint_dir), "--minutes", "10"]
    argv += ["--rollouts", "1", "--levels", "5", "--all-events", "--quiet"]
    out = tmp_path / "generate.json"
    scenario = ["--scenario", "5m drift -50bp vol 12bp; 5m volume 3x"]
    assert main([*argv, *scenario, "--folder", str(tmp_path / "a"), "--out", str(out)]) == 0
    assert json.loads(out.read_text())["scenario"] == scenario[1]
    assert main([*argv, "--folder", str(tmp_path / "b")]) == 0
    (a,), (b,) = (sorted((tmp_path / x).glob("*_message_5.csv")) for x in "ab")
    assert a.read_text() != b.read_text()  # the same seed, another market


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--scenario", "history"], "--scenario history follows the start file's own minutes"),
        (["--scenario", "1m drop -20bp"], "unknown word 'drop' in segment '1m drop -20bp'"),
        (["--scenario", "1m vol 99bp"], "segment 1 '1m vol 99bp': vol 99 bp per sqrt-minute"),
        (["--scenario", "1m calm", "--checkpoint", "TINY"], "reads no outlook"),
    ],
)
def test_generate_names_a_scenario_it_cannot_follow(
    flags: list[str],
    message: str,
    tiny_outlook_checkpoint_dir: Path,
    tiny_checkpoint_dir: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    flags = [str(tiny_checkpoint_dir) if f == "TINY" else f for f in flags]
    if "--checkpoint" not in flags:
        flags += ["--checkpoint", str(tiny_outlook_checkpoint_dir)]
    assert main(["generate", "--folder", str(tmp_path), "--quiet", *flags]) == 2
    assert message in capsys.readouterr().err


def test_generate_follows_the_start_files_own_history(
    tiny_outlook_checkpoint: Checkpoint,
    tiny_outlook_checkpoint_dir: Path,
    lobster_dir: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from mars_gym.console import generate

    followed = []
    sessions = generate.generate_sessions

    def spy(*args: Any, outlook: Any, **kwargs: Any) -> list:
        def record(start: Any, day: Any) -> Any:
            followed.append((start, day, outlook(start, day)))
            return followed[-1][2]

        return sessions(*args, outlook=record, **kwargs)

    monkeypatch.setattr(generate, "generate_sessions", spy)
    path = lobster_dir / "LOBSTER_SampleFile_AMZN_2012-06-21_1.zip"
    argv = ["generate", "--checkpoint", str(tiny_outlook_checkpoint_dir), "--scenario", "history"]
    argv += ["--start-file", str(path), "--times", "14:30", "--minutes", "1.5", "--levels", "1"]
    assert main([*argv, "--rollouts", "1", "--folder", str(tmp_path), "--quiet"]) == 0
    ((start, day, outlook),) = followed
    expected = Scenario.from_history(day, start.time_ns, 2)  # 1.5 minutes: two whole ones
    assert outlook == expected.path(start.time_ns, tiny_outlook_checkpoint.model.outlook_range)
