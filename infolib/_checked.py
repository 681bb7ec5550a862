"""Opt-in validation of inputs, compiled with ``jax.experimental.checkify``."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Mapping
from typing import Any

import jax
import jax.numpy as jnp
from jax.experimental import checkify

from infolib import (
    _closed_form,
    _cross_entropy,
    _divergence,
    _entropy,
    _estimators,
    _families,
    _joint,
    _knn,
    _mutual_from_counts,
    _nsb,
)

# What each argument holds, by function. The kinds are checked as follows:
#   distribution  no NaN, no negative entry, sums to 1 along `axis` (within atol)
#   joint         no NaN, no negative entry, sums to 1 over the last two axes
#   probability   no NaN, every entry in [0, 1]
#   logits        no NaN, no +inf (−inf masks a class), not every row a distribution
#                 (probabilities passed as logits)
#   binary_logits no NaN, no +inf
#   labels        integer class in [0, K), K the size of the logits' `axis`
#   counts        no NaN, no negative entry
#   scale         no NaN, no negative entry
#   real          no NaN
#   order         no NaN, no negative entry (+inf allowed): the order of a Rényi measure
_KINDS: Mapping[Callable[..., jax.Array], Mapping[str, str]] = {
    _entropy.self_information: {"p": "probability"},
    _entropy.entropy: {"p": "distribution"},
    _entropy.entropy_with_logits: {"logits": "logits"},
    _cross_entropy.cross_entropy: {"p": "distribution", "q": "distribution"},
    _cross_entropy.cross_entropy_with_logits: {"p": "distribution", "logits": "logits"},
    _cross_entropy.sparse_cross_entropy_with_logits: {"labels": "labels", "logits": "logits"},
    _cross_entropy.binary_cross_entropy: {"y": "probability", "p": "probability"},
    _cross_entropy.binary_cross_entropy_with_logits: {
        "y": "probability",
        "logits": "binary_logits",
    },
    _divergence.kl_divergence: {"p": "distribution", "q": "distribution"},
    _divergence.kl_divergence_with_logits: {"p_logits": "logits", "q_logits": "logits"},
    _divergence.js_divergence: {"p": "distribution", "q": "distribution"},
    _joint.joint_entropy: {"pxy": "joint"},
    _joint.conditional_entropy: {"pxy": "joint"},
    _joint.mutual_information: {"pxy": "joint"},
    _closed_form.gaussian_entropy: {"scale": "scale"},
    _closed_form.laplace_entropy: {"scale": "scale"},
    _closed_form.gaussian_kl: {
        "loc_p": "real",
        "scale_p": "scale",
        "loc_q": "real",
        "scale_q": "scale",
    },
    _closed_form.laplace_kl: {
        "loc_p": "real",
        "scale_p": "scale",
        "loc_q": "real",
        "scale_q": "scale",
    },
    _estimators.plugin_entropy: {"counts": "counts"},
    _estimators.miller_madow_entropy: {"counts": "counts"},
    _estimators.jackknife_entropy: {"counts": "counts"},
    _estimators.grassberger_entropy: {"counts": "counts"},
    _estimators.chao_shen_entropy: {"counts": "counts"},
    _estimators.zhang_entropy: {"counts": "counts"},
    _estimators.james_stein_entropy: {"counts": "counts"},
    _nsb.nsb_entropy: {"counts": "counts"},
    _mutual_from_counts.mutual_information_from_counts: {"joint_counts": "counts"},
    _mutual_from_counts.conditional_mutual_information_from_counts: {"counts_xyz": "counts"},
    _families.renyi_entropy: {"p": "distribution", "alpha": "order"},
    _families.renyi_entropy_with_logits: {"logits": "logits", "alpha": "order"},
    _families.tsallis_entropy: {"p": "distribution", "q": "order"},
    _families.renyi_divergence: {"p": "distribution", "q": "distribution", "alpha": "order"},
    _families.renyi_divergence_with_logits: {
        "p_logits": "logits",
        "q_logits": "logits",
        "alpha": "order",
    },
    # Amari's alpha (any real, or None) is a keyword option, compiled in like ``kind``.
    _families.f_divergence: {"p": "distribution", "q": "distribution"},
    _knn.kl_entropy: {"x": "real"},
    _knn.ksg_mutual_information: {"x": "real", "y": "real"},
    _knn.ksg_conditional_mutual_information: {"x": "real", "y": "real", "z": "real"},
}


def _no_nan(name: str, x: jax.Array) -> None:
    if jnp.issubdtype(x.dtype, jnp.inexact):
        checkify.check(~jnp.any(jnp.isnan(x)), f"{name} contains NaN")


def _non_negative(name: str, x: jax.Array, hint: str = "") -> None:
    # ``initial``: an empty array has no negative entry (and jnp.min of it would raise).
    smallest = jnp.min(x, initial=jnp.inf)
    checkify.check(
        jnp.all(jnp.isnan(x) | (x >= 0)),
        f"{name} has a negative entry (smallest {{}}){hint}",
        smallest,
    )


def _sums_to_one(
    name: str, x: jax.Array, axis: Any, atol: float, where: str, hint: str = ""
) -> None:
    axes = (axis,) if isinstance(axis, int) else tuple(axis)
    if any(x.shape[a] == 0 for a in axes):
        # Known from the shape alone; reported at call time like every other check.
        checkify.check(
            jnp.asarray(False),
            f"{name} has no outcomes {where} (shape {tuple(x.shape)}): a distribution needs "
            "at least one",
        )
        return
    sums = jnp.sum(x.astype(jnp.promote_types(x.dtype, jnp.float32)), axis=axis)
    worst = jnp.max(jnp.abs(sums - 1), initial=0.0)
    checkify.check(
        worst <= atol,
        f"{name} does not sum to 1 {where}: off by up to {{}} (tolerance {atol:g}); "
        f"infolib never renormalises{hint}",
        worst,
    )


# Where a distribution or probability argument has a twin taking logits: the hint given
# when the argument fails its checks (logits passed where probabilities go).
_LOGITS_TWINS = {
    _entropy.entropy: "entropy_with_logits",
    _cross_entropy.cross_entropy: "cross_entropy_with_logits",
    _cross_entropy.binary_cross_entropy: "binary_cross_entropy_with_logits",
    _divergence.kl_divergence: "kl_divergence_with_logits",
}


def _looks_like_probabilities(name: str, x: jax.Array, axis: int, atol: float) -> None:
    """Logits of two or more classes whose every row is a distribution were, almost
    surely, meant as probabilities (a swapped or mistaken argument)."""
    if x.ndim == 0 or x.shape[axis] < 2 or x.size == 0:
        return
    rows = jnp.all((x >= 0) & (x <= 1), axis=axis) & (jnp.abs(jnp.sum(x, axis=axis) - 1) <= atol)
    checkify.check(
        ~jnp.all(rows),
        f"{name} looks like probabilities, not logits: every row lies in [0, 1] and sums to 1 "
        f"along axis {axis}; pass log-probabilities (jnp.log(p)), or the probability "
        "function (cross_entropy, entropy, kl_divergence)",
    )


def _validate(
    kind: str, name: str, x: jax.Array, arguments: Mapping[str, Any], atol: float, hint: str = ""
):
    x = jnp.asarray(x)
    if kind == "labels":
        if not jnp.issubdtype(x.dtype, jnp.integer):
            raise TypeError(
                f"{name} must hold integer class indices, got dtype {x.dtype}; for "
                "probabilities over the classes use cross_entropy_with_logits(p, logits)"
            )
        logits = jnp.asarray(arguments["logits"])
        axis = arguments.get("axis", -1)
        n_classes = logits.shape[axis]
        offender = jnp.where(jnp.any(x < 0), x.min(initial=0), x.max(initial=0))
        checkify.check(
            jnp.all((x >= 0) & (x < n_classes)),
            f"{name} has a label outside [0, {n_classes}) (found {{}})",
            offender,
        )
        return
    _no_nan(name, x)
    if kind in {"logits", "binary_logits"}:
        checkify.check(~jnp.any(x == jnp.inf), f"{name} contains +inf (only -inf masks a class)")
    if kind == "logits":  # binary logits have no event axis: any real is plausible
        _looks_like_probabilities(name, x, arguments.get("axis", -1), atol)
    if kind in {"distribution", "joint", "probability", "counts", "scale", "order"}:
        _non_negative(name, x, hint)
    if kind == "probability":
        checkify.check(
            jnp.all(jnp.isnan(x) | (x <= 1)),
            f"{name} has an entry above 1 (largest {{}}){hint}",
            jnp.max(x, initial=-jnp.inf),
        )
    if kind == "distribution":
        axis = arguments.get("axis", -1)
        _sums_to_one(name, x, axis, atol, f"along axis {axis}", hint)
    if kind == "joint":
        _sums_to_one(name, x, (-2, -1), atol, "over its last two axes")


def checked(fn: Callable[..., jax.Array], *, atol: float = 1e-4) -> Callable[..., jax.Array]:
    r"""Wraps an infolib function so that invalid inputs raise instead of propagating.

    The checks are compiled with :func:`jax.experimental.checkify` into the same jitted
    program as the function. They report, naming the argument:

    - NaN in any input;
    - a negative probability, count or scale, or a probability above 1;
    - a negative order of a Rényi or Tsallis measure;
    - a distribution that does not sum to 1 along its event axis, within ``atol``
      (infolib never renormalises; unchecked calls compute the formula as given);
    - an integer label outside ``[0, K)``;
    - a +inf logit (−inf is allowed: it masks a class);
    - probabilities passed where logits go: logits of two or more classes whose every row
      lies in [0, 1] and sums to 1 (the swapped ``cross_entropy_with_logits(logits, p)``
      is caught by ``p``'s checks, with a hint to the ``_with_logits`` function);
    - integer-label functions given labels that are not integers (a ``TypeError``);
    - a distribution with no outcomes (an event axis of size 0). An empty batch is valid:
      it gives an empty result.

    Keyword options (``axis``, ``base``, ``label_smoothing``) are compile-time constants
    of the checked function; each distinct combination compiles once. The checked function
    is itself jitted and raises on the host when it returns, so call it outside
    ``jax.jit``; inside a jitted program, use :func:`jax.experimental.checkify.checkify`
    on the whole program instead.

    Args:
        fn: one of infolib's public functions.
        atol: tolerance on the sums of distributions.

    Returns:
        A function with the signature of ``fn`` that raises
        ``jax.experimental.checkify.JaxRuntimeError`` on invalid input and otherwise
        returns what ``fn`` returns.

    Example:
        >>> import infolib
        >>> safe_entropy = infolib.checked(infolib.entropy)
        >>> safe_entropy([0.5, 0.5], base=2)
        Array(1., dtype=float32)
        >>> safe_entropy([0.5, 0.6])
        Traceback (most recent call last):
        ...
        jax._src.checkify.JaxRuntimeError: p does not sum to 1 along axis -1: ...
    """
    try:
        kinds = _KINDS[fn]
    except (KeyError, TypeError):
        raise TypeError(f"checked() takes one of infolib's public functions, got {fn!r}") from None
    signature = inspect.signature(fn)
    twin = _LOGITS_TWINS.get(fn)
    hint = f" (if these are logits, use {twin})" if twin else ""

    def run(arrays: dict[str, Any], options: tuple[tuple[str, Any], ...]) -> jax.Array:
        arguments = {**arrays, **dict(options)}
        for name, kind in kinds.items():
            _validate(kind, name, arrays[name], arguments, atol, hint)
        return fn(**arguments)

    compiled = checkify.checkify(jax.jit(run, static_argnames="options"))

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> jax.Array:
        bound = signature.bind(*args, **kwargs)
        bound.apply_defaults()
        arrays = {name: jnp.asarray(bound.arguments[name]) for name in kinds}
        options = tuple((k, v) for k, v in bound.arguments.items() if k not in kinds)
        error, out = compiled(arrays, options=options)
        message = error.get()
        if message is not None:
            raise checkify.JaxRuntimeError(message.split("\n")[0]) from None
        return out

    return wrapper
