"""The configs shipped with the project: where they are (a source checkout or an installed
package), the demo's, and those that reproduce the source material."""

from __future__ import annotations

import shutil
import sys
from collections.abc import Callable
from pathlib import Path

from experiments.config import ConfigError, Experiment
from experiments.rundir.folders import OutputError

__all__ = [
    "DEMO_CONFIGS",
    "SEED_CONFIGS",
    "config_file",
    "configs_folder",
    "copy_shipped",
    "shipped_lines",
]

DEMO_CONFIGS = ("mse_vs_ce.yaml", "mle_vs_map.yaml")
# The source material, reproduced: every config a claim of it runs from (see the README).
SEED_CONFIGS = (
    "entropy_numbers.yaml",
    "curves.yaml",
    "party_losses.yaml",
    "party_losses_binary.yaml",
    "material_gradients.yaml",
    "nielsen_neuron.yaml",
    "kl_direction.yaml",
    "kl_direction_2d.yaml",
    "kl_local_optima.yaml",
    "max_entropy.yaml",
    "mle_vs_map.yaml",
    "regularization_path.yaml",
    "separable_mle.yaml",
    "multiclass_ce.yaml",
    "lr_sweep.yaml",
)


def configs_folder() -> Path:
    """The shipped configs: ``configs/`` beside the package in a source checkout, else
    where ``pip install`` put them (``<prefix>/share/infolab/configs``)."""
    beside = Path(__file__).resolve().parents[2] / "configs"
    installed = Path(sys.prefix) / "share" / "infolab" / "configs"
    return next((p for p in (beside, installed) if p.is_dir()), Path("configs"))


def shipped_lines(
    load: Callable[[Path], Experiment], show: Callable[[Path], str] = str
) -> list[str]:
    """A line per shipped config: its path (as ``show`` writes it) and its description.

    Args:
        load: reads and validates a config file (:func:`experiments.load_config`).
        show: writes a path.
    """
    rows = []
    for path in sorted(configs_folder().glob("*.yaml")):
        try:
            description = load(path).description or "(no description)"
        except ConfigError as error:
            description = f"(invalid: {error.problems[0]})"
        rows.append((show(path), description))
    width = max((len(path) for path, _ in rows), default=0)
    return [f"{path:<{width}}  {description}" for path, description in rows]


def config_file(text: str) -> Path:
    """A config named on the command line: the file at that path when there is one, else the
    shipped config of that name (``mle_vs_map`` or ``mle_vs_map.yaml``), else the path as
    given (whose loading then says it is not found)."""
    path = Path(text)
    shipped = configs_folder() / (path.name if path.suffix == ".yaml" else f"{path.name}.yaml")
    if path.exists() or path.parent != Path(".") or not shipped.is_file():
        return path
    return shipped


def copy_shipped(name: str, folder: Path) -> Path:
    """Copies the shipped config ``name`` into ``folder`` (never over a file) and returns it.

    Raises:
        OutputError: no shipped config has that name, or the file is already there.
    """
    source = configs_folder() / (name if name.endswith(".yaml") else f"{name}.yaml")
    if Path(name).name != name or not source.is_file():
        known = ", ".join(p.stem for p in sorted(configs_folder().glob("*.yaml")))
        raise OutputError(f"NAME: no shipped config {name!r} (shipped: {known})")
    target = folder / source.name
    if target.exists():
        raise OutputError(f"NAME: {target} exists; it is never overwritten")
    shutil.copyfile(source, target)
    return target
