"""The Newton iteration behind :mod:`experiments.kinds.classifier.newton`: the problem in
the stacked parametrisation θ = [w; b], its gradient and Hessian, the (orthant-wise)
regularised Newton direction, the backtracking line search and the solve loop.

Everything here is private to the solver; see its module docstring for the method.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

import infolib
from experiments.kinds.classifier import newton_systems as systems
from experiments.kinds.classifier.solvers import check_solver

PRIORS = ("none", "gaussian", "laplace")

LEVENBERG = 1e-2
_ARMIJO = 1e-4  # sufficient decrease: J(θ + tΔ) ≤ J(θ) + α t gᵀΔ (+ rounding slack)
_MAX_HALVINGS = 40  # step lengths 1, 1/2, ..., 2⁻⁴⁰; then the member has stalled
_MAX_RESOLVES = 8  # Laplace: re-solves dropping entering weights that point the wrong way
_ROUNDING = 16.0  # the slack in the Armijo test, in units of eps·|J|


class Problem(NamedTuple):
    """The data and the prior, in the stacked parametrisation θ = [w; b] ([d+1] or [d+1, C])."""

    xt: jax.Array  # [n, d+1]: the features with a column of ones
    y: jax.Array  # [n] labels: floating 0/1 (binary) or int (softmax)
    l2: jax.Array  # the weight of ½‖w‖²: 1/(σ² n), or 0
    l1: jax.Array  # λ = 1/(s n), or 0
    penalised: jax.Array  # 1 for weights, 0 for the bias, in θ's shape
    n_classes: int
    prior: str
    solver: str = "newton"
    gram: jax.Array | None = None  # XXᵀ [n, n], for newton_woodbury


class State(NamedTuple):
    theta: jax.Array
    z: jax.Array  # the logits xt @ θ
    value: jax.Array  # J(θ)
    grad: jax.Array  # the gradient of the smooth part (mean CE + Gaussian term)
    grad_norm: jax.Array  # ‖minimum-norm subgradient of J‖
    steps: jax.Array  # int32
    stalled: jax.Array  # bool


# ---------------------------------------------------------------------------
# The objective
# ---------------------------------------------------------------------------


def _minimum_norm_subgradient(
    grad: jax.Array, theta: jax.Array, l1: jax.Array, penalised: jax.Array
) -> jax.Array:
    r"""The smallest element of the subdifferential of f + λ‖w‖₁ (f smooth, gradient g).

    .. math::

        g_i + \lambda \operatorname{sign}(\theta_i) \ \text{if}\ \theta_i \ne 0, \qquad
        \operatorname{sign}(g_i) \max(|g_i| - \lambda, 0) \ \text{if}\ \theta_i = 0,

    for the penalised coordinates, and g_i for the others (the bias). With λ = 0 it is g.

    Args:
        grad: the gradient of the smooth part, in θ's shape.
        theta: the point.
        l1: λ ≥ 0.
        penalised: 1 where λ applies, 0 elsewhere, in θ's shape.

    Returns:
        The minimum-norm subgradient, in θ's shape.

    Example:
        >>> import jax.numpy as jnp
        >>> _minimum_norm_subgradient(jnp.array([0.5, 2.0, 0.5]), jnp.array([0.0, 0.0, 1.0]),
        ...                           jnp.array(1.0), jnp.array([1.0, 1.0, 1.0]))
        Array([0. , 1. , 1.5], dtype=float32)
    """
    lam = l1 * penalised
    at_zero = jnp.sign(grad) * jnp.maximum(jnp.abs(grad) - lam, 0)
    return jnp.where(theta == 0, at_zero, grad + lam * jnp.sign(theta))


def as_features(x: ArrayLike) -> tuple[jax.Array, jnp.dtype]:
    x = jnp.asarray(x)
    if not jnp.issubdtype(x.dtype, jnp.floating):
        x = x.astype(jnp.float32)
    if x.ndim != 2:
        raise ValueError(f"x must be [n, d]; got shape {x.shape}")
    return x, x.dtype


def stack(weights: jax.Array, bias: jax.Array) -> jax.Array:
    """θ = [w; b]: [d+1] for two classes, [d+1, C] for more."""
    return jnp.concatenate([weights, bias[None]], axis=0)


def make_problem(
    x: jax.Array, y: ArrayLike, n_classes: int, prior: str, scale, solver: str = "newton"
) -> Problem:
    """The data in θ's parametrisation, with the prior of the given scale."""
    if prior not in PRIORS:
        raise ValueError(f"unknown prior {prior!r}; expected one of {', '.join(PRIORS)}")
    if n_classes < 2:
        raise ValueError(f"n_classes must be at least 2; got {n_classes}")
    check_solver(solver, prior, n_classes)
    n, d = x.shape
    dtype = x.dtype
    y = jnp.asarray(y)
    if y.shape != (n,):
        raise ValueError(f"y must have shape [n] = ({n},), as x has n = {n} rows; got {y.shape}")
    y = y.astype(dtype) if n_classes == 2 else y.astype(jnp.int32)
    xt = jnp.concatenate([x, jnp.ones((n, 1), dtype)], axis=1)
    shape = (d + 1,) if n_classes == 2 else (d + 1, n_classes)
    rows = jnp.arange(d + 1).reshape((d + 1,) + (1,) * (len(shape) - 1))
    penalised = jnp.broadcast_to(rows < d, shape).astype(dtype)
    zero = jnp.zeros((), dtype)
    gram = x @ x.T if solver == "newton_woodbury" else None
    problem = Problem(xt, y, zero, zero, penalised, n_classes, prior, solver, gram)
    return with_scale(problem, scale)


