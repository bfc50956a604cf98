"""Reading LOBSTER message and orderbook files into typed, validated numpy arrays.

A LOBSTER day is a pair of CSV files without header (see LOBSTER's own ReadMe):

* ``..._message_L.csv``: time (seconds after midnight, up to ns precision), event type,
  order id, size, price (dollars x 10000), direction (+1 buy, -1 sell limit order);
* ``..._orderbook_L.csv``: the top-L book *after* each message, ``4 L`` columns
  (ask price, ask size, bid price, bid size per level); empty levels hold the sentinels
  +/-9999999999 with size 0.

:func:`read_lobster` converts them to exact units: int64 nanoseconds after midnight (parsed
from the text, never through a float), integer ticks, integer shares. It validates while it
reads and raises :class:`LobsterFormatError` naming the file, the 1-based line and the value.
"""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import IntEnum
from pathlib import Path

import numpy as np
import pandas as pd

from lmm.engine.orderbook import EMPTY_PRICE
from lmm.units import NS_PER_SECOND

__all__ = [
    "AGGRESSIVE_ORDER_DTYPE",
    "MESSAGE_DTYPE",
    "EventType",
    "LobsterDay",
    "LobsterFormatError",
    "aggressive_orders",
    "read_lobster",
]

#: LOBSTER price units per dollar (prices are dollars x 10000).
PRICE_UNITS_PER_DOLLAR = 10_000
#: Default tick: $0.01 = 100 LOBSTER price units.
DEFAULT_TICK_SIZE = 100
_EMPTY_ASK = 9_999_999_999
_EMPTY_BID = -9_999_999_999


class EventType(IntEnum):
    """LOBSTER message event types."""

    SUBMIT = 1  #: new limit order
    CANCEL = 2  #: partial cancellation
    DELETE = 3  #: full deletion
    EXECUTE = 4  #: execution of a visible limit order
    EXECUTE_HIDDEN = 5  #: execution of a hidden limit order
    CROSS = 6  #: cross trade (auction)
    HALT = 7  #: trading halt indicator


#: One LOBSTER message in exact units.
#: ``price`` is in ticks. Hidden executions (type 5) may print between ticks (mid-point
#: orders); for them ``price`` is the tick at or below and ``price_raw`` keeps the exact
#: LOBSTER price (dollars x 10000) of every message.
MESSAGE_DTYPE = np.dtype(
    [
        ("time", np.int64),  # ns after midnight
        ("type", np.int8),  # EventType
        ("order_id", np.int64),
        ("size", np.int64),  # shares
        ("price", np.int64),  # ticks
        ("price_raw", np.int64),  # dollars x 10000
        ("direction", np.int8),  # +1 buy limit order, -1 sell limit order
    ]
)

#: An aggressive (marketable) order reconstructed from consecutive executions.
AGGRESSIVE_ORDER_DTYPE = np.dtype(
    [
        ("time", np.int64),  # ns after midnight
        ("side", np.int8),  # +1 buyer-initiated, -1 seller-initiated
        ("size", np.int64),  # total shares executed
        ("price", np.int64),  # worst (last) execution price in ticks
        ("first_row", np.int64),  # 0-based index of its first execution message
        ("n_fills", np.int32),  # number of execution messages it consists of
    ]
)

_FILE_RE = re.compile(
    r"(?P<ticker>[A-Za-z0-9.]+)_(?P<date>\d{4}-\d{2}-\d{2})_(?P<start>\d+)_(?P<end>\d+)_"
    r"(?P<kind>message|orderbook)_(?P<levels>\d+)\.csv$"
)
_INT_RE = re.compile(r"-?\d+")
# the fast parser would accept "50.0" or " 50" as integers: such files take the slow path,
# which names the line (only the message file's first column may hold a decimal point)
_NON_INTEGER = re.compile(rb"[^0-9,\-\r\n]")
_NON_INTEGER_AFTER_TIME = re.compile(rb",[^\n]*?[^0-9,\-\r\n]")
_TIME_RE = re.compile(r"\d+(\.\d+)?")
_MESSAGE_COLUMNS = ("time", "type", "order_id", "size", "price", "direction")


