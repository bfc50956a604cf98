"""LMM, the Large Market Model: LOBSTER data, the matching engine, and the order-level model.

This package depends on neither ``gymnasium`` nor ``mars_gym``: the simulator builds on it,
never the other way round.
"""
