"""Data sets for the experiments: synthetic, scikit-learn's bundled sets, CSV files, inline.

Everything is deterministic from the run's seed: the synthetic draw, then the train/test
split (stratified: each class keeps its share, by largest remainder, and at least one
training example). Standardization is fitted on the training split only, with the
population standard deviation; a constant feature is centred and left unscaled.

Labels are mapped to ``0..C-1`` in sorted order (numerically when every label is a
number), and the original labels are kept as ``class_names``.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from experiments.contract import DataError
from experiments.kinds.classifier.csv_table import read_csv_table
from experiments.kinds.classifier.schema import (
    CsvData,
    DataConfig,
    InlineData,
    RunSpec,
    SklearnData,
    SyntheticData,
)
from experiments.pipeline.hashing import data_sha256

__all__ = [
    "DataError",
    "Dataset",
    "check_spec_fits_data",
    "cv_folds",
    "load_dataset",
    "split_indices",
]


@dataclass(frozen=True, eq=False)
class Dataset:
    """A split, preprocessed data set.

    ``x_*`` are float32 (or float64) ``[n, d]``, ``y_*`` int32 ``[n]`` in
    ``0..n_classes-1``; the test arrays have zero rows when ``test_fraction`` is 0.
    ``true_weights`` (synthetic data only) are the generating weights ``[d]``, in the units
    of the unstandardized features; ``feature_groups`` lists the indices of each correlated
    group (synthetic data with ``group_size`` > 1; otherwise empty).
    ``sha256`` digests the arrays and the class count. ``folds`` (with ``data.cv_folds``)
    holds each cross-validation fold's ``(x_fit, y_fit, x_held_out, y_held_out)``, cut
    from the training split (see :func:`cv_folds`).
    """

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    n_classes: int
    feature_names: list[str]
    true_weights: np.ndarray | None
    sha256: str
    class_names: list[str] = field(default_factory=list)
    description: str = ""
    feature_groups: list[list[int]] = field(default_factory=list)
    folds: tuple[tuple[np.ndarray, ...], ...] = ()

    @property
    def n_features(self) -> int:
        return int(self.x_train.shape[1])


@dataclass(frozen=True)
class _Raw:
    x: np.ndarray  # float64 [n, d]
    labels: Sequence[Any]  # any hashable labels, one per row
    feature_names: list[str]
    true_weights: np.ndarray | None
    description: str
    label_names: dict[Any, str] | None = None  # how to print a label, where not str(label)
    feature_groups: list[list[int]] = field(default_factory=list)


def load_dataset(
    data: DataConfig,
    seed: int,
    base_dir: Path = Path("."),
    *,
    classes: int | None = None,
    precision: str = "float32",
) -> Dataset:
    """Loads, splits and (optionally) standardizes a data set.

    Args:
      data: the ``data`` section of a run.
      seed: the run's seed; the synthetic draw and the split derive from it.
      base_dir: the folder a CSV ``path`` is relative to (the config file's folder).
      classes: the run's ``model.classes``. Inline labels are then class indices in
        ``0..classes-1`` as written, so one example, or one class, is a valid data set
        (with ``test_fraction: 0``: a stratified split needs more).
      precision: the dtype of the features, ``float32`` or ``float64`` (the run's
        ``precision``); they are read and standardized in float64 either way.

    Returns:
      The data set.

    Raises:
      DataError: naming the config key to fix (``data.path``, ``data.target``, ...).
    """
    raw = _LOADERS[type(data)](data, seed, Path(base_dir))
    if isinstance(data, InlineData) and classes is not None:
        y, class_names = _class_indices(raw.labels, classes)
    else:
        y, class_names = _encode_labels(raw.labels, raw.label_names)
    if len(class_names) < 2:
        only = class_names[0] if class_names else "none"
        raise DataError(
            [f"data: {raw.description} has a single class ({only}); a classifier needs two or more"]
        )
    train, test = split_indices(y, data.test_fraction, seed)
    if len(test) == 0 and data.test_fraction > 0:
        message = (
            f"data.test_fraction: {data.test_fraction} leaves no test examples: each class "
            f"keeps one training example, and {raw.description} is too small for a "
            "stratified split; set data.test_fraction: 0"
        )
        raise DataError([message])
    x_train, x_test = raw.x[train], raw.x[test]
    folds = (
        cv_folds(x_train, y[train], data, seed, precision, len(class_names))
        if data.cv_folds
        else ()
    )
    if data.standardize:
        x_train, x_test = _standardize(x_train, x_test)
    arrays = {
        "x_train": np.ascontiguousarray(x_train, dtype=precision),
        "y_train": np.ascontiguousarray(y[train], dtype=np.int32),
        "x_test": np.ascontiguousarray(x_test, dtype=precision),
        "y_test": np.ascontiguousarray(y[test], dtype=np.int32),
    }
    return Dataset(
        **arrays,
        n_classes=len(class_names),
        feature_names=raw.feature_names,
        true_weights=raw.true_weights,
        sha256=_digest(arrays, len(class_names)),
        class_names=class_names,
        description=raw.description,
        feature_groups=raw.feature_groups,
        folds=folds,
    )


def cv_folds(
    x: np.ndarray, y: np.ndarray, data: DataConfig, seed: int, precision: str, n_classes: int
) -> tuple[tuple[np.ndarray, ...], ...]:
    """The ``data.cv_folds`` folds of a training split, as scikit-learn would cut them.

    ``StratifiedKFold(n_splits=k, shuffle=True, random_state=seed)`` over the rows in
    file order; with ``data.standardize`` each fold is standardised by its fitting part
    alone, as ``Pipeline(StandardScaler(), ...)`` in ``cross_validate`` would be.

    Args:
        x: the training split's features, not standardised (float64 [n, d]).
        y: its class indices [n].
        data: the ``data`` section (``cv_folds``, ``standardize``).
        seed: the data's seed (``random_state``).
        precision: the dtype of the features returned.
        n_classes: the number of classes (a class without training rows counts).

    Returns:
        Per fold, ``(x_fit, y_fit, x_held_out, y_held_out)``.

    Raises:
        DataError: naming ``data.cv_folds``, where a class has fewer training rows than folds.
    """
    from sklearn.model_selection import StratifiedKFold  # a slow import, made only when needed

    k = data.cv_folds
    smallest = int(np.bincount(y, minlength=n_classes).min())
    if smallest < k:
        advice = (
            f"use data.cv_folds: {smallest} or fewer, or more data"
            if smallest >= 2
            else "there is nothing to split; set data.cv_folds: null"
        )
        raise DataError(
            [
                f"data.cv_folds: {k} folds need at least {k} training rows of every class, but "
                f"the training split has {len(y)} rows, {smallest} in its smallest class; " + advice
            ]
        )
    folds = []
    splitter = StratifiedKFold(n_splits=k, shuffle=True, random_state=seed)
    for fit, held_out in splitter.split(x, y):
        x_fit, x_held = x[fit], x[held_out]
        if data.standardize:
            x_fit, x_held = _standardize(x_fit, x_held)
        folds.append(
            (
                np.ascontiguousarray(x_fit, dtype=precision),
                np.ascontiguousarray(y[fit], dtype=np.int32),
                np.ascontiguousarray(x_held, dtype=precision),
                np.ascontiguousarray(y[held_out], dtype=np.int32),
            )
        )
    return tuple(folds)


def _class_indices(labels: Sequence[Any], classes: int) -> tuple[np.ndarray, list[str]]:
    outside = sorted({int(label) for label in labels if not 0 <= int(label) < classes})
    if outside:
        raise DataError(
            [f"data.y: labels {outside} are outside 0..{classes - 1} (model.classes: {classes})"]
        )
    return np.asarray(labels, dtype=np.int64), [str(c) for c in range(classes)]


def check_spec_fits_data(spec: RunSpec, dataset: Dataset) -> None:
    """Raises ``DataError`` where a run's settings cannot work with its data."""
    problems = []
    if spec.model.classes != dataset.n_classes:
        problems.append(
            f"model.classes: is {spec.model.classes}, but {dataset.description} has "
            f"{dataset.n_classes} classes (variant {spec.name})"
        )
    n_train = len(dataset.y_train)
    if spec.train.batch_size is not None and spec.train.batch_size > n_train:
        problems.append(
            f"train.batch_size: is {spec.train.batch_size}, more than the {n_train} training "
            f"examples (variant {spec.name})"
        )
    if problems:
        raise DataError(problems)


# ---------------------------------------------------------------------------
# Sources
# ---------------------------------------------------------------------------


def _rng(seed: int, stream: int) -> np.random.Generator:
    # Independent streams per purpose, so that changing one never shifts the other.
    return np.random.default_rng(np.random.SeedSequence([seed, stream]))


_SYNTHETIC_STREAM, _SPLIT_STREAM = 0, 1


def _synthetic(data: SyntheticData, seed: int, base_dir: Path) -> _Raw:
    del base_dir
    n, d, k = data.n_samples, data.n_features, data.n_informative
    _check_memory(n * d * 8 * 3, "data.n_samples", f"{n} × {d} synthetic features")
    rng = _rng(seed, _SYNTHETIC_STREAM)
    x = rng.standard_normal((n, d))
    weights = np.zeros(d)
    support = rng.choice(d, size=k, replace=False)
    signs = rng.choice(np.array([-1.0, 1.0]), size=k)
    magnitudes = data.class_sep * signs * rng.uniform(1.0, 2.0, size=k)
    # Every draw happens whatever the flags, so that a flag changes only what it names.
    u_label, u_flip = rng.uniform(size=n), rng.uniform(size=n)
    groups = _feature_groups(k, data.group_size)
    if groups:
        factors = rng.standard_normal((n, k))
        rho = data.group_correlation
        for g, members in enumerate(groups):
            x[:, members] = math.sqrt(rho) * factors[:, [g]] + math.sqrt(1 - rho) * x[:, members]
        support = np.array([members[0] for members in groups])
    weights[support] = magnitudes
    logits = x @ weights
    if data.separable:
        labels = (logits > 0).astype(np.int64)
    else:
        probabilities = 0.5 * (1.0 + np.tanh(0.5 * logits))  # σ(z), without overflow
        labels = (u_label < probabilities).astype(np.int64)
    labels = np.where(u_flip < data.label_noise, 1 - labels, labels)
    names = [f"x{i}" for i in range(d)]
    for g, members in enumerate(groups):
        for m, j in enumerate(members):
            names[j] = f"g{g + 1}.{m}"
    return _Raw(
        x=x,
        labels=labels.tolist(),
        feature_names=names,
        true_weights=weights.astype(np.float32),
        description=f"synthetic data ({n} × {d})",
        feature_groups=groups,
    )


def _feature_groups(n_informative: int, size: int) -> list[list[int]]:
    """The correlated groups of a synthetic draw: contiguous blocks of ``size`` features at
    the front, one per informative feature (none when ``size`` is 1)."""
    if size == 1:
        return []
    return [list(range(g * size, (g + 1) * size)) for g in range(n_informative)]


def _check_memory(needed: int, key: str, what: str) -> None:
    """Refuses, before allocating, a data set larger than half the available memory."""
    try:
        available = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError):
        return
    if needed > available // 2:
        raise DataError(
            [
                f"{key}: {what} need about {needed / 2**30:.1f} GiB, more than half the "
                f"{available / 2**30:.1f} GiB of memory available"
            ]
        )


