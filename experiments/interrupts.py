"""Stop requests from signals, honoured at once where Python runs and otherwise at the
next safe point (between compiled calls, between stages, between figures).

A signal handler that raises can lose its exception: Python runs handlers between any two
bytecodes, a garbage-collection callback's included, where an exception is ignored. So the
command line's handler also records the request, and :func:`check` raises it again.

A few steps must not be cut in two (renaming a run folder into place): inside :func:`held`,
a request is recorded but raised only when the block is done.

A compiled call is never abandoned. The shared trainer's loop asks the host, between its
chunks, whether a stop was requested (:func:`requested`, read from XLA's thread, which
never raises), and ends early if so; the caller waits for it inside :func:`cancelling`,
and discards what it returns. So no thread is inside XLA when the process ends, and no
exception is raised inside a callback that XLA made.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from typing import Any

__all__ = [
    "Interrupted",
    "cancelling",
    "check",
    "clear",
    "ctrl_c_after",
    "held",
    "record",
    "request",
    "requested",
]

_requested: list[int] = []  # the signals received, in order (process-wide by nature)
_holding: list[None] = []  # one entry per open held() or cancelling() block
_cancelling = threading.Event()  # set while a compiled call is asked to stop


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


def record(signum: int, frame: Any = None) -> None:
    """Records a stop request without raising it: the handler while the command line is
    starting (importing jax, whose garbage-collection callback would swallow an exception);
    :func:`check` raises it once the command line has begun."""
    del frame
    _requested.append(signum)


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


def requested() -> bool:
    """Whether a stop was requested (a signal recorded) or a compiled call is being
    cancelled (:func:`cancelling`): what a running call's stop polls read, from any
    thread. Never raises."""
    return bool(_requested) or _cancelling.is_set()


@contextlib.contextmanager
def cancelling() -> Iterator[None]:
    """Asks the running compiled call to stop at its next poll (:func:`requested` is true)
    while the block waits for it; a signal received meanwhile is recorded, not raised (the
    block's caller is already on its way out with an exception of its own).

    Example:
        >>> with cancelling():
        ...     requested()
        True
    """
    _holding.append(None)
    _cancelling.set()
    try:
        yield
    finally:
        _cancelling.clear()
        _holding.pop()


@contextlib.contextmanager
def ctrl_c_after() -> Iterator[None]:
    """Delays a Ctrl-C (SIGINT) received while the block runs to its end, and raises it
    there as ``KeyboardInterrupt``: around the package's import, which pydantic's schema
    building would otherwise turn into a ``SchemaError``. Only in the main thread, and only
    while SIGINT has Python's default handler (an application's own is left alone)."""
    if (
        threading.current_thread() is not threading.main_thread()
        or signal.getsignal(signal.SIGINT) is not signal.default_int_handler
    ):
        yield
        return
    received: list[int] = []
    signal.signal(signal.SIGINT, lambda signum, frame: received.append(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    if received:
        raise KeyboardInterrupt


def clear() -> None:
    """Forgets the requests (when a command has finished)."""
    _requested.clear()
