r"""MAP logistic regression on arrays in memory: :func:`fit_map` and :func:`fit_path`.

The fast path of the ``classifier`` kind (the second-order solver of
:mod:`experiments.kinds.classifier.newton`) for features and labels you already hold,
without a config or a run folder. The objective, for weights w and intercept b, is

.. math::

    J(w, b) = \frac{1}{n} \sum_i \mathrm{CE}(y_i, x_i^\top w + b) + \frac{R(w)}{n}, \qquad
    R(w) = 0,\quad \frac{\|w\|_2^2}{2\sigma^2}\ (\text{gaussian}),\quad
    \frac{\|w\|_1}{s}\ (\text{laplace}),

the negative log posterior over n under a Gaussian prior of scale σ or a Laplace prior of
scale s; the intercept is never penalised. Two classes use a sigmoid (weights [d], a scalar
intercept), more a softmax (weights [d, C], intercept [C]).

**scikit-learn's C.** ``LogisticRegression(C=C)`` minimises C·n·J with

- L2 (``l1_ratio=0``): C = σ², so ``scale = sqrt(C)``;
- L1 (``l1_ratio=1``): C = s, so ``scale = C``.

Its ``coef_`` is ``weights.T`` (``weights`` itself for two classes: ``coef_[0]``). Its
multinomial intercept and weights are defined up to a common shift across classes, which the
softmax leaves unchanged; compare probabilities, or differences between classes.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar, Literal

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

from experiments.config.fields import INT32_LIMIT, precision_problem
from experiments.kinds.classifier import newton

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["MapFit", "PathFit", "fit_map", "fit_path"]

Prior = Literal["none", "gaussian", "laplace"]
Precision = Literal["float32", "float64"]

# The default tol per precision: about where a Newton solve still makes progress.
DEFAULT_TOL = {"float32": 1e-5, "float64": 1e-10}
# The most bytes of one Newton system ((d+1)·C square for a softmax), checked before any
# work: more fails on the device after work has started, or aborts the process.
MAX_SYSTEM_BYTES = 2 * 2**30


def _decision(weights: np.ndarray, intercept: np.ndarray, X: ArrayLike) -> np.ndarray:
    """x·w + b for each row: [n] for two classes, [n, C] for more."""
    x = np.asarray(X, dtype=weights.dtype)
    if x.ndim != 2 or x.shape[1] != weights.shape[0]:
        raise ValueError(f"X must be [n, {weights.shape[0]}], as the fit was; got {x.shape}")
    return x @ weights + intercept


def _probabilities(scores: np.ndarray) -> np.ndarray:
    """Class probabilities [n, C] from decision values: the sigmoid's two, each as
    exp(−log(1 + e^∓s)) so neither rounds to 0 or 1 early, or a shifted softmax."""
    if scores.ndim == 1:
        return np.stack([np.exp(-np.logaddexp(0, scores)), np.exp(-np.logaddexp(0, -scores))], -1)
    shifted = np.exp(scores - scores.max(axis=-1, keepdims=True))
    return shifted / shifted.sum(axis=-1, keepdims=True)


class _Predicts:
    """scikit-learn's prediction methods from ``weights`` and ``intercept``, on the host in
    NumPy. A :class:`PathFit` answers for every scale: a leading axis in the order of its
    ``scales``."""

    weights: jax.Array
    intercept: jax.Array
    _per_scale: ClassVar[bool] = False

    def _apply(self, compute: Callable[[np.ndarray, np.ndarray], Any]) -> Any:
        weights, intercept = np.asarray(self.weights), np.asarray(self.intercept)
        if not self._per_scale:
            return compute(weights, intercept)
        return np.stack([compute(w, b) for w, b in zip(weights, intercept, strict=True)])

    def decision_function(self, X: ArrayLike) -> np.ndarray:
        """x·w + b: [n] for two classes (the log-odds of class 1), [n, C] for more."""
        return self._apply(lambda w, b: _decision(w, b, X))

    def predict_proba(self, X: ArrayLike) -> np.ndarray:
        """The probability of each class, [n, C], columns in label order 0..C−1."""
        return self._apply(lambda w, b: _probabilities(_decision(w, b, X)))

    def predict(self, X: ArrayLike) -> np.ndarray:
        """The most probable class of each row, [n] (a tie goes to the lower label)."""
        return np.argmax(self.predict_proba(X), axis=-1)

    def score(self, X: ArrayLike, y: ArrayLike) -> Any:
        """The mean accuracy on ``(X, y)``, as scikit-learn's ``score`` (for a path, [S])."""
        right = self.predict(X) == np.asarray(y)
        return float(right.mean()) if right.ndim == 1 else right.mean(axis=-1)


