"""Lower bounds: numbers proven <= the optimal bottleneck (SPEC section 2.5)."""

from .combinatorial import combinatorial_bound, check_feasible

__all__ = ["combinatorial_bound", "check_feasible"]
