r"""The prior scale chosen by its evidence, and the log evidence of a Gaussian-prior fit:
wrappers of the trainer's member function (:func:`~experiments.kinds.classifier.train.
make_run_fn`), which they call unchanged.

- **Evidence of a fit.** A run with a Gaussian prior, ``loss: ce`` and ``optimizer:
  newton`` also returns its Laplace log evidence (nats) at its final parameters, the MAP of
  the training split (:func:`~experiments.kinds.classifier.evidence.log_evidence_at`):

  .. math::

      \log p(D \mid \sigma) \approx L(\theta^*) - \frac{\|w^*\|^2}{2\sigma^2}
          - d \log\sigma + \frac{k}{2}\log 2\pi - \frac{1}{2}\log\det A,

  with k = 1 free intercept (two classes) or C − 1 (softmax: the last class's intercept is
  fixed at 0, its only null direction).
- **``scale: {select: evidence}``.** The run first finds σ̂ of largest evidence by Newton
  steps on log σ through the implicit MAP solution (each solve warm-started from the last;
  :func:`~experiments.kinds.classifier.scale_search.select_evidence`, from σ0 = 1, MAP solves to
  ``DEFAULT_TOL``), then trains the run as configured at σ̂ (its metrics and parameters
  are that MAP), and evaluates the evidence and the test cross-entropy on a dense grid of
  σ (:data:`GRID_POINTS` from 10⁻³ to 10³, widened by whole decades to hold σ̂ and a decade
  either side), solved as one warm-started path, for the figure.
- **``{select: evidence, per_feature: true}``** (two classes): automatic relevance
  determination, one σ_j per feature by MacKay's updates
  (:func:`~experiments.kinds.classifier.scale_search.select_evidence_ard`, at most
  :data:`ARD_MAX_SOLVES` solves). The trainer takes a
  scalar σ, so the final fit runs in whitened coordinates, u_j = w_j/σ_j with features
  x_j σ_j under a N(0, 1) prior (the same MAP, the same logits); the weights returned are
  w = σ ⊙ u, while the history's ``weight_norm``, ``grad_norm`` and ``weight_grad_norm``
  are those of u.

On the host, :func:`extras` turns what the wrappers return into ``summary.json`` fields.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from experiments.kinds.classifier import evidence, newton, scale_search

__all__ = [
    "GRID_DECADES",
    "GRID_POINTS",
    "evidence_curve",
    "extras",
    "has_evidence",
    "selection_mode",
    "with_evidence",
    "with_path_evidence",
    "with_selection",
]

GRID_POINTS = 121  # 20 a decade over 10^-3..10^3
GRID_DECADES = (-3.0, 3.0)
_CURVE_STEPS = 100  # Newton steps per grid point at most (warm-started: a few each)
# MacKay's ARD updates converge linearly: synthetic 1,500 × 50 (configs/ard.yaml) needs 597.
ARD_MAX_SOLVES = 2000


def has_evidence(static: Any) -> bool:
    """Whether a run's fit has a Laplace evidence to report: a Gaussian prior, the
    cross-entropy and the exact (newton) MAP solve."""
    return static.prior == "gaussian" and static.loss == "ce" and static.optimizer == "newton"


def selection_mode(spec: Any) -> str | None:
    """``"evidence"`` (one σ), ``"ard"`` (one σ per feature), or None (a given scale)."""
    selection = getattr(spec.train.prior, "selection", None)
    if selection is None:
        return None
    return "ard" if selection.per_feature else "evidence"


def with_evidence(run: Callable[..., Any], n_classes: int) -> Callable[..., Any]:
    """``member(...) -> (output, {"prior_scale", "log_evidence"})``: ``run``, and the log
    evidence at its final parameters at the run's σ."""

    def member(hyper, key, x_train, y_train, x_test, y_test):
        output = run(hyper, key, x_train, y_train, x_test, y_test)
        scale = hyper["prior_scale"]
        value = _evidence_at(x_train, y_train, output.params, scale, n_classes)
        return output, {"prior_scale": scale, "log_evidence": value}

    return member


def with_path_evidence(path: Callable[..., Any], n_classes: int) -> Callable[..., Any]:
    """The same for a path group's function (a leading member axis): each member's log
    evidence, one after another (``lax.map``: one Hessian in memory at a time)."""

    def group(hyper, keys, x_train, y_train, x_test, y_test):
        outputs = path(hyper, keys, x_train, y_train, x_test, y_test)
        scales = hyper["prior_scale"]

        def one(args):
            params, scale = args
            return _evidence_at(x_train, y_train, params, scale, n_classes)

        values = jax.lax.map(one, (outputs.params, scales))
        return outputs, {"prior_scale": scales, "log_evidence": values}

    return group


