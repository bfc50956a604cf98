"""Scenarios on demand, measured (issue 27): calibration, a real afternoon as the scenario,
and the strategy leagues under stress.

    python examples/scenario_study.py --part guidance
    python examples/scenario_study.py --part calibration
    python examples/scenario_study.py --part history
    python examples/scenario_study.py --part stress
    python examples/scenario_study.py --part sensitivity

write ``docs/results/scenarios/{guidance,calibration,history,stress,sensitivity}.json``
(and a figure for calibration, history and stress), with
the packaged ``scenario`` checkpoint (the default checkpoint fine-tuned with outlook inputs,
:mod:`lmm.model.outlook`).

* **guidance** (the choice, on the selection starts of both sample stocks,
  :data:`lmm.evaluation.scoring.SELECTION_TIMES`): for each guidance in ``guidances``, the
  slope of realised on requested drift (``drifts``, the volatility typical) over
  ``seeds`` markets per cell, and each requested drift's realised mean; the checkpoint's
  ``outlook_guidance`` is the one whose slope is nearest 1.
* **calibration** (:func:`mars_gym.studies.scenarios.calibrate`): a grid of requested
  drifts (bp per minute) x volatilities (bp per square root of a minute), ``seeds`` seeded
  markets per cell from the real book of ``start_file`` at each of ``times``, ``minutes``
  long; the realised rates per cell with 95% intervals, and the correlation of requested
  with realised over every rollout; the unconditional market beside them.
* **history** (:func:`mars_gym.studies.scenarios.follow_history`): the start file's own
  realised per-minute path from each of ``times`` as the scenario; how far the generated
  mid strays from the real one, against the unconditional market from the same seeds.
* **stress**: the execution league and the market-making league
  (:func:`agents.benchmark.run_league`, every baseline and the shipped PPO agent) on the
  same held-out seeds under a calm, a trending and a crash scenario; each policy's score
  with its 95% interval, and its rank, per scenario.
* **sensitivity** (:func:`mars_gym.studies.scenarios.outlook_sensitivity`): on ``windows``
  real windows of each sample day, how far the model's next-order distribution moves when
  one outlook number goes from typical to an end of its training range, at guidance 1 and
  the checkpoint's own, and each number's correlation with the minute before it; why a
  scenario's drift is followed and its volatility is not.

Seeds: calibration and history use :data:`agents.benchmark.CALIBRATION_SEED_BASE` on; the
stress leagues the evaluation seeds, :data:`agents.benchmark.EVALUATION_SEED_BASE` on.
"""

from __future__ import annotations

import argparse
import json
import time
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

import numpy as np

from agents.baselines import BASELINES
from agents.benchmark import CALIBRATION_SEED_BASE, League, run_league
from agents.trained import trained_policies
from lmm.evaluation.scoring import EVALUATION_TIMES, SELECTION_TIMES
from lmm.model.checkpoint import fingerprint, load_checkpoint
from lmm.model.dataset import build_dataset
from mars_gym.console.flags import (
    DEFAULT_DATA_DIR,
    TRAINING_FILES,
    config_from_args,
    dataclass_flags,
)
from mars_gym.scenario import ScenarioExtrapolationWarning
from mars_gym.simulator import SimulatorConfig
from mars_gym.studies.scenarios import (
    calibrate,
    follow_history,
    outlook_persistence,
    outlook_sensitivity,
)

if TYPE_CHECKING:
    from matplotlib.figure import Figure

#: The stress scenarios: calm, a rise of 10 bp a minute, and a crash of 20 bp a minute with
#: three times the volatility and volume of a typical minute.
STRESS = {
    "calm": "5m calm",
    "trending": "5m drift +50bp",
    "crash": "5m drift -100bp vol 15bp volume 3x",
}


