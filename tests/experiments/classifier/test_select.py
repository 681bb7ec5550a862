"""The evidence in a run's files, and prior scales chosen by it (``scale: {select: evidence}``).

- a Gaussian-prior newton fit with the cross-entropy writes ``log_evidence`` and
  ``prior_scale``, equal to :func:`experiments.log_evidence` on the same standardised
  training split (float64, 1e-8); no other run writes either;
- ``select: evidence`` lands on the argmax of a dense grid of log evidences (computed here,
  apart from the run), within a grid step, and fits the MAP there;
- ARD (``per_feature: true``, the shipped ``configs/ard.yaml``) recovers the support;
- bad input exits 2 before any work, naming the field and what to use instead;
- the README's hypergradient example runs as written.
"""

from __future__ import annotations

import contextlib
import functools
import io
import json
import re
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import yaml

import experiments
from experiments import cli
from experiments.api import read_record
from experiments.config import ConfigError
from experiments.kinds import validate_config
from experiments.kinds.classifier import figures
from experiments.kinds.classifier.data import load_dataset
from experiments.kinds.classifier.program import PROGRAM

REPO = Path(__file__).resolve().parents[3]
SMALL = {"source": "synthetic", "n_samples": 240, "n_features": 6, "n_informative": 3}
NEWTON = {"name": "newton"}


def _config(**train) -> dict:
    return {
        "name": "select",
        "precision": "float64",
        "data": SMALL,
        "train": {
            "loss": "ce",
            "prior": {"kind": "gaussian", "scale": 0.5},
            "optimizer": NEWTON,
            "steps": 40,
            "log_every": 1,
            "tol": 1e-10,
            **train,
        },
        "output": {"formats": []},
    }


def _summary(run_dir: Path) -> dict[str, dict]:
    runs = json.loads((run_dir / "summary.json").read_text())["runs"]
    return {run["variant"]: run for run in runs}


def _training_split(config: dict, variant: int = 0):
    """The standardised training split of a config's variant, as its run loads it."""
    spec = validate_config(config).runs()[variant]
    return load_dataset(spec.data, spec.seed, classes=spec.model.classes, precision="float64")


@pytest.fixture(scope="module")
def mixed(tmp_path_factory) -> tuple[dict, dict[str, dict]]:
    """One run: fixed-scale Gaussian newton fits (two classes and a softmax), ``select:
    evidence``, and newton without a prior (no evidence)."""
    config = _config()
    config["variants"] = [
        {"name": "gaussian"},
        {"name": "evidence", "train": {"prior": {"scale": {"select": "evidence"}}}},
        {
            "name": "softmax",
            "data": {"source": "sklearn", "name": "iris"},
            "model": {"classes": 3},
        },
        {"name": "mle", "train": {"prior": {"kind": "none"}}},
    ]
    out = tmp_path_factory.mktemp("mixed") / "run"
    experiments.run(config, out=out)
    return config, _summary(out), out


GRID = 81  # points of every grid of evidences computed here (one compiled program)


@functools.cache
def _evidence_fn(n_classes: int):
    def evidence(x, y, log_scales):
        return jax.vmap(
            lambda u: experiments.log_evidence(x, y, scale=jnp.exp(u), n_classes=n_classes)
        )(log_scales)

    return jax.jit(evidence)


def _evidences(data, scales) -> np.ndarray:
    """experiments.log_evidence at each scale (float64), apart from the run."""
    scales = np.asarray(scales, np.float64)
    padded = np.resize(np.log(scales), GRID)
    with jax.enable_x64(True):
        values = _evidence_fn(data.n_classes)(data.x_train, data.y_train, jnp.asarray(padded))
        return np.asarray(values)[: scales.size]


EVIDENCE_KEYS = {"log_evidence", "prior_scale"}
SELECT_KEYS = {"evidence_solves", "evidence_converged", "evidence_curve"}


