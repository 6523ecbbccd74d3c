"""Keep the suite hermetic: every cache it writes lives in its own directory.

torch's inductor and Triton caches and sklatent's data cache are shared by
every process of a machine by default; another process clearing them (or a
half-written precompiled header) made tests fail. Each pytest process (each
xdist worker imports this file itself) gets fresh compiler caches under a
temporary folder of its own, set before any test imports torch. sklatent's
data cache (the trained digits networks, the embedded text corpus) is one per
run of the suite, shared by its xdist workers (its files are written
atomically), so that the corpus is embedded once per run rather than once per
worker; another run of the suite beside it has its own. The run's controller
removes it at the end, each worker its own folder.
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
]:
    os.environ[_variable] = os.path.join(_CACHE_ROOT, _name)

# one data cache per run: xdist gives its workers the run's id
_RUN = os.environ.get("PYTEST_XDIST_TESTRUNUID") or f"{os.getpid()}"
_DATA_ROOT = os.path.join(tempfile.gettempdir(), f"sklatent-tests-data-{_RUN}")
os.environ["SKLATENT_DATA_HOME"] = os.path.join(_DATA_ROOT, "data")


def pytest_collection_modifyitems(config, items):
    for item in items:
        if item.get_closest_marker("slow") and not item.get_closest_marker("timeout"):
            item.add_marker(pytest.mark.timeout(SLOW_TIMEOUT))


def pytest_unconfigure(config):
    shutil.rmtree(_CACHE_ROOT, ignore_errors=True)
    if not hasattr(config, "workerinput"):  # the controller, after every worker
        shutil.rmtree(_DATA_ROOT, ignore_errors=True)
