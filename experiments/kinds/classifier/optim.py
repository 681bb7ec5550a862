r"""First-order optimizers on :class:`~experiments.kinds.classifier.model.Params`, with a
proximal L1 step.

``sgd``, ``momentum`` and ``adam`` are optax's (:data:`experiments.pipeline.loop.OPTIMIZERS`),
followed by the prox; ``fista`` is accelerated proximal gradient
(Beck & Teboulle, 2009). Every hyperparameter (learning rate, momentum, b1, b2, eps) is read
from a dict of scalars that may be traced, so one compiled program serves every value and
``jax.vmap`` can batch over them.

For a Laplace prior the objective is f(w, b) + λ‖w‖₁ with f smooth. The L1 term is applied
by soft-thresholding the weights (never the bias) after the optimizer's update of f,

.. math::

    \operatorname{prox}(v)_i = \operatorname{sign}(v_i) \max(|v_i| - t_i \lambda, 0),

which sets weights to exactly 0; a subgradient of |w| would only make them oscillate around 0.
The threshold t is the step the optimizer applies to a (steady) gradient:

- ``sgd``: t = lr. This is ISTA.
- ``momentum``: t = lr/(1 − μ). optax's trace v = Σ_k μ^k g_k is 1/(1 − μ) times an average
  of gradients, so the update −lr·v is a step of lr/(1 − μ) along that average. Thresholding
  with lr (the naive choice) would make the fixed points minimise f + (1 − μ)λ‖w‖₁, an
  L1 strength ten times too weak for μ = 0.9.
- ``adam``: t_i = lr/(√v̂_i + ε), adam's own per-coordinate step (the proximal step in adam's
  diagonal metric, as in ProxGen: Yun, Lozano & Yang, 2021).
- ``fista``: t = lr, with the gradient taken at the extrapolated point.

With these thresholds a fixed point satisfies the optimality condition of f + λ‖w‖₁
(−∂f/∂w_i = λ sign(w_i) where w_i ≠ 0, |∂f/∂w_i| ≤ λ where w_i = 0) for every optimizer.
Without a Laplace prior the prox is the identity, and ``fista`` is Nesterov's accelerated
gradient.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from experiments.kinds.classifier.model import Hyperparameters, Params
from experiments.pipeline import loop
from experiments.pipeline.optimizer import OptimizerName


def soft_threshold(x: jax.Array, threshold: jax.Array) -> jax.Array:
    """sign(x)·max(|x| − threshold, 0): the proximal operator of threshold·‖x‖₁."""
    return jnp.sign(x) * jnp.maximum(jnp.abs(x) - threshold, 0.0)


def _proximal(
    base: loop.Optimizer, step_size: Callable[[Any], jax.Array], l1: jax.Array | None
) -> loop.Optimizer:
    """``base``'s step followed by the prox with threshold λ·step_size(state)."""

    def step(params: Params, state: Any, loss: loop.Loss):
        params, state, value = base.step(params, state, loss)
        if l1 is not None:
            weights = soft_threshold(params.weights, l1 * step_size(state))
            params = params._replace(weights=weights)
        return params, state, value

    return loop.Optimizer(base.init, step)


def _adam_step_size(hyper: Hyperparameters) -> Callable[[Any], jax.Array]:
    lr, b2, eps = (hyper[k] for k in ("learning_rate", "b2", "eps"))

    def step_size(state: Any) -> jax.Array:
        adam_state: optax.ScaleByAdamState = state[0]
        count = adam_state.count.astype(b2.dtype)  # already counts this step
        nu_hat = adam_state.nu.weights / (1.0 - b2**count)
        return lr / (jnp.sqrt(nu_hat) + eps)

    return step_size


# The step each of optax's optimizers (loop.OPTIMIZERS) applies to a steady gradient: the
# prox threshold's scale, see the module's docstring.
STEP_SIZES: dict[OptimizerName, Callable[[Hyperparameters], Callable[[Any], jax.Array]]] = {
    "sgd": lambda hyper: lambda state: hyper["learning_rate"],
    "momentum": lambda hyper: lambda state: hyper["learning_rate"] / (1.0 - hyper["momentum"]),
    "adam": _adam_step_size,
}


class FistaState(NamedTuple):
    previous: Params  # x_{k-1}
    t: jax.Array  # the momentum sequence t_k, t_0 = 1


def _fista(hyper: Hyperparameters, l1: jax.Array | None) -> loop.Optimizer:
    r"""FISTA: y = x_k + ((t_k − 1)/t_{k+1})(x_k − x_{k−1}), x_{k+1} = prox(y − lr ∇f(y)).

    t_{k+1} = (1 + √(1 + 4 t_k²))/2. Converges as O(1/k²) in the objective for
    lr ≤ 1/L, L the Lipschitz constant of ∇f. With ``hyper["restart"]`` = 1, the momentum
    restarts (t back to 1) whenever the step goes against it,
    (y − x_{k+1})·(x_{k+1} − x_k) > 0: O'Donoghue and Candès's gradient restart (2015),
    which recovers linear convergence on strongly convex problems.
    """
    lr = hyper["learning_rate"]
    restart = hyper["restart"] > 0

    def init(params: Params) -> FistaState:
        return FistaState(previous=params, t=jnp.ones((), params.weights.dtype))

    def step(params: Params, state: FistaState, loss: loop.Loss):
        t_next = 0.5 * (1.0 + jnp.sqrt(1.0 + 4.0 * jnp.square(state.t)))
        beta = (state.t - 1.0) / t_next
        y = jax.tree.map(lambda x, x_prev: x + beta * (x - x_prev), params, state.previous)
        value, grads = jax.value_and_grad(loss)(y)
        new = jax.tree.map(lambda p, g: p - lr * g, y, grads)
        if l1 is not None:
            new = new._replace(weights=soft_threshold(new.weights, l1 * lr))
        against = sum(
            jnp.vdot(a - b, b - c)
            for a, b, c in zip(*map(jax.tree.leaves, (y, new, params)), strict=True)
        )
        t_next = jnp.where(restart & (against > 0), jnp.ones_like(t_next), t_next)
        return new, FistaState(previous=params, t=t_next), value

    return loop.Optimizer(init, step)


def make_optimizer(name: str, hyper: Hyperparameters, *, l1: jax.Array | None) -> loop.Optimizer:
    """The optimizer ``name`` with hyperparameters from ``hyper``.

    Args:
        name: ``sgd``, ``momentum``, ``adam`` or ``fista``.
        hyper: scalars (possibly traced): ``learning_rate``; ``momentum`` for momentum;
            ``b1``, ``b2``, ``eps`` for adam; ``restart`` for fista. Other keys are ignored.
        l1: λ of the L1 term to apply by soft-thresholding the weights, or None for no
            proximal step (no prior or a Gaussian one, whose penalty is part of the gradient).

    Returns:
        A :class:`~experiments.pipeline.loop.Optimizer`.
    """
    if name == "fista":
        return _fista(hyper, l1)
    if name not in STEP_SIZES:
        known = ", ".join([*STEP_SIZES, "fista"])
        raise ValueError(f"unknown optimizer {name!r}; expected one of {known}")
    return _proximal(loop.OPTIMIZERS[name](hyper), STEP_SIZES[name](hyper), l1)
