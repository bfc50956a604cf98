"""The fidelity report (``mars-gym fidelity --out DIR``): real held-out data against
generated markets started from the same states, many rollouts each.

What it runs, for the LMM and for the zero-intelligence baseline
(:class:`lmm.evaluation.baselines.ZeroIntelligenceMarkets`, calibrated on the training orders):

* **held-out rollouts**: real start states every ``start_minutes`` of the held-out window
  of each day (the last ``validation_minutes``), ``rollouts`` markets each for
  ``horizon_minutes``; the real windows that followed the same starts are the reference.
  With the defaults the windows tile the held-out 90 minutes without overlap. They give
  the distances of :mod:`lmm.evaluation.evaluate` (L1, Wasserstein-1) and eleven of the
  twelve facts.
* **intraday rollouts**: short sessions (``intraday_minutes``) from start states spread
  over the whole day, for the intraday pattern of activity and spread. These starts lie
  in the training part of the day (the model has seen those hours); the real reference
  is every ``intraday_minutes`` window of the whole day.

A third real column, 15-minute windows tiling the whole day (training hours included),
shows whether a fact missed by the 3 held-out hours is there in a longer sample; the
verdicts and the final count use the held-out windows only.

The folder gets ``report.md``, PNG figures and ``summary.json``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, fields
from pathlib import Path

import numpy as np

from lmm.evaluation.baselines import ZeroIntelligenceParams
from lmm.evaluation.evaluate import (
    METRICS,
    StartWindows,
    fidelity_distances,
    held_out_open,
    rollout_models,
    start_windows,
)
from lmm.evaluation.stylized import (
    FACTS,
    FactResult,
    SessionSeries,
    session_series,
    sessions,
    stylized_facts,
)
from lmm.model.checkpoint import Checkpoint
from lmm.model.dataset import DayData, build_dataset
from lmm.model.features import SESSION_CLOSE_NS, SESSION_OPEN_NS
from lmm.results import write_json
from lmm.units import NS_PER_SECOND
from mars_gym.studies.fidelity_figures import (
    LABELS,
    LMM,
    REAL,
    REAL_DAY,
    ZI,
    plot_distributions,
    plot_intraday,
    plot_order_flow,
    plot_response,
    plot_returns,
)

__all__ = ["QUICK", "FidelityConfig", "build_report", "json_default"]

MINUTE = 60 * NS_PER_SECOND
#: Minutes of every real whole-day reference window.
DAY_WINDOW_MINUTES = 15


@dataclass(frozen=True)
class FidelityConfig:
    """What the report runs.

    Attributes:
        validation_minutes: minutes at the end of each day held out.
        start_minutes: held-out start times, minutes after the held-out window opens.
        horizon_minutes: length of each held-out rollout (and real window).
        rollouts: markets per held-out start and model.
        intraday_starts: intraday start times, minutes after 09:30.
        intraday_minutes: length of each intraday rollout and real window.
        intraday_rollouts: markets per intraday start and model; 0 skips them.
        bootstrap: bootstrap resamples of the sessions for the 95% intervals.
        seed: base seed of the rollouts and of the bootstrap.
    """

    validation_minutes: int = 90
    start_minutes: tuple[int, ...] = (0, 15, 30, 45, 60, 75)
    horizon_minutes: int = 15
    rollouts: int = 8
    intraday_starts: tuple[int, ...] = (5, 30, 60, 90, 150, 180, 210, 240, 270, 330, 360)
    intraday_minutes: int = 5
    intraday_rollouts: int = 2
    bootstrap: int = 1000
    seed: int = 0

    def __post_init__(self) -> None:
        for name in ("horizon_minutes", "rollouts", "intraday_minutes", "bootstrap"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.intraday_rollouts < 0:
            raise ValueError(f"intraday_rollouts must be >= 0, got {self.intraday_rollouts}")
        if not self.start_minutes:
            raise ValueError("start_minutes is empty")
        late = [m for m in self.start_minutes if m + self.horizon_minutes > self.validation_minutes]
        if late:
            raise ValueError(
                f"start_minutes {late} + horizon_minutes {self.horizon_minutes} run past the "
                f"held-out window of {self.validation_minutes} minutes"
            )
        day = (SESSION_CLOSE_NS - SESSION_OPEN_NS) // MINUTE
        bad = [m for m in self.intraday_starts if not 0 <= m < day]
        if bad:
            raise ValueError(f"intraday_starts {bad} are outside 0..{day - 1} minutes after 09:30")


#: A quick configuration for tests and smoke runs.
QUICK = FidelityConfig(
    start_minutes=(0, 45),
    horizon_minutes=2,
    rollouts=2,
    intraday_starts=(5, 180, 360),
    intraday_minutes=5,
    intraday_rollouts=1,
    bootstrap=50,
)


# ---------------------------------------------------------------------- running
def _series(records: np.ndarray, windows: StartWindows, per_market: bool) -> list[SessionSeries]:
    """Session series of ``records`` (rollout = market index if ``per_market``, else the
    window index), each tagged with its window's stock and start time."""
    out = []
    for rows in sessions(records):
        k = int(rows["rollout"][0])
        w = int(windows.window[k]) if per_market else k
        out.append(session_series(rows, int(windows.day[w]), int(windows.time_ns[w])))
    return out


