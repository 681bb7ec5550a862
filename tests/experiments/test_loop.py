"""The shared trainer (:mod:`experiments.pipeline.loop`), the optimizer schema it reads
(:mod:`experiments.pipeline.optimizer`) and the data hash (:mod:`experiments.pipeline.hashing`).

- Logged steps; the freeze at the last finite parameters, and where ``diverged_at`` falls.
- A stopping rule ends the loop early; the history keeps NaN where it did not reach.
- The outcome of a diverged run under each of the two conventions.
- Every optimizer name a kind offers is implemented, and each kind's schema keeps its
  fields and defaults.
"""

from __future__ import annotations

import typing

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from experiments.kinds.classifier import newton, optim
from experiments.kinds.classifier.schema import OptimizerConfig as ClassifierOptimizer
from experiments.kinds.divergence_fit.schema import OptimizerConfig as FitOptimizer
from experiments.kinds.max_entropy.schema import OptimizerConfig as EntropyOptimizer
from experiments.pipeline import loop
from experiments.pipeline.hashing import data_sha256
from experiments.pipeline.optimizer import (
    OPTIMIZER_NAMES,
    SETTINGS,
    optimizer_config,
    optimizer_hyperparameters,
)


def test_logged_steps():
    np.testing.assert_array_equal(loop.logged_steps(30, 10), [0, 10, 20, 30])
    np.testing.assert_array_equal(loop.logged_steps(25, 10), [0, 10, 20, 25])
    np.testing.assert_array_equal(loop.logged_steps(5, 5), [0, 5])


def _doubling(blowup_at: int, *, loss_too: bool):
    """An update that doubles the parameter; at step ``blowup_at`` the new parameter is inf
    (and the loss too, with ``loss_too``)."""

    def update(params, state, step):
        bad = step == blowup_at
        new = jnp.where(bad, jnp.inf, 2.0 * params)
        value = jnp.where(bad & loss_too, jnp.nan, jnp.sum(params))
        return new, state + 1.0, value

    return update


def _train(blowup_at: int = -1, loss_too: bool = False, **settings) -> loop.Output:
    """Trains the doubling from 1, its one metric ``x`` the parameter."""
    update = _doubling(blowup_at, loss_too=loss_too)

    def evaluate(params):
        return {"train": {"x": jnp.sum(params)}}

    return loop.train(update, evaluate, jnp.ones(()), jnp.zeros(()), **settings)


@pytest.mark.parametrize(("loss_too", "next_on_overflow", "expected"), [
    (True, False, 5), (True, True, 5), (False, False, 5), (False, True, 6),
])  # fmt: skip
def test_a_non_finite_step_freezes_the_run_at_its_last_finite_values(
    loss_too, next_on_overflow, expected
):
    output = _train(5, loss_too, steps=12, log_every=4, next_on_overflow=next_on_overflow)
    assert int(output.diverged_at) == expected
    assert float(output.params) == 2.0**5 and int(output.steps_taken) == 5
    # Every entry is logged; those after the divergence hold the frozen parameters.
    np.testing.assert_array_equal(output.history["train"]["x"], [1.0, 16.0, 32.0, 32.0])
    assert int(output.logged) == 4


def test_a_stopping_rule_ends_the_loop_and_leaves_nan_where_it_did_not_reach():
    output = _train(steps=12, log_every=2, stop=lambda history, i: history["train"]["x"][i] >= 8.0)
    assert bool(output.converged) and int(output.logged) == 3 and int(output.steps_taken) == 4
    history = output.history["train"]["x"]
    np.testing.assert_array_equal(history[:3], [1.0, 4.0, 16.0])
    assert np.isnan(history[3:]).all()


def test_with_a_stopping_rule_the_loop_ends_in_the_chunk_that_diverged():
    output = _train(5, steps=12, log_every=4, stop=lambda history, i: history["train"]["x"][i] < 0)
    assert int(output.diverged_at) == 5 and not bool(output.converged)
    assert int(output.logged) == 3  # the entry at 8 holds the last finite parameters
    np.testing.assert_array_equal(output.history["train"]["x"][:3], [1.0, 16.0, 32.0])


