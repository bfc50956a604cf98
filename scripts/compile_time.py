"""First-use cost of the numba kernels: a process on a cold cache against one on a warm one.

Runs the same child twice with ``NUMBA_CACHE_DIR`` pointed at a fresh folder: the first
child compiles every kernel it reaches and caches them there, the second loads them. Each
child times, from a fresh import, (a) a compiled LMM market (engine="compiled",
decoder="numba", the default checkpoint, data-free start) through its first three orders,
and (b), when the LOBSTER samples are found, a compiled replay of the GOOG level-10 day's
first 1,000 messages (the file's reading not counted). ::

    python scripts/compile_time.py [--data DIR] [--out FILE.json]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from lmm.results import write_json
from mars_gym.console.flags import DEFAULT_DATA_DIR

GOOG_10 = "LOBSTER_SampleFile_GOOG_2012-06-21_10.zip"


def child(data: Path) -> dict:
    """The timed first uses, in this (fresh) process."""
    t = time.perf_counter()
    from lmm.model.checkpoint import load_checkpoint
    from lmm.model.generate import LMMMarkets, synthetic_start

    checkpoint = load_checkpoint("default")
    loaded = time.perf_counter() - t
    t = time.perf_counter()
    markets = LMMMarkets(checkpoint, 2, engine="compiled", decoder="numba")
    for i in range(2):
        markets.reset(i, synthetic_start(checkpoint.tokenizer), seed=i)
    for _ in range(3):
        markets.step()
    out = {
        "import_and_load_seconds": loaded,
        "generation_first_use_seconds": time.perf_counter() - t,
    }
    if (data / GOOG_10).exists():
        from lmm.data.lobster import read_lobster
        from lmm.engine.compiled.replay import replay_compiled

        day = read_lobster(data / GOOG_10)
        t = time.perf_counter()
        replay_compiled(day, limit=1000)
        out["replay_first_use_seconds"] = time.perf_counter() - t
    return out


def run_child(cache: Path, data: Path) -> dict:
    env = dict(os.environ, NUMBA_CACHE_DIR=str(cache))
    t = time.perf_counter()
    done = subprocess.run(
        [sys.executable, __file__, "--child", "--data", str(data)],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    result = json.loads(done.stdout.strip().splitlines()[-1])
    result["process_seconds"] = time.perf_counter() - t
    result["printed"] = done.stderr.strip()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA_DIR)
    parser.add_argument("--out", help="write the figures as JSON to FILE")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.data)))
        return
    with tempfile.TemporaryDirectory() as cache:
        cold = run_child(Path(cache), args.data)
        warm = run_child(Path(cache), args.data)
    for name, r in (("cold cache (compiles)", cold), ("warm cache (loads)", warm)):
        replay = r.get("replay_first_use_seconds")
        print(
            f"{name:22s} process {r['process_seconds']:6.1f} s; first generated orders "
            f"{r['generation_first_use_seconds']:6.1f} s"
            + ("" if replay is None else f"; first replay {replay:6.1f} s")
            + (f"; printed: {r['printed']!r}" if r["printed"] else "; printed nothing")
        )
    if args.out:
        write_json(args.out, {"cold": cold, "warm": warm})


if __name__ == "__main__":
    main()