class LobsterFormatError(ValueError):
    """A LOBSTER file does not follow the format; the message names file, line and value."""

    def __init__(self, file: str, line: int | None, problem: str) -> None:
        where = f"{file}, line {line}" if line is not None else file
        super().__init__(f"{where}: {problem}")
        self.file = file
        self.line = line
        self.problem = problem


@dataclass(frozen=True)
class LobsterDay:
    """One trading day of LOBSTER data in exact units.

    Attributes:
        messages: structured array of :data:`MESSAGE_DTYPE`, one row per message.
        book: int64 array ``(n_messages, levels, 4)``: ask price, ask size, bid price,
            bid size in ticks and shares after each message; empty levels are
            ``(EMPTY_PRICE, 0)``.
        levels: number of book levels in the orderbook file.
        tick_size: LOBSTER price units per tick.
        ticker: ticker symbol parsed from the file name ("" if the name is not standard).
        date: trading date as ``YYYY-MM-DD`` ("" if unknown).
        source: where the data was read from.
    """

    messages: np.ndarray
    book: np.ndarray
    levels: int
    tick_size: int = DEFAULT_TICK_SIZE
    ticker: str = ""
    date: str = ""
    source: str = field(default="", compare=False)

    def __len__(self) -> int:
        return len(self.messages)


# ---------------------------------------------------------------------- public API
def read_lobster(
    path: str | Path,
    orderbook: str | Path | None = None,
    *,
    levels: int | None = None,
    tick_size: int = DEFAULT_TICK_SIZE,
) -> LobsterDay:
    """Read and validate one LOBSTER day.

    Args:
        path: a LOBSTER zip (holding one message and one orderbook file), or a message CSV.
        orderbook: the orderbook CSV; by default the message file's name with ``message``
            replaced by ``orderbook``.
        levels: book depth; by default taken from the file name, else from the column count.
        tick_size: price units (dollars x 10000) per tick; 100 is one cent.

    Raises:
        LobsterFormatError: malformed or inconsistent data (names file, line and value).
        FileNotFoundError: a file, or a message file's orderbook file, is missing.
    """
    if tick_size <= 0:
        raise ValueError(f"tick_size must be > 0, got {tick_size}")
    path = Path(path)
    if path.suffix.lower() == ".zip":
        msg_name, msg_text, ob_name, ob_text = _read_zip(path, levels)
    else:
        ob_path = Path(orderbook) if orderbook is not None else _orderbook_path_for(path)
        if not path.exists():
            raise FileNotFoundError(f"message file not found: {path}")
        if not ob_path.exists():
            raise FileNotFoundError(
                f"{path}: the message file has no orderbook file beside it (looked for {ob_path}); "
                "a LOBSTER day needs both"
            )
        msg_name, ob_name = str(path), str(ob_path)
        msg_text, ob_text = path.read_bytes(), ob_path.read_bytes()

    match = _FILE_RE.search(Path(msg_name).name)
    if levels is None and match:
        levels = int(match["levels"])
    messages = _parse_messages(msg_name, msg_text, tick_size)
    book = _parse_orderbook(ob_name, ob_text, levels, tick_size)
    if len(book) != len(messages):
        raise LobsterFormatError(
            ob_name,
            None,
            f"has {len(book)} rows but the message file {msg_name} has {len(messages)}; "
            "there must be one book row per message",
        )
    return LobsterDay(
        messages=messages,
        book=book,
        levels=book.shape[1],
        tick_size=tick_size,
        ticker=match["ticker"] if match else "",
        date=match["date"] if match else "",
        source=str(path),
    )


def aggressive_orders(messages: np.ndarray) -> np.ndarray:
    """Reconstruct incoming marketable orders from execution messages.

    LOBSTER records an aggressive order only through the type-4 executions of the resting
    orders it hit, each with the resting order's direction. Consecutive type-4 rows with
    the same timestamp and direction are one aggressive order of the opposite side.

    Returns:
        A structured array of :data:`AGGRESSIVE_ORDER_DTYPE`, in time order.
    """
    rows = np.flatnonzero(messages["type"] == EventType.EXECUTE)
    if len(rows) == 0:
        return np.zeros(0, dtype=AGGRESSIVE_ORDER_DTYPE)
    times = messages["time"][rows]
    direction = messages["direction"][rows]
    # a new aggressive order starts where the previous row is not its immediate
    # predecessor execution of the same time and direction
    starts = np.ones(len(rows), dtype=bool)
    starts[1:] = (
        (rows[1:] != rows[:-1] + 1) | (times[1:] != times[:-1]) | (direction[1:] != direction[:-1])
    )
    group = np.cumsum(starts) - 1
    first = np.flatnonzero(starts)
    last = np.append(first[1:], len(rows)) - 1
    out = np.zeros(len(first), dtype=AGGRESSIVE_ORDER_DTYPE)
    out["time"] = times[first]
    out["side"] = -direction[first]
    out["size"] = np.bincount(group, weights=messages["size"][rows]).astype(np.int64)
    out["price"] = messages["price"][rows][last]
    out["first_row"] = rows[first]
    out["n_fills"] = last - first + 1
    return out


