"""Cross-validation as data (``data.cv_folds``) and the prior scale chosen by it (``select:
cv``):

- the folds and every member's ``runs[].cv`` equal scikit-learn's ``cross_validate`` with
  the same ``StratifiedKFold`` and ``Pipeline(StandardScaler, LogisticRegression)``
  (float64, 1e-6), for a warm-started path group and for a vmapped member;
- a sweep's ``best`` is chosen by the CV mean of the headline metric and says so;
- ``select: cv`` applies its rule (``min``, ``1se``) to the ``cv_curve`` it records, for
  both priors, and its curve is scikit-learn's; its final fit is at the chosen scale;
- bad input exits 2 before any work, naming the field;
- the ``cv`` figure marks each prior's chosen scale.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import yaml
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, cross_validate
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

import experiments
from experiments import cli
from experiments.api import read_record
from experiments.config import ConfigError
from experiments.kinds import validate_config
from experiments.kinds.classifier import evidence_figures
from experiments.kinds.classifier.data import load_dataset

SMALL = {"source": "synthetic", "n_samples": 160, "n_features": 5, "n_informative": 3}
FOLDS = 4
SCALES = [0.05, 0.3, 2.0]  # the swept scales (a path group)
GRID = {"logspace": [-2, 1, 7]}
TOL = 1e-6


def _config(data: dict | None = None, **train) -> dict:
    return {
        "name": "cv",
        "seed": 3,
        "precision": "float64",
        "data": {**SMALL, "cv_folds": FOLDS, **(data or {})},
        "train": {
            "loss": "ce",
            "prior": {"kind": "gaussian", "scale": 1.0},
            "optimizer": {"name": "newton"},
            "steps": 60,
            "log_every": 60,
            "tol": 1e-11,
            **train,
        },
        "output": {"formats": []},
    }


def _cv_select(kind: str, rule: str) -> dict:
    return {
        "train": {"prior": {"kind": kind, "scale": {"select": "cv", "scales": GRID, "rule": rule}}}
    }


@pytest.fixture(scope="module")
def swept(tmp_path_factory) -> tuple[dict, dict]:
    """A path group (newton, scales swept) and a vmapped one (fista, no path), both
    cross-validated."""
    config = _config()
    config["variants"] = [
        {"name": "path"},
        {
            "name": "fista",
            "train": {
                "optimizer": {"name": "fista", "learning_rate": 0.2},
                "steps": 3000,
                "log_every": 100,
                "tol": 1e-10,
            },
        },
    ]
    config["sweep"] = {"train.prior.scale": SCALES}
    out = tmp_path_factory.mktemp("swept") / "run"
    experiments.run(config, out=out)
    return config, json.loads((out / "summary.json").read_text())


@pytest.fixture(scope="module")
def selected(tmp_path_factory) -> tuple[dict, dict[str, dict]]:
    """``select: cv`` for both priors and both rules."""
    config = _config()
    config["variants"] = [
        {"name": f"{kind}_{rule}", **_cv_select(kind, rule)}
        for kind, rule in [("gaussian", "min"), ("gaussian", "1se"), ("laplace", "min")]
    ]
    out = tmp_path_factory.mktemp("selected") / "run"
    experiments.run(config, out=out)
    runs = json.loads((out / "summary.json").read_text())["runs"]
    return config, {run["variant"]: run for run in runs}, out


def _raw_training_split(config: dict):
    """The run's training split before standardisation, as its run cuts it."""
    raw = {key: value for key, value in config.items() if key not in ("variants", "sweep")}
    raw["data"] = {**config["data"], "standardize": False, "cv_folds": None}
    spec = validate_config(raw).runs()[0]
    return load_dataset(spec.data, spec.seed, precision="float64")


