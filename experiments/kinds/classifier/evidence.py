r"""The evidence of a prior scale, and hypergradients through the MAP solve.

Bayes' rule for the parameters θ = (w, b) of a logistic-regression model m with a prior
p(θ | σ) of scale σ reads

.. math::

    p(\theta \mid D, \sigma) = \frac{p(D \mid \theta)\, p(\theta \mid \sigma)}
    {p(D \mid \sigma)}, \qquad
    p(D \mid \sigma) = \int p(D \mid \theta)\, p(\theta \mid \sigma)\, d\theta .

The MAP fit maximises the numerator over θ: the denominator, the *evidence* (marginal
likelihood) of the model, does not depend on θ, so it drops out of the argmax over θ. It
does depend on the prior's scale, and maximising it over σ ("type-II maximum likelihood")
is MacKay's evidence framework: the data choose the prior, with no held-out set. The
integral has no closed form for a logistic likelihood; the Laplace approximation replaces
the log posterior by its second-order expansion at the MAP θ*, which gives

.. math::

    \log p(D \mid \sigma) \approx L(\theta^*) + \log p(w^* \mid \sigma)
        + \frac{m}{2} \log 2\pi - \frac{1}{2} \log\det A, \qquad
    A = -\nabla^2_\theta \log p(\theta \mid D, \sigma)\big|_{\theta^*},

with L the summed log-likelihood and m the number of integrated coordinates (the Gaussian
prior's own normaliser cancels all but the intercepts' share of the 2π terms: see
:func:`laplace_log_evidence`). The intercepts have a flat prior of unit density.

Functions:

- :func:`log_evidence_at` and :func:`log_evidence`: that formula at a given MAP fit, or
  after solving for it (:mod:`~experiments.kinds.classifier.newton`).
- :func:`map_weights`: the MAP solution as a differentiable function of the prior scale
  and the features, by implicit differentiation (one linear solve with the Hessian at the
  solution; no derivative passes through the Newton iterations).
- :func:`~experiments.kinds.classifier.scale_search.select_evidence` and
  :func:`~experiments.kinds.classifier.scale_search.select_evidence_ard` (in
  :mod:`~experiments.kinds.classifier.scale_search`): the σ of largest evidence, and one
  σ_j per feature.

Everything is pure JAX in the dtype of ``x`` (float32 or float64) and works under
``jax.jit`` (with ``n_classes`` given), ``jax.vmap`` and ``jax.grad``.

Numerics: the evidence is computed in whitened coordinates u = w/σ, where the Hessian is
A_u = D A D = I + D H D (D = diag(σ on the weights, 1 on the intercepts)); then
log det A = log det A_u − 2 Σ log σ_j exactly, and the factorisation stays well
conditioned from σ → 0 (A_u → I on the weights) to large σ.

References:
    D. J. C. MacKay (1992), The evidence framework applied to classification networks,
    Neural Computation 4, 720–736.
    M. E. Tipping (2001), Sparse Bayesian learning and the relevance vector machine,
    JMLR 1, 211–244 (ARD).
"""

from __future__ import annotations

import functools
import math
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

from experiments.kinds.classifier import newton
from experiments.kinds.classifier import newton_steps as steps

__all__ = [
    "DEFAULT_TOL",
    "laplace_log_evidence",
    "log_evidence",
    "log_evidence_at",
    "map_weights",
]

# The MAP solve's default tolerance on the subgradient norm per precision, as
# experiments.fit.DEFAULT_TOL (a copy: this module sits below fit in the layering).
DEFAULT_TOL = {"float32": 1e-5, "float64": 1e-10}
_MAX_STEPS = 100
_LOG_2PI = math.log(2 * math.pi)


# ---------------------------------------------------------------------------
# Arguments
# ---------------------------------------------------------------------------


