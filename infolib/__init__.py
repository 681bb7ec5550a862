"""infolib: differentiable, jit-compiled information measures in JAX.

Every function takes array-likes and returns a ``jax.Array``; reduces over an event
``axis`` (default −1) and keeps batch axes; takes the keyword ``base`` (None for nats,
2 for bits); and is pure, so it works under ``jax.jit``, ``jax.vmap`` and ``jax.grad``.
Boundaries follow the mathematics: 0·log 0 = 0, +inf where q = 0 < p, −inf logits mask
classes, and no NaN value or gradient where the true one is finite; a NaN input gives a NaN
result (it is never swallowed by a boundary case), and subnormal probabilities are exact.
"""

from importlib import metadata as _metadata

from infolib._checked import checked as checked
from infolib._closed_form import gaussian_entropy as gaussian_entropy
from infolib._closed_form import gaussian_kl as gaussian_kl
from infolib._closed_form import laplace_entropy as laplace_entropy
from infolib._closed_form import laplace_kl as laplace_kl
from infolib._cross_entropy import binary_cross_entropy as binary_cross_entropy
from infolib._cross_entropy import (
    binary_cross_entropy_with_logits as binary_cross_entropy_with_logits,
)
from infolib._cross_entropy import cross_entropy as cross_entropy
from infolib._cross_entropy import cross_entropy_with_logits as cross_entropy_with_logits
from infolib._cross_entropy import (
    sparse_cross_entropy_with_logits as sparse_cross_entropy_with_logits,
)
from infolib._divergence import js_divergence as js_divergence
from infolib._divergence import kl_divergence as kl_divergence
from infolib._divergence import kl_divergence_with_logits as kl_divergence_with_logits
from infolib._entropy import entropy as entropy
from infolib._entropy import entropy_with_logits as entropy_with_logits
from infolib._entropy import self_information as self_information
from infolib._estimators import chao_shen_entropy as chao_shen_entropy
from infolib._estimators import grassberger_entropy as grassberger_entropy
from infolib._estimators import jackknife_entropy as jackknife_entropy
from infolib._estimators import james_stein_entropy as james_stein_entropy
from infolib._estimators import miller_madow_entropy as miller_madow_entropy
from infolib._estimators import plugin_entropy as plugin_entropy
from infolib._estimators import zhang_entropy as zhang_entropy
from infolib._families import f_divergence as f_divergence
from infolib._families import renyi_divergence as renyi_divergence
from infolib._families import (
    renyi_divergence_with_logits as renyi_divergence_with_logits,
)
from infolib._families import renyi_entropy as renyi_entropy
from infolib._families import renyi_entropy_with_logits as renyi_entropy_with_logits
from infolib._families import tsallis_entropy as tsallis_entropy
from infolib._joint import conditional_entropy as conditional_entropy
from infolib._joint import joint_entropy as joint_entropy
from infolib._joint import mutual_information as mutual_information
from infolib._knn import kl_entropy as kl_entropy
from infolib._knn import (
    ksg_conditional_mutual_information as ksg_conditional_mutual_information,
)
from infolib._knn import ksg_mutual_information as ksg_mutual_information
from infolib._mutual_from_counts import (
    conditional_mutual_information_from_counts as conditional_mutual_information_from_counts,
)
from infolib._mutual_from_counts import (
    mutual_information_from_counts as mutual_information_from_counts,
)
from infolib._nsb import nsb_entropy as nsb_entropy

__all__ = [
    "binary_cross_entropy",
    "binary_cross_entropy_with_logits",
    "chao_shen_entropy",
    "checked",
    "conditional_entropy",
    "conditional_mutual_information_from_counts",
    "cross_entropy",
    "cross_entropy_with_logits",
    "entropy",
    "entropy_with_logits",
    "f_divergence",
    "gaussian_entropy",
    "gaussian_kl",
    "grassberger_entropy",
    "jackknife_entropy",
    "james_stein_entropy",
    "joint_entropy",
    "js_divergence",
    "kl_divergence",
    "kl_divergence_with_logits",
    "kl_entropy",
    "ksg_conditional_mutual_information",
    "ksg_mutual_information",
    "laplace_entropy",
    "laplace_kl",
    "miller_madow_entropy",
    "mutual_information",
    "mutual_information_from_counts",
    "nsb_entropy",
    "plugin_entropy",
    "renyi_divergence",
    "renyi_divergence_with_logits",
    "renyi_entropy",
    "renyi_entropy_with_logits",
    "self_information",
    "sparse_cross_entropy_with_logits",
    "tsallis_entropy",
    "zhang_entropy",
]

try:  # the installed distribution's version, written once, in pyproject.toml
    __version__ = _metadata.version("infolab")
except _metadata.PackageNotFoundError:  # a source tree that was never installed
    __version__ = "0+unknown"
