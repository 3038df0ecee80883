"""welcomebot: welcomes every new member of a Discord server with a personalized image card."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("welcomebot")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0"

__all__ = ["__version__"]
