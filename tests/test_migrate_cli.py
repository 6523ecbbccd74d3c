"""``sklatent migrate``: every subcommand end to end in a temporary folder."""

import json

import numpy as np
import pytest

from sklatent.__main__ import main

from ._migration_data import spaces

sio = pytest.importorskip("skops.io")


@pytest.fixture
def pairs(tmp_path):
    old, new = spaces(700)
    np.save(tmp_path / "old.npy", old)
    np.save(tmp_path / "new.npy", new)
    np.save(tmp_path / "store.npy", spaces(300, seed=5)[0])
    return tmp_path, old, new


def _fit(tmp_path, *extra):
    return main(
        [
            "migrate", "fit",
            "--old", str(tmp_path / "old.npy"),
            "--new", str(tmp_path / "new.npy"),
            "--out", str(tmp_path / "bridge.skops"),
            "--method", "affine",
            "--report", str(tmp_path / "REPORT.json"),
            "--quiet",
            *extra,
        ]
    )  # fmt: skip


def test_fit_writes_a_loadable_bridge_and_the_report(pairs):
    import sklatent

    tmp_path, old, new = pairs
    assert (
        _fit(tmp_path, "--source-name", "old-model", "--target-name", "new-model") == 0
    )
    bridge = sio.load(tmp_path / "bridge.skops", trusted=sklatent.ESTIMATORS)
    assert bridge.transform(old[:5]).shape == (5, 24)
    report = json.loads((tmp_path / "REPORT.json").read_text())
    for key in ["method", "n_pairs", "direction", "heldout", "naive"]:
        assert key in report
    for key in ["pairs_look_parallel", "passed", "source_name", "target_name"]:
        assert key in report
    assert report["source_name"] == "old-model" and report["n_pairs"] == 700
    assert {"retention_at_10", "top1", "mrr", "mean_cosine"} <= set(report["heldout"])
    assert report["store_size"] == 1_000_000
    pytest.importorskip("matplotlib")
    assert (tmp_path / "REPORT.png").exists()


def test_gate_exit_codes(pairs):
    tmp_path, _, _ = pairs
    assert _fit(tmp_path, "--min-retention", "0.01", "--store-size", "1000") == 0
    assert _fit(tmp_path, "--min-retention", "0.99", "--store-size", "1000") == 1
    report = json.loads((tmp_path / "REPORT.json").read_text())
    assert report["passed"] is False and report["pairs_look_parallel"] is True


def test_shuffled_pairs_fail_the_gate_with_a_warning(pairs, capsys):
    tmp_path, _, new = pairs
    np.save(tmp_path / "new.npy", new[np.random.default_rng(0).permutation(len(new))])
    assert _fit(tmp_path) == 1
    assert "warning: the held-out pairs score no better" in capsys.readouterr().err
    assert (
        json.loads((tmp_path / "REPORT.json").read_text())["pairs_look_parallel"]
        is False
    )


def test_usage_and_input_errors_exit_2_with_one_line(pairs, capsys):
    tmp_path, old, _ = pairs
    np.save(tmp_path / "short.npy", old[:10])
    assert main(["migrate", "fit", "--old", str(tmp_path / "old.npy"),
                 "--new", str(tmp_path / "short.npy"), "--out", "b"]) == 2  # fmt: skip
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "rows" in err
    assert main(["migrate", "fit", "--old", str(tmp_path / "nope.npy"),
                 "--new", str(tmp_path / "new.npy"), "--out", "b"]) == 2  # fmt: skip
    assert "no such file" in capsys.readouterr().err
    assert main(["migrate", "apply", "nope.skops", "--input", "x", "--out", "y"]) == 2


