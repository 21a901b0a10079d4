"""``Evaluator``: a Graph + CostModel turned into kernel inputs, shapes, chunks and devices.

The evaluator maps random keys (or orders) of a whole population to the optimal
bottleneck of slicing each candidate's order into at most ``k`` stages.  It compiles
once per (graph shape, k, band, window width, chunk) and streams the population through fixed-size
chunks, so any population size reuses the same executable; on CPUs, orders whose banded table
would exceed :data:`~pjpart.kernel_inputs.HOST_SLICING_MIN_TABLE` entries are sliced on the host instead.

Exactness.  Values are exact (up to the dtype; float64 on the host) for every candidate whose
optimum is at most ``upper_bound``; candidates above it get a value above it
(see ``pjpart.kernels.segments``).  ``decode_best`` recomputes the returned
partitions in float64 with the reference evaluator.  Under a finite ``upper_bound`` each DP
stage is computed only where a slicing within it can cut (``pjpart.kernels.slice_windowed``).
"""

from __future__ import annotations

import math
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable

import numpy as np

from .cost import CostModel, DEFAULT_COST_MODEL, evaluate
from .graph import Graph, GraphError, check_k
from .kernel_inputs import (band_bucket, compiled_kernels, cost_params, graph_arrays, host_slicing_pays,
                            population_fitness, stages_from_starts, window_width)
from .backends import usable_cores
from .banded import FULL_TABLE_MAX_NODES, slice_candidates, slice_exactly
from .reference import decode_keys



