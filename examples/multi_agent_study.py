"""A market maker with and without an execution agent buying in the same generated market.

The question of issue 26: what does a metaorder do to the market maker quoting around it,
when the market (the LMM's generated flow) reacts to both? Each seed is played twice, once
with the maker alone and once with a buyer beside it; the market seed, and so the start
book and the model's sampling streams, are the same in both, so the comparison is paired
by seed. Scores are the maker's: its PnL in dollars (marked to the mid at the end), its
PnL per unit of PnL standard deviation, and its inventory risk, the mean absolute
inventory over its decisions (shares); each with a 95% interval and the paired difference
"with buyer minus without" with its own, computed by :class:`agents.benchmark.League`
(t intervals for means, a bootstrap over seeds for PnL per std).

**The set-up.** Both agents decide every second for ``horizon`` decisions (300: five
minutes). The maker (``MarS-MarketMaking-v0``'s task, default arguments) quotes by a
fixed policy of :mod:`agents.baselines` (Avellaneda-Stoikov by default). The buyer
(``MarS-Execution-v0``'s task, same horizon) buys ``quantity`` shares with TWAP at market:
an equal market order every second. **How the quantity is set**: the part ``baseline``
first plays the maker alone on the evaluation seeds and measures the market's volume, the
shares traded during each episode as the maker's observations count them (every trade,
the maker never being the aggressor); the quantity is ``fraction`` (10%) of the mean
volume, rounded to a 100-share lot. The buyer's own orders add volume, so its realised
share of the volume with it in the market is lower; the summary reports it.

**The part ``ppo``** trains two PPO market makers with :mod:`agents.train_ppo`'s recipe
(observation and reward normalisation, its default hyperparameters) through
:class:`agents.multi_agent.LearnerVecEnv`: one in markets with the buyer (TWAP at market,
the quantity above), one alone, each for ``ppo_timesteps`` environment steps on training
seeds (``ppo_seed + k``, far below the evaluation seeds), then evaluates both in both
conditions on the first ``ppo_episodes`` evaluation seeds, with no selection among
checkpoints.

    python examples/multi_agent_study.py --part baseline
    python examples/multi_agent_study.py --part ppo

write ``docs/results/multi_agent/{baseline,ppo}.json`` and ``.png`` (seeds from
:data:`agents.benchmark.EVALUATION_SEED_BASE`; the commands and the figures they gave are
in docs/multi_agent.md).
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from agents.baselines import MARKET_MAKING_BASELINES, TWAP
from agents.benchmark import EVALUATION_SEED_BASE, League
from agents.multi_agent import PolicyFactory, make_learner_vec_env, play_markets
from agents.train_ppo import Args as PPOArgs
from agents.train_ppo import train
from agents.trained import sb3_policy
from lmm.model.checkpoint import fingerprint
from mars_gym.console.flags import config_from_args, dataclass_flags
from mars_gym.envs.execution import CROSS
from mars_gym.envs.multi_agent import AgentSpec

WITHOUT, WITH = "without buyer", "with buyer"


@dataclass(frozen=True)
class Args:
    """Arguments of the study.

    Attributes:
        part: "baseline" (a baseline maker, and the quantity) or "ppo" (two PPO makers).
        episodes: evaluation seeds of the part baseline (one episode each, per condition).
        batch: markets per batched environment in evaluation.
        horizon: decisions (seconds) of both agents' episodes.
        fraction: the buyer's quantity as a fraction of the mean volume without it.
        quantity: the buyer's shares; 0: measured (part baseline: from its own run without
            the buyer; part ppo: read from the part baseline's JSON in ``out``).
        maker: the baseline market maker (a key of ``MARKET_MAKING_BASELINES``).
        checkpoint: the LMM checkpoint ("" for the packaged default).
        ppo_timesteps: environment steps each PPO maker trains for.
        ppo_num_envs: markets per batch in PPO training.
        ppo_seed: seeds PPO and the training markets (``ppo_seed + k``).
        ppo_episodes: evaluation seeds of the part ppo, per maker and condition.
        max_minutes: wall-clock budget of each PPO training (0: none).
        out: folder for the summaries (JSON) and figures (PNG).
        runs: folder for the trained PPO models.
    """

    part: str = "baseline"
    episodes: int = 64
    batch: int = 64
    horizon: int = 300
    fraction: float = 0.10
    quantity: int = 0
    maker: str = "avellaneda_stoikov"
    checkpoint: str = ""
    ppo_timesteps: int = 20_000
    ppo_num_envs: int = 32
    ppo_seed: int = 0
    ppo_episodes: int = 32
    max_minutes: float = 20.0
    out: str = "docs/results/multi_agent"
    runs: str = "runs/multi_agent_study"

    def __post_init__(self) -> None:
        if self.part not in ("baseline", "ppo"):
            raise ValueError(f"part must be 'baseline' or 'ppo', got {self.part!r}")
        if self.maker not in MARKET_MAKING_BASELINES:
            raise ValueError(
                f"maker must be one of {sorted(MARKET_MAKING_BASELINES)}, got {self.maker!r}"
            )
        if not 0 < self.fraction < 1:
            raise ValueError(f"fraction must be in (0, 1), got {self.fraction}")
        for name in ("episodes", "batch", "horizon", "ppo_num_envs", "ppo_episodes"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.quantity < 0 or self.ppo_timesteps < 0:
            raise ValueError("quantity and ppo_timesteps must be >= 0")


def market(args: Args, quantity: int | None) -> tuple[AgentSpec, ...]:
    """The agents of one condition: the maker, and the buyer of ``quantity`` shares
    (None: no buyer)."""
    maker = AgentSpec("maker", "market_making", {"horizon": args.horizon})
    if quantity is None:
        return (maker,)
    buyer = AgentSpec("buyer", "execution", {"quantity": quantity, "horizon": args.horizon})
    return (buyer, maker)


def buyer_policy(task: Any) -> TWAP:
    """The buyer's policy: TWAP with market orders."""
    return TWAP(task, CROSS)