def with_scale(problem: Problem, scale) -> Problem:
    """The problem with the prior's scale set: l2 = 1/(σ² n) or l1 = 1/(s n)."""
    n = problem.xt.shape[0]
    scale = jnp.asarray(scale, problem.xt.dtype)
    if problem.prior == "gaussian":
        return problem._replace(l2=1 / (jnp.square(scale) * n))
    if problem.prior == "laplace":
        return problem._replace(l1=1 / (scale * n))
    return problem


def _mean_cross_entropy(problem: Problem, z: jax.Array) -> jax.Array:
    """Mean CE: infolib's binary form (exact for saturated logits); for a softmax
    logsumexp(z) − z_y, which is infolib's sparse form for valid labels without its NaN
    for invalid ones (a float64 constant in a float32 program)."""
    if problem.n_classes == 2:
        return jnp.mean(infolib.binary_cross_entropy_with_logits(problem.y, z))
    picked = jnp.take_along_axis(z, problem.y[:, None], axis=-1)[:, 0]
    return jnp.mean(jax.nn.logsumexp(z, axis=-1) - picked)


def objective(problem: Problem, theta: jax.Array, z: jax.Array) -> jax.Array:
    """J at θ, given the logits z = xt θ."""
    w = theta * problem.penalised
    value = _mean_cross_entropy(problem, z)
    if problem.prior == "gaussian":
        value = value + problem.l2 / 2 * jnp.sum(jnp.square(w))
    if problem.prior == "laplace":
        value = value + problem.l1 * jnp.sum(jnp.abs(w))
    return value


def _residual(problem: Problem, z: jax.Array) -> jax.Array:
    """∂(n · mean CE)/∂z: σ(z) − y, or softmax(z) − onehot(y)."""
    if problem.n_classes == 2:
        return jax.nn.sigmoid(z) - problem.y
    one_hot = jax.nn.one_hot(problem.y, problem.n_classes, dtype=z.dtype)
    return jax.nn.softmax(z, axis=-1) - one_hot


def _smooth_gradient(problem: Problem, theta: jax.Array, z: jax.Array) -> jax.Array:
    """The gradient of mean CE (+ the Gaussian term), in θ's shape."""
    n = problem.xt.shape[0]
    grad = systems.transpose_times(problem.xt, _residual(problem, z)) / n
    if problem.prior == "gaussian":
        grad = grad + problem.l2 * problem.penalised * theta
    return grad