@dataclasses.dataclass(frozen=True)
class MapFit(_Predicts):
    """One MAP fit.

    Attributes:
        weights: [d] (two classes) or [d, C].
        intercept: a scalar or [C].
        converged: the minimum-norm subgradient norm reached ``tol``.
        steps: Newton steps taken.
        grad_norm: that norm at the result (0 exactly at the optimum).
        objective: J at the result.
        prior: the prior, and ``scale`` its scale (σ or s).
        solver: the solver that ran (``auto``'s choice, see :func:`fit_map`).
    """

    weights: jax.Array
    intercept: jax.Array
    converged: bool
    steps: int
    grad_norm: float
    objective: float
    prior: str
    scale: float
    solver: str = "newton"


@dataclasses.dataclass(frozen=True)
class PathFit(_Predicts):
    """MAP fits for a sequence of prior scales, stacked along a leading axis, in the order of
    ``scales`` as given.

    Attributes:
        scales: [S].
        weights: [S, d] or [S, d, C].
        intercept: [S] or [S, C].
        converged: [S] bool; ``steps`` [S] int; ``grad_norm`` and ``objective`` [S].
        prior: the prior.
        solver: the solver that ran.
    """

    scales: jax.Array
    weights: jax.Array
    intercept: jax.Array
    converged: jax.Array
    steps: jax.Array
    grad_norm: jax.Array
    objective: jax.Array
    prior: str
    solver: str = "newton"
    _per_scale: ClassVar[bool] = True

    def to_frame(self) -> pd.DataFrame:
        """A row per scale: ``scale``, scikit-learn's ``C``, ``nonzero`` (weights not
        exactly 0), ``converged``, ``steps``, ``grad_norm`` and ``objective``."""
        import pandas as pd

        scales = np.asarray(self.scales)
        weights = np.asarray(self.weights).reshape(len(scales), -1)
        return pd.DataFrame(
            {
                "scale": scales,
                "C": scales**2 if self.prior == "gaussian" else scales,
                "nonzero": np.count_nonzero(weights, axis=1),
                "converged": np.asarray(self.converged),
                "steps": np.asarray(self.steps),
                "grad_norm": np.asarray(self.grad_norm),
                "objective": np.asarray(self.objective),
            }
        )


