"""Writing a market session as LOBSTER files, for any tool that reads LOBSTER data.

:func:`write_lobster` is the inverse of :func:`lmm.data.lobster.read_lobster`: it writes a
:class:`lmm.data.lobster.LobsterDay` (read from LOBSTER, or recorded from a simulated market
by :class:`lmm.engine.recording.SessionRecorder`) as a message file and an orderbook file named the
way LOBSTER names them, optionally zipped together as LOBSTER ships them. Times are written
as seconds after midnight with nine decimals (exact nanoseconds), prices in dollars x 10000,
empty book levels as LOBSTER's +/-9999999999 with size 0.
"""

from __future__ import annotations

import io
import re
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd

# the reader's own constants and message checks, so that what is written reads back
from lmm.data.lobster import (
    _EMPTY_ASK,
    _EMPTY_BID,
    MESSAGE_DTYPE,
    LobsterDay,
    _validate_messages,
)
from lmm.engine.orderbook import EMPTY_PRICE
from lmm.units import NS_PER_SECOND

__all__ = ["write_lobster"]

_NS_PER_MS = NS_PER_SECOND // 1_000
_TICKER_RE = re.compile(r"[A-Za-z0-9.]+")
_DATE_RE = re.compile(r"\d{4}-\d{2}-\d{2}")
_PREFIX_RE = re.compile(r"[A-Za-z0-9._-]*")


def write_lobster(
    day: LobsterDay, folder: str | Path, *, zipped: bool = False, prefix: str = ""
) -> list[Path]:
    """Write ``day`` as LOBSTER's ``TICKER_DATE_START_END_message_L.csv`` and
    ``..._orderbook_L.csv`` in ``folder``, each name preceded by ``prefix``.

    START and END are the first and last message times in ms after midnight (rounded
    down and up), as in LOBSTER's file names.

    Args:
        day: the messages and the top-L book after each (``day.ticker`` and ``day.date``
            name the files).
        folder: where to write (created if missing).
        zipped: write both files into one ``TICKER_DATE_START_END_L.zip`` instead.
        prefix: letters, digits, ``.``, ``-`` and ``_`` that tell several files of one
            ticker and date apart (LOBSTER's readers, ours included, still find the
            ticker, date and levels in the rest of the name).

    Returns:
        The paths written: the message and orderbook files, or the zip.

    Raises:
        ValueError: a field of ``day`` cannot be written as LOBSTER data (the message names
            the field, and the line for a bad message or book row).
    """
    if not _PREFIX_RE.fullmatch(prefix):
        raise ValueError(f"prefix {prefix!r} may hold only letters, digits, '.', '-' and '_'")
    name = prefix + _base_name(day)
    messages, book = day.messages, day.book
    msg_name = f"{name}_message_{day.levels}.csv"
    ob_name = f"{name}_orderbook_{day.levels}.csv"
    _validate_messages(msg_name, messages, day.tick_size)
    _validate_book(ob_name, book, len(messages), day.levels)
    texts = {
        msg_name: _message_csv(messages),
        ob_name: _orderbook_csv(book, day.tick_size),
    }
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    if zipped:
        path = folder / f"{name}_{day.levels}.zip"
        with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            for file_name, text in texts.items():
                zf.writestr(file_name, text)
        return [path]
    paths = []
    for file_name, text in texts.items():
        (folder / file_name).write_bytes(text)
        paths.append(folder / file_name)
    return paths


def _base_name(day: LobsterDay) -> str:
    if not _TICKER_RE.fullmatch(day.ticker):
        raise ValueError(
            f"ticker {day.ticker!r} cannot name a LOBSTER file (letters, digits and dots)"
        )
    if not _DATE_RE.fullmatch(day.date):
        raise ValueError(f"date {day.date!r} is not YYYY-MM-DD")
    if day.messages.dtype != MESSAGE_DTYPE:
        raise ValueError(
            f"messages must have lmm.data.lobster.MESSAGE_DTYPE, got {day.messages.dtype}"
        )
    if len(day.messages) == 0:
        raise ValueError("messages is empty: a LOBSTER file needs at least one message")
    times = day.messages["time"]
    if times[0] < 0:
        raise ValueError(f"time {int(times[0])} ns is before midnight")
    start = int(times[0]) // _NS_PER_MS
    end = -(-int(times[-1]) // _NS_PER_MS)
    return f"{day.ticker}_{day.date}_{start}_{end}"


def _validate_book(name: str, book: np.ndarray, n: int, levels: int) -> None:
    if book.shape != (n, levels, 4):
        raise ValueError(
            f"book has shape {book.shape}; expected ({n}, {levels}, 4): one row of "
            f"{levels} levels per message"
        )
    prices, sizes = book[..., 0::2], book[..., 1::2]
    bad = (sizes < 0) | ((prices == EMPTY_PRICE) != (sizes == 0)) | (prices < 0)
    if bad.any():
        row, level, col = (int(v) for v in np.argwhere(bad)[0])
        side = "ask" if col == 0 else "bid"
        raise ValueError(
            f"{name}, line {row + 1}: {side} level {level + 1} has price {prices[row, level, col]} "
            f"and size {sizes[row, level, col]} (an empty level is price {EMPTY_PRICE}, size 0)"
        )


def _message_csv(m: np.ndarray) -> bytes:
    seconds, frac = np.divmod(m["time"], NS_PER_SECOND)
    frame = pd.DataFrame(
        {
            "time": [f"{s}.{f:09d}" for s, f in zip(seconds.tolist(), frac.tolist(), strict=True)],
            "type": m["type"],
            "order_id": m["order_id"],
            "size": m["size"],
            "price": m["price_raw"],
            "direction": m["direction"],
        }
    )
    return _csv(frame)


def _orderbook_csv(book: np.ndarray, tick_size: int) -> bytes:
    out = book.astype(np.int64) * np.array([tick_size, 1, tick_size, 1])
    out[..., 0] = np.where(book[..., 1] == 0, _EMPTY_ASK, out[..., 0])
    out[..., 2] = np.where(book[..., 3] == 0, _EMPTY_BID, out[..., 2])
    return _csv(pd.DataFrame(out.reshape(len(book), -1)))


def _csv(frame: pd.DataFrame) -> bytes:
    buffer = io.StringIO()
    frame.to_csv(buffer, header=False, index=False, lineterminator="\n")
    return buffer.getvalue().encode("ascii")