def test_only_gaussian_newton_cross_entropy_fits_write_their_evidence(mixed):
    _, runs, _ = mixed
    for name in ("gaussian", "softmax"):
        assert set(runs[name]) >= EVIDENCE_KEYS and not SELECT_KEYS & set(runs[name]), name
    assert set(runs["evidence"]) >= EVIDENCE_KEYS | SELECT_KEYS
    assert not (EVIDENCE_KEYS | SELECT_KEYS | {"prior_scales"}) & set(runs["mle"])
    assert runs["gaussian"]["prior_scale"] == 0.5
    # Nor does a Laplace prior, MSE or a first-order optimizer: their program is the
    # trainer's alone (not run here: each would compile a program of its own).
    data = _training_split(_config())
    for train in (
        {"prior": {"kind": "laplace", "scale": 0.5}},
        {"loss": "mse", "optimizer": {"name": "adam"}},
        {"optimizer": {"name": "fista"}},
    ):
        key = PROGRAM.program_key(validate_config(_config(**train)).runs()[0], data)
        assert not key.evidence and key.select is None, train


@pytest.mark.parametrize("variant, index", [("gaussian", 0), ("evidence", 1), ("softmax", 2)])
def test_summary_evidence_is_the_evidence_of_the_training_split(mixed, variant, index):
    config, runs, _ = mixed
    run = runs[variant]
    (expected,) = _evidences(_training_split(config, index), [run["prior_scale"]])
    # The run's final parameters are the MAP at that scale: the evidence at them is the
    # evidence of that scale, to the solves' tolerance.
    np.testing.assert_allclose(run["log_evidence"], expected, rtol=1e-8, atol=0)