def fit_map(
    X: ArrayLike,
    y: ArrayLike,
    *,
    prior: Prior = "gaussian",
    scale: float = 1.0,
    n_classes: int | None = None,
    tol: float | None = None,
    max_steps: int = 100,
    precision: Precision | None = None,
    solver: str = "auto",
) -> MapFit:
    r"""Fits MAP logistic regression by (orthant-wise) regularised Newton steps.

    Minimises J(w, b) (see the module docstring) until the minimum-norm subgradient norm is
    at most ``tol``: exact zeros under a Laplace prior, quadratic convergence near the
    optimum. How each step's system is solved is ``solver``'s choice: ``auto`` picks from the
    shape of the data (:func:`~experiments.kinds.classifier.newton.choose_solver`): H formed
    and factorised for tens of parameters, conjugate gradients for tall data and softmax, an
    n × n system for wide data with a Gaussian prior, working sets for wide data with a
    Laplace prior.

    Args:
        X: features [n, d], finite.
        y: integer class labels [n] in 0..C−1.
        prior: ``none`` (maximum likelihood), ``gaussian`` (L2) or ``laplace`` (L1).
        scale: the prior's scale σ or s, > 0 (ignored without a prior); scikit-learn's
            ``C`` is σ² (L2) or s (L1).
        n_classes: C; default ``max(y) + 1`` (at least 2).
        tol: the stopping tolerance on the subgradient norm (default 1e-5 in float32,
            1e-10 in float64).
        max_steps: the most Newton steps.
        precision: ``float32`` or ``float64``; default the dtype of ``X`` (float64 for a
            NumPy float64 array, float32 for float32 and for integer features).
        solver: ``auto``, ``newton``, ``newton_cg``, ``newton_woodbury`` or
            ``newton_working_set``.

    Returns:
        A :class:`MapFit`, its arrays in the precision.

    Raises:
        ValueError: naming the argument, for shapes that disagree, values that are not
            finite, labels outside 0..C−1 or not integers, a scale or tol ≤ 0.

    Example:
        >>> import numpy as np
        >>> from sklearn.datasets import load_breast_cancer
        >>> X, y = load_breast_cancer(return_X_y=True)
        >>> X = (X - X.mean(0)) / X.std(0)
        >>> fit = fit_map(X, y, prior="gaussian", scale=np.sqrt(0.5))  # scikit-learn's C = 0.5
        >>> fit.converged, fit.steps, fit.weights.shape, fit.weights.dtype
        (True, 9, (30,), dtype('float64'))
        >>> round(float(fit.intercept), 6)
        0.358995
    """
    x, labels, n_classes, dtype = _checked_data(X, y, n_classes, precision)
    _check_prior(prior)
    scale = _positive("scale", scale, dtype)
    tol = _positive("tol", DEFAULT_TOL[dtype] if tol is None else tol, dtype)
    max_steps = _steps(max_steps)
    solver = _solver_name(solver, x, n_classes, prior)
    with jax.enable_x64(dtype == "float64"):  # arrays made here keep their dtype after
        result = _solver(n_classes, prior, solver)(x, labels, scale, tol, max_steps)
    return MapFit(
        weights=result.weights,
        intercept=result.bias,
        converged=bool(result.converged),
        steps=int(result.steps_taken),
        grad_norm=float(result.grad_norm),
        objective=float(result.objective),
        prior=prior,
        scale=scale,
        solver=solver,
    )


def fit_path(
    X: ArrayLike,
    y: ArrayLike,
    *,
    prior: Literal["gaussian", "laplace"] = "gaussian",
    scales: ArrayLike,
    n_classes: int | None = None,
    tol: float | None = None,
    max_steps: int = 100,
    precision: Precision | None = None,
    solver: str = "auto",
) -> PathFit:
    r"""Fits MAP logistic regression along a regularisation path, warm-started.

    The scales are solved in ascending order (from the strongest prior to the weakest), each
    from the last solution or the secant predictor through the last two
    (:func:`~experiments.kinds.classifier.newton.newton_path`), which takes about 2 Newton
    steps a member on a fine path; every member meets the same ``tol`` as its own
    :func:`fit_map`. The results are in the order of ``scales`` as given.

    Args:
        X: features [n, d], finite.
        y: integer class labels [n] in 0..C−1.
        prior: ``gaussian`` (L2) or ``laplace`` (L1).
        scales: [S] prior scales, each > 0 (σ = sqrt(C) for L2, s = C for L1).
        n_classes, tol, max_steps, precision, solver: as for :func:`fit_map` (each member).

    Returns:
        A :class:`PathFit` (``to_frame()`` gives a table, a row per scale).

    Raises:
        ValueError: as :func:`fit_map`, and for scales that are not a non-empty 1-D list.

    Example:
        >>> from sklearn.datasets import load_breast_cancer
        >>> X, y = load_breast_cancer(return_X_y=True)
        >>> X = (X - X.mean(0)) / X.std(0)
        >>> path = fit_path(X, y, prior="laplace", scales=[1.0, 0.01, 10.0, 0.1, 0.03])
        >>> path.to_frame()[["scale", "nonzero", "converged"]]  # stronger priors, more zeros
           scale  nonzero  converged
        0   1.00       16       True
        1   0.01        2       True
        2  10.00       23       True
        3   0.10        8       True
        4   0.03        4       True
    """
    x, labels, n_classes, dtype = _checked_data(X, y, n_classes, precision)
    if prior not in ("gaussian", "laplace"):
        raise ValueError(f"prior: a path needs 'gaussian' or 'laplace', got {prior!r}")
    values = _scales(scales, dtype)
    tol = _positive("tol", DEFAULT_TOL[dtype] if tol is None else tol, dtype)
    max_steps = _steps(max_steps)
    solver = _solver_name(solver, x, n_classes, prior)
    order = np.argsort(values, kind="stable")
    inverse = np.argsort(order)
    with jax.enable_x64(dtype == "float64"):  # arrays made here keep their dtype after
        ordered = _path_solver(n_classes, prior, solver)(
            x, labels, values[order].astype(dtype), tol, max_steps
        )
        result = jax.tree.map(lambda leaf: leaf[inverse], ordered)
        return PathFit(
            scales=jnp.asarray(values.astype(dtype)),
            weights=result.weights,
            intercept=result.bias,
            converged=result.converged,
            steps=result.steps_taken,
            grad_norm=result.grad_norm,
            objective=result.objective,
            prior=prior,
            solver=solver,
        )


