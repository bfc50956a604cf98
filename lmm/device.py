"""Where the LMM runs: a device name checked once, with an error that names what is wrong.

Everything in this project runs on the CPU by default; that is where a seed reproduces a
market bit for bit (:class:`lmm.model.transformer.RowInvariantLinear`). A CUDA GPU can run
the model for training and generation; it makes the same kind of markets, not the same ones bit for
bit.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch

__all__ = ["available_memory", "resolve_device"]

_MEMINFO = Path("/proc/meminfo")


def resolve_device(name: str | torch.device, what: str = "device") -> torch.device:
    """The torch device that ``name`` means: ``"cpu"``, ``"cuda"``, ``"cuda:N"``, or
    ``"auto"`` (a CUDA GPU when torch finds one, else the CPU).

    Raises:
        ValueError: naming ``what``, for a name torch does not know, a device type other
            than CPU and CUDA, or a CUDA device that this machine does not have.
    """
    if isinstance(name, str) and name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except (RuntimeError, TypeError):
        raise ValueError(
            f"{what} must be 'cpu', 'cuda', 'cuda:N' or 'auto', got {name!r}"
        ) from None
    if device.type not in ("cpu", "cuda"):
        raise ValueError(f"{what} must be a CPU or CUDA device, got {name!r}")
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(f"{what} is {name!r}, but torch finds no CUDA GPU on this machine")
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise ValueError(
                f"{what} is {name!r}, but this machine has {torch.cuda.device_count()} CUDA GPU(s)"
            )
    return device


def available_memory(device: torch.device) -> int | None:
    """Bytes that new allocations on ``device`` can use now, or None where unknown.

    The CPU's is the kernel's ``MemAvailable`` (``/proc/meminfo``: free memory plus the
    caches it can drop), else the free physical pages (``os.sysconf``); a CUDA device's is
    its free memory (``torch.cuda.mem_get_info``).
    """
    if device.type == "cuda":
        return int(torch.cuda.mem_get_info(device)[0])
    if device.type != "cpu":
        return None
    try:
        for line in _MEMINFO.read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024  # kB
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None
