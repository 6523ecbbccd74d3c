"""Keep the suite hermetic: every cache it writes lives in its own directory.

torch's inductor and Triton caches and sklatent's data cache are shared by
every process of a machine by default; another process clearing them (or a
half-written precompiled header) made tests fail. Each pytest process (each
xdist worker imports this file itself) gets fresh directories under one
temporary folder, set before any test imports torch, and removed at the end.
Slow tests get a longer per-test timeout than the default of pyproject.toml.
"""

import os
import shutil
import tempfile

import pytest

SLOW_TIMEOUT = 1800
"""Seconds a test marked ``slow`` may run before pytest-timeout fails it."""

_CACHE_ROOT = tempfile.mkdtemp(prefix="sklatent-tests-")
for _variable, _name in [
    ("TORCHINDUCTOR_CACHE_DIR", "inductor"),
    ("TRITON_CACHE_DIR", "triton"),
    ("SKLATENT_DATA_HOME", "data"),
]:
    os.environ[_variable] = os.path.join(_CACHE_ROOT, _name)


def pytest_collection_modifyitems(config, items):
    for item in items:
        if item.get_closest_marker("slow") and not item.get_closest_marker("timeout"):
            item.add_marker(pytest.mark.timeout(SLOW_TIMEOUT))


def pytest_unconfigure(config):
    shutil.rmtree(_CACHE_ROOT, ignore_errors=True)