# ---------------------------------------------------------------------------
# The compiled solvers (one per class count and prior; jit keys the dtype and shapes)
# ---------------------------------------------------------------------------


def _solver_name(solver: str, x: np.ndarray, n_classes: int, prior: str) -> str:
    if solver != "auto" and solver not in newton.SOLVERS:
        raise ValueError(
            f"solver: expected auto or one of {', '.join(newton.SOLVERS)}, got {solver!r}"
        )
    try:
        return newton.resolve_solver(solver, x, n_classes, prior)
    except ValueError as error:
        raise ValueError(f"solver: {error}") from None


@functools.cache
def _solver(n_classes: int, prior: str, solver: str) -> Callable[..., newton.NewtonResult]:
    def solve(x, y, scale, tol, max_steps):
        return newton.newton_solve(
            x,
            y,
            n_classes=n_classes,
            prior=prior,
            prior_scale=scale,
            tol=tol,
            max_steps=max_steps,
            solver=solver,
        )

    return jax.jit(solve)


@functools.cache
def _path_solver(n_classes: int, prior: str, solver: str) -> Callable[..., newton.NewtonResult]:
    def path(x, y, scales, tol, max_steps):
        return newton.newton_path(
            x,
            y,
            scales,
            n_classes=n_classes,
            prior=prior,
            tol=tol,
            max_steps=max_steps,
            solver=solver,
        )

    return jax.jit(path)


# ---------------------------------------------------------------------------
# Checking the arguments, before any work
# ---------------------------------------------------------------------------


