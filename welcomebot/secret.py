"""A value that must never reach a log line, a traceback or a repr: the bot token."""

from __future__ import annotations

__all__ = ["Secret"]


class Secret:
    """Holds a secret string; ``str()`` and ``repr()`` show a mask, :meth:`reveal` the value.

    Only the code that puts the token on the wire calls :meth:`reveal`.
    """

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('********')"

    __str__ = __repr__

    def __format__(self, format_spec: str) -> str:
        return repr(self)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(("Secret", self._value))

    def __reduce__(self) -> tuple[object, ...]:
        # Pickling would write the token somewhere we do not control.
        raise TypeError("a Secret cannot be pickled")
