"""Scenarios: what the generated market should do, minute by minute, written in one line.

A :class:`Scenario` is a row of segments (:class:`Segment`), each a stretch of market time
with its own drift, volatility and volume: the three numbers of the outlook that a model with
outlook features reads at every order (:mod:`lmm.model.outlook`). The packaged
``"scenario"`` checkpoint (:data:`SCENARIO_CHECKPOINT`) is such a model; given a scenario,
every order it generates is told what the scenario says about the minute after it
(:meth:`Scenario.path`), and the market it makes follows it as well as its training lets it:
measured on starts never used for a choice, the packaged model follows a requested fall at
its size and a rise at about a third of it, and does not follow a requested volatility or
volume (``docs/scenarios.md``).

The grammar of :meth:`Scenario.parse`::

    scenario := segment (";" segment)*
    segment  := duration item*       words separated by spaces, the duration first
    duration := NUMBER "m"           minutes, e.g. 5m, 1.5m
              | NUMBER "s"           seconds, e.g. 90s
    item     := "calm"               every number typical (no other item beside it)
              | "drift" NUMBER "bp"  the mid's total change over the segment: drift -150bp
              | "vol" NUMBER "bp"    volatility per square root of a minute: vol 8bp
              | "volume" NUMBER "x"  market-order volume, times the normal: volume 2x

``"5m calm; 5m drift -150bp; 5m drift +50bp vol 8bp volume 2x"`` is five calm minutes, a
drop of 150 bp over the next five, then a partial recovery of 50 bp with a volatility of
8 bp per square root of a minute and twice the normal volume. Each item appears at most
once in a segment. An item not given is typical: no drift, and the volatility and volume
of the model's typical minute (the medians of its training data: ``outlook_range[1]``).
The drift is the segment's total: a 5-minute segment of ``drift -150bp`` drifts -30 bp a
minute. Durations are positive, volatility and volume not negative.

A scenario is checked against the model's training range (:meth:`Scenario.check`): a
per-minute rate outside the training data's 0.5th to 99.5th percentiles warns
(:class:`ScenarioExtrapolationWarning`: the model extrapolates), one beyond twice the
range's extremes is refused. :meth:`Scenario.from_history` writes what a real day did as a
scenario, one minute a segment.
"""

from __future__ import annotations

import math
import numbers
import re
import warnings
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from lmm.model.features import mid_x2
from lmm.model.memory import carried_mid2, signed_market_volume
from lmm.model.outlook import (
    HORIZON_NS,
    OUTLOOK_VALUES,
    OutlookPath,
    normal_volume,
    realized_outlook,
)
from lmm.units import clock, time_of_day_ns

if TYPE_CHECKING:
    from lmm.model.checkpoint import Checkpoint
    from lmm.model.dataset import DayData

__all__ = [
    "SCENARIO_CHECKPOINT",
    "Scenario",
    "ScenarioExtrapolationWarning",
    "Segment",
    "checkpoint_outlook_range",
]

#: The packaged checkpoint that follows scenarios: what a scenario given without a
#: checkpoint runs on.
SCENARIO_CHECKPOINT = "scenario"

_NUMBER = r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?"
_DURATION = re.compile(rf"({_NUMBER})([a-zA-Z]*)")
_SECONDS_PER = {"m": 60, "s": 1}
#: each item: its unit, and an example value
_ITEMS = {"drift": ("bp", "-150bp"), "vol": ("bp", "8bp"), "volume": ("x", "2x")}
#: the outlook value (column of an outlook range) each item sets
_COLUMN = {"drift": 0, "vol": 1, "volume": 2}
_RATE_UNITS = {"drift": "bp per minute", "vol": "bp per sqrt-minute", "volume": "x normal"}


class ScenarioExtrapolationWarning(UserWarning):
    """A scenario asks for a per-minute rate outside what the model saw in training (its
    0.5th to 99.5th percentiles): the model extrapolates, and may follow it loosely."""


