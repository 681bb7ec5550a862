"""``python -m experiments`` and the ``infolab`` command (``entry``): see ``experiments.cli``.

This is the process's entry point, and the only place that ends the process itself. After
an interrupt (an exit code of 128 or more) the run's clean-up is done, but a compiled call
that was abandoned may still be running in a helper thread, inside XLA. The interpreter's
teardown would then stop that thread in the middle of C++ code ("terminate called after
throwing an instance of ...", exit 134, or a segfault), so the process leaves with
``os._exit`` once its output is flushed. Library code, ``experiments.cli.main`` included,
returns its exit code and never ends the process.
"""

import contextlib
import os
import sys

from experiments.cli import main


def entry() -> int:
    """Runs the command line and ends the process with its exit code (the console
    script's entry point, ``infolab = "experiments.__main__:entry"``)."""
    code = main()
    if code >= 128:
        # Interrupted: leave without the interpreter's teardown, which can crash while an
        # abandoned compiled call is still running in its thread.
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(OSError, ValueError):  # a closed pipe or stream
                stream.flush()
        os._exit(code)
    return code


if __name__ == "__main__":  # not when a worker process imports this module
    sys.exit(entry())
