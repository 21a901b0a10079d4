"""Hardware profiles: the roofline op time and the cost model they give."""

import pytest

from pjpart import GraphError
from pjpart.hardware import load_hardware


def test_hardware_roofline_and_cost_model():
    hw = load_hardware("h100")
    assert hw.op_time(989.4e12, 0, "bfloat16") == pytest.approx(1.0)
    assert hw.op_time(0, 3.35e12, "bfloat16") == pytest.approx(1.0)
    assert hw.op_time(1e12, 1e12, "float32") == pytest.approx(max(1e12 / 494.7e12, 1e12 / 3.35e12))
    cm = hw.cost_model()
    assert cm.bandwidth == hw.interconnect_bandwidth and cm.memory == hw.hbm_bytes
    for name in ("tpu_v4", "l4"):
        assert load_hardware(name).peak("bfloat16") > 0
    with pytest.raises(GraphError, match="unknown hardware profile 'x'"):
        load_hardware("x")
