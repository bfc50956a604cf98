"""The ``mars-gym`` command line: one module per command, each of one shape
(:class:`~mars_gym.console.command.Command`), put together by :mod:`~mars_gym.console.main`.

:mod:`~mars_gym.console.flags` holds the flags the commands, the scripts and the training
entry points share; it imports no command, so anything may import it.
"""
