"""Stop requests from signals, honoured at once where Python runs and otherwise at the
next safe point (between compiled calls, between stages, between figures).

A signal handler that raises can lose its exception: Python runs handlers between any two
bytecodes, a garbage-collection callback's included, where an exception is ignored. So the
command line's handler also records the request, and :func:`check` raises it again.

A few steps must not be cut in two (renaming a run folder into place): inside :func:`held`,
a request is recorded but raised only when the block is done.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

__all__ = ["Interrupted", "check", "clear", "held", "request"]

_requested: list[int] = []  # the signals received, in order (process-wide by nature)
_holding: list[None] = []  # one entry per open held() block


class Interrupted(BaseException):
    """A stop was requested by signal ``signum`` (not an ``Exception``: nothing catches it
    by accident; staging folders are removed on the way out)."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


def request(signum: int) -> None:
    """Records a stop request and raises it (unless inside :func:`held`)."""
    _requested.append(signum)
    if not _holding:
        raise Interrupted(signum)


def check() -> None:
    """Raises :class:`Interrupted` if a stop was requested."""
    if _requested:
        raise Interrupted(_requested[0])


@contextlib.contextmanager
def held() -> Iterator[None]:
    """Holds stop requests while the block runs; one received meanwhile is raised when the
    block is done (unless the block raised).

    Example:
        >>> with held():
        ...     pass  # steps that must not be cut in two
    """
    _holding.append(None)
    try:
        yield
    finally:
        _holding.pop()
    check()


def clear() -> None:
    """Forgets the requests (when a command has finished)."""
    _requested.clear()
