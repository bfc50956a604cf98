"""The compiled order book: many markets' books in numpy arrays, matched by numba kernels.

:mod:`lmm.compiled.kernels` holds the arrays and the ``@njit`` kernels,
:mod:`lmm.compiled.book` the Python API (the same methods as :class:`lmm.orderbook.OrderBook`)
and :mod:`lmm.compiled.replay` a LOBSTER replay loop compiled end to end.
"""
