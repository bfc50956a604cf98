"""LOB-Bench's real-vs-real floors on the LOBSTER samples: what its scores give when both
sides are real data, the level a generative model cannot be expected to beat.

Three comparisons, each on LOB-Bench's 500-message sequences (``lmm.evaluation.lobbench``):

* ``same_times``: even against odd sequences of the held-out window of one stock (same
  times of day, so only sampling noise separates them);
* ``early_vs_held_out``: the early window against the held-out window of the same stock
  (the intraday drift a model trained on earlier data meets);
* ``<other>_vs_<stock>``: another stock's held-out window against this one's (books cut to
  the shallower of the two files).

    python scripts/lobbench_floors.py --out docs/results/lobbench_floors.json
"""

from __future__ import annotations

import argparse
from pathlib import Path

from lmm.data.lobster import read_lobster
from lmm.evaluation.lobbench import (
    DEFAULT_LEVELS,
    EARLY,
    HELD_OUT,
    format_table,
    lobbench,
    real_floors,
    window_sequences,
)
from lmm.results import write_json

DATA = (Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "lobster").resolve()


def _hours(text: str) -> tuple[float, float]:
    """``"14:30-16:00"`` -> seconds after midnight of both ends."""
    try:
        ends = [t.split(":") for t in text.split("-")]
        start, end = (int(h) * 3600 + int(m) * 60 for h, m in ends)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected HH:MM-HH:MM, got {text!r}") from None
    if end <= start:
        raise argparse.ArgumentTypeError(f"the window {text!r} ends before it starts")
    return float(start), float(end)


def _fmt(window: tuple[float, float]) -> str:
    return "-".join(f"{int(s) // 3600:02d}:{int(s) % 3600 // 60:02d}" for s in window)


def main(argv: list[str] | None = None) -> dict:
    """Print the floors per score; write them as JSON with ``--out``."""
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument(
        "--data",
        type=Path,
        default=DATA,
        help="LOBSTER zip of the stock whose floors are measured (default: the GOOG level-10 "
        "sample in the shared data folder)",
    )
    p.add_argument(
        "--other",
        type=Path,
        default=None,
        help="LOBSTER zip of another stock to compare with (default: the AMZN level-5 sample "
        "beside --data); 'none' skips the comparison",
    )
    p.add_argument(
        "--held-out",
        type=_hours,
        default=HELD_OUT,
        help=f"held-out window HH:MM-HH:MM (default {_fmt(HELD_OUT)})",
    )
    p.add_argument(
        "--early",
        type=_hours,
        default=EARLY,
        help=f"earlier window HH:MM-HH:MM (default {_fmt(EARLY)})",
    )
    p.add_argument(
        "--out", type=Path, default=None, help="write the per-score distances to this JSON file"
    )
    args = p.parse_args(argv)

    data = args.data
    if data.is_dir():
        data = data / "LOBSTER_SampleFile_GOOG_2012-06-21_10.zip"
    other = args.other
    if other is None:
        other = data.parent / "LOBSTER_SampleFile_AMZN_2012-06-21_5.zip"
    day = read_lobster(data)
    levels = min(day.levels, DEFAULT_LEVELS)
    reports = real_floors(day, args.held_out, args.early, levels=levels)
    if str(other) != "none":
        second = read_lobster(other)
        common = min(levels, second.levels)
        name = f"{second.ticker or 'other'}_vs_{day.ticker or 'data'}"
        reports[name] = lobbench(
            window_sequences(second, *args.held_out),
            window_sequences(day, *args.held_out),
            levels=common,
        )
    print(format_table(reports))
    result = {
        "data": str(data),
        "other": str(other),
        "held_out": _fmt(args.held_out),
        "early": _fmt(args.early),
        "floors": {k: r.to_dict() for k, r in reports.items()},
    }
    if args.out is not None:
        write_json(args.out, result)
        print(f"wrote {args.out}")
    return result


if __name__ == "__main__":
    main()
