"""Result files: absolute paths written portably."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from lmm.results import portable, write_json


def test_absolute_paths_become_relative_inside_the_root_and_names_outside() -> None:
    root = Path("/home/me/repo")
    setup = {
        "checkpoint": "/home/me/repo/lmm/checkpoints/fast",
        "files": ("/data/lobster/GOOG_10.zip", "/data/lobster/AMZN_5.zip"),
        "out": "docs/results/x.json",  # relative: kept
        "device": "cpu",
        "rate": 1.5,
        "nested": [{"root": "/"}],
    }
    assert portable(setup, root) == {
        "checkpoint": "lmm/checkpoints/fast",
        "files": ["GOOG_10.zip", "AMZN_5.zip"],
        "out": "docs/results/x.json",
        "device": "cpu",
        "rate": 1.5,
        "nested": [{"root": "/"}],
    }


def test_write_json_makes_the_folder_and_converts_what_json_does_not_know(
    tmp_path: Path,
) -> None:
    out = tmp_path / "new" / "figures.json"
    write_json(out, {"count": np.int64(3), "file": "/elsewhere/day.zip"}, default=int)
    assert json.loads(out.read_text()) == {"count": 3, "file": "day.zip"}
