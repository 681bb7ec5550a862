"""Config-driven experiments: logistic regression under MSE vs cross-entropy, MLE vs MAP.

``python -m experiments run configs/mle_vs_map.yaml`` validates the config, trains every
variant and writes a run folder (config, manifest, metrics, summary, figures).

Modules: ``config`` (the validated schema), ``data`` (data sets and splits), ``model`` and
``optim`` (objectives and optimizers), ``train`` (the jitted trainer), ``results`` (run
folders), ``figures`` (plots drawn from a run folder's files), ``cli`` (the commands).
Only the config, data and results names are re-exported here, so that importing the package
does not load jax.
"""

from experiments.config import ConfigError as ConfigError
from experiments.config import ExperimentConfig as ExperimentConfig
from experiments.config import RunSpec as RunSpec
from experiments.config import load_config as load_config
from experiments.data import DataError as DataError
from experiments.data import Dataset as Dataset
from experiments.data import load_dataset as load_dataset
from experiments.results import OutputError as OutputError
from experiments.results import write_run as write_run
