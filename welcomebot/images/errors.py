"""The one error of the image layer, under :class:`welcomebot.errors.WelcomeBotError`::

ImageRejected    a link or file is not an image we accept; the message, one sentence, tells the admin
                 why and what to do, and is safe to show them (it never contains more than the link's
                 host and the addresses it resolved to)
"""

from __future__ import annotations

from welcomebot.errors import WelcomeBotError

__all__ = ["ImageRejected"]


class ImageRejected(WelcomeBotError):
    """A background image (link or bytes) was refused; ``str(exc)`` is the sentence to show the admin."""
