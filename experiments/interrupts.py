"""Stop requests from signals, honoured at once where Python runs and otherwise at the
next safe point (between compiled calls, between stages, between figures).

A signal handler that raises can lose its exception: Python runs handlers between any two
bytecodes, a garbage-collection callback's included, where an exception is ignored. So the
command line's handler also records the request, and :func:`check` raises it again.
"""

from __future__ import annotations

__all__ = ["Interrupted", "check", "clear", "request"]

_requested: list[int] = []  # the signals received, in order (process-wide by nature)


class Interrupted(BaseException):
    """A stop was requested by signal ``signum`` (not an ``Exception``: nothing catches it
    by accident; staging folders are removed on the way out)."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


def request(signum: int) -> None:
    """Records a stop request and raises it."""
    _requested.append(signum)
    raise Interrupted(signum)


def check() -> None:
    """Raises :class:`Interrupted` if a stop was requested."""
    if _requested:
        raise Interrupted(_requested[0])


def clear() -> None:
    """Forgets the requests (when a command has finished)."""
    _requested.clear()
