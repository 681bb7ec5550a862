"""The config schema: defaults, merging, overrides, and the error messages' dotted paths."""

from __future__ import annotations

import copy
import re
from pathlib import Path

import pytest
import yaml

from experiments.config import (
    ConfigError,
    config_hash,
    deep_merge,
    dump_config,
    experiment_model,
    parse_override,
)
from experiments.kinds import KINDS, load_config, validate_config
from experiments.kinds.classifier import KIND
from experiments.kinds.classifier.schema import GaussianPrior, LaplacePrior, NoPrior, SyntheticData

ExperimentConfig = experiment_model(KIND)

CONFIGS = Path(__file__).resolve().parents[2] / "configs"

# The schema example of issue 3, verbatim.
ISSUE_EXAMPLE = """
name: mle_vs_map                # letters, digits, - and _ only
description: MLE vs MAP with Gaussian and Laplace priors on sparse synthetic data
seed: 0
data:
  source: synthetic             # synthetic | sklearn | csv | inline
  n_samples: 2000               # synthetic: deterministic from seed
  n_features: 50
  n_informative: 5              # true weights have exactly this many nonzeros
  class_sep: 1.0
  label_noise: 0.0
  test_fraction: 0.25           # 0 allowed: metrics on the training set only
  standardize: true             # fitted on the training split only (population std)
model:
  classes: 2                    # 2: sigmoid; more: softmax
  init: {kind: zeros}           # zeros | normal (scale) | constant (weights, bias)
train:
  loss: ce                      # ce | mse
  prior: {kind: none}           # none | gaussian (scale) | laplace (scale)
  optimizer: {name: sgd, learning_rate: 0.5}   # sgd | momentum | adam | fista
  steps: 2000
  batch_size: null              # null = full batch; otherwise deterministic shuffling from seed
  log_every: 10
variants:                       # the things compared; each is deep-merged onto the config above
  - {name: mle}
  - {name: map_gaussian, train: {prior: {kind: gaussian, scale: 1.0}}}
  - {name: map_laplace, train: {prior: {kind: laplace, scale: 0.05}}}
output:
  dir: results
  formats: [png, pdf]
"""


def example() -> dict:
    return yaml.safe_load(ISSUE_EXAMPLE)


def problems(raw: dict, overrides: list[str] = ()) -> list[str]:
    with pytest.raises(ConfigError) as error:
        validate_config(raw, overrides)
    return error.value.problems


def test_issue_example_resolves_its_three_variants():
    runs = validate_config(example()).runs()
    assert [r.name for r in runs] == ["mle", "map_gaussian", "map_laplace"]
    assert runs[0].train.prior == NoPrior()
    assert runs[1].train.prior == GaussianPrior(scale=1.0)
    assert runs[2].train.prior == LaplacePrior(scale=0.05)
    assert all(r.train.optimizer.learning_rate == 0.5 and r.seed == 0 for r in runs)


def test_defaults_live_in_the_models():
    config = ExperimentConfig(name="bare")
    assert config.data == SyntheticData()
    assert config.train.prior == NoPrior()
    assert config.train.batch_size is None
    assert [r.name for r in config.runs()] == ["default"]


def test_a_variant_that_changes_a_tag_drops_the_keys_the_new_choice_lacks():
    raw = example()
    raw["train"]["prior"] = {"kind": "laplace", "scale": 0.1}
    raw["variants"] = [{"name": "mle", "train": {"prior": {"kind": "none"}}}]
    (run,) = validate_config(raw).runs()
    assert run.train.prior == NoPrior()


def test_deep_merge_keeps_siblings_and_leaves_its_inputs_alone():
    base = {"train": {"optimizer": {"name": "adam", "learning_rate": 0.1}, "steps": 5}}
    before = copy.deepcopy(base)
    merged = deep_merge(base, {"train": {"optimizer": {"learning_rate": 0.2}}}, ExperimentConfig)
    assert merged == {"train": {"optimizer": {"name": "adam", "learning_rate": 0.2}, "steps": 5}}
    assert base == before


