"""``infolab export RUN --mlflow URI`` and ``run --mlflow``: a run folder in a real MLflow
tracking store (SQLite), read back with MLflow's own client."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import yaml

from experiments import cli
from experiments.rundir.manifest import RUN_FILES
from experiments.tools.catalog import flatten, value_text
from experiments.tools.tracking import INSTALL_HINT, export_mlflow

# SQLAlchemy 2.1 warns about a loader option that MLflow's store still uses.
pytestmark = pytest.mark.filterwarnings("ignore:The ``noload`` loader strategy:DeprecationWarning")


@pytest.fixture(scope="module")
def store(figured_run, tmp_path_factory):
    """The shared run, exported once to a fresh SQLite store (MLflow's import and the
    store's schema migrations are most of this module's time)."""
    pytest.importorskip("mlflow", reason=f"MLflow is not installed: {INSTALL_HINT}")
    from mlflow.tracking import MlflowClient

    folder = tmp_path_factory.mktemp("mlflow")
    uri = f"sqlite:///{folder / 'mlflow.db'}"
    ids = export_mlflow(figured_run.path, uri, artifact_location=(folder / "art").as_uri())
    return MlflowClient(tracking_uri=uri), uri, ids, folder


@pytest.mark.mlflow
def test_export_logs_a_run_per_member_with_params_metrics_and_artifacts(figured_run, store):
    client, _, ids, folder = store
    parent, *children = ids
    members = figured_run.config.members
    assert len(children) == len(members)
    head = client.get_run(parent)
    assert head.info.status == "FINISHED"
    assert head.data.tags["infolab.run_id"] == figured_run.manifest["run_id"]
    sha = figured_run.manifest["git"]["sha"]
    assert head.data.tags.get("mlflow.source.git.commit") == sha
    for member, run_id in zip(members, children, strict=True):
        run = client.get_run(run_id)
        assert run.data.tags["mlflow.parentRunId"] == parent
        assert run.data.tags["infolab.variant"] == member.variant
        assert run.data.tags["infolab.member"] == str(member.index)
        # Params: the member's resolved config, flattened, values as JSON text.
        expected = {
            k: value_text(v) for k, v in flatten(member.spec.model_dump(mode="json")).items()
        }
        assert run.data.params == expected
        swept = member.values["train.optimizer.learning_rate"]
        assert run.data.params["train.optimizer.learning_rate"] == value_text(swept)
        # Latest metric values are the summary's finals.
        final = figured_run.summary.set_index("member").loc[member.index]
        assert run.data.metrics["test/ce"] == pytest.approx(final["test/ce"], rel=1e-6)
        assert run.data.metrics["train/accuracy"] == pytest.approx(final["train/accuracy"])
    # A metric's history, step by step, is the metrics table's.
    logged = client.get_metric_history(children[3], "test/ce")
    table = figured_run.metrics
    rows = table[(table.member == 3) & (table.split == "test") & (table.metric == "ce")]
    assert [m.step for m in logged] == list(rows.step)
    assert [m.value for m in logged] == pytest.approx(list(rows.value), rel=1e-6)
    # Artifacts: the run files and the figures, stored where the experiment says.
    names = {a.path for a in client.list_artifacts(parent)}
    assert set(RUN_FILES) | {"figures"} <= names
    figures = {Path(a.path).name for a in client.list_artifacts(parent, "figures")}
    assert figures == {p.name for p in figured_run.figures()}
    assert list((folder / "art").rglob("summary.json"))


@pytest.mark.mlflow
def test_export_is_not_repeated_and_run_mlflow_exports_a_new_run(figured_run, store, tmp_path):
    client, uri, ids, _ = store
    assert export_mlflow(figured_run.path, uri) == ids  # the same folder: nothing new
    config = figured_run.config.model_dump(mode="json")
    config.update(name="exported", output={**config["output"], "formats": []})
    path = tmp_path / "exported.yaml"
    path.write_text(yaml.safe_dump(config))
    out = tmp_path / "run"
    assert cli.main(["run", str(path), "--out", str(out), "--quiet", "--mlflow", uri]) == 0
    experiment = client.get_experiment_by_name("exported")
    runs = client.search_runs([experiment.experiment_id])
    assert len(runs) == 1 + len(figured_run.config.members)
    assert {r.info.status for r in runs} == {"FINISHED"}


def test_without_mlflow_the_commands_say_how_to_install_it(
    figured_run, tmp_path, monkeypatch, capsys
):
    monkeypatch.setitem(sys.modules, "mlflow", None)  # as if it were not installed
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    assert cli.main(["export", str(figured_run.path), "--mlflow", uri]) == 2
    assert INSTALL_HINT in capsys.readouterr().err
    config = tmp_path / "c.yaml"
    config.write_text(yaml.safe_dump(figured_run.config.model_dump(mode="json")))
    out = tmp_path / "run"
    assert cli.main(["run", str(config), "--out", str(out), "--mlflow", uri]) == 2
    assert INSTALL_HINT in capsys.readouterr().err
    assert not out.exists() and not (tmp_path / "mlflow.db").exists()  # refused before running
