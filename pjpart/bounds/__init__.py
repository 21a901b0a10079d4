"""Lower bounds: numbers proven <= the optimal bottleneck (SPEC section 2.5).

Solver-based formulations (``stages``) import CVXPY lazily, so ``import pjpart``
and the :class:`~pjpart.Evaluator` work where CVXPY is not installed.  Nothing here
imports :mod:`pjpart.search`: the search uses the bounds, not the other way round.
"""

from ..cost import check_feasible  # its old home: callers of pjpart.bounds.check_feasible keep working
from .api import (AUTO, METHODS, REGISTRY, SOLVER_FREE, Bound, BoundError, BoundRequest, MethodBound,
                  available_methods, lower_bound)
from .background import BackgroundBounds
from .combinatorial import combinatorial_bound

__all__ = ["AUTO", "METHODS", "REGISTRY", "SOLVER_FREE", "BackgroundBounds", "Bound", "BoundError", "BoundRequest",
           "MethodBound", "available_methods", "check_feasible", "combinatorial_bound", "lower_bound"]
