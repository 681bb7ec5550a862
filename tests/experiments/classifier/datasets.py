"""Standardised scikit-learn data sets shared by the classifier's solver tests."""

from __future__ import annotations

import functools

import numpy as np
from sklearn.datasets import load_breast_cancer, load_iris


def standardize(x: np.ndarray) -> np.ndarray:
    """Each column to mean 0 and standard deviation 1."""
    return (x - x.mean(axis=0)) / x.std(axis=0)


@functools.cache
def breast_cancer() -> tuple[np.ndarray, np.ndarray]:
    """breast_cancer (569 × 30, two classes), standardised."""
    x, y = load_breast_cancer(return_X_y=True)
    return standardize(x), y


@functools.cache
def iris() -> tuple[np.ndarray, np.ndarray]:
    """iris (150 × 4, three classes), standardised."""
    x, y = load_iris(return_X_y=True)
    return standardize(x), y
