"""Search: configuration, the BRKGA engines, local search, baselines and ``partition``.

Modules, in the order a run meets them: :mod:`~pjpart.search.config` (settings and
presets), :mod:`~pjpart.search.seeds`, :mod:`~pjpart.search.certify` (bounds and the
certified result), :mod:`~pjpart.search.tracker` and :mod:`~pjpart.search.progress`,
the engines :mod:`~pjpart.search.host` and :mod:`~pjpart.search.jit` (over
:mod:`~pjpart.search.brkga` and :mod:`~pjpart.search.brkga_jax`),
:mod:`~pjpart.search.finish` (with :mod:`~pjpart.search.local`), and
:mod:`~pjpart.search.solver`, which names the stages of ``partition``.
"""

from .baselines import BASELINES, baseline
from .config import NOT_GIVEN, PRESETS, SearchConfig, load_preset
from .solver import ENGINES, Solver, partition
from .seeds import seed_orders

__all__ = ["BASELINES", "ENGINES", "NOT_GIVEN", "PRESETS", "SearchConfig", "Solver", "baseline", "load_preset",
           "partition", "seed_orders"]