def _checked_data(
    X: ArrayLike, y: ArrayLike, n_classes: int | None, precision: str | None
) -> tuple[np.ndarray, np.ndarray, int, str]:
    """X as a finite [n, d] array of the precision, y as int32 labels, and C."""
    x = _array("X", X)
    if x.dtype == object or not (np.issubdtype(x.dtype, np.number) or x.dtype == bool):
        raise ValueError(f"X: expected numbers, got an array of dtype {x.dtype}")
    if np.iscomplexobj(x):
        raise ValueError("X: expected real numbers, got complex ones")
    if x.ndim != 2 or x.shape[0] == 0 or x.shape[1] == 0:
        raise ValueError(f"X: expected a 2-D array [n, d] with n, d >= 1, got shape {x.shape}")
    if precision is None:
        precision = "float64" if x.dtype == np.float64 else "float32"
    if precision not in DEFAULT_TOL:
        raise ValueError(f"precision: expected 'float32', 'float64' or None, got {precision!r}")
    x = x.astype(precision)
    if not np.all(np.isfinite(x)):
        bad = np.argwhere(~np.isfinite(x))[0]
        raise ValueError(
            f"X: every value must be finite in {precision}; X[{bad[0]}, {bad[1]}] is "
            f"{x[bad[0], bad[1]]}"
        )
    labels = _array("y", y)
    if labels.shape != (x.shape[0],):
        raise ValueError(
            f"y: expected shape ({x.shape[0]},), one label per row of X, got {labels.shape}"
        )
    if not (np.issubdtype(labels.dtype, np.integer) or labels.dtype == bool):
        raise ValueError(f"y: expected integer class labels 0..C-1, got dtype {labels.dtype}")
    labels = labels.astype(np.int64)
    inferred = n_classes is None
    if n_classes is None:
        n_classes = max(int(labels.max()) + 1, 2)
    elif isinstance(n_classes, bool) or not isinstance(n_classes, int) or n_classes < 2:
        raise ValueError(f"n_classes: expected an integer >= 2, got {n_classes!r}")
    _check_system(n_classes, x.shape[1], np.dtype(precision).itemsize, inferred)
    outside = labels[(labels < 0) | (labels >= n_classes)]
    if outside.size:
        raise ValueError(
            f"y: labels must be in 0..{n_classes - 1} (n_classes {n_classes}); "
            f"found {sorted(set(outside.tolist()))[:5]}"
        )
    return x, labels.astype(np.int32), n_classes, precision


def _array(name: str, value: ArrayLike) -> np.ndarray:
    try:
        return np.asarray(value)
    except (TypeError, ValueError) as error:  # ragged rows, ...
        what = "a 2-D array [n, d]" if name == "X" else "a 1-D array [n]"
        raise ValueError(f"{name}: expected {what} of numbers: {error}") from None


def _check_system(n_classes: int, features: int, itemsize: int, inferred: bool) -> None:
    """Refuses a class count whose Newton system would not fit (or overflow int32)."""
    size = (features + 1) * (n_classes if n_classes > 2 else 1)
    gib = size**2 * itemsize / 2**30
    if n_classes < INT32_LIMIT and size**2 * itemsize <= MAX_SYSTEM_BYTES:
        return
    why = (
        f"the largest label, {n_classes - 1}, makes n_classes {n_classes}"
        if inferred
        else f"{n_classes} classes"
    )
    raise ValueError(
        f"{'y' if inferred else 'n_classes'}: {why}; with {features} feature(s) one Newton "
        f"step solves a {size}-square system ({gib:.3g} GiB, more than "
        f"{MAX_SYSTEM_BYTES / 2**30:g} GiB): labels must be 0..C-1 for C classes"
    )


def _check_prior(prior: Any) -> None:
    if prior not in newton.PRIORS:
        raise ValueError(f"prior: expected 'none', 'gaussian' or 'laplace', got {prior!r}")


def _positive(name: str, value: Any, precision: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | np.number):
        raise ValueError(f"{name}: expected a number > 0, got {value!r}")
    value = float(value)
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"{name}: expected a finite number > 0, got {value!r}")
    problem = precision_problem(value, precision)  # the check of a config's numbers
    if problem is not None:
        raise ValueError(f"{name}: {problem}")
    return value


def _steps(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
        raise ValueError(f"max_steps: expected an integer >= 1, got {value!r}")
    if value >= INT32_LIMIT:  # the step counter is int32 on the device
        raise ValueError(f"max_steps: must be < {INT32_LIMIT}, got {value}")
    return int(value)


def _scales(scales: Any, precision: str) -> np.ndarray:
    try:
        values = np.asarray(scales, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"scales: expected a 1-D list of numbers > 0, got {scales!r}") from None
    if values.ndim != 1 or values.size == 0:
        raise ValueError(f"scales: expected a non-empty 1-D list, got shape {values.shape}")
    bad = values[~(np.isfinite(values) & (values > 0))]
    if bad.size:
        raise ValueError(f"scales: every scale must be finite and > 0; got {float(bad[0])!r}")
    for index, value in enumerate(values.tolist()):
        problem = precision_problem(value, precision)
        if problem is not None:
            raise ValueError(f"scales[{index}]: {problem}")
    return values
