"""The classifier's :class:`~experiments.contract.Program`: logistic regression trained by
the pure run function of :mod:`experiments.kinds.classifier.train`, with the log evidence
of a Gaussian-prior newton fit and the prior scales chosen by it
(:mod:`experiments.kinds.classifier.selection`)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from experiments.contract import DataError, Outcome, Program
from experiments.kinds.classifier import cv, path, selection, train
from experiments.kinds.classifier.data import Dataset, check_spec_fits_data, load_dataset
from experiments.kinds.classifier.metrics import METRICS
from experiments.kinds.classifier.schema import RunSpec
from experiments.pipeline import loop

__all__ = ["PROGRAM", "ProgramKey"]


class ProgramKey(NamedTuple):
    """What changes the compiled program: the static choices, the data's shapes, whether
    the group's members are solved along a path (:meth:`ClassifierProgram.group_key`),
    whether the fit reports its log evidence, how the prior scale is chosen (None: it
    is given; ``evidence`` or ``ard``: see :mod:`~experiments.kinds.classifier.selection`;
    ``cv``: :mod:`~experiments.kinds.classifier.cv`), the number of cross-validation folds
    (0: none) and, for ``select: cv``, its grid (its rule is a hyperparameter)."""

    static: train.RunStatic
    train_shape: tuple[int, ...]
    test_shape: tuple[int, ...]
    path: bool = False
    evidence: bool = False
    select: str | None = None
    cv: int = 0
    grid: tuple[float, ...] = ()


PATH_PRIORS = ("gaussian", "laplace")


class ClassifierProgram(Program):
    """Logistic regression (sigmoid or softmax) under MSE or cross-entropy, MLE or MAP."""

    def data_key(self, spec: RunSpec) -> tuple[str, int, int, str]:
        return spec.data.model_dump_json(), _data_seed(spec), spec.model.classes, spec.precision

    def load_data(self, spec: RunSpec, base_dir: Path) -> Dataset:
        return load_dataset(
            spec.data,
            _data_seed(spec),
            base_dir,
            classes=spec.model.classes,
            precision=spec.precision,
        )

    def check(self, spec: RunSpec, data: Dataset) -> list[str]:
        try:
            check_spec_fits_data(spec, data)
        except DataError as error:
            return error.problems
        return []

    def describe(self, spec: RunSpec, data: Dataset) -> str:
        train_ = spec.train
        chosen = {
            "evidence": " (σ by its evidence)",
            "ard": " (a σ per feature by evidence)",
            "cv": " (scale by cross-validation)",
        }
        folds = f", {spec.data.cv_folds}-fold CV" if spec.data.cv_folds else ""
        return (
            f"{train_.loss}, prior {train_.prior.kind}"
            f"{chosen.get(selection.selection_mode(spec), '')}, {train_.optimizer.name}, "
            f"{train_.steps} steps on {data.description} "
            f"({len(data.y_train)} train, {len(data.y_test)} test{folds})"
        )

    def program_key(self, spec: RunSpec, data: Dataset) -> ProgramKey:
        static = train.run_static(spec, data)
        select = selection.selection_mode(spec)
        chosen = spec.train.prior.selection if select == "cv" else None
        return ProgramKey(
            static,
            data.x_train.shape,
            data.x_test.shape,
            evidence=selection.has_evidence(static),
            select=select,
            cv=spec.data.cv_folds or 0,
            grid=chosen.grid if chosen is not None else (),
        )

    def hyperparameters(self, spec: RunSpec) -> dict[str, np.ndarray]:
        """The trainer's hyperparameters; a scale chosen by the run holds the search's
        starting σ0 = 1 (the member function replaces it by the choice), and ``select: cv``
        adds ``cv_rule``, the index of its rule in
        :data:`~experiments.kinds.classifier.cv.RULES`."""
        chosen = spec.train.prior.selection if spec.train.prior.kind != "none" else None
        if chosen is not None:
            prior = spec.train.prior.model_copy(update={"scale": 1.0})
            spec = spec.model_copy(update={"train": spec.train.model_copy(update={"prior": prior})})
        hyper = train.run_hyperparameters(spec)
        if chosen is not None and chosen.select == "cv":
            hyper["cv_rule"] = np.dtype(spec.precision).type(cv.RULES.index(chosen.rule))
        return hyper

    def group_key(self, key: ProgramKey, specs: Sequence[RunSpec]) -> ProgramKey:
        """A group of ``newton`` members with a prior that differ only in their prior scales
        (all distinct; seeds aside) is a regularisation path: its members are warm-started
        along the sorted scales (:func:`~experiments.kinds.classifier.path.make_path_fn`)
        instead of solved cold, side by side."""
        static = key.static
        if static.optimizer != "newton" or static.prior not in PATH_PRIORS or len(specs) < 2:
            return key
        if key.select is not None:  # each member chooses its own scale
            return key
        hypers = [self.hyperparameters(spec) for spec in specs]
        scales = {float(h["prior_scale"]) for h in hypers}
        rest = {tuple((k, float(v)) for k, v in h.items() if k != "prior_scale") for h in hypers}
        if len(rest) == 1 and len(scales) == len(specs):
            return key._replace(path=True)
        return key

    def group_fn(self, key: ProgramKey, progress: Callable | None) -> Callable[..., Any] | None:
        """The path function of a path group (its members solved together); None for
        members solved one by one (vmapped)."""
        del progress  # a path has several members: no per-step callback
        if not key.path:
            return None
        group = path.make_path_fn(key.static)
        if key.evidence:
            group = selection.with_path_evidence(group, key.static.n_classes)
        if key.cv:
            static = key.static
            solve = cv.newton_fold_solve(
                static.n_classes, static.prior, static.steps, grouped=True, solver=static.solver
            )
            group = cv.with_folds(group, grouped=True, solve=solve)
        return group

    def arrays(self, data: Dataset) -> tuple[np.ndarray, ...]:
        return (
            np.asarray(data.x_train),  # float32 or float64: the run's precision
            np.asarray(data.y_train, np.int32),
            np.asarray(data.x_test),
            np.asarray(data.y_test, np.int32),
            *(array for fold in data.folds for array in fold),  # data.cv_folds: 4 a fold
        )

    def member_fn(self, key: ProgramKey, progress: Callable | None) -> Callable[..., Any]:
        run = train.make_run_fn(dataclasses.replace(key.static, progress=progress))
        static, n_classes = key.static, key.static.n_classes
        if key.select == "cv":
            if static.optimizer == "newton":
                grid = cv.newton_grid(n_classes, static.prior, static.steps, static.solver)
            else:
                grid = cv.vmapped_grid(train.make_run_fn(static))
            evidence = selection.evidence_of(n_classes) if key.evidence else None
            return cv.with_cv_selection(run, grid, key.grid, evidence=evidence)
        if key.select is not None:
            member = selection.with_selection(run, n_classes, key.select)
        elif key.evidence:
            member = selection.with_evidence(run, n_classes)
        else:
            member = run
        if not key.cv:
            return member
        solve = None
        if static.optimizer == "newton" and key.select is None:
            solve = cv.newton_fold_solve(
                n_classes, static.prior, static.steps, grouped=False, solver=static.solver
            )
        return cv.with_folds(member, grouped=False, solve=solve)

    def steps(self, key: ProgramKey) -> int:
        return key.static.steps

    def member_bytes(self, key: ProgramKey, data: Dataset) -> int:
        """Parameters with optimizer state and gradients (about six copies), the metric
        history, and the per-example work of a step and of the evaluation (logits,
        probabilities and their gradients: about eight values per example and class), in
        in the run's precision. The data itself is shared by the members."""
        static = key.static
        n_train, d = key.train_shape
        n_test = key.test_shape[0]
        classes = 1 if static.n_classes == 2 else static.n_classes
        params = (d + 1) * classes
        n_logs = len(loop.logged_steps(static.steps, static.log_every))
        floats = 6 * params + 2 * len(METRICS) * n_logs + 8 * (n_train + n_test) * classes
        if key.select is not None:  # the search's Hessians and their derivatives, the grid
            floats += 8 * params**2 + 2 * params * selection.GRID_POINTS + 2 * n_train * d
        if key.cv:  # the folds' fits, one after another (the grid's side by side)
            floats += (len(key.grid) or 1) * (6 * params + 8 * n_train * classes)
        return np.dtype(static.precision).itemsize * floats

    def outcome(self, key: ProgramKey, output: Any) -> Outcome:
        fields, scores, base = None, None, key.static.base
        if key.cv:
            output, scores = output
        if key.evidence or key.select is not None:
            output, fields = output
        outcome = train.to_outcome(key.static, output)
        if key.path:  # its history starts at the previous member's solution
            outcome.extra["warm_start"] = True
        if fields is not None:
            curve, rule = fields.pop("cv_curve", None), fields.pop("cv_rule", None)
            outcome.extra.update(selection.extras(fields, base))
            if curve is not None:
                outcome.extra["cv_rule"] = cv.RULES[int(rule)]
                outcome.extra["cv_curve"] = cv.curve_entry(curve, base)
        if scores is not None:
            outcome.extra["cv"] = cv.cv_entry(scores, base)
        return outcome

    def data_entry(self, data: Dataset) -> dict[str, Any]:
        return {
            "description": data.description,
            "n_classes": data.n_classes,
            "class_names": list(data.class_names),
            "feature_names": list(data.feature_names),
            "n_train": len(data.y_train),
            "n_test": len(data.y_test),
            "sha256": data.sha256,
            "true_weights": None if data.true_weights is None else data.true_weights.tolist(),
            **({"feature_groups": data.feature_groups} if data.feature_groups else {}),
        }

    def headline(self, outcome: Outcome) -> str:
        split = "test" if "test" in outcome.history else "train"
        metrics = outcome.history[split]
        ce, accuracy = float(metrics["ce"][-1]), float(metrics["accuracy"][-1])
        status = outcome.status
        if outcome.diverged_at is not None:
            status = f"diverged at {outcome.diverged_at}"
        chosen = ""
        if "evidence_solves" in outcome.extra and "prior_scale" in outcome.extra:
            chosen = f", σ {outcome.extra['prior_scale']:.4g} by its evidence"
        elif "cv_curve" in outcome.extra:
            extra = outcome.extra
            chosen = f", scale {extra['prior_scale']:.4g} by CV ({extra['cv_rule']})"
        return f"{status}{chosen}, {split} ce {ce:.4g}, accuracy {accuracy:.4f}"


def _data_seed(spec: RunSpec) -> int:
    return spec.seed if spec.data.seed is None else spec.data.seed


PROGRAM = ClassifierProgram()
