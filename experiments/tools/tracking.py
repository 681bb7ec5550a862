"""Experiment tracking: a run folder logged to an MLflow tracking store.

``infolab export RUN --mlflow URI`` (and ``infolab run CONFIG --mlflow URI``) logs a run
folder as one MLflow run for the folder, with one nested run per member (a variant, or a
sweep member):

- the folder's run is tagged with its provenance (run id, commit, uncommitted changes,
  kind, start time) and holds the run files and ``figures/`` as artifacts;
- each member's run has the member's resolved config, flattened to ``dotted.key`` params
  (as ``infolab show`` prints it, values as JSON), its variant, index, swept values and
  status as tags, and every logged metric, per step, as ``split/metric`` (``test/ce``):
  MLflow's latest value of each is the run's final value (``summary.json``'s).

The MLflow experiment is the config's name. A folder already exported to the store (the
same run id, finished) is not logged twice; an export that fails leaves its folder's run
marked FAILED, and the next export starts afresh. MLflow is an optional dependency
(``pip install 'infolab[mlflow]'``), imported only here and only when exporting; a
``sqlite:///PATH`` store keeps its artifacts in ``mlartifacts/`` beside the database
unless told otherwise.

>>> _params({"train.optimizer.learning_rate": 0.5, "data.seed": None, "name": "mle"})
{'train.optimizer.learning_rate': '0.5', 'data.seed': 'null', 'name': 'mle'}
"""

from __future__ import annotations

import contextlib
import datetime as dt
import math
import os
import urllib.parse
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from experiments.config import MemberSpec
from experiments.rundir.manifest import RUN_FILES
from experiments.rundir.read import own_file, own_files
from experiments.tools.catalog import flatten, value_text

if TYPE_CHECKING:
    from experiments.api import Run

__all__ = ["INSTALL_HINT", "ExportError", "check_uri", "export_mlflow", "require_mlflow"]

INSTALL_HINT = "pip install 'infolab[mlflow]'"
_PARAM_LIMIT = 6000  # MLflow's longest param value
_BATCH = 100  # MLflow's most params or tags in one call (metrics: 1000)
_TAG = "infolab."


class ExportError(ValueError):
    """The export cannot be made: MLflow is missing, or the store refuses (bad input)."""


def require_mlflow() -> Any:
    """Imports MLflow, or explains how to install it.

    Raises:
        ExportError: MLflow is not installed (naming the ``pip install`` to run).
    """
    try:
        import mlflow
        from mlflow.tracking import MlflowClient  # noqa: F401  (the part used below)
    except ImportError as error:
        raise ExportError(
            f"--mlflow: MLflow is not installed ({error.msg}); install it with: {INSTALL_HINT}"
        ) from None
    return mlflow


def check_uri(uri: Any) -> None:
    """Refuses a tracking URI that is empty (MLflow would quietly make ``./mlflow.db``).

    Raises:
        ExportError: naming ``--mlflow``.
    """
    if not isinstance(uri, str) or not uri.strip():
        raise ExportError(
            f"--mlflow: expected a tracking URI such as sqlite:///mlflow.db, got {uri!r}"
        )


def export_mlflow(
    run_dir: str | Path,
    uri: str,
    *,
    experiment: str | None = None,
    artifact_location: str | None = None,
) -> list[str]:
    """Logs a run folder to an MLflow tracking store.

    Args:
        run_dir: the run folder (checked as ``plot`` checks it).
        uri: the tracking URI, e.g. ``sqlite:///mlflow.db`` or ``http://host:5000``.
        experiment: the MLflow experiment; default the config's name (made if missing).
        artifact_location: where a new experiment keeps its artifacts; default
            ``mlartifacts/`` beside a ``sqlite:///`` database, else the store's default.

    Returns:
        The MLflow run ids: the folder's run first, then one per member, in member order.

    Raises:
        ExportError: MLflow is missing, or the store cannot be reached or refuses the run.
        RunFilesError: the run folder is missing or damaged (the message names the file).

    Example::

        >>> export_mlflow("results/mle_vs_map/RUN", "sqlite:///mlflow.db")  # doctest: +SKIP
        ['3f0c...', '9a1e...', ...]
    """
    from experiments.api import load_run  # pandas, loaded when exporting

    require_mlflow()
    from mlflow.tracking import MlflowClient

    check_uri(uri)
    run = load_run(run_dir)
    with _network_limits(uri):
        return _export(MlflowClient, run, uri, experiment, artifact_location)


