"""Experiment configs: validated data with every default visible in one place.

``fields`` (shared field types) · ``schema`` (the experiment: variants, sweep, output,
resolved into members) · ``sweep`` (the grid) · ``merge`` (deep merge, ``--set``) ·
``errors`` (one ``dotted.path: problem`` line per problem) · ``loading`` (YAML in).
A kind's own sections live in its folder (``experiments/kinds/<kind>/schema.py``).
"""

from experiments.config.errors import ConfigError as ConfigError
from experiments.config.errors import format_errors as format_errors
from experiments.config.loading import config_hash as config_hash
from experiments.config.loading import dump_config as dump_config
from experiments.config.loading import load_config as load_config
from experiments.config.loading import read_yaml as read_yaml
from experiments.config.loading import validate_config as validate_config
from experiments.config.merge import apply_override as apply_override
from experiments.config.merge import deep_merge as deep_merge
from experiments.config.merge import parse_override as parse_override
from experiments.config.schema import Experiment as Experiment
from experiments.config.schema import MemberSpec as MemberSpec
from experiments.config.schema import OutputConfig as OutputConfig
from experiments.config.schema import experiment_model as experiment_model
from experiments.config.sweep import SweepConfig as SweepConfig
from experiments.config.sweep import SweepError as SweepError

__all__ = [
    "ConfigError",
    "Experiment",
    "MemberSpec",
    "OutputConfig",
    "SweepConfig",
    "SweepError",
    "apply_override",
    "config_hash",
    "deep_merge",
    "dump_config",
    "experiment_model",
    "format_errors",
    "load_config",
    "parse_override",
    "read_yaml",
    "validate_config",
]
