"""Bounds in a child process: results as each method ends, a clean stop, and a quiet child when
its parent is gone."""

import os
import pickle
import subprocess
import sys

import pjpart
from pjpart.bounds import BackgroundBounds
from pjpart.generators import dnn_like

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_background_bounds_report_the_best_and_stop():
    g = pjpart.load_graph(pjpart.example_path("tiny"))
    bg = BackgroundBounds(dict(graph=g, k=2, cost_model=pjpart.CostModel(), methods=["combinatorial", "exact-dp"],
                               time_limit=30, niceness=3))
    assert bg.done.wait(60)
    assert bg.error is None and not bg.killed and bg.best == (14.0, "exact-dp")
    assert bg.nice is None or bg.nice >= 3
    bg.stop()
    assert bg.proc.returncode == 0


def test_background_bounds_report_the_childs_error_and_a_kill_is_not_one():
    g = pjpart.load_graph(pjpart.example_path("tiny"))
    bad = BackgroundBounds(dict(graph=g, k=2, cost_model=pjpart.CostModel(), methods=["magic"]))
    assert bad.done.wait(60)
    assert bad.best is None and "ConfigError: unknown bound method 'magic'" in bad.error
    slow = BackgroundBounds(dict(graph=dnn_like(400, seed=1), k=8, cost_model=pjpart.CostModel(bandwidth=0.2),
                                 methods=["mincut", "exact-dp"], max_downsets=10 ** 7, time_limit=300))
    slow.renice(5)
    slow.stop()
    assert slow.done.is_set() and slow.killed and slow.error is None


def test_worker_ends_quietly_when_its_parent_stops_reading():
    g = pjpart.load_graph(pjpart.example_path("tiny"))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [ROOT, os.environ.get("PYTHONPATH")]))}
    proc = subprocess.Popen([sys.executable, "-m", "pjpart.bounds.worker"], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    proc.stdout.close()  # the parent is gone before the child's first line
    _, err = proc.communicate(pickle.dumps(dict(graph=g, k=2, cost_model=pjpart.CostModel(),
                                                methods=["combinatorial"], time_limit=30)), timeout=60)
    assert proc.returncode == 0 and b"Traceback" not in err and b"BrokenPipe" not in err, err.decode()