def _hessian(problem: Problem, z: jax.Array) -> jax.Array:
    """The Hessian of the smooth part, flattened to [m, m] (m = θ.size), made nonsingular
    along the softmax's all-classes direction where the gradient is orthogonal to it."""
    xt = problem.xt
    n, k = xt.shape
    pen = problem.penalised.reshape(-1)
    if problem.n_classes == 2:
        p = jax.nn.sigmoid(z)
        hess = xt.T @ (xt * (p * (1 - p) / n)[:, None])
    else:
        c = problem.n_classes
        p = jax.nn.softmax(z, axis=-1)
        # Σ_i (diag(p_i) − p_i p_iᵀ) ⊗ x_i x_iᵀ / n, with θ's (feature, class) order.
        diagonal = jnp.einsum("ij,ic,il->jcl", xt, p / n, xt)  # [k, c, k]
        outer = (xt[:, :, None] * p[:, None, :]).reshape(n, k * c)
        hess = -(outer.T @ (outer / n)).reshape(k, c, k, c)
        eye_c = jnp.eye(c, dtype=z.dtype)
        hess = hess + diagonal[:, :, :, None] * eye_c[None, :, None, :]
        # The all-classes direction: J(θ + v 1ᵀ) = J(θ) for the bias row (v ∈ ℝ), and for
        # every row without a prior; adding a·(1 1ᵀ/C) on those rows' class blocks leaves
        # the step unchanged (the gradient has no component there) and removes the null
        # space. a is H's mean diagonal, so the system keeps H's scale.
        rows = 1 - pen.reshape(k, c)[:, 0] if problem.prior != "none" else jnp.ones(k, z.dtype)
        a = jnp.mean(jnp.diagonal(hess.reshape(k * c, k * c)))
        projector = jnp.full((c, c), 1 / c, z.dtype)
        null = a * jnp.einsum("j,jl,ce->jcle", rows, jnp.eye(k, dtype=z.dtype), projector)
        hess = (hess + null).reshape(k * c, k * c)
    if problem.prior == "gaussian":
        hess = hess + jnp.diag(problem.l2 * pen)
    return hess


# ---------------------------------------------------------------------------
# The solver
# ---------------------------------------------------------------------------


def _stationarity(problem: Problem, theta: jax.Array, grad: jax.Array) -> jax.Array:
    """The minimum-norm subgradient of J (the gradient without a Laplace prior)."""
    if problem.prior != "laplace":
        return grad
    return _minimum_norm_subgradient(grad, theta, problem.l1, problem.penalised)


def _evaluate(problem: Problem, theta: jax.Array, z: jax.Array):
    value = objective(problem, theta, z)
    grad = _smooth_gradient(problem, theta, z)
    norm = jnp.sqrt(jnp.sum(jnp.square(_stationarity(problem, theta, grad))))
    return value, grad, norm


def _direction(problem: Problem, state: State) -> tuple[jax.Array, jax.Array]:
    """The Newton direction Δ and the orthant sign ξ of the line search (0: free sign)."""
    if problem.solver in ("newton_cg", "newton_woodbury"):
        # Smooth problems (no Laplace prior): the same damped system, without forming H.
        tiny = jnp.finfo(state.theta.dtype).tiny ** 0.5
        mu = LEVENBERG * state.grad_norm + tiny
        if problem.solver == "newton_cg":
            step = systems.conjugate_gradient_step(
                problem, state.z, -state.grad, mu, state.grad_norm
            )
        else:
            step = systems.woodbury_step(problem, state.z, -state.grad, mu)
        fallback = -state.grad / (1 + mu)
        step = jnp.where(jnp.all(jnp.isfinite(step)), step, fallback)
        return step, jnp.zeros_like(state.theta)
    theta = state.theta.reshape(-1)
    subgrad = _stationarity(problem, state.theta, state.grad).reshape(-1)
    hess = _hessian(problem, state.z)
    m = theta.size
    dtype = theta.dtype
    scale = jnp.max(jnp.diagonal(hess))
    eps = jnp.finfo(dtype).eps
    mu = LEVENBERG * state.grad_norm + eps * scale + jnp.finfo(dtype).tiny ** 0.5
    hess = hess + mu * jnp.eye(m, dtype=dtype)

    def solve(free: jax.Array) -> jax.Array:
        masked = hess * free[:, None] * free[None, :] + jnp.diag(1 - free)
        step = -jax.scipy.linalg.cho_solve((jnp.linalg.cholesky(masked), True), subgrad * free)
        # A failed factorisation (not expected: the matrix is positive definite) falls
        # back to a gradient step.
        return jnp.where(jnp.all(jnp.isfinite(step)), step, -subgrad * free / (scale + mu))

    if problem.prior != "laplace":
        return solve(jnp.ones(m, dtype)).reshape(state.theta.shape), jnp.zeros_like(state.theta)
    pen = problem.penalised.reshape(-1)
    # Orthant: sign(θ) where θ ≠ 0; −sign(g) for a zero weight that enters (|∂f/∂θ| > λ).
    sign = jnp.where(theta != 0, jnp.sign(theta), -jnp.sign(subgrad)) * pen
    entering = (theta == 0) & (subgrad != 0) & (pen > 0)

    # Free: nonzero weights, entering weights, the bias. An entering weight whose Newton
    # step points out of its orthant would be set back to 0 by the projection, and the
    # step of the others would then be the Newton step of a different model: it leaves the
    # free set and the system is solved again, until every entering weight moves along −g.
    def wrong_way(step: jax.Array, free: jax.Array) -> jax.Array:
        return entering & (free > 0) & (step * sign <= 0)

    def cond(carry):
        step, free, k = carry
        return jnp.any(wrong_way(step, free)) & (k < _MAX_RESOLVES)

    def body(carry):
        step, free, k = carry
        free = jnp.where(wrong_way(step, free), 0, free)
        return solve(free), free, k + 1

    free = ((theta != 0) | entering | (pen == 0)).astype(dtype)
    step, free, _ = jax.lax.while_loop(cond, body, (solve(free), free, jnp.int32(0)))
    step = jnp.where(wrong_way(step, free), 0, step)
    return step.reshape(state.theta.shape), sign.reshape(state.theta.shape)