def _sklearn_cv(config: dict, c: float, penalty: str = "l2") -> dict[str, np.ndarray]:
    """Held-out ce, mse and accuracy per fold, by scikit-learn (float64)."""
    data = _raw_training_split(config)
    solver, l1_ratio = ("lbfgs", 0.0) if penalty == "l2" else ("liblinear", 1.0)
    model = LogisticRegression(
        C=c, l1_ratio=l1_ratio, solver=solver, tol=1e-12, max_iter=100_000, random_state=0
    )  # liblinear shuffles its coordinates: from the global RNG without a random_state
    if penalty == "l1":
        model.set_params(intercept_scaling=1e4)  # liblinear penalises its intercept column
    pipeline = Pipeline([("scale", StandardScaler()), ("fit", model)])
    folds = StratifiedKFold(n_splits=FOLDS, shuffle=True, random_state=config["seed"])
    scores = cross_validate(
        pipeline,
        data.x_train,
        data.y_train,
        cv=folds,
        scoring=("neg_log_loss", "accuracy", "neg_brier_score"),
    )
    return {
        "ce": -scores["test_neg_log_loss"],
        "mse": -scores["test_neg_brier_score"] / 2,  # ½ (p − y)², the kind's mse
        "accuracy": scores["test_accuracy"],
    }


def _assert_cv_matches(entry: dict, expected: dict[str, np.ndarray]) -> None:
    assert entry["folds"] == FOLDS
    for metric, values in expected.items():
        assert entry["mean"][metric] == pytest.approx(np.mean(values), abs=TOL), metric
        assert entry["std"][metric] == pytest.approx(np.std(values, ddof=1), abs=TOL), metric


def test_folds_and_cv_metrics_match_sklearn_cross_validate(swept):
    config, summary = swept
    runs = summary["runs"]
    assert len(runs) == 2 * len(SCALES)
    for run in runs:
        scale = run["sweep"]["train.prior.scale"]
        assert run["status"] == "ok"
        _assert_cv_matches(run["cv"], _sklearn_cv(config, scale**2))
    assert all(run.get("warm_start") for run in runs if run["variant"] == "path")


def test_final_fit_is_that_of_the_whole_training_split(swept):
    _, summary = swept
    for run in summary["runs"]:
        assert set(run["final"]) == {"train", "test"}
        assert run["cv"]["mean"]["ce"] != run["final"]["test"]["ce"]


def test_best_is_chosen_by_the_cv_mean_never_the_test_split(swept):
    _, summary = swept
    for variant in ("path", "fista"):
        runs = [run for run in summary["runs"] if run["variant"] == variant]
        by_cv = min(runs, key=lambda run: run["cv"]["mean"]["ce"])
        best = summary["best"][variant]
        assert best["by"] == "cv mean ce" and best["split"] == "cv"
        assert best["member"] == by_cv["member"]
        assert best["value"] == by_cv["cv"]["mean"]["ce"]


def _chosen_by_hand(curve: dict, rule: str) -> float:
    mean, std = np.array(curve["mean"]), np.array(curve["std"])
    best = int(np.argmin(mean))
    if rule == "min":
        return curve["scales"][best]
    threshold = mean[best] + std[best] / math.sqrt(FOLDS)
    return curve["scales"][int(np.flatnonzero(mean <= threshold)[0])]


@pytest.mark.parametrize("variant", ["gaussian_min", "gaussian_1se", "laplace_min"])
def test_select_cv_applies_its_rule_to_its_curve(selected, variant):
    _, runs, _ = selected
    run = runs[variant]
    rule = variant.split("_")[1]
    curve = run["cv_curve"]
    assert run["cv_rule"] == rule
    assert curve["scales"] == pytest.approx(np.logspace(-2, 1, 7), rel=1e-12)
    assert run["prior_scale"] == _chosen_by_hand(curve, rule)
    index = curve["scales"].index(run["prior_scale"])
    assert run["cv"]["mean"]["ce"] == pytest.approx(curve["mean"][index], rel=1e-12)
    assert run["cv"]["std"]["ce"] == pytest.approx(curve["std"][index], rel=1e-12)


