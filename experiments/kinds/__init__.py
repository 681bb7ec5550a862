"""The registry of experiment kinds: a config's ``kind:`` picks one.

Each kind lives in its own folder and provides a :class:`~experiments.contract.Kind`. Adding a
kind is a new folder and one line here.
"""

from experiments.contract import Kind
from experiments.kinds import classifier, curves, divergence_fit, loss_table, max_entropy

__all__ = ["DEFAULT_KIND", "KINDS"]

KINDS: dict[str, Kind] = {
    classifier.KIND.name: classifier.KIND,
    divergence_fit.KIND.name: divergence_fit.KIND,
    max_entropy.KIND.name: max_entropy.KIND,
    loss_table.KIND.name: loss_table.KIND,
    curves.KIND.name: curves.KIND,
}
DEFAULT_KIND = classifier.KIND.name
