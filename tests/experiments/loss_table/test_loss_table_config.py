"""Bad loss tables are refused, every problem named by its dotted path, with exit code 2."""

from __future__ import annotations

import pytest
import yaml

from experiments import cli
from experiments.config import ConfigError
from experiments.kinds import validate_config
from experiments.rundir.write import summary

PARTY = {
    "name": "party_losses",
    "kind": "loss_table",
    "base": 2,
    "targets": [[0, 0, 1], [0, 1, 0], [1, 0, 0]],
    "predictions": {
        "model_1": [[0.3, 0.3, 0.4], [0.3, 0.4, 0.3], [0.1, 0.2, 0.7]],
        "model_2": [[0.1, 0.2, 0.7], [0.1, 0.7, 0.2], [0.3, 0.4, 0.3]],
    },
}


def problems(raw: dict) -> list[str]:
    with pytest.raises(ConfigError) as error:
        validate_config(raw)
    return error.value.problems


def test_the_issue_config_validates_with_its_defaults():
    (member,) = validate_config(PARTY).members
    assert member.variant == "default" and member.spec.base == 2.0
    assert member.spec.distributions is None and member.spec.pairs == []


def test_predictions_that_are_not_distributions():
    raw = {**PARTY, "predictions": {"model_1": [[0.3, 0.3, 0.4], [-0.1, 0.6, 0.5], [0.5, 0.6, 0]]}}
    assert problems(raw) == [
        "predictions.model_1[1]: is not a distribution: has a negative entry -0.1 in "
        "[-0.1, 0.6, 0.5]",
        "predictions.model_1[2]: is not a distribution: sums to 1.1, not 1 (within 1e-06), "
        "in [0.5, 0.6, 0]",
    ]


def test_a_row_within_the_tolerance_is_a_distribution():
    raw = {**PARTY, "predictions": {"m": [[0.3333333, 0.3333333, 0.3333334]] * 3}}
    validate_config(raw)
    raw = {**PARTY, "predictions": {"m": [[0.333333, 0.333333, 0.333333]] * 3}}
    assert problems(raw)[0].startswith("predictions.m[0]: is not a distribution: sums to 0.999999")


def test_shapes_must_match_the_targets():
    raw = {**PARTY, "predictions": {"short": [[0.5, 0.5], [0.5, 0.5], [0.5, 0.5]]}}
    assert problems(raw) == [
        "predictions.short: has shape 3 rows of 2, but targets has 3 rows of 3"
    ]
    raw = {**PARTY, "predictions": {"few": [[0.2, 0.3, 0.5]]}}
    assert problems(raw) == ["predictions.few: has shape 1 rows of 3, but targets has 3 rows of 3"]


def test_targets_must_be_one_hot():
    raw = {**PARTY, "targets": [[0, 0, 1], [0.5, 0.5, 0], [1, 1, 0]]}
    assert problems(raw) == [
        "targets[1]: must be one-hot (one 1, the rest 0), got [0.5, 0.5, 0]",
        "targets[2]: must be one-hot (one 1, the rest 0), got [1, 1, 0]",
    ]


@pytest.mark.parametrize("base", [0, 1, -2, 0.5])
def test_the_base_must_exceed_one(base):
    assert problems({**PARTY, "base": base}) == [f"base: must be > 1, got {base}"]


def test_nats_are_base_null():
    assert validate_config({**PARTY, "base": None}).members[0].spec.base is None


def test_targets_and_predictions_come_together():
    assert problems({k: v for k, v in PARTY.items() if k != "targets"}) == [
        "targets: required with predictions, but missing"
    ]
    assert problems({k: v for k, v in PARTY.items() if k not in ("targets", "predictions")}) == [
        "predictions: required: give targets and predictions, or distributions"
    ]


def test_distributions_and_pairs():
    raw = {
        "name": "numbers",
        "kind": "loss_table",
        "distributions": {"P": [0.75, 0.25], "R": [0.5, 0.6], "L": [0, 1, 0]},
        "pairs": [["P", "Q"], ["P", "L"]],
    }
    assert problems(raw) == [
        "distributions.R: is not a distribution: sums to 1.1, not 1 (within 1e-06), in [0.5, 0.6]",
        "pairs[0]: 'Q' is not one of the distributions (P, R, L)",
        "pairs[1]: P has 2 outcomes and L has 3 outcomes: must match",
    ]


def test_a_variant_is_checked_too():
    raw = {**PARTY, "variants": [{"name": "ok"}, {"name": "bad", "targets": [[1, 0, 0]] * 2}]}
    assert problems(raw) == [
        "variants[1].predictions.model_1: has shape 3 rows of 3, but targets has 2 rows of 3",
        "variants[1].predictions.model_2: has shape 3 rows of 3, but targets has 2 rows of 3",
    ]


def test_the_command_line_exits_2_naming_the_field(tmp_path, capsys):
    raw = {**PARTY, "predictions": {"model_1": [[0.3, 0.3, 0.5]] * 3}}
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(raw))
    assert cli.main(["run", str(path), "--out", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err
    assert "predictions.model_1[0]: is not a distribution: sums to 1.1" in err
    assert not (tmp_path / "run").exists()


def test_summary_writes_mapping_params_as_nested_objects():
    # The shared record's one extension for this kind: a mapping of arrays is an object.
    import numpy as np

    from experiments.contract import Outcome
    from experiments.rundir.write import Result

    member = validate_config(PARTY).members[0]
    params = {"a": np.float32(0.5), "b": {"c": np.array([1.0, 2.0]), "d": {"e": np.inf}}}
    outcome = Outcome("ok", None, np.arange(0), {}, params)
    written = summary([Result(member, outcome)], (), frozenset(), swept=False)
    assert written["runs"][0]["params"] == {"a": 0.5, "b": {"c": [1.0, 2.0], "d": {"e": None}}}
    assert written["runs"][0]["final"] == {}