def test_the_rules_differ_where_the_curve_is_flat(selected):
    _, runs, _ = selected
    assert runs["gaussian_1se"]["prior_scale"] <= runs["gaussian_min"]["prior_scale"]


def test_select_cv_curve_matches_sklearn_for_both_priors(selected):
    config, runs, _ = selected
    for variant, penalty, c_of in [("gaussian_min", "l2", np.square), ("laplace_min", "l1", float)]:
        curve = runs[variant]["cv_curve"]
        for scale, mean, std in list(
            zip(curve["scales"], curve["mean"], curve["std"], strict=True)
        )[::3]:
            expected = _sklearn_cv(config, c_of(scale), penalty)["ce"]
            tol = TOL if penalty == "l2" else 1e-4  # liblinear's intercept is penalised a little
            assert mean == pytest.approx(np.mean(expected), abs=tol), (variant, scale)
            assert std == pytest.approx(np.std(expected, ddof=1), abs=tol), (variant, scale)


def test_select_cv_final_fit_is_at_the_chosen_scale(selected):
    config, runs, _ = selected
    run = runs["gaussian_min"]
    data = _raw_training_split(config)
    x = StandardScaler().fit_transform(data.x_train)
    fit = LogisticRegression(C=run["prior_scale"] ** 2, tol=1e-12, max_iter=100_000)
    fit.fit(x, data.y_train)
    assert np.allclose(run["params"]["weights"], fit.coef_[0], atol=1e-6)
    assert run["params"]["bias"] == pytest.approx(fit.intercept_[0], abs=1e-6)
    assert "log_evidence" in run and "log_evidence" not in runs["laplace_min"]


# ---------------------------------------------------------------------------
# Bad input: exit 2 before any work
# ---------------------------------------------------------------------------

INLINE = {"source": "inline", "x": [[0.5, 1.0]], "y": [0], "test_fraction": 0}
BAD = {
    "one_fold": ({"cv_folds": 1}, {}, "data.cv_folds"),
    "more_folds_than_a_class": ({"cv_folds": 100}, {}, "data.cv_folds: 100 folds need"),
    "single_example": ({**INLINE, "cv_folds": 2}, {}, "nothing to split"),
    "select_cv_without_folds": (
        {"cv_folds": None},
        {"prior": {"kind": "laplace", "scale": {"select": "cv"}}},
        "select: cv needs data.cv_folds",
    ),
    "bad_rule": (
        {},
        {"prior": {"kind": "gaussian", "scale": {"select": "cv", "rule": "2se"}}},
        "train.prior.scale.rule",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_cv_input_exits_2_before_any_work(case, tmp_path, capsys):
    data, train, message = BAD[case]
    config = _config(data, **train)
    if data.get("source") == "inline":
        config["data"] = data
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(config))
    out = tmp_path / "out"
    assert cli.main(["run", str(path), "--out", str(out)]) == 2
    assert message in capsys.readouterr().err
    assert not out.exists()


def test_laplace_evidence_points_to_select_cv():
    config = _config(
        data={"cv_folds": None}, prior={"kind": "laplace", "scale": {"select": "evidence"}}
    )
    with pytest.raises(ConfigError) as raised:
        validate_config(config)
    assert "or select: cv (cross-validation)" in str(raised.value)
    assert "not built yet" not in str(raised.value)


def test_cv_figure_marks_the_chosen_scale_of_each_prior(selected):
    _, runs, out = selected
    drawn = evidence_figures.figures(read_record(out))
    figure = drawn["cv"]()
    assert len(figure.axes) == len(runs)
    for ax, run in zip(figure.axes, runs.values(), strict=True):
        assert ax.get_xscale() == "log"
        texts = " ".join(t.get_text() for t in ax.texts)
        assert f"chosen ({run['cv_rule']}): {run['prior_scale']:.3g}" in texts
        assert len(ax.lines) >= 3  # the CV mean, the test curve, the chosen scale
    assert "s (w ~ Laplace(0, s))" in figure.axes[-1].get_xlabel()
