"""``python -m mars_gym.console``: the package's commands (the full ``mars-gym`` console
script, with the strategy benchmark, is :func:`agents.console.main.main`)."""

from mars_gym.console.main import main

raise SystemExit(main())
