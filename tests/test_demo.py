"""The demo, ``python -m sklatent demo``: its numbers, its outputs, its options."""

import csv
import io
import subprocess
import sys

import pytest

from sklatent import __version__
from sklatent.__main__ import main
from sklatent._demo import (
    GENERATION,
    METHODS,
    _save_figure,
    _save_generation_figure,
    run_demo,
)


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    folder = tmp_path_factory.mktemp("demo")
    printed = io.StringIO()
    results = run_demo(
        quick=True, n_anchors=128, output_dir=folder, verbose=False, out=printed
    )
    return results, printed.getvalue()


@pytest.mark.slow
def test_demo_shape_of_results(demo):
    """Absolute reuse near chance; relative and translation near each own head."""
    results, _ = demo
    assert results.encoders == ["mlp_small", "mlp_wide"]
    for (a, b), scores in results.accuracy.items():
        assert set(scores) == set(METHODS)
        own = scores["own"]
        assert own > 0.9
        if a == b:
            assert scores["absolute"] == own
            assert scores["relative_centred"] > own - 0.03
            continue
        assert scores["absolute"] < 0.35
        for key in ("relative", "relative_centred", "orthogonal", "affine"):
            assert scores[key] > own - 0.08, (a, b, key, scores)
            assert scores[key] > scores["absolute"] + 0.5


@pytest.mark.slow
def test_demo_outputs(demo):
    results, printed = demo
    assert "fit on" in printed and "transl. ortho" in printed
    assert "mlp_small  mlp_wide" in printed
    assert "zero-padding" in printed  # the dimensions differ: say so
    with open(results.table, newline="") as file:
        rows = list(csv.DictReader(file))
    assert len(rows) == 4
    assert set(rows[0]) == {"fit_on", "apply_to", *METHODS}
    pytest.importorskip("matplotlib")
    assert results.figure.exists() and results.figure.stat().st_size > 10_000
    assert f"Figure saved to {results.figure}" in printed


@pytest.mark.slow
def test_main_runs_demo(tmp_path, capsys):
    status = main(
        [
            "demo",
            "--encoders",
            "mlp_small",
            "--n-anchors",
            "64",
            "--seed",
            "0",
            "--no-figure",
            "--output-dir",
            str(tmp_path),
        ]
    )
    assert status == 0
    captured = capsys.readouterr()
    assert "mlp_small  mlp_small" in captured.out
    assert "64 parallel" in captured.out
    assert "mean over" not in captured.out
    assert "Only one encoder (mlp_small)" in captured.out  # say why nothing stitches
    assert "loading encoders" in captured.err
    assert (tmp_path / "sklatent_demo.csv").exists()
    assert not (tmp_path / "sklatent_demo.png").exists()


@pytest.mark.slow
def test_main_n_anchors_beyond_training_rows(tmp_path, capsys):
    argv = ["demo", "--encoders", "mlp_small", "--output-dir", str(tmp_path)]
    with pytest.raises(SystemExit) as exit_info:
        main([*argv, "--n-anchors", "5000"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "n_anchors=5000 must be between 1 and the 1257" in err


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--device", "cuda:99"], "sklatent demo: error: device='cuda:99'"),
        (["--n-anchors", "0"], "--n-anchors: must be a positive integer, got '0'"),
        (["--n-anchors", "abc"], "--n-anchors: must be a positive integer, got 'abc'"),
        (["--encoders", "resnet"], "invalid choice: 'resnet'"),
        (["--bogus"], "sklatent demo: error: unrecognized arguments: --bogus"),
        (
            ["--encoders", "cnn", "mlp_small", "cnn"],
            "sklatent demo: error: encoder(s) cnn given more than once",
        ),
    ],
)
def test_main_errors(argv, message, tmp_path, capsys):
    """Bad arguments fail fast, before any encoder is loaded, in the demo's terms."""
    with pytest.raises(SystemExit) as exit_info:
        main(["demo", "--encoders", "mlp_small", "--output-dir", str(tmp_path), *argv])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert message in err
    assert "_positive_int" not in err
    if err.startswith("usage:"):  # the demo's own usage, listing its options
        assert err.startswith("usage: sklatent demo") and "--n-anchors" in err


@pytest.mark.parametrize("inside_file", [False, True])
def test_main_unwritable_output_dir(inside_file, tmp_path, capsys):
    blocker = tmp_path / "taken"
    blocker.write_text("a file, not a folder")
    output_dir = blocker / "demo" if inside_file else blocker
    with pytest.raises(SystemExit) as exit_info:
        main(["demo", "--encoders", "mlp_small", "--output-dir", str(output_dir)])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("sklatent demo: error: ") and err.count("\n") == 1
    assert f"{output_dir}. Pass a writable folder as --output-dir" in err
    assert "Traceback" not in err


def test_main_is_a_thin_command_line():
    from sklatent import __main__, _demo

    assert __main__.run_demo is _demo.run_demo


def test_main_version(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0
    assert __version__ in capsys.readouterr().out


@pytest.mark.slow
def test_module_entry_point():
    result = subprocess.run(
        [sys.executable, "-m", "sklatent", "demo", "--help"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0
    assert "--n-anchors" in result.stdout and "--quick" in result.stdout


def test_figure_skipped_without_matplotlib(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    monkeypatch.setitem(sys.modules, "matplotlib.backends.backend_agg", None)
    printed = io.StringIO()
    path = _save_figure(tmp_path / "f.png", {}, [], {}, None, None, None, None, printed)
    assert path is None
    assert "matplotlib is not installed: skipping the figure" in printed.getvalue()


@pytest.mark.slow
def test_demo_generation(demo):
    """Decoders: translated near their own MSE, naive far; relative AEs stitch."""
    results, printed = demo
    assert set(results.mse) == {
        (a, b) for a in results.encoders for b in results.encoders
    }
    for (a, b), mse in results.mse.items():
        assert set(mse) == set(GENERATION)
        assert mse["own"] < 0.03
        if a == b:
            assert mse["naive"] == mse["own"]
            assert mse["translated"] == pytest.approx(mse["own"], rel=1e-4)
            continue
        assert mse["translated"] <= 1.3 * mse["own"], (a, b, mse)
        assert mse["naive"] >= 3 * mse["own"], (a, b, mse)
        assert mse["translated"] < mse["inverse"] < mse["naive"], (a, b, mse)
    relative = results.relative_mse
    assert relative["stitched"] <= 1.5 * relative["own"]
    assert "Stitched generation on the digits test set" in printed
    assert f"from the encoder of seed 0,\nzero-shot, {relative['stitched']:.4f}" in (
        printed
    )
    with open(results.generation_table, newline="") as file:
        rows = list(csv.DictReader(file))
    assert len(rows) == 4 * len(GENERATION) + 2
    assert rows[-1]["bridge"] == "relative"
    pytest.importorskip("matplotlib")
    assert results.generation_figure.stat().st_size > 10_000


@pytest.mark.slow
def test_main_no_generation(tmp_path, capsys):
    argv = ["demo", "--encoders", "mlp_small", "--n-anchors", "64", "--no-figure"]
    assert main([*argv, "--no-generation", "--output-dir", str(tmp_path)]) == 0
    assert "Stitched generation" not in capsys.readouterr().out
    assert not (tmp_path / "sklatent_generation.csv").exists()


def test_generation_figure_skipped_without_matplotlib(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    printed = io.StringIO()
    assert _save_generation_figure(tmp_path / "g.png", [], "a", "b", printed) is None
    assert "matplotlib is not installed: skipping the figure" in printed.getvalue()