def _sklearn_loaders() -> dict[str, Callable[..., Any]]:
    from sklearn import datasets  # a slow import, made only when needed

    return {
        "breast_cancer": datasets.load_breast_cancer,
        "iris": datasets.load_iris,
        "wine": datasets.load_wine,
        "digits": datasets.load_digits,
    }


def _sklearn(data: SklearnData, seed: int, base_dir: Path) -> _Raw:
    del seed, base_dir
    bunch = _sklearn_loaders()[data.name]()
    x = np.asarray(bunch.data, dtype=np.float64)
    names = getattr(bunch, "feature_names", None)
    feature_names = [str(n) for n in names] if names is not None else _columns(x.shape[1])
    target_names = getattr(bunch, "target_names", None)
    label_names = None if target_names is None else {i: str(n) for i, n in enumerate(target_names)}
    return _Raw(
        x=x,
        labels=[int(t) for t in bunch.target],
        feature_names=feature_names,
        true_weights=None,
        description=f"sklearn {data.name} ({x.shape[0]} × {x.shape[1]})",
        label_names=label_names,
    )


def _columns(d: int) -> list[str]:
    return [f"x{i}" for i in range(d)]


def _inline(data: InlineData, seed: int, base_dir: Path) -> _Raw:
    del seed, base_dir
    x = np.asarray(data.x, dtype=np.float64)
    return _Raw(
        x=x,
        labels=list(data.y),
        feature_names=_columns(x.shape[1]),
        true_weights=None,
        description=f"inline data ({x.shape[0]} × {x.shape[1]})",
    )


