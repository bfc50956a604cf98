"""The ``mars-gym`` console script: every command of :mod:`mars_gym.console` and
``benchmark``, which plays the agents and so cannot live in ``mars_gym``."""

from __future__ import annotations

from collections.abc import Sequence

from agents.console import benchmark
from mars_gym.console.command import Command
from mars_gym.console.main import COMMANDS as MARS_GYM_COMMANDS
from mars_gym.console.main import main as console_main

__all__ = ["COMMANDS", "main"]

#: Every ``mars-gym`` command, in the order ``--help`` lists them.
COMMANDS: tuple[Command, ...] = (*MARS_GYM_COMMANDS, benchmark)


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``mars-gym`` with ``argv`` (default: ``sys.argv[1:]``); returns the exit code."""
    return console_main(argv, COMMANDS)
