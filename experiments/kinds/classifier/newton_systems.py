r"""How a Newton step's linear system is solved, for each shape of data.

Every solver of :mod:`experiments.kinds.classifier.newton` takes the same regularised
Newton step, (H + μI) Δ = −g with μ = ν‖g‖ (see :mod:`.newton_steps`); they differ in how
that system is solved, which decides what a step costs. With n rows, m = d + 1 parameters
per class and C classes (C = 1 for two):

- ``newton``: H formed and factorised by Cholesky, n·(mC)² + (mC)³/3 multiply–adds. Exact;
  the right tool when mC is small (breast_cancer, m = 31) or the problem ill-conditioned.
- ``newton_cg``: conjugate gradients on the system with Hessian–vector products,
  Hv = X̃ᵀ(D ⊙ X̃v)/n + (σ⁻²/n)·v (D the logistic or softmax curvature), 2·n·mC per
  iteration, H never formed; diagonally preconditioned, stopped at a relative residual
  η = min(½, √‖g‖) (a truncated Newton method: Dembo, Eisenstat & Steihaug, 1982), which keeps
  the outer convergence superlinear. The right tool for tall data, and for softmax
  where (mC)² is large.
- ``newton_woodbury``: two classes, a Gaussian prior and d > n. The weights' block
  A = XᵀWX + αI (α = σ⁻²/n + μ) is inverted through the n × n system
  αI + W^{1/2} G W^{1/2} with the Gram matrix G = XXᵀ formed once per problem
  (Woodbury's identity), and the unpenalised bias is eliminated exactly by its Schur
  complement; a step costs 4·n·d + n³/3 instead of n·d² + d³/3.

References:
    R. S. Dembo, S. C. Eisenstat and T. Steihaug (1982), Inexact Newton methods, SIAM J.
    Numer. Anal. 19, 400–408.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

_CG_MAX_ITERATIONS = 200  # per Newton step; the forcing term usually stops CG in 5–30


def transpose_times(x: jax.Array, r: jax.Array) -> jax.Array:
    """Xᵀr for X [n, k] and r [n] or [n, C], written as rᵀX: XLA's CPU matrix–vector product
    with a transposed matrix reads X column by column, 13× slower at 20,000 × 201."""
    return r @ x if r.ndim == 1 else (r.T @ x).T


def curvature(problem, z: jax.Array) -> jax.Array:
    """The per-row curvature of mean CE: p(1 − p)/n ([n], two classes), or p/n ([n, C],
    softmax, whose Hessian–vector product also subtracts p·(pᵀu)/n)."""
    n = z.shape[0]
    if problem.n_classes == 2:
        p = jax.nn.sigmoid(z)
        return p * (1 - p) / n
    return jax.nn.softmax(z, axis=-1) / n


def _hessian_vector(problem, z: jax.Array, weight: jax.Array, mu: jax.Array, v: jax.Array):
    """(H + μI) v without H; v in θ's shape."""
    xt = problem.xt
    u = xt @ v
    if problem.n_classes == 2:
        hv = transpose_times(xt, weight * u)
    else:
        pu = weight * u  # [n, C]: p_ic u_ic / n
        p = jax.nn.softmax(z, axis=-1)
        hv = transpose_times(xt, pu - p * jnp.sum(pu, axis=-1, keepdims=True))
        hv = hv + _null_direction(problem) * jnp.mean(v, axis=-1, keepdims=True)
    return hv + (problem.l2 * problem.penalised + mu) * v


def _null_direction(problem) -> jax.Array:
    """Softmax: the rows along whose all-classes direction J is flat (the bias; every row
    without a prior), [m, 1]. Adding the direction's projector (times the Hessian's scale,
    1/4) to the system leaves the step unchanged and makes CG's system nonsingular, as
    :func:`.newton_steps._hessian` does for the dense one."""
    if problem.prior == "none":
        return jnp.full((problem.xt.shape[1], 1), 0.25, problem.xt.dtype)
    return 0.25 * (1 - problem.penalised[:, :1])


def _diagonal(problem, z: jax.Array, weight: jax.Array, mu: jax.Array) -> jax.Array:
    """The diagonal of H + μI (the CG preconditioner), in θ's shape."""
    squares = jnp.square(problem.xt)
    if problem.n_classes == 2:
        diagonal = transpose_times(squares, weight)
    else:
        p = jax.nn.softmax(z, axis=-1)
        diagonal = transpose_times(squares, weight * (1 - p))
        diagonal = diagonal + _null_direction(problem) / problem.n_classes
    return diagonal + problem.l2 * problem.penalised + mu


