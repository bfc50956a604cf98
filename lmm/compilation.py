"""One line on stderr while numba compiles this package's kernels.

The compiled engine (:mod:`lmm.engine.compiled`) and the numba decoder
(:mod:`lmm.model.decode_numba`) compile their kernels on first use and cache them on disk
(``cache=True``), so a machine pays the compile time once; later processes load the
kernels in a fraction of a second. A first use would otherwise look like a hang, so once
the compiles of a process have taken :data:`NOTICE_AFTER_SECONDS` in all, one line says
what is happening. Loads from the cache are not compiles (numba's ``numba:compile``
event fires only on a cache miss), so a warm machine prints nothing.
"""

from __future__ import annotations

import sys
import threading
import time

from numba.core import event

__all__ = ["NOTICE", "NOTICE_AFTER_SECONDS", "announce_compiles"]

#: Compile seconds in a process after which the notice is printed.
NOTICE_AFTER_SECONDS = 1.0
NOTICE = (
    "numba: compiling mars-lmm-gym's kernels (first use on this machine, or after an "
    "upgrade; cached for later runs)..."
)


class _CompileNotice(event.Listener):
    """Times the compiles of ``lmm`` functions; prints :data:`NOTICE` once their total
    passes ``after`` seconds (nested compiles, a kernel's callees, count once)."""

    def __init__(self, after: float) -> None:
        self.after = after
        self.depth = 0
        self.spent = 0.0  # seconds of finished outermost compiles
        self.began = 0.0
        self.timer: threading.Timer | None = None
        self.said = False

    def on_start(self, ev: event.Event) -> None:
        if self.said or not _ours(ev):
            return
        self.depth += 1
        if self.depth == 1:
            self.began = time.perf_counter()
            self.timer = threading.Timer(max(self.after - self.spent, 0.0), self._say)
            self.timer.daemon = True
            self.timer.start()

    def on_end(self, ev: event.Event) -> None:
        if self.depth == 0 or not _ours(ev):
            return
        self.depth -= 1
        if self.depth == 0:
            if self.timer is not None:
                self.timer.cancel()
                self.timer = None
            self.spent += time.perf_counter() - self.began

    def _say(self) -> None:
        self.said = True
        print(NOTICE, file=sys.stderr, flush=True)


def _ours(ev: event.Event) -> bool:
    dispatcher = ev.data.get("dispatcher") if isinstance(ev.data, dict) else None
    module = getattr(getattr(dispatcher, "py_func", None), "__module__", "") or ""
    return module == "lmm" or module.startswith("lmm.")


_listener: _CompileNotice | None = None


def announce_compiles() -> None:
    """Install the notice (once per process; the compiled modules call this on import)."""
    global _listener
    if _listener is None:
        _listener = _CompileNotice(NOTICE_AFTER_SECONDS)
        event.register("numba:compile", _listener)
