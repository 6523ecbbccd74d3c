"""A migration you can trust: the gate, its inputs and its operations.

Each test reproduces a way ``sklatent migrate`` (or the library under it) gave
a wrong result with no error, or an error the wrong way, and checks the rule
that replaced it (docs/migration.rst, "What is an input error").
"""

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from sklatent._cli.entrypoint import main
from sklatent.migration import (
    MigrationBridge,
    apply_bridge,
    check_store,
    fit_bridge,
    measure_bridge,
    read_pairs,
    retention_at_k,
)

from ._migration_data import spaces

pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")
sio = pytest.importorskip("skops.io")


def _parquet(path, ids, vectors):
    column = pa.array([None if v is None else list(map(float, v)) for v in vectors])
    pq.write_table(pa.table({"id": ids, "embedding": column}), path)


def _one_line_exit_2(argv, capsys, *needles):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    for needle in needles:
        assert needle in err, err
    return err


# --- the gate and the estimate ------------------------------------------------


def test_copies_of_an_item_stay_on_one_side_of_the_held_out_split():
    # 300 items, each 3 times: copies of held-out items sat in the training
    # part and among the held-out store, and the gate passed what it should not
    old, new = spaces(300)
    order = np.random.default_rng(0).permutation(900)
    copies_old, copies_new = np.tile(old, (3, 1))[order], np.tile(new, (3, 1))[order]
    with pytest.warns(UserWarning, match="600 of the 900 pairs repeat an item"):
        bridge, report = fit_bridge(
            copies_old, copies_new, method="affine", store_size=1000
        )
    assert report["duplicate_pairs"] == 600 and report["n_heldout"] == 60
    fresh_old, fresh_new = spaces(60, seed=7)  # as many fresh items as held out
    fresh = retention_at_k(
        fresh_new, bridge.transform(fresh_old), fresh_new, fresh_new, exclude_self=True
    ).mean()
    assert abs(report["heldout"]["retention_at_10_measured"] - fresh) < 0.12


def test_affine_near_the_interpolation_threshold_is_refused():
    old, new = spaces(80)  # 64 fitting pairs for 33 coefficients per output
    with pytest.raises(ValueError, match="interpolation threshold"):
        fit_bridge(old, new, method="affine")
    bridge = MigrationBridge("auto", random_state=0).fit(*spaces(90))
    assert "affine" not in bridge.cv_scores_ and "ridge" in bridge.cv_scores_
    assert (
        "affine" in MigrationBridge("auto", random_state=0).fit(*spaces(400)).cv_scores_
    )


@pytest.mark.parametrize(
    "row, match", [(np.nan, "NaN or infinite"), (0.0, "only zeros")]
)
def test_queries_must_be_finite_and_non_zero(row, match):
    old, new = spaces(200)
    queries = new[:30].astype(np.float64)
    queries[3] = row
    with pytest.raises(ValueError, match=f"1 of the 30 queries hold {match}.*row 3"):
        fit_bridge(old, new, method="orthogonal", queries=queries)


@pytest.mark.parametrize("value", [-1.0, 2.0, float("nan")])
def test_min_retention_is_a_retention(value, tmp_path, capsys):
    old, new = spaces(200)
    with pytest.raises(ValueError, match="between 0 and 1"):
        fit_bridge(old, new, method="orthogonal", min_retention=value)
    np.save(tmp_path / "old.npy", old)
    np.save(tmp_path / "new.npy", new)
    _one_line_exit_2(
        ["migrate", "fit", "--old", str(tmp_path / "old.npy"), "--new",
         str(tmp_path / "new.npy"), "--out", str(tmp_path / "b.skops"),
         "--min-retention", str(value)],
        capsys, "between 0 and 1",
    )  # fmt: skip


