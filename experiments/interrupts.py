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
from typing import Any

__all__ = ["Interrupted", "check", "clear", "held", "request"]

_requested: list[int] = []  # the signals received, in order (process-wide by nature)
_holding: list[None] = []  # one entry per open held() block


class Interrupted(BaseException):
    """A stop was requested by signal ``signum`` (not an ``Exception``: nothing catches it
    by accident; staging folders are removed on the way out)."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


def request(signum: int, frame: Any = None) -> None:
    """Records a stop request and raises it (unless inside :func:`held`, or when the
    signal came inside a garbage-collection callback, ``frame`` being where it came: an
    exception raised there is printed as "Exception ignored" and lost; :func:`check`
    raises the request at the next safe point instead)."""
    _requested.append(signum)
    if not _holding and not _in_gc_callback(frame):
        raise Interrupted(signum)


_GC_CALLBACKS = frozenset({"_xla_gc_callback"})  # JAX's; Python ignores what it raises


def _in_gc_callback(frame: Any) -> bool:
    """Whether ``frame`` or a caller of it is JAX's garbage-collection callback."""
    depth = 0
    while frame is not None and depth < 50:
        if frame.f_code.co_name in _GC_CALLBACKS:
            return True
        frame, depth = frame.f_back, depth + 1
    return False


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
