"""The card design an admin is trying out: ``GuildConfig.options["design_draft"]``, until ``/card save``.

``/card`` changes go to the draft, never straight to the cards new members get; ``/preview`` and every
``/card`` answer show the draft, so the admin sees a design before saving it.
"""

from __future__ import annotations

from typing import Final

import msgspec

from welcomebot.render.design import CardDesign, design_of, design_to_options
from welcomebot.store.api import GuildConfig

__all__ = ["DRAFT", "draft_design", "with_design", "with_draft"]

DRAFT: Final = "design_draft"


def draft_design(config: GuildConfig) -> CardDesign | None:
    """The unsaved design, or None when there is none (or it no longer decodes)."""
    if DRAFT not in config.options:
        return None
    return design_of({"design": config.options[DRAFT]}, guild_id=config.guild_id)


def with_design(config: GuildConfig, design: CardDesign) -> GuildConfig:
    """``config`` as if ``design`` were saved (for rendering a preview; nothing is stored)."""
    return msgspec.structs.replace(config, options={**config.options, "design": design_to_options(design)})


def with_draft(config: GuildConfig) -> tuple[GuildConfig, bool]:
    """``config`` with its draft design in place of the saved one, and whether there was a draft."""
    draft = draft_design(config)
    return (config, False) if draft is None else (with_design(config, draft), True)
