"""The error hierarchy: everything pjpart raises for bad input is a PjpartError, and so a ValueError."""

import pytest

import pjpart
from pjpart import ConfigError, GraphError, InfeasibleError, PjpartError


@pytest.mark.parametrize("cls", [GraphError, ConfigError, InfeasibleError])
def test_errors_form_one_hierarchy(cls):
    assert issubclass(cls, PjpartError) and issubclass(PjpartError, ValueError)
    assert cls.__module__ == "pjpart.errors" and getattr(pjpart, cls.__name__) is cls
    assert cls is not PjpartError and not any(issubclass(cls, o) for o in {GraphError, ConfigError, InfeasibleError} - {cls})


def test_each_kind_of_bad_input_raises_its_error():
    with pytest.raises(GraphError, match="no nodes"):
        pjpart.Graph.from_json({"nodes": [], "edges": []})
    with pytest.raises(ConfigError, match="unknown preset 'nope'"):
        pjpart.load_preset("nope")
    g = pjpart.Graph.from_arrays(work=[1, 1], params=[5, 50], edges=[(0, 1)], ids=["a", "big"])
    with pytest.raises(InfeasibleError, match="no feasible partition"):
        pjpart.partition(g, 2, pjpart.CostModel(memory_limit=10))
    with pytest.raises(ValueError):  # callers that catch ValueError keep working
        pjpart.partition(g, 0)
