"""experiments.optim and experiments.train against independent references.

- MAP with a Gaussian prior of scale σ is scikit-learn's L2 logistic regression with C = σ²,
  and with a Laplace prior of scale b its L1 regression with C = b (same exact zeros);
  maximum likelihood is statsmodels' ``Logit``. Coefficients agree within 1e-3 (measured:
  about 1e-4; float32 training against float64 references).
- Every optimizer's proximal step has the lasso solution as its fixed point.
- From a saturated start MSE learns far slower than cross-entropy.
- Divergence is detected, compiled programs are reused, and the run function vmaps.

Compiling a run takes seconds on CI's CPUs, so the tests share a few static configurations:
runs that differ only in numbers (learning rate, prior scale, seed) reuse one program.
"""

import functools
from typing import ClassVar

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import statsmodels.api as sm
from sklearn.linear_model import LogisticRegression

from experiments.config import ConfigError
from experiments.contract import DataError
from experiments.kinds import validate_config
from experiments.kinds.classifier import optim, train
from experiments.kinds.classifier.data import Dataset, load_dataset
from experiments.kinds.classifier.model import Params
from experiments.kinds.classifier.program import PROGRAM
from experiments.kinds.classifier.schema import RunSpec, SklearnData, SyntheticData
from experiments.pipeline import plan as planner
from experiments.pipeline import run as runner
from experiments.pipeline.loop import run_member

COEFFICIENT_ATOL = 1e-3
REFERENCE_STEPS = 10_000  # FISTA with step 1/L; about 0.2 s of running per fit


def _spec(name="run", *, seed=0, classes=2, init=None, **train_fields) -> RunSpec:
    train_config = {"loss": "ce", "steps": 200, "log_every": 10, **train_fields}
    return RunSpec.model_validate(
        {
            "name": name,
            "seed": seed,
            "model": {"classes": classes, "init": init or {"kind": "zeros"}},
            "train": train_config,
        }
    )


def _lipschitz(data: Dataset, *, softmax: bool = False) -> float:
    """A Lipschitz constant of the mean log loss's gradient: λ_max([x 1]ᵀ[x 1]/n)/4, or /2
    for the softmax (whose Hessian is at most ½ in the logits)."""
    x = np.c_[data.x_train.astype(np.float64), np.ones(len(data.x_train))]
    top = np.linalg.eigvalsh(x.T @ x / len(x))[-1]
    return top / (2.0 if softmax else 4.0)


def _reference_spec(data: Dataset, prior: dict, *, classes: int = 2) -> RunSpec:
    n = len(data.y_train)
    smoothness = _lipschitz(data, softmax=classes > 2)
    if prior["kind"] == "gaussian":
        smoothness += 1.0 / (prior["scale"] ** 2 * n)
    return _spec(
        classes=classes,
        prior=prior,
        optimizer={"name": "fista", "learning_rate": 1.0 / smoothness},
        steps=REFERENCE_STEPS,
        log_every=REFERENCE_STEPS // 10,
    )


@pytest.fixture(scope="module")
def breast_cancer() -> Dataset:
    """All 569 examples, standardized (population std), as float32."""
    return load_dataset(SklearnData(name="breast_cancer", test_fraction=0.0), seed=0)


@pytest.fixture(scope="module")
def logistic_data() -> Dataset:
    """Non-separable synthetic data: y ~ Bernoulli(σ(x·w)), 400 train and 100 test rows."""
    config = SyntheticData(n_samples=500, n_features=5, n_informative=3, test_fraction=0.2)
    return load_dataset(config, seed=0)


def _coefficients(result) -> np.ndarray:
    return np.r_[result.params["weights"].ravel(), np.ravel(result.params["bias"])]


# ---------------------------------------------------------------------------
# Agreement with scikit-learn and statsmodels
# ---------------------------------------------------------------------------


