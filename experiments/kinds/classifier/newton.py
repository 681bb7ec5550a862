r"""Second-order solvers for the MAP logistic-regression objective, and warm-started paths.

The objective is the project's MAP objective (:func:`map_objective`): for weights w ([d],
two classes, sigmoid; [d, C], more, softmax) and bias b (scalar or [C]),

.. math::

    J(w, b) = \frac{1}{n} \sum_i \mathrm{CE}(y_i, x_i^\top w + b) + \frac{1}{n} R(w),
    \qquad R(w) = 0, \quad \frac{\|w\|_2^2}{2\sigma^2}, \quad \text{or} \quad
    \frac{\|w\|_1}{s},

for no prior, a Gaussian prior of scale σ and a Laplace prior of scale s (so the L1
strength is λ = 1/(s n)); the bias is never penalised. It is scikit-learn's
``LogisticRegression`` objective divided by C·n with C = σ² (L2) or C = s (L1).

Methods (the parameters are stacked as θ = [w; b], and H is the Hessian of the smooth part):

- **No prior, Gaussian prior: regularised (Levenberg–Marquardt) Newton with backtracking.**
  The step solves (H + μI) Δ = −∇J by Cholesky, with μ = ν‖∇J‖ (ν = ``LEVENBERG``): μ
  vanishes at the optimum, so convergence stays quadratic (Li, Fukushima, Qi & Yamashita,
  2004), and it bounds the step, ‖Δ‖ ≤ 1/ν, so a problem without a minimiser (separable
  data without a prior) moves a bounded distance per step and never overflows. The step
  length halves until the Armijo condition holds (within the objective's rounding error).
- **Laplace prior: orthant-wise Newton.** At each step the free set F holds the nonzero
  weights, the zero weights whose smooth gradient exceeds λ in magnitude and the bias; the
  step solves (H_FF + μI) Δ_F = −g_F with g the minimum-norm subgradient (below) and
  Δ = 0 off F. A zero weight enters only if its step points along −g; one that points
  the other way is dropped from F and the system solved again (without that, the others
  would take the Newton step of a model in which it moved: on breast_cancer at C = 10 the
  solve took 41 steps instead of 16). The trial points are projected on the orthant of the
  current sign pattern (a weight that would change sign is set to exactly 0), and the step
  length halves until the Armijo condition holds. Once the sign pattern of the solution is
  found this is Newton's method on a smooth problem, so the last steps converge
  quadratically, and the zeros are exact. Measured against a proximal Newton step with a
  coordinate-descent inner solve (glmnet, glum), compiled the same way (a ``fori_loop``
  over coordinates with covariance updates, warm-started along the same breast_cancer
  100-C path to ‖g‖ ≤ 1e-10, float64): 0.82 s and 50,836 inner sweeps (inner tolerance
  1e-12), or 0.65 s with 3 of 100 members short of the tolerance (1e-9, at most 50
  sweeps), against 16 ms here. Coordinate descent needs hundreds of sweeps where H is
  ill-conditioned (eigenvalues from 1e-4 to 13 there), and each sweep is a chain of d
  dependent scalar updates; one masked Cholesky solve does the work of all of them.
- **Softmax.** The (d+1)·C block Hessian is singular along the all-classes direction:
  adding the same vector to every class's parameters leaves the softmax unchanged. The
  gradient is orthogonal to that direction for the bias (always) and for the weights
  without a prior, so a multiple of the projector on it is added to those blocks of H
  before the solve: the system becomes nonsingular and the step is unchanged. Where the
  class sum of θ0 is zero (θ0 = 0) the result is the minimum-norm representative.

Stationarity is measured by ``grad_norm``, the Euclidean norm over the weights and the bias
of the minimum-norm subgradient of J, with g the gradient of the smooth part:

.. math::

    g_i + \lambda \operatorname{sign}(w_i) \ (w_i \ne 0), \qquad
    \operatorname{sign}(g_i) \max(|g_i| - \lambda, 0) \ (w_i = 0), \qquad
    g_b \ \text{(bias)},

which is the gradient without a Laplace prior and 0 exactly at the minimiser (the trainer's
``grad_norm`` metric). A solve stops when it is at most ``tol`` (``tol`` = 0 runs
``max_steps`` steps), after ``max_steps`` steps, or when a step finds no decrease of J at
the working precision (``stalled``). Under ``jax.vmap`` a member that has stopped keeps
its parameters while the others go on.

Every function is pure and jit-able; the dtype of ``x`` (float32 or float64) is the dtype
of every floating-point value computed.

Cost, and the solvers for other shapes: a step forms H, n·m² multiply-adds with m = d + 1
(two classes) or (d + 1)·C (softmax), and factorises it, m³/3, where a gradient step costs
2·n·m; so one Newton step costs about m/2 gradient steps, and H takes m² numbers. That is
the right trade where m is small (tens of parameters) or the problem ill-conditioned:
breast_cancer (569 × 30) reaches ‖g‖ ≤ 1e-10 in at most 16 steps from 0, and a 100-C
warm-started path costs about 2 steps per member. For larger m the same steps are taken
with the system solved another way (``solver``): conjugate gradients with Hessian–vector
products (``newton_cg``, :mod:`.newton_systems`), an n × n system for wide data under a
Gaussian prior (``newton_woodbury``), or working sets of the features under a Laplace prior
(``newton_working_set``, :mod:`.working_set`); :func:`choose_solver` is ``auto``'s rule
(BENCHMARKS.md §3d).

References:
    D.-H. Li, M. Fukushima, L. Qi and N. Yamashita (2004), Regularized Newton methods for
    convex minimization problems with singular solutions, Comput. Optim. Appl. 28, 131–147.
    G. Andrew and J. Gao (2007), Scalable training of L1-regularized log-linear models,
    ICML (the orthant-wise projection).
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from experiments.kinds.classifier import newton_steps as steps
from experiments.kinds.classifier import working_set
from experiments.kinds.classifier.solvers import SOLVERS as SOLVERS  # re-exported
from experiments.kinds.classifier.solvers import check_solver, choose_solver

PRIORS = steps.PRIORS


def resolve_solver(solver: str, x: jax.Array, n_classes: int, prior: str) -> str:
    """``solver``, or ``auto``'s choice for the shape of ``x``."""
    if solver == "auto":
        return choose_solver(x.shape[0], x.shape[1], n_classes, prior)
    check_solver(solver, prior, n_classes)
    return solver


