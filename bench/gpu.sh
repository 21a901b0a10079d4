#!/usr/bin/env bash
# One prepared command for a machine with an NVIDIA GPU and JAX with CUDA already installed
# (no internet; cvxpy not needed: importing pjpart and using the Evaluator never imports it).
#   bash bench/gpu.sh OUTDIR
# Runs the kernel correctness tests against the NumPy reference on the GPU, then the
# throughput grid, and writes everything under OUTDIR.
set -uo pipefail
mkdir -p "${1:-bench/results}"
out=$(cd "${1:-bench/results}" && pwd)
cd "$(dirname "$0")/.."
export PYTHONUNBUFFERED=1
# pjpart.kernels is installed from kernels/: install the checkout without dependencies (they are there)
python -m pip install -q --no-deps --no-build-isolation -e . || exit 1
python -c "import jax; print('backend', jax.default_backend(), jax.devices())" | tee "$out/gpu_devices.txt"
python -m pytest -q tests/test_kernels.py -p no:cacheprovider 2>&1 | tee "$out/gpu_kernel_tests.txt"
python bench/eval_throughput.py --grid full --out "$out" --tag gpu 2>&1 | tee "$out/gpu_throughput.log"
# the two search engines at equal wall time (the measurement behind engine="auto")
python bench/engines.py --graphs resnet50,dnn:1000 -k 16 --time-limit 20 --out "$out" --tag gpu 2>&1 | tee "$out/gpu_engines.log"
