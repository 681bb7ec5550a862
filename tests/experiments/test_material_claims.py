"""The claims of the source material that had no run until issue 24: each shipped config
is run as shipped (figures left out where they are not checked) and shows the number the
README's table quotes, to its printed precision."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

import experiments
from experiments.kinds import load_config, validate_config
from experiments.pipeline import run as runner

CONFIGS = Path(__file__).resolve().parents[2] / "configs"
NO_FIGURES = ["output.formats=[]"]


def _params(name: str, tmp_path: Path, overrides=NO_FIGURES) -> dict:
    run_dir = runner.run(load_config(CONFIGS / name, overrides), out=tmp_path / "run")
    return {r["variant"]: r for r in json.loads((run_dir / "summary.json").read_text())["runs"]}


def test_reverse_cross_entropy_need_not_exceed_the_entropy(tmp_path):
    params = _params("cross_entropy_direction.yaml", tmp_path)["default"]["params"]
    entropy = {n: d["entropy"] for n, d in params["distributions"].items()}
    pq, pu = params["pairs"]["P||Q"], params["pairs"]["P||Q_uniform"]
    # P = (0.9, 0.1), Q = (1, 0): E_Q[−log P] = −log₂ 0.9 = 0.152 < H(P) = 0.469 bits.
    assert round(pq["reverse_cross_entropy"], 3) == 0.152 and round(entropy["P"], 3) == 0.469
    assert pq["cross_entropy"] is None  # H(P, Q) = inf: Q gives 0 where P does not
    assert pu["cross_entropy"] == 1.0 >= entropy["P"]  # H(P, Q) ≥ H(P)
    # The estimated entropy E_Q[−log Q] = H(Q): 0 and 1 bit, not 0.469.
    assert (entropy["Q"], entropy["Q_uniform"]) == (0.0, 1.0)


def test_conditional_entropy_by_the_chain_rule_and_by_its_definition(tmp_path):
    params = _params("conditional_entropy.yaml", tmp_path)["default"]["params"]
    h = {n: d["entropy"] for n, d in params["distributions"].items()}
    conditional = 0.5 * h["Y_given_x0"] + 0.5 * h["Y_given_x1"]  # Σ P(x) H(Y|x)
    assert round(conditional, 3) == 0.861
    assert h["joint_XY"] - h["X"] == pytest.approx(conditional, abs=1e-6)  # chain rule
    assert (round(h["joint_XY"], 3), round(h["Y"], 3)) == (1.861, 0.934)
    assert conditional < h["Y"]  # conditioning does not raise entropy
    joint = np.array([[0.25, 0.25], [0.4, 0.1]])
    direct = -np.sum(joint * np.log2(joint / joint.sum(axis=1, keepdims=True)))
    assert direct == pytest.approx(conditional, abs=1e-6)


def test_mean_code_length_is_the_cross_entropy_against_two_to_the_minus_length(tmp_path):
    params = _params("code_length.yaml", tmp_path)["default"]["params"]
    p = np.array([0.5, 0.25, 0.125, 0.125])
    lengths = {"matched": [1, 2, 3, 3], "fixed": [2, 2, 2, 2]}
    lengths["reversed"] = [3, 3, 2, 1]
    for name, ell in lengths.items():
        pair = params["pairs"][f"P||{name}"]
        assert pair["cross_entropy"] == pytest.approx(float(p @ ell), abs=1e-6)
        assert pair["cross_entropy"] >= params["distributions"]["P"]["entropy"]
    assert params["distributions"]["P"]["entropy"] == 1.75
    got = [params["pairs"][f"P||{n}"]["cross_entropy"] for n in lengths]
    assert got == [1.75, 2.0, 2.625]


def test_mle_is_the_minimum_cross_entropy(tmp_path):
    run = _params("mle_cross_entropy.yaml", tmp_path)["min_cross_entropy"]
    # Counts 6, 3, 1 of m = 10: the MLE of a categorical is counts/m.
    np.testing.assert_allclose(run["params"]["probabilities"], [0.6, 0.3, 0.1], atol=1e-6)
    p = np.array([0.6, 0.3, 0.1])
    nll = -np.sum(p * np.log(p))  # mean negative log-likelihood at the MLE, in nats
    assert round(run["final"]["train"]["cross_entropy"], 3) == round(nll, 3) == 0.898


@pytest.mark.slow
def test_a_flat_prior_makes_map_the_mle(tmp_path):
    runs = _params("uniform_prior.yaml", tmp_path)
    mle = np.array(runs["mle"]["params"]["weights"])
    gaps = {
        sigma: float(
            np.linalg.norm(np.array(runs[f"map_sigma_{sigma}"]["params"]["weights"]) - mle)
        )
        for sigma in ("0_1", "1", "10", "100")
    }
    assert round(gaps["0_1"], 2) == 0.99 and round(gaps["1"], 3) == 0.042
    assert f"{gaps['10']:.1e}" == "4.4e-04" and f"{gaps['100']:.1e}" == "4.5e-06"
    assert all(run["converged"] for run in runs.values())


def test_jensen_expected_value_and_the_two_priors(tmp_path):
    raw = load_config(CONFIGS / "curves.yaml").model_dump(mode="json")
    keep = ("self_information", "jensen", "expected_value", "prior_densities")
    raw["variants"] = [v for v in raw["variants"] if v["name"] in keep]
    raw.pop("curve", None)  # the dumped default curve would merge into every variant's
    raw["output"]["formats"] = ["png"]
    run_dir = runner.run(validate_config(raw), out=tmp_path / "run")
    runs = {
        r["variant"]: r["params"]
        for r in json.loads((run_dir / "summary.json").read_text())["runs"]
    }
    # Additivity: I(½) + I(¼) = I(⅛), in bits.
    info = dict(
        zip(
            runs["self_information"]["at"]["x"],
            runs["self_information"]["at"]["self_information"],
            strict=True,
        )
    )
    assert info[0.5] + info[0.25] == info[0.125] == 3.0
    jensen = runs["jensen"]["facts"]
    # E[f(X)] for f = −log₂ and X = Q/P is D(P‖Q) = 0.1887 bits; f(E[X]) = f(ΣQ) = 0.
    assert round(jensen["mean_of_f"], 4) == 0.1887 and abs(jensen["f_of_mean"]) < 1e-6
    assert jensen["mean_of_f"] >= jensen["f_of_mean"]
    assert runs["expected_value"]["facts"]["mean"] == 85.0
    priors = runs["prior_densities"]["at"]
    assert [round(v, 3) for v in priors["normal"]] == [0.399, 0.242]  # N(0, 1) at 0 and 1
    assert [round(v, 3) for v in priors["laplace"]] == [0.5, 0.184]  # Laplace(0, 1)
    assert priors["normal_penalty"] == [0.0, 0.5] and priors["laplace_penalty"] == [0.0, 1.0]
    assert {p.stem for p in (run_dir / "figures").iterdir()} == set(keep)


@pytest.mark.slow
def test_breast_cancer_map_large_weights_overfit():
    raw = load_config(CONFIGS / "breast_cancer_map.yaml", NO_FIGURES).model_dump(mode="json")
    raw["variants"] = [v for v in raw["variants"] if v["name"] != "map_laplace_fista"]
    run = experiments.run(validate_config(raw))
    final = run.summary.set_index("variant")
    norms = final["train/weight_norm"]
    assert (round(norms["mle"]), round(norms["map_gaussian"], 1)) == (361, 3.5)
    test_ce = final["test/ce"]
    assert (round(test_ce["mle"], 2), round(test_ce["map_gaussian"], 3)) == (2.92, 0.046)
    # The constant predictor (the class frequencies: 212 malignant, 357 benign) scores
    # about their entropy, 0.66 nats: MAP beats it and MLE does not.
    p = 212 / 569
    constant = -(p * math.log(p) + (1 - p) * math.log(1 - p))
    assert round(constant, 2) == 0.66
    assert test_ce["map_gaussian"] < constant < test_ce["mle"]
    assert final["test/accuracy"].round(3).to_dict() == {
        "mle": 0.965,
        "map_gaussian": 0.993,
        "map_laplace": 0.965,
    }
