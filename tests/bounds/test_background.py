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


def test_the_bounds_clock_starts_when_the_parent_asks():
    # the worker takes the time since the parent sent its request (sent_at) from time_limit: a
    # request sent 1000 s ago with 30 s to run has no time for mincut; the same request sent now has
    import json
    import time

    g = dnn_like(200, seed=3)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [ROOT, os.environ.get("PYTHONPATH")]))}
    values = {}
    for ago in (1000.0, 0.0):
        request = dict(graph=g, k=4, cost_model=pjpart.CostModel(bandwidth=0.5), methods=["combinatorial", "mincut"],
                       time_limit=30, sent_at=time.time() - ago)
        out = subprocess.run([sys.executable, "-m", "pjpart.bounds.worker"], input=pickle.dumps(request),
                             capture_output=True, env=env, timeout=120)
        lines = [json.loads(x) for x in out.stdout.decode().splitlines()]
        values[ago] = {m["method"]: m["value"] for m in lines if "method" in m and not m.get("done")}
    assert list(values[1000.0]) == ["combinatorial"] and values[0.0]["mincut"] > 0


def test_bounds_alongside_a_late_run_end_before_it():
    # a run's bounds may start late (after the seed partitions): their time is what the run has
    # left, less the time to send the answer, not the policy's share of the whole run
    import math
    import time

    from pjpart.budget import Budget
    from pjpart.problem import Problem
    from pjpart.search.certify import REPLY_SECONDS, BoundSource
    from pjpart.search.config import BoundPolicy

    problem = Problem.validated(pjpart.load_graph(pjpart.example_path("tiny")), 2, pjpart.CostModel())
    policy = BoundPolicy(methods="mincut")
    fresh = BoundSource(problem, policy, Budget(10.0)).request(math.inf)["time_limit"]
    budget = Budget(10.0, start=time.perf_counter() - 6.0)
    late = BoundSource(problem, policy, budget).request(math.inf)["time_limit"]
    assert fresh == policy.seconds(10.0) and abs(late - (10.0 - 6.0 - REPLY_SECONDS)) < 0.1


def test_the_child_reads_the_costs_that_follow_its_request():
    # the parent writes the request's pickle, then one line per cheaper partition, on one pipe
    import io
    import time

    from pjpart.bounds.worker import _LatestUpper

    stream = io.BytesIO(pickle.dumps(dict(k=2)) + b"5.0\n3.0\n4.0\n")
    assert pickle.load(stream) == dict(k=2)
    latest = _LatestUpper(stream)
    deadline = time.time() + 10
    while latest() != 3.0 and time.time() < deadline:
        time.sleep(0.01)
    assert latest() == 3.0


def test_costs_offered_to_the_bounds_process_do_not_disturb_it():
    g = pjpart.load_graph(pjpart.example_path("tiny"))
    bg = BackgroundBounds(dict(graph=g, k=2, cost_model=pjpart.CostModel(), methods=["combinatorial", "exact-dp"],
                               time_limit=30))
    for cost in (20.0, 16.0, 17.0, 14.0):
        bg.offer_upper(cost)
    assert bg.done.wait(60)
    assert bg.error is None and bg.best == (14.0, "exact-dp")
    bg.offer_upper(13.0)  # after the child ended: nothing to write to, no error
    bg.stop()
    assert bg.proc.returncode == 0 and bg._sent_upper == 13.0


def test_a_long_methods_rises_reach_the_parent_before_it_ends():
    # guess raises its bound guess after guess: each rise is sent as it happens (a run of minutes
    # would otherwise show the bound from before guess until guess's time is up); the parent
    # counts a method as reported only at its end
    import json

    g = dnn_like(60, seed=5)
    request = dict(graph=g, k=4, cost_model=pjpart.CostModel(bandwidth=0.5), methods=["combinatorial", "guess"],
                   time_limit=30)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [ROOT, os.environ.get("PYTHONPATH")]))}
    out = subprocess.run([sys.executable, "-m", "pjpart.bounds.worker"], input=pickle.dumps(request),
                         capture_output=True, env=env, timeout=120)
    lines = [json.loads(x) for x in out.stdout.decode().splitlines()]
    partial = [m["value"] for m in lines if m.get("partial")]
    end = next(i for i, m in enumerate(lines) if m.get("method") == "guess" and not m.get("partial"))
    assert len(partial) >= 2 and partial == sorted(partial)
    assert all(m.get("method") == "guess" for m in lines if m.get("partial"))
    assert max(i for i, m in enumerate(lines) if m.get("partial")) < end
    assert partial[-1] <= lines[end]["value"] * (1 + 1e-12)
    direct = pjpart.lower_bound(g, 4, pjpart.CostModel(bandwidth=0.5), methods=["combinatorial", "guess"],
                                time_limit=30).value
    assert lines[end]["value"] == direct or abs(lines[end]["value"] - direct) <= 0.02 * direct
    bg = BackgroundBounds(request)
    assert bg.done.wait(60)
    # one entry per method's end and one for the end of all (which names the best method)
    assert bg.seen == ["combinatorial", "guess", "guess"] and bg.best[1] == "guess"
    bg.stop()