def test_gaussian_prior_is_sklearn_l2(breast_cancer):
    scale = 1.0
    result = run_member(
        PROGRAM, _reference_spec(breast_cancer, {"kind": "gaussian", "scale": scale}), breast_cancer
    )
    sklearn = LogisticRegression(C=scale**2, solver="lbfgs", tol=1e-10, max_iter=10_000)
    sklearn.fit(breast_cancer.x_train.astype(np.float64), breast_cancer.y_train)
    expected = np.r_[sklearn.coef_[0], sklearn.intercept_]
    difference = np.max(np.abs(_coefficients(result) - expected))
    print(f"L2: largest coefficient difference from sklearn {difference:.2e}")
    assert result.status == "ok"
    assert difference < COEFFICIENT_ATOL
    assert result.history["train"]["zero_weights"][-1] == 0


def test_laplace_prior_is_sklearn_l1_with_the_same_zeros(breast_cancer):
    scale = 0.1
    result = run_member(
        PROGRAM, _reference_spec(breast_cancer, {"kind": "laplace", "scale": scale}), breast_cancer
    )
    sklearn = LogisticRegression(C=scale, l1_ratio=1.0, solver="saga", tol=1e-10, max_iter=100_000)
    sklearn.fit(breast_cancer.x_train.astype(np.float64), breast_cancer.y_train)
    expected = np.r_[sklearn.coef_[0], sklearn.intercept_]
    difference = np.max(np.abs(_coefficients(result) - expected))
    print(f"L1: largest coefficient difference from sklearn {difference:.2e}")
    assert difference < COEFFICIENT_ATOL
    zeros = result.params["weights"] == 0
    np.testing.assert_array_equal(zeros, sklearn.coef_[0] == 0)
    assert 5 < zeros.sum() < zeros.size  # a sparse, not an empty, solution
    assert result.history["train"]["zero_weights"][-1] == zeros.sum()


def test_maximum_likelihood_is_statsmodels_logit(logistic_data):
    result = run_member(PROGRAM, _reference_spec(logistic_data, {"kind": "none"}), logistic_data)
    x = sm.add_constant(logistic_data.x_train.astype(np.float64), prepend=False)
    fit = sm.Logit(logistic_data.y_train, x).fit(method="newton", tol=1e-12, disp=False)
    difference = np.max(np.abs(_coefficients(result) - fit.params))
    print(f"MLE: largest coefficient difference from statsmodels {difference:.2e}")
    assert difference < COEFFICIENT_ATOL
    assert set(result.history) == {"train", "test"}


def test_softmax_gaussian_prior_is_sklearn_multinomial_l2():
    data = load_dataset(SklearnData(name="iris", test_fraction=0.0), seed=0)
    scale = 1.0
    result = run_member(
        PROGRAM, _reference_spec(data, {"kind": "gaussian", "scale": scale}, classes=3), data
    )
    sklearn = LogisticRegression(C=scale**2, solver="lbfgs", tol=1e-10, max_iter=10_000)
    sklearn.fit(data.x_train.astype(np.float64), data.y_train)
    assert result.params["weights"].shape == (4, 3) and result.params["bias"].shape == (3,)
    difference = np.max(np.abs(result.params["weights"] - sklearn.coef_.T))
    # The softmax is unchanged by adding a constant to every bias: compare centred biases.
    bias_difference = np.max(
        np.abs(
            result.params["bias"]
            - result.params["bias"].mean()
            - (sklearn.intercept_ - sklearn.intercept_.mean())
        )
    )
    print(f"softmax L2: largest difference from sklearn {max(difference, bias_difference):.2e}")
    assert max(difference, bias_difference) < COEFFICIENT_ATOL