def _csv(data: CsvData, seed: int, base_dir: Path) -> _Raw:
    del seed
    table = read_csv_table(data, base_dir)
    return _Raw(
        x=table.x,
        labels=table.labels,
        feature_names=table.feature_names,
        true_weights=None,
        description=table.description,
    )


_LOADERS: dict[type, Callable[[Any, int, Path], _Raw]] = {
    SyntheticData: _synthetic,
    SklearnData: _sklearn,
    CsvData: _csv,
    InlineData: _inline,
}


# ---------------------------------------------------------------------------
# Labels, split, standardization
# ---------------------------------------------------------------------------


def _encode_labels(
    labels: Sequence[Any], names: dict[Any, str] | None
) -> tuple[np.ndarray, list[str]]:
    classes = sorted(set(labels))
    index = {label: i for i, label in enumerate(classes)}
    y = np.asarray([index[label] for label in labels], dtype=np.int64)
    return y, [names[c] if names else _label_text(c) for c in classes]


def _label_text(label: Any) -> str:
    if isinstance(label, float) and label.is_integer():
        return str(int(label))
    return str(label)


def split_indices(y: np.ndarray, test_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A stratified split, deterministic from ``seed``: sorted train and test indices.

    The test set has ``ceil(test_fraction·n)`` examples shared among the classes by largest
    remainder; every class keeps at least one training example.
    """
    n = len(y)
    if test_fraction <= 0:
        return np.arange(n), np.arange(0)
    classes, counts = np.unique(y, return_counts=True)
    n_test = math.ceil(test_fraction * n)
    exact = counts * n_test / n
    share = np.minimum(np.floor(exact).astype(np.int64), counts - 1)
    for c in np.argsort(-(exact - share), kind="stable"):
        if share.sum() >= n_test:
            break
        if share[c] < counts[c] - 1:
            share[c] += 1
    rng = _rng(seed, _SPLIT_STREAM)
    test = []
    for label, k in zip(classes, share, strict=True):
        members = np.flatnonzero(y == label)
        test.append(rng.permutation(members)[:k])
    test_indices = np.sort(np.concatenate(test))
    train_indices = np.setdiff1d(np.arange(n), test_indices)
    return train_indices, test_indices


def _standardize(x_train: np.ndarray, x_test: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    mean = x_train.mean(axis=0)
    std = x_train.std(axis=0)  # population std (ddof=0), as the issue asks
    std = np.where(std > 0, std, 1.0)  # a constant feature: centred, not divided by 0
    return (x_train - mean) / std, (x_test - mean) / std


def _digest(arrays: dict[str, np.ndarray], n_classes: int) -> str:
    header = {k: [a.dtype.str, list(a.shape)] for k, a in arrays.items()}
    text = json.dumps({"arrays": header, "n_classes": n_classes}, sort_keys=True)
    return data_sha256(text, *(arrays[key] for key in sorted(arrays)))
