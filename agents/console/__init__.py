"""The full ``mars-gym`` console: :mod:`mars_gym.console`'s commands plus the strategy
benchmark (:mod:`~agents.console.benchmark`), put together by :mod:`~agents.console.main`."""