class Evaluator:
    """Evaluate a population of random keys (or orders) at once with the JAX kernels.

    Parameters
    ----------
    graph, k, cost_model
        The problem (``cost_model``: the SPEC defaults when not given).
    dtype
        ``"float32"`` by default; ``"float64"`` needs ``jax_enable_x64``.
    device
        A ``jax.Device``, or ``"all"`` to shard the population over every local device
        with ``jax.sharding``; the first local device by default.
    band
        Fix the segment length cap instead of deriving it per chunk.
    upper_bound
        Cost of a valid partition; default: the graph's own order sliced optimally.
        Values are exact up to it, see :meth:`set_upper_bound`.
    chunk_size
        Candidates per compiled call, default 256: one executable serves any population
        size (rounded up to a multiple of the number of devices; one when slicing on the host).
    memory_budget
        Bytes of tables per DP sub-batch within a chunk; on CPU also at most ~2 MB of
        tables, so the DP works in cache.
    decode
        ``"device"``: the JAX ready-list decoder, default; ``"host"``: a heap per
        candidate in Python.
    threads
        Chunks evaluated at once from host threads; default: ``$PJPART_THREADS`` (a
        sweep's worker: its share of the cores) or the usable CPU cores on a single CPU
        device, else 1 (XLA:CPU runs a chunk on about one core, without the GIL).  Results
        do not depend on ``threads``.
    slicing
        ``"kernel"``: the tables and DP of :mod:`pjpart.kernels`; ``"host"``: exact float64 slicing
        (:func:`pjpart.banded.slice_candidates`) in the same threads; ``"auto"``: host on CPUs
        when the graph's own order would need a table of more than
        :data:`~pjpart.kernel_inputs.HOST_SLICING_MIN_TABLE` entries under the upper bound
        (chosen again by :meth:`set_upper_bound`), unless ``band`` is fixed.

    Raises
    ------
    GraphError
        On a bad ``k``, ``dtype`` (float32, or float64 with ``jax_enable_x64``), ``decode``
        or ``slicing``.

    Examples
    --------
    >>> import numpy as np
    >>> from pjpart import Evaluator
    >>> from pjpart.generators import dnn_like
    >>> g = dnn_like(60, seed=1)
    >>> keys = np.random.default_rng(0).random((8, 60))
    >>> ev = Evaluator(g, k=4, decode="host", threads=1)
    >>> ev.chunk_size, ev.threads, ev.evaluate(keys).shape
    (256, 1, (8,))
    >>> bool(np.array_equal(ev.evaluate(keys), Evaluator(g, k=4).evaluate(keys)))  # decoded on device
    True
    """

    def __init__(self, graph: Graph, k: int, cost_model: CostModel | None = None, *,
                 dtype: str | Any = None, device: Any = None, band: int | None = None,
                 upper_bound: float | None = None, chunk_size: int | None = None,
                 memory_budget: float = 256e6, decode: str = "device", threads: int | None = None,
                 slicing: str = "auto") -> None:
        import jax
        import jax.numpy as jnp

        self.graph = graph
        self.k = check_k(k)
        self.cost_model = cost_model or DEFAULT_COST_MODEL
        dtype = jnp.dtype(dtype or jnp.float32)
        if dtype == jnp.float64 and jnp.asarray(0.0).dtype != jnp.float64:  # x64 off (global or context)
            raise GraphError("dtype float64 needs jax.config.update('jax_enable_x64', True)")
        if dtype not in (jnp.float32, jnp.float64):
            raise GraphError(f"dtype must be float32 or float64, got {dtype}")
        self.dtype = dtype
        if device == "all":
            self.devices = list(jax.local_devices())
        elif device is None:
            self.devices = [jax.local_devices()[0]]
        else:
            self.devices = [device]
        if decode not in ("host", "device"):
            raise GraphError(f"decode must be 'host' or 'device', got {decode!r}")
        self.decode_on = decode
        if slicing not in ("auto", "kernel", "host"):
            raise GraphError(f"slicing must be 'auto', 'kernel' or 'host', got {slicing!r}")
        self._auto_slicing = slicing == "auto" and band is None and all(d.platform == "cpu" for d in self.devices)
        self.slicing_on = "kernel" if slicing == "auto" else slicing
        self._own_prefix = np.concatenate([[0.0], np.cumsum(graph.work[graph.topological_order()])])
        self._fixed_band = None if band is None else int(min(max(int(band), 1), graph.n))
        self._setup_devices()
        self._arrays = self._put(graph_arrays(graph, dtype))
        self._cost = self._put(cost_params(self.cost_model, self.k, dtype))
        self._fastest = self.cost_model.fastest_speed  # a segment costs at least its work at this speed
        self._setup_decoder()
        if upper_bound is None:  # the table of the own order's first band (2 n / k, as 2 W / k)
            self._choose_slicing(2 * self._own_prefix[-1] / self.k)
        if upper_bound is None and self._fixed_band is None and self.slicing_on == "kernel":  # host: exact, no band
            upper_bound = self._own_order_bound()
        self.set_upper_bound(math.inf if upper_bound is None else float(upper_bound))
        ndev = len(self.devices)
        self.memory_budget = float(memory_budget)
        self.cache_budget = 2e6 if all(d.platform == "cpu" for d in self.devices) else 0.0
        chunk_size = 256 if chunk_size is None else int(chunk_size)
        self.chunk_size = int(math.ceil(max(1, chunk_size) / ndev) * ndev)
        self.bands_used: set[int] = set()  # band sizes compiled for (benchmarks report them)
        if threads is None:
            on_cpu = ndev == 1 and self.devices[0].platform == "cpu"
            # a sweep's worker gets its share of the cores (pjpart.backends.worker_env)
            threads = (int(os.environ.get("PJPART_THREADS", "0")) or usable_cores()) if on_cpu else 1
        self.threads = max(1, int(threads))
        self._pool: ThreadPoolExecutor | None = None
        self._width_lock = threading.Lock()

    #: candidates per call: one when slicing on the host (no compiling or padding; probes and stops per candidate)
    chunk_size = property(lambda self: 1 if self.slicing_on == "host" else self._chunk_size,
                          lambda self, size: setattr(self, "_chunk_size", int(size)))

    # ------------------------------------------------------------ setup
    def _setup_devices(self) -> None:
        from jax.sharding import Mesh, NamedSharding, PartitionSpec

        if len(self.devices) > 1:
            mesh = Mesh(np.array(self.devices), ("pop",))
            self._pop_sharding = NamedSharding(mesh, PartitionSpec("pop"))
            self._replicated = NamedSharding(mesh, PartitionSpec())
        else:
            self._pop_sharding = self._replicated = None

    def _put(self, tree):
        import jax

        target = self._replicated if self._replicated is not None else self.devices[0]
        return jax.tree.map(lambda x: jax.device_put(x, target), tree)

    def _setup_decoder(self) -> None:
        import jax.numpy as jnp

        g = self.graph
        indeg = np.diff(g.pred_ptr).astype(np.int32)
        outdeg = np.diff(g.succ_ptr)
        dmax = max(1, int(outdeg.max()) if len(outdeg) else 1)
        succ_pad = np.full((g.n, dmax), g.n, dtype=np.int32)
        for v in range(g.n):
            s = g.successors(v)
            succ_pad[v, : len(s)] = s
        self._indeg = self._put(jnp.asarray(indeg))
        self._succ_pad = self._put(jnp.asarray(succ_pad))
        self._sources = np.flatnonzero(indeg == 0).astype(np.int32)
        # ready-list width: the widest ready set seen on a few orders, with room to spare;
        # a chunk that overflows it is decoded again with a doubled width
        widest = len(self._sources)
        rng = np.random.default_rng(0)
        for keys in rng.random((4, g.n)):
            widest = max(widest, g.kahn_order(keys, widest=True)[1])
        self.set_decode_width(max(8, 2 * widest))

    def set_decode_width(self, width: int) -> None:
        import jax.numpy as jnp

        self.decode_width = int(min(self.graph.n, max(width, len(self._sources), 1)))
        ready0 = np.full(self.decode_width, self.graph.n, dtype=np.int32)
        ready0[: len(self._sources)] = self._sources
        self._ready0 = self._put(jnp.asarray(ready0))

    def set_upper_bound(self, upper_bound: float) -> None:
        """Declare the cost of some valid partition (e.g. the best found times a margin):
        bottlenecks up to it are exact, larger ones come back as values above it."""
        import jax.numpy as jnp

        self.upper_bound = float(upper_bound)
        # margin: float rounding of the prefix sums must never cut a needed segment
        margin = self.upper_bound * self._fastest * (1 + 1e-3) if math.isfinite(self.upper_bound) \
            else np.finfo(np.float32).max
        self._band_bound = self._put(jnp.asarray(margin, self.dtype))
        self._choose_slicing(margin)

    def _choose_slicing(self, work_bound: float) -> None:
        if self._auto_slicing:
            self.slicing_on = "host" if host_slicing_pays(self._own_prefix, work_bound) else "kernel"

    def _own_order_bound(self) -> float:
        """Cost of a valid partition: the graph's own topological order sliced optimally
        with a growing band (each finite answer is the cost of a real slicing)."""
        order = self.graph.topological_order()
        n = self.graph.n
        band = min(n, 2 * math.ceil(n / self.k) + 1)
        while True:
            starts = self._cuts_once(order, band)
            stages = stages_from_starts(order, starts)
            value = float(evaluate(self.graph, stages, self.k, self.cost_model).max())
            if math.isfinite(value) or band >= n:
                return value
            band = min(n, band * 2)

    def _cuts_once(self, order: np.ndarray, band: int) -> np.ndarray:
        import jax.numpy as jnp

        _, starts = compiled_kernels()["cuts"](self._arrays, self._cost, jnp.asarray(order, jnp.int32)[None],
                                      k=self.k, band=band)
        return np.asarray(starts)[0]

    def compiled_count(self) -> int:
        """How many executables the shared kernel caches hold (a test checks calls do not add any)."""
        return sum(fn._cache_size() for fn in compiled_kernels().values())

    # ------------------------------------------------------------ helpers
    def _check_keys(self, keys: Any) -> np.ndarray:
        keys = np.asarray(keys, dtype=np.float64)
        if keys.ndim != 2 or keys.shape[1] != self.graph.n:
            raise GraphError(f"keys must have shape (P, {self.graph.n}), got {keys.shape}")
        return keys

    def _put_chunk(self, x: np.ndarray):
        import jax

        if self._pop_sharding is not None:
            return jax.device_put(x, self._pop_sharding)
        return jax.device_put(x, self.devices[0])

    def _chunks(self, total: int):
        for start in range(0, total, self.chunk_size):
            yield start, min(total, start + self.chunk_size)

    def _pad(self, x: np.ndarray) -> np.ndarray:
        short = self.chunk_size - len(x)
        return x if short == 0 else np.concatenate([x, np.repeat(x[:1], short, axis=0)])

    def _map_chunks(self, fn, total: int, should_stop: Callable[[], bool] | None = None) -> list:
        """``[fn(a, b) for each chunk]`` on up to ``threads`` host threads, in chunk order.
        Chunks after the first that would start once ``should_stop()`` holds return ``None``."""
        def task(a, b):
            if a and should_stop is not None and should_stop():
                return None
            return fn(a, b)

        spans = list(self._chunks(total))
        if self.threads == 1 or len(spans) == 1:
            return [task(a, b) for a, b in spans]
        if self._pool is None:
            self._pool = ThreadPoolExecutor(self.threads, thread_name_prefix="pjpart-eval")
        return list(self._pool.map(lambda span: task(*span), spans))

    def _decode_chunk(self, keys: np.ndarray):
        """Device orders and needed band of one (padded) chunk of keys."""
        while True:
            width = self.decode_width
            orders, overflow, band = compiled_kernels()["decode"](
                self._put_chunk(keys.astype(self.dtype)), self._indeg, self._succ_pad, self._ready0,
                self._arrays.work, self._band_bound)
            if not bool(overflow):
                return orders, int(band)
            with self._width_lock:  # another thread may have widened it already
                if self.decode_width == width:
                    self.set_decode_width(2 * width)

    def _batch(self, band: int) -> int:
        """Candidates per DP sub-batch so that its tables fit ``memory_budget`` bytes."""
        # a heterogeneous pipeline's table keeps four sums per segment (kernels.segment_parts)
        table = (band + 1) * (self.graph.n + 1) * self.dtype.itemsize * (4 if self.cost_model.heterogeneous else 1)
        per_candidate = table * 8 + 64 * self.graph.n
        batch = int(max(1, min(self.chunk_size, self.memory_budget // per_candidate)))
        if self.cache_budget:
            # the DP streams its sub-batch's tables once per stage: on CPU they should stay in cache
            batch = int(max(1, min(batch, self.cache_budget // table)))
        batch = 1 << (batch.bit_length() - 1)
        ndev = len(self.devices)
        while batch > 1 and (self.chunk_size % batch or batch % ndev):
            batch //= 2
        return batch if self.chunk_size % batch == 0 and batch % ndev == 0 else self.chunk_size

    def _band(self, needed: int) -> int:
        if self._fixed_band is not None:
            return self._fixed_band
        band = band_bucket(max(1, needed), self.graph.n)
        self.bands_used.add(band)
        return band

    def _needed_band(self, chunk) -> int:
        """Band the orders of a device chunk need (not computed when the band is fixed)."""
        if self._fixed_band is not None:
            return self._fixed_band
        return int(compiled_kernels()["band"](chunk, self._arrays.work, self._band_bound))

    def _kernel(self, kind: str, chunk, needed: int):
        """Run the ``bottlenecks``, ``pairs`` or ``cuts`` kernel on a device chunk of orders; the first
        two on work windows (:func:`pjpart.kernels.slice_windowed`) where that is less work."""
        band, extra = self._band(needed), {}
        if kind != "cuts" and self._fixed_band is None and math.isfinite(self.upper_bound):
            count = self.k + 1 if kind == "pairs" and not self.cost_model.heterogeneous else self.k
            width = window_width([chunk], self._arrays.work, self._band_bound, self.graph.n, band, count)
            extra = {} if width is None else {"width": width, "bound": self._band_bound}
        return compiled_kernels()[kind](self._arrays, self._cost, chunk, k=self.k, band=band,
                                        batch=self._batch(band), **extra)

    def decode(self, keys: Any) -> np.ndarray:
        """Topological orders ``(P, n)`` of the keys (device ready-list or host heap; same result)."""
        keys = self._check_keys(keys)
        if self.decode_on == "host":
            return decode_keys(self.graph, keys)
        out = self._map_chunks(lambda a, b: np.asarray(self._decode_chunk(self._pad(keys[a:b]))[0])[: b - a],
                               len(keys))
        return np.concatenate(out).astype(np.int64) if out else np.zeros((0, self.graph.n), np.int64)

    # ------------------------------------------------------------ public API
    def evaluate_orders(self, orders: Any) -> np.ndarray:
        """Bottlenecks ``(P,)`` (float64 array of kernel-dtype values) of topological orders."""
        return self._evaluate("bottlenecks", orders=np.asarray(orders, dtype=np.int32))

    def evaluate(self, keys: Any, should_stop: Callable[[], bool] | None = None) -> np.ndarray:
        """Bottlenecks ``(P,)`` of the random keys ``(P, n)``.

        Chunks after the first that would start once ``should_stop()`` holds are
        not evaluated and get ``nan`` (``inf`` is an infeasible candidate), so a
        time limit holds even when one population takes longer than it.
        """
        return self._evaluate_keys("bottlenecks", keys, should_stop)

    def evaluate_pairs(self, keys: Any, should_stop: Callable[[], bool] | None = None) -> np.ndarray:
        """``(P, 2)``: each candidate's bottleneck with at most ``k`` stages (as :meth:`evaluate`)
        and with at most ``k + 1`` (a tie-break for searches; one DP gives both, see
        :func:`pjpart.kernels.slice_bottleneck_pair`).  ``should_stop`` as in :meth:`evaluate`.

        The second value is exact up to the upper bound like the first; where the
        first is above the bound (or ``inf``), both only rank the candidate last.
        """
        return self._evaluate_keys("pairs", keys, should_stop)

    def _evaluate_keys(self, kind: str, keys: Any, should_stop: Callable[[], bool] | None) -> np.ndarray:
        keys = self._check_keys(keys)
        if self.decode_on == "host":
            return self._evaluate(kind, orders=decode_keys(self.graph, keys).astype(np.int32), should_stop=should_stop)
        return self._evaluate(kind, keys=keys, should_stop=should_stop)

    def _evaluate(self, kind: str, *, keys: np.ndarray | None = None, orders: np.ndarray | None = None,
                  should_stop: Callable[[], bool] | None = None) -> np.ndarray:
        """The ``bottlenecks`` (``(P,)``) or ``pairs`` (``(P, 2)``) kernel over chunks of keys
        (decoded on the device) or of orders; chunks skipped once ``should_stop()`` holds stay ``nan``."""
        if self.slicing_on == "host":
            def chunk_values(a, b):
                rows = [decode_keys(self.graph, keys[r]) for r in range(a, b)] if keys is not None else orders[a:b]
                return slice_candidates(self.graph, rows, self.k, self.cost_model, kind == "pairs", should_stop,
                                        self.upper_bound)
        elif keys is not None:
            def chunk_values(a, b):
                chunk, needed = self._decode_chunk(self._pad(keys[a:b]))
                return np.asarray(self._kernel(kind, chunk, needed))[: b - a]
        else:
            def chunk_values(a, b):
                chunk = self._put_chunk(self._pad(orders[a:b]))
                return np.asarray(self._kernel(kind, chunk, self._needed_band(chunk)))[: b - a]

        total = len(keys if keys is not None else orders)
        out = np.full((total,) if kind == "bottlenecks" else (total, 2), np.nan)
        for (a, b), values in zip(self._chunks(total), self._map_chunks(chunk_values, total, should_stop)):
            if values is not None:
                out[a:b] = values
        return out

    def slice_orders(self, orders: Any) -> tuple[np.ndarray, np.ndarray]:
        """Stage assignments ``(B, n)`` and their float64 bottlenecks for topological orders.

        Every returned assignment is recomputed with the float64 reference
        evaluator; an order whose kernel value is beyond the upper bound is
        sliced exactly by the NumPy reference instead.  Beyond ``FULL_TABLE_MAX_NODES`` nodes
        all are sliced on the host (the cuts kernel's full DP and compilation cost seconds there).
        """
        orders = np.asarray(orders, dtype=np.int64)
        assignments = np.empty(orders.shape, dtype=np.int64)
        if self.slicing_on == "host" or self.graph.n > FULL_TABLE_MAX_NODES:
            assignments[:] = [slice_exactly(self.graph, o, self.k, self.cost_model) for o in orders]
            return assignments, evaluate(self.graph, assignments, self.k, self.cost_model).max(axis=1)
        for a, b in self._chunks(len(orders)):
            chunk = self._put_chunk(self._pad(orders[a:b].astype(np.int32)))
            _, starts = self._kernel("cuts", chunk, self._needed_band(chunk))
            starts = np.asarray(starts)[: b - a]
            for r in range(b - a):
                assignments[a + r] = stages_from_starts(orders[a + r], starts[r])
        values = evaluate(self.graph, assignments, self.k, self.cost_model).max(axis=1) if len(orders) \
            else np.zeros(0)
        for r in np.flatnonzero(~np.isfinite(values) | (values > self.upper_bound)):
            assignments[r] = slice_exactly(self.graph, orders[r], self.k, self.cost_model)
            values[r] = evaluate(self.graph, assignments[r], self.k, self.cost_model).max()
        return assignments, values

    def fitness_function(self, batch_size: int, band: int | None = None, sample: np.ndarray | None = None,
                         width: int | None = None):
        """``(fitness, params)`` for compiled search loops (:mod:`pjpart.search.brkga_jax`):
        ``fitness(keys (batch_size, n), params) -> bottlenecks (batch_size,)`` is pure JAX, with
        the graph and cost model in ``params`` (arguments, not constants), so one compiled loop
        serves every graph of the same shape; the same static settings give the same ``fitness``.

        The band is fixed (``band``, else the bucket above the widest band that ``sample`` keys
        and 256 random ones need at the upper bound), and so are the work windows under a finite
        bound (``width``, else the sample's, where they are less work).  An order needing a wider
        band or windows gets a real slicing's cost, never below its optimum; one whose ready list
        overflows the decoder's width gets ``inf``.  Returned partitions are re-sliced exactly.
        """
        if band is None:
            keys = np.random.default_rng(0).random((256, self.graph.n))
            if sample is not None:
                keys = np.concatenate([np.asarray(sample, np.float64), keys])
            chunks = [self._decode_chunk(self._pad(keys[a:b])) for a, b in self._chunks(len(keys))]
            band = band_bucket(max(1, max(needed for _, needed in chunks)), self.graph.n)
            if width is None and math.isfinite(self.upper_bound):
                width = window_width([o for o, _ in chunks], self._arrays.work, self._band_bound, self.graph.n,
                                     band, self.k)
        band = int(min(max(1, band), self.graph.n))
        fitness = population_fitness(self.k, band, self._batch(band), int(batch_size), str(self.dtype), width)
        params = (self._arrays, self._cost, self._indeg, self._succ_pad, self._ready0, self._band_bound)
        return fitness, params

    def decode_best(self, keys: Any) -> tuple[np.ndarray, np.ndarray]:
        """Stage assignments ``(B, n)`` (per node, graph order) and float64 bottlenecks of the keys."""
        return self.slice_orders(self.decode(keys))