@pytest.mark.parametrize(
    ("text", "path", "value"),
    [
        ("train.steps=100", ["train", "steps"], 100),
        ("train.optimizer.learning_rate=1e-3", ["train", "optimizer", "learning_rate"], 1e-3),
        ("train.batch_size=null", ["train", "batch_size"], None),
        ("data.standardize=false", ["data", "standardize"], False),
        ("variants[1].train.steps=7", ["variants", 1, "train", "steps"], 7),
        ("variants.1.name=b", ["variants", 1, "name"], "b"),
        ("output.formats=[png]", ["output", "formats"], ["png"]),
    ],
)
def test_overrides_parse_as_yaml(text, path, value):
    assert parse_override(text) == (path, value)


def test_overrides_are_applied_and_validated():
    overrides = [
        "train.steps=100",
        "variants[2].train.prior.scale=0.5",
        "train.prior.kind=gaussian",
        "train.prior.scale=2",
    ]
    config = validate_config(example(), overrides)
    assert config.train.steps == 100
    assert config.train.prior == GaussianPrior(scale=2.0)
    assert config.runs()[2].train.prior == LaplacePrior(scale=0.5)
    with pytest.raises(ConfigError, match=r"train\.prior\.scale: required"):
        validate_config(example(), ["train.prior.kind=gaussian"])


@pytest.mark.parametrize(
    ("edit", "overrides", "expected"),
    [
        # The three messages quoted in the issue brief.
        (
            lambda r: r["train"]["optimizer"].update(learning_rate=-0.1),
            [],
            "train.optimizer.learning_rate: must be > 0, got -0.1",
        ),
        (
            lambda r: r["train"].update(los="ce"),
            [],
            "train.los: unknown key (allowed: loss, prior, optimizer, steps, batch_size, "
            "log_every, tol)",
        ),
        (
            lambda r: r["variants"][1]["train"]["prior"].update(kind="cauchy"),
            [],
            "variants[1].train.prior.kind: 'cauchy' is not one of none, gaussian, laplace",
        ),
        (lambda r: r.update(trian={}), [], "trian: unknown key (allowed: name, description"),
        (lambda r: r["train"].update(steps="many"), [], "train.steps: expected an integer"),
        (lambda r: r["train"].update(steps=True), [], "train.steps: expected an integer"),
        (
            lambda r: r["train"].update(loss="hinge"),
            [],
            "train.loss: 'hinge' is not one of ce, mse",
        ),
        (
            lambda r: r["train"]["optimizer"].update(name="lbfgs"),
            [],
            "train.optimizer.name: 'lbfgs' is not one of sgd, momentum, adam, fista",
        ),
        (
            lambda r: r["train"].update(prior={"kind": "laplace", "scale": -1}),
            [],
            "train.prior.scale: must be > 0, got -1",
        ),
        (
            lambda r: r["data"].update(n_samplez=3),
            [],
            "data.n_samplez: unknown key for source 'synthetic' (allowed: source, seed, n_samples",
        ),
        (lambda r: r["data"].update(test_fraction=1.0), [], "data.test_fraction: must be < 1"),
        (lambda r: r["data"].update(test_fraction=-0.1), [], "data.test_fraction: must be >= 0"),
        (
            lambda r: r["data"].update(n_informative=60),
            [],
            "data.n_informative: must be <= n_features (50), got 60",
        ),
        (
            lambda r: r["model"].update(init={"kind": "constant", "weights": float("nan")}),
            [],
            "model.init.weights: must be a finite number, got nan",
        ),
        (lambda r: r.update(name="../escape"), [], "name: may contain only letters, digits"),
        (lambda r: r.update(name="a/b"), [], "name: may contain only letters, digits"),
        (lambda r: r["variants"].append({"name": "mle"}), [], "variants[3].name: duplicate"),
        (lambda r: r["variants"].append({"steps": 3}), [], "variants[3].name: required"),
        (lambda r: r.update(variants=[]), [], "variants: must have at least 1 entries"),
        (lambda r: r["output"].update(formats=["gif"]), [], "output.formats[0]: 'gif' is not one"),
        (lambda r: None, ["train.lr=0.1"], "train.lr: unknown key (allowed: loss"),
        (lambda r: None, ["train.lr=0.1"], "(from --set train.lr=0.1)"),
        (lambda r: None, ["train.steps=-5"], "train.steps: must be > 0, got -5 (from --set"),
        (lambda r: None, ["train.steps=[1"], "--set train.steps=[1: the value '[1' is not valid"),
        (lambda r: None, ["train.steps"], "--set train.steps: expected KEY=VALUE"),
        (lambda r: None, ["train.steps.x=1"], "train.steps is 2000, not a mapping"),
        (lambda r: None, ["variants[5].name=x"], "variants has 3 entries, so [5] is out of range"),
    ],
)
def test_error_messages_name_the_dotted_path(edit, overrides, expected):
    raw = example()
    edit(raw)
    found = problems(raw, overrides)
    assert any(expected in line for line in found), found


