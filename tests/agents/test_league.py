"""The league table: paired statistics and a readable text layout."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from agents.benchmark import League


def _league() -> League:
    rng = np.random.default_rng(0)
    base = rng.normal(7.0, 5.0, 40)
    return League(
        task="market-making",
        metric="PnL ($)",
        lower_is_better=False,
        scores={"avellaneda_stoikov": base, "symmetric_1": base + 140.9 + rng.normal(0, 90, 40)},
        extra={"symmetric_1": {"pnl_per_std": 1.72}, "avellaneda_stoikov": {"pnl_per_std": 1.37}},
        reference="avellaneda_stoikov",
        seconds=1.0,
    )


def test_table_columns_never_run_together() -> None:
    lines = _league().table().splitlines()
    header, rows = lines[1], lines[2:]
    assert header.split()[:4] == ["policy", "n", "mean", "std"]
    for line in rows:
        # every interval stands apart from its neighbours, however wide the values
        assert "]+" not in line and "]-" not in line
        assert "]  " in line


def test_rows_are_ranked_and_paired() -> None:
    league = _league()
    rows = league.rows()
    assert [r["policy"] for r in rows] == ["symmetric_1", "avellaneda_stoikov"]
    ref = league.scores["avellaneda_stoikov"]
    diff = league.scores["symmetric_1"] - ref
    assert rows[0]["vs_avellaneda_stoikov"] == np.float64(diff.mean())
    assert rows[1]["vs_avellaneda_stoikov"] == 0.0


def test_plot_creates_its_folder(tmp_path: Path) -> None:
    # make demo saves to out/ on a fresh clone, where out/ does not exist yet
    path = tmp_path / "out" / "league.png"
    _league().plot(path)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
