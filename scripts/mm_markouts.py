"""Where a market maker's PnL comes from: its fills by distance from the mid, and what the
mid does after them.

Plays MarS-MarketMaking-v0 with a league policy on calibration seeds (never the league's
evaluation seeds) and, for every fill, records its distance from the mid at the decision
that placed the quote and its *markout*: ``side * (mid h seconds later - fill price)`` in
ticks per share, the profit of the fill if the position were closed at that later mid.
The spread a fill earns is its markout at 0 s; what the market does next is the change
after it. A fill whose markout grows with h was followed by the mid moving back toward
it (reversion), one whose markout shrinks by the mid moving on (adverse selection):

    python scripts/mm_markouts.py --seeds 48 --out docs/results/mm_markouts.json
"""

from __future__ import annotations

import argparse
import itertools

import gymnasium as gym
import numpy as np
from tqdm import tqdm

import mars_gym  # noqa: F401  (registers the environments)
from agents.baselines import MARKET_MAKING_BASELINES
from agents.benchmark import CALIBRATION_SEED_BASE
from lmm.evaluation.stylized import pooled_mean
from lmm.results import write_json
from mars_gym.console.flags import checkpoint_flag

ENV_ID = "MarS-MarketMaking-v0"
#: distances from the mid (ticks, the fill price's) that the fills are grouped by
DEPTH_EDGES = (0, 1, 2, 3, 5, 10, np.inf)


def play(policy: str, seeds: list[int], checkpoint: str | None) -> dict[str, np.ndarray]:
    """Every fill of ``policy`` in one episode per seed: seed index, step, side, shares,
    price, the mid (ticks) at the decision before the fill and the mid path of its episode."""
    env = gym.make_vec(
        ENV_ID, num_envs=len(seeds), vectorization_mode="vector_entry_point", checkpoint=checkpoint
    )
    sim = env.unwrapped.runner.sim
    policies = [MARKET_MAKING_BASELINES[policy](env.unwrapped.task) for _ in seeds]
    for p in policies:
        p.reset()
    obs, _ = env.reset(seed=seeds)
    live = np.ones(len(seeds), dtype=bool)
    mids = [[sim.mid(i)] for i in range(len(seeds))]  # mid at every decision
    seen = [0] * len(seeds)  # fills already recorded
    rows = []
    bar = tqdm(desc=f"{policy}, {len(seeds)} markets", unit="step")
    while live.any():
        actions = np.stack([p(o) for p, o in zip(policies, obs, strict=True)])
        obs, _, term, trunc, _ = env.step(actions)
        bar.update()
        for i in np.flatnonzero(live):
            fills = sim.fills(i)
            step = len(mids[i])  # fills during this step, placed at decision step - 1
            rows += [(i, step, f.side, f.size, f.price, mids[i][-1]) for f in fills[seen[i] :]]
            seen[i] = len(fills)
            mids[i].append(sim.mid(i))
            live[i] = not (term[i] or trunc[i])
    bar.close()
    env.close()
    table = np.array(rows, dtype=np.float64).reshape(-1, 6)
    return {
        "seed": table[:, 0].astype(int),
        "step": table[:, 1].astype(int),
        "side": table[:, 2],
        "size": table[:, 3],
        "price": table[:, 4],
        "mid_before": table[:, 5],
        "mids": [np.asarray(m) for m in mids],
    }


def markouts(fills: dict, horizons: tuple[int, ...]) -> dict:
    """Share-weighted mean markout (ticks per share) by distance from the mid, per horizon,
    with a 95% interval from a bootstrap over seeds (fills whose horizon falls after their
    episode's end are left out of that horizon)."""
    depth = fills["side"] * (fills["mid_before"] - fills["price"])
    marks = {h: fills["side"] * (_mid_later(fills, h) - fills["price"]) for h in horizons}
    rng = np.random.default_rng(0)
    seeds = np.unique(fills["seed"])
    out = {}
    for lo, hi in itertools.pairwise(DEPTH_EDGES):
        group = (depth >= lo) & (depth < hi)
        name = f"{lo}-{hi}" if np.isfinite(hi) else f">={lo}"
        entry = {"fills": int(group.sum()), "shares": float(fills["size"][group].sum())}
        for h in horizons:
            ok = np.isfinite(marks[h]) & group
            mark, w, seed = marks[h][ok], fills["size"][ok], fills["seed"][ok]
            # per seed: shares x markout and shares (seeds without such fills weigh 0)
            sums = np.array([(w * mark)[seed == k].sum() for k in seeds])
            shares = np.array([w[seed == k].sum() for k in seeds])
            mean, low, high = pooled_mean(sums, shares, rng)
            entry[f"markout_{h}s"], entry[f"markout_{h}s_ci"] = mean, [low, high]
        out[name] = entry
    return out


def _mid_later(fills: dict, h: int) -> np.ndarray:
    """The mid ``h`` decisions after each fill's step (NaN past its episode's end)."""
    return np.array(
        [
            m[s + h] if s + h < len(m) else np.nan
            for s, m in zip(fills["step"], (fills["mids"][k] for k in fills["seed"]), strict=True)
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--policy",
        nargs="+",
        default=["random", "symmetric_1"],
        choices=sorted(MARKET_MAKING_BASELINES),
        help="league policies (default: %(default)s)",
    )
    parser.add_argument("--seeds", type=int, default=48, help="markets per policy (default: 48)")
    parser.add_argument(
        "--horizons",
        type=int,
        nargs="+",
        default=[0, 10, 30, 60],
        help="seconds after the end of the fill's step (default: %(default)s)",
    )
    checkpoint_flag(parser)
    parser.add_argument("--out", help="write the figures as JSON")
    args = parser.parse_args()
    seeds = [CALIBRATION_SEED_BASE + k for k in range(args.seeds)]
    report = {}
    for policy in args.policy:
        table = markouts(play(policy, seeds, args.checkpoint), tuple(args.horizons))
        report[policy] = table
        print(f"\n{policy}: markout (ticks per share, share-weighted) by distance from the mid")
        print(
            f"{'ticks':>8} {'fills':>7} {'shares':>9}"
            + "".join(f"{f'+{h}s':>23}" for h in args.horizons)
        )
        for name, e in table.items():
            cells = "".join(
                "{:>7.2f} [{:>5.2f}, {:>5.2f}]".format(e[f"markout_{h}s"], *e[f"markout_{h}s_ci"])
                for h in args.horizons
            )
            print(f"{name:>8} {e['fills']:>7} {e['shares']:>9,.0f}{cells}")
    if args.out:
        write_json(args.out, {"seeds": seeds[:1] + seeds[-1:], "horizons": args.horizons, **report})


if __name__ == "__main__":
    main()
