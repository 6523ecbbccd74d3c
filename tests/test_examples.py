"""Run every example script (in its fast mode) so that none can rot.

Marked ``slow``: deselect with ``python -m pytest -m "not slow"``.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = sorted((Path(__file__).parents[1] / "examples").glob("plot_*.py"))


def test_examples_exist():
    names = {path.name for path in EXAMPLES}
    assert {
        "plot_stitching.py",
        "plot_n_anchors.py",
        "plot_product_of_invariances.py",
        "plot_migration.py",
    } <= names


@pytest.mark.slow
@pytest.mark.parametrize("path", EXAMPLES, ids=lambda path: path.name)
def test_example_runs(path, tmp_path):
    pytest.importorskip("matplotlib")
    env = {**os.environ, "SKLATENT_EXAMPLES_FAST": "1", "MPLBACKEND": "Agg"}
    result = subprocess.run(
        [sys.executable, str(path)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-4000:]
