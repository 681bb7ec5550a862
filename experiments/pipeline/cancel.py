"""Cancelling a running compiled call: the trainer's loop asks the host, between blocks of
its chunks, whether to go on.

XLA cannot stop a call from outside, and a call abandoned in its thread crashed the
process as it ended (the interpreter's teardown stops that thread inside C++: "terminate
called after throwing an instance of ''", exit 134, or a segfault). So a long call stops
itself. :func:`chunks` runs the loop of :func:`experiments.pipeline.loop.train` in blocks;
after each block a ``jax.pure_callback`` (:class:`_Poll`) tells it how many chunks the
next block holds: none once a stop was requested (:func:`experiments.interrupts.requested`),
so the call returns within about ``_BLOCK_SECONDS``, and its caller
(:func:`experiments.pipeline.execute.run_group`) discards the incomplete output. Every
block runs the same compiled chunk, so the results do not depend on the blocks.

A program with a host callback is not written to JAX's persistent compilation cache, so
only a call that may be long polls (:func:`worth_polling`): many member-steps, or a
progress bar (whose callback already keeps the program out of that cache). Whether a
trace polls is set by :func:`tracing` around it.
"""

from __future__ import annotations

import contextlib
import contextvars
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from experiments import interrupts

__all__ = ["POLL_FROM_MEMBER_STEPS", "chunks", "polls", "tracing", "worth_polling"]

POLL_FROM_MEMBER_STEPS = 100_000  # a call of fewer member-steps ends soon enough unasked
_BLOCK_SECONDS = 0.1  # the time a block of chunks aims at, between two polls

_polls: contextvars.ContextVar[bool] = contextvars.ContextVar("infolab_polls", default=False)


def worth_polling(member_steps: int, progress: bool) -> bool:
    """Whether a call of ``member_steps`` (its members times their steps) should poll.

    >>> worth_polling(3 * 2_000, progress=False), worth_polling(400_000, progress=False)
    (False, True)
    """
    return progress or member_steps >= POLL_FROM_MEMBER_STEPS


@contextlib.contextmanager
def tracing(on: bool) -> Iterator[None]:
    """Loops traced inside the block poll (``on``) or not; a trace-time setting, like
    ``jax.enable_x64``: a jitted function traced under one is compiled that way."""
    token = _polls.set(on)
    try:
        yield
    finally:
        _polls.reset(token)


def polls() -> bool:
    """Whether the loops being traced poll (see :func:`tracing`)."""
    return _polls.get()


class _Poll:
    """The host function a loop calls between two blocks, with the index of its next chunk:
    it returns how many chunks the next block holds, 0 once a stop was requested.

    A loop's first block is one chunk; from the time its blocks take, the next ones are
    sized to take about ``_BLOCK_SECONDS``, growing at most fourfold from one to the next.
    It runs in XLA's thread, so it never raises; no result depends on what it returns.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._last = (0.0, -1, 0)  # the latest poll's time, chunk index and block size

    def __call__(self, index: np.ndarray) -> np.ndarray:
        if interrupts.requested():
            return np.zeros(np.shape(index), np.int32)
        now, at = time.monotonic(), int(np.max(index))
        with self._lock:
            then, was, size = self._last
            block = 1  # a loop just begun
            if at > was:  # the same loop, ``at - was`` chunks later
                seconds_per_chunk = max(now - then, 1e-9) / (at - was)
                block = max(1, int(min(_BLOCK_SECONDS / seconds_per_chunk, 4 * size, 2**30)))
            self._last = (now, at, block)
        return np.full(np.shape(index), block, np.int32)


_POLL = _Poll()  # one object: the programs that call it are compiled once


def chunks(body: Callable[[Any], Any], running: Callable[[Any], jax.Array], state: Any) -> Any:
    """``state = body(state)`` while ``running(state)``: one ``lax.while_loop``, or, when
    the trace :func:`polls`, blocks of them between which the host is asked how many chunks
    the next block holds (none: the loop ends, its state incomplete).

    ``state[2]`` is the index of the next chunk. Under ``vmap`` with a batched ``running``
    (runs that stop early), a member that stopped keeps its state either way.
    """
    if not polls():
        return jax.lax.while_loop(running, body, state)

    def ask(state: Any) -> jax.Array:
        index = state[2]
        shape = jax.ShapeDtypeStruct(jnp.shape(index), jnp.int32)
        return jax.pure_callback(_POLL, shape, index, vmap_method="broadcast_all")

    def block(outer: tuple[Any, jax.Array]) -> tuple[Any, jax.Array]:
        state, size = outer

        def more(inner: tuple[Any, jax.Array]) -> jax.Array:
            state, done = inner
            return (done < size) & running(state)

        def one(inner: tuple[Any, jax.Array]) -> tuple[Any, jax.Array]:
            state, done = inner
            return body(state), done + 1

        state, _ = jax.lax.while_loop(more, one, (state, jnp.int32(0)))
        return state, ask(state)

    def going(outer: tuple[Any, jax.Array]) -> jax.Array:
        state, size = outer
        return (size > 0) & running(state)

    return jax.lax.while_loop(going, block, (state, ask(state)))[0]
