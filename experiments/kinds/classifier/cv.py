"""Cross-validation inside the member function (``data.cv_folds``), and the prior scale
chosen by it (``train.prior.scale: {select: cv}``).

**The fold axis.** The folds are data, not members:
:func:`~experiments.kinds.classifier.data.cv_folds` cuts them on the host (scikit-learn's
``StratifiedKFold``, each fold standardised by its fitting part), and the program takes them
as extra shared arrays after the four of the split. The wrappers here call the member's own
fit (or a path group's function) once on the whole training split and once on each fold,
inside the one jitted program: the members stay on the ``vmap`` axis (or on the warm-started
``lax.scan`` of a path group, each fold's path warm-started along the scales as the main one
is), while the k folds are unrolled in the trace. For ``newton`` a fold's fit is the Newton
solve alone (:func:`newton_fold_solve`: the same MAP to the run's ``tol``, a lighter program
than the trainer with its history). Folds differ in size by a row or so, so they cannot be
stacked on an axis of their own without row weights that every loss, metric and Newton step
would have to carry; unrolled, each fold is exactly a fit on its own rows, which is what
``cross_validate`` computes.

**Scores.** Each fold's fit is scored on its held-out rows by :data:`HELD_OUT` (the
cross-entropy in nats, the squared error and the accuracy of the final parameters). On the
host, :func:`cv_entry` makes ``runs[].cv`` of them: ``{folds: k, mean: {...}, std:
{...}}``, the std over folds the sample std (ddof = 1), ``ce`` in the run's ``base``.

**``{select: cv}``.** Every scale of the grid is fitted on every fold (a warm-started Newton
path for ``newton``, vmapped cold fits of the trainer otherwise), the mean held-out
cross-entropy chooses the scale (:func:`choose`: glmnet's ``lambda.min`` or
``lambda.1se``), and the run is fitted at that scale on the whole training split. It
records ``prior_scale``, ``cv_rule`` and ``cv_curve: {scales, mean, std}``; its ``cv`` is
that of the chosen scale, and with a test split the curve also has ``test_ce``, the test
cross-entropy of the fit at each scale on the whole training split (for the figure only).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from experiments.kinds.classifier import model, newton
from experiments.pipeline import loop

__all__ = [
    "HELD_OUT",
    "RULES",
    "choose",
    "curve_entry",
    "cv_entry",
    "fold_scores",
    "newton_fold_solve",
    "newton_grid",
    "vmapped_grid",
    "with_cv_selection",
    "with_folds",
]

HELD_OUT = ("ce", "mse", "accuracy")


def held_out_metrics(params: model.Params, x: jax.Array, y: jax.Array) -> dict[str, jax.Array]:
    """The mean cross-entropy (nats), squared error and accuracy of ``params`` on (x, y)."""
    one = jnp.ones((), x.dtype)
    _, metrics = model.objective_and_metrics(
        params, x, y, loss="ce", prior="none", prior_scale=one, n=x.shape[0]
    )
    return {name: metrics[name] for name in HELD_OUT}


def _output(result: Any) -> loop.Output:
    """The trainer's output of a fit that may also return fields: ``(Output, fields)``."""
    return result if isinstance(result, loop.Output) else result[0]


def fold_scores(
    solve: Callable[[jax.Array, jax.Array], model.Params],
    folds: Sequence[jax.Array],
    *,
    grouped: bool,
) -> dict[str, jax.Array]:
    """A fit on each fold's fitting rows, scored on its held-out rows.

    Args:
        solve: ``solve(x_fit, y_fit) -> params``, the member's (or members') fit.
        folds: the folds' arrays, four a fold, flat (as the program takes them).
        grouped: whether the parameters have a leading member axis.

    Returns:
        ``{metric: [..., k]}``: each of :data:`HELD_OUT` per fold (after any member axis).
    """
    score = jax.vmap(held_out_metrics, in_axes=(0, None, None)) if grouped else held_out_metrics
    per_fold = []
    for i in range(0, len(folds), 4):
        x_fit, y_fit, x_held, y_held = folds[i : i + 4]
        per_fold.append(score(solve(x_fit, y_fit), x_held, y_held))
    return jax.tree.map(lambda *values: jnp.stack(values, axis=-1), *per_fold)


