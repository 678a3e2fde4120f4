"""Fair comparisons with NumPy and scikit-learn: run them with their best BLAS kernel.

Some machines set ``OPENBLAS_CORETYPE`` or ``OPENBLAS_L2_SIZE``, which pin
OpenBLAS to a slower kernel; a speed-up measured against such a NumPy is not a
speed-up.  A benchmark calls :func:`reexec_without_blas_overrides` before it
imports NumPy and prints :func:`blas_description` with its results.
"""

from __future__ import annotations

import os
import sys

BLAS_OVERRIDES = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")


def reexec_without_blas_overrides() -> None:
    """Re-run the current script with the variables of :data:`BLAS_OVERRIDES` unset
    (returns without doing anything when none is set)."""
    if any(name in os.environ for name in BLAS_OVERRIDES):
        clean = {key: value for key, value in os.environ.items() if key not in BLAS_OVERRIDES}
        os.execve(sys.executable, [sys.executable, *sys.argv], clean)


def blas_description() -> list[str]:
    """One line per BLAS library loaded in this process (API, version, kernel, threads),
    and the value of each override variable."""
    from threadpoolctl import threadpool_info

    lines = [f"{name}={os.environ.get(name, '(unset)')}" for name in BLAS_OVERRIDES]
    for info in threadpool_info():
        lines.append(f"BLAS: {info.get('internal_api')} {info.get('version')} "
                     f"kernel={info.get('architecture')} threads={info.get('num_threads')}")
    return lines
