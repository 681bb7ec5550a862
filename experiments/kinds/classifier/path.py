"""Warm starts along a regularisation path: a group of newton members that differ only
in their prior scales, solved one after another from the last solution."""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp

from experiments.kinds.classifier import newton, train
from experiments.kinds.classifier import newton_steps as steps
from experiments.kinds.classifier.model import Hyperparameters, Params
from experiments.pipeline import loop

__all__ = ["make_path_fn"]


def make_path_fn(static: train.RunStatic) -> Callable[..., loop.Output]:
    """``path(hyper, keys, x_train, y_train, x_test, y_test) -> Output``: a group's
    members (a leading axis on ``hyper``, ``keys`` and the result) solved along a
    regularisation path, for ``newton`` with a prior.

    The members are taken in ascending prior scale (from the strongest prior to the weakest)
    by a ``lax.scan``: the first starts from its own initial parameters, each later one from
    the last solution (or the secant predictor through the last two, see
    :func:`~experiments.kinds.classifier.newton.path_start`). Each member is the
    :func:`~experiments.kinds.classifier.train.make_run_fn` run from there, so it meets its
    own stopping rule and ends within what ``tol`` allows of its cold run; its history
    starts at the warm start. The results are in the members' order, whatever the order of
    their scales.
    """
    run = train.make_run_fn(static)

    def path(hyper: Hyperparameters, keys, x_train, y_train, x_test, y_test) -> loop.Output:
        order = jnp.argsort(hyper["prior_scale"], stable=True)
        ordered = jax.tree.map(lambda leaf: leaf[order], (hyper, keys))
        unit = jnp.ones((), x_train.dtype)
        problem = steps.make_problem(
            x_train, y_train, static.n_classes, static.prior, unit, static.solver
        )
        classes = () if static.n_classes == 2 else (static.n_classes,)
        zero = jnp.zeros((x_train.shape[1] + 1, *classes), x_train.dtype)  # θ = [w; b]

        def member(carry: newton.PathCarry, inputs):
            member_hyper, key = inputs
            scale = member_hyper["prior_scale"]
            theta = newton.path_start(steps.with_scale(problem, scale), carry, scale)
            start = (Params(theta[:-1], theta[-1]), carry.solved > 0)
            output = run(member_hyper, key, x_train, y_train, x_test, y_test, start=start)
            solution = steps.stack(output.params.weights, output.params.bias)
            return newton.path_advance(carry, solution, scale), output

        _, outputs = jax.lax.scan(member, newton.path_carry(zero), ordered)
        inverse = jnp.argsort(order)
        return jax.tree.map(lambda leaf: leaf[inverse], outputs)

    return path