def play(
    args: Args, maker: PolicyFactory, quantity: int | None, seeds: list[int]
) -> list[dict[str, dict]]:
    """One episode per seed of the condition (``quantity`` None: no buyer)."""
    policies: dict[str, PolicyFactory | None] = {"maker": maker}
    if quantity is not None:
        policies["buyer"] = buyer_policy
    kwargs = {"checkpoint": args.checkpoint} if args.checkpoint else {}
    return play_markets(market(args, quantity), policies, seeds, args.batch, **kwargs)


def compare(name: str, without: list[dict], with_: list[dict], seeds: list[int], args: Args):
    """The maker's PnL and inventory in both conditions, paired by seed, as two
    :class:`League`\\ s (reference: without the buyer)."""
    leagues = {}
    for key, metric, lower in (
        ("pnl", "PnL ($)", False),
        ("mean_abs_inventory", "mean |inventory| (shares)", True),
    ):
        scores = {
            WITHOUT: np.array([r["maker"][key] for r in without]),
            WITH: np.array([r["maker"][key] for r in with_]),
        }
        extra = {  # how often the inventory limit ended its episode, and when
            cond: {
                "breached": float(np.mean([r["maker"]["terminated"] for r in rs])),
                "decisions": float(np.mean([r["maker"]["length"] for r in rs])),
            }
            for cond, rs in ((WITHOUT, without), (WITH, with_))
        }
        leagues[key] = League(
            task="market-making" if key == "pnl" else "inventory risk",
            metric=f"{name}: {metric}",
            lower_is_better=lower,
            scores=scores,
            extra=extra,
            reference=WITHOUT,
            seconds=0.0,
            seeds=seeds,
            market=fingerprint(args.checkpoint or None),
        )
    return leagues