def _n_classes(y: ArrayLike, n_classes: int | None) -> int:
    """``n_classes``, or max(y) + 1 (at least 2) read from a concrete y."""
    if n_classes is not None:
        return int(n_classes)
    try:
        labels = np.asarray(y)
    except (jax.errors.TracerArrayConversionError, jax.errors.ConcretizationTypeError):
        raise ValueError(
            "n_classes: cannot be inferred from traced labels (inside jax.jit); pass it"
        ) from None
    return max(int(labels.max()) + 1, 2)


def _tol(tol: ArrayLike | None, dtype) -> jax.Array:
    if tol is None:
        tol = DEFAULT_TOL[jnp.dtype(dtype).name]
    return jnp.asarray(tol, dtype)


def _theta0(params0, d: int, n_classes: int, dtype) -> jax.Array:
    shape = (d + 1,) if n_classes == 2 else (d + 1, n_classes)
    if params0 is None:
        return jnp.zeros(shape, dtype)
    weights, bias = params0
    return steps.stack(jnp.asarray(weights, dtype), jnp.asarray(bias, dtype)).reshape(shape)


# ---------------------------------------------------------------------------
# The Laplace evidence
# ---------------------------------------------------------------------------


def laplace_log_evidence(
    log_likelihood: ArrayLike,
    weights: ArrayLike,
    log_det: ArrayLike,
    *,
    scale: ArrayLike,
    n_flat: int,
) -> jax.Array:
    r"""The Laplace log evidence from its parts, for a N(0, σ_j²) prior on each weight.

    .. math::

        \log p(D \mid \sigma) \approx L(\theta^*) - \sum_j \frac{w_j^{*2}}{2\sigma_j^2}
            - \sum_j \log \sigma_j + \frac{k}{2} \log 2\pi - \frac{1}{2} \log\det A,

    with k = ``n_flat`` coordinates (intercepts) under a flat prior of unit density: the
    Laplace integral over the d + k coordinates gives (d + k)/2 · log 2π and the Gaussian
    prior's normaliser takes d/2 · log 2π away. The formula is exact where the log
    posterior is quadratic (a Gaussian likelihood linear in θ).

    Args:
        log_likelihood: L(θ*), the summed log-likelihood at the mode.
        weights: w*, the weights under the Gaussian prior (any shape).
        log_det: log det A, A the Hessian of the negative log posterior at the mode over
            the d weights and the k flat coordinates.
        scale: σ, broadcastable to the shape of ``weights`` (a scalar, or one per weight).
        n_flat: k, the number of coordinates with a flat prior.

    Returns:
        The log evidence (nats), a scalar.

    Example:
        >>> import jax.numpy as jnp
        >>> value = laplace_log_evidence(-3.0, jnp.array([1.0, 2.0]), 0.5, scale=2.0,
        ...                              n_flat=1)
        >>> round(float(value), 4)
        -4.3424
    """
    weights = jnp.asarray(weights)
    scale = jnp.broadcast_to(jnp.asarray(scale, weights.dtype), weights.shape)
    prior = -jnp.sum(jnp.square(weights / scale)) / 2 - jnp.sum(jnp.log(scale))
    return log_likelihood + prior + n_flat / 2 * _LOG_2PI - jnp.asarray(log_det) / 2


def _likelihood_hessian(xt: jax.Array, z: jax.Array, n_classes: int) -> jax.Array:
    """The Hessian of the summed cross-entropy in θ = [w; b], flattened to [m, m]
    (θ's (feature, class) order for a softmax)."""
    if n_classes == 2:
        curvature = jax.nn.sigmoid(z) * jax.nn.sigmoid(-z)  # p(1 − p) without cancellation
        return xt.T @ (xt * curvature[:, None])
    n, k = xt.shape
    c = n_classes
    p = jax.nn.softmax(z, axis=-1)
    diagonal = jnp.einsum("ij,ic,il->jcl", xt, p, xt)  # [k, c, k]
    outer = (xt[:, :, None] * p[:, None, :]).reshape(n, k * c)
    hess = -(outer.T @ outer).reshape(k, c, k, c)
    hess = hess + diagonal[:, :, :, None] * jnp.eye(c, dtype=z.dtype)[None, :, None, :]
    return hess.reshape(k * c, k * c)