def test_select_evidence_lands_on_the_argmax_of_a_dense_grid(mixed):
    config, runs, _ = mixed
    run = runs["evidence"]
    data = _training_split(config, 1)
    chosen = run["prior_scale"]
    step = 0.02  # in log σ
    grid = chosen * np.exp(step * np.arange(-(GRID // 2), GRID // 2 + 1))
    evidence = _evidences(data, grid)
    assert abs(np.log(grid[int(np.argmax(evidence))] / chosen)) <= step
    assert run["log_evidence"] >= evidence.max() * (1 + 1e-10)  # negative: 1e-10 below
    assert run["evidence_converged"] and 2 <= run["evidence_solves"] <= 12
    # The run's own curve (a warm-started path, 10^-3..10^3) agrees, and its argmax is a
    # neighbour of σ̂ on it.
    curve = run["evidence_curve"]
    scales, values = np.array(curve["scales"]), np.array(curve["log_evidence"], dtype=float)
    assert len(scales) == 121 and scales[0] <= 1e-3 and scales[-1] >= 1e3
    grid_step = np.log(scales[1] / scales[0])
    assert abs(np.log(scales[np.nanargmax(values)] / chosen)) <= grid_step
    np.testing.assert_allclose(values[::30], _evidences(data, scales[::30]), rtol=1e-8)
    test_ce = np.array(curve["test_ce"], dtype=float)
    assert test_ce.shape == (121,) and np.all(np.isfinite(test_ce))
    at = int(np.argmin(np.abs(np.log(scales / chosen))))
    assert abs(test_ce[at] - run["final"]["test"]["ce"]) < 0.01  # nats: the fit at σ̂


def test_evidence_figure_marks_the_chosen_scale_on_both_panels(mixed):
    _, runs, out = mixed
    drawn = figures.draw(read_record(out))
    assert "evidence" in drawn and "ard" not in drawn
    figure = drawn["evidence"]()
    evidence_ax, test_ax = figure.axes
    chosen = runs["evidence"]["prior_scale"]
    for ax in (evidence_ax, test_ax):
        assert ax.get_xscale() == "log"
        assert any(np.allclose(line.get_xdata(), chosen) for line in ax.lines)  # σ̂'s line
        assert any(f"σ̂ = {chosen:.3g}" in text.get_text() for text in ax.texts)
    assert "(nats)" in evidence_ax.get_ylabel() and "nats" in test_ax.get_ylabel()


@pytest.mark.slow
def test_ard_config_recovers_the_support(tmp_path):
    out = tmp_path / "ard"
    argv = ["run", str(REPO / "configs/ard.yaml"), "--quiet", "--out", str(out)]
    assert cli.main([*argv, "--set", "output.formats=[]"]) == 0
    (run,) = _summary(out).values()
    truth = np.array(json.loads((out / "data.json").read_text())["datasets"][0]["true_weights"])
    scales = np.array(run["prior_scales"])
    support = truth != 0
    assert support.sum() == 5 and scales.size == 50
    assert run["evidence_converged"] and "prior_scale" not in run
    assert scales[support].min() > 0.5  # the informative features keep σⱼ of order 1
    assert np.sum(scales[~support] < 1e-3) >= 30  # most noise features collapse
    assert scales[support].min() > 5 * scales[~support].max()
    np.testing.assert_array_less(np.abs(np.array(run["params"]["weights"]))[scales < 1e-3], 1e-4)
    drawn = figures.draw(read_record(out))
    assert "ard" in drawn and "evidence" not in drawn and "weight_norm" not in drawn


# ---------------------------------------------------------------------------
# Bad input: exit 2 before any work, naming the field and the alternative
# ---------------------------------------------------------------------------

SELECT = {"select": "evidence"}
BAD = {
    "laplace": (
        {"prior": {"kind": "laplace", "scale": SELECT}},
        "train.prior.scale",
        "use a gaussian prior, or select: cv",
    ),
    "mse": ({"prior": {"kind": "gaussian", "scale": SELECT}, "loss": "mse"}, None, "use loss: ce"),
    "first_order": (
        {"prior": {"kind": "gaussian", "scale": SELECT}, "optimizer": {"name": "fista"}},
        None,
        "use optimizer: newton",
    ),
    "minibatches": (
        {"prior": {"kind": "gaussian", "scale": SELECT}, "batch_size": 32},
        None,
        "set batch_size: null",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_selection_exits_2_before_any_work(case, tmp_path, capsys):
    train, field, advice = BAD[case]
    config = _config(**train)
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(config))
    out = tmp_path / "out"
    assert cli.main(["run", str(path), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert f"{field or 'train.prior.scale'}: select: evidence needs" in err and advice in err
    assert not out.exists()
    assert cli.main(["validate", str(path)]) == 2  # validate and show catch it too
    capsys.readouterr()
    with pytest.raises(ConfigError) as raised:  # the API: a ValueError
        validate_config(config)
    assert isinstance(raised.value, ValueError) and advice in str(raised.value)


def test_per_feature_needs_two_classes(capsys, tmp_path):
    config = _config(prior={"kind": "gaussian", "scale": {**SELECT, "per_feature": True}})
    config["data"] = {"source": "sklearn", "name": "iris"}
    config["model"] = {"classes": 3}
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(config))
    assert cli.main(["show", str(path)]) == 2
    err = capsys.readouterr().err
    assert "train.prior.scale.per_feature: per_feature" in err and "two classes" in err
    assert "use per_feature: false" in err


def test_scale_errors_name_the_key():
    cases = {
        -1.0: "train.prior.scale: must be > 0, got -1.0",
        "x": "train.prior.scale: expected a number, got 'x'",
        "cv": "train.prior.scale.select: select: cv needs data.cv_folds (the folds it scores "
        "each scale on); set data.cv_folds: 5, say",
        "typo": "train.prior.scale.selec: unknown key",
    }
    for value, message in cases.items():
        scale = {"cv": {"select": "cv"}, "typo": {"selec": "evidence"}}.get(value, value)
        with pytest.raises(ConfigError) as raised:
            validate_config(_config(prior={"kind": "gaussian", "scale": scale}))
        assert message in raised.value.problems, raised.value.problems
    # A number still works, and a variant may switch between the two.
    config = _config()
    config["variants"] = [{"name": "a"}, {"name": "b", "train": {"prior": {"scale": SELECT}}}]
    runs = validate_config(config).runs()
    assert runs[0].train.prior.scale == 0.5 and runs[1].train.prior.selection.select == "evidence"


# ---------------------------------------------------------------------------
# The README's example
# ---------------------------------------------------------------------------


@pytest.mark.slow
def test_readme_hypergradient_example_runs():
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Choosing the prior", 1)[1].split("\n## ", 1)[0]
    (code,) = re.findall(r"```python\n(.*?)```", section, re.S)
    assert "jax.grad" in code or "value_and_grad" in code
    namespace: dict = {}
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        exec(compile(code, "README.md", "exec"), namespace)
    ces = [float(v) for v in re.findall(r"held-out CE (\d\.\d+)", printed.getvalue())]
    assert len(ces) == 6 and ces == sorted(ces, reverse=True)  # descent
    assert 1.3 < float(np.exp(namespace["log_scale"])) < 1.7
