"""Shared by the benchmarks: machine/version/date stamp and the geometric mean."""

from __future__ import annotations

import datetime
import math
import os
import platform
import sys

import numpy as np


def machine_info() -> dict:
    import jax

    info = {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "machine": platform.machine(), "processor": platform.processor(), "cpus": os.cpu_count(),
        "python": sys.version.split()[0], "numpy": np.__version__, "jax": jax.__version__,
        "backend": jax.default_backend(), "devices": [str(d) for d in jax.devices()],
    }
    try:
        import cvxpy
        import highspy  # noqa: F401

        info["cvxpy"] = cvxpy.__version__
    except ImportError:
        pass
    return info


def geomean(values) -> float:
    vals = [float(v) for v in values if v is not None and math.isfinite(float(v)) and float(v) > 0]
    return math.exp(sum(math.log(v) for v in vals) / len(vals)) if vals else math.nan