@dataclass(frozen=True)
class Segment:
    """A stretch of a scenario: how long, and what the market does in it.

    Attributes:
        seconds: its length in market seconds (> 0).
        drift_bp: the mid's total change over the segment, in basis points; None: no drift.
        volatility_bp: the volatility, in basis points per square root of a minute (>= 0);
            None: the model's typical minute's.
        volume: market-order volume per minute, in times the normal (>= 0); None: the
            model's typical minute's.
    """

    seconds: float
    drift_bp: float | None = None
    volatility_bp: float | None = None
    volume: float | None = None

    def __post_init__(self) -> None:
        _check_number("seconds", self.seconds, above=0.0)
        _check_number("drift_bp", self.drift_bp)
        _check_number("volatility_bp", self.volatility_bp, at_least=0.0)
        _check_number("volume", self.volume, at_least=0.0)

    @property
    def minutes(self) -> float:
        """Its length in minutes."""
        return self.seconds / 60

    def rates(self, outlook_range: np.ndarray) -> tuple[float, float, float]:
        """Its drift (bp per minute), volatility (bp per square root of a minute) and volume
        (x normal), the items not given at their typical values under ``outlook_range``
        (:func:`checkpoint_outlook_range`)."""
        typical = _checked_range(outlook_range)[1]
        return (
            0.0 if self.drift_bp is None else self.drift_bp / self.minutes,
            typical[1] if self.volatility_bp is None else float(self.volatility_bp),
            typical[2] if self.volume is None else float(self.volume),
        )

    def __str__(self) -> str:
        items = []
        if self.drift_bp is not None:
            sign = "-" if self.drift_bp < 0 else "+"  # -0.0 reads +0
            items.append(f"drift {sign}{_number(abs(self.drift_bp))}bp")
        if self.volatility_bp is not None:
            items.append(f"vol {_number(self.volatility_bp)}bp")
        if self.volume is not None:
            items.append(f"volume {_number(self.volume)}x")
        return " ".join([_duration_text(self.seconds), *(items or ["calm"])])