def solve_problem(
    problem: steps.Problem, theta0: jax.Array, tol: jax.Array, max_steps: jax.Array
) -> steps.State:
    """The solve of ``problem`` from θ0 by its solver."""
    if problem.solver == "newton_working_set":
        return working_set.solve(problem, theta0, tol, max_steps)
    return steps.solve(problem, theta0, tol, max_steps)


def solve_from(
    problem: steps.Problem, params0: tuple[ArrayLike, ArrayLike], tol, max_steps
) -> NewtonResult:
    """:func:`newton_solve` of a problem made once (:func:`.newton_steps.make_problem`), from
    ``params0``: what a caller that solves the same data many times (the trainer's chunks)
    uses, so that the features with their column of ones, and the Gram matrix of
    ``newton_woodbury``, are formed once."""
    dtype = problem.xt.dtype
    theta0 = steps.stack(jnp.asarray(params0[0], dtype), jnp.asarray(params0[1], dtype))
    tol = jnp.asarray(tol, dtype)
    state = solve_problem(problem, theta0, tol, jnp.asarray(max_steps, jnp.int32))
    return _result(state, tol)


# ν in μ = ν‖g‖: the Levenberg–Marquardt damping per unit of stationarity. Each step has
# norm at most 1/ν (in the units of the parameters).


class NewtonResult(NamedTuple):
    """The outcome of a solve (each field gains a leading axis per vmapped or path member).

    ``weights`` [d] or [d, C] and ``bias`` [] or [C] are the last iterate; ``steps_taken``
    (int32) the Newton steps applied; ``converged`` (bool) ``grad_norm <= tol``;
    ``grad_norm`` the norm of the minimum-norm subgradient of J there; ``objective`` J
    there; ``stalled`` (bool) the solve stopped because no step length gave a decrease
    (short of ``tol``, before ``max_steps``: the precision of the dtype is exhausted).
    """

    weights: jax.Array
    bias: jax.Array
    steps_taken: jax.Array
    converged: jax.Array
    grad_norm: jax.Array
    objective: jax.Array
    stalled: jax.Array


