"""The league table: paired statistics and a readable text layout."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from agents.benchmark import League, sharpe


def _league() -> League:
    rng = np.random.default_rng(0)
    base = rng.normal(7.0, 5.0, 40)
    return League(
        task="market-making",
        metric="PnL ($)",
        lower_is_better=False,
        scores={"avellaneda_stoikov": base, "symmetric_1": base + 140.9 + rng.normal(0, 90, 40)},
        extra={"symmetric_1": {"mean_abs_inventory": 451.0}},
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


def test_pnl_per_std_has_paired_bootstrap_intervals() -> None:
    league = _league()
    rows = {r["policy"]: r for r in league.rows()}
    sym = league.scores["symmetric_1"]
    row = rows["symmetric_1"]
    assert row["pnl_per_std"] == sym.mean() / sym.std(ddof=1)
    lo, hi = row["pnl_per_std_ci95"]
    assert lo < row["pnl_per_std"] < hi
    # the reference against itself differs by exactly zero in every resample
    assert rows["avellaneda_stoikov"]["pnl_per_std_vs_avellaneda_stoikov_ci95"] == [0.0, 0.0]
    lo, hi = row["pnl_per_std_vs_avellaneda_stoikov_ci95"]
    assert lo < row["pnl_per_std_vs_avellaneda_stoikov"] < hi
    assert "pnl/std=" in league.table()


def test_pairing_narrows_the_interval_of_a_difference() -> None:
    # b is a plus small noise: unpaired, the two ratios' intervals overlap widely;
    # paired by seed, the difference's interval is tight around the true difference
    rng = np.random.default_rng(1)
    a = rng.normal(10.0, 5.0, 200)
    b = a + 1.0 + rng.normal(0, 0.2, 200)
    league = League("market-making", "PnL ($)", False, {"a": a, "b": b}, {}, "a", 0.0)
    row = next(r for r in league.rows() if r["policy"] == "b")
    lo, hi = row["pnl_per_std_vs_a_ci95"]
    assert 0 < lo < hi < row["pnl_per_std_ci95"][1] - row["pnl_per_std_ci95"][0]


def test_sharpe_is_zero_without_spread() -> None:
    assert sharpe(np.full(5, 3.0)) == 0.0
    assert sharpe(np.array([[1.0, 3.0], [2.0, 2.0]])).tolist() == [2 / np.sqrt(2), 0.0]


def test_json_keeps_every_seed_score() -> None:
    league = _league()
    league.seeds = list(range(100, 140))
    d = league.to_dict()
    assert d["seeds"] == league.seeds
    assert d["scores"]["symmetric_1"] == league.scores["symmetric_1"].tolist()


def test_leagues_join_only_on_the_same_seeds_and_markets() -> None:
    league = _league()
    league.seeds, league.market = list(range(40)), "abc"
    other = League.from_dict(league.to_dict())  # a saved league comes back whole
    assert other.scores.keys() == league.scores.keys() and other.market == "abc"
    other.scores = {"random": league.scores["symmetric_1"] - 50}
    joined = league.join(other)
    assert list(joined.scores) == ["avellaneda_stoikov", "symmetric_1", "random"]
    assert joined.reference == "avellaneda_stoikov"
    with pytest.raises(ValueError, match="both leagues play"):
        league.join(league)
    for field, value in (("seeds", list(range(1, 41))), ("market", "other")):
        moved = replace(other, **{field: value})
        with pytest.raises(ValueError, match=f"different {field}"):
            league.join(moved)
    with pytest.raises(ValueError, match="per-seed scores"):
        League.from_dict({k: v for k, v in league.to_dict().items() if k != "scores"})
    with pytest.raises(ValueError, match="reference 'nobody'"):
        league.with_reference("nobody")