@dataclass(frozen=True)
class Scenario:
    """What the market should do, segment after segment (see the module docstring).

    Attributes:
        segments: the segments, in time order (at least one).
    """

    segments: tuple[Segment, ...]

    def __post_init__(self) -> None:
        segments = tuple(self.segments)
        if not segments:
            raise ValueError("a scenario needs at least one segment")
        for s in segments:
            if not isinstance(s, Segment):
                raise TypeError(f"segments must be Segments, got {s!r}")
        object.__setattr__(self, "segments", segments)

    @property
    def seconds(self) -> float:
        """Its length in market seconds (after it, its last segment goes on)."""
        return sum(s.seconds for s in self.segments)

    @classmethod
    def parse(cls, text: str) -> Scenario:
        """The scenario ``text`` writes, e.g. ``"5m calm; 5m drift -150bp; 5m drift +50bp
        vol 8bp volume 2x"``.

        Segments are separated by ``;``. Each is a duration (``5m``, ``1.5m``, ``90s``;
        > 0) followed by items, each at most once: ``calm`` (every number typical; alone),
        ``drift ±Xbp`` (the mid's total change over the segment, in basis points),
        ``vol Ybp`` (volatility per square root of a minute, >= 0) and ``volume Zx`` (x the
        normal volume, >= 0). An item not given is typical (see the module docstring).

        Raises:
            ValueError: the text does not follow the grammar (a missing, zero, negative or
                unknown duration, an unknown word, an item without its value or given
                twice, a negative volatility or volume); the message quotes the text at
                fault.
            TypeError: ``text`` is not a string.
        """
        if not isinstance(text, str):
            raise TypeError(f"a scenario is written as a string, got {text!r}")
        if not text.strip():
            raise ValueError(f"a scenario needs at least one segment, got {text!r}")
        parts = [part.strip() for part in text.split(";")]
        for k, part in enumerate(parts, start=1):
            if not part:
                raise ValueError(
                    f"segment {k} of {text!r} is empty: segments are separated by ';', each "
                    "with its duration"
                )
        return cls(tuple(_parse_segment(part) for part in parts))

    def __str__(self) -> str:
        return "; ".join(str(s) for s in self.segments)

    def path(self, start_ns: int, outlook_range: np.ndarray) -> OutlookPath:
        """The outlook path a market follows when the scenario starts at ``start_ns`` (ns
        after midnight): each segment's per-minute rates (:meth:`Segment.rates`), the
        items not given at their typical values under ``outlook_range`` (the model's
        :func:`checkpoint_outlook_range`). Unchecked: see :meth:`check`."""
        return OutlookPath.of(
            int(start_ns), [(s.seconds, *s.rates(outlook_range)) for s in self.segments]
        )

    def check(self, outlook_range: np.ndarray) -> None:
        """Hold the scenario's per-minute rates against the model's training range
        ``outlook_range`` (float64 ``(3, 3)``: the 0.5th, 50th and 99.5th percentiles of
        drift, volatility and volume, :func:`checkpoint_outlook_range`).

        Warns a :class:`ScenarioExtrapolationWarning` for each rate outside the 0.5th to
        99.5th percentiles, naming the segment, the rate and the range.

        Raises:
            ValueError: a rate is beyond twice the range's extremes (a drift larger in size
                than twice the larger of ``|p0.5|`` and ``|p99.5|``, a volatility or volume
                above twice ``p99.5``): the model never saw anything like it. The message
                names every such segment, its rate and the range.
        """
        rng = _checked_range(outlook_range)
        errors, outside = [], []
        for k, segment in enumerate(self.segments, start=1):
            rates = segment.rates(rng)
            given = (segment.drift_bp, segment.volatility_bp, segment.volume)
            for item, column in _COLUMN.items():
                if given[column] is None:
                    continue
                rate, lo, hi = rates[column], rng[0, column], rng[2, column]
                unit = _RATE_UNITS[item]
                what = f"segment {k} '{segment}': {item} {rate:.4g} {unit}"
                span = f"{lo:.4g} to {hi:.4g}, its 0.5th to 99.5th percentiles"
                limit = 2 * max(abs(lo), abs(hi)) if column == 0 else 2 * hi
                if (abs(rate) if column == 0 else rate) > limit:
                    errors.append(
                        f"{what} is beyond twice the training data's range ({span}): "
                        f"{'|drift| ' if column == 0 else ''}at most {limit:.4g}"
                    )
                elif not lo <= rate <= hi:
                    outside.append(
                        f"{what} is outside the training data's range ({span}): the model "
                        "extrapolates"
                    )
        if errors:
            raise ValueError("; ".join(errors))
        for message in outside:
            warnings.warn(message, ScenarioExtrapolationWarning, stacklevel=2)

    @classmethod
    def from_history(cls, day: DayData | str | Path, start: str | int, minutes: int) -> Scenario:
        """What a real day did for ``minutes`` minutes from ``start``, as a scenario of
        one-minute segments: segment ``k`` holds the outlook the day realised
        (:func:`lmm.model.outlook.realized_outlook`, on the mid carried over the books after
        each order and the day's normal volume, as :func:`lmm.model.dataset.day_orders`
        computes them) at the first instant of minute ``k``, i.e. at the last order at or
        before ``start + k`` minutes: the drift and realised volatility over the minute after
        that order, and its market volume relative to the day's normal.

        Args:
            day: the day (:class:`lmm.model.dataset.DayData`, e.g. from
                :func:`lmm.model.dataset.build_dataset`), or a LOBSTER file to read and
                verify (:func:`lmm.data.lobster.read_lobster`).
            start: time of day ``HH:MM`` (or ``HH:MM:SS``), or ns after midnight.
            minutes: how many minutes (>= 1).

        Raises:
            ValueError: the window starts before the day's first order or runs past its
                last, or the day has no quote to take a mid from.
            TypeError: ``minutes`` is not an integer.
        """
        if isinstance(minutes, bool) or not isinstance(minutes, numbers.Integral):
            raise TypeError(f"minutes must be an integer >= 1, got {minutes!r}")
        if minutes < 1:
            raise ValueError(f"minutes must be >= 1, got {minutes}")
        if isinstance(day, (str, Path)):
            from lmm.data.lobster import read_lobster
            from lmm.model.dataset import day_orders

            day = day_orders(read_lobster(day))
        start_ns = start if isinstance(start, numbers.Integral) else time_of_day_ns(start, "start")
        values = _minute_outlooks(day, int(start_ns), int(minutes))
        return cls(tuple(Segment(60.0, *(float(v) for v in row)) for row in values))


