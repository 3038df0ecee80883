"""Safe fetching and strict validation of admin-supplied background images (no Discord in here).

::

    data = await fetch_image(url, policy)                       # SSRF-checked, pinned, capped, timed
    image = await trio.to_thread.run_sync(normalize, data, policy)  # decoded with limits, re-encoded

Build the policy with ``FetchPolicy.trusting(settings.cdn_base, api_base=settings.api_base)`` so the operator's
own CDN / emulator may be reached over http and on loopback (under the CDN base's path only, never the API's or
the control API's paths); every other link must be public https. Every refusal
is an :class:`ImageRejected` whose message is one sentence for the admin.
"""

from __future__ import annotations

from welcomebot.images.errors import ImageRejected
from welcomebot.images.fetch import Resolver, fetch_image, system_resolver
from welcomebot.images.policy import FetchPolicy
from welcomebot.images.validate import ACCEPTED_FORMATS, NormalizedImage, normalize

__all__ = [
    "ACCEPTED_FORMATS",
    "FetchPolicy",
    "ImageRejected",
    "NormalizedImage",
    "Resolver",
    "fetch_image",
    "normalize",
    "system_resolver",
]