# ---------------------------------------------------------------------------
# The proximal step
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "learning_rate"),
    [("sgd", 0.2), ("momentum", 0.05), ("adam", 0.05), ("fista", 0.2)],
)
def test_every_optimizer_reaches_the_lasso_solution(name, learning_rate):
    # min_w ½Σ c_i (w_i - a_i)² + λ‖w‖₁ has the solution soft_threshold(a_i, λ/c_i); a
    # prox threshold not scaled to the optimizer's step (lr instead of lr/(1 - μ) for
    # momentum) would converge to the solution for a smaller λ.
    c = jnp.array([1.0, 2.0, 0.5, 4.0])
    a = jnp.array([1.0, -0.2, 0.3, -2.0])
    l1 = 0.5

    def loss(p: Params):
        return 0.5 * jnp.sum(c * jnp.square(p.weights - a)) + 0.5 * jnp.square(p.bias - 1.5)

    hyper = {
        "learning_rate": learning_rate,
        "momentum": 0.9,
        "b1": 0.9,
        "b2": 0.999,
        "eps": 1e-8,
        "restart": 0.0,
    }

    @jax.jit
    def solve(hyper):
        optimizer = optim.make_optimizer(name, hyper, l1=jnp.float32(l1))

        def step(carry, _):
            params, state, _ = optimizer.step(*carry, loss)
            return (params, state), None

        params = Params(jnp.zeros(4), jnp.zeros(()))
        (params, _), _ = jax.lax.scan(step, (params, optimizer.init(params)), length=1000)
        return params

    params = solve({k: jnp.float32(v) for k, v in hyper.items()})
    np.testing.assert_allclose(params.weights, [0.5, 0.0, 0.0, -1.875], atol=1e-6)
    np.testing.assert_array_equal(params.weights[1:3], 0.0)  # exact zeros, from the prox
    np.testing.assert_allclose(params.bias, 1.5, atol=1e-6)  # the bias is not shrunk


def test_soft_threshold():
    x = jnp.array([-3.0, -1.0, -0.5, 0.0, 0.5, 1.0, 3.0])
    np.testing.assert_array_equal(
        optim.soft_threshold(x, 1.0), [-2.0, 0.0, 0.0, 0.0, 0.0, 0.0, 2.0]
    )


def test_unknown_optimizer_is_refused():
    with pytest.raises(ValueError, match="unknown optimizer 'lbfgs'"):
        optim.make_optimizer("lbfgs", {}, l1=None)


def test_gaussian_prior_with_sgd_gives_no_exact_zeros(breast_cancer):
    result = run_member(
        PROGRAM,
        _spec(
            prior={"kind": "gaussian", "scale": 0.1},
            optimizer={"name": "sgd", "learning_rate": 0.1},
        ),
        breast_cancer,
    )
    assert result.status == "ok"
    assert np.all(result.params["weights"] != 0)
    assert np.all(result.history["train"]["zero_weights"][1:] == 0)


# ---------------------------------------------------------------------------
# MSE against cross-entropy from a saturated start
# ---------------------------------------------------------------------------


def test_mse_learns_far_slower_than_cross_entropy_from_a_saturated_start(logistic_data):
    # Every example starts at σ(-8) ≈ 3e-4: confidently class 0. Cross-entropy's gradient
    # (σ - y)·x is about -x on the class-1 examples; MSE's is σ(1 - σ) ≈ 3e-4 times that.
    saturated = {"kind": "constant", "weights": 0.0, "bias": -8.0}
    optimizer = {"name": "sgd", "learning_rate": 0.5}
    runs = {
        loss: run_member(
            PROGRAM,
            _spec(loss=loss, init=saturated, optimizer=optimizer, steps=200, log_every=10),
            logistic_data,
        )
        for loss in ("ce", "mse")
    }
    ce, mse = (runs[loss].history["test"] for loss in ("ce", "mse"))
    k = 50 // 10  # the index of step 50
    print(
        "after 50 steps, trained on CE vs on MSE: "
        f"test CE {ce['ce'][k]:.3f} vs {mse['ce'][k]:.3f}, "
        f"test MSE {ce['mse'][k]:.4f} vs {mse['mse'][k]:.4f}, "
        f"accuracy {ce['accuracy'][k]:.3f} vs {mse['accuracy'][k]:.3f}; "
        f"initial gradient norm {ce['grad_norm'][0]:.2e} vs {mse['grad_norm'][0]:.2e}"
    )
    assert (
        runs["mse"].history["train"]["grad_norm"][0]
        < 1e-2 * runs["ce"].history["train"]["grad_norm"][0]
    )
    # Cross-entropy has learned; MSE has barely moved, even by its own measure.
    assert ce["ce"][k] < 0.2 * mse["ce"][k]
    assert ce["mse"][k] < 0.5 * mse["mse"][k]
    assert ce["accuracy"][k] > mse["accuracy"][k] + 0.2