class _Parts(NamedTuple):
    log_likelihood: jax.Array
    weights: jax.Array
    scale: jax.Array  # broadcast to the weights' shape
    likelihood_hessian: jax.Array  # D H D over the integrated coordinates
    penalised: jax.Array  # 1 on the weights, 0 on the intercepts, over those coordinates
    n_flat: int


def _parts(x, y, weights, bias, scale, n_classes: int) -> _Parts:
    """The log-likelihood and the whitened likelihood Hessian D H D at (w, b), over the
    integrated coordinates (the last class's intercept dropped for a softmax)."""
    x, dtype = steps.as_features(x)
    n, d = x.shape
    weights = jnp.asarray(weights, dtype)
    bias = jnp.asarray(bias, dtype)
    scale = jnp.asarray(scale, dtype)
    per_feature = jnp.broadcast_to(scale, (d,))
    xt = jnp.concatenate([x, jnp.ones((n, 1), dtype)], axis=1)
    z = xt @ steps.stack(weights, bias)
    y = jnp.asarray(y)
    if n_classes == 2:
        picked = jnp.where(y == 1, jax.nn.log_sigmoid(z), jax.nn.log_sigmoid(-z))
        log_likelihood = jnp.sum(picked)  # no 0 · (−inf) for a saturated logit
        weight_scale = per_feature
    else:
        log_p = jax.nn.log_softmax(z, axis=-1)
        log_likelihood = jnp.sum(jnp.take_along_axis(log_p, y.astype(jnp.int32)[:, None], 1))
        weight_scale = jnp.broadcast_to(per_feature[:, None], weights.shape)
    whitened = jnp.concatenate([x * per_feature, jnp.ones((n, 1), dtype)], axis=1)
    hess = _likelihood_hessian(whitened, z, n_classes)
    shape = (d + 1,) if n_classes == 2 else (d + 1, n_classes)
    rows = jnp.arange(d + 1).reshape((d + 1,) + (1,) * (len(shape) - 1))
    penalised = jnp.broadcast_to(rows < d, shape).astype(dtype).reshape(-1)
    n_flat = 1
    if n_classes > 2:  # the last class's intercept is the reference: b_C = 0
        hess, penalised, n_flat = hess[:-1, :-1], penalised[:-1], n_classes - 1
    return _Parts(log_likelihood, weights, weight_scale, hess, penalised, n_flat)


def _evidence_and_gamma(parts: _Parts) -> tuple[jax.Array, jax.Array]:
    """The log evidence, and γ_j = (A_u⁻¹ D H D)_jj per weight coordinate (MacKay's
    well-determined parameters: 1 − σ_j⁻² (A⁻¹)_jj, without the cancellation)."""
    whitened = parts.likelihood_hessian + jnp.diag(parts.penalised)
    chol = jnp.linalg.cholesky(whitened)
    log_det = 2 * jnp.sum(jnp.log(jnp.diagonal(chol))) - 2 * jnp.sum(jnp.log(parts.scale))
    value = laplace_log_evidence(
        parts.log_likelihood, parts.weights, log_det, scale=parts.scale, n_flat=parts.n_flat
    )
    solved = jax.scipy.linalg.cho_solve((chol, True), parts.likelihood_hessian)
    gamma = jnp.clip(jnp.diagonal(solved), 0, 1) * parts.penalised
    return value, gamma


