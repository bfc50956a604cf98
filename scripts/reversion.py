"""Does the mid come back after a large move or a sweep? Real held-out flow against LMM
rollouts from the same start states.

For every second in which the mid moves by at least ``k`` ticks, the *reversion* h seconds
later is how far the mid has come back: ``-sign(move) * (mid(t + h) - mid(t))``, t the end
of that second (positive: it reverts; negative: it goes on). A market maker's quote deep in
the book is filled by such moves, and what the mid does next is what the fill earns
(``scripts/mm_markouts.py``).

The second table looks at market orders that walk the book: for those whose worst fill is
at least ``j`` ticks beyond the touch they met, the markout of the last maker they filled,
``(fill price - mid h seconds later) * side of the taker`` in ticks: what a quote resting
that deep earned from the sweep, had it been there. Starts, rollouts and windows are those
of ``mars-gym evaluate-lmm`` (every 15 minutes of the held-out window, both stocks):

    python scripts/reversion.py --out docs/results/reversion.json
"""

from __future__ import annotations

import argparse

import numpy as np

from lmm.data.orderflow import OrderKind
from lmm.evaluation.evaluate import generate_records, held_out_open, start_windows
from lmm.evaluation.stylized import maker_markouts, mid_grid, pooled_mean, sessions
from lmm.model.checkpoint import load_checkpoint
from lmm.model.dataset import build_dataset
from lmm.model.generate import LMMMarkets
from lmm.results import write_json
from lmm.units import NS_PER_SECOND
from mars_gym.console.flags import checkpoint_flag, days_flags, days_from_args


def reversions(records: np.ndarray, thresholds: list[int], horizons: list[int]) -> dict:
    """Per threshold and horizon: the moves' count per hour, and the mean reversion (ticks)
    with a 95% interval from a bootstrap over sessions (each session's moves stay together,
    since a market's moves are not independent)."""
    per_session = []  # (|moves|, reversions per horizon) of each session
    hours = 0.0
    for rows in sessions(records):
        _, mid = mid_grid(rows, NS_PER_SECOND)
        if len(mid) < 2:
            continue
        hours += (len(mid) - 1) / 3600
        move = np.diff(mid)
        end = np.arange(1, len(mid))  # grid index at the end of each second
        later = {
            h: np.where(end + h < len(mid), mid[np.minimum(end + h, len(mid) - 1)], np.nan)
            for h in horizons
        }
        per_session.append(
            (np.abs(move), {h: -np.sign(move) * (later[h] - mid[end]) for h in horizons})
        )
    return _by_threshold(per_session, hours, thresholds, horizons, "moves_per_hour", "reversion")


def sweep_markouts(records: np.ndarray, depths: list[int], horizons: list[int]) -> dict:
    """Per depth beyond the touch and horizon: sweeps per hour and the worst-filled maker's
    mean markout (ticks; :func:`lmm.evaluation.stylized.maker_markouts`, as the fidelity report's
    adverse-selection fact reads it) with a 95% interval from a bootstrap over sessions."""
    per_session = []  # (depth beyond the touch, markout per horizon) of each session's sweeps
    hours = 0.0
    for rows in sessions(records):
        if len(rows) < 2:
            continue
        hours += (rows["time"][-1] - rows["time"][0]) / NS_PER_SECOND / 3600
        index, marks = maker_markouts(rows, horizons)
        r = rows[index]
        buy = r["kind"] == OrderKind.MARKET_BUY
        depth = np.where(buy, r["price"] - r["ask_before"], r["bid_before"] - r["price"])
        per_session.append((depth, marks))
    return _by_threshold(per_session, hours, depths, horizons, "sweeps_per_hour", "markout")


def _by_threshold(
    per_session: list[tuple[np.ndarray, dict[int, np.ndarray]]],
    hours: float,
    thresholds: list[int],
    horizons: list[int],
    rate: str,
    statistic: str,
) -> dict:
    """From each session's events (their size in ticks, and a value per horizon): per
    threshold k, the rate of events of size >= k per hour and the mean value at each
    horizon with its interval (:func:`_mean_with_interval`)."""
    rng = np.random.default_rng(0)
    out = {}
    for k in thresholds:
        chosen = [size >= k for size, _ in per_session]
        entry: dict = {rate: float(sum(c.sum() for c in chosen) / hours) if hours else np.nan}
        for h in horizons:
            values = [v[h][c] for (_, v), c in zip(per_session, chosen, strict=True)]
            _mean_with_interval(entry, f"{statistic}_{h}s", values, rng)
        out[f">={k}"] = entry
    return out


