"""The flags that ``mars-gym`` commands, scripts and training entry points share.

Each ``*_flag(s)`` function adds flags to a parser; each ``*_from_args`` reads them back.
This module imports no command and no study, so anything may import it.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Collection
from dataclasses import fields, replace
from enum import Enum
from pathlib import Path
from typing import Any, get_args, get_origin, get_type_hints

import torch

from lmm.device import resolve_device
from lmm.model.checkpoint import PACKAGED
from lmm.model.generate import DECODERS, ENGINES
from mars_gym.simulator import SimulatorConfig

__all__ = [
    "DEFAULT_DATA_DIR",
    "TRAINING_FILES",
    "checkpoint_flag",
    "common_flags",
    "config_from_args",
    "data_flags",
    "dataclass_flags",
    "days_flags",
    "days_from_args",
    "default_data_dir",
    "device_flag",
    "device_words",
    "engine_flags",
    "folder_flags",
    "lobster_files",
    "start_flags",
]

#: Where the LOBSTER sample data is looked for when no folder is given.
DEFAULT_DATA_DIR = Path("../shared/data/lobster")
#: The days the default model trains on: one file per ticker (the deepest book of each).
TRAINING_FILES = (
    "LOBSTER_SampleFile_GOOG_2012-06-21_10.zip",
    "LOBSTER_SampleFile_AMZN_2012-06-21_5.zip",
)


def common_flags(p: argparse.ArgumentParser) -> None:
    """The flags of a command that prints its figures: ``--out FILE`` and ``--quiet``."""
    p.add_argument("--out", metavar="FILE", help="write the figures as JSON to FILE")
    p.add_argument("--quiet", action="store_true", help="no progress bars")


def folder_flags(p: argparse.ArgumentParser, default: Path, contents: str) -> None:
    """The flags of a command that writes a report folder: ``--out DIR`` (read back as
    ``args.out_dir``; ``args.out`` stays None, so the console writes no JSON over the
    folder) and ``--quiet``. ``contents`` says what the folder gets, for the help."""
    p.add_argument(
        "--out",
        dest="out_dir",
        type=Path,
        default=default,
        metavar="DIR",
        help=f"folder for {contents} (default: %(default)s)",
    )
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(out=None)


def checkpoint_flag(p: argparse.ArgumentParser, several: str | None = None) -> None:
    """``--checkpoint``: an LMM checkpoint folder or a packaged checkpoint's name (None when
    not given: the packaged default). With ``several`` (the help's ending), it takes one or
    more, as a list."""
    names = " or ".join(PACKAGED)
    p.add_argument(
        "--checkpoint",
        nargs=None if several is None else "+",
        help=f"LMM checkpoint folder, or the name of a packaged one, {names} "
        f"(default: default){several or ''}",
    )


def engine_flags(p: argparse.ArgumentParser, several: str | None = None) -> None:
    """``--engine`` and ``--decoder``: what runs the markets' books and the model's decoding
    step (:class:`mars_gym.simulator.SimulatorConfig`'s ``engine`` and ``decoder``, whose
    defaults they take). With ``several`` (the help's ending), each takes one or more, as a
    list; without, one value."""

    def add(flag: str, choices: tuple[str, ...], default: str, what: str) -> None:
        many = {"nargs": "+", "default": [default]} if several else {"default": default}
        p.add_argument(
            flag, choices=choices, help=f"{what} (default: {default}){several or ''}", **many
        )

    defaults = SimulatorConfig()
    add(
        "--engine",
        ENGINES,
        defaults.engine,
        "what runs the books and the per-order rules: the Python reference or the compiled "
        "one, which gives the same markets order by order",
    )
    add(
        "--decoder",
        DECODERS,
        defaults.decoder,
        "what runs the model's decoding step: torch, or numba (torch's numbers to float "
        "rounding, so other markets from the same seeds)",
    )


def start_flags(p: argparse.ArgumentParser) -> None:
    """``--start-file`` and ``--start-time``: the real start state the markets begin from
    (read back as ``args.start_file``, None for the data-free synthetic book, and
    ``args.start_time``)."""
    p.add_argument(
        "--start-file",
        help="start from this LOBSTER day instead of the data-free synthetic book (default: none)",
    )
    p.add_argument(
        "--start-time",
        default=SimulatorConfig().start_time,
        help="time of day HH:MM to start at, with --start-file (default: %(default)s)",
    )


def device_flag(p: argparse.ArgumentParser) -> None:
    """``--device``: where the LMM runs (read back as ``args.device``)."""
    p.add_argument(
        "--device",
        default="cpu",
        help="where the LMM runs: cpu, cuda, cuda:N or auto (default: %(default)s; seeded "
        "markets are reproducible bit for bit on the CPU)",
    )


def device_words(name: str) -> str:
    """The device that ``--device name`` means, in words, for printed and saved results."""
    device = resolve_device(name, "--device")
    if device.type == "cuda":
        return f"{device} ({torch.cuda.get_device_name(device)})"
    threads = torch.get_num_threads()
    return f"cpu ({threads} torch thread{'' if threads == 1 else 's'})"


#: Minutes at the end of each day held out for validation, unless a command is told otherwise.
VALIDATION_MINUTES = 90


def days_flags(p: argparse.ArgumentParser, resumable: bool = False) -> None:
    """The LOBSTER days a model is trained or evaluated on, and the held-out window. For a
    ``resumable`` command the window's flag defaults to None, so that a resumed run can
    tell a window given on the command line (refused) from none (the run's own)."""
    data_flags(p)
    p.add_argument(
        "--validation-minutes",
        type=int,
        default=None if resumable else VALIDATION_MINUTES,
        help="minutes at the end of each day held out for validation (default: "
        f"{VALIDATION_MINUTES}{', or the resumed run' + chr(39) + 's' if resumable else ''})",
    )


def data_flags(p: argparse.ArgumentParser) -> None:
    """The LOBSTER days to read (read back by :func:`days_from_args`)."""
    p.add_argument(
        "files",
        nargs="*",
        type=Path,
        help="LOBSTER zips or message CSVs, folders of them, or quoted glob patterns "
        "(default: GOOG level 10 and AMZN level 5 from --data)",
    )
    p.add_argument(
        "--data",
        type=Path,
        default=default_data_dir(),
        help="folder of the sample zips (default: $MARS_GYM_DATA or %(default)s)",
    )


def days_from_args(args: argparse.Namespace) -> list[Path]:
    """The files of :func:`days_flags` or :func:`data_flags`, checked to exist: each one
    given may also be a folder (its LOBSTER zips and message CSVs) or a glob pattern
    (quoted, so that the shell leaves it to us), see :func:`lobster_files`."""
    if not args.files:
        files = [args.data / name for name in TRAINING_FILES]
        missing = [str(f) for f in files if not f.exists()]
        if missing:
            raise FileNotFoundError(f"LOBSTER data not found: {', '.join(missing)} (set --data)")
        return files
    return [f for given in args.files for f in lobster_files(given)]


def lobster_files(given: str | Path) -> list[Path]:
    """The LOBSTER days that one command-line argument names, sorted: a file; a folder's
    ``*.zip`` and ``*message*.csv`` files; or the files a glob pattern (``*``, ``?``,
    ``[``) matches.

    Raises:
        FileNotFoundError: the file or folder does not exist, or nothing matches.
    """
    given = Path(given)
    if any(c in str(given) for c in "*?["):
        anchor = Path(given.anchor or ".")
        pattern = str(given.relative_to(given.anchor)) if given.anchor else str(given)
        files = sorted(f for f in anchor.glob(pattern) if f.is_file())
        if not files:
            raise FileNotFoundError(f"no LOBSTER files match {str(given)!r}")
        return files
    if given.is_dir():
        files = sorted({*given.glob("*.zip"), *given.glob("*message*.csv")})
        if not files:
            raise FileNotFoundError(f"{given}: the folder holds no LOBSTER zip or message CSV")
        return files
    if not given.exists():
        raise FileNotFoundError(f"LOBSTER data not found: {given}")
    return [given]


def default_data_dir() -> Path:
    """The LOBSTER sample folder: ``$MARS_GYM_DATA``, or :data:`DEFAULT_DATA_DIR`."""
    return Path(os.environ.get("MARS_GYM_DATA", DEFAULT_DATA_DIR))


def dataclass_flags(p: argparse.ArgumentParser, cls: type, exclude: Collection[str] = ()) -> None:
    """One ``--flag`` per field of a config dataclass (but those in ``exclude``), documented
    from its docstring; a ``tuple[T, ...]`` field takes one or more values of type T, an
    Enum field one of its members' values, a bool field ``--name`` or ``--no-name``.

    Flags default to None, so that only what the user gave overrides the config's defaults
    (see :func:`config_from_args`).
    """
    docs = _attribute_docs(cls)
    hints = get_type_hints(cls)
    for f in fields(cls):
        if f.name in exclude:
            continue
        kind, nargs, default = hints[f.name], None, f.default
        if get_origin(kind) is tuple:
            kind, nargs, default = get_args(kind)[0], "+", " ".join(map(str, default))
        flag, help_text = f"--{f.name.replace('_', '-')}", docs.get(f.name, "").rstrip(".")
        if kind is bool:  # --name / --no-name (type=bool would read "False" as True)
            p.add_argument(
                flag,
                action=argparse.BooleanOptionalAction,
                default=None,
                help=f"{help_text} (default: {'yes' if default else 'no'})".replace("%", "%%"),
            )
            continue
        choices = None
        if isinstance(kind, type) and issubclass(kind, Enum):  # Enum(value) parses a value
            choices, default = list(kind), default.value
        p.add_argument(
            flag,
            type=kind,
            choices=choices,
            nargs=nargs,
            default=None,
            help=f"{help_text} (default: {default})".replace("%", "%%"),
        )


def config_from_args(base: Any, args: argparse.Namespace) -> Any:
    """``base``, a config dataclass or an instance of one (a preset), with the fields that
    ``args`` gives (not None; lists become tuples), as :func:`dataclass_flags` parses them."""
    given = {f.name: getattr(args, f.name, None) for f in fields(base)}
    given = {k: tuple(v) if isinstance(v, list) else v for k, v in given.items() if v is not None}
    return base(**given) if isinstance(base, type) else replace(base, **given)


def _attribute_docs(cls: type) -> dict[str, str]:
    """``name: text`` entries of a Google-style "Attributes:" docstring section, without the
    double backquotes of literals."""
    docs: dict[str, str] = {}
    section = (cls.__doc__ or "").split("Attributes:", 1)[-1].replace("``", "")
    current: list[str] = []
    for line in section.splitlines():
        head, sep, text = line.strip().partition(": ")
        names = [n.strip() for n in head.split(",")]
        if sep and all(n.isidentifier() for n in names):
            current = names
            for n in names:
                docs[n] = text.strip()
        elif current and line.strip():
            for n in current:
                docs[n] += " " + line.strip()
    return docs