@pytest.mark.parametrize(
    "argv, reason",
    [
        (["migrate"], "required"),
        (["migrate", "bogus"], "invalid choice"),
        (["migrate", "fit", "--bogus"], "required: --old, --new, --out"),
        (["migrate", "fit", "--old", "a", "--new", "b", "--out", "c",
          "--method", "magic"], "invalid choice: 'magic'"),
        (["migrate", "report", "b", "--old", "a", "--new", "c",
          "--min-retention", "high"], "invalid float value"),
        (["migrate", "apply", "b", "--input", "x", "--out", "y",
          "--batch-size", "0"], "positive integer"),
        (["migrate", "apply", "b", "--input", "x", "--out", "y",
          "--bogus"], "unrecognized arguments: --bogus"),
    ],
)  # fmt: skip
def test_argparse_usage_errors_are_one_line_and_exit_2(argv, reason, capsys):
    # argparse would print its usage block, then the error, and raise SystemExit
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.count("\n") == 1, captured.err
    assert captured.err.startswith("sklatent migrate") and "usage:" not in captured.err
    assert reason in captured.err and "error:" in captured.err


def test_apply_npy_and_wrong_width(pairs, capsys):
    tmp_path, _, new = pairs
    assert _fit(tmp_path) == 0
    bridge = str(tmp_path / "bridge.skops")
    out = tmp_path / "translated.npy"
    assert main(["migrate", "apply", bridge, "--input", str(tmp_path / "store.npy"),
                 "--out", str(out), "--batch-size", "64", "--quiet"]) == 0  # fmt: skip
    import sklatent

    loaded = sio.load(bridge, trusted=sklatent.ESTIMATORS)
    store = np.load(tmp_path / "store.npy")
    np.testing.assert_allclose(
        np.load(out), loaded.transform(store), rtol=1e-5, atol=1e-4
    )
    np.save(tmp_path / "wide.npy", new)
    assert main(["migrate", "apply", bridge, "--input", str(tmp_path / "wide.npy"),
                 "--out", str(tmp_path / "w.npy")]) == 2  # fmt: skip
    assert "columns" in capsys.readouterr().err
    assert not (tmp_path / "w.npy").exists()


def test_report_on_unseen_pairs(pairs):
    tmp_path, _, _ = pairs
    assert _fit(tmp_path) == 0
    old2, new2 = spaces(300, seed=9)
    np.save(tmp_path / "old2.npy", old2)
    np.save(tmp_path / "new2.npy", new2)
    args = ["migrate", "report", str(tmp_path / "bridge.skops"),
            "--old", str(tmp_path / "old2.npy"), "--new", str(tmp_path / "new2.npy"),
            "--report", str(tmp_path / "R2.json"), "--quiet"]  # fmt: skip
    assert main(args + ["--min-retention", "0.01"]) == 0
    assert main(args + ["--min-retention", "0.99"]) == 1
    report = json.loads((tmp_path / "R2.json").read_text())
    assert report["n_pairs"] == 300 and report["pairs_look_parallel"]


def _write_parquet(path, vectors, ids, fixed):
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    if fixed:
        column = pa.FixedSizeListArray.from_arrays(
            pa.array(vectors.ravel()), vectors.shape[1]
        )
    else:
        column = pa.array([list(map(float, v)) for v in vectors])
    pq.write_table(pa.table({"id": ids, "embedding": column}), path)


@pytest.mark.parametrize("fixed", [True, False])
def test_parquet_fit_joined_on_ids_and_apply_keeps_them(tmp_path, fixed):
    pq = pytest.importorskip("pyarrow.parquet")  # sklatent[migrate]

    old, new = spaces(600)
    ids = [f"doc{i}" for i in range(600)]
    order = np.random.default_rng(0).permutation(600)  # new file in another order
    _write_parquet(tmp_path / "old.parquet", old, ids, fixed)
    _write_parquet(tmp_path / "new.parquet", new[order], [ids[i] for i in order], fixed)
    assert main(["migrate", "fit", "--old", str(tmp_path / "old.parquet"),
                 "--new", str(tmp_path / "new.parquet"), "--out",
                 str(tmp_path / "b.skops"), "--method", "affine",
                 "--min-retention", "0.05", "--store-size", "1000",
                 "--quiet"]) == 0  # fmt: skip
    store, _ = spaces(130, seed=3)
    _write_parquet(tmp_path / "store.parquet", store, list(range(130)), fixed)
    out = tmp_path / "out.parquet"
    assert main(["migrate", "apply", str(tmp_path / "b.skops"), "--input",
                 str(tmp_path / "store.parquet"), "--out", str(out),
                 "--batch-size", "50", "--quiet"]) == 0  # fmt: skip
    table = pq.read_table(out)
    assert table.column("id").to_pylist() == list(range(130))
    got = np.array(table.column("embedding").to_pylist())
    import sklatent

    bridge = sio.load(tmp_path / "b.skops", trusted=sklatent.ESTIMATORS)
    np.testing.assert_allclose(got, bridge.transform(store), rtol=1e-5, atol=1e-4)