def map_objective(
    weights: ArrayLike,
    bias: ArrayLike,
    x: ArrayLike,
    y: ArrayLike,
    *,
    prior: str,
    prior_scale: ArrayLike,
) -> jax.Array:
    r"""The MAP objective J(w, b): mean cross-entropy plus the negative log prior over n.

    .. math::

        J(w, b) = \frac{1}{n} \sum_i \mathrm{CE}(y_i, x_i^\top w + b) + \frac{R(w)}{n},
        \qquad R = 0,\ \frac{\|w\|_2^2}{2\sigma^2}\ \text{or}\ \frac{\|w\|_1}{s},

    the same function as the trainer's ``model.map_objective`` with ``loss="ce"``, in the
    dtype of ``x``.

    Args:
        weights: [d] (two classes) or [d, C].
        bias: a scalar or [C].
        x: features [n, d], float32 or float64.
        y: integer labels [n] in 0..C−1.
        prior: ``none``, ``gaussian`` (σ = ``prior_scale``) or ``laplace`` (s = ``prior_scale``).
        prior_scale: the prior's scale (ignored without a prior).

    Returns:
        J, a scalar of the dtype of ``x``.

    Example:
        >>> import jax.numpy as jnp
        >>> x, y = jnp.ones((4, 2)), jnp.array([0, 1, 1, 0])
        >>> map_objective(jnp.zeros(2), jnp.zeros(()), x, y, prior="none", prior_scale=1.0)
        Array(0.6931472, dtype=float32)
    """
    x, dtype = steps.as_features(x)
    theta = steps.stack(jnp.asarray(weights, dtype), jnp.asarray(bias, dtype))
    n_classes = 2 if theta.ndim == 1 else theta.shape[1]
    problem = steps.make_problem(x, y, n_classes, prior, jnp.asarray(prior_scale, dtype))
    return steps.objective(problem, theta, problem.xt @ theta)


def _result(state: steps.State, tol: jax.Array) -> NewtonResult:
    return NewtonResult(
        weights=state.theta[:-1],
        bias=state.theta[-1],
        steps_taken=state.steps,
        converged=state.grad_norm <= tol,
        grad_norm=state.grad_norm,
        objective=state.value,
        stalled=state.stalled,
    )


class PathCarry(NamedTuple):
    """What a path carries from one member to the next: the last two solutions, their log
    scales, and how many members were solved."""

    theta: jax.Array
    previous: jax.Array
    log_scales: jax.Array  # [2]: of previous, then theta
    solved: jax.Array  # int32


def path_carry(theta0: jax.Array) -> PathCarry:
    """The carry before the first member: θ0, nothing solved."""
    return PathCarry(theta0, theta0, jnp.zeros(2, theta0.dtype), jnp.int32(0))


def path_start(problem: steps.Problem, carry: PathCarry, scale: jax.Array) -> jax.Array:
    """The starting point of the next member (of prior scale ``scale``, which ``problem``
    holds): the last
    solution, or from the third member on the secant predictor through the last two (the
    line through them in log scale, at the next scale) where its objective is lower. For a
    Laplace prior the predictor keeps each weight's sign or sets it to 0 (exact zeros stay
    zeros: the solve adds the weights that should enter)."""
    theta, previous, log_scales = carry.theta, carry.previous, carry.log_scales
    log_scale = jnp.log(scale)
    ratio = (log_scale - log_scales[1]) / (log_scales[1] - log_scales[0])
    guess = theta + ratio * (theta - previous)
    if problem.prior == "laplace":
        keep = ((jnp.sign(guess) == jnp.sign(theta)) & (theta != 0)) | (problem.penalised == 0)
        guess = jnp.where(keep, guess, 0)
    value_at = functools.partial(steps.objective, problem)
    better = value_at(guess, problem.xt @ guess) < value_at(theta, problem.xt @ theta)
    return jnp.where((carry.solved >= 2) & better, guess, theta)


