"""The project's units: prices in integer ticks, times in integer nanoseconds after midnight
(LOBSTER's clock, at its resolution). Durations in seconds, where an API takes them, are
converted with :data:`NS_PER_SECOND`."""

from __future__ import annotations

__all__ = ["NS_PER_SECOND", "clock", "time_of_day_ns"]

#: Nanoseconds in a second.
NS_PER_SECOND = 1_000_000_000


def time_of_day_ns(text: str, name: str = "time of day") -> int:
    """ns after midnight of ``HH:MM`` or ``HH:MM:SS`` (00:00 to 23:59:59); a ValueError
    naming ``name`` otherwise."""
    problem = ValueError(
        f"{name} must be a time of day HH:MM (or HH:MM:SS) from 00:00 to 23:59, got {text!r}"
    )
    if not isinstance(text, str):
        raise problem
    parts = text.split(":")
    if len(parts) not in (2, 3) or not all(p.isdigit() for p in parts):
        raise problem
    if any(len(p) != 2 for p in parts[1:]):
        raise problem
    hours, minutes, seconds = (int(p) for p in [*parts, "0"][:3])
    if not (hours < 24 and minutes < 60 and seconds < 60):
        raise problem
    return (hours * 3600 + minutes * 60 + seconds) * NS_PER_SECOND


def clock(time_ns: int) -> str:
    """``HH:MM:SS`` of a time in ns after midnight (for messages)."""
    seconds = time_ns // NS_PER_SECOND
    return f"{seconds // 3600:02d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"