# ---------------------------------------------------------------------------
# Divergence, compilation, vmap, minibatches, progress
# ---------------------------------------------------------------------------


def _diverging_spec() -> RunSpec:
    # The prior's pull w/(σ² n) with lr/(σ² n) ≈ 18 > 2 makes each step multiply the
    # weights by about -17: float32 overflows after some thirty steps.
    return _spec(
        prior={"kind": "gaussian", "scale": 0.01}, optimizer={"name": "sgd", "learning_rate": 1.0}
    )


def test_divergence_is_marked_and_the_history_kept(breast_cancer):
    result = run_member(PROGRAM, _diverging_spec(), breast_cancer)
    assert result.status == "diverged"
    assert 10 < result.diverged_at < 100
    # Everything logged before the divergence, then the last finite parameters' metrics.
    expected = np.append(np.arange(0, result.diverged_at, 10), result.diverged_at)
    np.testing.assert_array_equal(result.steps, expected)
    final_norm = np.linalg.norm(result.params["weights"].astype(np.float64))
    np.testing.assert_allclose(result.history["train"]["weight_norm"][-1], final_norm, rtol=1e-5)
    for metrics in result.history.values():
        for values in metrics.values():
            assert len(values) == len(result.steps)
    assert np.all(np.isfinite(result.params["weights"])) and np.isfinite(result.params["bias"])
    assert np.all(np.isfinite(result.history["train"]["weight_norm"]))


def test_a_new_learning_rate_reuses_the_compiled_program(breast_cancer):
    compilations = []

    def listener(event: str, duration: float, **kwargs) -> None:
        if event == "/jax/core/compile/backend_compile_duration":
            compilations.append(event)

    run_member(
        PROGRAM,
        _spec(
            prior={"kind": "gaussian", "scale": 0.1},
            optimizer={"name": "sgd", "learning_rate": 0.1},
        ),
        breast_cancer,
    )
    jax.monitoring.register_event_duration_secs_listener(listener)
    try:
        other = _spec(
            seed=3,
            prior={"kind": "gaussian", "scale": 0.5},
            optimizer={"name": "sgd", "learning_rate": 0.02},
        )
        result = run_member(PROGRAM, other, breast_cancer)
    finally:
        jax.monitoring.unregister_event_duration_listener(listener)
    assert result.status == "ok"
    assert compilations == []


def test_run_function_vmaps_over_hyperparameters(breast_cancer):
    # Issue 4 batches members of a sweep: one program for three learning rates, one of which
    # diverges without stopping the others.
    specs = [
        _spec(
            prior={"kind": "gaussian", "scale": 0.01 if lr == 1.0 else 0.1},
            optimizer={"name": "sgd", "learning_rate": lr},
        )
        for lr in (0.1, 0.02, 1.0)
    ]
    static = train.run_static(specs[0], breast_cancer)
    hyper = [train.run_hyperparameters(spec) for spec in specs]
    stacked = jax.tree.map(lambda *values: jnp.stack(values), *hyper)
    arrays = [
        jnp.asarray(a)
        for a in (
            breast_cancer.x_train,
            breast_cancer.y_train,
            breast_cancer.x_test,
            breast_cancer.y_test,
        )
    ]
    run = jax.jit(jax.vmap(train.make_run_fn(static), in_axes=(0, None, None, None, None, None)))
    output = run(stacked, jax.random.key(0), *arrays)
    for i, spec in enumerate(specs):
        single = run_member(PROGRAM, spec, breast_cancer)
        expected_diverged = -1 if single.diverged_at is None else single.diverged_at
        assert int(output.diverged_at[i]) == expected_diverged
        np.testing.assert_allclose(
            output.params.weights[i], single.params["weights"], rtol=1e-4, atol=1e-6
        )
        kept = len(single.steps)
        np.testing.assert_allclose(
            output.history["train"]["ce"][i, :kept], single.history["train"]["ce"], rtol=1e-4
        )
    assert int(output.diverged_at[2]) > 0 and int(output.diverged_at[0]) == -1