def test_the_report_is_strict_json(tmp_path):
    old, new = spaces(200)
    np.save(tmp_path / "old.npy", old)
    np.save(tmp_path / "new.npy", new)
    assert main(["migrate", "fit", "--old", str(tmp_path / "old.npy"), "--new",
                 str(tmp_path / "new.npy"), "--out", str(tmp_path / "b.skops"),
                 "--method", "orthogonal", "--report", str(tmp_path / "R.json"),
                 "--min-retention", "0", "--quiet"]) == 0  # fmt: skip

    def refuse(constant):
        raise AssertionError(f"{constant} is not JSON")

    json.loads((tmp_path / "R.json").read_text(), parse_constant=refuse)


def test_one_extreme_row_is_refused_by_name():
    old, new = spaces(200)
    old[17] = 1e38
    with pytest.raises(ValueError, match="row 17 of the old pairs has norm"):
        MigrationBridge("ridge").fit(old, new)
    with pytest.raises(ValueError, match="row 17 of the old pairs"):
        fit_bridge(old, new, method="ridge")


# --- inputs -------------------------------------------------------------------


def test_ragged_parquet_lists_are_refused(tmp_path, capsys):
    old, new = spaces(100)
    rows = [list(v) for v in old]
    rows[0], rows[1] = rows[0] + [1.0], rows[1][:-1]  # lengths still sum to n x d
    _parquet(tmp_path / "old.parquet", list(range(100)), rows)
    _parquet(tmp_path / "new.parquet", list(range(100)), new)
    with pytest.raises(ValueError, match="row 0 of column 'embedding'.*33 values"):
        read_pairs(tmp_path / "old.parquet", tmp_path / "new.parquet")
    _one_line_exit_2(
        ["migrate", "fit", "--old", str(tmp_path / "old.parquet"), "--new",
         str(tmp_path / "new.parquet"), "--out", str(tmp_path / "b.skops")],
        capsys, "one length",
    )  # fmt: skip


def test_parquet_ids_join_or_fail(tmp_path):
    old, new = spaces(100)
    _parquet(tmp_path / "new.parquet", list(range(100)), new)
    ids = list(range(100))
    ids[5] = 4
    _parquet(tmp_path / "dup.parquet", ids, old)
    with pytest.raises(ValueError, match="repeats ids \\(e.g. 4; 1 repeats\\)"):
        read_pairs(tmp_path / "dup.parquet", tmp_path / "new.parquet")
    _parquet(tmp_path / "part.parquet", list(range(30, 130)), old)
    with pytest.warns(UserWarning, match="60 ids are in one file only"):
        X, Y = read_pairs(tmp_path / "part.parquet", tmp_path / "new.parquet")
    np.testing.assert_array_equal(X, old[:70])
    np.testing.assert_array_equal(Y, new[30:])
    _parquet(tmp_path / "other.parquet", list(range(60, 160)), old)
    with pytest.raises(ValueError, match="only 40 of the 100 ids"):
        read_pairs(tmp_path / "other.parquet", tmp_path / "new.parquet")
    with pytest.raises(ValueError, match="no id column 'key'.*--by-row"):
        read_pairs(tmp_path / "part.parquet", tmp_path / "new.parquet", id_column="key")
    X, Y = read_pairs(
        tmp_path / "part.parquet",
        tmp_path / "new.parquet",
        id_column="key",
        by_row=True,
    )
    np.testing.assert_array_equal(Y, new)