def with_folds(
    fit: Callable[..., Any],
    *,
    grouped: bool,
    solve: Callable[..., model.Params] | None = None,
) -> Callable[..., Any]:
    """``member(hyper, key, x_train, y_train, x_test, y_test, *folds) -> (fit(...), scores)``:
    ``fit`` on the whole training split as before, and its :func:`fold_scores`.

    Args:
        fit: returns the trainer's output, or ``(output, fields)``.
        grouped: ``fit`` takes and returns a leading member axis (a path group's function).
        solve: ``solve(hyper, key, x, y) -> params``, the same fit's parameters by a
            lighter program (the Newton solve alone, for ``newton``); None: ``fit`` itself
            on each fold, with no test rows.
    """

    def member(hyper, key, x_train, y_train, x_test, y_test, *folds):
        def on_fold(x_fit, y_fit):
            if solve is not None:
                return solve(hyper, key, x_fit, y_fit)
            return _output(fit(hyper, key, x_fit, y_fit, x_fit[:0], y_fit[:0])).params

        result = fit(hyper, key, x_train, y_train, x_test, y_test)
        return result, fold_scores(on_fold, folds, grouped=grouped)

    return member


RULES = ("min", "1se")


def choose(mean: jax.Array, std: jax.Array, folds: int, one_se: jax.Array | bool) -> jax.Array:
    """The index of the chosen scale of an ascending grid, from the CV mean and std.

    Rule ``min`` (``one_se`` false): the smallest mean; ``1se``: the smallest scale (the
    strongest prior) whose mean is at most the smallest mean plus its standard error,
    std/√k. Non-finite means are never chosen.
    """
    finite = jnp.isfinite(mean)
    safe = jnp.where(finite, mean, jnp.inf)
    best = jnp.argmin(safe)
    within = finite & (mean <= safe[best] + std[best] / math.sqrt(folds))
    return jnp.where(one_se, jnp.argmax(within), best)  # argmax: the first, the smallest