def path_advance(carry: PathCarry, solution: jax.Array, scale: jax.Array) -> PathCarry:
    """The carry after the member of prior scale ``scale`` was solved to ``solution``."""
    log_scales = jnp.stack([carry.log_scales[1], jnp.log(scale)])
    return PathCarry(solution, carry.theta, log_scales, carry.solved + 1)


def _initial_theta(params0, x: jax.Array, n_classes: int) -> jax.Array:
    d = x.shape[1]
    shape = (d + 1,) if n_classes == 2 else (d + 1, n_classes)
    if params0 is None:
        return jnp.zeros(shape, x.dtype)
    weights, bias = params0
    theta = steps.stack(jnp.asarray(weights, x.dtype), jnp.asarray(bias, x.dtype))
    if theta.shape != shape:
        raise ValueError(
            f"params0 must be weights of shape {(d, *shape[1:])} and a bias of shape "
            f"{shape[1:]}; got {jnp.shape(weights)} and {jnp.shape(bias)}"
        )
    return theta


def newton_solve(
    x: ArrayLike,
    y: ArrayLike,
    *,
    n_classes: int,
    prior: str,
    prior_scale: ArrayLike,
    tol: ArrayLike,
    max_steps: int | ArrayLike,
    params0: tuple[ArrayLike, ArrayLike] | None = None,
    solver: str = "newton",
) -> NewtonResult:
    r"""Minimises the MAP objective J(w, b) by (orthant-wise) regularised Newton steps.

    .. math::

        \min_{w, b}\ \frac{1}{n} \sum_i \mathrm{CE}(y_i, x_i^\top w + b) + \frac{R(w)}{n},

    with R as in :func:`map_objective`. Steps solve (H + μI)Δ = −g with μ = ν‖g‖ and
    backtrack until J decreases enough; for a Laplace prior the system is restricted to the
    free coordinates and the trial points are projected on the current orthant, which
    leaves exact zeros (see the module docstring). The solve stops when the minimum-norm
    subgradient norm is at most ``tol``, after ``max_steps`` steps, or when no step
    decreases J at the working precision.

    ``n_classes`` and ``prior`` are static: they select the program. Everything else may
    be traced (``max_steps`` too), so ``jax.jit(newton_solve, static_argnames=("n_classes",
    "prior"))`` compiles once per shape and dtype, and ``jax.vmap`` batches over scales,
    tolerances, starting points or data sets.

    Args:
        x: features [n, d], float32 or float64: the dtype of every result.
        y: integer labels [n] in 0..``n_classes``−1.
        n_classes: 2 (one logit, sigmoid: weights [d], scalar bias) or more (softmax:
            weights [d, C], bias [C]).
        prior: ``none``, ``gaussian`` or ``laplace``.
        prior_scale: σ (Gaussian) or s (Laplace), > 0; ignored without a prior.
        tol: stop when the minimum-norm subgradient norm is at most ``tol`` (0: run
            ``max_steps`` steps, or until no step decreases J).
        max_steps: the most Newton steps (an int, or an int32 scalar that may be traced).
        params0: the starting point ``(weights, bias)``; zeros when None.
        solver: how each step's system is solved (static): ``newton`` (H formed and
            factorised), ``newton_cg``, ``newton_woodbury``, ``newton_working_set`` (see
            :mod:`.newton_systems` and :mod:`.working_set`), or ``auto``
            (:func:`choose_solver`). They take the same steps, up to how exactly the system
            is solved, and stop on the same rule.

    Returns:
        A :class:`NewtonResult`. Without a minimiser (separable data, no prior) the
        parameters grow by at most 1/ν per step and stay finite; ``converged`` is False.

    Example:
        >>> import jax.numpy as jnp
        >>> x = jnp.array([[0.0], [1.0], [2.0], [3.0]])
        >>> y = jnp.array([0, 1, 0, 1])
        >>> result = newton_solve(x, y, n_classes=2, prior="gaussian", prior_scale=1.0,
        ...                       tol=1e-6, max_steps=20)
        >>> bool(result.converged), int(result.steps_taken)
        (True, 3)
        >>> result.weights, result.bias
        (Array([0.45287...], dtype=float32), Array(-0.67931..., dtype=float32))
    """
    x, dtype = steps.as_features(x)
    solver = resolve_solver(solver, x, n_classes, prior)
    problem = steps.make_problem(x, y, n_classes, prior, prior_scale, solver)
    theta0 = _initial_theta(params0, x, n_classes)
    tol = jnp.asarray(tol, dtype)
    max_steps = jnp.asarray(max_steps, jnp.int32)
    return _result(solve_problem(problem, theta0, tol, max_steps), tol)


