"""Tests of the LOBSTER reader on small synthetic files (no real LOBSTER data needed).

All numbers below are invented for these tests.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import pytest

from lmm.data.lobster import (
    AGGRESSIVE_ORDER_DTYPE,
    MESSAGE_DTYPE,
    EventType,
    LobsterFormatError,
    aggressive_orders,
    read_lobster,
)
from lmm.engine.orderbook import EMPTY_PRICE

MESSAGE_NAME = "TEST_2012-06-21_34200000_57600000_message_2.csv"
ORDERBOOK_NAME = "TEST_2012-06-21_34200000_57600000_orderbook_2.csv"
EA, EB = "9999999999,0", "-9999999999,0"  # empty ask level, empty bid level

# time, type, order id, size, price (dollars x 10000), direction
MESSAGES = [
    "34200.000000001,1,1001,100,1000000,1",  # buy 100 @ 100.00
    "34200.5,1,1002,50,1000300,-1",  # sell 50 @ 100.03
    "34201.25,1,1003,30,999900,1",  # buy 30 @ 99.99
    "34202,2,1003,10,999900,1",  # cancel 10 of 1003 (a time without decimals)
    "34203.123456789,4,1002,20,1000300,-1",  # execute 20 of 1002
    "34203.123456789,5,0,15,1000050,1",  # hidden execution between ticks
]
# ask1 price, ask1 size, bid1 price, bid1 size, ask2 ..., bid2 ... after each message
ORDERBOOK = [
    f"{EA},1000000,100,{EA},{EB}",
    f"1000300,50,1000000,100,{EA},{EB}",
    f"1000300,50,1000000,100,{EA},999900,30",
    f"1000300,50,1000000,100,{EA},999900,20",
    f"1000300,30,1000000,100,{EA},999900,20",
    f"1000300,30,1000000,100,{EA},999900,20",
]


def write_pair(
    folder: Path,
    messages: list[str] = MESSAGES,
    orderbook: list[str] = ORDERBOOK,
    message_name: str = MESSAGE_NAME,
    orderbook_name: str = ORDERBOOK_NAME,
) -> tuple[Path, Path]:
    msg, ob = folder / message_name, folder / orderbook_name
    msg.write_text("\n".join(messages) + "\n")
    ob.write_text("\n".join(orderbook) + "\n")
    return msg, ob


def write_zip(folder: Path, members: dict[str, list[str]]) -> Path:
    path = folder / "LOBSTER_SampleFile_TEST_2012-06-21_2.zip"
    with zipfile.ZipFile(path, "w") as zf:
        for name, rows in members.items():
            zf.writestr(name, "\n".join(rows) + "\n")
    return path


# ------------------------------------------------------------------------ valid data
def test_valid_pair_reads_in_exact_units(tmp_path: Path) -> None:
    msg, _ = write_pair(tmp_path)
    day = read_lobster(msg)

    assert len(day) == 6
    assert day.ticker == "TEST"
    assert day.date == "2012-06-21"
    assert day.levels == 2
    assert day.tick_size == 100
    assert day.messages.dtype == MESSAGE_DTYPE

    m = day.messages
    assert m["time"].dtype == np.int64
    assert m["time"].tolist() == [
        34_200_000_000_001,
        34_200_500_000_000,
        34_201_250_000_000,
        34_202_000_000_000,
        34_203_123_456_789,
        34_203_123_456_789,
    ]
    assert m["type"].tolist() == [1, 1, 1, 2, 4, 5]
    assert m["order_id"].tolist() == [1001, 1002, 1003, 1003, 1002, 0]
    assert m["size"].tolist() == [100, 50, 30, 10, 20, 15]
    assert m["price"].tolist() == [10000, 10003, 9999, 9999, 10003, 10000]
    assert m["price_raw"].tolist() == [1000000, 1000300, 999900, 999900, 1000300, 1000050]
    assert m["direction"].tolist() == [1, -1, 1, 1, -1, 1]

    book = day.book
    assert book.shape == (6, 2, 4)
    assert book.dtype == np.int64
    # empty levels are (EMPTY_PRICE, 0), whatever the sentinel in the file
    assert book[0].tolist() == [[EMPTY_PRICE, 0, 10000, 100], [EMPTY_PRICE, 0, EMPTY_PRICE, 0]]
    assert book[1].tolist() == [[10003, 50, 10000, 100], [EMPTY_PRICE, 0, EMPTY_PRICE, 0]]
    assert book[5].tolist() == [[10003, 30, 10000, 100], [EMPTY_PRICE, 0, 9999, 20]]
    assert (book[:, :, [0, 2]] != 9999999999 // 100).all()
    assert (book[:, :, [0, 2]] >= 0).all()


def test_explicit_orderbook_path_and_tick_size(tmp_path: Path) -> None:
    msg, ob = write_pair(tmp_path)
    day = read_lobster(msg, ob, tick_size=50)
    assert day.tick_size == 50
    assert day.messages["price"].tolist() == [20000, 20006, 19998, 19998, 20006, 20001]
    assert day.book[1, 0].tolist() == [20006, 50, 20000, 100]


def test_levels_from_column_count_when_name_is_not_standard(tmp_path: Path) -> None:
    msg, _ = write_pair(
        tmp_path, message_name="day_message.csv", orderbook_name="day_orderbook.csv"
    )
    day = read_lobster(msg)
    assert day.levels == 2
    assert day.ticker == "" and day.date == ""
    assert day.book.shape == (6, 2, 4)


def test_zip_reads_identically(tmp_path: Path) -> None:
    msg, _ = write_pair(tmp_path)
    from_csv = read_lobster(msg)
    zpath = write_zip(tmp_path, {MESSAGE_NAME: MESSAGES, ORDERBOOK_NAME: ORDERBOOK})
    from_zip = read_lobster(zpath)

    assert from_zip.messages.dtype == from_csv.messages.dtype
    assert np.array_equal(from_zip.messages, from_csv.messages)
    np.testing.assert_array_equal(from_zip.book, from_csv.book)
    assert (from_zip.ticker, from_zip.date, from_zip.levels, from_zip.tick_size) == (
        "TEST",
        "2012-06-21",
        2,
        100,
    )
    assert from_zip.source == str(zpath)


def test_zip_with_members_in_a_folder(tmp_path: Path) -> None:
    zpath = write_zip(
        tmp_path, {f"sub/{MESSAGE_NAME}": MESSAGES, f"sub/{ORDERBOOK_NAME}": ORDERBOOK}
    )
    day = read_lobster(zpath)
    assert day.ticker == "TEST" and day.levels == 2 and len(day) == 6


def test_time_with_more_than_nine_decimals_is_truncated_exactly(tmp_path: Path) -> None:
    rows = [
        "43002.632812672004,1,1,10,1000000,1",
        "43002.6328126729,1,2,10,1000000,1",
        "43003.1,1,3,10,1000000,1",
    ]
    book = [
        f"{EA},1000000,10,{EA},{EB}",
        f"{EA},1000000,20,{EA},{EB}",
        f"{EA},1000000,30,{EA},{EB}",
    ]
    msg, _ = write_pair(tmp_path, rows, book)
    times = read_lobster(msg).messages["time"]
    assert int(times[0]) == 43_002_632_812_672
    assert int(times[1]) == 43_002_632_812_672  # ninth decimal kept, tenth dropped
    assert int(times[2]) == 43_003_100_000_000


def test_hidden_execution_off_grid_is_accepted(tmp_path: Path) -> None:
    msg, _ = write_pair(tmp_path)
    m = read_lobster(msg).messages
    assert m["type"][5] == EventType.EXECUTE_HIDDEN
    assert m["price_raw"][5] == 1000050  # exact LOBSTER price kept
    assert m["price"][5] == 10000  # the tick at or below


def test_off_grid_hidden_and_cross_prices_floor_to_tick(tmp_path: Path) -> None:
    rows = [
        *MESSAGES,
        "34204,5,0,3,1000070,-1",
        "34205,5,0,4,1000199,1",
        "34206,6,0,500,1000025,-1",  # cross trade (auction print) between ticks
    ]
    book = [*ORDERBOOK, *ORDERBOOK[-1:] * 3]
    msg, _ = write_pair(tmp_path, rows, book)
    m = read_lobster(msg).messages
    assert m["price_raw"][5:].tolist() == [1000050, 1000070, 1000199, 1000025]
    assert m["price"][5:].tolist() == [10000, 10000, 10001, 10000]  # floor, not round
    assert m["type"][5:].tolist() == [5, 5, 5, 6]


def test_halt_message_with_zero_size_is_accepted(tmp_path: Path) -> None:
    rows = [*MESSAGES, "34210,7,0,0,-1,-1"]
    book = [*ORDERBOOK, ORDERBOOK[-1]]
    msg, _ = write_pair(tmp_path, rows, book)
    m = read_lobster(msg).messages
    assert m["type"][-1] == EventType.HALT
    assert m["size"][-1] == 0
    assert m["price_raw"][-1] == -1


# ----------------------------------------------------------------------- malformed data
def replace_line(rows: list[str], line: int, text: str) -> list[str]:
    """``rows`` with 1-based ``line`` replaced by ``text``."""
    out = list(rows)
    out[line - 1] = text
    return out


# (which file, 1-based line, replacement row, text the error must contain)
MALFORMED = {
    "message too many columns": (
        "message",
        3,
        "34201.25,1,1003,30,999900,1,7",
        "has 7 columns, expected 6",
    ),
    "message too few columns": ("message", 4, "34202,2,1003,10,999900", "has 5 columns"),
    "message first line too many columns": (
        "message",
        1,
        "34200.000000001,1,1001,100,1000000,1,0",
        "has 7 columns",
    ),
    "message first line too few columns": (
        "message",
        1,
        "34200.000000001,1,1001,100,1000000",
        "has 5 columns",
    ),
    "message non-numeric size": ("message", 2, "34200.5,1,1002,abc,1000300,-1", "'abc'"),
    "message non-numeric price": ("message", 6, "34203.2,5,0,15,10x0050,1", "'10x0050'"),
    "message non-numeric time": ("message", 3, "34201.2x5,1,1003,30,999900,1", "'34201.2x5'"),
    "message fractional size": ("message", 2, "34200.5,1,1002,50.5,1000300,-1", "'50.5'"),
    # integral floats and padded numbers are not LOBSTER integers either
    "message float-looking size": ("message", 2, "34200.5,1,1002,50.0,1000300,-1", "'50.0'"),
    "message exponent price": ("message", 3, "34201.25,1,1003,30,9999e2,1", "'9999e2'"),
    "message padded size": ("message", 4, "34202,2,1003, 10,999900,1", "' 10'"),
    "time goes backwards": (
        "message",
        4,
        "34201.0,2,1003,10,999900,1",
        "time goes backwards: 34201.000000000s after 34201.250000000s",
    ),
    "unknown event type 9": ("message", 2, "34200.5,9,1002,50,1000300,-1", "unknown event type 9"),
    "unknown event type 0": ("message", 5, "34203.1,0,1002,20,1000300,-1", "unknown event type 0"),
    "size zero": ("message", 3, "34201.25,1,1003,0,999900,1", "size 0 is not positive"),
    "size negative": ("message", 3, "34201.25,1,1003,-5,999900,1", "size -5 is not positive"),
    "direction zero": ("message", 2, "34200.5,1,1002,50,1000300,0", "direction 0 is not +1 or -1"),
    "direction two": ("message", 6, "34203.123456789,5,0,15,1000050,2", "direction 2"),
    "submit price off grid": (
        "message",
        1,
        "34200.000000001,1,1001,100,1000050,1",
        "price 1000050 is off the tick grid (tick size 100)",
    ),
    "execution price off grid": (
        "message",
        5,
        "34203.123456789,4,1002,20,1000301,-1",
        "price 1000301 is off the tick grid",
    ),
    "submit price not positive": (
        "message",
        2,
        "34200.5,1,1002,50,0,-1",
        "price 0 is not positive",
    ),
    "orderbook too many columns": (
        "orderbook",
        2,
        f"1000300,50,1000000,100,{EA},{EB},7",
        "has 9 columns, expected 8",
    ),
    "orderbook too few columns": (
        "orderbook",
        5,
        f"1000300,30,1000000,100,{EA},999900",
        "has 7 columns, expected 8",
    ),
    "orderbook first line too many columns": (
        "orderbook",
        1,
        f"{EA},1000000,100,{EA},{EB},1",
        "has 9 columns",
    ),
    "orderbook non-numeric": (
        "orderbook",
        3,
        f"1000300,fifty,1000000,100,{EA},999900,30",
        "'fifty'",
    ),
    "orderbook float-looking size": (
        "orderbook",
        3,
        f"1000300,50.0,1000000,100,{EA},999900,30",
        "'50.0'",
    ),
    "orderbook crossed": (
        "orderbook",
        2,
        f"1000000,50,1000000,100,{EA},{EB}",
        "crossed book: best ask 1000000 <= best bid 1000000",
    ),
    "orderbook crossed through": (
        "orderbook",
        4,
        f"999900,50,1000000,100,{EA},999900,20",
        "crossed book: best ask 999900 <= best bid 1000000",
    ),
    "ask levels not increasing": (
        "orderbook",
        3,
        "1000300,50,1000000,100,1000200,5,999900,30",
        "ask level 2 price 1000200 is not above level 1",
    ),
    "ask levels equal": (
        "orderbook",
        3,
        "1000300,50,1000000,100,1000300,5,999900,30",
        "ask level 2 price 1000300 is not above level 1",
    ),
    "bid levels not decreasing": (
        "orderbook",
        6,
        f"1000300,30,1000000,100,{EA},1000100,20",
        "bid level 2 price 1000100 is not below level 1",
    ),
    "orderbook price off grid": (
        "orderbook",
        2,
        f"1000350,50,1000000,100,{EA},{EB}",
        "ask price 1000350 at level 1 is off the tick grid",
    ),
    "orderbook negative size": (
        "orderbook",
        2,
        f"1000300,-50,1000000,100,{EA},{EB}",
        "negative size at level 1",
    ),
    "orderbook empty level with size": (
        "orderbook",
        1,
        f"9999999999,5,1000000,100,{EA},{EB}",
        "ask level 1: size 5 at price 9999999999",
    ),
    "orderbook gap before occupied level": (
        "orderbook",
        1,
        f"{EA},1000000,100,1000500,5,{EB}",
        "ask level 2 price 1000500 is not above level 1",
    ),
}


@pytest.mark.parametrize(("kind", "line", "row", "expected"), MALFORMED.values(), ids=MALFORMED)
def test_malformed_file_names_file_line_and_value(
    tmp_path: Path, kind: str, line: int, row: str, expected: str
) -> None:
    messages, orderbook = MESSAGES, ORDERBOOK
    if kind == "message":
        messages = replace_line(messages, line, row)
    else:
        orderbook = replace_line(orderbook, line, row)
    msg, ob = write_pair(tmp_path, messages, orderbook)
    bad = msg if kind == "message" else ob

    with pytest.raises(LobsterFormatError) as info:
        read_lobster(msg)
    err = info.value
    text = str(err)
    assert bad.name in text
    assert f"line {line}:" in text
    assert expected in text
    assert err.file == str(bad)
    assert err.line == line
    assert expected in err.problem
    assert isinstance(err, ValueError)


@pytest.mark.parametrize(("kind", "line", "row", "expected"), MALFORMED.values(), ids=MALFORMED)
def test_malformed_file_in_zip_names_member_and_line(
    tmp_path: Path, kind: str, line: int, row: str, expected: str
) -> None:
    messages, orderbook = MESSAGES, ORDERBOOK
    if kind == "message":
        messages = replace_line(messages, line, row)
    else:
        orderbook = replace_line(orderbook, line, row)
    zpath = write_zip(tmp_path, {MESSAGE_NAME: messages, ORDERBOOK_NAME: orderbook})

    with pytest.raises(LobsterFormatError) as info:
        read_lobster(zpath)
    member = MESSAGE_NAME if kind == "message" else ORDERBOOK_NAME
    assert info.value.file == f"{zpath}:{member}"
    assert info.value.line == line
    assert expected in str(info.value)


@pytest.mark.parametrize(
    ("messages", "orderbook", "n_book", "n_messages"),
    [
        pytest.param(MESSAGES, ORDERBOOK[:-1], 5, 6, id="orderbook short"),
        pytest.param(MESSAGES[:-2], ORDERBOOK, 6, 4, id="message short"),
    ],
)
def test_row_counts_differ(
    tmp_path: Path, messages: list[str], orderbook: list[str], n_book: int, n_messages: int
) -> None:
    msg, ob = write_pair(tmp_path, messages, orderbook)
    with pytest.raises(LobsterFormatError) as info:
        read_lobster(msg)
    text = str(info.value)
    assert info.value.file == str(ob)
    assert ob.name in text and msg.name in text
    assert f"has {n_book} rows but the message file" in text
    assert f"has {n_messages}" in text


def test_missing_orderbook_file(tmp_path: Path) -> None:
    msg, ob = write_pair(tmp_path)
    ob.unlink()
    with pytest.raises(FileNotFoundError, match="orderbook") as info:
        read_lobster(msg)
    assert ORDERBOOK_NAME in str(info.value)


def test_missing_message_file(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="message file not found"):
        read_lobster(tmp_path / MESSAGE_NAME)


def test_zip_without_orderbook_member(tmp_path: Path) -> None:
    zpath = write_zip(tmp_path, {MESSAGE_NAME: MESSAGES})
    with pytest.raises(LobsterFormatError) as info:
        read_lobster(zpath)
    assert info.value.file == str(zpath)
    assert info.value.line is None
    assert f"not its orderbook file {ORDERBOOK_NAME}" in str(info.value)


def test_zip_without_message_member(tmp_path: Path) -> None:
    zpath = write_zip(tmp_path, {ORDERBOOK_NAME: ORDERBOOK})
    with pytest.raises(LobsterFormatError, match="holds no LOBSTER message file"):
        read_lobster(zpath)


def test_non_positive_tick_size_is_rejected(tmp_path: Path) -> None:
    msg, _ = write_pair(tmp_path)
    with pytest.raises(ValueError, match="tick_size must be > 0, got 0"):
        read_lobster(msg, tick_size=0)


def test_blank_line_is_reported_at_its_own_line(tmp_path: Path) -> None:
    # pandas would skip a blank line silently and shift every later line number
    rows = [MESSAGES[0], "", MESSAGES[1], "34201.25,1,1003,0,999900,1"]
    msg, _ = write_pair(tmp_path, rows, ORDERBOOK[:3])
    with pytest.raises(LobsterFormatError, match="empty line") as info:
        read_lobster(msg)
    assert info.value.line == 2


# ---------------------------------------------------------------- aggressive orders
def make_messages(rows: list[tuple[int, int, int, int, int, int]]) -> np.ndarray:
    """Messages from (time ns, type, order id, size, price ticks, direction) tuples."""
    out = np.zeros(len(rows), dtype=MESSAGE_DTYPE)
    for i, (t, typ, oid, size, price, direction) in enumerate(rows):
        out[i] = (t, typ, oid, size, price, price * 100, direction)
    return out


def test_aggressive_orders_groups_consecutive_executions() -> None:
    messages = make_messages(
        [
            (1_000, 1, 11, 40, 10001, -1),  # row 0: a submission
            (2_000, 4, 11, 25, 10001, -1),  # rows 1-2: one buyer sweeps two asks
            (2_000, 4, 12, 8, 10002, -1),
            (3_000, 4, 13, 5, 10002, -1),  # row 3: another buy, later
            (3_000, 1, 14, 9, 9998, 1),  # row 4: breaks the run
            (3_000, 4, 15, 6, 10002, -1),  # row 5: same time, but not consecutive
            (3_000, 4, 16, 2, 9999, 1),  # row 6: a seller hits a bid
        ]
    )
    agg = aggressive_orders(messages)
    assert agg.dtype == AGGRESSIVE_ORDER_DTYPE
    assert agg.tolist() == [
        # time, side, size, price (last), first_row, n_fills
        (2_000, 1, 33, 10002, 1, 2),
        (3_000, 1, 5, 10002, 3, 1),
        (3_000, 1, 6, 10002, 5, 1),
        (3_000, -1, 2, 9999, 6, 1),
    ]
    assert agg["size"].dtype == np.int64


def test_aggressive_orders_from_read_file(tmp_path: Path) -> None:
    msg, _ = write_pair(tmp_path)
    agg = aggressive_orders(read_lobster(msg).messages)
    # only row 4 is a visible execution (the type-5 row is hidden): a buyer of 20
    assert agg.tolist() == [(34_203_123_456_789, 1, 20, 10003, 4, 1)]


def test_aggressive_orders_without_executions() -> None:
    messages = make_messages([(1, 1, 1, 5, 100, 1), (2, 5, 0, 5, 100, 1)])
    agg = aggressive_orders(messages)
    assert agg.dtype == AGGRESSIVE_ORDER_DTYPE
    assert len(agg) == 0


def test_error_is_raised_for_the_first_bad_line(tmp_path: Path) -> None:
    # two bad sizes: the earlier line is the one reported
    rows = replace_line(MESSAGES, 5, "34203.123456789,4,1002,0,1000300,-1")
    rows = replace_line(rows, 2, "34200.5,1,1002,-1,1000300,-1")
    msg, _ = write_pair(tmp_path, rows)
    with pytest.raises(LobsterFormatError) as info:
        read_lobster(msg)
    assert info.value.line == 2


def test_the_earliest_bad_line_is_reported_whatever_the_check(tmp_path: Path) -> None:
    # a bad direction on line 2 and a zero size on line 5: line 2 comes first
    rows = replace_line(MESSAGES, 2, "34200.5,1,1002,50,1000300,0")
    rows = replace_line(rows, 5, "34203.123456789,4,1002,0,1000300,-1")
    msg, _ = write_pair(tmp_path, rows)
    with pytest.raises(LobsterFormatError, match="direction 0") as info:
        read_lobster(msg)
    assert info.value.line == 2


def test_text_file_named_zip_is_a_format_error(tmp_path: Path) -> None:
    fake = tmp_path / "LOBSTER_SampleFile_TEST_2012-06-21_2.zip"
    fake.write_text("\n".join(MESSAGES) + "\n")
    with pytest.raises(LobsterFormatError, match="is not a zip archive") as info:
        read_lobster(fake)
    assert info.value.file == str(fake)


def test_damaged_zip_is_a_format_error(tmp_path: Path) -> None:
    zpath = write_zip(tmp_path, {MESSAGE_NAME: MESSAGES, ORDERBOOK_NAME: ORDERBOOK})
    data = bytearray(zpath.read_bytes())
    first = data.index(MESSAGES[0].encode())  # corrupt a stored member's bytes: its CRC fails
    data[first] ^= 0x01
    zpath.write_bytes(bytes(data))
    with pytest.raises(LobsterFormatError, match="damaged zip archive") as info:
        read_lobster(zpath)
    assert info.value.file == str(zpath)
