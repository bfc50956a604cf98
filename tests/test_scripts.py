"""Every script in ``scripts/`` answers ``--help`` (exit 0, some text) without doing its work.

The scripts run one after the other in a single fresh interpreter (``runpy``, the scripts
folder first on the path, as ``python scripts/NAME.py --help`` has it), so torch and the
packages are imported once.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCRIPTS = sorted((ROOT / "scripts").glob("*.py"))

DRIVER = """
import contextlib, io, json, os, runpy, sys
results = {}
sys.path.insert(0, os.path.dirname(sys.argv[1]))  # as python scripts/NAME.py has it
for path in sys.argv[1:]:
    sys.argv, out = [path, "--help"], io.StringIO()
    try:
        with contextlib.redirect_stdout(out):
            runpy.run_path(path, run_name="__main__")
        code = "returned without exiting"
    except SystemExit as exc:
        code = exc.code
    results[path] = [code, len(out.getvalue().strip())]
print(json.dumps(results))
"""


def test_every_script_has_help() -> None:
    assert SCRIPTS
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
    }
    proc = subprocess.run(
        [sys.executable, "-c", DRIVER, *map(str, SCRIPTS)],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        check=False,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    results = json.loads(proc.stdout.strip().splitlines()[-1])
    bad = {Path(p).name: r for p, r in results.items() if r[0] not in (0, None) or r[1] == 0}
    assert not bad, f"scripts whose --help failed or printed nothing: {bad}"
