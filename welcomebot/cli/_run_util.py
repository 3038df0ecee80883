"""Helpers shared by the long-running commands: signals, and unwrapping the one error that matters."""

from __future__ import annotations

import signal

import trio

from welcomebot.errors import WelcomeBotError, first_leaf

__all__ = ["first_error", "stop_on_signals"]


async def stop_on_signals(stop: trio.Event, cancel: trio.CancelScope) -> None:
    """First SIGINT/SIGTERM: set ``stop`` (graceful). A second one: cancel at once."""
    with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        async for _ in signals:
            if stop.is_set():
                cancel.cancel()
                return
            stop.set()


def first_error(group: BaseExceptionGroup[BaseException]) -> WelcomeBotError | None:
    """The first of our own errors inside a (nested) exception group, to report it as the CLI would."""
    match, _ = group.split(WelcomeBotError)
    if match is None:
        return None
    first = first_leaf(match)
    assert isinstance(first, WelcomeBotError)
    return first
