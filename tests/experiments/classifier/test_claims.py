"""The shipped classifier configs make the claims their comments print: each test runs a
config as shipped and checks the numbers its comment quotes, to their printed precision."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import experiments

CONFIGS = Path(__file__).resolve().parents[3] / "configs"
NO_FIGURES = ["output.formats=[]"]


def _metric(run, variant: str, split: str, metric: str):
    m = run.metrics
    rows = m[(m.variant == variant) & (m.split == split) & (m.metric == metric)]
    return rows.set_index("step").value


@pytest.mark.slow
def test_separable_mle_weights_grow_like_log_t_and_map_wins_on_held_out_cross_entropy():
    run = experiments.run(CONFIGS / "separable_mle.yaml", NO_FIGURES)
    norm = _metric(run, "mle", "train", "weight_norm")
    decades = [norm[10**k] for k in (2, 3, 4)]
    assert [round(v, 1) for v in decades] == [3.9, 5.8, 7.6]
    growth = np.diff(decades)
    assert growth == pytest.approx(growth[0], rel=0.1)  # a constant step per decade: log t
    final = run.summary.set_index("variant")
    assert final.loc["mle", "train/ce"] < 1e-3  # every training prediction saturates
    test_ce = final["test/ce"].round(2).to_dict()
    assert test_ce == {"mle": 3.71, "map_gaussian": 1.16, "map_laplace": 0.90}
    assert final["test/accuracy"].round(2).to_dict()["map_laplace"] == 0.68
    assert final.loc["mle", "test/accuracy"].round(2) == 0.55


@pytest.mark.slow
def test_mle_vs_map_l2_spreads_each_group_and_l1_picks_one_member():
    run = experiments.run(CONFIGS / "mle_vs_map.yaml", NO_FIGURES)
    shares = run.summary.set_index("variant")["group_weight_share"].map(np.array).to_dict()
    weights = {variant: np.asarray(run.params(variant)["weights"]) for variant in shares}
    # The share is the largest member's |w| over the group's total |w|.
    for variant, w in weights.items():
        magnitudes = np.abs(w[:20].reshape(5, 4))
        np.testing.assert_allclose(shares[variant], magnitudes.max(1) / magnitudes.sum(1), 1e-6)
    gaussian, mle = (np.round(shares[v], 2) for v in ("map_gaussian", "mle"))
    assert gaussian.min() == 0.31 and gaussian.max() == 0.36  # even would be 0.25
    assert mle.min() == 0.40 and mle.max() == 0.69
    assert sorted(np.round(shares["map_laplace"], 2).tolist()) == [0.6, 0.73, 0.98, 1.0, 1.0]
    mixed = [np.any(np.sign(g) != np.sign(g[0])) for g in weights["mle"][:20].reshape(5, 4)]
    assert all(mixed)  # MLE's groups have members of opposite signs
    final = run.summary.set_index("variant")
    assert final.loc["map_laplace", "train/zero_weights"] == 39
    assert final["test/accuracy"].round(3).to_dict() == {
        "mle": 0.838,
        "map_gaussian": 0.840,
        "map_laplace": 0.850,
    }


@pytest.mark.slow
def test_multiclass_ce_from_a_saturated_start_mse_learns_far_slower():
    run = experiments.run(CONFIGS / "multiclass_ce.yaml", NO_FIGURES)
    ce, mse = (_metric(run, v, "test", "accuracy") for v in ("cross_entropy", "mse"))
    assert round(ce[0], 3) == round(mse[0], 3) == 0.069  # 93% start on a wrong class
    assert [round(ce[50], 2), round(ce[1000], 2)] == [0.83, 0.95]
    assert [round(mse[50], 2), round(mse[500], 2), round(mse[1000], 2)] == [0.11, 0.61, 0.85]
