"""The material's own mistakes (README: "Errata: where the texts are wrong"): each test
computes what the text writes and the correct value, with numpy and infolib, and checks
they differ where the text is wrong and which one the shipped configs reproduce."""

from __future__ import annotations

import math

import numpy as np
import pytest

import infolib


def _sigmoid(z: float) -> float:
    return 1 / (1 + math.exp(-z))


def test_000_the_mse_gradient_is_0_0347_not_0_04():
    a = _sigmoid(4.0)  # x = 2, y = 0, θx = 4
    derivative = a * (1 - a)
    assert round(derivative, 4) == 0.0177  # the text rounds σ′ to 0.02
    assert round((a - 0) * derivative * 2, 4) == 0.0347  # (σ − y)σ′x
    assert round(2 * 0.98 * 0.02, 2) == 0.04  # the text's product
    assert round((a - 0) * 2, 3) == 1.964  # cross-entropy's (σ − y)x: the text's 1.96


def test_000_the_cross_entropy_gradient_has_no_minus_sign_and_steps_are_eta_times_it():
    # For y = 0, x = 2: J(θ) = −log(1 − σ(θx)); its derivative is (σ − y)x, not −(σ − y)x.
    theta, x, y, eps = 2.0, 2.0, 0.0, 1e-6

    def loss(t: float) -> float:
        return -math.log(1 - _sigmoid(t * x))

    numeric = (loss(theta + eps) - loss(theta - eps)) / (2 * eps)
    assert numeric == pytest.approx((_sigmoid(theta * x) - y) * x, rel=1e-6)
    text_gradient = -(_sigmoid(theta * x) - y) * x
    eta = 0.1
    assert loss(theta - eta * numeric) < loss(theta)  # the right step descends
    assert loss(theta - eta * text_gradient) > loss(theta)  # the text's sign climbs
    # "θ − 0.04·η·θ" scales the step by θ: at θ = 0 it would never move.
    assert 0.0 - 0.04 * eta * 0.0 == 0.0


def test_000_jensen_for_convex_f_is_expectation_of_f_above_f_of_expectation():
    values, weights = np.array([2 / 3, 2.0]), np.array([0.75, 0.25])  # X = Q/P, weights P
    f = lambda v: -np.log2(v)  # noqa: E731 (convex)
    expectation_of_f, f_of_expectation = float(weights @ f(values)), float(f(weights @ values))
    assert expectation_of_f >= f_of_expectation  # the right direction
    assert not f_of_expectation >= expectation_of_f  # the text's "f(E X) ≥ E f(X)" fails
    assert round(expectation_of_f, 4) == 0.1887  # = D(P‖Q), the KL proof's step


def test_001_conditional_entropy_needs_log_p_y_given_x():
    joint = np.array([[0.25, 0.25], [0.4, 0.1]])  # configs/conditional_entropy.yaml
    px = joint.sum(axis=1)
    given = joint / px[:, None]
    correct = float(np.sum(px * -np.sum(given * np.log2(given), axis=1)))
    as_written = float(np.sum(-np.sum(given * np.log2(px)[:, None], axis=1)))
    assert round(correct, 3) == 0.861
    assert as_written == 2.0 != round(correct, 3)
    chain = float(infolib.entropy(joint.ravel(), base=2) - infolib.entropy(px, base=2))
    assert chain == pytest.approx(correct, abs=1e-6)


def test_003_the_entropy_table_misses_a_minus_sign():
    as_written = [sum(p * math.log2(p) for p in [1 / n] * n) for n in (2, 4)]
    assert as_written == [-1.0, -2.0]
    assert [float(infolib.entropy(np.full(n, 1 / n), base=2)) for n in (2, 4)] == [1.0, 2.0]


def test_004_the_kl_slide_is_cross_entropy_minus_entropy():
    p, q = np.array([0.75, 0.25]), np.array([0.5, 0.5])
    kl = float(infolib.kl_divergence(p, q, base=2))
    entropy = float(infolib.entropy(p, base=2))
    cross = float(infolib.cross_entropy(p, q, base=2))
    assert kl == pytest.approx(cross - entropy, abs=1e-6)  # −H(p) − Σ p log q
    assert abs((entropy - float(p @ np.log2(q))) - kl) > 1  # the slide's "H(p) − Σ p log q"
    # "KL distance": not symmetric, on the slide's own numbers.
    assert (round(kl, 4), round(float(infolib.kl_divergence(q, p, base=2)), 4)) == (0.1887, 0.2075)


def test_004_every_number_is_in_bits_and_sample_3_of_model_2_uses_0_3():
    assert round(-math.log2(0.7), 3) == 0.515  # bits: in nats it would be 0.357
    assert round(-math.log(0.7), 3) == 0.357
    prediction = [0.3, 0.4, 0.3]  # model 2, sample 3, target (1, 0, 0)
    assert (
        round(float(infolib.cross_entropy(np.array([1.0, 0, 0]), np.array(prediction), base=2)), 3)
        == 1.737
    )
    # The slide's last logarithm is of 0.4, not the prediction's 0.3: its weight is 0,
    # so the sum, 1.737, is unchanged.
    assert round(-(1 * math.log2(0.3) + 0 * math.log2(0.4) + 0 * math.log2(0.4)), 3) == 1.737


def test_004_the_expected_value_table_swaps_its_row_labels():
    scores, probabilities = np.array([80.0, 90.0]), np.array([0.5, 0.5])
    assert float(probabilities @ scores) == 85.0
    # Read as labelled, "probabilities" 80 and 90 are not a distribution.
    assert scores.sum() != 1.0
