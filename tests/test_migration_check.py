"""``migrate check`` with the bridge alone: the old/new check a bridge keeps, on
arrays, files and the served column of a LanceDB table."""

import json

import numpy as np
import pytest

from sklatent.__main__ import main
from sklatent.anchors import AnchorWarning
from sklatent.migration import (
    MigrationBridge,
    check_store,
    check_vector_store,
    fit_bridge,
    fit_space_check,
    load_bridge,
    save_bridge,
    search_store,
)

from ._migration_data import spaces

pytest.importorskip("skops.io")


@pytest.fixture(scope="module")
def pairs():
    """Pairs of one width (32), and a half-migrated store of other items."""
    old, new = spaces(800, d_new=32)
    return old[:600], new[:600], np.vstack([old[600:700], new[700:]])


@pytest.fixture(scope="module")
def bridge(pairs):
    return MigrationBridge("affine", target_name="new-model").fit(*pairs[:2])


def _one_line_exit_2(argv, capsys, needle):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and needle in err, err


def test_the_bridge_alone_finds_a_half_migrated_store(pairs, bridge):
    old, new, mixed = pairs
    result = check_store(bridge, mixed)
    assert result["source_fraction"] == pytest.approx(0.5, abs=0.05)
    assert result["neither_fraction"] < 0.02
    assert np.mean(np.array(result["source_rows"]) < 100) > 0.95
    # the bridge's check is the one fitted on the pairs (the override)
    assert check_store(None, mixed, pairs=(old, new)) == result


def test_the_check_is_numpy_and_travels_in_the_skops_file(pairs, bridge, tmp_path):
    check = bridge.space_check_
    assert all(isinstance(v, (np.ndarray, float)) for v in check.values()), (
        check
    )  # no estimator object: skops loads it with the bridge's trust list
    save_bridge(bridge, tmp_path / "b.skops")
    loaded = load_bridge(tmp_path / "b.skops")
    assert check_store(loaded, pairs[2]) == check_store(bridge, pairs[2])


def test_references_are_a_sample_beyond_reference_rows():
    old, new = spaces(2600, d_new=32)
    check = fit_space_check(old, new)
    assert check["old_rows"].shape == (1000, 32)
    assert check["old_rows"].dtype == np.float32
    # every reference is a row of its side
    assert np.isin(check["new_rows"][:, 0], new[:, 0]).all()


def test_fit_bridge_keeps_the_check_and_the_measured_bridges_do_not(pairs):
    old, new, mixed = pairs
    bridge, _ = fit_bridge(old, new, method="affine")
    assert bridge.space_check_ is not None
    assert check_store(bridge, mixed)["target_fraction"] == pytest.approx(0.5, abs=0.05)
    # a bridge of spaces of different widths keeps none, and says why
    old24, new24 = spaces(200)
    other = MigrationBridge("affine").fit(old24, new24)
    assert other.space_check_ is None
    with pytest.raises(ValueError, match="a store's width tells its space"):
        check_store(other, old24)


def test_check_errors(pairs, bridge):
    old, new, mixed = pairs
    stale = MigrationBridge("affine").fit(old, new)
    del stale.space_check_  # a bridge saved before bridges kept their check
    with pytest.raises(ValueError, match=r"refit it .* or give the pairs"):
        check_store(stale, mixed)
    assert check_store(stale, mixed, pairs=(old, new)) == check_store(bridge, mixed)
    with pytest.warns(AnchorWarning):
        few = MigrationBridge("orthogonal").fit(old[:8], new[:8])
    with pytest.raises(ValueError, match="fitted on 8 pairs, too few"):
        check_store(few, mixed)
    with pytest.raises(ValueError, match="holds vectors of 24 values; the spaces"):
        check_store(bridge, spaces(10)[1])
    with pytest.raises(ValueError, match="pairs of one width"):
        check_store(None, mixed, pairs=(old, new[:, :5]))
    with pytest.raises(ValueError, match="a fitted bridge or the pairs"):
        check_store(None, mixed)


def test_cli_check_with_the_bridge_alone(pairs, bridge, tmp_path, capsys):
    old, new, mixed = pairs
    save_bridge(bridge, tmp_path / "b.skops")
    np.save(tmp_path / "mixed.npy", mixed)
    np.save(tmp_path / "old.npy", old)
    np.save(tmp_path / "new.npy", new)
    check = ["migrate", "check", str(tmp_path / "b.skops")]
    assert main([*check, "--input", str(tmp_path / "mixed.npy"), "--report",
                 str(tmp_path / "R.json"), "--quiet"]) == 0  # fmt: skip
    result = json.loads((tmp_path / "R.json").read_text())
    assert result == check_store(bridge, mixed)
    _one_line_exit_2(
        [*check, "--input", str(tmp_path / "mixed.npy"), "--old",
         str(tmp_path / "old.npy")],
        capsys, "give --old and --new together",
    )  # fmt: skip
    _one_line_exit_2(check, capsys, "give --input FILE or --store URI")
    stale = MigrationBridge("affine").fit(old, new)
    del stale.space_check_
    save_bridge(stale, tmp_path / "stale.skops")
    stale_check = ["migrate", "check", str(tmp_path / "stale.skops"), "--input",
                   str(tmp_path / "mixed.npy"), "--quiet"]  # fmt: skip
    _one_line_exit_2(stale_check, capsys, "give the pairs (--old and --new)")
    assert main([*stale_check, "--old", str(tmp_path / "old.npy"), "--new",
                 str(tmp_path / "new.npy")]) == 0  # fmt: skip


