"""The README's code blocks run as pasted: its Python blocks as scripts, its shell blocks
line by line (slow), each in a fresh folder with the checkout importable.

Only ```python and ```bash blocks run. Commands that need an optional extra CI does not
install (Ray: ``mars-lmm-gym[ray]``) go in ```console blocks, shown and not run; their own
tests skip without the extra (``tests/agents/test_rllib.py``)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BLOCK = re.compile(r"^```(\w+)\n(.*?)^```", re.MULTILINE | re.DOTALL)
#: Shell lines the tests do not run: CI runs `make test` itself, and `make demo` is the
#: main job's command (timed on fresh clones, README "Set-up").
NOT_RUN_HERE = ("make ",)


def _blocks(language: str) -> list[str]:
    text = (ROOT / "README.md").read_text()
    return [code for lang, code in BLOCK.findall(text) if lang == language]


def _environment() -> dict[str, str]:
    path = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)
    return {**os.environ, "PYTHONPATH": path, "OMP_NUM_THREADS": "1"}


def test_the_readme_has_code_blocks() -> None:
    assert _blocks("python") and _blocks("bash")


@pytest.mark.parametrize("index", range(len(_blocks("python"))))
def test_python_block_runs_as_a_script(index: int, tmp_path: Path) -> None:
    script = tmp_path / f"readme_block_{index}.py"
    script.write_text(_blocks("python")[index])
    done = subprocess.run(
        [sys.executable, str(script)],
        cwd=tmp_path,
        env=_environment(),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, f"README python block {index} failed:\n{done.stderr[-3000:]}"


@pytest.mark.slow
@pytest.mark.parametrize("index", range(len(_blocks("bash"))))
def test_shell_block_runs_as_pasted(index: int, tmp_path: Path) -> None:
    commands = _blocks("bash")[index].replace("\\\n", " ").splitlines()  # join continued lines
    lines = [
        line
        for line in commands
        if line.strip() and not line.lstrip().startswith(("#", *NOT_RUN_HERE))
    ]
    bin_dir = Path(sys.executable).parent  # where `mars-gym` is installed
    env = _environment()
    env["PATH"] = f"{bin_dir}{os.pathsep}{env['PATH']}"
    for line in lines:
        done = subprocess.run(
            ["bash", "-ec", line],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=1800,
        )
        assert done.returncode == 0, f"README line {line!r} failed:\n{done.stderr[-3000:]}"
