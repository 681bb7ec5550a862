"""Settings for the whole test session."""

import os

# The command line turns on JAX's persistent compilation cache under the user's cache
# folder; tests (and the subprocesses they start) leave it alone.
os.environ["INFOLAB_JAX_CACHE"] = "off"
# The member store (results/.members) is off too, so no test reuses another's members;
# tests/experiments/test_store.py turns it on, in folders of its own.
os.environ["INFOLAB_MEMBER_STORE"] = "off"
