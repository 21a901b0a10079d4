"""Lower bounds: numbers proven <= the optimal bottleneck (SPEC section 2.5).

Solver-based formulations (``stages``) import CVXPY lazily, so ``import pjpart``
and the :class:`~pjpart.Evaluator` work where CVXPY is not installed.
"""

from .api import AUTO, METHODS, Bound, BoundError, MethodBound, lower_bound
from .combinatorial import check_feasible, combinatorial_bound

__all__ = ["AUTO", "METHODS", "Bound", "BoundError", "MethodBound", "check_feasible", "combinatorial_bound",
           "lower_bound"]
