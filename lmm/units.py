"""The project's units: prices in integer ticks, times in integer nanoseconds after midnight
(LOBSTER's clock, at its resolution). Durations in seconds, where an API takes them, are
converted with :data:`NS_PER_SECOND`."""

from __future__ import annotations

__all__ = ["NS_PER_SECOND"]

#: Nanoseconds in a second.
NS_PER_SECOND = 1_000_000_000
