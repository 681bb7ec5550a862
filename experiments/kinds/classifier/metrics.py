"""The classifier's metrics, in the order its tables list them (no jax)."""

METRICS = (
    "ce",
    "mse",
    "accuracy",
    "grad_norm",
    "weight_grad_norm",
    "weight_norm",
    "zero_weights",
    "output",  # the mean predicted probability of the last class (σ(z) for two)
)
COUNT_METRICS = frozenset({"zero_weights"})  # counts: written as integers
