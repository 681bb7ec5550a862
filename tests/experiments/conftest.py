"""Run folders shared by the report and export tests (made once per session)."""

from __future__ import annotations

import pytest

import experiments

# The shapes of test_api's sweep, so that one session compiles its programs once.
REPORTED = {
    "name": "reported",
    "data": {"n_samples": 120, "n_features": 4, "n_informative": 2},
    "train": {"steps": 20, "log_every": 10},
    "variants": [
        {"name": "mle"},
        {"name": "ridge", "train": {"prior": {"kind": "gaussian", "scale": 0.3}}},
    ],
    "output": {"formats": ["png"]},
    "sweep": {"seed": [0, 1], "train.optimizer.learning_rate": [0.1, 1.0]},
}


@pytest.fixture(scope="session")
def figured_run(tmp_path_factory) -> experiments.Run:
    """A swept run with a figure (the learning-rate sweep's)."""
    run = experiments.run(REPORTED, out=tmp_path_factory.mktemp("reported") / "run")
    assert run.figures(), "the fixture's run should draw a figure"
    return run
