"""Settings for the whole test session."""

import os

# The command line turns on JAX's persistent compilation cache under the user's cache
# folder; tests (and the subprocesses they start) leave it alone.
os.environ["INFOLAB_JAX_CACHE"] = "off"