def test_every_problem_is_reported_at_once():
    raw = example()
    raw["train"]["optimizer"]["learning_rate"] = -0.1
    raw["train"]["los"] = "ce"
    raw["variants"][1]["train"]["prior"]["kind"] = "cauchy"
    found = problems(raw, ["seed=abc", "train.steps.x=1"])
    paths = [line.split(":")[0] for line in found]
    assert paths == [
        "--set train.steps.x=1",
        "seed",
        "train.optimizer.learning_rate",
        "train.los",
        "variants[1].train.prior.kind",
    ]
    # A problem of the base is not repeated for every variant that inherits it.
    assert not any(p.startswith("variants[0]") for p in paths)


def test_a_repeated_yaml_key_is_an_error(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("name: a\ntrain:\n  steps: 1\n  steps: 2\n")
    with pytest.raises(ConfigError, match=r"duplicate key 'steps' \(line 4, column 3\)"):
        load_config(path)


def test_resolved_config_round_trips(tmp_path):
    config = validate_config(example(), ["train.steps=30"])
    text = dump_config(config)
    assert "momentum: 0.9" in text and "batch_size: null" in text  # every default shown
    path = tmp_path / "config.yaml"
    path.write_text(text)
    again = load_config(path)
    assert again == config
    assert config_hash(again) == config_hash(config)


def test_config_hash_ignores_output_and_description_only():
    config = validate_config(example())
    moved = validate_config(example(), ["output.dir=elsewhere"])
    described = validate_config(example(), ["description=another story"])
    changed = validate_config(example(), ["train.steps=30"])
    assert config_hash(moved) == config_hash(described) == config_hash(config)
    assert config_hash(changed) != config_hash(config)
    assert re.fullmatch(r"[0-9a-f]{64}", config_hash(config))


@pytest.mark.parametrize("path", sorted(CONFIGS.glob("*.yaml")), ids=lambda p: p.name)
def test_shipped_configs_validate_and_say_how_to_run_them(path):
    config = load_config(path)
    assert config.description
    assert config.name == path.stem
    first_line = path.read_text().splitlines()[0]
    assert first_line == f"# python -m experiments run configs/{path.name}"


def test_all_shipped_configs_are_present():
    names = {p.name for p in CONFIGS.glob("*.yaml")}
    assert names >= {
        "mse_vs_ce.yaml",
        "mle_vs_map.yaml",
        "separable_mle.yaml",
        "breast_cancer_map.yaml",
        "multiclass_ce.yaml",
    }


def test_an_unknown_kind_is_refused_with_the_kinds_allowed():
    found = problems({**example(), "kind": "regression"})
    assert found == [f"kind: 'regression' is not one of {', '.join(KINDS)}"]
    assert "classifier" in KINDS


def test_the_kind_defaults_to_classifier_and_is_shown():
    config = validate_config(example())
    assert config.kind == "classifier"
    assert "kind: classifier" in dump_config(config).splitlines()[:3]


def test_the_readme_example_of_every_kind_validates():
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    examples = re.findall(r"```yaml\n# (\w+): .*?\n(.*?)```", readme, re.S)
    kinds = {kind for kind, _ in examples}
    assert {"divergence_fit", "max_entropy", "loss_table", "curves"} <= kinds
    for kind, text in examples:
        raw = yaml.safe_load(text)
        if raw.get("kind") == kind:
            assert validate_config({"name": f"readme_{kind}", **raw}).kind == kind
