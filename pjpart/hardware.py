"""Hardware profiles: per-op roofline time and the matching stage cost model.

A profile (``configs/hardware/NAME.toml``, public datasheet figures) gives peak
FLOP/s per input dtype, HBM bandwidth and size, the interconnect bandwidth
between neighbouring pipeline stages, and the host link that weights stream over
when they do not fit in HBM.

Model and its limits.  An op's time is the roofline
``max(flops / peak[dtype], bytes moved / hbm_bandwidth)``: it assumes every op
reaches peak compute or peak memory bandwidth, ignores kernel launch overheads,
fusion (fused elementwise ops move less data than counted) and cache reuse, so
it under-estimates small ops and over-estimates fused chains.  Good for
relative stage balance, not for absolute latency.  The cost model is
``bandwidth = interconnect``, ``memory = HBM bytes``, ``overflow_bandwidth =
host link``.

Example
-------
>>> from pjpart.hardware import load_hardware
>>> hw = load_hardware("h100")
>>> hw.op_time(2e12, 0.0, "bfloat16") > hw.op_time(0.0, 1e9, "bfloat16")
True
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from importlib import resources

from .cost import CostModel
from .graph import GraphError

try:  # Python >= 3.11
    import tomllib
except ModuleNotFoundError:  # pragma: no cover
    import tomli as tomllib


@dataclass(frozen=True)
class Hardware:
    """One accelerator's public figures (FLOP/s, bytes, bytes/s)."""

    name: str
    peak_flops: dict = field(default_factory=dict)   # dtype name -> FLOP/s
    hbm_bandwidth: float = 1e12
    hbm_bytes: float = float("inf")
    interconnect_bandwidth: float = 1e11
    host_bandwidth: float = 3.2e10
    description: str = ""

    def peak(self, dtype: str) -> float:
        """Peak FLOP/s for ops on ``dtype``; unknown dtypes use the float32 figure."""
        if dtype in self.peak_flops:
            return float(self.peak_flops[dtype])
        if "float32" in self.peak_flops:
            return float(self.peak_flops["float32"])
        return float(min(self.peak_flops.values()))

    def op_time(self, flops: float, bytes_moved: float, dtype: str = "float32") -> float:
        """Roofline time of one op in seconds."""
        return max(flops / self.peak(dtype), bytes_moved / self.hbm_bandwidth)

    def cost_model(self) -> CostModel:
        """Stage costs on this hardware: interconnect between stages, HBM as fast memory, host link beyond."""
        return CostModel(bandwidth=self.interconnect_bandwidth, memory=self.hbm_bytes,
                         overflow_bandwidth=self.host_bandwidth)


HARDWARE = ("h100", "tpu_v4", "l4")


def pipeline_cost_model(devices: Any, reference: str | Hardware | None = None,
                        dtype: str = "float32") -> CostModel:
    """The heterogeneous cost model (SPEC section 5) of a pipeline of these devices, in order.

    Stage ``b``'s speed is its peak FLOP/s on ``dtype`` over the ``reference`` device's (the
    hardware the graph's ``work`` was costed for; by default the first device), its fast
    memory its HBM, and the link from stage ``b`` to ``b + 1`` runs at the slower of the two
    devices' interconnects; weights beyond HBM stream at the slowest host link.  The speed
    ratio is the compute roofline's: memory-bound ops speed up by the HBM ratio instead,
    so on mixed fleets it is an estimate, like the profiles themselves.

    Parameters
    ----------
    devices
        Profile names or :class:`Hardware` objects, one per stage (``"h100,h100,l4,l4"``
        as a comma-separated string is accepted too).
    reference
        The profile the graph's ``work`` is for (a graph's ``meta["hardware"]``).
    dtype
        The ops' input dtype, for the peak FLOP/s (the graph's ``meta["dtype"]``).

    Examples
    --------
    >>> cm = pipeline_cost_model("h100,h100,l4,l4")
    >>> [round(s, 3) for s in cm.stage_speed], cm.link_bandwidth, cm.stage_device
    ([1.0, 1.0, 0.122, 0.122], (450000000000.0, 32000000000.0, 32000000000.0), ('h100', 'h100', 'l4', 'l4'))
    """
    if isinstance(devices, str):
        devices = [d.strip() for d in devices.split(",")]
    hws = [load_hardware(d) if isinstance(d, str) else d for d in devices]
    if not hws:
        raise GraphError("a pipeline needs at least one device")
    ref = hws[0] if reference is None else load_hardware(reference) if isinstance(reference, str) else reference
    links = [min(a.interconnect_bandwidth, b.interconnect_bandwidth) for a, b in zip(hws, hws[1:])]
    return CostModel(bandwidth=links[0] if links else hws[0].interconnect_bandwidth,
                     overflow_bandwidth=min(h.host_bandwidth for h in hws),
                     stage_speed=[h.peak(dtype) / ref.peak(dtype) for h in hws],
                     stage_memory=[h.hbm_bytes for h in hws], link_bandwidth=links or None,
                     stage_device=[h.name for h in hws])


def load_hardware(name: str) -> Hardware:
    """The profile ``configs/hardware/NAME.toml``."""
    try:
        text = resources.files("pjpart.configs").joinpath("hardware", f"{name}.toml").read_text()
    except FileNotFoundError:
        raise GraphError(f"unknown hardware profile {name!r}; known: {', '.join(HARDWARE)}") from None
    data = tomllib.loads(text)
    if not data.get("peak_flops"):
        raise GraphError(f"hardware profile {name!r} has no peak_flops table")
    return Hardware(**data)
