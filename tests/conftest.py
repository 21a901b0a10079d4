import os

import numpy as np
import pytest


@pytest.fixture
def rng():
    return np.random.default_rng(12345)


@pytest.fixture(autouse=True, scope="session")
def _compile_cache_in_tmp(tmp_path_factory):
    """The command line keeps compiled kernels on disk; tests that run it in this process
    write to a temporary folder, not to the user's cache."""
    old = os.environ.get("PJPART_CACHE_DIR")
    os.environ["PJPART_CACHE_DIR"] = str(tmp_path_factory.mktemp("compile-cache"))
    yield
    if old is None:
        os.environ.pop("PJPART_CACHE_DIR", None)
    else:
        os.environ["PJPART_CACHE_DIR"] = old
