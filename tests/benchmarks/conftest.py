"""The benchmarks package is run from the checkout (it is not installed): put the repository
root on the import path, as ``python -m benchmarks.X`` run there does."""

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))
