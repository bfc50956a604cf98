"""The fidelity report: its configuration, its flags, and an end-to-end run on tiny settings."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from lmm.evaluation.stylized import FACTS
from lmm.model.checkpoint import load_checkpoint
from mars_gym.console.fidelity import configure_parser
from mars_gym.console.flags import config_from_args
from mars_gym.studies.fidelity import FidelityConfig, build_report


def test_config_rejects_windows_past_the_held_out_window() -> None:
    with pytest.raises(ValueError, match="start_minutes"):
        FidelityConfig(start_minutes=(80,), horizon_minutes=15)
    with pytest.raises(ValueError, match="rollouts"):
        FidelityConfig(rollouts=0)
    with pytest.raises(ValueError, match="intraday_starts"):
        FidelityConfig(intraday_starts=(400,))


def test_flags_default_to_the_config() -> None:
    p = argparse.ArgumentParser()
    configure_parser(p)
    args = p.parse_args(["--out", "somewhere"])
    assert args.out_dir == Path("somewhere") and args.out is None
    assert config_from_args(FidelityConfig, args) == FidelityConfig()


@pytest.mark.slow
def test_report_end_to_end_on_tiny_settings(lobster_dir: Path, tmp_path: Path) -> None:
    config = FidelityConfig(
        start_minutes=(0, 30),
        horizon_minutes=1,
        rollouts=2,
        intraday_starts=(5, 180, 360),
        intraday_minutes=1,
        intraday_rollouts=1,
        bootstrap=20,
    )
    files = [lobster_dir / "LOBSTER_SampleFile_AMZN_2012-06-21_5.zip"]
    summary = build_report(load_checkpoint(None), files, tmp_path, config, progress=False)
    for name in ("report.md", "summary.json", *summary["figures"]):
        assert (tmp_path / name).stat().st_size > 0
    saved = json.loads((tmp_path / "summary.json").read_text())
    for source in ("real", "lmm", "zero_intelligence", "real_whole_day"):
        facts = saved["facts"][source]
        assert [f["key"] for f in facts] == [f.key for f in FACTS]
        for f in facts:
            assert f["present"] in (True, False, None)
            assert set(f["values"]) == set(f["ci95_low"]) == set(f["ci95_high"])
    counts = saved["counts"]
    assert 0 <= counts["lmm_reproduces"] <= counts["real_shows"] <= len(FACTS)
    report = (tmp_path / "report.md").read_text()
    assert f"Real data shows {counts['real_shows']} of {len(FACTS)}" in report
    assert saved["markets"] == {"held_out": 4, "intraday": 3}