def _create_table(tmp_path, vectors, ids, name="docs"):
    """A LanceDB table of ``vectors`` under ``ids``; its URI."""
    lancedb = pytest.importorskip("lancedb")
    pa = pytest.importorskip("pyarrow")
    vectors = np.asarray(vectors, dtype=np.float32)
    lancedb.connect(tmp_path / "db").create_table(
        name,
        pa.table(
            {
                "id": ids,
                "vector": pa.FixedSizeListArray.from_arrays(
                    pa.array(vectors.ravel()), vectors.shape[1]
                ),
            }
        ),
    )
    return f"lancedb://{tmp_path / 'db'}/{name}?column=vector"


@pytest.fixture
def table(pairs, tmp_path):
    """A LanceDB table: 20 old-space rows (ids 20..39), 100 new-space (40..139),
    in shuffled order."""
    mixed = pairs[2][80:200]
    order = np.random.default_rng(0).permutation(len(mixed))
    return _create_table(tmp_path, mixed[order], order + 20)


def test_check_a_lancedb_table_finds_the_minority_ids(table, bridge):
    import lancedb

    result = check_vector_store(bridge, table, batch_size=32)
    assert result["n_rows"] == 120
    assert result["minority"] == "source"
    assert result["source_fraction"] == pytest.approx(20 / 120, abs=0.02)
    # the old-space rows are ids 20..39 (rows 80..99 of the mixed store)
    assert len(set(result["minority_ids"]) & set(range(20, 40))) >= 18
    # batch by batch, the same rows as the whole column checked at once
    path = table.removeprefix("lancedb://").rpartition("/")[0]
    rows = lancedb.connect(path).open_table("docs").to_arrow()
    whole = check_store(bridge, np.stack(rows.column("vector").to_pylist()))
    ids = rows.column("id").to_pylist()
    assert result["minority_ids"] == [ids[i] for i in whole["source_rows"]]
    assert result["neither_ids"] == [ids[i] for i in whole["neither_rows"]]


def test_cli_check_store(table, bridge, tmp_path, capsys):
    save_bridge(bridge, tmp_path / "b.skops")
    check = ["migrate", "check", str(tmp_path / "b.skops")]
    assert main([*check, "--store", table, "--report", str(tmp_path / "R.json"),
                 "--list"]) == 0  # fmt: skip
    result = json.loads((tmp_path / "R.json").read_text())
    assert result["minority"] == "source" and result["column"] == "vector"
    out = capsys.readouterr()
    assert "like the source space" in out.err
    assert out.out.startswith("minority (source) ")
    _one_line_exit_2(
        [*check, "--store", table, "--input", "x.npy"], capsys, "one of them"
    )
    _one_line_exit_2(
        [*check, "--store", table.replace("column=vector", "column=nope")],
        capsys, "has no column 'nope'",
    )  # fmt: skip
    narrow = MigrationBridge("affine").fit(*spaces(300, d_old=24))
    save_bridge(narrow, tmp_path / "narrow.skops")
    _one_line_exit_2(
        ["migrate", "check", str(tmp_path / "narrow.skops"), "--store", table],
        capsys, "holds vectors of 32 values; the spaces checked have 24",
    )  # fmt: skip


@pytest.fixture(scope="module")
def fitted(pairs):
    """Bridges of both directions fitted by fit_bridge (checked, calibrated)."""
    old, new, _ = pairs
    return {
        d: fit_bridge(old, new, method="affine", direction=d)[0]
        for d in ("old-to-new", "new-to-old")
    }


def _cosines(A, B):
    A, B = np.asarray(A, np.float64), np.asarray(B, np.float64)
    A = A / np.linalg.norm(A, axis=1, keepdims=True)
    return A @ (B / np.linalg.norm(B, axis=1, keepdims=True)).T


def test_search_a_cut_over_store_exactly_with_calibrated_scores(fitted, tmp_path):
    bridge = fitted["old-to-new"]
    old, new = spaces(900, seed=3, d_new=32)
    stored = bridge.transform(old[:300])  # the store after cutover
    ids = np.arange(300) + 1000
    uri = _create_table(tmp_path, stored, ids)
    hits, scores = search_store(bridge, uri, new[300:320], k=5, batch_size=64)
    raw = _cosines(new[300:320], stored.astype(np.float32))
    want = np.argsort(-raw, axis=1, kind="stable")[:, :5]
    assert hits == (ids[want]).tolist()
    np.testing.assert_allclose(
        scores,
        bridge.calibrate_scores(np.take_along_axis(raw, want, axis=1)),
        atol=1e-6,
    )


def test_search_refuses_a_store_that_mixes_spaces(fitted, table, pairs, tmp_path):
    queries = spaces(900, seed=4, d_new=32)[1][:3]
    # the half-migrated table: new-model queries reach its old rows
    with pytest.raises(ValueError, match=r"look like the old space: column 'vector'"):
        search_store(fitted["old-to-new"], table, queries, k=120)
    # the query side serves an old store: its new rows are refused
    with pytest.raises(ValueError, match="look like the new space"):
        search_store(fitted["new-to-old"], table, queries, k=120)
    old_only = _create_table(tmp_path, pairs[2][:100], np.arange(100), "old")
    hits, scores = search_store(fitted["new-to-old"], old_only, queries, k=4)
    assert len(hits) == 3 and scores.shape == (3, 4)
    assert np.all(np.diff(scores, axis=1) <= 0)


def test_search_errors(fitted, table):
    narrow = MigrationBridge("affine").fit(*spaces(300, d_old=24))
    with pytest.raises(ValueError, match="holds vectors of 32 values; the new space"):
        search_store(narrow, table, spaces(5, d_old=24)[1], k=3)
    with pytest.raises(ValueError, match="queries must be a non-empty 2-D array"):
        search_store(fitted["old-to-new"], table, np.zeros((3, 5)))