def test_bad_stores_exit_2_with_one_line(tmp_path, capsys):
    old, new = spaces(200)
    np.save(tmp_path / "old.npy", old)
    np.save(tmp_path / "new.npy", new)
    np.save(tmp_path / "empty.npy", np.empty((0, 32), np.float32))
    _one_line_exit_2(
        ["migrate", "fit", "--old", str(tmp_path / "empty.npy"), "--new",
         str(tmp_path / "new.npy"), "--out", str(tmp_path / "b.skops")],
        capsys, "holds no vectors",
    )  # fmt: skip
    assert main(["migrate", "fit", "--old", str(tmp_path / "old.npy"), "--new",
                 str(tmp_path / "new.npy"), "--out", str(tmp_path / "b.skops"),
                 "--method", "orthogonal", "--quiet"]) == 0  # fmt: skip
    capsys.readouterr()
    apply = ["migrate", "apply", str(tmp_path / "b.skops"), "--out"]
    _one_line_exit_2(
        [*apply, str(tmp_path / "o.npy"), "--input", str(tmp_path / "empty.npy")],
        capsys, "holds no vectors",
    )  # fmt: skip
    _parquet(tmp_path / "null.parquet", [0, 1], [None, old[1]])
    null = str(tmp_path / "null.parquet")
    _one_line_exit_2(
        [*apply, str(tmp_path / "o.parquet"), "--input", null],
        capsys, "row 0 of column 'embedding'", "is null",
    )  # fmt: skip
    pq.write_table(pa.table({"id": [0], "embedding": ["text"]}), tmp_path / "s.parquet")
    _one_line_exit_2(
        [*apply, str(tmp_path / "o.parquet"), "--input", str(tmp_path / "s.parquet")],
        capsys, "not lists of floats",
    )  # fmt: skip


@pytest.mark.parametrize("kind", ["noise", "zeros"])
def test_check_says_neither_and_fails(kind, tmp_path, capsys):
    old, new = spaces(600, d_new=32)
    rng = np.random.default_rng(0)
    store = rng.normal(size=(200, 32)) if kind == "noise" else np.zeros((200, 32))
    result = check_store(None, store, pairs=(old[:500], new[:500]))
    assert result["neither_fraction"] > 0.5  # most: the command exits 1
    half = check_store(
        None, np.vstack([old[500:], new[500:]]), pairs=(old[:500], new[:500])
    )
    assert half["neither_fraction"] < 0.05
    np.save(tmp_path / "old.npy", old)
    np.save(tmp_path / "new.npy", new)
    np.save(tmp_path / "store.npy", store.astype(np.float32))
    assert main(["migrate", "fit", "--old", str(tmp_path / "old.npy"), "--new",
                 str(tmp_path / "new.npy"), "--out", str(tmp_path / "b.skops"),
                 "--method", "orthogonal", "--quiet"]) == 0  # fmt: skip
    assert main(["migrate", "check", str(tmp_path / "b.skops"), "--input",
                 str(tmp_path / "store.npy"), "--old", str(tmp_path / "old.npy"),
                 "--new", str(tmp_path / "new.npy")]) == 1  # fmt: skip
    assert "like neither" in capsys.readouterr().err


def test_export_faiss_refuses_a_map_that_is_not_affine(tmp_path, capsys):
    pytest.importorskip("faiss")
    from sklatent import LatentTranslator

    old, new = spaces(300)
    bridge = MigrationBridge("affine").fit(old, new)
    assert bridge.is_linear
    bridge.translator_ = LatentTranslator(method="affine", normalize="l2").fit(old, new)
    assert not bridge.is_linear
    sio.dump(bridge, tmp_path / "b.skops")
    _one_line_exit_2(
        ["migrate", "export-faiss", str(tmp_path / "b.skops"), "--out",
         str(tmp_path / "t.faiss")],
        capsys, "not affine",
    )  # fmt: skip
    assert not (tmp_path / "t.faiss").exists()


# --- operations ---------------------------------------------------------------


@pytest.fixture
def bridge_and_store(tmp_path):
    old, new = spaces(300)
    bridge = MigrationBridge("orthogonal").fit(old, new)
    np.save(tmp_path / "store.npy", spaces(500, seed=3)[0])
    return bridge, tmp_path


