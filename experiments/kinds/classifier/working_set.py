r"""Laplace-prior solves on a working set of the features: ``newton_working_set``.

Under a Laplace prior most weights of a wide problem are exactly 0 at the solution, and a
zero weight stays 0 as long as its smooth gradient is at most λ in magnitude (its KKT
condition). The solve therefore works on a set of at most K features:

1. the set holds every nonzero weight and, ranked by how much they violate their KKT
   condition |∂f/∂w_j| ≤ λ, the zero weights that violate it most (K at most; a zero weight
   that does not violate it is left out);
2. the orthant-wise Newton solve of :mod:`.newton_steps` runs on those columns only, an
   n × (K + 1) problem whose Hessian costs n·K² instead of n·d²;
3. the full minimum-norm subgradient (one product Xᵀr) certifies the answer: the solve
   stops once its norm is at most ``tol``, over all d features, and otherwise grows the set
   with the new violators and goes on from where it is.

K is static (it sizes the gathered columns): min(d, 2n) by default, since a Laplace-prior
solution has at most n nonzero weights (Rosset, Zhu & Hastie 2004) and the set also holds
the weights about to enter. This is the working-set scheme of glmnet's strong rules and of
celer and skglm (Massias, Gramfort & Salmon 2018), with the KKT check in place of a
duality-gap certificate: ``tol`` bounds the same stationarity measure as every other solver.

References:
    R. Tibshirani et al. (2012), Strong rules for discarding predictors in lasso-type
    problems, J. R. Stat. Soc. B 74, 245–266.
    M. Massias, A. Gramfort and J. Salmon (2018), Celer: a fast solver for the lasso with
    dual extrapolation, ICML.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from experiments.kinds.classifier import newton_steps as steps

_MAX_ROUNDS = 64  # set updates per solve; each adds at least one violator or stops


def capacity(n: int, d: int) -> int:
    """K, the most features a working set holds: min(d, 2n)."""
    return min(d, 2 * n)


def _select(problem: steps.Problem, theta: jax.Array, grad: jax.Array, size: int):
    """The working set: indices [K] and which are used, nonzero weights first, then the zero
    weights by their KKT violation |g_j| − λ > 0."""
    weights, g = theta[:-1], grad[:-1]
    violation = jnp.abs(g) - problem.l1
    priority = jnp.where(weights != 0, jnp.inf, violation)
    values, index = jax.lax.top_k(priority, size)
    return index, values > 0


def _restricted(problem: steps.Problem, index: jax.Array, used: jax.Array) -> steps.Problem:
    """The problem on the working set's columns (unused slots are zero columns, whose
    weights stay 0), with the bias last."""
    columns = problem.xt[:, index] * used.astype(problem.xt.dtype)
    xt = jnp.concatenate([columns, problem.xt[:, -1:]], axis=1)
    penalised = jnp.concatenate([jnp.ones_like(index, problem.xt.dtype), jnp.zeros(1, xt.dtype)])
    return problem._replace(xt=xt, penalised=penalised, solver="newton")


def _full_state(problem: steps.Problem, theta: jax.Array, steps_taken, stalled) -> steps.State:
    z = problem.xt @ theta
    value, grad, norm = steps._evaluate(problem, theta, z)
    return steps.State(theta, z, value, grad, norm, steps_taken, stalled)


def solve(
    problem: steps.Problem, theta0: jax.Array, tol: jax.Array, max_steps: jax.Array
) -> steps.State:
    """The orthant-wise Newton solve of the full problem, run on working sets; the returned
    state is the full problem's (its ``grad_norm`` over every feature)."""
    n, k = problem.xt.shape
    size = capacity(n, k - 1)

    def active(carry) -> jax.Array:
        state, rounds = carry
        return (
            (state.grad_norm > tol)
            & (state.steps < max_steps)
            & ~state.stalled
            & (rounds < _MAX_ROUNDS)
        )

    def body(carry):
        state, rounds = carry
        index, used = _select(problem, state.theta, state.grad, size)
        sub = _restricted(problem, index, used)
        start = jnp.concatenate([state.theta[index] * used, state.theta[-1:]])
        inner = steps.solve(sub, start, tol, max_steps - state.steps)
        weights = jnp.zeros(k - 1, start.dtype).at[index].add(inner.theta[:-1] * used)
        theta = jnp.concatenate([weights, inner.theta[-1:]])
        new = _full_state(problem, theta, state.steps + inner.steps, state.stalled)
        # No progress on this set (nothing entered, nothing moved): the precision is spent.
        stuck = (inner.steps == 0) | (inner.stalled & (new.value >= state.value))
        new = new._replace(stalled=stuck & (new.grad_norm > tol))
        keep = active(carry)
        return jax.tree.map(lambda a, b: jnp.where(keep, a, b), new, state), rounds + 1

    start = _full_state(problem, theta0, jnp.int32(0), jnp.zeros((), bool))
    return jax.lax.while_loop(active, body, (start, jnp.int32(0)))[0]
