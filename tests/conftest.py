import os

import numpy as np
import pytest


@pytest.fixture
def rng():
    return np.random.default_rng(12345)


@pytest.fixture(autouse=True, scope="session")
def _compile_cache_in_tmp(tmp_path_factory):
    """The command line keeps compiled kernels and bounds on disk; tests that run it in this
    process (and the subprocesses they start) write to temporary folders, not to the user's cache."""
    names = {"PJPART_CACHE_DIR": "compile-cache", "PJPART_BOUND_CACHE_DIR": "bound-cache"}
    old = {name: os.environ.get(name) for name in names}
    for name, folder in names.items():
        os.environ[name] = str(tmp_path_factory.mktemp(folder))
    yield
    for name, value in old.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
