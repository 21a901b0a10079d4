"""Search: BRKGA islands over the batched evaluator, the exact small-graph solver, and the driver."""

from .driver import PRESETS, SearchConfig, load_preset, partition, seed_orders

__all__ = ["PRESETS", "SearchConfig", "load_preset", "partition", "seed_orders"]
