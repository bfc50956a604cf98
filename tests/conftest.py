"""Shared fixtures: where the LOBSTER sample data lives, if it is present."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

#: The team's LOBSTER samples sit beside the checkout; MARS_GYM_DATA overrides.
DATA_DIR = Path(
    os.environ.get(
        "MARS_GYM_DATA", Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "lobster"
    )
).resolve()


@pytest.fixture(scope="session")
def lobster_dir() -> Path:
    """The LOBSTER sample folder; skips the test when it is absent."""
    if not any(DATA_DIR.glob("LOBSTER_SampleFile_*.zip")):
        pytest.skip(
            f"LOBSTER sample data not found in {DATA_DIR} (set MARS_GYM_DATA to the folder "
            "holding LOBSTER_SampleFile_*.zip)"
        )
    return DATA_DIR
