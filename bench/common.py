"""Shared by the benchmarks: machine/version/date stamp, best-of timing, the geometric mean, zoo arguments,
a measurement in a fresh process."""

from __future__ import annotations

import datetime
import os
import json
import platform
import subprocess
import sys
import time

import numpy as np

from pjpart.zoorun import geomean  # noqa: F401  (re-exported for the benchmarks)


def best_seconds(fn, reps: int = 3) -> float:
    """Fastest of ``reps`` runs (the machine is shared: the minimum is the least disturbed)."""
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def child_json(script: str, *args, timeout: float | None = None) -> tuple[bool, object]:
    """Run ``python -c script args...`` in a fresh process (no compiled kernels or memory carried
    over): ``(True, the JSON of its last stdout line)``, or ``(False, its last stderr line)``."""
    out = subprocess.run([sys.executable, "-c", script, *map(str, args)], capture_output=True, text=True,
                         timeout=timeout)
    if out.returncode != 0:
        return False, (out.stderr.strip().splitlines() or [f"exit status {out.returncode}"])[-1]
    return True, json.loads(out.stdout.strip().splitlines()[-1])


def machine_info() -> dict:
    import jax

    info = {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "machine": platform.machine(), "processor": platform.processor(), "cpus": os.cpu_count(),
        "python": sys.version.split()[0], "numpy": np.__version__, "jax": jax.__version__,
        "backend": jax.default_backend(), "devices": [str(d) for d in jax.devices()],
    }
    try:  # the code the numbers came from
        import subprocess

        here = os.path.dirname(os.path.abspath(__file__))
        info["commit"] = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=here, capture_output=True,
                                        text=True, timeout=10).stdout.strip() or None
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=here,
                               capture_output=True, text=True, timeout=10).stdout.strip()
        if info["commit"] and dirty:  # numbers from changes not committed yet: say so
            info["commit"] += "+uncommitted"
    except (OSError, subprocess.SubprocessError):
        info["commit"] = None
    try:
        import cvxpy
        import highspy  # noqa: F401

        info["cvxpy"] = cvxpy.__version__
    except ImportError:
        pass
    return info


def zoo_parser(doc: str, default_models: str):
    """The arguments every zoo benchmark takes: --models, --ks, --out."""
    import argparse

    ap = argparse.ArgumentParser(description=doc.splitlines()[0])
    ap.add_argument("--models", default=default_models, help="comma-separated zoo model names")
    ap.add_argument("--ks", default="2,4,8,16,32,64", help="comma-separated stage counts")
    ap.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "results"))
    return ap


def finish_plot(fig, ax, path: str, *, xlabel: str, ylabel: str, log2x: bool = False, logx: bool = False,
                ylim: tuple | None = None, title: str | None = None, legend: bool = True) -> None:
    """Label, grid, legend and save one benchmark figure (and close it)."""
    import matplotlib.pyplot as plt

    if log2x:
        ax.set_xscale("log", base=2)
    elif logx:
        ax.set_xscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if ylim is not None:
        ax.set_ylim(*ylim)
    ax.grid(alpha=0.3)
    if legend:
        ax.legend(fontsize=8)
    if title:
        ax.set_title(title)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
