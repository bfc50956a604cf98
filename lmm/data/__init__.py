"""Market data: reading LOBSTER files into exact, typed arrays."""

from lmm.data.lobster import (
    AGGRESSIVE_ORDER_DTYPE,
    MESSAGE_DTYPE,
    EventType,
    LobsterDay,
    LobsterFormatError,
    aggressive_orders,
    read_lobster,
)

__all__ = [
    "AGGRESSIVE_ORDER_DTYPE",
    "MESSAGE_DTYPE",
    "EventType",
    "LobsterDay",
    "LobsterFormatError",
    "aggressive_orders",
    "read_lobster",
]