def log_evidence_at(
    x: ArrayLike,
    y: ArrayLike,
    weights: ArrayLike,
    bias: ArrayLike,
    *,
    scale: ArrayLike,
    n_classes: int,
) -> jax.Array:
    r"""The Laplace log evidence (nats) of a Gaussian-prior fit, at its MAP (w*, b).

    .. math::

        \log p(D \mid \sigma) \approx L(\theta^*) - \frac{\|w^*\|^2}{2\sigma^2}
            - d \log\sigma + \frac{k}{2} \log 2\pi - \frac{1}{2} \log\det A,
        \qquad A = \nabla^2_\theta \Big[\sum_i \mathrm{CE}_i + \frac{\|w\|^2}{2\sigma^2}
            \Big]_{\theta^*} = n \nabla^2 J,

    with L the summed log-likelihood, d the number of weights and k the number of free
    intercepts (flat prior of unit density), so the formula has k/2 · log 2π in all.

    - **Two classes** (sigmoid): d weights, k = 1, A over the d + 1 coordinates (w, b).
    - **Softmax, C classes**: all C·d weights are penalised (d·C in the sum and in
      d log σ); the intercepts are identified by fixing the last class's, b_C = 0, so
      k = C − 1 and A is over the C·d weights and b_1..b_{C−1} (θ's (feature, class) order,
      the last coordinate dropped). Adding a constant to every intercept leaves the
      likelihood unchanged, so this is the only null direction of the full Hessian, and
      dropping any one intercept gives the same log det (pdet(A_full)/C); b may be any
      representative (its class mean is not used).

    The intercept's curvature must be positive (it is, unless every probability rounds to
    0 or 1). log det A comes from a Cholesky factor in whitened coordinates (see the module
    docstring). Differentiable in every argument.

    Args:
        x: features [n, d], float32 or float64 (the dtype of the result).
        y: integer labels [n] in 0..C−1.
        weights: w*, [d] (two classes) or [d, C].
        bias: b, a scalar or [C].
        scale: σ > 0, a scalar or one per feature ([d], shared by the classes; ARD).
        n_classes: C (static).

    Returns:
        The log evidence, a scalar. It is the Laplace approximation only at the mode of
        the posterior of that σ (:func:`log_evidence` solves for it).

    Example:
        >>> import jax.numpy as jnp
        >>> x, y = jnp.array([[0.0], [1.0], [2.0], [3.0]]), jnp.array([0, 1, 0, 1])
        >>> w, b = map_weights(x, y, prior="gaussian", scale=1.0)
        >>> round(float(log_evidence_at(x, y, w, b, scale=1.0, n_classes=2)), 4)
        -1.9761
    """
    return _evidence_and_gamma(_parts(x, y, weights, bias, scale, n_classes))[0]


# ---------------------------------------------------------------------------
# The MAP solution as a differentiable function (implicit differentiation)
# ---------------------------------------------------------------------------


def _support_gradient(n_classes, prior, x, y, scale, theta) -> jax.Array:
    """∇_θ J at θ: the smooth part, plus λ sign(w) on the nonzero weights (Laplace)."""
    problem = steps.make_problem(x, y, n_classes, prior, scale)
    grad = steps._smooth_gradient(problem, theta, problem.xt @ theta)
    if prior == "laplace":
        grad = grad + problem.l1 * problem.penalised * jnp.sign(theta)
    return grad


def _implicit_tangent(n_classes, prior, x, y, scale, theta, dx, dscale) -> jax.Array:
    """dθ* = −H_FF⁻¹ (∂∇_θJ/∂(x, σ)) · (dx, dσ) on the free set F (all coordinates, or the
    nonzero weights and the intercepts for a Laplace prior; 0 elsewhere)."""

    def gradient(x, scale):
        return _support_gradient(n_classes, prior, x, y, scale, theta)

    _, dgrad = jax.jvp(gradient, (x, scale), (dx, dscale))
    problem = steps.make_problem(x, y, n_classes, prior, scale)
    # The solver's Hessian: the softmax null directions (the intercepts' common shift; every
    # row's without a prior) are filled by a projector, which leaves the solution along the
    # range unchanged because dgrad is orthogonal to them.
    hess = steps._hessian(problem, problem.xt @ theta)
    flat = theta.reshape(-1)
    if prior == "laplace":
        free = ((flat != 0) | (problem.penalised.reshape(-1) == 0)).astype(flat.dtype)
        hess = hess * free[:, None] * free[None, :] + jnp.diag(1 - free)
    else:
        free = jnp.ones_like(flat)
    chol = jnp.linalg.cholesky(hess)
    dtheta = -jax.scipy.linalg.cho_solve((chol, True), dgrad.reshape(-1) * free) * free
    return dtheta.reshape(theta.shape)


