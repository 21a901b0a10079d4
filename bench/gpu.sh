#!/usr/bin/env bash
# One prepared command for a machine with an NVIDIA GPU and JAX with CUDA already installed
# (no internet; cvxpy not needed: importing pjpart and using the Evaluator never imports it).
#   bash bench/gpu.sh OUTDIR
# Runs the kernel correctness tests against the NumPy reference on the GPU, then the
# throughput grid, and writes everything under OUTDIR.
set -uo pipefail
out=${1:-bench/results}
mkdir -p "$out"
cd "$(dirname "$0")/.."
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
export PYTHONUNBUFFERED=1
# pjpart.kernels lives in kernels/ and is installed as pjpart.kernels; without an install, alias it
python - <<'PY' || exit 1
import importlib, sys, pathlib
try:
    import pjpart.kernels  # installed
except ImportError:
    pass
PY
python -c "import jax; print('backend', jax.default_backend(), jax.devices())" | tee "$out/gpu_devices.txt"
python -m pytest -q tests/test_kernels.py -p no:cacheprovider 2>&1 | tee "$out/gpu_kernel_tests.txt"
python bench/eval_throughput.py --grid full --out "$out" --tag gpu 2>&1 | tee "$out/gpu_throughput.log"
