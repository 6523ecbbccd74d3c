"""The documentation builds with warnings treated as errors, and says what it must.

The gallery's examples run in ``tests/test_examples.py``; here they are only
rendered (``plot_gallery=0``) so that the build stays short.
"""

import importlib
import inspect
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("sphinx")
pytest.importorskip("numpydoc")
pytest.importorskip("sphinx_gallery")
pytest.importorskip("myst_parser")

DOCS = Path(__file__).resolve().parents[1] / "docs"
PUBLIC_MODULES = (
    "sklatent",
    "sklatent.anchors",
    "sklatent.datasets",
    "sklatent.diagnostics",
    "sklatent.matching",
    "sklatent.metrics",
    "sklatent.migration",
    "sklatent.nn",
    "sklatent.stitching",
)


def _public_objects():
    """``(documented name, object)`` for every public callable (scorers too)."""
    for module_name in PUBLIC_MODULES:
        module = importlib.import_module(module_name)
        prefix = module_name.removeprefix("sklatent").removeprefix(".")
        for name in module.__all__:
            obj = getattr(module, name)
            if not callable(obj):
                continue  # constants such as STRATEGIES and ENCODER_NAMES
            if prefix and getattr(importlib.import_module("sklatent"), name, 0) is obj:
                yield name, obj  # documented where the package exports it
            else:
                yield f"{prefix}.{name}" if prefix else name, obj


def _text(path):
    return re.sub(r"<[^>]+>", "", path.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def html(tmp_path_factory):
    out = tmp_path_factory.mktemp("docs")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "sphinx",
            "-W",
            "--keep-going",
            "-q",
            "-b",
            "html",
            "-D",
            "plot_gallery=0",
            "-d",
            str(out / "doctrees"),
            str(DOCS),
            str(out / "html"),
        ],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    return out / "html"


@pytest.mark.slow
def test_api_page_lists_every_public_name(html):
    api = _text(html / "api.html")
    names = dict(_public_objects())
    assert {"stitching.EncoderTransformer", "RelativeTransformer"} <= set(names)
    for name, obj in names.items():
        assert name in api, f"{name} is public but missing from the API page"
        if inspect.isclass(obj) or inspect.isfunction(obj):  # not scorer objects
            page = html / "generated" / f"sklatent.{name}.html"
            assert page.exists(), f"no generated page for {name}"
    encoder = _text(html / "generated" / "sklatent.stitching.EncoderTransformer.html")
    assert "Wrap an encoder (a torch module or any callable)" in encoder
    assert "sklatent._encoder" in api and "sklatent._cli.demo" in api


@pytest.mark.slow
def test_gallery_pages(html):
    scripts = sorted((DOCS.parent / "examples").glob("plot_*.py"))
    assert scripts
    index = _text(html / "auto_examples" / "index.html")
    for script in scripts:
        page = html / "auto_examples" / f"{script.stem}.html"
        assert page.exists(), f"{script.name} has no gallery page"
        title = script.read_text(encoding="utf-8").split("\n")[2].strip()
        assert title in _text(page) and title in index