def _mean_with_interval(entry: dict, key: str, values: list[np.ndarray], rng) -> None:
    """``entry[key]``: the mean of the finite values pooled over sessions;
    ``entry[key + "_ci"]``: its 95% interval from a bootstrap over sessions."""
    sums = [np.nansum(v) for v in values]
    counts = [np.isfinite(v).sum() for v in values]
    mean, low, high = pooled_mean(np.array(sums), np.array(counts), rng)
    entry[key], entry[f"{key}_ci"] = mean, [low, high]


def _print(title: str, report: dict, statistic: str, count: str, horizons: list[int]) -> None:
    print(title)
    print(f"{'':>6} {'k':>4} {count:>11}" + "".join(f"{f'+{h}s':>24}" for h in horizons))
    for k in report["real"]:
        for name, table in report.items():
            e = table[k]
            cells = "".join(
                f"{e[f'{statistic}_{h}s']:>8.2f} [{e[f'{statistic}_{h}s_ci'][0]:>5.2f}, "
                f"{e[f'{statistic}_{h}s_ci'][1]:>5.2f}]"
                for h in horizons
            )
            print(f"{name:>6} {k:>4} {e[count.replace('/', '_per_')]:>11.0f}{cells}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    days_flags(parser)
    checkpoint_flag(parser)
    parser.add_argument("--rollouts", type=int, default=4, help="per start (default: 4)")
    parser.add_argument("--horizon-minutes", type=int, default=30, help="per rollout")
    parser.add_argument("--seed", type=int, default=0, help="base seed of the rollouts")
    parser.add_argument(
        "--thresholds", type=int, nargs="+", default=[1, 2, 4], help="moves of >= k ticks"
    )
    parser.add_argument(
        "--horizons", type=int, nargs="+", default=[10, 30], help="seconds after the move"
    )
    parser.add_argument(
        "--depths", type=int, nargs="+", default=[0, 1, 2], help="sweeps of >= j ticks"
    )
    parser.add_argument(
        "--sweep-horizons", type=int, nargs="+", default=[1, 10], help="seconds after a sweep"
    )
    parser.add_argument("--out", help="write the figures as JSON")
    args = parser.parse_args()
    checkpoint = load_checkpoint(args.checkpoint)
    files = days_from_args(args)
    dataset = build_dataset(
        files, tokenizer=checkpoint.tokenizer, validation_minutes=args.validation_minutes
    )
    horizon = args.horizon_minutes * 60 * NS_PER_SECOND
    times = [
        [held_out_open(day) + m * 60 * NS_PER_SECOND for m in (0, 15, 30, 45, 60)]
        for day in dataset.days
    ]
    windows = start_windows(
        dataset.days, times, horizon, args.rollouts, args.seed, checkpoint.model.config.context
    )
    markets = LMMMarkets(checkpoint, len(windows.starts))
    generated, _ = generate_records(
        markets, list(windows.starts), list(windows.seeds), horizon, progress=True
    )
    report = {
        "real": reversions(windows.real, args.thresholds, args.horizons),
        "lmm": reversions(generated, args.thresholds, args.horizons),
    }
    sweeps = {
        "real": sweep_markouts(windows.real, args.depths, args.sweep_horizons),
        "lmm": sweep_markouts(generated, args.depths, args.sweep_horizons),
    }
    _print(
        "reversion (ticks) after a one-second mid move of >= k ticks; 95% interval",
        report,
        "reversion",
        "moves/hour",
        args.horizons,
    )
    _print(
        "\nmarkout (ticks) of the deepest maker of a market order reaching >= k ticks beyond "
        "the touch",
        sweeps,
        "markout",
        "sweeps/hour",
        args.sweep_horizons,
    )
    if args.out:
        setup = vars(args) | {"files": [str(f) for f in files], "data": str(args.data)}
        write_json(args.out, {"setup": setup, "moves": report, "sweeps": sweeps})


if __name__ == "__main__":
    main()
