"""Sweeps: grid expansion, validation of members, and one vectorised program per variant."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from experiments import grid, sweep, train
from experiments.config import RunSpec, validate_config
from experiments.data import load_dataset


def _variants(raw: dict) -> list[RunSpec]:
    return validate_config(raw).runs()


BASE = {
    "name": "sweep_test",
    "data": {"source": "synthetic", "n_samples": 120, "n_features": 6, "n_informative": 2},
    "train": {
        "loss": "ce",
        "optimizer": {"name": "sgd", "learning_rate": 0.5},
        "steps": 40,
        "log_every": 10,
    },
    "variants": [
        {"name": "gaussian", "train": {"prior": {"kind": "gaussian", "scale": 1.0}}},
        {"name": "laplace", "train": {"prior": {"kind": "laplace", "scale": 0.1}}},
    ],
}


def test_grid_is_the_product_with_the_last_axis_fastest():
    points = grid.grid_points({"a": [1, 2], "b": {"linspace": [0, 1, 3]}})
    assert points == [
        {"a": 1, "b": 0.0},
        {"a": 1, "b": 0.5},
        {"a": 1, "b": 1.0},
        {"a": 2, "b": 0.0},
        {"a": 2, "b": 0.5},
        {"a": 2, "b": 1.0},
    ]


def test_logspace_takes_exponents_of_ten():
    np.testing.assert_allclose(
        grid.axis_values("k", {"logspace": [-3, 1, 5]}), 10.0 ** np.arange(-3, 2)
    )


def test_zip_pairs_axes_instead_of_multiplying_them():
    points = grid.grid_points(
        {"lr": [0.1, 1.0], "steps": [10, 20], "seed": [0, 1], "zip": [["lr", "steps"]]}
    )
    assert len(points) == 4
    assert {(p["lr"], p["steps"]) for p in points} == {(0.1, 10), (1.0, 20)}


@pytest.mark.parametrize(
    ("block", "fragment"),
    [
        ({"a": []}, "sweep.a: an empty list"),
        ({"a": {"logspace": [0, 1]}}, "sweep.a.logspace: expected [start, stop, count]"),
        ({"a": {"geomspace": [1, 2, 3]}}, "sweep.a: expected a list of values"),
        ({"a": [1, 2], "b": [1], "zip": [["a", "b"]]}, "equal lengths: a has 2, b has 1"),
        ({"a": [1], "zip": [["a", "c"]]}, "'c' has no values"),
    ],
)
def test_bad_sweep_blocks_name_the_key(block, fragment):
    with pytest.raises(grid.SweepError) as caught:
        grid.grid_points(block)
    assert fragment in str(caught.value)


def test_each_member_is_validated_and_the_swept_value_is_named():
    with pytest.raises(grid.SweepError) as caught:
        grid.expand_members(_variants(BASE), {"train.optimizer.learning_rate": [0.1, -1.0]})
    message = str(caught.value)
    assert "sweep.train.optimizer.learning_rate = -1.0" in message
    assert "0.1" not in message.replace("-1.0", "")


def test_unknown_swept_key_is_an_error():
    with pytest.raises(grid.SweepError, match=r"train\.optimiser"):
        grid.expand_members(_variants(BASE), {"train.optimiser.learning_rate": [0.1]})


@pytest.fixture(scope="module")
def members():
    block = {"train.prior.scale": {"logspace": [-2, 0, 3]}, "seed": [0, 1]}
    return grid.expand_members(_variants(BASE), block)


@pytest.fixture(scope="module")
def swept(members):
    """The sweep's results, and the static configurations traced while compiling it."""
    traces = []
    make = train.make_run_fn

    def counting(static):
        run = make(static)

        def traced(*args):
            traces.append(static.prior)
            return run(*args)

        return traced

    sweep._compiled_sweep.cache_clear()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(train, "make_run_fn", counting)
        results, data = _run(members)
    sweep._compiled_sweep.cache_clear()
    return results, data, traces


def _run(members, variants=("gaussian", "laplace"), **kwargs):
    data = load_dataset(members[0].spec.data, 0, Path("."))
    results = []
    for variant in variants:
        group = [m.spec for m in members if m.variant == variant]
        static = train.run_static(group[0], data)
        results += sweep.run_group(static, group, data, **kwargs)
    return results, data


def test_a_sweep_compiles_once_per_variant_whatever_its_size(swept):
    _, _, traces = swept
    assert sorted(traces) == ["gaussian", "laplace"]


def test_sweep_members_equal_their_runs_one_by_one(members, swept):
    results, data, _ = swept
    assert len(results) == len(members) == 12
    for member, result in zip(members, results, strict=True):
        alone = train.train_run(member.spec, data)
        np.testing.assert_allclose(result.weights, alone.weights, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(
            result.history["train"]["ce"], alone.history["train"]["ce"], rtol=1e-5
        )


def test_a_small_memory_budget_splits_the_sweep_into_chunks_with_the_same_result(members, swept):
    whole, _, _ = swept
    chunks = []
    chunked, _ = _run(members, ("laplace",), budget=1, on_chunk=chunks.append)
    assert chunks == [1] * 6
    for a, b in zip(whole[6:], chunked, strict=True):
        # One member per call is a matrix-vector product, many a matrix product: float32
        # rounding differs (seen: 6e-8 absolute).
        np.testing.assert_allclose(a.weights, b.weights, rtol=1e-5, atol=1e-6)


def test_a_diverged_member_does_not_cost_the_sweep():
    block = {"train.optimizer.learning_rate": [0.5, 3e38]}
    members = grid.expand_members(_variants({**BASE, "variants": [{"name": "mle"}]}), block)
    results, _ = _run_one(members)
    assert [r.status for r in results] == ["ok", "diverged"]
    assert results[1].diverged_at is not None
    assert np.all(np.isfinite(results[0].weights))


def _run_one(members):
    data = load_dataset(members[0].spec.data, 0, Path("."))
    static = train.run_static(members[0].spec, data)
    return sweep.run_group(static, [m.spec for m in members], data), data


def test_a_sweep_of_4096_members_over_breast_cancer_runs_here():
    raw = {
        "name": "wide",
        "data": {"source": "sklearn", "name": "breast_cancer"},
        "train": {
            "prior": {"kind": "laplace", "scale": 1.0},
            "optimizer": {"name": "fista", "learning_rate": 0.1},
            "steps": 20,
            "log_every": 10,
        },
    }
    members = grid.expand_members(
        _variants(raw), {"train.prior.scale": {"logspace": [-3, 1, 4096]}}
    )
    data = load_dataset(members[0].spec.data, 0, Path("."))
    results = sweep.run_members([m.spec for m in members], [data] * len(members))
    assert len(results) == 4096 and all(r.status == "ok" for r in results)
    zeros = [int(np.sum(r.weights == 0)) for r in (results[0], results[-1])]
    assert zeros[0] == 30 and zeros[1] < 30  # the strongest L1 penalty zeroes every weight
