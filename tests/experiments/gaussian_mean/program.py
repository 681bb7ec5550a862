"""The tiny kind's computation: a scan of gradient steps on the mean squared distance."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from experiments.contract import Outcome, Program


@dataclass(frozen=True, eq=False)
class Sample:
    x: np.ndarray
    sha256: str


class MeanProgram(Program):
    def data_key(self, spec):
        return spec.data.model_dump_json(), spec.seed

    def load_data(self, spec, base_dir) -> Sample:
        rng = np.random.default_rng(spec.seed)
        x = (spec.data.mean + spec.data.std * rng.standard_normal(spec.data.n)).astype(np.float32)
        return Sample(x, hashlib.sha256(x.tobytes()).hexdigest())

    def check(self, spec, data) -> list[str]:
        return []

    def describe(self, spec, data) -> str:
        return f"{spec.train.steps} steps on {spec.data.n} draws"

    def program_key(self, spec, data):
        return spec.train.steps, data.x.shape

    def hyperparameters(self, spec) -> dict[str, np.ndarray]:
        return {"learning_rate": np.float32(spec.train.learning_rate)}

    def arrays(self, data) -> tuple[np.ndarray, ...]:
        return (data.x,)

    def member_fn(self, key, progress):
        steps, _ = key

        def run(hyper, prng_key, x):
            del prng_key

            def step(mu, _):
                loss = 0.5 * jnp.mean(jnp.square(mu - x))
                return mu - hyper["learning_rate"] * jax.grad(
                    lambda m: 0.5 * jnp.mean(jnp.square(m - x))
                )(mu), (loss, mu)

            mu, (losses, mus) = jax.lax.scan(step, jnp.float32(0.0), length=steps)
            return mu, losses, mus

        return run

    def steps(self, key) -> int:
        return key[0]

    def member_bytes(self, key, data) -> int:
        return 8 * key[0]

    def outcome(self, key, output: Any) -> Outcome:
        mu, losses, mus = (np.asarray(a, np.float64) for a in output)
        history = {"train": {"loss": losses, "mu": mus}}
        return Outcome("ok", None, np.arange(key[0]), history, {"mu": mu})

    def data_entry(self, data) -> dict[str, Any]:
        return {"description": f"{data.x.size} draws", "sha256": data.sha256,
                "sample_mean": float(np.mean(data.x, dtype=np.float64))}  # fmt: skip

    def headline(self, outcome: Outcome) -> str:
        return f"mu {float(outcome.params['mu']):.4f}"


PROGRAM = MeanProgram()
