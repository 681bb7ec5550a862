"""The second-order solvers' names, what each needs, and ``auto``'s rule: the one place they
are written, read by the config schema (before any data is loaded), the trainer and the
solvers themselves.

Pure Python, so that importing the schema does not import jax.
"""

from __future__ import annotations

__all__ = ["CG_PARAMETERS", "SECOND_ORDER", "SOLVERS", "check_solver", "choose_solver"]

# How a step's system is solved (newton_systems), and newton on working sets of the features.
SOLVERS = ("newton", "newton_cg", "newton_woodbury", "newton_working_set")
# The optimizer names that run one of them: auto picks one per problem.
SECOND_ORDER = ("auto", *SOLVERS)
# What each solver needs: the priors it takes, and whether it takes two classes only.
_PRIORS = {
    "newton": ("none", "gaussian", "laplace"),
    "newton_cg": ("none", "gaussian"),
    "newton_woodbury": ("gaussian",),
    "newton_working_set": ("laplace",),
}
_TWO_CLASSES = ("newton_woodbury", "newton_working_set")
# auto's threshold: from this many parameters on, CG is chosen. It lies between the shapes
# measured in BENCHMARKS.md §3d: 51 parameters (200,000 × 50) gave CG and the dense solve
# a tie, 201 (20,000 × 200) CG 2.3× faster; 31 (breast_cancer) is the dense solve's.
CG_PARAMETERS = 128


def check_solver(solver: str, prior: str, n_classes: int | None = None) -> None:
    """Raises ValueError, naming what the solver needs, for one that does not apply to the
    prior (and, when known, the number of classes)."""
    _check_prior(prior)
    if solver not in SOLVERS:
        raise ValueError(f"unknown solver {solver!r}; expected one of {', '.join(SOLVERS)}")
    priors = _PRIORS[solver]
    if prior not in priors:
        raise ValueError(
            f"{solver} needs prior kind {' or '.join(priors)}, got {prior}; use auto or newton"
        )
    if n_classes is not None and n_classes != 2 and solver in _TWO_CLASSES:
        raise ValueError(
            f"{solver} needs two classes, and the data has {n_classes}; use auto or newton"
        )


def _check_prior(prior: str) -> None:
    if prior not in _PRIORS["newton"]:
        raise ValueError(f"unknown prior {prior!r}; expected one of {', '.join(_PRIORS['newton'])}")


def choose_solver(n: int, d: int, n_classes: int, prior: str) -> str:
    """``auto``'s choice of solver for n rows, d features, ``n_classes`` classes and a prior.

    - Laplace prior, two classes, d > n (wide): ``newton_working_set``;
    - Gaussian prior, two classes, d > n: ``newton_woodbury``;
    - no prior or a Gaussian prior with (d + 1)·C ≥ ``CG_PARAMETERS`` parameters (C = 1 for
      two classes): ``newton_cg``;
    - otherwise ``newton`` (H formed and factorised).

    Example:
        >>> choose_solver(569, 30, 2, "gaussian"), choose_solver(200, 2000, 2, "laplace")
        ('newton', 'newton_working_set')
        >>> choose_solver(20_000, 200, 2, "gaussian"), choose_solver(200, 2000, 2, "gaussian")
        ('newton_cg', 'newton_woodbury')
    """
    _check_prior(prior)
    binary = n_classes == 2
    if prior == "laplace":
        return "newton_working_set" if binary and d > n else "newton"
    if prior == "gaussian" and binary and d > n:
        return "newton_woodbury"
    parameters = (d + 1) * (1 if binary else n_classes)
    return "newton_cg" if parameters >= CG_PARAMETERS else "newton"
