"""The compiled order book: many markets' books in numpy arrays, matched by numba kernels.

:mod:`lmm.engine.compiled.kernels` holds the arrays and the ``@njit`` kernels,
:mod:`lmm.engine.compiled.book` the Python API (the same methods as
:class:`lmm.engine.orderbook.OrderBook`) and :mod:`lmm.engine.compiled.replay` a LOBSTER replay
loop compiled end to end.
"""
