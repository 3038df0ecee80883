"""``python -m welcomebot``: the same entry point as the ``welcomebot`` console script."""

from welcomebot.cli import main

raise SystemExit(main())
