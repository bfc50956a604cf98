"""Peak memory of ``mars-gym train-lmm`` by number of days, through the on-disk cache
(``--cache``) and with the days held in memory, in one run.

This repository has two sample days (GOOG level 10, AMZN level 5, 2012-06-21), so the
days are **test copies**: copy k of a sample, alternating GOOG and AMZN, is the same zip
under the name ``TESTCOPY<k>_<sample name>`` with the zip comment ``test copy k``, so that
its content hash, and hence its cache entry, is its own while its orders are the
sample's. They are written to a temporary folder (``--work``), never committed.

Each measurement is a fresh process running ``train-lmm --quick`` (20 steps, two
validation passes over every day's last 90 minutes) on the first N copies, with a fresh
cache: it replays and encodes the days, fits the tokenizer, trains and validates. It
reports its peak resident memory (``VmHWM``: the kernel's high-water mark, which counts
pages of the memory-mapped cache files it has touched, a cache the kernel may reclaim)
and the peak of its anonymous memory (``RssAnon``, sampled every 10 ms: what the process
itself allocated)::

    python scripts/many_days_memory.py [--days 1 5 20] [--out results.json]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from pathlib import Path

from lmm.results import write_json

DEFAULT_DATA = Path(
    os.environ.get(
        "MARS_GYM_DATA", Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "lobster"
    )
)
SAMPLES = (
    "LOBSTER_SampleFile_GOOG_2012-06-21_10.zip",
    "LOBSTER_SampleFile_AMZN_2012-06-21_5.zip",
)


def test_copies(data: Path, folder: Path, n: int) -> list[Path]:
    """``n`` labelled test copies of the samples in ``folder`` (see the module docstring)."""
    folder.mkdir(parents=True, exist_ok=True)
    copies = []
    for k in range(n):
        sample = SAMPLES[k % 2]
        copy = folder / f"TESTCOPY{k:03d}_{sample}"
        if not copy.exists():
            shutil.copyfile(data / sample, copy)
            with zipfile.ZipFile(copy, "a") as z:  # rewrites the directory, not the members
                z.comment = f"test copy {k} of {sample}, for scripts/many_days_memory.py".encode()
        copies.append(copy)
    return copies


def measure(files: list[Path], cache: Path | None, work: Path) -> dict:
    """Peak memory of one ``train-lmm --quick`` run in a fresh process."""
    command = [sys.executable, __file__, "--child", "--work", str(work)]
    command += ["--cache", str(cache)] if cache else []
    command += ["--", *map(str, files)]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    if done.returncode:
        raise SystemExit(f"the measured run failed:\n{done.stdout[-2000:]}{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def child(files: list[str], cache: str | None, work: Path) -> None:
    """Run ``train-lmm --quick`` here and print this process's peak memory as JSON."""
    peak_anon = [0]

    def sample() -> None:
        while True:
            peak_anon[0] = max(peak_anon[0], _status_kb("RssAnon"))
            time.sleep(0.01)

    threading.Thread(target=sample, daemon=True).start()
    from agents.console.main import main

    argv = ["train-lmm", *files, "--quick", "--quiet", "--checkpoint", str(work / "checkpoint")]
    argv += ["--cache", cache] if cache else []
    start = time.perf_counter()
    code = main(argv)
    seconds = time.perf_counter() - start
    peak_anon[0] = max(peak_anon[0], _status_kb("RssAnon"))
    report = {"peak_rss_mb": _status_kb("VmHWM") / 1024, "peak_anon_mb": peak_anon[0] / 1024}
    print(json.dumps({**report, "seconds": seconds, "exit": code}))


def _status_kb(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="the sample folder")
    parser.add_argument(
        "--days", type=int, nargs="+", default=[1, 5, 20], help="numbers of days to measure"
    )
    parser.add_argument(
        "--no-in-memory",
        action="store_true",
        help="measure the cache only, not the days held in memory as well",
    )
    parser.add_argument("--work", type=Path, help="folder for the test copies and caches")
    parser.add_argument("--out", help="write the table as JSON to this file")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--cache", help=argparse.SUPPRESS)
    parser.add_argument("files", nargs="*", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.files, args.cache, args.work)
        return
    work = args.work or Path(tempfile.mkdtemp(prefix="many_days_"))
    copies = test_copies(args.data, work / "days", max(args.days))
    rows = []
    print(f"test copies of the two samples in {work / 'days'}")
    print(f"{'days':>5} {'mode':>10} {'peak RSS MB':>12} {'peak anon MB':>13} {'seconds':>8}")
    for n in args.days:
        for mode in ("cache", "in memory")[: 1 if args.no_in_memory else 2]:
            cache = work / f"cache_{n}" if mode == "cache" else None
            if cache is not None:
                shutil.rmtree(cache, ignore_errors=True)  # encoding is part of the run
            row = {"days": n, "mode": mode, **measure(copies[:n], cache, work)}
            rows.append(row)
            print(
                f"{n:>5} {mode:>10} {row['peak_rss_mb']:>12,.0f} {row['peak_anon_mb']:>13,.0f} "
                f"{row['seconds']:>8.1f}",
                flush=True,
            )
    if args.out:
        write_json(args.out, {"work": str(work), "command": "train-lmm --quick", "rows": rows})
        print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
