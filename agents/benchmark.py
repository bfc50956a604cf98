"""The strategy league: every policy on the same held-out seeds, paired by seed.

Each policy plays one episode per seed in a native vector environment (one market per
seed, the model batched across them). Seeds start at :data:`EVALUATION_SEED_BASE`, far from
the small seeds training uses, so evaluation never replays a training episode. Because the
same seed gives the same market until the policies' orders differ, comparisons are paired:
the league reports each policy's mean, standard deviation and 95% confidence interval, and
its paired difference to a reference policy with that difference's 95% interval.

Execution is scored by implementation shortfall in basis points (lower is better);
market making by final PnL in dollars, PnL per unit of PnL standard deviation, and the mean
absolute inventory (inventory risk). PnL per std is a ratio, so its 95% interval, and that
of its paired difference to the reference, come from a bootstrap over seeds (the same
resampled seeds for every policy).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np

import mars_gym  # noqa: F401  (registers the environments)
from lmm.model.checkpoint import fingerprint
from mars_gym.envs.core import sub_env_info
from mars_gym.simulator import SimulatorConfig

__all__ = [
    "CALIBRATION_SEED_BASE",
    "EVALUATION_SEED_BASE",
    "League",
    "market_of",
    "play_episodes",
    "run_league",
]

#: First evaluation seed; training scripts use seeds below it.
EVALUATION_SEED_BASE = 1_000_000
#: First seed for choosing among configurations or checkpoints (calibration, model
#: selection): above the training seeds, below the evaluation seeds.
CALIBRATION_SEED_BASE = EVALUATION_SEED_BASE // 2
#: Bootstrap resamples of the seeds for the intervals of PnL per std.
BOOTSTRAP_RESAMPLES = 4_000
TASKS = {"execution": "MarS-Execution-v0", "market-making": "MarS-MarketMaking-v0"}


def play_episodes(
    env_id: str,
    policy_factory: Callable[[Any], Any],
    seeds: list[int],
    batch: int = 64,
    workers: int = 1,
    **env_kwargs: Any,
) -> list[dict]:
    """One episode per seed, ``batch`` seeds per vector env (split over at most ``workers``
    processes); returns each episode's last info plus its return and length."""
    out: list[dict] = []
    for start in range(0, len(seeds), batch):
        chunk = seeds[start : start + batch]
        env = gym.make_vec(
            env_id,
            num_envs=len(chunk),
            vectorization_mode="vector_entry_point",
            workers=min(workers, len(chunk)),
            **env_kwargs,
        )
        task = env.unwrapped.task
        policies = [policy_factory(task) for _ in chunk]
        for p in policies:
            p.reset()
        obs, _ = env.reset(seed=list(chunk))
        live = np.ones(len(chunk), dtype=bool)
        returns = np.zeros(len(chunk))
        lengths = np.zeros(len(chunk), dtype=int)
        inventory_abs = np.zeros(len(chunk))
        results: list[dict | None] = [None] * len(chunk)
        while live.any():
            actions = np.stack([p(o) for p, o in zip(policies, obs, strict=True)])
            obs, rewards, term, trunc, infos = env.step(actions)
            for i in np.flatnonzero(live):
                returns[i] += rewards[i]
                lengths[i] += 1
                if "inventory" in infos:
                    inventory_abs[i] += abs(float(infos["inventory"][i]))
                if term[i] or trunc[i]:
                    live[i] = False
                    info = sub_env_info(infos, i)
                    results[i] = {
                        **{k: float(v) for k, v in info.items()},
                        "return": float(returns[i]),
                        "length": int(lengths[i]),
                        "mean_abs_inventory": float(inventory_abs[i] / lengths[i]),
                        "terminated": bool(term[i]),
                        "seed": int(chunk[i]),
                    }
        env.close()
        out.extend(r for r in results if r is not None)
    return out


def sharpe(pnl: np.ndarray) -> np.ndarray:
    """Mean over standard deviation along the last axis (0 where the std is 0)."""
    std = pnl.std(axis=-1, ddof=1)
    safe = np.where(std > 0, std, 1.0)
    return np.where(std > 0, pnl.mean(axis=-1) / safe, 0.0)


def _percentile_interval(samples: np.ndarray) -> list[float]:
    lo, hi = np.percentile(samples, [2.5, 97.5])
    return [float(lo), float(hi)]


