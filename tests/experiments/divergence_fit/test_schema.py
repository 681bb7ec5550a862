"""The divergence_fit config: the issue's config validates as written; bad ones are refused
with one line per problem, naming the field (and exit 2 from the command line)."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from experiments import cli
from experiments.config import ConfigError
from experiments.kinds import load_config, validate_config

ROOT = Path(__file__).resolve().parents[3]
BASE = {
    "name": "kl",
    "kind": "divergence_fit",
    "target": {"weights": [0.5, 0.5], "means": [-3.0, 3.0], "stds": [1.0, 1.0]},
    "fit": {"family": "gaussian", "mean": 1.0, "std": 1.0},
}
MIXTURE_2D = {
    "weights": [0.5, 0.5],
    "means": [[-3.0, -1.0], [3.0, 1.0]],
    "covariances": [[[1.0, 0.6], [0.6, 1.0]], [[1.0, -0.6], [-0.6, 1.0]]],
}


def _problems(**changes) -> list[str]:
    raw = copy.deepcopy(BASE)
    raw.update(changes)
    with pytest.raises(ConfigError) as error:
        validate_config(raw)
    return error.value.problems


def test_the_issue_config_runs_as_written_with_visible_defaults():
    config = load_config(ROOT / "configs" / "kl_direction.yaml")
    forward, reverse, broad = (m.spec for m in config.members)
    assert (forward.train.divergence, reverse.train.divergence) == ("forward_kl", "reverse_kl")
    assert broad.train.divergence == "reverse_kl" and broad.fit.mean == 1.0
    assert reverse.fit.mean == 2.0  # the start from which Adam reaches a mode
    assert forward.train.log_every == 40  # steps // 100, written out
    assert (forward.fit.mean, forward.fit.std) == (1.0, 1.0)
    assert forward.quadrature.points == 201 and forward.target.dim == 1
    assert (
        ROOT.joinpath("configs/kl_direction.yaml")
        .read_text()
        .startswith("# python -m experiments run configs/kl_direction.yaml\n")
    )


def test_defaults_follow_the_dimension():
    config = validate_config({**BASE, "target": MIXTURE_2D, "fit": {"mean": [0.0, 1.0]}})
    fit = config.members[0].spec.fit
    assert fit.covariance == [[1.0, 0.0], [0.0, 1.0]] and fit.std is None
    config = validate_config({**BASE, "fit": {}, "train": {"steps": 250}})
    spec = config.members[0].spec
    assert (spec.fit.mean, spec.fit.std, spec.train.log_every) == (0.0, 1.0, 2)


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        (
            {"target": {**BASE["target"], "weights": [0.5, 0.4]}},
            "target.weights: must sum to 1, got 0.9",
        ),
        (
            {"target": {**BASE["target"], "stds": [1.0, -1.0]}},
            "target.stds[1]: must be > 0, got -1.0",
        ),
        (
            {"target": {**BASE["target"], "means": [-3.0, 0.0, 3.0]}},
            "target.means: has 3 entries but target.weights has 2",
        ),
        ({"target": {**BASE["target"], "stds": None}}, "target.stds: required for a 1-D mixture"),
        ({"fit": {"mean": 1.0, "std": -2.0}}, "fit.std: must be > 0, got -2.0"),
        ({"fit": {"mean": [1.0, 0.0]}}, "fit.mean: is 2-D but the target is 1-D"),
        (
            {"fit": {"family": "discrete"}},
            "fit.family: discrete fits a discrete target only (use gaussian for a mixture)",
        ),
        (
            {"train": {"divergence": "kl"}},
            "train.divergence: 'kl' is not one of forward_kl, reverse_kl, js, cross_entropy",
        ),
        (
            {"train": {"steps": 10, "log_every": 20}},
            "train.log_every: must be <= train.steps (10), got 20",
        ),
        (
            {"target": {"family": "discrete", "probabilities": [0.5, 0.5, 0.0]}},
            "target.probabilities[2]: must be > 0, got 0.0",
        ),
        (
            {
                "target": {"family": "discrete", "probabilities": [0.5, 0.5]},
                "fit": {"family": "discrete", "logits": [0.0, 0.0, 1.0]},
            },
            "fit.logits: has 3 entries but target.probabilities has 2",
        ),
    ],
)
def test_bad_values_name_their_field(changes, expected):
    assert expected in _problems(**changes)


def test_a_covariance_that_is_not_positive_definite():
    covariances = [[[1.0, 0.6], [0.6, 1.0]], [[1.0, 2.0], [2.0, 1.0]]]
    problems = _problems(target={**MIXTURE_2D, "covariances": covariances}, fit={"mean": [0, 0]})
    assert problems == [
        "target.covariances[1]: must be positive definite, got eigenvalues -1 and 3"
    ]
    problems = _problems(
        target=MIXTURE_2D, fit={"mean": [0.0, 0.0], "covariance": [[1.0, 0.5], [0.4, 1.0]]}
    )
    assert problems == ["fit.covariance: must be symmetric, got off-diagonal entries 0.5 and 0.4"]


def test_every_problem_at_once_and_in_variants():
    problems = _problems(
        target={**BASE["target"], "weights": [0.7, 0.7]},
        variants=[{"name": "a"}, {"name": "b", "train": {"optimizer": {"learning_rate": 0}}}],
    )
    assert "target.weights: must sum to 1, got 1.4" in problems
    assert "variants[1].train.optimizer.learning_rate: must be > 0, got 0" in problems


def test_a_bad_config_exits_2_naming_the_field(tmp_path, capsys):
    raw = {**BASE, "target": {**BASE["target"], "weights": [0.6, 0.6]}}
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(raw))
    assert cli.main(["run", str(path), "--out", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err
    assert "target.weights: must sum to 1, got 1.2" in err and "Traceback" not in err
    assert not (tmp_path / "run").exists()