def with_cv_selection(
    run: Callable[..., loop.Output],
    grid_solve: Callable[..., model.Params],
    grid: tuple[float, ...],
    *,
    evidence: Callable[..., jax.Array] | None = None,
) -> Callable[..., Any]:
    """``member(hyper, key, *split, *folds) -> ((output, fields), scores)`` for ``{select:
    cv}`` (see the module docstring); ``hyper["cv_rule"]`` is the index of its rule in
    :data:`RULES` (traced, so members of either rule share a program).

    Args:
        run: the trainer's member function.
        grid_solve: ``grid_solve(hyper, key, scales, x, y) -> params`` with a leading axis
            over the scales (a warm-started path for ``newton``).
        grid: the scales, ascending.
        evidence: ``evidence(x, y, params, scale)``, the log evidence of the final fit, for
            a fit that has one (None: not recorded).
    """

    def member(hyper, key, x_train, y_train, x_test, y_test, *folds):
        scales = jnp.asarray(grid, x_train.dtype)

        def solve(x_fit, y_fit):
            return grid_solve(hyper, key, scales, x_fit, y_fit)

        scores = fold_scores(solve, folds, grouped=True)
        mean, std = jnp.mean(scores["ce"], axis=-1), jnp.std(scores["ce"], axis=-1, ddof=1)
        index = choose(mean, std, len(folds) // 4, hyper["cv_rule"] > 0)
        scale = scales[index]
        output = run({**hyper, "prior_scale": scale}, key, x_train, y_train, x_test, y_test)
        curve = {"scales": scales, "mean": mean, "std": std}
        if x_test.shape[0] > 0:  # the test split's curve beside it, for the figure only
            params = solve(x_train, y_train)
            held_out = jax.vmap(held_out_metrics, in_axes=(0, None, None))
            curve["test_ce"] = held_out(params, x_test, y_test)["ce"]
        fields = {"prior_scale": scale, "cv_rule": hyper["cv_rule"], "cv_curve": curve}
        if evidence is not None:
            fields["log_evidence"] = evidence(x_train, y_train, output.params, scale)
        return (output, fields), jax.tree.map(lambda values: values[index], scores)

    return member


def newton_grid(
    n_classes: int, prior: str, max_steps: int, solver: str = "newton"
) -> Callable[..., model.Params]:
    """``solve(hyper, key, scales, x, y) -> params`` for ``newton``: the fits at ``scales``
    (ascending) as one warm-started Newton path
    (:func:`~experiments.kinds.classifier.newton.newton_path`) to the run's ``tol``."""

    def solve(hyper, key, scales, x, y):
        del key
        tol = jnp.maximum(hyper["tol"], 0.0)
        path = newton.newton_path(
            x,
            y,
            scales,
            n_classes=n_classes,
            prior=prior,
            tol=tol,
            max_steps=max_steps,
            solver=solver,
        )
        return model.Params(path.weights, path.bias)

    return solve


def newton_fold_solve(
    n_classes: int, prior: str, max_steps: int, *, grouped: bool, solver: str = "newton"
) -> Callable[..., model.Params]:
    """``solve(hyper, key, x, y) -> params`` for a fold of ``newton`` members: one member's
    Newton solve, or a path group's members as a warm-started path along their sorted
    scales (returned in the members' order)."""
    path = newton_grid(n_classes, prior, max_steps, solver)

    def solve(hyper, key, x, y):
        if not grouped:
            tol = jnp.maximum(hyper["tol"], 0.0)
            result = newton.newton_solve(
                x,
                y,
                n_classes=n_classes,
                prior=prior,
                prior_scale=hyper["prior_scale"],
                tol=tol,
                max_steps=max_steps,
                solver=solver,
            )
            return model.Params(result.weights, result.bias)
        order = jnp.argsort(hyper["prior_scale"], stable=True)
        first = jax.tree.map(lambda leaf: leaf[0], hyper)  # tol: one for the whole group
        params = path(first, key, hyper["prior_scale"][order], x, y)
        return jax.tree.map(lambda leaf: leaf[jnp.argsort(order)], params)

    return solve


def vmapped_grid(run: Callable[..., loop.Output]) -> Callable[..., model.Params]:
    """``grid_solve`` for a first-order optimizer: the trainer at every scale, side by side."""
    fits = jax.vmap(run, in_axes=(0, None, None, None, None, None))

    def solve(hyper, key, scales, x, y):
        along = jax.tree.map(lambda leaf: jnp.broadcast_to(leaf, scales.shape), hyper)
        return fits({**along, "prior_scale": scales}, key, x, y, x[:0], y[:0]).params

    return solve


# ---------------------------------------------------------------------------
# On the host: summary.json fields
# ---------------------------------------------------------------------------


def _per_nat(metric: str, base: float | None) -> float:
    return 1.0 / math.log(base) if metric == "ce" and base is not None else 1.0


def cv_entry(scores: dict[str, np.ndarray], base: float | None) -> dict[str, Any]:
    """``runs[].cv``: ``{folds, mean, std}`` of one member's fold scores ([k] each), in
    float64, the sample std (ddof = 1), ``ce`` in ``base``; NaN as None."""
    values = {m: np.asarray(scores[m], np.float64) * _per_nat(m, base) for m in HELD_OUT}
    folds = len(values["ce"])
    return {
        "folds": folds,
        "mean": {m: _number(np.mean(v)) for m, v in values.items()},
        "std": {m: _number(np.std(v, ddof=1)) for m, v in values.items()},
    }


def curve_entry(curve: dict[str, np.ndarray], base: float | None) -> dict[str, list]:
    """``cv_curve``: the grid's scales, the CV mean and std of the held-out cross-entropy at
    each and, where there is a test split, ``test_ce``: the test cross-entropy of the fit
    on the whole training split at each (never used to choose); in ``base``."""
    entry = {"scales": [_number(v) for v in np.asarray(curve["scales"], np.float64)]}
    for name in ("mean", "std", "test_ce"):
        if name in curve:
            values = np.asarray(curve[name], np.float64) * _per_nat("ce", base)
            entry[name] = [_number(v) for v in values]
    return entry


def _number(value: float) -> float | None:
    number = float(value)
    return number if math.isfinite(number) else None
