"""Shared fixtures for the infolib tests.

Tolerances used throughout (stated once here, repeated in the tests that use them):

* float32 values against float64 references: ``rtol=1e-5, atol=1e-6``;
* float32 gradients (a few more roundings than the value): ``rtol=1e-4, atol=1e-6``;
* float64 values and gradients (under ``jax.enable_x64``): ``rtol=1e-10, atol=1e-12``.

Inputs are drawn in float64, cast to the dtype under test, and the reference is computed from the
cast values promoted back to float64, so input rounding is not counted as error.

Tests that take ``precision`` run twice: float32 called eagerly, and float64 under ``jax.jit``
(the ``call`` fixture). That covers both dtypes and both execution paths at half the cost of the
full product; XLA compilation, not arithmetic, is what makes a JAX test suite slow.
"""

import dataclasses
import functools
import zlib
from collections.abc import Callable

import jax
import numpy as np
import pytest


@dataclasses.dataclass(frozen=True)
class Precision:
    """A dtype under test, the tolerances at which it must match a float64 reference, and
    whether ``call`` runs under ``jax.jit``."""

    dtype: type
    rtol: float
    atol: float
    grad_rtol: float
    grad_atol: float
    jit: bool


SETTINGS = {
    "float32-eager": Precision(np.float32, 1e-5, 1e-6, 1e-4, 1e-6, jit=False),
    "float64-jit": Precision(np.float64, 1e-10, 1e-12, 1e-10, 1e-12, jit=True),
}


@pytest.fixture(autouse=True)
def strict_dtype_promotion():
    """Every infolib test runs with JAX's strict dtype promotion, as equinox's do: an
    implicit promotion (a float32 array with a float64 one, an int array with a float) is
    an error, so the library must say which dtype it computes in."""
    with jax.numpy_dtype_promotion("strict"):
        yield


@pytest.fixture(params=list(SETTINGS))
def precision(request: pytest.FixtureRequest):
    """The dtype under test; float64 runs the whole test inside ``jax.enable_x64(True)``."""
    setting = SETTINGS[request.param]
    if setting.dtype == np.float64:
        with jax.enable_x64(True):
            yield setting
    else:
        yield setting


@pytest.fixture
def call(precision: Precision) -> Callable:
    """Calls ``fn(*args, **static_kwargs)`` eagerly (float32) or under ``jax.jit`` (float64).

    Keyword arguments (``axis``, ``base``, ``label_smoothing``) are bound with ``functools.partial``
    so that they stay static under jit, as they are in real use.
    """

    def _call(fn: Callable, *args, **static_kwargs):
        f = functools.partial(fn, **static_kwargs)
        if precision.jit:
            f = jax.jit(f)
        return f(*args)

    return _call


@pytest.fixture
def rng(request: pytest.FixtureRequest) -> np.random.Generator:
    """A numpy generator seeded from the test's id: deterministic, but different per test."""
    return np.random.default_rng(zlib.crc32(request.node.nodeid.encode()))


@pytest.fixture
def simplex(rng: np.random.Generator) -> Callable[..., np.ndarray]:
    """``simplex(shape, zeros=0.0)``: float64 distributions along the last axis.

    ``zeros`` is the fraction of entries set exactly to 0 (each row keeps at least one nonzero).
    """

    def _simplex(shape: tuple[int, ...], zeros: float = 0.0) -> np.ndarray:
        x = rng.gamma(1.0, size=shape) + 1e-3
        if zeros:
            mask = rng.random(shape) < zeros
            mask[..., 0] &= ~mask.all(axis=-1)
            x = np.where(mask, 0.0, x)
        return x / x.sum(axis=-1, keepdims=True)

    return _simplex
