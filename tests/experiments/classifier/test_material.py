"""The source material's classifier numbers, from the shipped configs, to their printed
precision."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

import experiments
from experiments.config import ConfigError
from experiments.kinds import validate_config

CONFIGS = Path(__file__).resolve().parents[3] / "configs"


def _step0(run, variant: str, metric: str) -> float:
    rows = run.metrics[
        (run.metrics.variant == variant) & (run.metrics.step == 0) & (run.metrics.metric == metric)
    ]
    return float(rows.value.iloc[0])


def test_the_materials_one_sample_gradients():
    # x = 2, y = 0, θ₀ = 2, θ₁ = 1: z = 4, σ(4) = 0.982; the weight gradient is
    # (σ − y)σ′x = 0.035 under MSE (½(σ − y)²) and (σ − y)x = 1.964 under cross-entropy.
    run = experiments.run(CONFIGS / "material_gradients.yaml", ["train.steps=1"])
    assert round(_step0(run, "mse", "weight_grad_norm"), 3) == 0.035
    assert round(_step0(run, "cross_entropy", "weight_grad_norm"), 3) == 1.964
    assert math.isfinite(_step0(run, "mse", "grad_norm"))


def _nielsen(w: float, b: float, rate: float, loss: str, epochs: int = 300) -> list[float]:
    """Nielsen's neuron by hand (x = 1, y = 0): a after every epoch, from epoch 0."""
    outputs = []
    for _ in range(epochs + 1):
        a = 1 / (1 + math.exp(-(w + b)))
        outputs.append(a)
        gradient = a * a * (1 - a) if loss == "mse" else a  # ∂C/∂z; x = 1, so ∂C/∂w = ∂C/∂b
        w, b = w - rate * gradient, b - rate * gradient
    return outputs


def test_nielsens_neuron_writes_its_output_from_both_starts_at_his_rates():
    run = experiments.run(CONFIGS / "nielsen_neuron.yaml")
    final = run.summary.set_index("variant")["train/output"]
    # The output a itself, not recovered from the squared error.
    assert round(final["quadratic_fast_start"], 3) == 0.094  # w = 0.6, b = 0.9: fast
    assert round(final["quadratic"], 2) == 0.20  # w = b = 2: the saturated start
    assert round(final["cross_entropy_same_rate"], 3) == 0.012
    assert round(final["cross_entropy_fast_start"], 3) == 0.418  # Nielsen's rate 0.005
    assert round(final["cross_entropy"], 3) == 0.780
    expected = {
        "quadratic_fast_start": (0.6, 0.9, 0.15, "mse"),
        "cross_entropy_fast_start": (0.6, 0.9, 0.005, "ce"),
        "quadratic": (2.0, 2.0, 0.15, "mse"),
        "cross_entropy": (2.0, 2.0, 0.005, "ce"),
        "cross_entropy_same_rate": (2.0, 2.0, 0.15, "ce"),
    }
    rows = run.metrics[(run.metrics.metric == "output") & (run.metrics.split == "train")]
    for variant, settings in expected.items():
        logged = rows[rows.variant == variant].sort_values("step")
        assert list(logged.step) == list(range(0, 301, 5))
        by_hand = _nielsen(*settings)
        np.testing.assert_allclose(logged.value, by_hand[::5], atol=2e-5, err_msg=variant)
    # The plateau: from w = b = 2 the quadratic cost's a has moved less than 0.01 after 50
    # epochs, while from w = 0.6, b = 0.9 it has halved.
    early = rows[rows.step == 50].set_index("variant").value
    assert 0.982 - early["quadratic"] < 0.01 and early["quadratic_fast_start"] < 0.818 / 2
    figures = {p.name for p in (run.path / "figures").iterdir()}
    assert figures == {"convergence.png", "output.png"}  # no |w| of one weight


def test_one_example_needs_no_split_but_a_split_says_why():
    raw = {
        "name": "one",
        "data": {"source": "inline", "x": [[2.0]], "y": [0], "test_fraction": 0.0},
    }
    assert len(validate_config(raw).members) == 1
    with pytest.raises(experiments.DataError, match=r"set data\.test_fraction: 0"):
        from experiments.pipeline import plan as planner

        planner.plan(validate_config({**raw, "data": {**raw["data"], "test_fraction": 0.5}}), ".")
    with pytest.raises(experiments.DataError, match=r"data\.y: labels \[2\] are outside 0\.\.1"):
        planner.plan(validate_config({**raw, "data": {**raw["data"], "y": [2]}}), ".")
    with pytest.raises(ConfigError, match=r"data\.y: must have at least 1 entries"):
        validate_config({**raw, "data": {**raw["data"], "x": [], "y": []}})


def test_cross_entropy_is_reported_in_the_configs_base():
    # z = 4, y = 0: the cross-entropy is −log σ(−4) = log(1 + e⁴) = 4.0181 nats, 5.7970 bits.
    nats, bits = (
        experiments.run(CONFIGS / "material_gradients.yaml", ["train.steps=1", *base])
        for base in ([], ["base=2"])
    )
    in_nats, in_bits = (_step0(run, "cross_entropy", "ce") for run in (nats, bits))
    assert in_nats == pytest.approx(math.log1p(math.exp(4)), rel=1e-6)
    assert in_bits == pytest.approx(in_nats / math.log(2), rel=1e-6)
    assert round(in_bits, 4) == 5.7970
    # Training is unchanged: the gradient stays that of the natural-log objective.
    assert _step0(bits, "cross_entropy", "grad_norm") == _step0(nats, "cross_entropy", "grad_norm")
    with pytest.raises(ConfigError, match=r"base: must be > 1"):
        validate_config({"name": "b", "base": 1.0})
