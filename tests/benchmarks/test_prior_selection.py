"""The prior-selection benchmark's quick path runs on a tiny problem, and its JSON and
tables have the documented shape (no speed is asserted)."""

from __future__ import annotations

import numpy as np
import pytest

from benchmarks import prior_selection


@pytest.fixture(scope="module")
def tiny():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((120, 3))
    y = (x[:, 0] + 0.5 * rng.standard_normal(120) > 0).astype(np.int64)
    return prior_selection.run(quick=True, data={"tiny": (x, y)}, penalties=("l2",))


def test_quick_path_reports_every_contender(tiny):
    (record,) = tiny["records"]
    assert record["data"] == "tiny" and record["shape"] == [90, 3]
    assert set(record["contenders"]) == {"sklearn", "infolab cv", "infolab evidence"}
    for contender in record["contenders"].values():
        assert contender["time_s"] > 0 and contender["scale"] > 0
        assert 0 < contender["test_ce"] < np.log(2)
    assert {goal["goal"] for goal in tiny["goals"]} and all("met" in g for g in tiny["goals"])


def test_cv_path_chooses_the_scale_sklearn_chooses_on_the_same_folds(tiny):
    (record,) = tiny["records"]
    sklearn, ours = record["contenders"]["sklearn"], record["contenders"]["infolab cv"]
    assert ours["scale"] == pytest.approx(sklearn["scale"], rel=1e-9)
    assert ours["test_ce"] == pytest.approx(sklearn["test_ce"], abs=1e-5)


def test_tables_name_the_contenders_and_the_goals(tiny):
    text = "\n".join(prior_selection.tables(tiny))
    assert "infolab evidence" in text and "Goal:" in text
