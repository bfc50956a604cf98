"""Scoring a checkpoint as LOB-Bench does: the windows of the protocol, the floors beside it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from lmm.evaluation.scoring import (
    EVALUATION_TIMES,
    SELECTION_TIMES,
    SESSION_MINUTES,
    score_checkpoint,
    windows,
)
from lmm.model.checkpoint import load_checkpoint
from lmm.units import time_of_day_ns


def test_selection_and_evaluation_windows_do_not_overlap() -> None:
    assert windows("selection") == SELECTION_TIMES and windows("evaluation") == EVALUATION_TIMES
    minutes = SESSION_MINUTES * 60 * 10**9
    last_selected = max(time_of_day_ns(t) for t in SELECTION_TIMES) + minutes
    assert last_selected < min(time_of_day_ns(t) for t in EVALUATION_TIMES)
    with pytest.raises(ValueError, match="windows must be one of"):
        windows("test")


def test_a_scorecard_holds_the_model_the_floors_and_the_drift(lobster_dir: Path) -> None:
    day = lobster_dir / "LOBSTER_SampleFile_AMZN_2012-06-21_5.zip"
    card = score_checkpoint(load_checkpoint("fast"), day, ("15:15",), minutes=3, rollouts=1)
    for report in (card.model, card.same_times, card.early):
        assert len(report.unconditional) == 21 and len(report.conditional) == 3
        assert 0 <= report.mean_l1 <= 1 and report.levels == 5
    assert card.model.n_generated > 0 and card.same_times.n_real == (card.model.n_real + 1) // 2
    assert np.array(card.drift_real).shape == np.array(card.drift_model).shape == (3, 10)
    assert card.to_dict()["model"]["mean_l1"] == card.model.mean_l1