def conjugate_gradient_step(problem, z: jax.Array, rhs: jax.Array, mu: jax.Array, grad_norm):
    """Δ ≈ (H + μI)⁻¹ rhs by preconditioned conjugate gradients from 0, stopped once the
    residual is at most η‖rhs‖, η = min(½, √‖g‖), or after ``_CG_MAX_ITERATIONS``.

    The preconditioner is the diagonal of H + μI (a subsampled Hessian, tried on tall
    standardized data, took twice the iterations). Any number of iterations gives a descent
    direction (CG from 0 on
    a positive definite system), so the line search that follows always finds a decrease.
    """
    weight = curvature(problem, z)
    inverse_diagonal = 1 / _diagonal(problem, z, weight, mu)
    product = lambda v: _hessian_vector(problem, z, weight, mu, v)  # noqa: E731
    dot = lambda a, b: jnp.sum(a * b)  # noqa: E731
    threshold = jnp.square(jnp.minimum(0.5, jnp.sqrt(grad_norm))) * dot(rhs, rhs)

    def cond(carry):
        _, residual, _, _, k = carry
        return (dot(residual, residual) > threshold) & (k < _CG_MAX_ITERATIONS)

    def body(carry):
        x, residual, direction, rz, k = carry
        hd = product(direction)
        curvature_along = dot(direction, hd)
        alpha = jnp.where(curvature_along > 0, rz / curvature_along, 0)
        x = x + alpha * direction
        residual = residual - alpha * hd
        preconditioned = inverse_diagonal * residual
        rz_next = dot(residual, preconditioned)
        beta = jnp.where(rz > 0, rz_next / rz, 0)
        return x, residual, preconditioned + beta * direction, rz_next, k + 1

    preconditioned = inverse_diagonal * rhs
    start = (jnp.zeros_like(rhs), rhs, preconditioned, dot(rhs, preconditioned), jnp.int32(0))
    return jax.lax.while_loop(cond, body, start)[0]


def woodbury_step(problem, z: jax.Array, rhs: jax.Array, mu: jax.Array) -> jax.Array:
    r"""Δ = (H + μI)⁻¹ rhs for two classes and a Gaussian prior, through n × n systems.

    With W = diag(p(1 − p)/n), α = σ⁻²/n + μ and θ = [w; b]:

    .. math::

        H + \mu I = \begin{pmatrix} A & c \\ c^\top & s \end{pmatrix}, \quad
        A = X^\top W X + \alpha I, \quad c = X^\top W 1, \quad s = 1^\top W 1 + \mu,

        A^{-1} v = \frac{1}{\alpha}\bigl(v - X^\top S M^{-1} S X v\bigr), \quad
        M = \alpha I_n + S G S, \quad S = W^{1/2},

        \Delta_b = \frac{r_b - c^\top A^{-1} r_w}{s - c^\top A^{-1} c}, \qquad
        \Delta_w = A^{-1} r_w - A^{-1} c\, \Delta_b.
    """
    x = problem.xt[:, :-1]
    weight = curvature(problem, z)
    root = jnp.sqrt(weight)
    alpha = problem.l2 + mu
    n = x.shape[0]
    system = alpha * jnp.eye(n, dtype=x.dtype) + root[:, None] * problem.gram * root[None, :]
    factor = jnp.linalg.cholesky(system)
    columns = jnp.stack([rhs[:-1], transpose_times(x, weight)], axis=1)  # [r_w, c]
    projected = root[:, None] * (x @ columns)
    inner = root[:, None] * jax.scipy.linalg.cho_solve((factor, True), projected)
    solved = (columns - transpose_times(x, inner)) / alpha  # [A⁻¹ r_w, A⁻¹ c]
    c = columns[:, 1]
    schur = jnp.sum(weight) + mu - jnp.dot(c, solved[:, 1])
    step_bias = (rhs[-1] - jnp.dot(c, solved[:, 0])) / schur
    step_weights = solved[:, 0] - solved[:, 1] * step_bias
    return jnp.concatenate([step_weights, step_bias[None]])
