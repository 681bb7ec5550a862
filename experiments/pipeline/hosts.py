"""Many-process settings: where the coordinator is, how many processes, which one this is.

From the command line's flags or, where a flag is not given, JAX's environment variables
(``JAX_COORDINATOR_ADDRESS``, ``JAX_NUM_PROCESSES``, ``JAX_PROCESS_ID``).
"""

from __future__ import annotations

import os

__all__ = ["DeviceError", "HostsError", "distributed_settings"]


class HostsError(ValueError):
    """Many-process settings that cannot work (bad input)."""


class DeviceError(ValueError):
    """A device or platform that this machine does not have (bad input; see
    :mod:`experiments.pipeline.devices`)."""


def distributed_settings(
    coordinator: str | None, num_processes: int | None, process_id: int | None
) -> tuple[str, int, int] | None:
    """The (coordinator, process count, process id) of a many-process run, from the flags
    or JAX's environment variables, or None for a single process."""
    coordinator = coordinator or os.environ.get("JAX_COORDINATOR_ADDRESS")
    if num_processes is None and "JAX_NUM_PROCESSES" in os.environ:
        num_processes = _env_int("JAX_NUM_PROCESSES")
    if process_id is None and "JAX_PROCESS_ID" in os.environ:
        process_id = _env_int("JAX_PROCESS_ID")
    if coordinator is None and num_processes is None and process_id is None:
        return None
    problems = []
    if not coordinator or ":" not in coordinator:
        problems.append(f"--coordinator: expected HOST:PORT, got {coordinator!r}")
    if num_processes is None or num_processes < 1:
        problems.append(f"--num-processes: expected an integer >= 1, got {num_processes!r}")
    if process_id is None or not 0 <= process_id < (num_processes or 1):
        problems.append(
            f"--process-id: expected an integer in [0, {num_processes}), got {process_id!r}"
        )
    if problems:
        raise HostsError("bad many-host settings:\n  " + "\n  ".join(problems))
    return coordinator, num_processes, process_id  # type: ignore[return-value]


def _env_int(name: str) -> int:
    try:
        return int(os.environ[name])
    except ValueError:
        raise HostsError(f"{name}: expected an integer, got {os.environ[name]!r}") from None