@dataclass(frozen=True)
class Args:
    """Arguments of the study.

    Attributes:
        part: "calibration", "history" or "stress".
        checkpoint: the LMM checkpoint (a model with outlook features).
        start_file: the LOBSTER day whose books are the starts (calibration and history).
        times: times of day of the starts, comma-separated (calibration and history).
        seeds: markets per cell and start (calibration), per start (history).
        minutes: market minutes per rollout (calibration and history).
        drifts: requested drifts, bp per minute, comma-separated (calibration, guidance).
        guidances: the guidances tried (guidance).
        volatilities: requested volatilities, bp per square root of a minute (calibration).
        episodes: held-out seeds per policy and scenario (stress, execution).
        mm_episodes: held-out seeds per policy and scenario (stress, market making).
        mm_horizon: decisions per market-making episode (stress; the env's default is
            300, five minutes).
        windows: real windows per day (sensitivity).
        out: folder for the results.
    """

    part: str = "calibration"
    checkpoint: str = "scenario"
    start_file: str = str(DEFAULT_DATA_DIR / TRAINING_FILES[0])
    times: str = ",".join(EVALUATION_TIMES)
    seeds: int = 16
    minutes: int = 3
    drifts: str = "-10,10"
    volatilities: str = "4,12"
    guidances: str = "1,3,6"
    episodes: int = 100
    mm_episodes: int = 50
    mm_horizon: int = 300
    windows: int = 48
    out: str = "docs/results/scenarios"


def _floats(text: str) -> list[float]:
    return [float(x) for x in text.split(",")]


