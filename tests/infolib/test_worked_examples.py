"""Worked numbers from the source material, in bits.

Entropy of a certain outcome [1] is 0 bits, of a fair coin [.5, .5] 1 bit, of four equal outcomes
2 bits; the one-hot label [0, 1, 0] against the prediction [.2, .7, .1] costs -log2(0.7) = 0.515
bits (to 3 decimals), whichever form the prediction is given in.
"""

import numpy as np
import pytest

import infolib

LABEL = np.asarray([0.0, 1.0, 0.0], np.float32)
PREDICTION = np.asarray([0.2, 0.7, 0.1], np.float32)


@pytest.mark.parametrize(
    ("p", "bits"), [([1.0], 0.0), ([0.5, 0.5], 1.0), ([0.25, 0.25, 0.25, 0.25], 2.0)]
)
def test_entropy_in_bits(p, bits):
    np.testing.assert_allclose(infolib.entropy(np.float32(p), base=2), bits, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize(
    "cost",
    [
        lambda: infolib.cross_entropy(LABEL, PREDICTION, base=2),
        lambda: infolib.cross_entropy_with_logits(LABEL, np.log(PREDICTION), base=2),
        lambda: infolib.sparse_cross_entropy_with_logits(1, np.log(PREDICTION), base=2),
        lambda: infolib.kl_divergence(LABEL, PREDICTION, base=2),  # H(label) = 0
        lambda: infolib.self_information(PREDICTION[1], base=2),
    ],
    ids=["cross_entropy", "with_logits", "sparse", "kl_divergence", "self_information"],
)
def test_one_hot_label_against_prediction_costs_0_515_bits(cost):
    assert round(float(cost()), 3) == 0.515
