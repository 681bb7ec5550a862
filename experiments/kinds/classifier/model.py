r"""Logistic regression: parameters, logits, losses, priors and the MAP objective.

Two classes use a sigmoid on one logit per example (weights of shape [d], a scalar bias);
more classes use a softmax (weights [d, C], bias [C]). Every objective is an average over
examples, so a prior enters divided by the number of training examples n:

.. math::

    J(w, b) = \frac{1}{n} \sum_i \ell(y_i, z_i) + \frac{1}{n} R(w), \qquad
    R(w) = \frac{\|w\|_2^2}{2\sigma^2} \ \text{(Gaussian)}, \quad
    R(w) = \frac{\|w\|_1}{b} \ \text{(Laplace)},

which is the negative log posterior over n. The bias is never penalised. With the log loss
these are scikit-learn's ``LogisticRegression`` objectives divided by C·n, with C = σ² (L2)
and C = b (L1).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp

import infolib

Hyperparameters = dict[str, jax.Array]


class Params(NamedTuple):
    """Weights ([d] binary, [d, C] multiclass) and bias (scalar binary, [C] multiclass)."""

    weights: jax.Array
    bias: jax.Array


def init_params(
    kind: str,
    hyper: Hyperparameters,
    *,
    key: jax.Array,
    n_features: int,
    n_classes: int,
    dtype: jnp.dtype = jnp.float32,
) -> Params:
    """Initial parameters: ``zeros``, ``normal`` or ``constant``.

    ``normal`` draws every weight from N(0, ``hyper["init_scale"]``²) with ``key`` and sets
    the bias to 0; ``constant`` sets every weight to ``hyper["init_weights"]`` and every bias
    to ``hyper["init_bias"]``; ``zeros`` sets everything to 0. In ``dtype`` throughout.
    """
    shape = (n_features,) if n_classes == 2 else (n_features, n_classes)
    bias_shape = () if n_classes == 2 else (n_classes,)
    if kind == "zeros":
        return Params(jnp.zeros(shape, dtype), jnp.zeros(bias_shape, dtype))
    if kind == "normal":
        weights = hyper["init_scale"] * jax.random.normal(key, shape, dtype)
        return Params(weights, jnp.zeros(bias_shape, dtype))
    if kind == "constant":
        return Params(
            jnp.full(shape, hyper["init_weights"], dtype),
            jnp.full(bias_shape, hyper["init_bias"], dtype),
        )
    raise ValueError(f"unknown init kind {kind!r}; expected one of zeros, normal, constant")


def logits(params: Params, x: jax.Array) -> jax.Array:
    """z = x w + b: shape [n] for two classes, [n, C] for more."""
    if params.weights.ndim == 1:
        return x @ params.weights + params.bias
    return x @ params.weights + params.bias[None, :]


def cross_entropy_loss(params: Params, x: jax.Array, y: jax.Array) -> jax.Array:
    r"""Mean cross-entropy with logits (the negative log-likelihood per example).

    .. math::

        \frac{1}{n} \sum_i -\log p(y_i \mid x_i), \qquad
        p(y \mid x) = \sigma(z)^y \sigma(-z)^{1-y} \ \text{or}\ \operatorname{softmax}(z)_y,

    computed with :func:`infolib.binary_cross_entropy_with_logits` (two classes) or
    :func:`infolib.sparse_cross_entropy_with_logits` (more), so it is exact for saturated
    logits. Its gradient with respect to z is σ(z) − y (softmax(z) − onehot(y)).

    Example:
        >>> import jax.numpy as jnp
        >>> params = Params(jnp.zeros(2), jnp.zeros(()))
        >>> cross_entropy_loss(params, jnp.ones((3, 2)), jnp.array([0, 1, 1]))  # log 2
        Array(0.6931472, dtype=float32)
    """
    return _cross_entropy(logits(params, x), y)


def _cross_entropy(z: jax.Array, y: jax.Array) -> jax.Array:
    if z.ndim == 1:
        return jnp.mean(infolib.binary_cross_entropy_with_logits(y.astype(z.dtype), z))
    return jnp.mean(infolib.sparse_cross_entropy_with_logits(y, z))


def squared_error_loss(params: Params, x: jax.Array, y: jax.Array) -> jax.Array:
    r"""Mean squared error between predicted probabilities and one-hot labels.

    .. math::

        \frac{1}{n} \sum_i \tfrac12 \sum_c (\operatorname{softmax}(z_i)_c - [y_i = c])^2,
        \quad\text{and}\quad \frac{1}{n} \sum_i \tfrac12 (\sigma(z_i) - y_i)^2
        \ \text{for two classes.}

    Bounded by 1 per example. Its gradient with respect to a binary logit,
    (σ(z) − y)·σ(z)(1 − σ(z)), vanishes when σ(z) saturates, right or wrong: that is why
    training on it from a saturated start is slow.

    Example:
        >>> import jax.numpy as jnp
        >>> params = Params(jnp.zeros(2), jnp.zeros(()))
        >>> squared_error_loss(params, jnp.ones((3, 2)), jnp.array([0, 1, 1]))  # ½·0.5²
        Array(0.125, dtype=float32)
    """
    return _squared_error(logits(params, x), y)


def _squared_error(z: jax.Array, y: jax.Array) -> jax.Array:
    if z.ndim == 1:
        return jnp.mean(0.5 * jnp.square(jax.nn.sigmoid(z) - y.astype(z.dtype)))
    one_hot = jax.nn.one_hot(y, z.shape[-1], dtype=z.dtype)
    return jnp.mean(0.5 * jnp.sum(jnp.square(jax.nn.softmax(z) - one_hot), axis=-1))


def accuracy(params: Params, x: jax.Array, y: jax.Array) -> jax.Array:
    """Fraction of examples whose most probable class (z > 0 for two classes) is the label."""
    return _accuracy(logits(params, x), y)


def _accuracy(z: jax.Array, y: jax.Array) -> jax.Array:
    predicted = (z > 0).astype(y.dtype) if z.ndim == 1 else jnp.argmax(z, axis=-1)
    return jnp.mean((predicted == y).astype(z.dtype))


LOSSES: dict[str, Callable[[Params, jax.Array, jax.Array], jax.Array]] = {
    "ce": cross_entropy_loss,
    "mse": squared_error_loss,
}


def l1_strength(scale: jax.Array, n: int) -> jax.Array:
    """λ = 1/(b·n): the weight of ‖w‖₁ in the per-example MAP objective for a Laplace(b) prior."""
    return 1.0 / (scale * n)


def prior_penalty(kind: str, weights: jax.Array, scale: jax.Array, n: int) -> jax.Array:
    r"""The negative log prior over n, up to a constant: R(w)/n.

    ``none``: 0; ``gaussian`` (σ = ``scale``): ‖w‖²/(2σ²n); ``laplace`` (b = ``scale``):
    ‖w‖₁/(b n). Applies to the weights only, never to the bias.
    """
    if kind == "none":
        return jnp.zeros((), weights.dtype)
    if kind == "gaussian":
        return jnp.sum(jnp.square(weights)) / (2.0 * jnp.square(scale) * n)
    if kind == "laplace":
        return l1_strength(scale, n) * jnp.sum(jnp.abs(weights))
    raise ValueError(f"unknown prior kind {kind!r}; expected one of none, gaussian, laplace")


def smooth_objective(
    params: Params,
    x: jax.Array,
    y: jax.Array,
    *,
    loss: str,
    prior: str,
    prior_scale: jax.Array,
    n: int,
) -> jax.Array:
    """The differentiable part of the MAP objective: the mean loss plus a Gaussian penalty.

    The Laplace penalty is left out: it is not differentiable at 0 and is applied by the
    proximal step of :mod:`experiments.kinds.classifier.optim`. ``n`` is the number of
    training examples (not the batch size), so a minibatch estimate is unbiased.
    """
    smooth_prior = "gaussian" if prior == "gaussian" else "none"
    return map_objective(params, x, y, loss=loss, prior=smooth_prior, prior_scale=prior_scale, n=n)


def objective_and_metrics(
    params: Params,
    x: jax.Array,
    y: jax.Array,
    *,
    loss: str,
    prior: str,
    prior_scale: jax.Array,
    n: int,
) -> tuple[jax.Array, dict[str, jax.Array]]:
    """:func:`smooth_objective` and, from the same logits, the mean cross-entropy, squared
    error and accuracy (``ce``, ``mse``, ``accuracy``): one pass over ``x`` for all of them,
    for ``jax.value_and_grad(..., has_aux=True)``."""
    z = logits(params, x)
    metrics = {"ce": _cross_entropy(z, y), "mse": _squared_error(z, y), "accuracy": _accuracy(z, y)}
    smooth_prior = "gaussian" if prior == "gaussian" else "none"
    penalty = prior_penalty(smooth_prior, params.weights, prior_scale, n)
    return metrics[loss] + penalty, metrics


def map_objective(
    params: Params,
    x: jax.Array,
    y: jax.Array,
    *,
    loss: str,
    prior: str,
    prior_scale: jax.Array,
    n: int,
) -> jax.Array:
    """The whole objective J(w, b) = mean loss + R(w)/n, Laplace penalty included."""
    return LOSSES[loss](params, x, y) + prior_penalty(prior, params.weights, prior_scale, n)


def minimum_norm_subgradient(smooth_grads: Params, params: Params, l1: jax.Array | None) -> Params:
    r"""The smallest element of the subdifferential of smooth part + λ‖w‖₁.

    .. math::

        g_i + \lambda \operatorname{sign}(w_i) \ \text{if}\ w_i \ne 0, \qquad
        \operatorname{sign}(g_i) \max(|g_i| - \lambda, 0) \ \text{if}\ w_i = 0.

    Its norm is 0 exactly at a minimiser, so it measures stationarity for the Laplace prior
    as the gradient norm does for smooth objectives. With ``l1=None`` it returns the gradient.
    """
    if l1 is None:
        return smooth_grads
    g = smooth_grads.weights
    w = params.weights
    at_zero = jnp.sign(g) * jnp.maximum(jnp.abs(g) - l1, 0.0)
    return Params(jnp.where(w == 0, at_zero, g + l1 * jnp.sign(w)), smooth_grads.bias)