def buyer_summary(with_: list[dict], quantity: int) -> dict[str, float]:
    """The buyer's realised share of the volume (its bought shares over the market's
    volume with it), its implementation shortfall (bp) and how often its deadline forced
    a purchase, means over seeds."""
    bought = [quantity - r["buyer"]["remaining"] for r in with_]
    volume = [r["maker"]["seen_volume"] for r in with_]
    return {
        "fraction_of_volume": float(np.mean(np.divide(bought, volume))),
        "shortfall_bp": float(np.mean([r["buyer"]["shortfall_bp"] for r in with_])),
        "forced_fraction": float(np.mean([r["buyer"]["forced"] > 0 for r in with_])),
    }


def markdown(leagues: dict[str, League]) -> str:
    """One maker's rows for the docs: per condition, PnL and inventory with 95% CIs, and
    the paired difference with the buyer."""
    pnl = {r["policy"]: r for r in leagues["pnl"].rows()}
    inv = {r["policy"]: r for r in leagues["mean_abs_inventory"].rows()}
    lines = []
    maker = leagues["pnl"].metric.split(":")[0]
    for cond in (WITHOUT, WITH):
        p, q = pnl[cond], inv[cond]
        (a, b), (c, d) = p["ci95"], q["ci95"]
        (e, f), (g, h) = p[f"vs_{WITHOUT}_ci95"], q[f"vs_{WITHOUT}_ci95"]
        (s0, s1) = p["pnl_per_std_ci95"]
        lines.append(
            f"| {maker} | {cond} | {p['mean']:.1f} [{a:.1f}, {b:.1f}]"
            f" | {p[f'vs_{WITHOUT}']:+.1f} [{e:+.1f}, {f:+.1f}]"
            f" | {p['pnl_per_std']:.2f} [{s0:.2f}, {s1:.2f}]"
            f" | {q['mean']:.0f} [{c:.0f}, {d:.0f}]"
            f" | {q[f'vs_{WITHOUT}']:+.0f} [{g:+.0f}, {h:+.0f}]"
            f" | {100 * p['breached']:.0f}% |"
        )
    return "\n".join(lines)


