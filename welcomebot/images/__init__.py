"""Safe fetching and strict validation of admin-supplied background images (no Discord in here).

::

    data = await fetch_image(url, policy)                       # SSRF-checked, pinned, capped, timed
    image = await normalize_within(data, policy, budget)        # decoded with limits, re-encoded, in a
                                                                # thread, once its bytes fit the budget

Build the policy with ``FetchPolicy.trusting(settings.cdn_base, api_base=settings.api_base)`` so the operator's
own CDN / emulator may be reached over http and on loopback (under the CDN base's path only, never the API's or
the control API's paths); every other link must be public https. Every refusal
is an :class:`ImageRejected` whose message is one sentence for the admin.
"""

from __future__ import annotations

from welcomebot.images.budget import DEFAULT_DECODE_BUDGET, DecodeBudget
from welcomebot.images.errors import ImageRejected
from welcomebot.images.fetch import Resolver, fetch_image, system_resolver
from welcomebot.images.policy import FetchPolicy
from welcomebot.images.validate import ACCEPTED_FORMATS, NormalizedImage, decode_cost, normalize, normalize_within

__all__ = [
    "ACCEPTED_FORMATS",
    "DEFAULT_DECODE_BUDGET",
    "DecodeBudget",
    "FetchPolicy",
    "ImageRejected",
    "NormalizedImage",
    "Resolver",
    "decode_cost",
    "fetch_image",
    "normalize",
    "normalize_within",
    "system_resolver",
]
