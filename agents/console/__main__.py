"""``python -m agents.console``: the ``mars-gym`` console script."""

from agents.console.main import main

raise SystemExit(main())