def test_export_faiss_equals_transform(pairs):
    faiss = pytest.importorskip("faiss")
    import sklatent

    tmp_path, old, _ = pairs
    assert _fit(tmp_path) == 0
    out = tmp_path / "bridge.faiss"
    assert main(["migrate", "export-faiss", str(tmp_path / "bridge.skops"),
                 "--out", str(out)]) == 0  # fmt: skip
    lt = faiss.read_VectorTransform(str(out))
    bridge = sio.load(tmp_path / "bridge.skops", trusted=sklatent.ESTIMATORS)
    x = np.ascontiguousarray(old[:50] - 5.0 + 5.0, dtype=np.float32)
    expected = bridge.transform(x)
    got = lt.apply(x)
    scale = np.abs(expected).max()
    np.testing.assert_allclose(got / scale, expected / scale, atol=1e-5)


def test_check_a_half_migrated_store(tmp_path):
    old, new = spaces(800, d_new=32)
    np.save(tmp_path / "old.npy", old[:600])
    np.save(tmp_path / "new.npy", new[:600])
    np.save(tmp_path / "mixed.npy", np.vstack([old[600:700], new[700:]]))
    assert main(["migrate", "fit", "--old", str(tmp_path / "old.npy"), "--new",
                 str(tmp_path / "new.npy"), "--out", str(tmp_path / "b.skops"),
                 "--method", "affine", "--quiet"]) == 0  # fmt: skip
    assert main(["migrate", "check", str(tmp_path / "b.skops"), "--input",
                 str(tmp_path / "mixed.npy"), "--old", str(tmp_path / "old.npy"),
                 "--new", str(tmp_path / "new.npy"), "--report",
                 str(tmp_path / "R.json"), "--quiet"]) == 0  # fmt: skip
    result = json.loads((tmp_path / "R.json").read_text())
    assert result["source_fraction"] == pytest.approx(0.5, abs=0.05)
    assert result["target_fraction"] == pytest.approx(0.5, abs=0.05)


@pytest.mark.slow
def test_python_m_sklatent_migrate_help():
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-m", "sklatent", "migrate", "--help"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0
    for name in ["fit", "apply", "report", "export-faiss", "check"]:
        assert name in done.stdout


def test_interrupted_apply_leaves_nothing_at_out(pairs, monkeypatch):
    from sklatent.migration import MigrationBridge

    tmp_path, _, _ = pairs
    assert _fit(tmp_path) == 0
    calls = []
    transform = MigrationBridge.transform

    def interrupted(self, X):
        calls.append(len(X))
        if len(calls) == 3:
            raise KeyboardInterrupt
        return transform(self, X)

    monkeypatch.setattr(MigrationBridge, "transform", interrupted)
    before = sorted(p.name for p in tmp_path.iterdir())
    # Ctrl-C: one line, exit status 130, nothing left behind
    assert main(["migrate", "apply", str(tmp_path / "bridge.skops"), "--input",
                 str(tmp_path / "store.npy"), "--out", str(tmp_path / "out.npy"),
                 "--batch-size", "50", "--quiet"]) == 130  # fmt: skip
    assert sorted(p.name for p in tmp_path.iterdir()) == before


