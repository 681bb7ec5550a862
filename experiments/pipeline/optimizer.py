"""The optimizer's config: one schema of every optimizer's settings, cut to each kind.

:data:`OptimizerName` is the one list of optimizer names: a kind's schema, the optax table
of :mod:`experiments.pipeline.loop` and the classifier's own optimizers all name theirs
from it. :class:`OptimizerConfig` holds every setting any optimizer reads, with its bounds;
a kind takes the part it offers with :func:`optimizer_config`: which names (in the order its
error messages list them), the default name and learning rate, and which settings. A kind's
``train`` section checks its ``log_every`` with :func:`log_every_at_most_steps`.

Light: pydantic and numpy only, so that importing a kind's schema does not import jax.
"""

from __future__ import annotations

import typing
from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, Field, ValidationInfo, create_model
from pydantic.fields import FieldInfo

from experiments.config.fields import Bool, Float, StrictModel

__all__ = [
    "OPTIMIZER_NAMES",
    "SETTINGS",
    "OptimizerConfig",
    "OptimizerName",
    "log_every_at_most_steps",
    "optimizer_config",
    "optimizer_hyperparameters",
]

# sgd, momentum, adam and lbfgs are optax's; fista (accelerated proximal gradient) and the
# second-order MAP solvers (newton and its variants for other shapes of data, and auto, which
# picks one of them) are the classifier's.
OptimizerName = Literal[
    "sgd",
    "momentum",
    "adam",
    "fista",
    "newton",
    "lbfgs",
    "auto",
    "newton_cg",
    "newton_woodbury",
    "newton_working_set",
]
OPTIMIZER_NAMES: tuple[OptimizerName, ...] = typing.get_args(OptimizerName)


class OptimizerConfig(StrictModel):
    """Every optimizer's settings: ``momentum`` is read by ``momentum``; ``b1``, ``b2`` and
    ``eps`` by ``adam``; ``restart`` by ``fista``; ``learning_rate`` by all but ``newton``
    and ``lbfgs`` (whose steps come from a line search)."""

    name: OptimizerName = "sgd"
    learning_rate: Float = Field(0.5, gt=0)
    momentum: Float = Field(0.9, ge=0, lt=1)
    b1: Float = Field(0.9, ge=0, lt=1)
    b2: Float = Field(0.999, ge=0, lt=1)
    eps: Float = Field(1e-8, gt=0)
    restart: Bool = False  # fista: adaptive (gradient) restart of the momentum


# The settings beyond name and learning_rate, in the order a config shows them.
SETTINGS: tuple[str, ...] = tuple(OptimizerConfig.model_fields)[2:]


def optimizer_config(
    *names: OptimizerName,
    default: OptimizerName,
    learning_rate: float,
    settings: Sequence[str] = SETTINGS,
    doc: str,
    module: str,
) -> type[StrictModel]:
    """A kind's optimizer schema: :class:`OptimizerConfig` cut to what the kind offers.

    Args:
        names: the optimizers the kind offers, in the order its errors list them.
        default: the optimizer of a config that names none.
        learning_rate: the learning rate of a config that gives none.
        settings: which of :data:`SETTINGS` the kind's optimizers read, each with
            :class:`OptimizerConfig`'s default and bounds (shown in that order).
        doc: the schema's docstring.
        module: the module the schema is defined in (its ``__module__``).

    Returns:
        A model named ``OptimizerConfig`` with the fields ``name``, ``learning_rate`` and
        ``settings``; unknown keys are errors, as everywhere.

    Raises:
        ValueError: a name that is not an :data:`OptimizerName`, a default that is not
            among ``names``, or an unknown setting.

    >>> Config = optimizer_config(
    ...     "lbfgs", "sgd", default="lbfgs", learning_rate=1.0, settings=(), doc="", module=__name__
    ... )
    >>> Config()
    OptimizerConfig(name='lbfgs', learning_rate=1.0)
    >>> Config(name="sgd", learning_rate=0.1).learning_rate
    0.1
    """
    unknown = [name for name in names if name not in OPTIMIZER_NAMES]
    if unknown or default not in names:
        raise ValueError(f"optimizers {names} (default {default!r}): not among {OPTIMIZER_NAMES}")
    if not set(settings) <= set(SETTINGS):
        raise ValueError(f"unknown settings {sorted(set(settings) - set(SETTINGS))}")
    fields = OptimizerConfig.model_fields
    rate = FieldInfo.merge_field_infos(fields["learning_rate"], default=learning_rate)
    definitions: dict[str, Any] = {
        "name": (Literal[names], default),
        "learning_rate": (rate.annotation, rate),
    }
    for key in SETTINGS:  # in OptimizerConfig's order, whatever the order of settings
        if key in settings:
            definitions[key] = (fields[key].annotation, fields[key])
    return create_model(
        "OptimizerConfig", __base__=StrictModel, __doc__=doc, __module__=module, **definitions
    )


def log_every_at_most_steps(cls: type, value: int, info: ValidationInfo) -> int:
    """A kind's ``train.log_every`` is at most its ``train.steps``: the field validator of its
    ``train`` section, ``field_validator("log_every")(log_every_at_most_steps)``.

    Raises:
        ValueError: ``log_every`` is larger than ``steps``.
    """
    steps = info.data.get("steps")
    if steps is not None and value > steps:
        raise ValueError(f"must be <= train.steps ({steps}), got {value}")
    return value


def optimizer_hyperparameters(config: BaseModel, dtype: Any = np.float32) -> dict[str, np.ndarray]:
    """A kind's optimizer config as the settings :data:`experiments.pipeline.loop.OPTIMIZERS` read.

    Args:
        config: the run's optimizer config (its ``name`` is static, not a setting).
        dtype: the scalars' dtype, the run's precision.

    Returns:
        Every field but ``name`` as a scalar of ``dtype`` (a bool as 1 or 0).

    >>> Config = optimizer_config(
    ...     "fista", default="fista", learning_rate=0.5, settings=("restart",), doc="", module="m"
    ... )
    >>> optimizer_hyperparameters(Config(restart=True))
    {'learning_rate': np.float32(0.5), 'restart': np.float32(1.0)}
    """
    scalar = np.dtype(dtype).type
    return {k: scalar(float(v)) for k, v in config.model_dump().items() if k != "name"}