class _RecordingBar:
    """Stands in for ``tqdm.tqdm``: records the positions the runner moves it to."""

    bars: ClassVar[list["_RecordingBar"]] = []

    def __init__(self, *, total: int, **kwargs) -> None:
        self.total, self.n, self.positions, self.closed = total, 0, [], False
        _RecordingBar.bars.append(self)

    def update(self, n: int) -> None:
        self.n += n
        self.positions.append(self.n)

    def close(self) -> None:
        self.closed = True


def test_minibatches_are_deterministic_from_the_seed(logistic_data):
    spec = functools.partial(
        _spec,
        optimizer={"name": "sgd", "learning_rate": 0.1},
        batch_size=64,
        steps=25,
        log_every=10,
    )
    first = run_member(PROGRAM, spec(seed=1), logistic_data)
    again = run_member(PROGRAM, spec(seed=1), logistic_data)
    other = run_member(PROGRAM, spec(seed=2), logistic_data)
    np.testing.assert_array_equal(first.steps, [0, 10, 20, 25])
    np.testing.assert_array_equal(first.params["weights"], again.params["weights"])
    # zeros init: only the minibatch order differs
    assert not np.array_equal(first.params["weights"], other.params["weights"])


def test_a_progress_bar_follows_each_run_and_closes(monkeypatch, tmp_path):
    _RecordingBar.bars = []
    monkeypatch.setattr(runner.tqdm, "tqdm", _RecordingBar)
    raw = {
        "name": "bars",
        "data": {"n_samples": 200, "n_features": 4, "n_informative": 2},
        "train": {"batch_size": 64, "steps": 25, "log_every": 10},
        "variants": [{"name": "a"}, {"name": "b", "seed": 2}],
    }
    for _ in range(2):
        the_plan = planner.plan(validate_config(raw), tmp_path)
        runner.execute(the_plan, progress=True)
    assert len(_RecordingBar.bars) == 2  # one bar per run with progress=True
    for bar in _RecordingBar.bars:
        # 25 steps logged every 10 for each of two members, one program each.
        assert bar.total == 50 and bar.closed
        assert bar.positions[-1] == 50
        assert set(bar.positions) <= {0, 10, 20, 25, 35, 45, 50}


def test_class_count_must_match_the_data(breast_cancer):
    with pytest.raises(DataError, match=r"model\.classes: is 3, but .* has 2 classes"):
        run_member(PROGRAM, _spec(classes=3), breast_cancer)


# ---------------------------------------------------------------------------
# Stopping at a tolerance
# ---------------------------------------------------------------------------