# ------------------------------------------------------------------------ internals
def _orderbook_path_for(message_path: Path) -> Path:
    name = message_path.name
    if "message" not in name:
        raise ValueError(
            f"{message_path}: cannot infer the orderbook file (no 'message' in the name); "
            "pass it explicitly"
        )
    return message_path.with_name(name.replace("message", "orderbook"))


def _read_zip(path: Path, levels: int | None) -> tuple[str, bytes, str, bytes]:
    if not path.exists():
        raise FileNotFoundError(f"LOBSTER zip not found: {path}")
    if not zipfile.is_zipfile(path):
        raise LobsterFormatError(
            str(path),
            None,
            "is not a zip archive (a LOBSTER day is a zip of its message and orderbook CSV "
            "files, or pass the message CSV itself)",
        )
    try:
        with zipfile.ZipFile(path) as zf:
            return _read_zip_members(path, zf, levels)
    except zipfile.BadZipFile as exc:  # a zip, but a damaged one (a member fails its CRC)
        raise LobsterFormatError(str(path), None, f"is a damaged zip archive: {exc}") from None


def _read_zip_members(
    path: Path, zf: zipfile.ZipFile, levels: int | None
) -> tuple[str, bytes, str, bytes]:
    """The message and orderbook members of the LOBSTER zip ``zf`` (read from ``path``)."""
    names = [n for n in zf.namelist() if _FILE_RE.search(Path(n).name)]
    by_kind: dict[str, list[str]] = {"message": [], "orderbook": []}
    for n in names:
        m = _FILE_RE.search(Path(n).name)
        assert m is not None
        if levels is None or int(m["levels"]) == levels:
            by_kind[m["kind"]].append(n)
    if not by_kind["message"]:
        raise LobsterFormatError(str(path), None, "holds no LOBSTER message file")
    if len(by_kind["message"]) > 1:
        raise LobsterFormatError(
            str(path), None, f"holds several message files {by_kind['message']}; pass levels="
        )
    msg = by_kind["message"][0]
    expected = msg.replace("message", "orderbook")
    if expected not in by_kind["orderbook"]:
        raise LobsterFormatError(
            str(path),
            None,
            f"holds the message file {msg} but not its orderbook file {expected}",
        )
    return f"{path}:{msg}", zf.read(msg), f"{path}:{expected}", zf.read(expected)


def _parse_messages(name: str, text: bytes, tick_size: int) -> np.ndarray:
    try:
        if _NON_INTEGER_AFTER_TIME.search(text):  # "50.0", "5e1", " 50": not LOBSTER integers
            raise ValueError("a non-integer field")
        frame = pd.read_csv(
            io.BytesIO(text),
            header=None,
            dtype={0: str, 1: np.int64, 2: np.int64, 3: np.int64, 4: np.int64, 5: np.int64},
            engine="c",
            na_filter=False,
            skip_blank_lines=False,
        )
    except (ValueError, pd.errors.ParserError) as exc:
        _locate_csv_problem(name, text, len(_MESSAGE_COLUMNS), _message_field_ok)
        raise LobsterFormatError(name, None, f"unreadable: {exc}") from exc
    if frame.shape[1] != len(_MESSAGE_COLUMNS):
        _locate_csv_problem(name, text, len(_MESSAGE_COLUMNS), _message_field_ok)
        raise LobsterFormatError(
            name, 1, f"has {frame.shape[1]} columns, expected {len(_MESSAGE_COLUMNS)}"
        )
    bad_time = ~frame[0].str.fullmatch(_TIME_RE.pattern)
    if bad_time.any():
        i = int(np.flatnonzero(bad_time.to_numpy())[0])
        raise LobsterFormatError(
            name, i + 1, f"time {frame[0].iloc[i]!r} is not seconds after midnight"
        )

    out = np.empty(len(frame), dtype=MESSAGE_DTYPE)
    out["time"] = _parse_time_ns(frame[0])
    for col, field_name in enumerate(_MESSAGE_COLUMNS[1:], start=1):
        values = frame[col].to_numpy()
        if field_name in ("type", "direction"):
            out[field_name] = values.astype(np.int8)
            if (out[field_name] != values).any():
                i = int(np.flatnonzero(out[field_name] != values)[0])
                raise LobsterFormatError(name, i + 1, f"{field_name} {values[i]} is out of range")
        elif field_name == "price":
            out["price_raw"] = values
        else:
            out[field_name] = values
    _validate_messages(name, out, tick_size)
    out["price"] = np.floor_divide(out["price_raw"], tick_size)
    return out


