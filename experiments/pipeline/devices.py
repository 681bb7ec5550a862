"""Which devices a run uses: ``--device cpu|gpu|tpu|N``, or JAX's own ``JAX_PLATFORMS``.

A platform is chosen before JAX starts its backends (:func:`choose`); :func:`describe`
then starts them, turning JAX's failure to find the platform asked for into a
:class:`DeviceError` (bad input: one line, exit 2) that names what to use instead.
"""

from __future__ import annotations

import os
from typing import Any

import jax

from experiments.pipeline.hosts import DeviceError

__all__ = ["PLATFORMS", "DeviceError", "choose", "describe"]

# --device's names, as JAX's platform names.
PLATFORMS = {"cpu": "cpu", "gpu": "cuda", "tpu": "tpu"}


def choose(request: str | None) -> None:
    """Restricts JAX to the requested platform (``cpu``, ``gpu``, ``tpu``) or, for a number
    N, to GPU N; None leaves JAX's choice (and ``JAX_PLATFORMS``) alone.

    Raises:
        DeviceError: a request that is neither a platform nor a device number.
    """
    if request is None:
        return
    if request in PLATFORMS:
        jax.config.update("jax_platforms", PLATFORMS[request])
    elif request.isdigit():
        os.environ["CUDA_VISIBLE_DEVICES"] = request
        jax.config.update("jax_platforms", "cuda")
    else:
        raise DeviceError(f"--device: expected cpu, gpu, tpu or a GPU number; got {request!r}")


def describe() -> dict[str, Any]:
    """Starts JAX's backends and says what a run will use (the manifest's ``device``).

    Raises:
        DeviceError: JAX cannot start the platform it was asked for.
    """
    asked = jax.config.jax_platforms or os.environ.get("JAX_PLATFORMS") or None
    try:
        devices = jax.devices()
    except Exception as error:  # JAX raises RuntimeError, or a bare assertion, per plugin
        detail = str(error).splitlines()[0][:200] if str(error) else type(error).__name__
        raise DeviceError(
            f"device: JAX cannot use platform {asked!r} on this machine ({detail}); "
            "use --device cpu, or install JAX for that device (pip install '.[cuda]')"
        ) from None
    return {
        "platform": devices[0].platform,
        "kind": devices[0].device_kind,
        "count": len(devices),
        "requested": asked,
    }