def newton_path(
    x: ArrayLike,
    y: ArrayLike,
    prior_scales: ArrayLike,
    *,
    n_classes: int,
    prior: str,
    tol: ArrayLike,
    max_steps: int | ArrayLike,
    params0: tuple[ArrayLike, ArrayLike] | None = None,
    solver: str = "newton",
) -> NewtonResult:
    r"""Solves J for a sequence of prior scales, each solve started at the previous solution.

    .. math::

        \hat\theta_k = \operatorname{newton\steps.solve}(s_k;\ \theta_0 = \hat\theta_{k-1}),
        \qquad \hat\theta_{-1} = \theta_0,

    a ``lax.scan`` along ``prior_scales`` (in the order given: ascending scales, from the
    strongest prior to the weakest, is glmnet's order and the one whose warm starts help
    most). From the third member on, the start is the secant predictor through the last
    two solutions (linear in log scale; for a Laplace prior no weight changes sign and zeros
    stay zero) when its objective is lower than the last solution's. Each member meets the
    same stopping rule as its own cold :func:`newton_solve`, so it agrees with it to within
    what ``tol`` allows. The function is pure: ``jax.vmap`` over data sets, seeds or chunks
    of the scales works.

    Args:
        x: features [n, d], float32 or float64.
        y: integer labels [n].
        prior_scales: [S] prior scales (σ or s), > 0.
        n_classes: as for :func:`newton_solve`.
        prior: ``gaussian`` or ``laplace`` (``none`` solves the same problem S times).
        tol: the stopping tolerance of every member.
        max_steps: the most Newton steps of every member.
        params0: the starting point of the first member; zeros when None.
        solver: as for :func:`newton_solve`.

    Returns:
        A :class:`NewtonResult` whose fields have a leading axis of length S.

    Example:
        >>> import jax.numpy as jnp
        >>> x = jnp.array([[0.0], [1.0], [2.0], [3.0]])
        >>> y = jnp.array([0, 1, 0, 1])
        >>> path = newton_path(x, y, jnp.array([0.1, 1.0, 10.0]), n_classes=2,
        ...                    prior="laplace", tol=1e-6, max_steps=20)
        >>> path.weights  # exact zeros under the strong priors
        Array([[0.       ],
               [0.       ],
               [0.79537...]], dtype=float32)
        >>> path.steps_taken  # the second member starts at its solution
        Array([0, 0, 3], dtype=int32)
    """
    x, dtype = steps.as_features(x)
    scales = jnp.asarray(prior_scales, dtype)
    if scales.ndim != 1:
        raise ValueError(f"prior_scales must be [S]; got shape {scales.shape}")
    solver = resolve_solver(solver, x, n_classes, prior)
    problem = steps.make_problem(x, y, n_classes, prior, jnp.ones((), dtype), solver)
    theta0 = _initial_theta(params0, x, n_classes)
    tol = jnp.asarray(tol, dtype)
    max_steps = jnp.asarray(max_steps, jnp.int32)

    def member(carry: PathCarry, scale):
        member_problem = steps.with_scale(problem, scale)
        start = path_start(member_problem, carry, scale)
        state = solve_problem(member_problem, start, tol, max_steps)
        return path_advance(carry, state.theta, scale), _result(state, tol)

    return jax.lax.scan(member, path_carry(theta0), scales)[1]
