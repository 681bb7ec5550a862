"""``python -m experiments``: see ``experiments.cli``."""

import os
import sys

from experiments.cli import main

if __name__ == "__main__":  # not when a worker process imports this module
    code = main()
    if code >= 128:
        # Interrupted: the run's clean-up is done. Leave without the interpreter's teardown,
        # which can crash while JAX's runtime threads are still stopping.
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    sys.exit(code)
