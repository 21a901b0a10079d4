"""The error hierarchy: everything pjpart raises for bad input is a :class:`PjpartError`.

>>> import pjpart
>>> issubclass(pjpart.GraphError, pjpart.PjpartError) and issubclass(pjpart.PjpartError, ValueError)
True
"""

from __future__ import annotations


class PjpartError(ValueError):
    """Bad input or an unsolvable problem; the message names the field, node or edge at fault."""


class GraphError(PjpartError):
    """Bad graph input; the message names the node, edge or field at fault."""


class ConfigError(PjpartError):
    """A bad setting (preset, engine, budget, bound method, override of the wrong type), raised
    when the configuration is built and naming the field."""


class InfeasibleError(PjpartError):
    """No feasible partition exists (e.g. a node's weights above the hard memory limit)."""


__all__ = ["ConfigError", "GraphError", "InfeasibleError", "PjpartError"]
