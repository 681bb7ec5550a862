"""Config-driven experiments in information theory and learning.

``python -m experiments run configs/mle_vs_map.yaml`` validates the config, runs every
member and writes a run folder (config, manifest, metrics, summary, figures).

The pipeline: ``config`` (resolve) → ``runner`` (plan, execute, record) with ``execute``
(vmapped, sharded programs), ``record`` (run files), ``folders`` (staged run folders) and
``plotting`` (figures from files); ``kinds/`` holds the experiment kinds, each in its own
folder, registered in ``kinds.KINDS``; ``cli`` is the command line; ``catalog`` lists and
compares run folders, ``report`` writes their HTML reports and ``tracking`` exports them to
MLflow; ``api`` the Python API (``run``, ``load_run``, ``Run``) and ``fit`` the array-level
MAP fits (``fit_map``, ``fit_path``), loaded on first use so that importing the package
loads neither jax nor pandas.
"""

from typing import Any

from experiments.config import ConfigError as ConfigError
from experiments.config import Experiment as Experiment
from experiments.config import MemberSpec as MemberSpec
from experiments.contract import DataError as DataError
from experiments.contract import Kind as Kind
from experiments.contract import Outcome as Outcome
from experiments.kinds import KINDS as KINDS
from experiments.resolve import load_config as load_config
from experiments.resolve import validate_config as validate_config
from experiments.rundir.folders import OutputError as OutputError

__all__ = [
    "KINDS",
    "ConfigError",
    "DataError",
    "Experiment",
    "Kind",
    "MapFit",
    "MemberSpec",
    "Outcome",
    "OutputError",
    "PathFit",
    "Run",
    "fit_map",
    "fit_path",
    "load_config",
    "load_run",
    "run",
    "validate_config",
]


def __getattr__(name: str) -> Any:
    if name in ("Run", "load_run", "run"):
        from experiments import api

        return getattr(api, name)
    if name in ("MapFit", "PathFit", "fit_map", "fit_path"):
        from experiments import fit

        return getattr(fit, name)
    raise AttributeError(f"module 'experiments' has no attribute {name!r}")