def plot(makers: dict[str, dict[str, League]], path: Path, title: str) -> None:
    """Per maker, its PnL and mean |inventory| without and with the buyer (95% CIs)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 0.9 * len(makers) + 2.2))
    for ax, key, label in (
        (axes[0], "pnl", "maker's PnL ($), 95% CI"),
        (axes[1], "mean_abs_inventory", "maker's mean |inventory| (shares), 95% CI"),
    ):
        for j, (cond, color) in enumerate(((WITHOUT, "#4c72b0"), (WITH, "#dd8452"))):
            rows = [{r["policy"]: r for r in m[key].rows()}[cond] for m in makers.values()]
            y = np.arange(len(makers)) + (j - 0.5) * 0.38
            means = np.array([r["mean"] for r in rows])
            errs = np.abs(np.array([r["ci95"] for r in rows]).T - means)
            ax.barh(y, means, height=0.36, xerr=errs, color=color, capsize=3, label=cond)
        ax.set_yticks(np.arange(len(makers)), list(makers))
        ax.invert_yaxis()
        ax.axvline(0, color="black", lw=0.6)
        ax.set_xlabel(label)
    axes[0].legend(loc="best", fontsize=8)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def report(makers: dict[str, dict[str, League]]) -> None:
    """Print every maker's two leagues and the docs' table rows."""
    for leagues in makers.values():
        for league in leagues.values():
            print(league.table(), "\n")
    print(
        "| maker | market | PnL ($) [95%] | vs without, paired | PnL/std [95%] "
        "| mean abs. inventory [95%] | vs without, paired | inventory limit hit |"
    )
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    for leagues in makers.values():
        print(markdown(leagues))


def baseline_part(args: Args) -> dict:
    """The baseline maker without and with the buyer; the quantity from the volume."""
    seeds = list(range(EVALUATION_SEED_BASE, EVALUATION_SEED_BASE + args.episodes))
    maker = MARKET_MAKING_BASELINES[args.maker]
    start = time.perf_counter()
    without = play(args, maker, None, seeds)
    volume = np.array([r["maker"]["seen_volume"] for r in without])
    quantity = args.quantity or int(100 * max(round(args.fraction * volume.mean() / 100), 1))
    print(
        f"without the buyer: {time.perf_counter() - start:.0f} s; volume per episode mean "
        f"{volume.mean():,.0f}, median {np.median(volume):,.0f} shares -> quantity {quantity:,}"
    )
    with_ = play(args, maker, quantity, seeds)
    makers = {args.maker: compare(args.maker, without, with_, seeds, args)}
    report(makers)
    buyer = buyer_summary(with_, quantity)
    print(f"buyer: {buyer}")
    out = Path(args.out)
    plot(
        makers,
        out / "baseline.png",
        f"A market maker ({args.maker}) without and with a buyer "
        f"of {quantity:,} shares (TWAP at market) in {args.horizon} s; {len(seeds)} paired seeds",
    )
    return {
        "volume_without_buyer": {"mean": float(volume.mean()), "median": float(np.median(volume))},
        "quantity": quantity,
        "buyer": buyer,
        "seeds": seeds,
        "makers": {name: {k: v.to_dict() for k, v in m.items()} for name, m in makers.items()},
        "seconds": time.perf_counter() - start,
    }


def ppo_part(args: Args) -> dict:
    """Two PPO makers, trained without and with the buyer, each played in both."""
    quantity = args.quantity
    if not quantity:
        source = Path(args.out) / "baseline.json"
        if not source.is_file():
            raise FileNotFoundError(f"no {source}: run --part baseline first, or give --quantity")
        quantity = int(json.loads(source.read_text())["quantity"])
    kwargs = {"checkpoint": args.checkpoint} if args.checkpoint else {}
    start = time.perf_counter()
    models = {}
    for label, q in (("ppo trained without buyer", None), ("ppo trained with buyer", quantity)):
        env = make_learner_vec_env(
            args.ppo_num_envs,
            market(args, q),
            "maker",
            {} if q is None else {"buyer": buyer_policy},
            seed=args.ppo_seed,
            **kwargs,
        )
        ppo = PPOArgs(
            task="market-making",
            num_envs=args.ppo_num_envs,
            total_timesteps=args.ppo_timesteps,
            seed=args.ppo_seed,
            out=str(Path(args.runs) / label.replace(" ", "_")),
            save_every=0,
            max_minutes=args.max_minutes,
        )
        models[label] = train(ppo, env)
    trained_s = time.perf_counter() - start
    seeds = list(range(EVALUATION_SEED_BASE, EVALUATION_SEED_BASE + args.ppo_episodes))
    makers = {}
    for label, path in models.items():
        policy = sb3_policy(path)
        makers[label] = compare(
            label, play(args, policy, None, seeds), play(args, policy, quantity, seeds), seeds, args
        )
    report(makers)
    plot(
        makers,
        Path(args.out) / "ppo.png",
        f"PPO market makers trained without and with a "
        f"buyer of {quantity:,} shares, each played in both markets; {len(seeds)} paired seeds",
    )
    return {
        "quantity": quantity,
        "seeds": seeds,
        "training_seconds": trained_s,
        "makers": {name: {k: v.to_dict() for k, v in m.items()} for name, m in makers.items()},
        "seconds": time.perf_counter() - start,
    }


def main(argv: list[str] | None = None) -> dict:
    """Parse :class:`Args`, run the part, write its JSON summary beside its figure."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    dataclass_flags(parser, Args)
    args = config_from_args(Args, parser.parse_args(argv))
    summary = {"args": asdict(args)}
    summary.update(baseline_part(args) if args.part == "baseline" else ppo_part(args))
    path = Path(args.out) / f"{args.part}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(summary, indent=1) + "\n")
    print(f"-> {path}")
    return summary


if __name__ == "__main__":
    main()