# A store over the network: a request times out after a few seconds and is retried once
# (MLflow's defaults retry for minutes, a closed port included). A variable the user set
# is left as it is.
NETWORK_LIMITS = {
    "MLFLOW_HTTP_REQUEST_TIMEOUT": "10",
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "1",
    "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
}


@contextlib.contextmanager
def _network_limits(uri: str) -> Iterator[None]:
    """Sets :data:`NETWORK_LIMITS` (those not set already) while an export to an
    ``http(s)://`` store runs."""
    if not uri.lower().startswith(("http://", "https://")):
        yield
        return
    added = {k: v for k, v in NETWORK_LIMITS.items() if k not in os.environ}
    os.environ.update(added)
    try:
        yield
    finally:
        for key in added:
            os.environ.pop(key, None)


def _export(
    client_type: Any, run: Run, uri: str, experiment: str | None, artifact_location: str | None
) -> list[str]:
    manifest = run.manifest
    try:
        client = client_type(tracking_uri=uri)
        experiment_id = _experiment(
            client, experiment or run.config.name, artifact_location or _beside(uri)
        )
        done = _exported(client, experiment_id, str(manifest.get("run_id")))
        if done is not None:
            return done
        parent = client.create_run(
            experiment_id,
            run_name=Path(run.path).resolve().name,
            tags=_provenance_tags(run),
            start_time=_milliseconds(manifest.get("start")),
        ).info.run_id
        ids = [parent]
        try:
            ids += _log_members(client, experiment_id, parent, run)
            _log_files(client, parent, Path(run.path))
            client.set_terminated(parent, "FINISHED", end_time=_milliseconds(manifest.get("end")))
        except BaseException:
            client.set_terminated(parent, "FAILED")
            raise
    except _store_errors() as error:
        problem = getattr(error, "message", None) or str(error)
        raise ExportError(f"--mlflow: the store at {uri} failed: {problem.strip()}") from None
    return ids


def _store_errors() -> tuple[type[BaseException], ...]:
    """What a store that cannot be reached or refuses raises."""
    from mlflow.exceptions import MlflowException

    errors: tuple[type[BaseException], ...] = (MlflowException, OSError)
    try:
        from sqlalchemy.exc import SQLAlchemyError
    except ImportError:
        return errors
    return (*errors, SQLAlchemyError)


def _log_members(client: Any, experiment_id: str, parent: str, run: Run) -> list[str]:
    """A finished MLflow run per member, nested under ``parent``; their ids."""
    from mlflow.entities import Metric

    timestamp = _milliseconds(run.manifest.get("start"))
    ids = []
    for member in run.config.members:
        child = _member_run(client, experiment_id, parent, run, member, timestamp)
        ids.append(child)
        history = _history(run, member)
        _log(client, child, metrics=[Metric(k, v, timestamp, step) for k, v, step in history])
        client.set_terminated(child, "FINISHED", end_time=timestamp)
    return ids


def _beside(uri: str) -> str | None:
    """``file://…/mlartifacts`` beside a ``sqlite:///`` database, else None."""
    if not uri.startswith("sqlite:///"):
        return None
    database = Path(urllib.parse.unquote(uri.removeprefix("sqlite:///"))).resolve()
    return (database.parent / "mlartifacts").as_uri()


def _experiment(client: Any, name: str, artifact_location: str | None) -> str:
    found = client.get_experiment_by_name(name)
    if found is not None:
        return found.experiment_id
    return client.create_experiment(name, artifact_location=artifact_location)


def _exported(client: Any, experiment_id: str, run_id: str) -> list[str] | None:
    """The ids of a finished earlier export of the same run folder, if any."""
    query = f"tags.`{_TAG}run_id` = '{run_id.replace(chr(39), '')}' and status = 'FINISHED'"
    found = client.search_runs([experiment_id], filter_string=query, max_results=1)
    if not found:
        return None
    parent = found[0].info.run_id
    children = client.search_runs(
        [experiment_id], filter_string=f"tags.`mlflow.parentRunId` = '{parent}'"
    )
    members = sorted(children, key=lambda r: int(r.data.tags.get(f"{_TAG}member", 0)))
    return [parent, *(r.info.run_id for r in members)]