def checkpoint_outlook_range(checkpoint: Checkpoint, name: str) -> np.ndarray:
    """float64 ``(3, 3)``: the outlook range of ``checkpoint``'s model (its buffer
    ``outlook_range``: the 0.5th, 50th and 99.5th percentiles of drift, volatility and volume
    in its training data), which a scenario takes its typical values from and is checked
    against.

    Raises:
        ValueError: the model reads no outlook, so it cannot follow a scenario; the message
            names the checkpoint (``name``) and the one that can.
    """
    model = checkpoint.model
    if not model.config.n_outlook_features:
        raise ValueError(
            f"checkpoint {name} reads no outlook, so it cannot follow a scenario: use "
            f'checkpoint="{SCENARIO_CHECKPOINT}" (or none: a scenario loads it by default)'
        )
    return _checked_range(model.outlook_range.detach().cpu().numpy())


def _check_number(
    name: str, value: float | None, above: float | None = None, at_least: float | None = None
) -> None:
    """Raise naming ``name`` unless ``value`` is None or a finite real number above
    ``above`` (or at least ``at_least``)."""
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a number, got {value!r}")
    if not math.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value}")
    if above is not None and not value > above:
        raise ValueError(f"{name} must be > {above:g}, got {value}")
    if at_least is not None and not value >= at_least:
        raise ValueError(f"{name} must be >= {at_least:g}, got {value}")


def _checked_range(outlook_range: np.ndarray) -> np.ndarray:
    """``outlook_range`` as float64 ``(3, 3)``, or a ValueError saying what is wrong."""
    rng = np.asarray(outlook_range, dtype=np.float64)
    if rng.shape != (3, len(OUTLOOK_VALUES)):
        raise ValueError(f"outlook_range must have shape (3, 3), got {rng.shape}")
    if not np.all(np.isfinite(rng)) or np.any(np.diff(rng, axis=0) < 0):
        raise ValueError(f"outlook_range must be finite percentiles in rising order, got {rng}")
    if not np.all(rng[2, 1:] > 0):
        raise ValueError(
            "outlook_range has no positive volatility or volume at its 99.5th percentile: "
            f"it was never set from training data, got {rng.tolist()}"
        )
    return rng


def _parse_segment(text: str) -> Segment:
    """One segment of :meth:`Scenario.parse` (``text`` stripped)."""
    words = text.split()
    seconds = _parse_duration(words[0], text)
    given: dict[str, float] = {}
    calm = False
    k = 1
    while k < len(words):
        word = words[k]
        if _DURATION.fullmatch(word):
            raise ValueError(f"a second duration {word!r} in segment {text!r}: give one")
        if word == "calm":
            if calm:
                raise ValueError(f"'calm' given twice in segment {text!r}")
            calm, k = True, k + 1
            continue
        if word not in _ITEMS:
            raise ValueError(
                f"unknown word {word!r} in segment {text!r} (items: calm, drift, vol, volume)"
            )
        unit, example = _ITEMS[word]
        if word in given:
            raise ValueError(f"{word!r} given twice in segment {text!r}")
        if k + 1 == len(words):
            raise ValueError(f"{word!r} needs a value such as {example} in segment {text!r}")
        value = words[k + 1]
        match = re.fullmatch(rf"({_NUMBER}){unit}", value)
        if match is None and words[k + 2 : k + 3] == [unit] and re.fullmatch(_NUMBER, value):
            raise ValueError(
                f"{word} {value!r} {unit!r} in segment {text!r}: write the unit without a "
                f"space, {value}{unit}"
            )
        if match is None:
            raise ValueError(
                f"{word} {value!r} in segment {text!r} must be a number followed by "
                f"{unit!r}, such as {example}"
            )
        number = float(match.group(1))
        if not math.isfinite(number):
            raise ValueError(f"{word} {value!r} in segment {text!r} must be finite")
        if word != "drift" and number < 0:
            raise ValueError(f"{word} {value!r} in segment {text!r} must be >= 0")
        given[word] = number
        k += 2
    if calm and given:
        raise ValueError(
            f"'calm' sets every item to its typical value, so it stands alone: segment "
            f"{text!r} gives {', '.join(given)} too"
        )
    return Segment(seconds, given.get("drift"), given.get("vol"), given.get("volume"))