def _tiling(days: tuple[DayData, ...], minutes: int, context: int) -> StartWindows:
    """Real windows of ``minutes`` tiling each whole day (no rollouts)."""
    n = int((SESSION_CLOSE_NS - SESSION_OPEN_NS) // (minutes * MINUTE))
    times = [[SESSION_OPEN_NS + k * minutes * MINUTE for k in range(n)] for _ in days]
    return start_windows(days, times, minutes * MINUTE, 0, 0, context)


def build_report(
    checkpoint: Checkpoint,
    files: list[Path],
    out_dir: Path,
    config: FidelityConfig = FidelityConfig(),
    progress: bool = True,
) -> dict:
    """Run the rollouts, measure distances and stylized facts, write the report folder.

    Args:
        checkpoint: the model.
        files: LOBSTER days (their last ``config.validation_minutes`` are held out).
        out_dir: the report folder (created).
        config: what to run.
        progress: progress bars.

    Returns:
        The summary written to ``out_dir / "summary.json"``.
    """
    t0 = time.perf_counter()
    dataset = build_dataset(
        files,
        validation_minutes=config.validation_minutes,
        progress=progress,
        tokenizer=checkpoint.tokenizer,
    )
    days = dataset.days
    context = checkpoint.model.config.context
    zi = ZeroIntelligenceParams.fit(days)
    prepare_s = time.perf_counter() - t0
    horizon = config.horizon_minutes * MINUTE
    main = start_windows(
        days,
        [[held_out_open(d) + m * MINUTE for m in config.start_minutes] for d in days],
        horizon,
        config.rollouts,
        config.seed,
        context,
    )
    t1 = time.perf_counter()
    generated = rollout_models(checkpoint, zi, main, horizon, progress)
    intraday = start_windows(
        days,
        [[SESSION_OPEN_NS + m * MINUTE for m in config.intraday_starts] for _ in days],
        config.intraday_minutes * MINUTE,
        config.intraday_rollouts,
        config.seed,
        context,
    )
    intraday_generated = (
        rollout_models(checkpoint, zi, intraday, config.intraday_minutes * MINUTE, progress)
        if config.intraday_rollouts
        else {}
    )
    rollout_s = time.perf_counter() - t1
    real_intraday = _tiling(days, config.intraday_minutes, context)
    real_day = _tiling(days, DAY_WINDOW_MINUTES, context)

    records = {REAL: main.real, **{name: rec for name, (rec, _) in generated.items()}}
    series = {
        REAL: _series(main.real, main, per_market=False),
        REAL_DAY: _series(real_day.real, real_day, per_market=False),
        **{name: _series(rec, main, per_market=True) for name, (rec, _) in generated.items()},
    }
    real_intraday_series = _series(real_intraday.real, real_intraday, per_market=False)
    intraday_series = {
        REAL: real_intraday_series,
        REAL_DAY: real_intraday_series,
        **{
            name: _series(rec, intraday, per_market=True)
            for name, (rec, _) in intraday_generated.items()
        },
    }
    facts = {
        name: stylized_facts(s, intraday_series.get(name), config.bootstrap, config.seed)
        for name, s in series.items()
    }
    distances = fidelity_distances(main.real, {n: r for n, (r, _) in generated.items()})
    counts = _counts(facts)

    out_dir.mkdir(parents=True, exist_ok=True)
    figures = {
        "distributions.png": lambda p: plot_distributions(records, p),
        "returns.png": lambda p: plot_returns(series, facts, p),
        "order_flow.png": lambda p: plot_order_flow(series, p),
        "response.png": lambda p: plot_response(facts, p),
        "intraday.png": lambda p: plot_intraday(intraday_series, [d.name for d in days], p),
    }
    for name, draw in figures.items():
        draw(out_dir / name)
    summary = {
        "config": {f.name: getattr(config, f.name) for f in fields(config)},
        "files": [str(f) for f in files],
        "checkpoint": _shown(checkpoint.path),
        "markets": {"held_out": len(main.starts), "intraday": len(intraday.starts)},
        "real_windows": {"held_out": len(main.time_ns), "intraday": len(real_intraday.time_ns)},
        "orders": {name: len(rec) for name, rec in records.items()},
        "generation": {
            **{name: info for name, (_, info) in generated.items()},
            **{f"{name}_intraday": info for name, (_, info) in intraday_generated.items()},
        },
        "distances": distances,
        "facts": {name: [f.to_dict() for f in fs] for name, fs in facts.items()},
        "counts": counts,
        "seconds": {
            "prepare": prepare_s,
            "rollouts": rollout_s,
            "total": time.perf_counter() - t0,
        },
        "figures": list(figures),
    }
    (out_dir / "report.md").write_text(_markdown(summary, facts, distances))
    write_json(out_dir / "summary.json", summary, default=json_default)
    return summary


def _shown(path: Path | str | None) -> str:
    """``path`` relative to the working directory when it lies below it."""
    if path is None:
        return "(in memory)"
    try:
        return str(Path(path).resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def json_default(x: object) -> object:
    """The ``default`` of ``json.dumps`` for a report: numpy scalars become Python ones."""
    if isinstance(x, np.generic):
        return x.item()
    raise TypeError(f"not JSON-serialisable: {type(x).__name__}")


def _counts(facts: dict[str, list[FactResult]]) -> dict:
    """How many facts the real held-out data shows, and how many of those each model does."""
    real = [f.key for f in facts[REAL] if f.present]
    out = {"facts": len(FACTS), "real_shows": len(real), "real_facts": real}
    for name in (LMM, ZI):
        if name in facts:
            got = [f.key for f in facts[name] if f.present and f.key in real]
            out[f"{name}_reproduces"] = len(got)
            out[f"{name}_facts"] = got
    return out


# ---------------------------------------------------------------------- report text
def _cell(f: FactResult, stat: str) -> str:
    v, lo, hi = f.values[stat], f.low[stat], f.high[stat]
    if not np.isfinite(v):
        return "n/a"
    return f"{v:.3g} [{lo:.3g}, {hi:.3g}]"


def _verdict(f: FactResult) -> str:
    return {True: "yes", False: "no", None: "n/a"}[f.present]


def _markdown(summary: dict, facts: dict[str, list[FactResult]], distances: dict) -> str:
    c, cfg = summary["counts"], summary["config"]
    sec = summary["seconds"]
    lines = [
        "# Fidelity report: real held-out data against generated markets",
        "",
        f"**Real data shows {c['real_shows']} of {c['facts']} stylized facts; the LMM "
        f"reproduces {c.get('lmm_reproduces', 0)} of those {c['real_shows']}** "
        f"(zero-intelligence baseline: {c.get('zero_intelligence_reproduces', 0)}). "
        "MarS reports 9 of the 11 facts it tests.",
        "",
        "## Set-up",
        "",
        f"* Data: {', '.join(Path(f).name for f in summary['files'])}; held out: the last "
        f"{cfg['validation_minutes']} minutes of each day.",
        f"* Held-out starts: minutes {list(cfg['start_minutes'])} after the held-out window "
        f"opens, {cfg['horizon_minutes']}-minute windows; {cfg['rollouts']} rollouts per start "
        f"and model ({summary['markets']['held_out']} markets per model, "
        f"{summary['real_windows']['held_out']} real windows).",
        f"* Intraday starts: minutes {list(cfg['intraday_starts'])} after 09:30, "
        f"{cfg['intraday_minutes']}-minute rollouts, {cfg['intraday_rollouts']} per start and "
        f"model, against every {cfg['intraday_minutes']}-minute window of the real days. These "
        "starts lie in the training hours.",
        f"* Checkpoint: `{summary['checkpoint']}`. Confidence intervals: 95% percentile "
        f"bootstrap, {cfg['bootstrap']} resamples of whole sessions (real windows or rollouts) "
        "within each stock (and period of the day for the intraday pattern).",
        f"* Orders: {', '.join(f'{LABELS[k]} {v:,}' for k, v in summary['orders'].items())}. "
        f"Run time: {sec['total'] / 60:.1f} min ({sec['rollouts'] / 60:.1f} min of rollouts).",
        "",
        "## Distribution distances",
        "",
        "L1 is the total variation between histograms (0 to 1), W1 the Wasserstein-1 distance "
        "in the metric's units (see `lmm/evaluation/evaluate.py`). "
        "Histograms: `distributions.png`.",
        "",
        "| metric | LMM L1 | ZI L1 | LMM W1 | ZI W1 |",
        "|---|---:|---:|---:|---:|",
    ]
    for m in [*METRICS, "mean"]:
        d_l, d_z = distances[LMM][m], distances[ZI][m]
        w = [f"{x['w1']:.3g}" if np.isfinite(x["w1"]) else "" for x in (d_l, d_z)]
        lines.append(f"| {m} | {d_l['l1']:.3f} | {d_z['l1']:.3f} | {w[0]} | {w[1]} |")
    lines += [
        "",
        "![distributions](distributions.png)",
        "",
        "## Stylized facts",
        "",
        "Each cell: the headline statistic with its 95% interval, then whether the fact is "
        "present by the criterion (the same criterion for every column). The last column, real "
        "15-minute windows over the whole day, is for reference and does not enter the count. "
        f"The intraday pattern's real cells are measured over every {cfg['intraday_minutes']}-"
        "minute window of the real days (the held-out window alone cannot show it).",
        "",
        "| # | fact | statistic | real (held-out) | LMM | zero-intelligence | real (whole day) |",
        "|---|---|---|---|---|---|---|",
    ]
    for i, fact in enumerate(FACTS):
        stat = fact.statistics[0]
        cells = []
        for name in (REAL, LMM, ZI, REAL_DAY):
            f = facts[name][i]
            cells.append(f"{_cell(f, stat)}: **{_verdict(f)}**")
        lines.append(f"| {i + 1} | {fact.title} | {stat} | " + " | ".join(cells) + " |")
    lines += ["", "### Estimators and criteria", ""]
    for i, fact in enumerate(FACTS):
        others = []
        for stat in fact.statistics[1:6]:
            vals = ", ".join(f"{LABELS[n]} {_cell(facts[n][i], stat)}" for n in (REAL, LMM, ZI))
            others.append(f"   - {stat}: {vals}")
        lines += [
            f"{i + 1}. **{fact.title}.** Estimator: {fact.estimator}. Present if {fact.criterion}.",
            *others,
        ]
    lines += [
        "",
        "![returns](returns.png)",
        "",
        "![order flow](order_flow.png)",
        "",
        "![response](response.png)",
        "",
        "![intraday](intraday.png)",
        "",
        "## Limits",
        "",
        "* The held-out window is the last 90 minutes of one day per stock: 15-minute windows "
        "give few 5-minute returns, so aggregational Gaussianity is measured from 10-second to "
        "5-minute returns, and long lags (sign memory beyond 50 orders, |r| beyond 200 s) are "
        "out of reach. A fact missing from the real held-out column may be a matter of sample "
        "size: compare the whole-day column.",
        "* Returns are standardized per stock before pooling; ages at cancel are measured only "
        "for orders submitted within a session (left-censored otherwise), and sessions end "
        "after their horizon, which caps the longest lifetimes the same way for all sources.",
        "* The intraday rollouts start in the training hours; the held-out window alone "
        "(14:30-16:00) cannot show a U shape.",
        "* The real held-out column has 6 windows per stock: its bootstrap intervals, "
        "resampling so few windows, are rough (and tend to be too narrow).",
        "* The thresholds are choices, stated with each fact. Two carry a margin over the "
        "textbook null: a coefficient of variation above 1.5 rather than 1, and ages at "
        "cancel spanning 2 decades rather than the 1.34 of an exponential lifetime. They were "
        "set after a first run in which the zero-intelligence flow, a Poisson flow whose "
        "rates vary with the book, passed the bare thresholds by 1-3%; the real and LMM "
        "values are far from both.",
        "",
    ]
    return "\n".join(lines)
