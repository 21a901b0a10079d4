"""Search: BRKGA islands over the batched evaluator, the exact small-graph solver, baselines and the driver."""

from .baselines import BASELINES, baseline
from .driver import PRESETS, SearchConfig, load_preset, partition, seed_orders

__all__ = ["BASELINES", "PRESETS", "SearchConfig", "baseline", "load_preset", "partition", "seed_orders"]