def test_a_tolerance_stops_each_member_on_its_own(breast_cancer, tmp_path):
    # FISTA on the Gaussian MAP objective: a loose tolerance is reached within the cap, a
    # tight one is not; each member's steps_taken is the logged step where grad_norm first
    # fell to tol, and a converged member of a sweep equals its run alone.
    spec = functools.partial(
        _spec,
        prior={"kind": "gaussian", "scale": 1.0},
        optimizer={"name": "fista", "learning_rate": 0.5},
        steps=400,
        log_every=5,
    )
    loose, tight = (
        run_member(PROGRAM, spec(tol=1e-2), breast_cancer),
        run_member(PROGRAM, spec(tol=1e-9), breast_cancer),
    )
    assert loose.extra["converged"] and not tight.extra["converged"]
    assert tight.extra["steps_taken"] == 400
    grad = tight.history["train"]["grad_norm"]
    first = int(np.argmax(grad <= 1e-2))
    assert loose.extra["steps_taken"] == tight.steps[first] == loose.steps[-1]
    assert grad[first - 1] > 1e-2 >= loose.history["train"]["grad_norm"][-1]
    untimed = run_member(PROGRAM, spec(), breast_cancer)
    assert untimed.extra == {"steps_taken": 400, "converged": False}
    raw = {
        "name": "tol_sweep",
        "data": {"source": "sklearn", "name": "breast_cancer", "test_fraction": 0.0},
        "train": {
            "prior": {"kind": "gaussian", "scale": 1.0},
            "optimizer": {"name": "fista", "learning_rate": 0.5},
            "steps": 400,
            "log_every": 5,
        },
        "sweep": {"train.tol": [1e-2, 1e-9]},
    }
    plan = planner.plan(validate_config(raw), tmp_path)
    swept = runner.execute(plan).outcomes
    assert [o.extra["converged"] for o in swept] == [True, False]
    assert swept[0].extra["steps_taken"] == loose.extra["steps_taken"]
    np.testing.assert_allclose(
        swept[0].params["weights"], loose.params["weights"], rtol=1e-5, atol=1e-6
    )


# ---------------------------------------------------------------------------
# The newton optimizer
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("prior", ["gaussian", "laplace"])
def test_newton_reaches_the_map_solution_in_a_few_steps(breast_cancer, prior):
    scale = 0.1
    spec = _spec(
        prior={"kind": prior, "scale": scale},
        optimizer={"name": "newton"},
        steps=30,
        log_every=1,
        tol=1e-5,
    )
    result = run_member(PROGRAM, spec, breast_cancer)
    assert result.extra["converged"] and result.extra["steps_taken"] <= 15
    c = scale**2 if prior == "gaussian" else scale
    solver = "lbfgs" if prior == "gaussian" else "saga"
    sklearn = LogisticRegression(
        C=c, l1_ratio=0.0 if prior == "gaussian" else 1.0, solver=solver, tol=1e-10
    )
    sklearn.set_params(max_iter=100_000)
    sklearn.fit(breast_cancer.x_train.astype(np.float64), breast_cancer.y_train)
    expected = np.r_[sklearn.coef_[0], sklearn.intercept_]
    assert np.max(np.abs(_coefficients(result) - expected)) < 1e-3
    if prior == "laplace":
        np.testing.assert_array_equal(result.params["weights"] == 0, sklearn.coef_[0] == 0)


@pytest.mark.parametrize(
    ("train_fields", "expected"),
    [
        ({"loss": "mse"}, "use fista, adam or sgd for loss: mse"),
        ({"batch_size": 64}, "use fista, adam or sgd for minibatches"),
    ],
)
def test_newton_refuses_mse_and_minibatches(train_fields, expected):
    raw = {"name": "n", "train": {"optimizer": {"name": "newton"}, **train_fields}}
    with pytest.raises(ConfigError) as error:
        validate_config(raw)
    assert any(expected in line for line in error.value.problems), error.value.problems


def test_fista_with_restart_reaches_the_tolerance_in_fewer_steps(breast_cancer):
    # Gradient restart (O'Donoghue & Candès) on the strongly convex Gaussian MAP objective.
    def steps_to_tol(restart: bool) -> int:
        spec = _spec(
            prior={"kind": "gaussian", "scale": 1.0},
            optimizer={"name": "fista", "learning_rate": 0.2, "restart": restart},
            steps=3000,
            log_every=10,
            tol=1e-4,
        )
        result = run_member(PROGRAM, spec, breast_cancer)
        assert result.extra["converged"]
        return result.extra["steps_taken"]

    plain, restarted = steps_to_tol(False), steps_to_tol(True)
    print(f"FISTA steps to grad_norm <= 1e-4: {plain} plain, {restarted} with restart")
    assert restarted < 0.8 * plain
