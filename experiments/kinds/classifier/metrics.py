"""The classifier's metrics, in the order its tables list them (no jax)."""

METRICS = (
    "ce",
    "mse",
    "accuracy",
    "grad_norm",
    "weight_grad_norm",
    "weight_norm",
    "zero_weights",
)
COUNT_METRICS = frozenset({"zero_weights"})  # counts: written as integers
