"""The installed ``mars-gym`` console script: the entry point that pyproject.toml declares,
with ``--help`` at the top level (where every command's HELP line is formatted) and for
every command."""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from agents.console.main import COMMANDS

tomllib = pytest.importorskip("tomllib")  # Python 3.11+

ROOT = Path(__file__).resolve().parents[2]


def _entry_point() -> tuple[str, str]:
    """The module and attribute of the ``mars-gym`` console script."""
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    module, _, attr = scripts["mars-gym"].partition(":")
    return module, attr


def _console() -> Callable[..., int]:
    module, attr = _entry_point()
    return getattr(importlib.import_module(module), attr)


def _help(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    with pytest.raises(SystemExit) as exc:
        _console()(argv)
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert out.strip()
    return out


def test_top_level_help_lists_every_command(capsys: pytest.CaptureFixture[str]) -> None:
    out = _help(["--help"], capsys)
    for command in COMMANDS:
        assert command.NAME in out
    assert "95% confidence intervals" in " ".join(
        out.split()
    )  # the benchmark's line, percent sign and all


@pytest.mark.parametrize("name", [command.NAME for command in COMMANDS])
def test_every_command_has_help(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    out = _help([name, "--help"], capsys)
    assert f"mars-gym {name}" in out and "--quiet" in out


def test_console_script_help_runs_in_a_fresh_interpreter() -> None:
    """As the installed script runs: ``main()`` reading ``sys.argv``, exit status from it."""
    module, attr = _entry_point()
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
    }
    proc = subprocess.run(
        [
            sys.executable,
            "-c",
            f"from {module} import {attr}; raise SystemExit({attr}())",
            "--help",
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        check=False,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert "usage: mars-gym" in proc.stdout and "benchmark" in proc.stdout
