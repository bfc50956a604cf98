"""``mars-gym``: one parser built from a list of command modules, one error policy.

Every command explains its flags with ``--help``, shows progress on long work, prints a
readable summary and, with ``--out FILE``, writes its figures as JSON. The full console
script (:func:`agents.console.main.main`) adds the strategy benchmark to :data:`COMMANDS`.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from lmm.data.lobster import LobsterFormatError
from lmm.model.checkpoint import CheckpointError
from lmm.results import write_json
from mars_gym.console import (
    bench,
    bench_lmm,
    check,
    evaluate_lmm,
    fidelity,
    forecast,
    generate,
    impact,
    replay,
    score,
    train_lmm,
    tune_lmm,
)
from mars_gym.console.command import Command, CommandFailed

__all__ = ["COMMANDS", "build_parser", "main"]

#: The commands of this package, in the order ``--help`` lists them.
COMMANDS: tuple[Command, ...] = (
    check,
    replay,
    train_lmm,
    tune_lmm,
    evaluate_lmm,
    generate,
    score,
    bench_lmm,
    bench,
    fidelity,
    impact,
    forecast,
)


def build_parser(commands: Sequence[Command] = COMMANDS) -> argparse.ArgumentParser:
    """The ``mars-gym`` parser with one subcommand per module of ``commands``; the parsed
    namespace holds the chosen module as ``command_module``."""
    parser = argparse.ArgumentParser(
        prog="mars-gym",
        description="Market simulation with an order-level generative model (MarS) and an "
        "exact, LOBSTER-verified matching engine.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in commands:
        p = sub.add_parser(module.NAME, help=module.HELP)
        module.configure_parser(p)
        p.set_defaults(command_module=module)
    return parser


def main(argv: Sequence[str] | None = None, commands: Sequence[Command] = COMMANDS) -> int:
    """Run one of ``commands`` as ``argv`` (default: ``sys.argv[1:]``) says; returns the
    process exit code: 0, 1 when a check fails (:class:`CommandFailed`), 2 on bad input."""
    args = build_parser(commands).parse_args(argv)
    code = 0
    try:
        result = args.command_module.run(args)
    except CommandFailed as exc:
        print(f"mars-gym {args.command}: failed: {exc}", file=sys.stderr)
        result, code = exc.result, 1
    except (LobsterFormatError, CheckpointError, FileNotFoundError, ValueError) as exc:
        print(f"mars-gym {args.command}: error: {exc}", file=sys.stderr)
        return 2
    if args.out:
        write_json(args.out, result, indent=2)
        print(f"wrote {args.out}")
    return code