def test_the_progress_callback_gets_the_steps_done_after_every_chunk():
    done: list[int] = []
    _train(steps=5, log_every=2, progress=lambda step: done.append(int(step)))
    jax.effects_barrier()
    assert done == [2, 4, 5]


def _diverged_output(diverged_at: int, logged: int = 4) -> loop.Output:
    history = {"train": {"x": np.array([0.0, 1.0, 2.0, 3.0], np.float32)}}
    return loop.Output(history, None, np.int32(diverged_at), np.int32(0), False, logged)


def test_a_diverged_outcome_keeps_what_its_convention_says():
    # Logged at 0, 10, 20, 25; diverged at step 15.
    before = loop.to_outcome(_diverged_output(15), 25, 10, {})
    assert before.status == "diverged" and before.diverged_at == 15
    np.testing.assert_array_equal(before.steps, [0, 10])
    np.testing.assert_array_equal(before.history["train"]["x"], [0.0, 1.0])
    last = loop.to_outcome(_diverged_output(15, logged=3), 25, 10, {}, keep_last_finite=True)
    np.testing.assert_array_equal(last.steps, [0, 10, 15])  # entry 20 holds step 15's
    np.testing.assert_array_equal(last.history["train"]["x"], [0.0, 1.0, 2.0])
    assert last.history["train"]["x"].dtype == np.float64
    ok = loop.to_outcome(_diverged_output(-1, logged=2), 25, 10, {"w": 1}, extra={"a": 1})
    assert ok.status == "ok" and ok.diverged_at is None and ok.extra == {"a": 1}
    np.testing.assert_array_equal(ok.steps, [0, 10])  # a run that stopped early


def test_every_optimizer_a_kind_offers_is_implemented():
    assert set(loop.OPTIMIZERS) <= set(OPTIMIZER_NAMES)
    classifier = set(optim.STEP_SIZES) | {"fista", "auto", *newton.SOLVERS}
    offered = {
        "classifier": (ClassifierOptimizer, classifier),
        "divergence_fit": (FitOptimizer, set(loop.OPTIMIZERS)),
        "max_entropy": (EntropyOptimizer, set(loop.OPTIMIZERS)),
    }
    for schema, implemented in offered.values():
        names = set(typing.get_args(schema.model_fields["name"].annotation))
        assert names <= implemented <= set(OPTIMIZER_NAMES)


def test_each_kind_keeps_its_optimizer_fields_and_defaults():
    # The classifier's: test_cli's test_show_prints_every_default_and_reads_back.
    assert tuple(ClassifierOptimizer.model_fields) == ("name", "learning_rate", *SETTINGS)
    assert FitOptimizer().model_dump() == {
        "name": "adam",
        "learning_rate": 0.05,
        "momentum": 0.9,
        "b1": 0.9,
        "b2": 0.999,
        "eps": 1e-08,
    }
    assert EntropyOptimizer().model_dump() == {"name": "lbfgs", "learning_rate": 1.0}
    assert optimizer_hyperparameters(ClassifierOptimizer(restart=True), "float64")["restart"] == 1.0


def test_an_optimizer_schema_names_only_known_optimizers():
    with pytest.raises(ValueError, match="not among"):
        optimizer_config("sgd", "rmsprop", default="sgd", learning_rate=1.0, doc="", module="m")
    with pytest.raises(ValueError, match="unknown settings"):
        optimizer_config(
            "sgd", default="sgd", learning_rate=1.0, settings=("nu",), doc="", module="m"
        )


def test_the_data_hash_is_the_sha256_of_the_parts_in_order():
    points = np.arange(3, dtype=np.float32)
    assert data_sha256(points, "a") == data_sha256(points.tobytes() + b"a")
    assert data_sha256(points[::-1].copy()) != data_sha256(points)
    transposed = np.arange(6, dtype=np.float32).reshape(2, 3).T  # not C-contiguous
    assert data_sha256(transposed) == data_sha256(np.ascontiguousarray(transposed))