@dataclass
class League:
    """A league table: per policy, the score of every seed (paired across policies)."""

    task: str
    metric: str  # the score's name
    lower_is_better: bool
    scores: dict[str, np.ndarray]
    extra: dict[str, dict[str, float]]
    reference: str
    seconds: float
    seeds: list[int] | None = None  # the seed of each score, when known
    market: str = ""  # the markets' checkpoint fingerprint and start (market_of)

    def rows(self) -> list[dict]:
        """Per policy: mean, std, 95% CI, paired difference to the reference, extras."""
        ref = self.scores[self.reference]
        ratios = self._pnl_per_std() if self.task == "market-making" and len(ref) > 1 else {}
        rows = []
        for name, s in self.scores.items():
            n = len(s)
            half = 1.96 * s.std(ddof=1) / np.sqrt(n) if n > 1 else float("nan")
            diff = s - ref
            diff_half = 1.96 * diff.std(ddof=1) / np.sqrt(n) if n > 1 else float("nan")
            rows.append(
                {
                    "policy": name,
                    "episodes": n,
                    "mean": float(s.mean()),
                    "std": float(s.std(ddof=1)) if n > 1 else float("nan"),
                    "ci95": [float(s.mean() - half), float(s.mean() + half)],
                    f"vs_{self.reference}": float(diff.mean()),
                    f"vs_{self.reference}_ci95": [
                        float(diff.mean() - diff_half),
                        float(diff.mean() + diff_half),
                    ],
                    **self.extra.get(name, {}),
                    **ratios.get(name, {}),
                }
            )
        rows.sort(key=lambda r: r["mean"], reverse=not self.lower_is_better)
        return rows

    def _pnl_per_std(self) -> dict[str, dict]:
        """Per policy: PnL per std, its bootstrap 95% interval, and the paired difference
        to the reference's with its interval (the same resampled seeds for all)."""
        ref = self.scores[self.reference]
        rng = np.random.default_rng(0)
        resampled = rng.integers(len(ref), size=(BOOTSTRAP_RESAMPLES, len(ref)))
        ref_boot = sharpe(ref[resampled])
        out = {}
        for name, s in self.scores.items():
            boot = sharpe(s[resampled])
            out[name] = {
                "pnl_per_std": float(sharpe(s)),
                "pnl_per_std_ci95": _percentile_interval(boot),
                f"pnl_per_std_vs_{self.reference}": float(sharpe(s) - sharpe(ref)),
                f"pnl_per_std_vs_{self.reference}_ci95": _percentile_interval(boot - ref_boot),
            }
        return out

    def table(self) -> str:
        """The league as text, columns as wide as their widest cell."""
        ref = self.reference
        better = "lower" if self.lower_is_better else "higher"
        cells = [["policy", "n", "mean", "std", "95% CI", f"vs {ref}", ""]]
        for r in self.rows():
            lo, hi = r[f"vs_{ref}_ci95"]
            notes = [f"{k}={v:.2f}" for k, v in self.extra.get(r["policy"], {}).items()]
            if "pnl_per_std" in r:
                (a, b), (c, d) = r["pnl_per_std_ci95"], r[f"pnl_per_std_vs_{ref}_ci95"]
                diff = r[f"pnl_per_std_vs_{ref}"]
                ratio = f"pnl/std={r['pnl_per_std']:.2f} [{a:.2f}, {b:.2f}]"
                notes.insert(0, f"{ratio} ({diff:+.2f} [{c:+.2f}, {d:+.2f}])")
            cells.append(
                [
                    r["policy"],
                    str(r["episodes"]),
                    f"{r['mean']:.2f}",
                    f"{r['std']:.2f}",
                    f"[{r['ci95'][0]:.2f}, {r['ci95'][1]:.2f}]",
                    f"{r[f'vs_{ref}']:+.2f} [{lo:+.2f}, {hi:+.2f}]",
                    "  ".join(notes),
                ]
            )
        widths = [max(len(row[c]) for row in cells) for c in range(len(cells[0]))]
        lines = [f"{self.task}: {self.metric} ({better} is better)"]
        for row in cells:
            numbers = zip(row[1:-1], widths[1:-1], strict=True)
            rest = "".join(cell.rjust(w + 3) for cell, w in numbers)
            lines.append(f"{row[0].ljust(widths[0])}{rest}   {row[-1]}".rstrip())
        return "\n".join(lines)

    def to_dict(self) -> dict:
        """JSON-serialisable view."""
        return {
            "task": self.task,
            "metric": self.metric,
            "lower_is_better": self.lower_is_better,
            "reference": self.reference,
            "seconds": self.seconds,
            "rows": self.rows(),
            "seeds": self.seeds,
            "market": self.market,
            "scores": {name: s.tolist() for name, s in self.scores.items()},
            "extra": self.extra,
        }

    @classmethod
    def from_dict(cls, d: dict) -> League:
        """A league back from :meth:`to_dict`'s JSON; ValueError if it lacks the scores."""
        missing = [k for k in ("task", "seeds", "scores", "extra", "market") if k not in d]
        if missing:
            raise ValueError(f"not a saved league with per-seed scores (no {missing})")
        league = cls(
            task=d["task"],
            metric=d["metric"],
            lower_is_better=d["lower_is_better"],
            scores={name: np.asarray(s, dtype=np.float64) for name, s in d["scores"].items()},
            extra=d["extra"],
            reference=d["reference"],
            seconds=d["seconds"],
            seeds=list(d["seeds"]),
            market=d["market"],
        )
        return league.with_reference(league.reference)

    def with_reference(self, reference: str) -> League:
        """The same league compared with another of its policies."""
        if reference not in self.scores:
            raise ValueError(f"reference {reference!r} is not in the league {sorted(self.scores)}")
        return replace(self, reference=reference)

    def join(self, other: League) -> League:
        """This league with ``other``'s policies added (their scores were measured on the
        same task, seeds and markets, so pairing still holds); ``self``'s reference."""
        for what in ("task", "seeds", "market"):
            if getattr(self, what) != getattr(other, what):
                raise ValueError(
                    f"cannot join leagues with different {what}: "
                    f"{getattr(self, what)!r} and {getattr(other, what)!r}"
                )
        shared = sorted(set(self.scores) & set(other.scores))
        if shared:
            raise ValueError(f"both leagues play {shared}")
        return replace(
            self,
            scores={**self.scores, **other.scores},
            extra={**self.extra, **other.extra},
            seconds=self.seconds + other.seconds,
        )

    def plot(self, path: str | Path) -> None:
        """Bar chart of means with 95% intervals (and, for market making, of PnL per std
        beside it), saved as PNG (folders are created)."""
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        rows = self.rows()
        panels = [
            (
                "mean",
                "ci95",
                f"{self.metric} ({'lower' if self.lower_is_better else 'higher'} is better)",
            )
        ]
        if "pnl_per_std" in rows[0]:
            panels.append(("pnl_per_std", "pnl_per_std_ci95", "PnL / std (higher is better)"))
        fig, axes = plt.subplots(
            1, len(panels), figsize=(7 * len(panels), 0.45 * len(rows) + 1.5), squeeze=False
        )
        names = [r["policy"] for r in rows]
        for ax, (key, ci, label) in zip(axes[0], panels, strict=True):
            values = np.array([r[key] for r in rows])
            errs = np.abs(np.array([r[ci] for r in rows]).T - values)
            ax.barh(names, values, xerr=errs, color="#4c72b0", capsize=3)
            ax.invert_yaxis()
            ax.set_xlabel(label)
        fig.suptitle(f"{self.task} league, {rows[0]['episodes']} held-out episodes per policy")
        fig.tight_layout()
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, dpi=110)
        plt.close(fig)


