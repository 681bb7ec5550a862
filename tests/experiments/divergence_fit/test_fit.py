"""divergence_fit end to end and its numerics, against independent float64 references.

Few programs are compiled: the shipped kl_direction config (forward and reverse KL on the
1-D mixture) is run once through the pipeline, and the other tests reuse its compiled
programs (same program keys) where they can.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import optimize, stats

import infolib
from experiments.kinds import load_config, validate_config
from experiments.kinds.divergence_fit import grid, objective
from experiments.kinds.divergence_fit.program import PROGRAM
from experiments.pipeline import execute
from experiments.pipeline import run as runner
from experiments.pipeline.loop import run_member

ROOT = Path(__file__).resolve().parents[3]
SQRT10 = math.sqrt(10.0)


def _p(x):
    return 0.5 * stats.norm.pdf(x, -3, 1) + 0.5 * stats.norm.pdf(x, 3, 1)


@pytest.fixture(scope="module")
def kl_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("kl") / "run"
    config = load_config(ROOT / "configs" / "kl_direction.yaml", ["output.formats=[png]"])
    return runner.run(config, out=out)


def _summary(run_dir: Path) -> dict:
    return {r["variant"]: r for r in json.loads((run_dir / "summary.json").read_text())["runs"]}


def test_forward_kl_lands_on_moment_matching(kl_run):
    forward = _summary(kl_run)["forward"]["params"]
    assert set(forward) == {"mean", "std"}
    assert abs(forward["mean"] - 0.0) < 1e-3 and abs(forward["std"] - SQRT10) < 1e-3


def _dense_reverse_kl(theta) -> float:
    """∫ q log(q/p) in float64 on 40,001 points over ±40: a grid of its own (the kind's has
    201 points, in float32)."""
    m, log_s = theta
    x = np.linspace(-40, 40, 40001)
    log_q = stats.norm.logpdf(x, m, math.exp(log_s))
    log_p = np.logaddexp(stats.norm.logpdf(x, -3, 1), stats.norm.logpdf(x, 3, 1)) + math.log(0.5)
    return float(np.sum(np.exp(log_q) * (log_q - log_p)) * (x[1] - x[0]))


@pytest.mark.parametrize("variant", ["reverse", "reverse_broad"])
def test_reverse_kl_ends_at_a_local_optimum_of_the_true_integral(kl_run, variant):
    reverse_run = _summary(kl_run)[variant]
    got = reverse_run["params"]
    ref = optimize.minimize(_dense_reverse_kl, [got["mean"] + 0.1, math.log(got["std"]) + 0.05])
    assert abs(got["mean"] - ref.x[0]) < 1e-3 and abs(got["std"] - math.exp(ref.x[1])) < 1e-3
    assert abs(reverse_run["final"]["train"]["reverse_kl"] - ref.fun) < 1e-5


def test_the_headline_reverse_fit_locks_onto_a_mode_as_nelder_mead_does(kl_run):
    # From mean 2 (std 1), Adam and a float64 Nelder-Mead both end on the mode at +3:
    # N(2.984, 1.023^2), D(q||p) = 0.689 nats. From mean 1 Adam stops at the broad optimum
    # between the modes, N(0, 2.744^2), D = 0.841 (the figure's third curve).
    runs = _summary(kl_run)
    mode = optimize.minimize(_dense_reverse_kl, [2.0, 0.0], method="Nelder-Mead",
                             options={"xatol": 1e-8, "fatol": 1e-10})  # fmt: skip
    got = runs["reverse"]["params"]
    assert (round(got["mean"], 3), round(got["std"], 3)) == (2.984, 1.023)
    assert abs(got["mean"] - mode.x[0]) < 1e-3 and abs(got["std"] - math.exp(mode.x[1])) < 1e-3
    assert round(runs["reverse"]["final"]["train"]["reverse_kl"], 3) == round(mode.fun, 3) == 0.689
    broad = runs["reverse_broad"]
    assert abs(broad["params"]["mean"]) < 1e-3 and round(broad["params"]["std"], 3) == 2.744
    assert round(broad["final"]["train"]["reverse_kl"], 3) == 0.841


def test_reverse_kl_starts_pick_their_optimum_in_one_program(kl_run):
    # Numbers are traced: every start has the program key of the run above, so the
    # one-member program compiled there is reused.
    config = validate_config(
        {
            **load_config(ROOT / "configs" / "kl_direction.yaml").model_dump(mode="json"),
            "variants": [{"name": "reverse", "train": {"divergence": "reverse_kl"}}],
            "sweep": {"fit.mean": [-4.0, 2.0, 4.0], "train.optimizer.learning_rate": [0.05]},
        }
    )
    specs = [m.spec for m in config.members]
    data = PROGRAM.load_data(specs[0], ROOT)
    reference = load_config(ROOT / "configs" / "kl_direction.yaml").members[1].spec
    assert {PROGRAM.program_key(s, data) for s in specs} == {PROGRAM.program_key(reference, data)}
    assert [float(PROGRAM.hyperparameters(s)["init_mean"][0]) for s in specs] == [-4, 2, 4]
    means = [
        float(execute.run_members(PROGRAM, [s], [data]).outcomes[0].params["mean"]) for s in specs
    ]
    ref = optimize.minimize(_dense_reverse_kl, [3.0, 0.0]).x[0]
    np.testing.assert_allclose(means, [-ref, ref, ref], atol=1e-3)


def test_reruns_are_byte_identical(kl_run, tmp_path):
    again = runner.run(
        load_config(kl_run / "config.yaml", ["output.formats=[]"]), out=tmp_path / "again"
    )
    for name in ("summary.json", "metrics.csv", "data.json"):
        assert (again / name).read_bytes() == (kl_run / name).read_bytes(), name


def test_the_history_logs_every_divergence_and_the_parameters(kl_run):
    rows = (kl_run / "metrics.csv").read_text().splitlines()
    assert rows[0] == "variant,step,split,metric,value"
    metrics = {row.split(",")[3] for row in rows[1:]}
    assert metrics == {
        "divergence",
        "forward_kl",
        "reverse_kl",
        "js",
        "cross_entropy",
        "mean",
        "std",
    }
    steps = sorted({int(row.split(",")[1]) for row in rows[1:]})
    assert steps == list(range(0, 4001, 40))
    assert {p.name for p in (kl_run / "figures").iterdir()} == {"fit.png", "divergence.png"}


def test_the_grid_divergences_match_a_float64_reference():
    # Every divergence of q = N(0.5, 2²) from the mixture, on the kind's 201-point float32
    # grid, against float64 sums on 60,001 points.
    spec = load_config(ROOT / "configs" / "kl_direction.yaml").members[0].spec
    data = grid.quadrature(spec.target, spec.quadrature)
    log_p32 = jnp.asarray(data.log_target, jnp.float32)
    log_q32 = jnp.asarray(stats.norm.logpdf(data.points[:, 0], 0.5, 2.0), jnp.float32)
    cell = jnp.float32(data.log_cell)

    @jax.jit
    def every(log_p, log_q):
        logged = objective.logged_divergences(log_p, log_q, objective.target_entropy(log_p, cell))
        trained = {name: fn(log_p, log_q, cell) for name, fn in objective.DIVERGENCES.items()}
        return logged, trained

    logged, trained = every(log_p32, log_q32)
    x = np.linspace(-30, 30, 60001)
    p, q = _p(x), stats.norm.pdf(x, 0.5, 2.0)
    m = 0.5 * (p + q)
    dx = x[1] - x[0]
    reference = {
        "forward_kl": np.sum(p * np.log(p / q)) * dx,
        "reverse_kl": np.sum(q * np.log(q / p)) * dx,
        "js": 0.5 * np.sum(p * np.log(p / m) + q * np.log(q / m)) * dx,
        "cross_entropy": -np.sum(p * np.log(q)) * dx,
    }
    for name, value in reference.items():
        assert abs(float(logged[name]) - value) < 2e-5, name
        assert abs(float(trained[name]) - value) < 2e-5, name


def test_js_gradient_is_finite_where_q_underflows():
    # q far in p's tail: many q_i are 0 in float32 where p_i > 0. infolib.js_divergence on
    # the softmaxes would give NaN gradients through the softmax; the logits form does not.
    x = jnp.linspace(-30.0, 30.0, 201)
    log_p = -0.5 * jnp.square(x)

    @jax.jit
    def value_grad_and_reference(mean):
        log_q = -0.5 * jnp.square((x - mean) / 0.3)
        value, grad = jax.value_and_grad(lambda m: objective.js(
            log_p, -0.5 * jnp.square((x - m) / 0.3), jnp.float32(0.0)))(mean)  # fmt: skip
        return value, grad, infolib.js_divergence(jax.nn.softmax(log_p), jax.nn.softmax(log_q))

    value, grad, expected = value_grad_and_reference(jnp.float32(8.0))
    # Nearly disjoint: the true gradient is +6e-9 (float64), below float32's resolution.
    assert jnp.isfinite(grad) and abs(float(grad)) < 1e-6
    np.testing.assert_allclose(value, expected, rtol=1e-5)
    value, grad, expected = value_grad_and_reference(jnp.float32(3.0))
    # Moving q (at 3) towards p (at 0) lowers the divergence: +0.0597313 in float64.
    np.testing.assert_allclose(grad, 0.0597313, rtol=1e-4)
    np.testing.assert_allclose(value, expected, rtol=1e-5)


def test_a_discrete_fit_reaches_the_target_under_js():
    config = validate_config(
        {
            "name": "discrete",
            "kind": "divergence_fit",
            "target": {"family": "discrete", "probabilities": [0.1, 0.2, 0.3, 0.4]},
            "fit": {"family": "discrete"},
            "train": {"divergence": "js", "optimizer": {"learning_rate": 0.1}, "steps": 800},
        }
    )
    outcome = run_member(PROGRAM, config.members[0].spec)
    np.testing.assert_allclose(outcome.params["probabilities"], [0.1, 0.2, 0.3, 0.4], atol=1e-4)
    assert outcome.history["train"]["divergence"][-1] < 1e-7
    entropy = outcome.history["train"]["entropy"]
    assert entropy[0] == pytest.approx(math.log(4), rel=1e-6)  # uniform start


@pytest.mark.slow
def test_forward_kl_in_2d_matches_the_mixture_moments():
    raw = {
        "name": "two_d",
        "kind": "divergence_fit",
        "target": {
            "weights": [0.3, 0.7],
            "means": [[-2.0, 0.0], [2.0, 1.0]],
            "covariances": [[[1.0, 0.5], [0.5, 1.0]], [[0.5, -0.2], [-0.2, 1.5]]],
        },
        "fit": {"mean": [1.0, 1.0]},
        "quadrature": {"points": 41},
        "train": {"optimizer": {"learning_rate": 0.1}, "steps": 800},
    }
    spec = validate_config(raw).members[0].spec
    outcome = run_member(PROGRAM, spec)
    mean, covariance = grid.mixture_moments(spec.target.model_dump())
    np.testing.assert_allclose(outcome.params["mean"], mean, atol=1e-3)
    np.testing.assert_allclose(outcome.params["covariance"], covariance, atol=2e-3)
