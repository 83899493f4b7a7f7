"""Fixtures of the binding's tests: a small test model, made by the build's
make_test_model ($BITPRUNE_MAKE_TEST_MODEL) or given as $BITPRUNE_TEST_MODEL,
and a seeded random input ($BP_TEST_SEED repeats a run)."""
import os
import random
import subprocess

import numpy as np
import pytest


@pytest.fixture(scope="session")
def model_path(tmp_path_factory):
    given = os.environ.get("BITPRUNE_TEST_MODEL")
    if given:
        return given
    tool = os.environ.get("BITPRUNE_MAKE_TEST_MODEL")
    if not tool:
        pytest.fail("set BITPRUNE_MAKE_TEST_MODEL (build/tests/engine/make_test_model) or "
                    "BITPRUNE_TEST_MODEL (a .bp file)")
    path = tmp_path_factory.mktemp("model") / "resnet.bp"
    subprocess.run([tool, str(path), "resnet", "0.7"], check=True)
    return str(path)


@pytest.fixture(scope="session")
def seed():
    s = int(os.environ.get("BP_TEST_SEED") or random.SystemRandom().randrange(1 << 32))
    print(f"[ python ] seed {s} (override with BP_TEST_SEED)")
    return s


@pytest.fixture
def rng(seed):
    return np.random.default_rng(seed)