def _provenance_tags(run: Run) -> dict[str, str]:
    manifest = run.manifest
    git = manifest.get("git") or {}
    tags = {
        f"{_TAG}run_id": manifest.get("run_id"),
        f"{_TAG}run_dir": str(Path(run.path).resolve()),
        f"{_TAG}kind": manifest.get("kind"),
        f"{_TAG}config_sha256": manifest.get("config_sha256"),
        f"{_TAG}start": manifest.get("start"),
        f"{_TAG}dirty": None if git.get("dirty") is None else value_text(git["dirty"]),
        "mlflow.source.git.commit": git.get("sha"),
        "mlflow.note.content": run.config.description or None,
    }
    return {key: str(value) for key, value in tags.items() if value is not None}


def _member_run(
    client: Any, experiment_id: str, parent: str, run: Run, member: MemberSpec, timestamp: int
) -> str:
    from mlflow.entities import Param

    row = run.summary[run.summary["member"] == member.index].iloc[0]
    swept = ", ".join(f"{k}={value_text(v)}" for k, v in member.values.items())
    tags = {
        "mlflow.parentRunId": parent,
        f"{_TAG}variant": member.variant,
        f"{_TAG}member": str(member.index),
        f"{_TAG}status": str(row["status"]),
        **{f"{_TAG}sweep.{k}": value_text(v) for k, v in member.values.items()},
    }
    name = f"{member.variant} [{swept}]" if swept else member.variant
    child = client.create_run(
        experiment_id, run_name=name, tags=tags, start_time=timestamp
    ).info.run_id
    params = [Param(k, v) for k, v in _params(flatten(member.spec.model_dump(mode="json"))).items()]
    _log(client, child, params=params)
    return child


def _params(flat: Mapping[str, Any]) -> dict[str, str]:
    """Config values as MLflow params: JSON text, cut to MLflow's longest value."""
    params = {}
    for key, value in flat.items():
        text = value_text(value)
        if len(text) > _PARAM_LIMIT:
            text = text[: _PARAM_LIMIT - 40] + " ... (cut; config.yaml has it whole)"
        params[key] = text
    return params


def _history(run: Run, member: MemberSpec) -> Iterator[tuple[str, float, int]]:
    """The member's metrics, per step, as (``split/metric``, value, step)."""
    table = run.metrics[run.metrics["member"] == member.index]
    for split, metric, value, step in table[["split", "metric", "value", "step"]].itertuples(
        index=False
    ):
        yield f"{split}/{metric}", float(value), int(step)


def _log(client: Any, run_id: str, *, metrics: Sequence[Any] = (), params: Sequence[Any] = ()):
    """``log_batch`` in pieces MLflow accepts."""
    for start in range(0, len(params), _BATCH):
        client.log_batch(run_id, params=params[start : start + _BATCH])
    for start in range(0, len(metrics), 10 * _BATCH):
        client.log_batch(run_id, metrics=metrics[start : start + 10 * _BATCH])


def _log_files(client: Any, run_id: str, run_dir: Path) -> None:
    """The run files, ``figures/`` and a report, if one was written, as artifacts: only
    the run's own regular files (a symbolic link, or what resolves outside the run, is
    never copied), one by one."""
    for name in [*RUN_FILES, "report.html", "report.md"]:
        if own_file(run_dir, name):
            client.log_artifact(run_id, os.fspath(run_dir / name))
    for path in own_files(run_dir, "figures"):
        client.log_artifact(run_id, os.fspath(path), "figures")


def _milliseconds(moment: Any) -> int:
    """An ISO 8601 time from a manifest as Unix milliseconds (now, if there is none)."""
    try:
        parsed = dt.datetime.fromisoformat(str(moment).replace("Z", "+00:00"))
    except ValueError:
        parsed = dt.datetime.now(dt.UTC)
    return math.floor(parsed.timestamp() * 1000)
