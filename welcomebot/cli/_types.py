"""Types shared by the subcommand modules."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import TypeAlias

from welcomebot.settings import Settings

Handler: TypeAlias = Callable[[argparse.Namespace, Settings], int]
Subparsers: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"