@functools.partial(jax.custom_jvp, nondiff_argnums=(0, 1, 2))
def _solution(n_classes, prior, max_steps, x, y, scale, tol, theta0):
    """The MAP θ* = [w; b] by :func:`newton.newton_solve` started at θ0, and the Newton
    steps it took (int32)."""
    result = newton.newton_solve(
        x,
        y,
        n_classes=n_classes,
        prior=prior,
        prior_scale=scale,
        tol=tol,
        max_steps=max_steps,
        params0=(theta0[:-1], theta0[-1]),
    )
    return steps.stack(result.weights, result.bias), result.steps_taken


@_solution.defjvp
def _solution_jvp(n_classes, prior, max_steps, primals, tangents):
    x, y, scale, tol, theta0 = primals
    dx, _, dscale, _, _ = tangents  # θ* depends on neither the labels, tol nor the start
    # The primal through the custom rule again, so that higher derivatives are implicit too.
    theta, taken = _solution(n_classes, prior, max_steps, x, y, scale, tol, theta0)
    dtheta = _implicit_tangent(n_classes, prior, x, y, scale, theta, dx, dscale)
    return (theta, taken), (dtheta, np.zeros(np.shape(taken), jax.dtypes.float0))


def map_weights(
    x: ArrayLike,
    y: ArrayLike,
    *,
    prior: str,
    scale: ArrayLike,
    tol: ArrayLike | None = None,
    n_classes: int | None = None,
    max_steps: int = _MAX_STEPS,
    params0: tuple[ArrayLike, ArrayLike] | None = None,
) -> tuple[jax.Array, jax.Array]:
    r"""The MAP weights and intercept, differentiable in the prior scale and the features.

    .. math::

        \theta^*(\varphi) = \arg\min_\theta J(\theta; \varphi), \qquad
        \frac{\partial \theta^*}{\partial \varphi} = -H^{-1}
            \frac{\partial^2 J}{\partial\theta\, \partial\varphi}\Big|_{\theta^*},
        \qquad \varphi = (\sigma \text{ or } s,\ x),

    J the objective of :func:`newton.map_objective`. The solve is
    :func:`newton.newton_solve`; its derivative is a ``jax.custom_jvp`` by the implicit
    function theorem: one Cholesky solve with the Hessian H at the solution, and no
    derivative through the Newton iterations. Reverse mode (``jax.grad``) transposes that
    rule, and higher derivatives are implicit too (the rule calls the solution again).

    - **Gaussian prior**: H is the Hessian of J (for a softmax the intercepts' common-shift
      direction, along which J is flat, is filled by a projector: the derivative is the
      one orthogonal to it, where the result's class-mean intercept stays put).
    - **Laplace prior**: differentiated on the support. The zero weights stay zero for a
      small change of φ (strict complementarity, the generic case), so their derivative is
      0; on the nonzero weights and the intercept the L1 term's gradient is λ·sign(w),
      λ = 1/(s n), and H is restricted to them. At a scale where a weight enters or leaves
      the support, θ* is not differentiable; this gives the derivative of the current
      support's branch.
    - **No prior**: the derivative in x only (σ does not enter).

    Pure: works under ``jax.jit`` (``prior``, ``n_classes`` and ``max_steps`` static),
    ``jax.vmap`` (e.g. over a grid of scales) and ``jax.grad``/``jax.jacfwd``. Without
    ``n_classes`` it is read from y as max(y) + 1 (at least 2), which needs concrete
    labels: inside ``jax.jit`` pass it. The solve stops at ``tol`` or after ``max_steps``;
    convergence is not reported (:func:`newton.newton_solve` does), and the derivative is
    that of the exact solution, so it is accurate as far as the solve is.

    Args:
        x: features [n, d], float32 or float64 (the dtype of the results).
        y: integer labels [n] in 0..C−1.
        prior: ``gaussian``, ``laplace`` or ``none``.
        scale: σ (Gaussian) or s (Laplace), > 0; ignored without a prior.
        tol: the solve's tolerance on the subgradient norm (default 1e-10 in float64,
            1e-5 in float32, as :func:`experiments.fit.fit_map`).
        n_classes: C (static); default max(y) + 1, outside ``jax.jit`` only.
        max_steps: the most Newton steps.
        params0: the starting point ``(weights, bias)`` (a warm start); zeros when None.

    Returns:
        ``(weights, intercept)``: [d] and a scalar (two classes) or [d, C] and [C].

    Example:
        >>> import jax, jax.numpy as jnp
        >>> x, y = jnp.array([[0.0], [1.0], [2.0], [3.0]]), jnp.array([0, 1, 0, 1])
        >>> def first_weight(log_scale):
        ...     w, b = map_weights(x, y, prior="gaussian", scale=jnp.exp(log_scale))
        ...     return w[0]
        >>> round(float(first_weight(0.0)), 4), round(float(jax.grad(first_weight)(0.0)), 4)
        (0.4528, 0.4256)
    """
    x, dtype = steps.as_features(x)
    n_classes = _n_classes(y, n_classes)
    theta0 = _theta0(params0, x.shape[1], n_classes, dtype)
    theta, _ = _solution(
        n_classes,
        prior,
        max_steps,
        x,
        jnp.asarray(y),
        jnp.asarray(scale, dtype),
        _tol(tol, dtype),
        theta0,
    )
    return theta[:-1], theta[-1]


