"""pjpart.compile_cache: compiled kernels written to disk by one process and loaded by the next."""

import json
import subprocess
import sys

import pytest


CACHE_SCRIPT = """
import json, sys
import jax
import pjpart
from pjpart.generators import dnn_like

hits = []
jax.monitoring.register_event_listener(
    lambda event, **kw: hits.append(event) if event == "/jax/compilation_cache/cache_hits" else None)
folder = pjpart.enable_compilation_cache(sys.argv[1])
r = pjpart.partition(dnn_like(60, seed=1), 3, seed=0, max_evaluations=300, exact_max_downsets=0,
                     bound_methods="combinatorial", local_search=False)
print(json.dumps({"hits": len(hits), "bottleneck": r.bottleneck, "folder": folder}))
"""


@pytest.mark.slow  # two subprocesses (about 4 s)
def test_compile_cache_is_written_then_loaded_by_a_later_process(tmp_path):
    # JAX decides at a process's first compilation whether a cache is in use: two processes
    folder = tmp_path / "cache"
    runs = []
    for _ in range(2):
        proc = subprocess.run([sys.executable, "-c", CACHE_SCRIPT, str(folder)], capture_output=True, text=True,
                              timeout=300)
        assert proc.returncode == 0, proc.stderr
        runs.append(json.loads(proc.stdout.strip().splitlines()[-1]))
    assert runs[0]["hits"] == 0 and runs[0]["folder"] == str(folder)
    assert len(list(folder.glob("*-cache"))) >= 2  # the decoder and the fitness kernel at least
    assert runs[1]["hits"] >= 2  # loaded, not compiled again
    assert runs[1]["bottleneck"] == runs[0]["bottleneck"]  # the same executables, the same answer