def test_stale_temporaries_of_a_killed_run_are_removed(bridge_and_store):
    bridge, tmp_path = bridge_and_store
    pid = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    dead = pid.stdout.strip()  # a process that has ended
    stale = tmp_path / f".out.npy.sklatent-tmp-{dead}-x1y2.npy"
    stale.write_bytes(b"\0" * 1000)
    other = tmp_path / f".other.npy.sklatent-tmp-{dead}-x1y2.npy"
    other.write_bytes(b"\0")
    with pytest.warns(RuntimeWarning, match="interrupted run left behind"):
        apply_bridge(bridge, tmp_path / "store.npy", tmp_path / "out.npy")
    assert not stale.exists() and other.exists()


def test_sigterm_during_apply_leaves_nothing_and_exits_143(bridge_and_store):
    bridge, tmp_path = bridge_and_store
    sio.dump(bridge, tmp_path / "b.skops")
    np.save(tmp_path / "big.npy", np.tile(np.load(tmp_path / "store.npy"), (400, 1)))
    script = (
        "import sys, time\n"
        "import sklatent.migration._bridge as b\n"
        "transform = b.MigrationBridge.transform\n"
        "def slow(self, X):\n"
        "    time.sleep(0.05)\n"
        "    return transform(self, X)\n"
        "b.MigrationBridge.transform = slow\n"
        "from sklatent._cli.entrypoint import main\n"
        "sys.exit(main(sys.argv[1:]))\n"
    )
    process = subprocess.Popen(
        [sys.executable, "-c", script, "migrate", "apply", str(tmp_path / "b.skops"),
         "--input", str(tmp_path / "big.npy"), "--out", str(tmp_path / "out.npy"),
         "--batch-size", "1000", "--quiet"],
        stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )  # fmt: skip
    deadline = time.monotonic() + 120
    while not list(tmp_path.glob(".out.npy.sklatent-tmp-*")):
        assert process.poll() is None and time.monotonic() < deadline
        time.sleep(0.05)
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=120)
    assert process.returncode == 143, err
    assert err.strip() == "sklatent migrate apply: interrupted"
    assert not list(tmp_path.glob(".out.npy*")) and not (tmp_path / "out.npy").exists()


def test_outputs_respect_the_umask_and_keep_a_replaced_files_mode(bridge_and_store):
    bridge, tmp_path = bridge_and_store
    previous = os.umask(0o022)
    try:
        apply_bridge(bridge, tmp_path / "store.npy", tmp_path / "out.npy")
        assert (tmp_path / "out.npy").stat().st_mode & 0o777 == 0o644
        os.chmod(tmp_path / "out.npy", 0o640)
        apply_bridge(bridge, tmp_path / "store.npy", tmp_path / "out.npy")
        assert (tmp_path / "out.npy").stat().st_mode & 0o777 == 0o640
    finally:
        os.umask(previous)


def test_messages_name_the_output_and_come_first(bridge_and_store, monkeypatch):
    bridge, tmp_path = bridge_and_store
    (tmp_path / "folder").mkdir()
    calls = []
    monkeypatch.setattr(
        MigrationBridge, "transform", lambda self, X: calls.append(1) or X
    )
    with pytest.raises(IsADirectoryError, match="is a folder") as info:
        apply_bridge(bridge, tmp_path / "store.npy", tmp_path / "folder")
    assert info.value.filename == str(tmp_path / "folder") and not calls
    monkeypatch.undo()

    def failing_replace(src, dst):
        raise OSError(28, "No space left on device", src)

    monkeypatch.setattr(os, "replace", failing_replace)
    with pytest.raises(OSError) as info:
        apply_bridge(bridge, tmp_path / "store.npy", tmp_path / "out.npy")
    assert info.value.filename == str(tmp_path / "out.npy")


def test_measuring_on_one_pair_is_a_clear_error():
    old, new = spaces(200)
    bridge = MigrationBridge("orthogonal").fit(old, new)
    with pytest.raises(ValueError, match="need at least 12 pairs"):
        measure_bridge(bridge, old[:1], new[:1])