def log_evidence(
    x: ArrayLike,
    y: ArrayLike,
    *,
    scale: ArrayLike,
    tol: ArrayLike | None = None,
    n_classes: int | None = None,
) -> jax.Array:
    r"""The Laplace log evidence of a Gaussian prior of scale σ: solve the MAP, then
    :func:`log_evidence_at`.

    .. math::

        \log p(D \mid \sigma) \approx L(\theta^*_\sigma)
            - \frac{\|w^*_\sigma\|^2}{2\sigma^2} - d\log\sigma + \frac{k}{2}\log 2\pi
            - \frac{1}{2}\log\det A_\sigma .

    Differentiable in ``scale`` and ``x`` through :func:`map_weights` (implicit, exact:
    θ* enters log det A, so the derivative is not just the explicit one), to any order.

    Args:
        x: features [n, d], float32 or float64.
        y: integer labels [n].
        scale: σ > 0, a scalar (:func:`log_evidence_at` takes one per feature).
        tol: the MAP solve's tolerance (default 1e-10 in float64, 1e-5 in float32).
        n_classes: C (static); default max(y) + 1, outside ``jax.jit`` only.

    Returns:
        The log evidence (nats), a scalar of the dtype of ``x``.

    Example:
        >>> import jax, jax.numpy as jnp
        >>> x, y = jnp.array([[0.0], [1.0], [2.0], [3.0]]), jnp.array([0, 1, 0, 1])
        >>> evidence = jax.jit(lambda u: log_evidence(x, y, scale=jnp.exp(u), n_classes=2))
        >>> round(float(evidence(0.0)), 4)
        -1.9761
        >>> slope = jax.jit(jax.grad(evidence))
        >>> round(float(slope(0.0)), 4)  # d log p(D|σ) / d log σ: a smaller σ is preferred
        -0.2191
    """
    x, dtype = steps.as_features(x)
    n_classes = _n_classes(y, n_classes)
    scale = jnp.asarray(scale, dtype)
    theta0 = _theta0(None, x.shape[1], n_classes, dtype)
    theta, _ = _solution(
        n_classes, "gaussian", _MAX_STEPS, x, jnp.asarray(y), scale, _tol(tol, dtype), theta0
    )
    return log_evidence_at(x, y, theta[:-1], theta[-1], scale=scale, n_classes=n_classes)
