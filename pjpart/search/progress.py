"""Live progress of a search on stderr: a tqdm bar, or JSON lines for logs.

>>> Progress(False)({"generation": 1}) is None   # disabled: prints nothing
True
"""

from __future__ import annotations

import json
import sys
import time

from .config import StopRules


class Progress:
    """Live progress on stderr: a tqdm bar over the time limit (or the generation or evaluation
    budget) whose postfix shows generation, evaluations, evaluations/s, best, bound and gap;
    or one JSON object per update with ``json_lines=True`` (machine-readable logs)."""

    def __init__(self, enabled: bool, json_lines: bool = False, stop: StopRules | None = None,
                 every: float = 0.5) -> None:
        self.enabled, self.json_lines, self.every = enabled, json_lines, every
        self.last = 0.0
        self.bar = None
        self.total, self.unit = None, "s"
        if stop is not None and stop.time_limit is not None:
            self.total = float(stop.time_limit)
        elif stop is not None and stop.generations is not None:
            self.total, self.unit = float(stop.generations), "gen"
        elif stop is not None and stop.max_evaluations is not None:
            self.total, self.unit = float(stop.max_evaluations), "eval"

    def _open(self):
        from tqdm import tqdm

        # opened at the first update, so runs answered before the search (exact, seed) print nothing
        return tqdm(total=self.total, unit=self.unit, file=sys.stderr, dynamic_ncols=True, leave=True,
                    bar_format="{l_bar}{bar}| {n:.1f}/{total:.1f} {unit}{postfix}" if self.total
                    else "{n:.1f} {unit}{postfix}")

    def __call__(self, info: dict, final: bool = False) -> None:
        if not self.enabled:
            return
        now = time.perf_counter()
        if not final and now - self.last < self.every:
            return
        self.last = now
        if self.json_lines:
            print(json.dumps(info), file=sys.stderr, flush=True)
            return
        if self.bar is None:
            self.bar = self._open()
        done = {"s": info["seconds"], "gen": info["generation"], "eval": info["evaluations"]}[self.unit]
        self.bar.n = min(done, self.total) if self.total else done
        self.bar.set_postfix_str(f"gen {info['generation']}  evals {info['evaluations']} "
                                 f"({info['evals_per_s']:.0f}/s)  best {info['best']:.6g}  "
                                 f"bound {info['bound']:.6g}  gap {100 * info['gap']:.2f}%", refresh=True)
        if final:
            self.bar.close()


__all__ = ["Progress"]
