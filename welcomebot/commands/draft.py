"""The card design an admin is trying out: ``GuildConfig.options["design_draft"]``, until ``/card save``.

``/card`` changes go to the draft, never straight to the cards new members get; ``/preview`` and every
``/card`` answer show the draft, so the admin sees a design before saving it.
"""

from __future__ import annotations

from typing import Final

import msgspec

from welcomebot.render.design import CardDesign, background_label, design_of, design_to_options
from welcomebot.store import GuildConfig

__all__ = ["DRAFT", "describe_design", "draft_design", "with_design", "with_draft"]

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


def describe_design(config: GuildConfig) -> str:
    """The saved design in a few words for ``/welcome show`` (and whether a draft waits)."""
    design = design_of(config.options, guild_id=config.guild_id)
    words = [f"{design.theme} theme", f"{background_label(design.background)} background", f"{design.shape} avatar"]
    if design.font is not None:
        words.append("custom font")
    if design.animated:
        words.append("animated")
    text = ", ".join(words)
    return text + (" (unsaved changes wait: `/card save` or `/card discard`)" if DRAFT in config.options else "")
