"""Config-driven experiments in information theory and learning.

``python -m experiments run configs/mle_vs_map.yaml`` validates the config, runs every
member and writes a run folder (config, manifest, metrics, summary, figures).

The folders name the stages: ``config/`` (validated configs, which import no kind) and
``resolve`` (configs looked up in the registry ``kinds.KINDS``); ``pipeline/`` (plan,
execute, run, and ``loop``, the one trainer); ``rundir/`` (the run files, written, read and
owned); ``figures/`` (style, canvas, save); ``tools/`` (catalog, report, tracking);
``kinds/`` (one folder per experiment kind, each plugged in through ``contract``). ``api``
is the Python API (``run``, ``load_run``, ``Run``), ``fit`` the array-level MAP fits
(``fit_map``, ``fit_path``) and ``kinds.classifier.evidence`` the differentiable ones
(``map_weights``, ``log_evidence``), loaded on first use so that importing the package
loads neither jax nor pandas; ``cli`` is the command line.
"""

from typing import Any

from experiments import interrupts

# A Ctrl-C during the import (a third of a second: pydantic builds the schemas) is raised
# when it is done, as KeyboardInterrupt, not inside pydantic (which reports a SchemaError).
with interrupts.ctrl_c_after():
    from experiments.config import ConfigError as ConfigError
    from experiments.config import Experiment as Experiment
    from experiments.config import MemberSpec as MemberSpec
    from experiments.contract import DataError as DataError
    from experiments.contract import Kind as Kind
    from experiments.contract import Outcome as Outcome
    from experiments.contract import load_reference
    from experiments.kinds import KINDS as KINDS
    from experiments.kinds import load_config as load_config
    from experiments.kinds import validate_config as validate_config
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
    "log_evidence",
    "map_weights",
    "run",
    "validate_config",
]


# Loaded on first use, so that importing the package loads neither jax nor pandas.
_LAZY = {
    "Run": "experiments.api:Run",
    "load_run": "experiments.api:load_run",
    "run": "experiments.api:run",
    "MapFit": "experiments.fit:MapFit",
    "PathFit": "experiments.fit:PathFit",
    "fit_map": "experiments.fit:fit_map",
    "fit_path": "experiments.fit:fit_path",
    "map_weights": "experiments.kinds.classifier.evidence:map_weights",
    "log_evidence": "experiments.kinds.classifier.evidence:log_evidence",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return load_reference(_LAZY[name])
    raise AttributeError(f"module 'experiments' has no attribute {name!r}")