def market_of(env_kwargs: dict[str, Any]) -> str:
    """What the league's markets are: the LMM checkpoint's fingerprint, the start file and
    time when the markets start from a real day, and the decoder when it is not torch
    (leagues of other markets never join). The engine is not named: both give the same
    markets."""
    default_decoder = SimulatorConfig.decoder
    market = fingerprint(env_kwargs.get("checkpoint"))
    start_file = env_kwargs.get("start_file")
    if start_file is not None:
        market += f" from {Path(start_file).name} at {env_kwargs.get('start_time')}"
    decoder = env_kwargs.get("decoder", default_decoder)
    if decoder != default_decoder:
        market += f" decoded by {decoder}"
    return market


def run_league(
    task: str,
    policies: dict[str, Callable[[Any], Any]],
    episodes: int = 200,
    reference: str | None = None,
    batch: int = 64,
    progress: bool = False,
    seed_base: int = EVALUATION_SEED_BASE,
    **env_kwargs: Any,
) -> League:
    """Every policy on the same ``episodes`` seeds from ``seed_base``: by default the
    held-out evaluation seeds; a calibration uses seeds of its own."""
    if task not in TASKS:
        raise ValueError(f"task must be one of {sorted(TASKS)}, got {task!r}")
    seeds = list(range(seed_base, seed_base + episodes))
    items = list(policies.items())
    if progress:
        from tqdm import tqdm

        items = tqdm(items, desc=f"{task} league", unit="policy")
    start = time.perf_counter()
    scores, extra = {}, {}
    for name, factory in items:
        results = play_episodes(TASKS[task], factory, seeds, batch, **env_kwargs)
        if task == "execution":
            scores[name] = np.array([r["shortfall_bp"] for r in results])
            extra[name] = {"forced_fraction": float(np.mean([r["forced"] > 0 for r in results]))}
        else:
            scores[name] = np.array([r["pnl"] for r in results])
            extra[name] = {
                "mean_abs_inventory": float(np.mean([r["mean_abs_inventory"] for r in results]))
            }
    default = "twap_passive" if task == "execution" and "twap_passive" in scores else None
    league = League(
        task=task,
        metric="implementation shortfall (bp)" if task == "execution" else "PnL ($)",
        lower_is_better=task == "execution",
        scores=scores,
        extra=extra,
        reference=default or next(iter(scores)),
        seconds=time.perf_counter() - start,
        seeds=seeds,
        market=market_of(env_kwargs),
    )
    return league.with_reference(reference) if reference is not None else league
