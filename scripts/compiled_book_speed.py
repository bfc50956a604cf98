"""How fast the compiled order book replays a day, against the Python reference, in one run.

Replays the GOOG level-10 LOBSTER sample (or, without data, a seeded random day) through
:func:`lmm.engine.replay.replay` and :func:`lmm.engine.compiled.replay.replay_compiled`, with
and without row-by-row verification, and prints messages per second for each and their ratio (best
of
``--repeats`` runs; both reports must agree, or the script stops). It also times the
per-call Python API (:class:`~lmm.engine.compiled.book.CompiledOrderBook` against
:class:`~lmm.engine.orderbook.OrderBook`) on a random stream, where each call crosses into compiled
code. Numba's first call (compiling, or loading numba's cache) is timed apart:

    python scripts/compiled_book_speed.py [--data PATH] [--out results.json]
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np

from lmm.data.lobster import MESSAGE_DTYPE, LobsterDay, read_lobster
from lmm.engine.compiled.book import CompiledBooks, CompiledOrderBook
from lmm.engine.compiled.replay import replay_compiled
from lmm.engine.orderbook import OrderBook, Side
from lmm.engine.replay import replay
from lmm.results import write_json

#: as in tests/conftest.py: the samples sit beside the checkout; MARS_GYM_DATA overrides
DEFAULT_DATA = (
    Path(
        os.environ.get(
            "MARS_GYM_DATA",
            Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "lobster",
        )
    )
    / "LOBSTER_SampleFile_GOOG_2012-06-21_10.zip"
)
TIMING = ("seconds", "messages_per_second")


def synthetic_day(n: int, seed: int, levels: int = 10) -> LobsterDay:
    """A seeded random day around a fixed mid: submissions, deletes, partial cancels and
    executions of live orders; its book rows come from the reference engine."""
    rng = np.random.default_rng(seed)
    mid = 10_000
    msgs = np.zeros(n, MESSAGE_DTYPE)
    live: list[int] = []
    where: dict[int, int] = {}  # id -> index in live
    held: dict[int, tuple[int, int, int]] = {}  # id -> direction, price, size
    next_id = 1
    for i in range(1, n):
        r = rng.random()
        if r < 0.5 or not live:
            direction = 1 if rng.random() < 0.5 else -1
            price = mid - direction * int(1 + rng.geometric(0.25))
            size = int(rng.choice([100, 100, 200, 50, rng.integers(1, 500)]))
            msgs[i] = (i, 1, next_id, size, price, price * 100, direction)
            live.append(next_id)
            where[next_id] = len(live) - 1
            held[next_id] = (direction, price, size)
            next_id += 1
            continue
        oid = live[int(rng.integers(len(live)))]
        direction, price, size = held[oid]
        kind = 3 if r < 0.9 else (2 if r < 0.95 else 4)
        part = size if kind == 3 else max(1, size // 2)
        msgs[i] = (i, kind, oid, part, price, price * 100, direction)
        if part == size:
            last = live.pop()
            if last != oid:
                live[where[oid]] = last
                where[last] = where[oid]
            del where[oid], held[oid]
        else:
            held[oid] = (direction, price, size - part)
    first = np.zeros((levels, 4), np.int64)
    first[:, 0] = mid + 1 + np.arange(levels)
    first[:, 2] = mid - 1 - np.arange(levels)
    first[:, 1] = first[:, 3] = 300
    msgs[0] = (0, 1, 0, 300, mid + 1, (mid + 1) * 100, -1)  # stands for the first row
    book = np.zeros((n, levels, 4), np.int64)
    day = LobsterDay(msgs, book, levels, source=f"synthetic(seed={seed})")
    book[0] = first
    reference = OrderBook()
    for ask_p, ask_s, bid_p, bid_s in first.tolist():
        reference.add_anonymous(Side.SELL, ask_p, ask_s)
        reference.add_anonymous(Side.BUY, bid_p, bid_s)
    for i, (kind, oid, size, price, direction) in enumerate(
        zip(
            *(msgs[c][1:].tolist() for c in ("type", "order_id", "size", "price", "direction")),
            strict=True,
        ),
        start=1,
    ):
        if kind == 1:
            reference.add_limit(oid, direction, price, size)
        elif kind == 3:
            reference.delete(oid)
        elif kind == 2:
            reference.cancel(oid, size)
        else:
            reference.execute(oid, size)
        book[i] = reference.snapshot(levels)
    return day


def best_of(repeats: int, run) -> tuple[float, object]:
    """The fastest of ``repeats`` calls of ``run`` (which returns (seconds, result))."""
    results = [run() for _ in range(repeats)]
    return min(r[0] for r in results), results[0][1]


def api_stream_speed(n: int, seed: int, repeats: int) -> dict[str, float]:
    """Operations per second through each engine's Python API on one random stream."""
    rng = np.random.default_rng(seed)
    ops = []
    for i in range(n):
        r = rng.random()
        side = Side.BUY if rng.random() < 0.5 else Side.SELL
        if r < 0.55:
            ops.append(("add_limit", i, side, int(1000 - side * rng.integers(-1, 12)), 100))
        elif r < 0.95:
            ops.append(("delete", int(rng.integers(max(0, i - 300), i + 1))))
        else:
            ops.append(("add_market", i, side, int(rng.integers(1, 400))))
    out = {}
    for name, make in (
        ("python", OrderBook),
        ("compiled", lambda: CompiledOrderBook(CompiledBooks(1, 1 << 14, 1 << 10))),
    ):

        def run(make=make) -> tuple[float, None]:
            book = make()
            start = time.perf_counter()
            for op in ops:
                if op[0] == "delete" and op[1] not in book:
                    continue
                getattr(book, op[0])(*op[1:])
            return time.perf_counter() - start, None

        run()  # warm-up (and compilation)
        out[name] = n / best_of(repeats, run)[0]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--data", type=Path, default=DEFAULT_DATA, help="a LOBSTER zip (default: GOOG level 10)"
    )
    parser.add_argument(
        "--synthetic", type=int, default=150_000, help="messages of the random day without data"
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the random day and stream")
    parser.add_argument("--repeats", type=int, default=3, help="runs per engine (best counts)")
    parser.add_argument("--out", type=Path, help="also write the figures to this JSON file")
    args = parser.parse_args()

    start = time.perf_counter()
    if args.data.exists():
        day = read_lobster(args.data)
    else:
        print(f"{args.data} not found: using a seeded random day")
        day = synthetic_day(args.synthetic, args.seed)
    print(f"{day.source}: {len(day) - 1} messages, read in {time.perf_counter() - start:.1f} s")

    start = time.perf_counter()
    replay_compiled(day, verify=True, limit=2_000)
    first_call = time.perf_counter() - start
    print(f"numba first call (compile or load from cache): {first_call:.2f} s")

    figures: dict[str, object] = {"source": day.source, "first_call_seconds": first_call}
    for verify in (False, True):
        py_s, py_report = best_of(
            args.repeats, lambda v=verify: (lambda r: (r[1].seconds, r[1]))(replay(day, verify=v))
        )
        c_s, c_report = best_of(
            args.repeats,
            lambda v=verify: (lambda r: (r[1].seconds, r[1]))(replay_compiled(day, verify=v)),
        )
        same = {k: v for k, v in py_report.to_dict().items() if k not in TIMING} == {
            k: v for k, v in c_report.to_dict().items() if k not in TIMING
        }
        if not same:
            raise SystemExit("the compiled replay's report differs from the Python replay's")
        n = py_report.messages
        label = "replay+verify" if verify else "replay"
        print(
            f"{label:>14}: python {n / py_s:>12,.0f} msg/s   compiled {n / c_s:>12,.0f} msg/s"
            f"   ratio {py_s / c_s:6.1f}x   (reports equal)"
        )
        figures[label] = {"python": n / py_s, "compiled": n / c_s, "ratio": py_s / c_s}

    api = api_stream_speed(50_000, args.seed, args.repeats)
    print(
        f"{'per-call API':>14}: python {api['python']:>12,.0f} op/s    compiled "
        f"{api['compiled']:>12,.0f} op/s    ratio {api['compiled'] / api['python']:6.2f}x"
    )
    figures["per_call_api"] = api
    if args.out:
        write_json(args.out, figures, indent=2)


if __name__ == "__main__":
    main()
