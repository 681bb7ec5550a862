"""max_entropy: its config (constraints that no distribution meets are refused, naming the
field), and its solutions against independent float64 solves (scipy) and closed forms.

The shipped config is run once through the pipeline: its four variants (no constraint,
mean, mean and variance, mean absolute deviation) are one compiled program.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import yaml
from scipy import optimize

from experiments import cli
from experiments.config import ConfigError
from experiments.kinds import load_config, validate_config
from experiments.kinds.max_entropy.program import PROGRAM
from experiments.kinds.max_entropy.schema import bounds
from experiments.pipeline import run as runner

ROOT = Path(__file__).resolve().parents[3]
CONFIG = ROOT / "configs" / "max_entropy.yaml"
K = np.arange(11.0)
BASE = {"name": "me", "kind": "max_entropy", "support": list(range(11))}


def _problems(constraints: dict, **changes) -> list[str]:
    with pytest.raises(ConfigError) as error:
        validate_config({**BASE, "constraints": constraints, **changes})
    return error.value.problems


@pytest.mark.parametrize(
    ("constraints", "expected"),
    [
        (
            {"mean": 11.0},
            "constraints.mean: no distribution on the support has mean 11: it must lie "
            "strictly between 0 and 10",
        ),
        (
            {"mean": 0.0},
            "constraints.mean: no distribution on the support has mean 0: it must lie "
            "strictly between 0 and 10",
        ),
        (
            {"mean": 5.0, "variance": 25.0},
            "constraints.variance: no distribution on the support with mean 5 has variance "
            "25: it must lie strictly between 0 and 25",
        ),
        (
            {"mean": 2.5, "variance": 0.2},
            "constraints.variance: no distribution on the support with mean 2.5 has variance "
            "0.2: it must lie strictly between 0.25 and 18.75",
        ),
        (
            {"mean_abs_deviation": 5.0, "centre": 5.0},
            "constraints.mean_abs_deviation: no distribution on the support has "
            "mean_abs_deviation 5: it must lie strictly between 0 and 5",
        ),
        (
            {"variance": 2.0},
            "constraints.variance: needs constraints.mean (the variance is about it)",
        ),
        (
            {"mean_abs_deviation": 1.0},
            "constraints.centre: needs constraints.centre (or constraints.mean, its default)",
        ),
        ({"variance": -1.0, "mean": 5.0}, "constraints.variance: must be > 0, got -1.0"),
    ],
)
def test_constraints_no_distribution_meets_are_refused(constraints, expected):
    assert expected in _problems(constraints)


def test_support_must_increase_and_centre_defaults_to_the_mean():
    assert _problems({}, support=[0, 2, 1]) == [
        "support: must be strictly increasing (each point once, in order)"
    ]
    spec = validate_config({**BASE, "constraints": {"mean": 4.0, "mean_abs_deviation": 2.0}})
    assert spec.members[0].spec.constraints.centre == 4.0


def test_mean_11_exits_2_naming_the_field(tmp_path, capsys):
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump({**BASE, "constraints": {"mean": 11.0}}))
    assert cli.main(["validate", str(path)]) == 2
    err = capsys.readouterr().err
    assert "constraints.mean: no distribution on the support has mean 11" in err


@pytest.mark.parametrize("mean", [0.3, 2.5, 7.0, 9.99])
def test_the_feasible_interval_is_the_linear_programs(mean):
    # min and max of E[g] over distributions on the support with E[x] = mean, by scipy's LP.
    support = [0.0, 0.5, 2.0, 3.0, 7.5, 10.0]
    x = np.array(support)
    for g in (lambda t: (t - mean) ** 2, lambda t: abs(t - 4.0)):
        cost = np.array([g(t) for t in x])
        constraints = {"A_eq": np.stack([np.ones_like(x), x]), "b_eq": [1.0, mean]}
        low = optimize.linprog(cost, **constraints).fun
        high = -optimize.linprog(-cost, **constraints).fun
        np.testing.assert_allclose(bounds(support, g, mean), (low, high), atol=1e-9)


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    out = tmp_path_factory.mktemp("me") / "run"
    run_dir = runner.run(load_config(CONFIG, ["output.formats=[png]"]), out=out)
    runs = json.loads((run_dir / "summary.json").read_text())["runs"]
    return run_dir, {r["variant"]: r for r in runs}


def _gibbs(lam: float, features: np.ndarray) -> np.ndarray:
    logits = features @ np.atleast_1d(lam)
    p = np.exp(logits - logits.max())
    return p / p.sum()


def test_no_constraint_is_uniform(run):
    none = run[1]["none"]
    np.testing.assert_allclose(none["params"]["probabilities"], np.full(11, 1 / 11), atol=1e-7)
    assert none["final"]["train"]["entropy"] == pytest.approx(math.log(11), abs=1e-6)
    # With no centre and no mean set, the mean absolute deviation is about p's own mean
    # (5): 30/11 = 2.727 for the uniform on 0..10, not 5.0 (about 0).
    assert round(none["final"]["train"]["mean_abs_deviation"], 3) == 2.727
    # A mean alone: about that mean.
    mean = run[1]["mean"]
    p, k = np.array(mean["params"]["probabilities"]), np.arange(11)
    assert mean["final"]["train"]["mean_abs_deviation"] == pytest.approx(p @ abs(k - 3), abs=1e-5)


def test_a_mean_gives_the_gibbs_distribution(run):
    # λ of p_k ∝ exp(λk) with Σ k p_k = 3, by brentq in float64.
    lam = optimize.brentq(lambda t: _gibbs(t, K[:, None]) @ K - 3.0, -5.0, 5.0, xtol=1e-14)
    got = run[1]["mean"]["params"]
    np.testing.assert_allclose(got["probabilities"], _gibbs(lam, K[:, None]), atol=1e-6)
    assert got["lambda_mean"] == pytest.approx(lam, abs=1e-5)


def test_mean_and_variance_give_a_discrete_gaussian(run):
    # The float64 dual over (x, (x − 5)²) minimised by scipy's BFGS: an independent solve.
    features = np.stack([K - 5.0, (K - 5.0) ** 2 - 2.0], axis=1)
    lam = optimize.minimize(
        lambda t: np.log(np.sum(np.exp(features @ t))), np.zeros(2), method="BFGS", tol=1e-12
    ).x
    got = run[1]["mean_variance"]["params"]
    np.testing.assert_allclose(got["probabilities"], _gibbs(lam, features), atol=1e-6)
    p = np.asarray(got["probabilities"])
    assert p @ K == pytest.approx(5.0, abs=1e-5) and p @ (K - 5) ** 2 == pytest.approx(
        2.0, abs=1e-5
    )


def test_mean_absolute_deviation_gives_a_discrete_laplace(run):
    distance = np.abs(K - 5.0)
    lam = optimize.brentq(lambda t: _gibbs(t, distance[:, None]) @ distance - 1.5, -5, 5)
    got = run[1]["mean_abs_deviation"]["params"]
    np.testing.assert_allclose(got["probabilities"], _gibbs(lam, distance[:, None]), atol=1e-6)
    assert got["lambda_mean_abs_deviation"] == pytest.approx(lam, abs=1e-5)


def test_no_feasible_perturbation_has_more_entropy(run):
    # Moving p along a direction that keeps Σp, E[x] and E[(x − 5)²] lowers the entropy.
    p = np.asarray(run[1]["mean_variance"]["params"]["probabilities"], np.float64)
    rows = np.stack([np.ones(11), K, (K - 5.0) ** 2])
    null = np.linalg.svd(rows)[2][3:]  # the directions orthogonal to the constraints
    entropy = lambda q: -np.sum(q * np.log(q))  # noqa: E731
    for direction in null:
        step = 1e-3 * direction / np.max(np.abs(direction)) * np.min(p)
        assert entropy(p + step) < entropy(p) and entropy(p - step) < entropy(p)


def test_one_program_for_every_constraint_set_and_files(run):
    swept = load_config(
        CONFIG, ["variants=[{name: gibbs}]", "sweep={constraints.mean: [2.0, 3.0, 7.5]}"]
    )
    specs = [m.spec for m in [*load_config(CONFIG).members, *swept.members]]
    data = PROGRAM.load_data(specs[0], ROOT)
    assert len({PROGRAM.program_key(spec, data) for spec in specs}) == 1
    run_dir = run[0]
    names = {p.name for p in (run_dir / "figures").iterdir()}
    assert names == {"solutions.png", "log_probabilities.png", "convergence.png"}
    rerun = load_config(run_dir / "config.yaml", ["output.formats=[]"])
    again = runner.run(rerun, out=run_dir.parent / "again")
    assert (again / "summary.json").read_bytes() == (run_dir / "summary.json").read_bytes()


def test_a_learning_rate_far_too_large_is_reported_diverged(tmp_path, capsys):
    # Issue 26: sgd at 1e30 threw λ to a corner, p a point mass meeting no constraint
    # (constraint error 3), and the run said "ok". Its dual ends far above log 11.
    out = tmp_path / "run"
    overrides = ["--set", "train.optimizer.name=sgd", "--set", "train.optimizer.learning_rate=1e30"]
    argv = ["run", str(CONFIG), *overrides, "--set", "output.formats=[]", "--out", str(out)]
    assert cli.main(argv) == 0
    assert "mean: diverged at 1," in capsys.readouterr().err
    runs = {r["variant"]: r for r in json.loads((out / "summary.json").read_text())["runs"]}
    assert runs["none"]["status"] == "ok"  # no constraint: the gradient is 0, λ stays 0
    for variant in ("mean", "mean_variance", "mean_abs_deviation"):
        assert (runs[variant]["status"], runs[variant]["diverged_at"]) == ("diverged", 1)


def test_a_solved_run_is_ok_and_its_dual_never_rises(run):
    for entry in run[1].values():
        assert entry["status"] == "ok"
