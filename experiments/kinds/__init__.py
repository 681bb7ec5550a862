"""The registry of experiment kinds, and configs resolved against it.

A config's ``kind:`` (default ``classifier``) picks one entry of :data:`KINDS`. Each kind
lives in its own folder and provides a :class:`~experiments.contract.Kind`; adding a kind is
a new folder and one line here. :mod:`experiments.config` validates against whatever
registry it is given and imports no kind; the functions here give it this one, for the
command line, the Python API and the tests alike: the first stage of a run, *resolve*.
Everything after it takes an :class:`~experiments.config.Experiment`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from experiments import config as _config
from experiments.config import Experiment
from experiments.contract import Kind
from experiments.kinds import (
    classifier,
    curves,
    divergence_fit,
    estimators,
    loss_table,
    max_entropy,
)

__all__ = ["KINDS", "load_config", "resolve", "validate_config"]

KINDS: dict[str, Kind] = {
    classifier.KIND.name: classifier.KIND,
    divergence_fit.KIND.name: divergence_fit.KIND,
    max_entropy.KIND.name: max_entropy.KIND,
    loss_table.KIND.name: loss_table.KIND,
    curves.KIND.name: curves.KIND,
    estimators.KIND.name: estimators.KIND,
}


def load_config(path: str | Path, overrides: Iterable[str] = ()) -> Experiment:
    """Reads, overrides, validates and resolves a config file.

    Args:
        path: the YAML file.
        overrides: ``key.path=value`` strings, applied in order.

    Returns:
        The validated experiment; its ``members`` are the resolved runs.

    Raises:
        ConfigError: listing every problem, each with its dotted path.

    Example:
        >>> load_config("configs/mle_vs_map.yaml", ["train.steps=10"]).member_count()
        3
    """
    return _config.load_config(path, overrides, kinds=KINDS)


def validate_config(
    raw: Mapping[str, Any], overrides: Iterable[str] = (), *, source: str | None = None
) -> Experiment:
    """Applies ``overrides`` to a raw mapping (as the YAML reads) and validates it.

    Raises:
        ConfigError: listing every problem, each with its dotted path.
    """
    return _config.validate_config(raw, overrides, kinds=KINDS, source=source)


def _override_list(overrides: Any) -> list[str]:
    """Overrides as a list of strings (a lone string is refused: it would be read one
    character at a time)."""
    if isinstance(overrides, str | bytes):
        shown = f"{overrides!r:.80}"
        raise _config.ConfigError(
            [
                f"overrides: expected a list of 'key.path=value' strings, got the string "
                f"{shown}; wrap it in a list: [{shown}]"
            ]
        )
    try:
        overrides = list(overrides)
    except TypeError:
        raise _config.ConfigError(
            [f"overrides: expected a list of 'key.path=value' strings, got {overrides!r:.80}"]
        ) from None
    wrong = next((o for o in overrides if not isinstance(o, str)), None)
    if wrong is not None:
        what = f"{type(wrong).__name__} {wrong!r:.80}"
        raise _config.ConfigError([f"overrides: expected 'key.path=value' strings, got {what}"])
    return overrides


def resolve(
    config: str | Path | Mapping[str, Any] | Experiment, overrides: Iterable[str] = ()
) -> tuple[Experiment, Path]:
    """A config in any form, validated, and the folder its data paths are relative to.

    Args:
        config: a YAML file's path (paths relative to its folder), a mapping as the YAML
            would read, or a validated experiment (paths relative to the working folder).
        overrides: ``key.path=value`` strings.

    Returns:
        ``(experiment, base_dir)``.
    """
    overrides = _override_list(overrides)
    if isinstance(config, str | Path):
        return load_config(config, overrides), Path(config).parent
    if isinstance(config, Mapping):
        return validate_config(config, overrides), Path(".")
    if not isinstance(config, Experiment):
        raise _config.ConfigError(
            [
                "config: expected a YAML file's path, a mapping (as the YAML would read) or "
                f"a validated config, got {type(config).__name__} {config!r:.80}"
            ]
        )
    if overrides:
        return validate_config(config.model_dump(mode="json"), overrides), Path(".")
    return config, Path(".")
