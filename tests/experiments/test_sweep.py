"""Sweeps: grid expansion, validation of members, and one vectorised program per group."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from experiments.api import read_record
from experiments.config import ConfigError
from experiments.config.sweep import axis_values, parse_sweep
from experiments.config.yamlio import parse_yaml
from experiments.kinds import validate_config
from experiments.kinds.classifier.program import PROGRAM
from experiments.pipeline import execute
from experiments.pipeline import plan as planner
from experiments.pipeline import run as runner
from experiments.pipeline.loop import run_member

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
    "output": {"formats": []},
}


def test_grid_is_the_product_with_the_last_axis_fastest():
    points = parse_sweep({"a": [1, 2], "b": {"linspace": [0, 1, 3]}}).points()
    assert points == [
        {"a": 1, "b": 0.0},
        {"a": 1, "b": 0.5},
        {"a": 1, "b": 1.0},
        {"a": 2, "b": 0.0},
        {"a": 2, "b": 0.5},
        {"a": 2, "b": 1.0},
    ]


def test_logspace_takes_exponents_of_ten():
    np.testing.assert_allclose(axis_values("k", {"logspace": [-3, 1, 5]}), 10.0 ** np.arange(-3, 2))


def test_zip_pairs_axes_instead_of_multiplying_them():
    points = parse_sweep(
        {"lr": [0.1, 1.0], "steps": [10, 20], "seed": [0, 1], "zip": [["lr", "steps"]]}
    ).points()
    assert len(points) == 4
    assert {(p["lr"], p["steps"]) for p in points} == {(0.1, 10), (1.0, 20)}


def test_swept_numbers_in_exponent_form_are_numbers_and_quoted_ones_are_refused():
    # YAML 1.1 reads 1e-3 as the string "1e-3"; the loader reads it as YAML 1.2 does.
    sweep = parse_yaml("train.prior.scale: [1e-3, 0.5]")
    assert parse_sweep(sweep).axes["train.prior.scale"] == (0.001, 0.5)
    found = _problems({"train.prior.scale": ["0.5"]})
    assert found[0].startswith("sweep.train.prior.scale = '0.5': expected a number"), found


def _problems(sweep: dict) -> list[str]:
    with pytest.raises(ConfigError) as error:
        validate_config({**BASE, "sweep": sweep})
    return error.value.problems


@pytest.mark.parametrize(
    ("sweep", "expected"),
    [
        # A union key (the prior's scale) names the key and value, not pydantic's text.
        ({"train.prior.scale": [0.5, -0.5]}, "sweep.train.prior.scale = -0.5: must be > 0"),
        ({"train.prior.scale": [float("nan")]}, "sweep.train.prior.scale = nan: must be a finite"),
        (
            {"train.optimizer.lr": [0.1]},
            "sweep.train.optimizer.lr = 0.1: unknown key (allowed: name, learning_rate",
        ),
        ({"seed": []}, "sweep.seed: an empty list; give at least one value"),
        ({"seed": {"range": [0, 3]}}, "sweep.seed: expected a list of values"),
        ({"seed": {"linspace": [0, 1]}}, "sweep.seed.linspace: expected [start, stop, count]"),
        ({"a": [1], "zip": [["a", "b"]]}, "sweep.zip: 'b' has no values"),
    ],
)
def test_bad_sweeps_name_the_key_the_value_and_what_is_allowed(sweep, expected):
    found = _problems(sweep)
    assert any(line.startswith(expected) for line in found), found
    assert not any("Input should" in line or "Extra inputs" in line for line in found), found


@pytest.fixture(scope="module")
def members():
    block = {"train.prior.scale": {"logspace": [-2, 0, 3]}, "seed": [0, 1]}
    return validate_config({**BASE, "sweep": block}).members


def _traced_member_fn(traces: list):
    """PROGRAM.member_fn, recording the key of every program it is traced for."""
    make = PROGRAM.member_fn

    def counting(key, progress):
        member = make(key, progress)

        def traced(*args):
            traces.append(key)
            return member(*args)

        return traced

    return counting


def _run(members, **kwargs):
    specs = [m.spec for m in members]
    data = PROGRAM.load_data(specs[0], Path("."))
    return execute.run_members(PROGRAM, specs, [data] * len(specs), **kwargs).outcomes, data


@pytest.fixture(scope="module")
def swept(members):
    """The sweep's outcomes, its data, the program keys traced while compiling it, and its
    execution record (times)."""
    traces = []
    specs = [m.spec for m in members]
    data = PROGRAM.load_data(specs[0], Path("."))
    execute._compiled.cache_clear()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(PROGRAM, "member_fn", _traced_member_fn(traces))
        executed = execute.run_members(PROGRAM, specs, [data] * len(specs))
    execute._compiled.cache_clear()
    return executed.outcomes, data, traces, executed


def test_a_sweep_times_compiling_apart_from_running(swept):
    executed = swept[3]
    # The members' variants, as the plan of the fixture's config has them (one group each).
    block = {"train.prior.scale": {"logspace": [-2, 0, 3]}, "seed": [0, 1]}
    the_plan = planner.plan(validate_config({**BASE, "sweep": block}), Path("."))
    compiling = runner.compile_seconds(the_plan, executed)
    running = runner.train_seconds(the_plan, executed)
    walls = {the_plan.members[g.members[0]].variant: s for g, s in executed.seconds}
    assert len(executed.seconds) == 2 and set(compiling) == set(running) == set(walls)
    for variant in walls:  # each variant's program was compiled afresh in the fixture
        assert 0 < compiling[variant] < walls[variant]
        assert running[variant] == pytest.approx(walls[variant] - compiling[variant], abs=2e-3)


def test_a_sweep_compiles_once_per_variant_whatever_its_size(swept):
    traces = swept[2]
    assert sorted(key.static.prior for key in traces) == ["gaussian", "laplace"]


def test_sweep_members_equal_their_runs_one_by_one(members, swept):
    outcomes, data, *_ = swept
    assert len(outcomes) == len(members) == 12
    for member, outcome in zip(members, outcomes, strict=True):
        alone = run_member(PROGRAM, member.spec, data)
        np.testing.assert_allclose(
            outcome.params["weights"], alone.params["weights"], rtol=1e-5, atol=1e-6
        )
        np.testing.assert_allclose(
            outcome.history["train"]["ce"], alone.history["train"]["ce"], rtol=1e-5
        )


def test_a_small_memory_budget_splits_the_sweep_into_chunks_with_the_same_result(members, swept):
    whole, *_ = swept
    chunks = []
    laplace = [m for m in members if m.variant == "laplace"]
    chunked, _ = _run(laplace, budget=1, on_chunk=lambda count, steps: chunks.append(count))
    assert chunks == [1] * 6
    for a, b in zip(whole[6:], chunked, strict=True):
        # One member per call is a matrix-vector product, many a matrix product: float32
        # rounding differs (seen: 6e-8 absolute).
        np.testing.assert_allclose(a.params["weights"], b.params["weights"], rtol=1e-5, atol=1e-6)


def test_a_diverged_member_does_not_cost_the_sweep():
    block = {"train.optimizer.learning_rate": [0.5, 3e38]}
    config = validate_config({**BASE, "variants": [{"name": "mle"}], "sweep": block})
    outcomes, _ = _run(config.members)
    assert [o.status for o in outcomes] == ["ok", "diverged"]
    assert outcomes[1].diverged_at is not None
    assert np.all(np.isfinite(outcomes[0].params["weights"]))


@pytest.mark.slow
def test_a_data_shape_sweep_compiles_once_per_shape_and_each_member_is_its_run(tmp_path):
    block = {"data.n_samples": [100, 200], "train.prior.scale": [0.1, 1.0]}
    raw = {**BASE, "variants": [BASE["variants"][0]], "sweep": block}
    config = validate_config(raw)
    traces = []
    execute._compiled.cache_clear()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(PROGRAM, "member_fn", _traced_member_fn(traces))
        the_plan = planner.plan(config, tmp_path)
        executed = runner.execute(the_plan)
    execute._compiled.cache_clear()
    assert sorted(key.train_shape[0] for key in traces) == [75, 150]  # 3/4 of each size trains
    assert [len(g.members) for g in the_plan.groups] == [2, 2]
    for member, data in zip(the_plan.members, the_plan.datasets, strict=True):
        assert len(data.y_train) == member.spec.data.n_samples * 3 // 4
    for index in (0, 3):  # one member of each shape, against its run alone
        member, data = the_plan.members[index], the_plan.datasets[index]
        alone = run_member(PROGRAM, member.spec, data)
        np.testing.assert_allclose(
            executed.outcomes[index].params["weights"],
            alone.params["weights"],
            rtol=1e-5,
            atol=1e-6,
        )


@pytest.mark.slow
def test_a_swept_seed_changes_init_minibatches_and_data_member_by_member(tmp_path):
    # Normal init, minibatches and a data draw that follows the seed: each of the three
    # depends on the member's own seed, so a member trained with another's seed differs.
    raw = {
        **BASE,
        "model": {"init": {"kind": "normal", "scale": 0.5}},
        "train": {**BASE["train"], "batch_size": 16},
        "variants": [{"name": "mle"}],
        "sweep": {"seed": [0, 1, 2]},
    }
    the_plan = planner.plan(validate_config(raw), tmp_path)
    executed = runner.execute(the_plan)
    assert len({data.sha256 for data in the_plan.datasets}) == 3  # a data draw per seed
    singles = [
        run_member(PROGRAM, m.spec, data)
        for m, data in zip(the_plan.members, the_plan.datasets, strict=True)
    ]
    for i, outcome in enumerate(executed.outcomes):
        for j, single in enumerate(singles):
            same = np.allclose(
                outcome.params["weights"], single.params["weights"], rtol=1e-5, atol=1e-6
            )
            assert same == (i == j), (i, j)
    # With the data fixed, the init and the minibatch order still follow the seed.
    fixed = {**raw, "data": {**BASE["data"], "seed": 7}}
    the_plan = planner.plan(validate_config(fixed), tmp_path)
    assert len({id(data) for data in the_plan.datasets}) == 1
    weights = [o.params["weights"] for o in runner.execute(the_plan).outcomes]
    assert not np.allclose(weights[0], weights[1]) and not np.allclose(weights[1], weights[2])
    zeros = {**fixed, "model": {"init": {"kind": "zeros"}}}
    weights_zero_init = [
        o.params["weights"]
        for o in runner.execute(planner.plan(validate_config(zeros), tmp_path)).outcomes
    ]
    assert not np.allclose(weights_zero_init[0], weights_zero_init[1])  # the order alone


def test_the_lr_sweep_figure_is_drawn_from_a_small_sweep(tmp_path):
    raw = {
        **BASE,
        "variants": [{"name": "ce"}, {"name": "mse", "train": {"loss": "mse"}}],
        "sweep": {"train.optimizer.learning_rate": [0.05, 0.5, 5.0], "seed": [0, 1]},
        "output": {"formats": ["png"]},
    }
    run_dir = runner.run(validate_config(raw), out=tmp_path / "run")
    assert (run_dir / "figures" / "lr_sweep.png").is_file()
    manifest = json.loads((run_dir / "manifest.json").read_text())
    for times in (manifest["compile_time_s"], manifest["train_time_s"]):
        assert set(times) == {"ce", "mse"} and min(times.values()) >= 0
    record = read_record(run_dir)
    assert record.swept and sorted(record.history) == list(range(12))
    steps, values = record.history[0]["train"]["ce"]
    np.testing.assert_array_equal(steps, [0, 10, 20, 30, 40])
    assert values[-1] < values[0]
    from experiments.kinds.classifier import path_figures

    figure = path_figures.figures(record)["lr_sweep"]()
    final_ce = figure.axes[0]
    lines = {line.get_label(): line for line in final_ce.get_lines()}
    assert set(lines) == {"ce", "mse"}
    np.testing.assert_allclose(lines["ce"].get_xdata(), [0.05, 0.5, 5.0])
    # The mean over the two seeds of each member's final train CE.
    finals = [r["final"]["train"]["ce"] for r in record.runs if r["variant"] == "ce"]
    np.testing.assert_allclose(lines["ce"].get_ydata(), np.mean(np.reshape(finals, (3, 2)), 1))
    assert [ax.get_title() for ax in figure.axes[3:6]] == [
        "learning rate 0.05",
        "learning rate 0.5",
        "learning rate 5",
    ]


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
        "sweep": {"train.prior.scale": {"logspace": [-3, 1, 4096]}},
    }
    outcomes, _ = _run(validate_config(raw).members)
    assert len(outcomes) == 4096 and all(o.status == "ok" for o in outcomes)
    zeros = [int(np.sum(o.params["weights"] == 0)) for o in (outcomes[0], outcomes[-1])]
    assert zeros[0] == 30 and zeros[1] < 30  # the strongest L1 penalty zeroes every weight
