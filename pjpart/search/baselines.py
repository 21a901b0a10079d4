"""Baselines in the same API as the search, for users and benchmarks to compare against.

* ``greedy``: the graph's given topological order, sliced optimally (SliceGraph on one order);
* ``chain-balanced``: DeepSpeed-style balancing of the given order by ``work`` only
  (the contiguous split minimising the largest work sum, by bisection on the
  bottleneck), then costed under the true cost model (communication and overflow);
* ``random``: uniformly random keys, each decoded and sliced optimally, best of a
  budget of ``max_evaluations`` (the paper's "random-10000" with 10^4).

Every result is re-validated and carries a bound (the combinatorial one unless
``lower_bound`` is given).

Example
-------
>>> import pjpart
>>> from pjpart.search.baselines import baseline
>>> g = pjpart.Graph.from_arrays(work=[1, 2, 3, 4], edges=[(0, 1), (1, 2), (2, 3)])
>>> baseline(g, 2, "chain-balanced").assignment.tolist()
[0, 0, 0, 1]
"""

from __future__ import annotations

import numpy as np

from ..banded import balance_work, slice_exactly
from ..bounds import combinatorial_bound
from ..budget import Budget
from ..cost import CostModel
from ..errors import ConfigError
from ..graph import Graph
from ..problem import Problem
from ..result import PartitionResult
from .certify import certify

BASELINES = ("greedy", "chain-balanced", "random")


def baseline(graph: Graph, k: int, name: str, cost_model: CostModel | None = None, *, seed: int = 0,
             max_evaluations: int = 10_000, time_limit: float | None = None,
             lower_bound: tuple[float, str] | None = None) -> PartitionResult:
    """Run baseline ``name`` (one of :data:`BASELINES`) and return a validated result.

    Parameters
    ----------
    graph, k, cost_model
        The problem, as in :func:`pjpart.partition`.
    name
        ``"greedy"`` (the graph's order sliced optimally), ``"chain-balanced"`` (the
        graph's order split by work alone) or ``"random"`` (``max_evaluations`` random
        orders, each sliced optimally, within ``time_limit`` seconds).
    lower_bound
        ``(value, method)`` to certify with; the combinatorial bound when not given.

    Returns
    -------
    PartitionResult

    Examples
    --------
    >>> import pjpart
    >>> g = pjpart.Graph.from_arrays(work=[1, 2, 3, 4], edges=[(0, 1), (1, 2), (2, 3)])
    >>> pjpart.baseline(g, 2, "chain-balanced").assignment.tolist()
    [0, 0, 0, 1]
    """
    budget = Budget(time_limit)
    if name not in BASELINES:
        raise ConfigError(f"unknown baseline {name!r}; known: {', '.join(BASELINES)}")
    problem = Problem.validated(graph, k, cost_model)
    k, cm = problem.k, problem.cost_model
    bound, method = lower_bound or (combinatorial_bound(graph, k, cm), "combinatorial")
    order = graph.topological_order()
    evaluations = 1
    history = []
    if name == "greedy":
        assignment = slice_exactly(graph, order, k, cm)
    elif name == "chain-balanced":
        assignment = np.empty(graph.n, dtype=np.int64)
        assignment[order] = balance_work(graph.work[order], k)
    else:  # random
        from ..evaluator import Evaluator

        ev = Evaluator(graph, k, cm)
        rng = np.random.default_rng(seed)
        best_keys, best, evaluations = None, np.inf, 0
        while evaluations < max_evaluations:
            if budget.expired():
                break
            keys = rng.random((min(1024, max_evaluations - evaluations), graph.n))
            fit = ev.evaluate(keys)
            evaluations += len(keys)
            i = int(np.argmin(fit))
            if fit[i] < best:
                best, best_keys = float(fit[i]), keys[i]
            history.append((budget.elapsed(), evaluations, best))
        assignment = ev.decode_best(best_keys[None])[0][0]
    return certify(problem, assignment, bound, method, method=name, seed=seed, evaluations=evaluations,
                   seconds=budget.elapsed(), stopped_by="budget", history=history)
