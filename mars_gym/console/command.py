"""The shape every ``mars-gym`` command has, and how a command reports a failed check."""

from __future__ import annotations

import argparse
from typing import Protocol

__all__ = ["Command", "CommandFailed"]


class Command(Protocol):
    """A command module: ``NAME`` (as typed), ``HELP`` (its line in ``mars-gym --help``),
    ``configure_parser`` (its description and flags) and ``run`` (the work; returns the
    figures, which ``--out FILE`` writes as JSON).

    Help strings are %-formatted by argparse: a literal percent sign is written ``%%``.
    """

    NAME: str
    HELP: str

    def configure_parser(self, parser: argparse.ArgumentParser) -> None:
        """Set the command's description and add its flags to ``parser``."""
        ...

    def run(self, args: argparse.Namespace) -> dict:
        """Do the work the parsed ``args`` ask for, print a summary, return the figures."""
        ...


class CommandFailed(Exception):
    """A command ran to the end but what it checks does not hold (a replay that does not
    match): the console still writes ``result`` with ``--out``, prints the message and
    exits with status 1."""

    def __init__(self, message: str, result: dict) -> None:
        super().__init__(message)
        self.result = result
