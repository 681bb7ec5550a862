"""Warm starts along a regularisation path: a sweep of ``newton`` members that differ only in
their prior scale is solved along the sorted scales, each member within ``tol`` of its own
cold run, and reported in the config's order."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from experiments.kinds import validate_config
from experiments.kinds.classifier.program import PROGRAM
from experiments.pipeline import plan as planner
from experiments.pipeline import run as runner
from experiments.pipeline.loop import run_member

SCALES = [1.0, 0.03, 10.0, 0.3, 0.1]  # not sorted: the members keep this order
TOL = 1e-5


def _config(sweep: dict) -> dict:
    # The single runs' program is test_train's Newton program (breast_cancer, 30 steps,
    # tol 1e-5): compiled once for the suite.
    return {
        "name": "path",
        "data": {"source": "sklearn", "name": "breast_cancer", "test_fraction": 0.0},
        "train": {
            "prior": {"kind": "laplace", "scale": 1.0},
            "optimizer": {"name": "newton"},
            "steps": 30,
            "log_every": 1,
            "tol": TOL,
        },
        "sweep": sweep,
        "output": {"formats": []},
    }


def test_path_members_equal_their_cold_runs_in_the_config_order():
    the_plan = planner.plan(validate_config(_config({"train.prior.scale": SCALES})), Path("."))
    assert [group.key.path for group in the_plan.groups] == [True]
    executed = runner.execute(the_plan)
    cold_steps = 0
    for member, outcome in zip(the_plan.members, executed.outcomes, strict=True):
        assert member.spec.train.prior.scale == SCALES[member.index]
        alone = run_member(PROGRAM, member.spec, the_plan.datasets[0])
        assert outcome.extra["converged"] and alone.extra["converged"]
        assert outcome.extra["warm_start"] and "warm_start" not in alone.extra
        # Both meet ‖g‖ ≤ tol, so their objectives J = CE + ‖w‖₁/(s n) are within about
        # tol²/λ_min(H) of the optimum (λ_min ≈ 1e-4 here), and they have the same zeros.
        final, cold = outcome.history["train"], alone.history["train"]
        assert final["grad_norm"][-1] <= TOL and cold["grad_norm"][-1] <= TOL
        n = len(the_plan.datasets[0].y_train)
        penalty = [
            np.abs(o.params["weights"]).sum() / (SCALES[member.index] * n) for o in (outcome, alone)
        ]
        np.testing.assert_allclose(
            final["ce"][-1] + penalty[0], cold["ce"][-1] + penalty[1], rtol=0, atol=2e-6
        )
        # And their parameters within 2·tol/λ_min of each other, H restricted to the nonzero
        # weights and the bias (measured: 2e-2 of a bound of 5e-2; the weakest prior).
        x = np.c_[the_plan.datasets[0].x_train, np.ones(n)].astype(np.float64)
        theta = np.r_[alone.params["weights"], alone.params["bias"]]
        free = theta != 0
        p = 1 / (1 + np.exp(-x @ theta))
        hessian = (x[:, free] * (p * (1 - p))[:, None]).T @ x[:, free] / n
        bound = 2 * TOL / np.linalg.eigvalsh(hessian)[0]
        other = np.r_[outcome.params["weights"], outcome.params["bias"]]
        assert np.max(np.abs(other - theta)) <= bound
        np.testing.assert_array_equal(outcome.params["weights"] == 0, alone.params["weights"] == 0)
        cold_steps += alone.extra["steps_taken"]
    warm_steps = sum(outcome.extra["steps_taken"] for outcome in executed.outcomes)
    assert warm_steps < cold_steps
    # The smallest scale is solved first, from the initial parameters: its own cold run.
    first = int(np.argmin(SCALES))
    alone = run_member(PROGRAM, the_plan.members[first].spec, the_plan.datasets[0])
    assert executed.outcomes[first].extra["steps_taken"] == alone.extra["steps_taken"]


def test_members_that_differ_in_more_than_the_scale_are_solved_cold():
    sweep = {"train.prior.scale": SCALES[:2], "train.tol": [TOL, 1e-6]}
    the_plan = planner.plan(validate_config(_config(sweep)), Path("."))
    assert [group.key.path for group in the_plan.groups] == [False]
    repeated = {"train.prior.scale": [1.0, 1.0]}  # the same scale twice: a seed sweep's shape
    the_plan = planner.plan(validate_config(_config(repeated)), Path("."))
    assert [group.key.path for group in the_plan.groups] == [False]