def with_selection(run: Callable[..., Any], n_classes: int, mode: str) -> Callable[..., Any]:
    """``member(...) -> (output, fields)``: σ chosen by its evidence (``mode`` ``evidence``)
    or one σ_j per feature (``ard``), then ``run`` at that choice (see the module
    docstring). The member's ``hyper["prior_scale"]`` is the search's starting σ0."""

    def member(hyper, key, x_train, y_train, x_test, y_test):
        dtype = x_train.dtype
        tol = jnp.asarray(evidence.DEFAULT_TOL[jnp.dtype(dtype).name], dtype)
        start = hyper["prior_scale"]
        if mode == "ard":
            ard = scale_search.select_evidence_ard(
                x_train, y_train, scale0=start, tol=tol, max_solves=ARD_MAX_SOLVES
            )
            scales = ard.scales
            unit = {**hyper, "prior_scale": jnp.ones((), dtype)}
            output = run(unit, key, x_train * scales, y_train, x_test * scales, y_test)
            params = output.params._replace(weights=output.params.weights * scales)
            output = output._replace(params=params)
            return output, {
                "prior_scales": scales,
                "log_evidence": _evidence_at(x_train, y_train, params, scales, 2),
                "evidence_solves": ard.solves,
                "evidence_converged": ard.converged,
            }
        best = scale_search.select_evidence(
            x_train, y_train, scale0=start, tol=tol, n_classes=n_classes
        )
        output = run({**hyper, "prior_scale": best.scale}, key, x_train, y_train, x_test, y_test)
        return output, {
            "prior_scale": best.scale,
            "log_evidence": _evidence_at(x_train, y_train, output.params, best.scale, n_classes),
            "evidence_solves": best.solves,
            "evidence_converged": best.converged,
            "evidence_curve": evidence_curve(
                x_train, y_train, x_test, y_test, best.scale, n_classes=n_classes, tol=tol
            ),
        }

    return member


def _evidence_at(x, y, params, scale, n_classes: int) -> jax.Array:
    return evidence.log_evidence_at(
        x, y, params.weights, params.bias, scale=scale, n_classes=n_classes
    )


def evidence_curve(
    x_train, y_train, x_test, y_test, center, *, n_classes: int, tol
) -> dict[str, jax.Array]:
    """The log evidence (nats) and the mean test cross-entropy (nats) of the MAP at each σ
    of a dense grid (see the module docstring), the grid solved as a warm-started path.
    A point whose solve missed ``tol`` is NaN; without test data ``test_ce`` is absent."""
    dtype = x_train.dtype
    low, high = GRID_DECADES
    decade = jnp.log10(center)
    low = jnp.minimum(low, jnp.floor(decade) - 1)
    high = jnp.maximum(high, jnp.ceil(decade) + 1)
    scales = jnp.power(jnp.asarray(10.0, dtype), jnp.linspace(low, high, GRID_POINTS, dtype=dtype))
    path = newton.newton_path(
        x_train,
        y_train,
        scales,
        n_classes=n_classes,
        prior="gaussian",
        tol=tol,
        max_steps=_CURVE_STEPS,
    )
    has_test = x_test.shape[0] > 0

    def point(args):
        weights, bias, scale = args
        value = evidence.log_evidence_at(
            x_train, y_train, weights, bias, scale=scale, n_classes=n_classes
        )
        ce = _mean_ce(x_test, y_test, weights, bias, n_classes) if has_test else value
        return value, ce

    values, ces = jax.lax.map(point, (path.weights, path.bias, scales))
    missed = jnp.where(path.converged, 0, jnp.nan).astype(dtype)
    curve = {"scales": scales, "log_evidence": values + missed}
    if has_test:
        curve["test_ce"] = ces + missed
    return curve


def _mean_ce(x, y, weights, bias, n_classes: int) -> jax.Array:
    """The mean cross-entropy (nats) of a linear model's predictions."""
    z = x @ weights + bias
    if n_classes == 2:
        picked = jnp.where(y == 1, jax.nn.log_sigmoid(z), jax.nn.log_sigmoid(-z))
    else:
        log_p = jax.nn.log_softmax(z, axis=-1)
        picked = jnp.take_along_axis(log_p, y.astype(jnp.int32)[:, None], axis=1)[:, 0]
    return -jnp.mean(picked)


# ---------------------------------------------------------------------------
# On the host: summary.json fields
# ---------------------------------------------------------------------------


def extras(fields: dict[str, Any], base: float | None) -> dict[str, Any]:
    """What the wrappers return (one member, host arrays) as ``summary.json`` fields:
    numbers in the shortest form of their precision, NaN as null, the counts as integers;
    the curve's ``test_ce`` in the config's ``base`` (as ``final.test.ce``), the log
    evidence always in nats."""
    out: dict[str, Any] = {}
    for name, value in fields.items():
        if name == "evidence_curve":
            curve = {key: _numbers(values) for key, values in value.items()}
            if base is not None and "test_ce" in value:
                converted = np.asarray(value["test_ce"], np.float64) / math.log(base)
                curve["test_ce"] = _numbers(converted)
            out[name] = curve
        elif name == "evidence_solves":
            out[name] = int(value)
        elif name == "evidence_converged":
            out[name] = bool(value)
        else:
            out[name] = _numbers(value)
    return out


def _numbers(values: Any) -> Any:
    array = np.asarray(values)
    if array.ndim:
        return [_numbers(v) for v in array]
    number = float(array)
    if not math.isfinite(number):
        return None
    if array.dtype == np.float32:
        return float(str(array))  # float32's shortest form: 0.1, not 0.10000000149011612
    return number