def _parse_duration(word: str, text: str) -> float:
    """The seconds a segment's duration ``word`` stands for (``text``: the segment)."""
    match = _DURATION.fullmatch(word)
    if match is None:
        raise ValueError(
            f"segment {text!r} must start with its duration, such as 5m or 90s, got {word!r}"
        )
    number, unit = match.groups()
    if unit not in _SECONDS_PER:
        raise ValueError(
            f"unknown duration {word!r} in segment {text!r}: minutes or seconds, such as 5m or 90s"
        )
    # exact decimal arithmetic, so that what __str__ writes reads back to the same float
    seconds = float(Decimal(number) * _SECONDS_PER[unit])
    if not 0 < seconds < math.inf:
        raise ValueError(f"duration {word!r} in segment {text!r} must be > 0 and finite")
    return seconds


def _number(x: float) -> str:
    """The shortest text that reads back as ``x`` (no trailing ``.0``)."""
    text = repr(float(x))
    return text[:-2] if text.endswith(".0") else text


def _duration_text(seconds: float) -> str:
    """``seconds`` as a duration that :meth:`Scenario.parse` reads back exactly: in minutes
    where they have at most one decimal, else in seconds."""
    if seconds % 6 == 0:
        text = f"{_number(seconds / 60)}m"
        if _parse_duration(text, text) == seconds:
            return text
    return f"{_number(seconds)}s"


def _minute_outlooks(day: DayData, start_ns: int, minutes: int) -> np.ndarray:
    """float64 ``(minutes, 3)``: the outlook ``day`` realised at the last order at or before
    each minute from ``start_ns`` (see :meth:`Scenario.from_history`)."""
    t = np.asarray(day.flow["time"], dtype=np.int64)
    end_ns = start_ns + minutes * HORIZON_NS
    if not len(t) or start_ns < t[0]:
        first = "none" if not len(t) else f"its first at {clock(int(t[0]))}"
        raise ValueError(
            f"start {clock(start_ns)} comes before {day.name}'s orders ({first}): a scenario "
            "from history starts within the day"
        )
    if end_ns > t[-1]:
        raise ValueError(
            f"{minutes} minutes from {clock(start_ns)} run to {clock(end_ns)}, past the last "
            f"order of {day.name} at {clock(int(t[-1]))}: the day did not realise them"
        )
    books = np.asarray(day.book_after)
    quoted = mid_x2(books)
    if not quoted.any():
        raise ValueError(f"{day.name} has no quote to take a mid from")
    # before its first quote the day's mid is its first quoted one
    mid2 = carried_mid2(books, int(quoted[np.flatnonzero(quoted)[0]]))
    shares = np.abs(signed_market_volume(day.flow["kind"], day.flow["size"]))
    n_train = max(int(np.sum(~np.asarray(day.is_validation))), 1)
    normal = normal_volume(t[:n_train], shares[:n_train])
    # each minute's first instant: its last order at or before it
    at = np.searchsorted(t, start_ns + np.arange(minutes) * HORIZON_NS, side="right") - 1
    # the orders the window's outlooks read: from the first of those to the first after its
    # end (which makes the last minute's outlook known, and reads nothing itself)
    first = int(at[0])
    stop = min(int(np.searchsorted(t, end_ns, side="right")) + 1, len(t))
    values, _ = realized_outlook(t[first:stop], mid2[first:stop], shares[first:stop], normal)
    return values[at - first]