def _trial(problem: Problem, state: State, step, sign, zstep, t):
    """The trial point at step length t: θ + tΔ, projected on the orthant for Laplace."""
    theta = state.theta + t * step
    if problem.prior != "laplace":
        return theta, state.z + t * zstep
    theta = jnp.where((jnp.sign(theta) != sign) & (problem.penalised > 0), 0, theta)
    return theta, problem.xt @ theta


def _line_search(problem: Problem, state: State, step, sign):
    """Backtracking from t = 1 by halving; returns the accepted point, or the current one
    and ``failed`` when no step length up to 2⁻⁴⁰ satisfies the Armijo condition."""
    eps = jnp.finfo(state.value.dtype).eps
    subgrad = _stationarity(problem, state.theta, state.grad)
    slack = _ROUNDING * eps * jnp.abs(state.value)
    zstep = problem.xt @ step if problem.prior != "laplace" else None

    def accept(theta, z):
        value = objective(problem, theta, z)
        decrease = _ARMIJO * jnp.sum(subgrad * (theta - state.theta))
        ok = jnp.isfinite(value) & (value <= state.value + decrease + slack)
        return ok, value

    def cond(carry):
        ok, k = carry[3], carry[5]
        return ~ok & (k < _MAX_HALVINGS)

    def body(carry):
        t, k = carry[4] / 2, carry[5]
        theta, z = _trial(problem, state, step, sign, zstep, t)
        ok, value = accept(theta, z)
        return theta, z, value, ok, t, k + 1

    # t = 1 is tried before the loop: it is accepted at most steps, and a loop that runs no
    # iteration costs less than one that runs one (though the objective is compiled twice).
    t = jnp.ones((), state.value.dtype)
    theta, z = _trial(problem, state, step, sign, zstep, t)
    ok, value = accept(theta, z)
    carry = jax.lax.while_loop(cond, body, (theta, z, value, ok, t, jnp.int32(0)))
    theta, z, _, ok = carry[:4]
    return theta, z, ok


def solve(problem: Problem, theta0: jax.Array, tol: jax.Array, max_steps: jax.Array) -> State:
    def active(state: State) -> jax.Array:
        return (state.grad_norm > tol) & (state.steps < max_steps) & ~state.stalled

    def body(state: State) -> State:
        step, sign = _direction(problem, state)
        theta, z, ok = _line_search(problem, state, step, sign)
        value, grad, norm = _evaluate(problem, theta, z)
        new = State(theta, z, value, grad, norm, state.steps + 1, state.stalled)
        failed = state._replace(stalled=jnp.ones((), bool))
        new = jax.tree.map(lambda a, b: jnp.where(ok, a, b), new, failed)
        # Under vmap the loop runs while any member is active: the others stay as they are.
        keep = active(state)
        return jax.tree.map(lambda a, b: jnp.where(keep, a, b), new, state)

    z0 = problem.xt @ theta0
    value, grad, norm = _evaluate(problem, theta0, z0)
    state = State(theta0, z0, value, grad, norm, jnp.int32(0), jnp.zeros((), bool))
    return jax.lax.while_loop(active, body, state)