def _parse_time_ns(times: pd.Series) -> np.ndarray:
    """Seconds-after-midnight text to int64 ns: whole and fractional parts parsed apart.

    Digits past the ninth decimal (finer than a nanosecond; LOBSTER has a few) are dropped.
    """
    parts = times.str.partition(".")
    seconds = parts[0].astype(np.int64).to_numpy()
    frac = parts[2].str.ljust(9, "0").str.slice(0, 9).astype(np.int64).to_numpy()
    return seconds * NS_PER_SECOND + frac


class _Problems:
    """Collects failed vectorised checks and reports the one on the earliest line."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.first: tuple[int, str] | None = None

    def check(self, bad: np.ndarray, problem: Callable[..., str]) -> None:
        """Note a problem if ``bad`` (rows, or rows x levels) has a True entry."""
        if bad.any():
            index = [int(v) for v in np.argwhere(bad)[0]]
            if self.first is None or index[0] < self.first[0]:
                self.first = (index[0], problem(*index))

    def raise_first(self) -> None:
        """Raise LobsterFormatError for the earliest problem, if any."""
        if self.first is not None:
            raise LobsterFormatError(self.name, self.first[0] + 1, self.first[1])


def _validate_messages(name: str, m: np.ndarray, tick_size: int) -> None:
    problems = _Problems(name)
    fail = problems.check
    known = np.isin(m["type"], [int(t) for t in EventType])
    fail(~known, lambda i: f"unknown event type {m['type'][i]} (known: 1-7)")
    back = np.zeros(len(m), dtype=bool)
    back[1:] = m["time"][1:] < m["time"][:-1]
    fail(
        back,
        lambda i: f"time goes backwards: {_fmt_ns(m['time'][i])} after {_fmt_ns(m['time'][i - 1])}",
    )
    halt = m["type"] == EventType.HALT
    fail((m["size"] <= 0) & ~halt, lambda i: f"size {m['size'][i]} is not positive")
    fail(
        ~np.isin(m["direction"], [-1, 1]),
        lambda i: f"direction {m['direction'][i]} is not +1 or -1",
    )
    # visible book events must be on the tick grid; hidden and cross prints may be between ticks
    visible = m["type"] <= EventType.EXECUTE
    fail(
        visible & (m["price_raw"] <= 0),
        lambda i: f"price {m['price_raw'][i]} is not positive",
    )
    fail(
        visible & (m["price_raw"] % tick_size != 0),
        lambda i: f"price {m['price_raw'][i]} is off the tick grid (tick size {tick_size})",
    )
    problems.raise_first()


def _parse_orderbook(name: str, text: bytes, levels: int | None, tick_size: int) -> np.ndarray:
    try:
        if _NON_INTEGER.search(text):
            raise ValueError("a non-integer field")
        frame = pd.read_csv(
            io.BytesIO(text), header=None, dtype=np.int64, engine="c", skip_blank_lines=False
        )
    except (ValueError, pd.errors.ParserError) as exc:
        ncols = 4 * levels if levels else _first_line_fields(text)
        _locate_csv_problem(name, text, ncols, _int_field_ok)
        raise LobsterFormatError(name, None, f"unreadable: {exc}") from exc
    if levels is None:
        if frame.shape[1] % 4:
            raise LobsterFormatError(
                name, 1, f"has {frame.shape[1]} columns; an orderbook row has 4 per level"
            )
        levels = frame.shape[1] // 4
    if frame.shape[1] != 4 * levels:
        _locate_csv_problem(name, text, 4 * levels, _int_field_ok)
        raise LobsterFormatError(
            name, 1, f"has {frame.shape[1]} columns, expected {4 * levels} for {levels} levels"
        )
    raw = frame.to_numpy().reshape(len(frame), levels, 4)
    ask_p, ask_s, bid_p, bid_s = raw[..., 0], raw[..., 1], raw[..., 2], raw[..., 3]

    problems = _Problems(name)
    fail = problems.check
    fail((ask_s < 0) | (bid_s < 0), lambda i, k: f"negative size at level {k + 1}")
    ask_empty = ask_p == _EMPTY_ASK
    bid_empty = bid_p == _EMPTY_BID
    fail(
        ask_empty != (ask_s == 0),
        lambda i, k: f"ask level {k + 1}: size {ask_s[i, k]} at price {ask_p[i, k]}",
    )
    fail(
        bid_empty != (bid_s == 0),
        lambda i, k: f"bid level {k + 1}: size {bid_s[i, k]} at price {bid_p[i, k]}",
    )
    for prices, empty, label in ((ask_p, ask_empty, "ask"), (bid_p, bid_empty, "bid")):
        fail(
            ~empty & (prices <= 0),
            lambda i, k, p=prices, s=label: f"{s} price {p[i, k]} at level {k + 1} is not positive",
        )
        fail(
            ~empty & (prices % tick_size != 0),
            lambda i, k, p=prices, s=label: (
                f"{s} price {p[i, k]} at level {k + 1} is off the tick grid (tick size {tick_size})"
            ),
        )
    # levels strictly ordered away from the mid; empties only after the occupied levels
    fail(
        ~ask_empty[:, 1:] & (ask_empty[:, :-1] | (ask_p[:, 1:] <= ask_p[:, :-1])),
        lambda i, k: f"ask level {k + 2} price {ask_p[i, k + 1]} is not above level {k + 1}",
    )
    fail(
        ~bid_empty[:, 1:] & (bid_empty[:, :-1] | (bid_p[:, 1:] >= bid_p[:, :-1])),
        lambda i, k: f"bid level {k + 2} price {bid_p[i, k + 1]} is not below level {k + 1}",
    )
    crossed = ~ask_empty[:, 0] & ~bid_empty[:, 0] & (ask_p[:, 0] <= bid_p[:, 0])
    fail(crossed, lambda i: f"crossed book: best ask {ask_p[i, 0]} <= best bid {bid_p[i, 0]}")
    problems.raise_first()

    book = np.empty_like(raw)
    book[..., 0] = np.where(ask_empty, EMPTY_PRICE, ask_p // tick_size)
    book[..., 1] = ask_s
    book[..., 2] = np.where(bid_empty, EMPTY_PRICE, bid_p // tick_size)
    book[..., 3] = bid_s
    return book


def _message_field_ok(col: int, value: str) -> bool:
    return bool((_TIME_RE if col == 0 else _INT_RE).fullmatch(value))


def _int_field_ok(col: int, value: str) -> bool:
    return bool(_INT_RE.fullmatch(value))


def _first_line_fields(text: bytes) -> int:
    return text.split(b"\n", 1)[0].count(b",") + 1


def _locate_csv_problem(
    name: str, text: bytes, ncols: int, field_ok: Callable[[int, str], bool]
) -> None:
    """Slow path after the fast parser failed: find and report the first bad line."""
    for line_no, line in enumerate(text.decode("ascii", errors="replace").splitlines(), start=1):
        if not line.strip():
            raise LobsterFormatError(name, line_no, "empty line")
        values = line.split(",")
        if len(values) != ncols:
            raise LobsterFormatError(
                name, line_no, f"has {len(values)} columns, expected {ncols}: {line!r}"
            )
        for col, value in enumerate(values):
            if not field_ok(col, value):
                raise LobsterFormatError(
                    name, line_no, f"column {col + 1} value {value!r} is not a valid number"
                )


def _fmt_ns(ns: int) -> str:
    return f"{int(ns) // NS_PER_SECOND}.{int(ns) % NS_PER_SECOND:09d}s"
