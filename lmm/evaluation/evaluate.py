"""Evaluating the LMM on held-out data: likelihood, and fidelity of generated order flow.

Two questions, each against a baseline calibrated on the same training orders:

1. **Likelihood**: the negative log-likelihood per validation order, in bits, of the model
   and of the unconditional token frequencies (:class:`lmm.evaluation.baselines.FrequencyModel`).
2. **Generative fidelity**: from real start states in the held-out window, markets are
   generated for ``horizon_minutes`` by the model and by a zero-intelligence flow
   (:class:`lmm.evaluation.baselines.ZeroIntelligenceMarkets`), many rollouts each, and
   compared with the real flow that followed the same starts. The distances are those LOB-Bench
   (Nagy et
   al. 2025) uses: L1, i.e. total variation ``0.5 * sum |p - q|`` between histograms (bins:
   up to 50 quantile bins spanning the real sample, plus one open bin beyond each end), and
   Wasserstein-1
   (in the metric's own units) between the distributions of the metrics in
   :data:`METRICS`.

Even a perfect model would not score zero: the real flow is one realisation per start, and
some metrics have few samples (thirty 1-minute returns per half-hour window). So each
model's rollouts also give a *sampling floor* (:func:`sampling_floor`): the distances
between its first rollout of every start and its other rollouts, i.e. what the model would
score if the real market were one of its own rollouts.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from lmm.data.orderflow import CANCEL_KINDS, LIMIT_KINDS, MARKET_KINDS
from lmm.evaluation.baselines import FrequencyModel, ZeroIntelligenceMarkets, ZeroIntelligenceParams
from lmm.evaluation.stylized import depth_from_best, mid_returns
from lmm.model.checkpoint import Checkpoint
from lmm.model.dataset import DayData, build_dataset
from lmm.model.generate import LMMMarkets, StartState
from lmm.model.train import validation_bits
from lmm.units import NS_PER_SECOND

__all__ = [
    "METRICS",
    "RECORD_DTYPE",
    "FidelityReport",
    "StartWindows",
    "distances",
    "evaluate_lmm",
    "fidelity_distances",
    "generate_records",
    "held_out_open",
    "metrics_of",
    "real_records",
    "rollout_models",
    "sampling_floor",
    "start_windows",
]

#: One row per order: what it was and the best quotes around it.
RECORD_DTYPE = np.dtype(
    [
        ("rollout", np.int32),
        ("time", np.int64),
        ("kind", np.int8),
        ("price", np.int64),
        ("size", np.int64),
        ("bid_before", np.int64),
        ("ask_before", np.int64),
        ("bid_after", np.int64),
        ("ask_after", np.int64),
        ("bid_size_after", np.int64),
        ("ask_size_after", np.int64),
        ("order_id", np.int64),  # the new or cancelled order's id; -1 if none is known
        ("traded", np.int64),  # shares the order traded on arrival
    ]
)


# ---------------------------------------------------------------------- metrics
def _log_interarrival(r: np.ndarray) -> np.ndarray:
    out = []
    for k in np.unique(r["rollout"]):
        dt = np.diff(r["time"][r["rollout"] == k]) / NS_PER_SECOND
        out.append(np.log10(dt[dt > 0]))
    return np.concatenate(out) if out else np.zeros(0)


def _returns_1min(r: np.ndarray) -> np.ndarray:
    """1-minute log returns of the mid, in basis points."""
    out = mid_returns(r, 60 * NS_PER_SECOND)
    return np.concatenate(out) if out else np.zeros(0)


def _spread(r: np.ndarray) -> np.ndarray:
    ok = (r["bid_after"] > 0) & (r["ask_after"] > 0)
    return (r["ask_after"] - r["bid_after"])[ok].astype(np.float64)


def _imbalance(r: np.ndarray) -> np.ndarray:
    b, a = r["bid_size_after"].astype(np.float64), r["ask_size_after"].astype(np.float64)
    ok = (a + b) > 0
    return (b - a)[ok] / (a + b)[ok]


#: name -> (extractor, categorical?)
METRICS: dict[str, tuple[Callable[[np.ndarray], np.ndarray], bool]] = {
    "spread": (_spread, False),
    "log_interarrival": (_log_interarrival, False),
    "imbalance": (_imbalance, False),
    "best_ask_size": (lambda r: r["ask_size_after"][r["ask_size_after"] > 0].astype(float), False),
    "best_bid_size": (lambda r: r["bid_size_after"][r["bid_size_after"] > 0].astype(float), False),
    "order_size": (lambda r: r["size"][np.isin(r["kind"], LIMIT_KINDS)].astype(float), False),
    "limit_depth": (lambda r: depth_from_best(r, LIMIT_KINDS), False),
    "cancel_depth": (lambda r: depth_from_best(r, CANCEL_KINDS), False),
    "order_type": (lambda r: r["kind"].astype(float), True),
    "returns_1min": (_returns_1min, False),
}


def metrics_of(records: np.ndarray) -> dict[str, np.ndarray]:
    """Samples of every metric in :data:`METRICS` from order records."""
    return {name: fn(records) for name, (fn, _) in METRICS.items()}


def distances(real: np.ndarray, generated: np.ndarray, categorical: bool = False) -> dict:
    """L1 (total variation) and Wasserstein-1 between two samples."""
    if len(real) == 0 or len(generated) == 0:
        return {"l1": float("nan"), "w1": float("nan")}
    if categorical:
        cats = np.union1d(np.unique(real), np.unique(generated))
        p = np.array([(real == c).mean() for c in cats])
        q = np.array([(generated == c).mean() for c in cats])
        return {"l1": float(0.5 * np.abs(p - q).sum()), "w1": float("nan")}
    # up to 50 quantile bins spanning the real sample, and one open bin beyond each end
    inner = np.unique(np.quantile(real, np.linspace(0, 1, 51)))
    inner[-1] = np.nextafter(inner[-1], np.inf)  # the real maximum stays inside
    edges = np.concatenate([[-np.inf], inner, [np.inf]])
    p = np.histogram(real, edges)[0] / len(real)
    q = np.histogram(generated, edges)[0] / len(generated)
    u = np.linspace(0.0005, 0.9995, 1000)
    w1 = np.abs(np.quantile(real, u) - np.quantile(generated, u)).mean()
    return {"l1": float(0.5 * np.abs(p - q).sum()), "w1": float(w1)}


# ---------------------------------------------------------------------- records
def real_records(day: DayData, start: int, end_ns: int, rollout: int) -> np.ndarray:
    """Records of the real orders after order ``start`` up to ``end_ns``."""
    stop = int(np.searchsorted(day.flow["time"], end_ns, side="right"))
    idx = np.arange(start + 1, stop)
    before, after = day.book_after[idx - 1], day.book_after[idx]
    flow = day.flow[idx]
    out = np.zeros(len(idx), dtype=RECORD_DTYPE)
    out["rollout"] = rollout
    out["time"], out["kind"] = flow["time"], flow["kind"]
    out["price"], out["size"], out["order_id"] = flow["price"], flow["size"], flow["order_id"]
    out["traded"] = np.where(np.isin(flow["kind"], MARKET_KINDS), flow["size"], 0)
    out["ask_before"], out["bid_before"] = before[:, 0, 0], before[:, 0, 2]
    out["ask_after"], out["bid_after"] = after[:, 0, 0], after[:, 0, 2]
    out["ask_size_after"], out["bid_size_after"] = after[:, 0, 1], after[:, 0, 3]
    return out


@dataclass(frozen=True)
class StartWindows:
    """Real start states, the real flow that followed each, and the rollouts to run.

    Attributes:
        starts: one start state per market (each window's state ``rollouts`` times).
        seeds: one seed per market.
        window: ``(markets,)`` the real window each market starts from.
        real: records of the real flow of every window (``rollout`` is the window's index).
        day: ``(windows,)`` index of each window's day in the days given.
        time_ns: ``(windows,)`` each window's start, ns after midnight.
    """

    starts: tuple[StartState, ...]
    seeds: tuple[int, ...]
    window: np.ndarray
    real: np.ndarray
    day: np.ndarray
    time_ns: np.ndarray


def start_windows(
    days: tuple[DayData, ...] | list[DayData],
    times_ns: list[list[int]],
    horizon_ns: int,
    rollouts: int,
    seed: int,
    context: int,
) -> StartWindows:
    """Start states at ``times_ns[d]`` (ns after midnight) of each day ``d``.

    Each start is the market right after the last real order at or before its time; its
    real window runs ``horizon_ns`` from there. Rollout ``k`` of the ``s``-th start of a day
    gets seed ``seed + 1000 s + k``.
    """
    if len(times_ns) != len(days):
        raise ValueError(f"times_ns has {len(times_ns)} lists for {len(days)} days")
    if rollouts < 0:
        raise ValueError(f"rollouts must be >= 0, got {rollouts}")
    starts, seeds, window, real, day_of, time_of = [], [], [], [], [], []
    for d, (day, times) in enumerate(zip(days, times_ns, strict=True)):
        for s, t in enumerate(times):
            j = day.index_at(int(t))
            state = day.start_state(j, context)
            real.append(real_records(day, j, state.time_ns + horizon_ns, rollout=len(real)))
            day_of.append(d)
            time_of.append(state.time_ns)
            for k in range(rollouts):
                starts.append(state)
                seeds.append(seed + 1000 * s + k)
                window.append(len(real) - 1)
    return StartWindows(
        starts=tuple(starts),
        seeds=tuple(seeds),
        window=np.array(window, dtype=np.int64),
        real=np.concatenate(real) if real else np.zeros(0, dtype=RECORD_DTYPE),
        day=np.array(day_of, dtype=np.int64),
        time_ns=np.array(time_of, dtype=np.int64),
    )


def generate_records(
    markets: LMMMarkets | ZeroIntelligenceMarkets,
    starts: list[StartState],
    seeds: list[int],
    horizon_ns: int,
    progress: bool = False,
    label: str = "generate",
    max_orders_per_second: float = 1000.0,
) -> tuple[np.ndarray, dict]:
    """Run ``markets`` (one per start) until each has ``horizon_ns`` of flow; records.

    Only the markets still short of their horizon are stepped, so a busy market does not
    keep finished ones generating. A market that makes more than ``max_orders_per_second``
    times the horizon's seconds of orders (the default is 125 times the real days' rate)
    raises a RuntimeError naming it: a model whose clock has stopped would never reach its
    horizon. This budget is stricter than :class:`~lmm.model.generate.LMMMarkets`' own check of
    a stopped clock (an average over the horizon rather than a cap per second) and covers
    the zero-intelligence markets too.
    """
    n = len(starts)
    limit = max(1, int(max_orders_per_second * horizon_ns / NS_PER_SECOND))
    made = [0] * n
    for i, (start, seed) in enumerate(zip(starts, seeds, strict=True)):
        markets.reset(i, start, seed)
    end = [s.time_ns + horizon_ns for s in starts]
    quotes = [_quotes(markets.book(i)) for i in range(n)]
    rows: list[tuple] = []
    done = [False] * n
    steps = rejected = 0
    t0 = time.perf_counter()
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=n, desc=label, unit="market")
    while not all(done):
        active = [i for i in range(n) if not done[i]]
        orders = markets.step(active)
        steps += 1
        for i, o in zip(active, orders, strict=True):
            made[i] += 1
            if made[i] > limit:
                left = (end[i] - markets.time_ns(i)) / NS_PER_SECOND
                raise RuntimeError(
                    f"market {i} made more than {limit:,} orders ({max_orders_per_second:g} a "
                    f"second of its horizon) with {left:.6f} s still to go: its model's clock "
                    "has nearly stopped; check the checkpoint"
                )
            if markets.time_ns(i) > end[i]:
                done[i] = True
                if bar is not None:
                    bar.update(1)
                continue
            after = _quotes(markets.book(i))
            rejected += o is None
            if o is not None:
                r = o.realized
                traded = sum(f.size for f in r.fills)
                head = (i, o.time_ns, int(r.kind), r.price, r.size)
                rows.append((*head, *quotes[i][:2], *after, r.order_id, traded))
            quotes[i] = after
    if bar is not None:
        bar.close()
    seconds = time.perf_counter() - t0
    out = np.array(rows, dtype=RECORD_DTYPE) if rows else np.zeros(0, dtype=RECORD_DTYPE)
    info = {
        "steps": steps,
        "orders": len(out),
        "rejected": rejected,
        "seconds": seconds,
        "orders_per_second": len(out) / seconds if seconds else 0.0,
    }
    if isinstance(markets, LMMMarkets):
        info["masked_rate"] = markets.masked_rate
    return out, info


def _quotes(book) -> tuple[int, int, int, int]:
    bid, ask = book.best_bid or 0, book.best_ask or 0
    return (bid, ask, book.depth(1, bid) if bid else 0, book.depth(-1, ask) if ask else 0)


def held_out_open(day: DayData) -> int:
    """When ``day``'s held-out window opens: the time of its first validation order."""
    return int(day.flow["time"][np.argmax(day.is_validation)])


def rollout_models(
    checkpoint: Checkpoint,
    zi: ZeroIntelligenceParams,
    windows: StartWindows,
    horizon_ns: int,
    progress: bool = False,
    temperature: float = 1.0,
) -> dict[str, tuple[np.ndarray, dict]]:
    """Records and generation figures of the LMM (sampling at ``temperature``) and the
    zero-intelligence baseline, one market per start of ``windows``, each run for
    ``horizon_ns``."""
    n = len(windows.starts)
    starts, seeds = list(windows.starts), list(windows.seeds)
    lmm = LMMMarkets(checkpoint, n, temperature=temperature)
    return {
        "lmm": generate_records(lmm, starts, seeds, horizon_ns, progress, "LMM rollouts"),
        "zero_intelligence": generate_records(
            ZeroIntelligenceMarkets(zi, n), starts, seeds, horizon_ns, progress, "ZI rollouts"
        ),
    }


def fidelity_distances(real: np.ndarray, generated: dict[str, np.ndarray]) -> dict:
    """Per model: L1 and W1 of every metric in :data:`METRICS`, and the mean L1."""
    real_metrics = metrics_of(real)
    fidelity = {}
    for name, records in generated.items():
        gen_metrics = metrics_of(records)
        per = {m: distances(real_metrics[m], gen_metrics[m], METRICS[m][1]) for m in METRICS}
        known = [per[m]["l1"] for m in METRICS if not np.isnan(per[m]["l1"])]
        per["mean"] = {
            "l1": float(np.mean(known)) if known else float("nan"),  # NaN: nothing to compare
            "w1": float("nan"),  # W1 is in each metric's own units: no meaningful mean
        }
        fidelity[name] = per
    return fidelity


def sampling_floor(records: np.ndarray, window: np.ndarray) -> dict:
    """Per metric, the distances between one model's first rollout of every start and its
    other rollouts (and the mean L1), as :func:`fidelity_distances` measures them: the
    distance a model would have from the real flow if that flow were one of its own
    rollouts.

    Args:
        records: the model's records; ``rollout`` is the market's index.
        window: ``(markets,)`` the start window of every market (:class:`StartWindows`).

    With one rollout per window there is nothing to compare, and every value is NaN. The
    comparison set has one rollout fewer than the evaluation's, so the floor is slightly
    higher than the sampling noise of the evaluation itself.
    """
    first = np.zeros(len(window), dtype=bool)
    first[np.unique(window, return_index=True)[1]] = True
    is_first = first[records["rollout"]]
    return fidelity_distances(records[is_first], {"rest": records[~is_first]})["rest"]


# ---------------------------------------------------------------------- report
@dataclass
class FidelityReport:
    """Everything ``mars-gym evaluate-lmm`` measures."""

    nll_bits: dict
    fidelity: dict
    generation: dict
    setup: dict
    floor: dict = field(default_factory=dict)  # model -> sampling_floor

    def to_dict(self) -> dict:
        """JSON-serialisable view."""
        return {
            "nll_bits": self.nll_bits,
            "fidelity": self.fidelity,
            "sampling_floor": self.floor,
            "generation": self.generation,
            "setup": self.setup,
        }

    def table(self) -> str:
        """The fidelity table as text: per model its L1, its sampling floor (when known)
        and its W1."""
        models = list(self.fidelity)
        names = list(METRICS)
        width = max(16, *(len(m) + 8 for m in models))
        columns = [(m, c) for m in models for c in ("L1", "floor", "W1")]
        columns = [(m, c) for m, c in columns if c != "floor" or m in self.floor]
        lines = ["metric".ljust(18) + "".join(f"{m + ' ' + c:>{width}}" for m, c in columns)]
        for name in [*names, "mean"]:
            cells = []
            for m, c in columns:
                if c == "floor":
                    cells.append(f"{self.floor[m][name]['l1']:>{width}.3f}")
                else:
                    cells.append(f"{self.fidelity[m][name][c.lower()]:>{width}.3f}")
            lines.append(name.ljust(18) + "".join(cells))
        return "\n".join(lines)


def evaluate_lmm(
    checkpoint: Checkpoint,
    files: list[Path],
    validation_minutes: int = 90,
    start_minutes: tuple[int, ...] = (0, 15, 30, 45, 60),
    horizon_minutes: int = 30,
    rollouts: int = 4,
    seed: int = 0,
    progress: bool = True,
    temperature: float = 1.0,
) -> FidelityReport:
    """Likelihood and fidelity of ``checkpoint`` on the held-out window of ``files``.

    Args:
        checkpoint: the model to evaluate (its tokenizer tokenizes the data).
        files: LOBSTER days; their last ``validation_minutes`` are the held-out window.
        start_minutes: start times, in minutes after the held-out window opens.
        horizon_minutes: how long each rollout runs.
        rollouts: rollouts per start and model.
        seed: base seed of the rollouts (rollout k of start s gets seed + 1000 s + k).
        temperature: the LMM's sampling temperature in its rollouts.
    """
    dataset = build_dataset(
        files,
        validation_minutes=validation_minutes,
        progress=progress,
        tokenizer=checkpoint.tokenizer,
    )
    model = checkpoint.model
    context = model.config.context
    torch_threads = torch.get_num_threads()
    # (i) likelihood on every validation order
    freq = FrequencyModel.fit(
        np.concatenate([d.tokens[~d.is_validation] for d in dataset.days]),
        checkpoint.tokenizer.vocab_size,
    )
    val_tokens = np.concatenate([d.tokens[d.is_validation] for d in dataset.days])
    nll = {
        "model": validation_bits(model, dataset.days, context),
        "frequency_baseline": float(freq.nll_bits(val_tokens).mean()),
        "validation_orders": len(val_tokens),
    }
    # (ii) fidelity from real start states in the held-out window
    horizon = horizon_minutes * 60 * NS_PER_SECOND
    windows = start_windows(
        dataset.days,
        [
            [held_out_open(day) + m * 60 * NS_PER_SECOND for m in start_minutes]
            for day in dataset.days
        ],
        horizon,
        rollouts,
        seed,
        context,
    )
    real_rec = windows.real
    generated = rollout_models(
        checkpoint,
        ZeroIntelligenceParams.fit(dataset.days),
        windows,
        horizon,
        progress,
        temperature,
    )
    fidelity = fidelity_distances(real_rec, {name: rec for name, (rec, _) in generated.items()})
    floor = {name: sampling_floor(rec, windows.window) for name, (rec, _) in generated.items()}
    return FidelityReport(
        floor=floor,
        nll_bits=nll,
        fidelity=fidelity,
        generation={name: info for name, (_, info) in generated.items()},
        setup={
            "files": [str(f) for f in files],
            "validation_minutes": validation_minutes,
            "start_minutes": list(start_minutes),
            "horizon_minutes": horizon_minutes,
            "rollouts_per_start": rollouts,
            "temperature": temperature,
            "markets": len(windows.starts),
            "real_orders": len(real_rec),
            "torch_threads": torch_threads,
        },
    )