def test_query_side_bridge_serves_an_old_index_through_faiss(pairs):
    faiss = pytest.importorskip("faiss")
    tmp_path, old, new = pairs
    assert _fit(tmp_path, "--direction", "new-to-old", "--pool-old",
                str(tmp_path / "store.npy")) == 0  # fmt: skip
    report = json.loads((tmp_path / "REPORT.json").read_text())
    assert report["direction"] == "new-to-old" and report["store_size"] == 300
    assert main(["migrate", "export-faiss", str(tmp_path / "bridge.skops"),
                 "--out", str(tmp_path / "q.faiss")]) == 0  # fmt: skip
    lt = faiss.read_VectorTransform(str(tmp_path / "q.faiss"))
    index = faiss.IndexFlatL2(old.shape[1])
    index.add(np.ascontiguousarray(old))
    served = faiss.IndexPreTransform(lt, index)
    _, got = served.search(np.ascontiguousarray(new[:20]), 5)
    import sklatent

    bridge = sio.load(tmp_path / "bridge.skops", trusted=sklatent.ESTIMATORS)
    _, expected = index.search(np.ascontiguousarray(bridge.transform(new[:20])), 5)
    assert (got == expected).mean() > 0.95


def test_pools_set_the_store_size_and_wrong_pool_widths_exit_2(pairs, capsys):
    tmp_path, old, new = pairs
    np.save(tmp_path / "pool_old.npy", spaces(1234, seed=7)[0])
    np.save(tmp_path / "pool_new.npy", spaces(321, seed=8)[1])
    pools = ["--pool-old", str(tmp_path / "pool_old.npy")]
    pools += ["--pool-new", str(tmp_path / "pool_new.npy")]
    assert _fit(tmp_path, *pools) == 0
    report = json.loads((tmp_path / "REPORT.json").read_text())
    assert report["store_size"] == 1234
    assert (report["pool_old_size"], report["pool_new_size"]) == (1234, 321)
    # --store-size wins over the pool's size
    assert _fit(tmp_path, *pools, "--store-size", "5000") == 0
    assert json.loads((tmp_path / "REPORT.json").read_text())["store_size"] == 5000
    # a pool of the other space's width is an input error
    capsys.readouterr()
    bad = ["--pool-new", str(tmp_path / "pool_old.npy")]
    assert _fit(tmp_path, *bad) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "pool_new" in err and "24 columns" in err


def test_pairs_curve_fits_the_method_auto_chose(pairs):
    from sklatent.migration import MigrationBridge, bridge_retention

    tmp_path, old, new = pairs
    args = ["--method", "auto", "--store-size", "1000", "--seed", "3"]
    assert _fit(tmp_path, *args) == 0
    report = json.loads((tmp_path / "REPORT.json").read_text())
    # the curve's last point: the chosen method on every training pair of
    # the curve's own split (seed 3), measured on its held-out fifth
    order = np.random.default_rng(3).permutation(len(old))
    held, train = order[: len(old) // 5], order[len(old) // 5 :]
    X = old.astype(np.float64)
    expected = {}
    for method in ("orthogonal", "affine", "ridge"):
        b = MigrationBridge(method).fit(X[train], new[train])
        expected[method] = float(bridge_retention(b, X[held], new[held]).mean())
    got = report["pairs_curve"][str(len(train))]
    assert got == pytest.approx(expected[report["method"]])
    others = [v for m, v in expected.items() if m != report["method"]]
    assert all(abs(got - v) > 1e-9 for v in others)  # the methods differ here


def test_fit_and_report_estimate_with_given_queries(pairs):
    tmp_path, _, new = pairs
    np.save(tmp_path / "queries.npy", new[:120] * 0.5)
    assert _fit(tmp_path, "--queries", str(tmp_path / "queries.npy")) == 0
    report = json.loads((tmp_path / "REPORT.json").read_text())
    assert report["heldout"]["retention_queries"] == 120
    assert main(["migrate", "report", str(tmp_path / "bridge.skops"),
                 "--old", str(tmp_path / "old.npy"), "--new", str(tmp_path / "new.npy"),
                 "--queries", str(tmp_path / "queries.npy"),
                 "--report", str(tmp_path / "R2.json"), "--quiet"]) == 0  # fmt: skip
    assert (
        json.loads((tmp_path / "R2.json").read_text())["heldout"]["retention_queries"]
        == 120
    )
    np.save(tmp_path / "narrow.npy", new[:10, :5])
    assert _fit(tmp_path, "--queries", str(tmp_path / "narrow.npy")) == 2
