"""The trio side of rendering: run :meth:`Renderer.render` in worker threads, bounded by a CapacityLimiter.

Pillow releases the GIL while it resizes, pastes and encodes, so N threads render about N cards at once
(``scripts/bench/render`` measures the 2-thread speed-up). ``abandon_on_cancel=False``: a cancelled caller
waits for its card to finish, so no thread outlives the nursery that started it.
"""

from __future__ import annotations

import os

import trio

from welcomebot.render.card import CardSpec, Renderer

__all__ = ["RenderPool"]


class RenderPool:
    """One shared :class:`Renderer` and a limiter sized to the cores (or ``threads``)."""

    def __init__(self, renderer: Renderer, *, threads: int | None = None) -> None:
        self.renderer = renderer
        self.limiter = trio.CapacityLimiter(threads or os.cpu_count() or 1)

    async def render(self, spec: CardSpec) -> bytes:
        """The encoded card; raises :class:`~welcomebot.render.errors.RenderError` on bad input."""
        return await trio.to_thread.run_sync(self.renderer.render, spec, limiter=self.limiter)