def _pyplot() -> ModuleType:
    """matplotlib's pyplot on the file-only Agg backend (imported only when a figure is
    drawn)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig: Figure, title: str, path: Path) -> None:
    """Title ``fig``, write it to ``path`` (its folder made) and close it."""
    fig.suptitle(title)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    _pyplot().close(fig)


def part_guidance(args: Args) -> dict:
    seeds = list(range(CALIBRATION_SEED_BASE, CALIBRATION_SEED_BASE + args.seeds))
    days = [str(DEFAULT_DATA_DIR / name) for name in TRAINING_FILES]
    out: dict = {"days": days, "times": list(SELECTION_TIMES), "slopes": {}}
    for g in _floats(args.guidances):
        slopes = []
        realized: dict[float, list[float]] = {}  # per requested drift, each start's mean
        for day in days:
            for when in SELECTION_TIMES:
                config = SimulatorConfig(
                    checkpoint=args.checkpoint,
                    start_file=day,
                    start_time=when,
                    scenario_guidance=g,
                )
                cells, fit = calibrate(
                    config, _floats(args.drifts), [None], seeds, args.minutes, unconditional=False
                )
                slopes.append(fit["drift_slope"])
                for c in cells:
                    realized.setdefault(c.drift, []).append(float(c.realized[:, 0].mean()))
        out["slopes"][str(g)] = {
            "per_start": slopes,
            "mean": float(np.mean(slopes)),
            # a rise and a fall can be followed unequally: each request's realised drift
            "realized": {str(d): float(np.mean(r)) for d, r in realized.items()},
        }
        each = ", ".join(f"{d:+g} gives {np.mean(r):+.2f}" for d, r in realized.items())
        print(
            f"guidance {g:g}: drift slope {np.mean(slopes):.2f} (per start "
            f"{np.round(slopes, 2)}); mean over starts: {each}"
        )
    best = min(out["slopes"], key=lambda g: abs(out["slopes"][g]["mean"] - 1))
    out["chosen"] = float(best)
    print(f"chosen guidance {best} (slope nearest 1)")
    return out


def part_calibration(args: Args) -> dict:
    seeds = list(range(CALIBRATION_SEED_BASE, CALIBRATION_SEED_BASE + args.seeds))
    out: dict = {"starts": {}}
    for when in args.times.split(","):
        config = SimulatorConfig(
            checkpoint=args.checkpoint, start_file=args.start_file, start_time=when
        )
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", ScenarioExtrapolationWarning)
            cells, correlation = calibrate(
                config, _floats(args.drifts), _floats(args.volatilities), seeds, args.minutes
            )
        summaries = [c.summary() for c in cells]
        out["starts"][when] = {
            "cells": summaries,
            "correlation": correlation,
            "extrapolations": sorted({str(w.message) for w in caught}),
        }
        print(f"start {when}: correlation of requested with realised {correlation}")
        for c, s in zip(cells, summaries, strict=True):
            asked = (
                "unconditional"
                if c.drift is None
                else f"drift {c.drift:+5.1f} vol {c.volatility:4.1f}"
            )
            print(
                f"  {asked:>24}: drift {s['drift']['mean']:+6.2f} "
                f"[{s['drift']['ci95'][0]:+6.2f}, {s['drift']['ci95'][1]:+6.2f}]  vol "
                f"{s['volatility']['mean']:5.2f} [{s['volatility']['ci95'][0]:5.2f}, "
                f"{s['volatility']['ci95'][1]:5.2f}]  volume {s['volume']['mean']:4.2f}"
            )
    out["pooled"] = _pool_calibration(out)
    _plot_calibration(out, Path(args.out) / "calibration.png")
    return out


def _pool_calibration(out: dict) -> dict:
    """Per requested drift and per requested volatility, the realised rate averaged over
    the starts and the other request's values (every cell has the same seeds), with the
    least and greatest cell mean; printed."""
    cells = [
        c
        for result in out["starts"].values()
        for c in result["cells"]
        if c["requested_drift"] is not None
    ]
    pooled: dict = {}
    for name in ("drift", "volatility"):
        pooled[name] = {}
        for asked in sorted({c[f"requested_{name}"] for c in cells}):
            means = [c[name]["mean"] for c in cells if c[f"requested_{name}"] == asked]
            pooled[name][str(asked)] = {
                "mean": float(np.mean(means)),
                "cells": [float(min(means)), float(max(means))],
            }
            print(
                f"requested {name} {asked:+g}: realised {np.mean(means):+.2f} "
                f"(cells {min(means):+.2f} to {max(means):+.2f})"
            )
    return pooled


def _plot_calibration(out: dict, path: Path) -> None:
    plt = _pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.5))
    for k, (when, result) in enumerate(out["starts"].items()):
        cells = [c for c in result["cells"] if c["requested_drift"] is not None]
        for ax, name in zip(axes, ("drift", "volatility"), strict=True):
            asked = np.array([c[f"requested_{name}"] for c in cells])
            mean = np.array([c[name]["mean"] for c in cells])
            ci = np.array([c[name]["ci95"] for c in cells]).T
            shift = (k - 0.5) * 0.02 * (np.ptp(asked) or 1)
            r = result["correlation"].get(f"{name}_correlation", np.nan)
            ax.errorbar(
                asked + shift,
                mean,
                yerr=np.abs(ci - mean),
                fmt="o",
                capsize=3,
                label=f"start {when} (r = {r:.2f})",
            )
            free = result["cells"][0][name]["mean"]
            ax.axhline(free, color=f"C{k}", ls=":", lw=1)
    for ax, name, unit in zip(
        axes, ("drift", "volatility"), ("bp / min", "bp / sqrt(min)"), strict=True
    ):
        lims = ax.get_xlim()
        ax.plot(lims, lims, color="grey", lw=1, label="realised = requested")
        ax.set_xlabel(f"requested {name} ({unit})")
        ax.set_ylabel(f"realised {name} ({unit})")
        ax.legend(fontsize=8)
    _save(fig, "Scenario calibration: mean and 95% interval over seeds (dotted: no scenario)", path)


def part_history(args: Args) -> dict:
    seeds = list(range(CALIBRATION_SEED_BASE, CALIBRATION_SEED_BASE + args.seeds))
    out: dict = {"starts": {}}
    for when in args.times.split(","):
        # no warm-up: the generated minutes line up with the real ones from the start
        config = SimulatorConfig(
            checkpoint=args.checkpoint,
            start_file=args.start_file,
            start_time=when,
            warmup_orders=0,
        )
        result = follow_history(config, args.minutes, seeds)
        out["starts"][when] = result.summary()
        s = out["starts"][when]
        print(
            f"start {when}: real move {s['real'][-1]:+.1f} bp; RMSE to the real mid, mean over "
            f"minutes: following {s['following']['mean_rmse']:.1f} bp, unconditional "
            f"{s['unconditional']['mean_rmse']:.1f} bp; ending on the real move's side "
            f"{s['following']['same_side']:.0%} vs {s['unconditional']['same_side']:.0%}"
        )
    _plot_history(out, Path(args.out) / "history.png")
    return out


def _plot_history(out: dict, path: Path) -> None:
    plt = _pyplot()
    starts = list(out["starts"].items())
    fig, axes = plt.subplots(1, len(starts), figsize=(5.5 * len(starts), 4), squeeze=False)
    for ax, (when, s) in zip(axes[0], starts, strict=True):
        minutes = np.arange(len(s["real"]))
        ax.plot(minutes, s["real"], "k-", lw=2, label="real")
        for name, color in (("following", "C0"), ("unconditional", "C1")):
            mean, rmse = np.array(s[name]["mean"]), np.array(s[name]["rmse"])
            ax.plot(minutes, mean, color=color, label=f"{name} (mean; RMSE band)")
            ax.fill_between(minutes, s["real"] - rmse, s["real"] + rmse, color=color, alpha=0.15)
        ax.set_title(f"start {when}")
        ax.set_xlabel("minute")
        ax.set_ylabel("mid, bp from the start")
        ax.legend(fontsize=8)
    _save(fig, "A real afternoon as the scenario", path)


def part_stress(args: Args) -> dict:
    out: dict = {"scenarios": STRESS, "tasks": {}}
    runs = (
        ("execution", args.episodes, {}),
        ("market-making", args.mm_episodes, {"horizon": args.mm_horizon}),
    )
    for task, episodes, env_kwargs in runs:
        policies = {**BASELINES[task], **trained_policies(task)}
        leagues: dict[str, League] = {}
        for name, text in STRESS.items():
            t0 = time.perf_counter()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ScenarioExtrapolationWarning)
                leagues[name] = run_league(
                    task,
                    policies,
                    episodes,
                    checkpoint=args.checkpoint,
                    scenario=text,
                    **env_kwargs,
                )
            print(f"{task}, {name} ({text}): {time.perf_counter() - t0:.0f} s", flush=True)
            print(leagues[name].table(), flush=True)
        out["tasks"][task] = {
            name: {**league.to_dict(), "ranks": _ranks(league)} for name, league in leagues.items()
        }
    _plot_stress(out, Path(args.out) / "stress.png")
    return out


def _ranks(league: League) -> dict[str, int]:
    return {r["policy"]: k + 1 for k, r in enumerate(league.rows())}


def _plot_stress(out: dict, path: Path) -> None:
    plt = _pyplot()
    tasks = list(out["tasks"].items())
    fig, axes = plt.subplots(1, len(tasks), figsize=(7 * len(tasks), 5), squeeze=False)
    for ax, (task, by_scenario) in zip(axes[0], tasks, strict=True):
        names = [r["policy"] for r in by_scenario["calm"]["rows"]]
        y = np.arange(len(names))
        for k, (scenario, league) in enumerate(by_scenario.items()):
            rows = {r["policy"]: r for r in league["rows"]}
            mean = np.array([rows[n]["mean"] for n in names])
            ci = np.array([rows[n]["ci95"] for n in names]).T
            ax.errorbar(
                mean, y + (k - 1) * 0.25, xerr=np.abs(ci - mean), fmt="o", capsize=2, label=scenario
            )
        ax.set_yticks(y, names)
        ax.invert_yaxis()
        ax.set_xlabel(by_scenario["calm"]["metric"])
        ax.set_title(task)
        ax.legend(fontsize=8)
    _save(fig, "The leagues under stress: mean and 95% interval per scenario", path)


def part_sensitivity(args: Args) -> dict:
    checkpoint = load_checkpoint(args.checkpoint)
    own = float(checkpoint.metadata.get("outlook_guidance", 1.0))
    out: dict = {"days": {}}
    for name in TRAINING_FILES:
        day = build_dataset([DEFAULT_DATA_DIR / name], tokenizer=checkpoint.tokenizer).days[0]
        persistence = outlook_persistence(day.flow["time"], day.outlook)
        out["days"][name] = {"persistence": persistence}
        rounded = {k: round(v, 2) for k, v in persistence.items()}
        print(f"{name}: correlation with the minute before {rounded}")
        for g in sorted({1.0, own}):
            result = outlook_sensitivity(checkpoint, day, g, windows=args.windows)
            out["days"][name][str(g)] = result
            print(f"{name}, guidance {g:g}:")
            for setting, r in result.items():
                print(
                    f"  {setting:>16}: KL {r['kl_bits']:.4f} bits  market {r['market']:.4f}  "
                    f"cancel {r['cancel']:.3f}  limit {r['limit']:.3f}  "
                    f"buys among market {r['buy_market']:.3f}"
                )
    return out


PARTS = {
    "guidance": part_guidance,
    "calibration": part_calibration,
    "history": part_history,
    "stress": part_stress,
    "sensitivity": part_sensitivity,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    dataclass_flags(parser, Args)
    args = config_from_args(Args(), parser.parse_args())
    if args.part not in PARTS:
        raise SystemExit(f"--part must be one of {', '.join(PARTS)}, got {args.part!r}")
    t0 = time.perf_counter()
    result = PARTS[args.part](args)
    result.update(
        args=asdict(args),
        market=fingerprint(args.checkpoint),
        seconds=time.perf_counter() - t0,
    )
    path = Path(args.out) / f"{args.part}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=1) + "\n")
    print(f"wrote {path} ({result['seconds'] / 60:.1f} min)")


if __name__ == "__main__":
    main()
