"""The estimators kind: a small study run through the pipeline, its numbers read back from
the run's files against the true values, and its figures; the shipped config's settings.

The run here is the shipped config made small (two sizes, few repeats, three estimators); its
compilation still takes 10–17 s on the loaded 2-core machine, so those tests are marked slow.
The shipped config itself validates in tests/experiments/test_config.py.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import yaml

from experiments.config import ConfigError
from experiments.kinds import resolve, validate_config
from experiments.pipeline import run as runner

ROOT = Path(__file__).resolve().parents[3]
# Three of the eight, to keep compilation short: the baseline, a correction, and Zhang's.
ESTIMATORS = ("plugin", "miller_madow", "zhang")
SHIPPED = ROOT / "configs" / "estimators.yaml"


def _small() -> dict:
    raw = yaml.safe_load(SHIPPED.read_text())
    raw["variants"][0]["study"].update(sizes=[10, 1000], repeats=8, estimators=list(ESTIMATORS))
    raw["variants"][1]["study"].update(rhos=[0.0, 0.9], n=300, repeats=3)
    return {**raw, "output": {"formats": ["png"]}}


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    run_dir = runner.run(*resolve(_small()), out=tmp_path_factory.mktemp("e") / "r")
    runs = json.loads((run_dir / "summary.json").read_text())["runs"]
    return run_dir, {r["variant"]: r["params"] for r in runs}


@pytest.mark.slow
def test_the_discrete_study_reads_back_against_the_true_entropy(run):
    _, by = run
    discrete = by["discrete"]
    assert discrete["base"] == 2
    np.testing.assert_allclose(discrete["uniform"]["true"], np.log2(50), rtol=1e-6)
    ranks = np.arange(1, 51)
    zipf = (1 / ranks) / np.sum(1 / ranks)
    np.testing.assert_allclose(discrete["zipf"]["true"], -np.sum(zipf * np.log2(zipf)), rtol=1e-6)
    for name in ("zipf", "uniform"):
        entry = discrete[name]
        assert set(entry) == {"true", *ESTIMATORS}
        plugin = np.asarray(entry["plugin"]["mean"]) - entry["true"]
        assert plugin[0] < -0.5  # badly biased low at n = 10 on 50 bins
        for estimator in ESTIMATORS[1:]:
            bias = np.asarray(entry[estimator]["mean"]) - entry["true"]
            assert abs(bias[0]) < abs(plugin[0]), estimator  # each corrects some of it
            assert abs(bias[1]) < 0.1, estimator  # n = 1000: all close
            assert np.all(np.asarray(entry[estimator]["std"]) >= 0)


@pytest.mark.slow
def test_the_ksg_study_is_near_the_closed_form(run):
    _, by = run
    ksg = by["ksg"]
    np.testing.assert_allclose(ksg["true"], [0.0, -0.5 * np.log2(1 - 0.81)], rtol=1e-6)
    np.testing.assert_allclose(ksg["ksg"]["mean"], ksg["true"], atol=0.15)


@pytest.mark.slow
def test_the_figures_are_drawn(run):
    run_dir, _ = run
    assert {p.name for p in (run_dir / "figures").iterdir()} == {"discrete.png", "ksg.png"}


def test_an_unknown_estimator_or_a_correlation_of_one_is_refused():
    raw = _small()
    raw["variants"][0]["study"]["estimators"] = ["plugin", "bayes"]
    with pytest.raises(ConfigError, match="estimators"):
        validate_config(raw)
    raw = _small()
    raw["variants"][1]["study"]["rhos"] = [1.0]
    with pytest.raises(ConfigError, match="rhos"):
        validate_config(raw)
