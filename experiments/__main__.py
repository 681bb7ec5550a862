"""``python -m experiments`` and the ``infolab`` command (``entry``): see ``experiments.cli``.

This is the process's entry point, and the only place that ends the process itself. Until
the command line has begun (importing it loads jax: a second), a signal is recorded, not
raised, so that it is neither lost in a garbage-collection callback nor raised in the middle
of an import; the command line then stops at once with its exit code.

An interrupted run leaves no compiled call running: the trainer's loop polls for the stop
and the call ends within about 0.1 s (:mod:`experiments.pipeline.cancel`), so the process
ends as any other, through the interpreter's teardown. Only a call that did not end when
asked (a program that does not poll, still running after a few seconds) would have that
teardown stop its thread inside XLA, which aborts the process ("terminate called after
throwing an instance of ..."); then, and only then, the process leaves with ``os._exit``
once its output is flushed. Library code, ``experiments.cli.main`` included, returns its
exit code and never ends the process.
"""

import contextlib
import os
import signal
import sys

from experiments import interrupts


def entry() -> int:
    """Runs the command line and ends the process with its exit code (the console
    script's entry point, ``infolab = "experiments.__main__:entry"``)."""
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, interrupts.record)
    # Imported here, after the handlers: the command line loads jax.
    from experiments.cli import main
    from experiments.pipeline.execute import call_running

    code = main()
    if code >= 128 and call_running():
        # A stopped call that is still running: leave without the interpreter's teardown.
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(OSError, ValueError):  # a closed pipe or stream
                stream.flush()
        os._exit(code)
    return code


if __name__ == "__main__":  # not when a worker process imports this module
    sys.exit(entry())
