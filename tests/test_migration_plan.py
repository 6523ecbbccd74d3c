"""Which rows to re-embed first: ``migrate plan`` and ``apply --reembedded``."""

import json

import numpy as np
import pytest

from sklatent.__main__ import main
from sklatent.migration import (
    MigrationBridge,
    apply_bridge,
    fit_bridge,
    plan_reembedding,
    predicted_errors,
    retention_at_k,
    save_bridge,
)

pytest.importorskip("skops.io")


def _spaces(n, seed):
    """Old and new spaces where the map is linear except in one region
    (``x[0] > 1``, about a sixth of the rows), where the new vectors are
    unrelated to the old ones."""
    rng = np.random.default_rng(seed)
    old = rng.normal(size=(n, 12))
    A = np.random.default_rng(7).normal(size=(12, 12))
    new = old @ A + 0.1 * rng.normal(size=(n, 12))
    hard = old[:, 0] > 1.0
    new[hard] = 3.0 * rng.normal(size=(hard.sum(), 12))
    return (old + 4.0).astype(np.float32), (new - 1.0).astype(np.float32), hard


@pytest.fixture(scope="module")
def fitted():
    old, new, _ = _spaces(1500, seed=0)
    bridge, _ = fit_bridge(old, new, method="affine", store_size=1000)
    return bridge


def test_the_plan_picks_the_rows_the_bridge_gets_wrong(fitted):
    store_old, store_new, hard = _spaces(1000, seed=1)
    ids, errors = plan_reembedding(fitted, store_old, 0.1)
    assert len(ids) == 100 and errors.shape == (1000,)
    assert np.mean(hard[ids]) > 0.6  # against a sixth of the rows
    assert ids == np.argsort(-errors, kind="stable")[:100].tolist()
    # and re-embedding them keeps more retention than re-embedding random rows
    translated = fitted.transform(store_old)

    def retention(rows):
        Z = translated.copy()
        Z[rows] = store_new[rows]
        return retention_at_k(store_new, Z, store_new, store_new).mean()

    random = np.random.default_rng(0).choice(1000, 100, replace=False)
    assert retention(ids) > retention(random) + 0.02


def test_plan_state_and_errors(fitted):
    old, new, _ = _spaces(300, seed=2)
    assert fitted.pair_errors_["old_rows"].shape == (1500, 12)
    assert len(plan_reembedding(fitted, old, 1.0)[0]) == 300
    assert len(plan_reembedding(fitted, old[:7], 0.1)[0]) == 1  # rounded up
    for budget in (0.0, 1.5, float("nan")):
        with pytest.raises(ValueError, match=r"budget must be a fraction in \(0, 1\]"):
            plan_reembedding(fitted, old, budget)
    with pytest.raises(ValueError, match="keeps no held-out errors .* refit it"):
        plan_reembedding(MigrationBridge("affine").fit(old, new), old, 0.1)
    query_side, _ = fit_bridge(old, new, method="affine", direction="new-to-old")
    assert query_side.pair_errors_ is None
    with pytest.raises(ValueError, match="needs an old-to-new bridge"):
        plan_reembedding(query_side, old, 0.1)
    with pytest.raises(ValueError, match="the bridge's old space has 12 columns"):
        predicted_errors(fitted, old[:, :5])


def test_apply_writes_the_reembedded_rows_instead(fitted, tmp_path):
    old, new, _ = _spaces(200, seed=3)
    np.save(tmp_path / "store.npy", old)
    rows = [150, 3, 77]
    apply_bridge(
        fitted,
        tmp_path / "store.npy",
        tmp_path / "out.npy",
        batch_size=64,
        reembedded=(rows, new[rows]),
    )
    out = np.load(tmp_path / "out.npy")
    np.testing.assert_array_equal(out[rows], new[rows])
    others = np.setdiff1d(np.arange(200), rows)
    np.testing.assert_allclose(out[others], fitted.transform(old[others]), atol=1e-6)
    bad = [
        (([200], new[:1]), "row numbers, from 0 to 199; got 200"),
        ((["a"], new[:1]), "got 'a'"),
        (([1, 1], new[:2]), "repeat the id 1"),
        (([1], new[:1, :4]), "must be 12-d new-model vectors"),
    ]
    for reembedded, message in bad:
        with pytest.raises(ValueError, match=message):
            apply_bridge(fitted, old, tmp_path / "x.npy", reembedded=reembedded)
    assert not (tmp_path / "x.npy").exists()


def test_apply_parquet_matches_reembedded_rows_on_ids(fitted, tmp_path):
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    old, new, _ = _spaces(50, seed=4)
    ids = [f"doc{i}" for i in range(50)]
    table = pa.table(
        {
            "id": ids,
            "embedding": pa.FixedSizeListArray.from_arrays(pa.array(old.ravel()), 12),
        }
    )
    pq.write_table(table, tmp_path / "s.parquet")
    apply_bridge(
        fitted,
        tmp_path / "s.parquet",
        tmp_path / "o.parquet",
        batch_size=16,
        reembedded=(["doc40", "doc2"], new[[40, 2]]),
    )
    out = pq.read_table(tmp_path / "o.parquet")
    vectors = np.array(out.column("embedding").to_pylist(), dtype=np.float32)
    np.testing.assert_array_equal(vectors[[40, 2]], new[[40, 2]])
    np.testing.assert_allclose(vectors[5], fitted.transform(old[5:6])[0], atol=1e-6)
    with pytest.raises(ValueError, match="1 of the 2 re-embedded ids are not in"):
        apply_bridge(
            fitted,
            tmp_path / "s.parquet",
            tmp_path / "x.parquet",
            reembedded=(["doc1", "nope"], new[:2]),
        )
    assert not (tmp_path / "x.parquet").exists()


def _one_line_exit_2(argv, capsys, needle):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and needle in err, err


def test_cli_plan_then_apply_reembedded(fitted, tmp_path, capsys):
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    old, new, _ = _spaces(300, seed=5)
    save_bridge(fitted, tmp_path / "b.skops")
    np.save(tmp_path / "store.npy", old)
    bridge, store = str(tmp_path / "b.skops"), str(tmp_path / "store.npy")
    ids_file = tmp_path / "ids.txt"
    assert main(["migrate", "plan", bridge, "--input", store, "--budget", "0.1",
                 "--out", str(ids_file)]) == 0  # fmt: skip
    assert "30 of 300 rows to re-embed first" in capsys.readouterr().err
    rows = [int(line) for line in ids_file.read_text().splitlines()]
    assert rows == plan_reembedding(fitted, old, 0.1)[0]
    pq.write_table(
        pa.table(
            {
                "id": rows,
                "embedding": pa.FixedSizeListArray.from_arrays(
                    pa.array(new[rows].ravel()), 12
                ),
            }
        ),
        tmp_path / "re.parquet",
    )
    assert main(["migrate", "apply", bridge, "--input", store, "--out",
                 str(tmp_path / "out.npy"), "--reembedded",
                 str(tmp_path / "re.parquet"), "--quiet"]) == 0  # fmt: skip
    np.testing.assert_array_equal(np.load(tmp_path / "out.npy")[rows], new[rows])
    plan = ["migrate", "plan", bridge, "--out", str(ids_file)]
    _one_line_exit_2([*plan, "--input", store, "--budget", "0"], capsys, "(0, 1]")
    _one_line_exit_2([*plan, "--budget", "0.1"], capsys, "give --input FILE or")
    np.save(tmp_path / "re.npy", new[rows])
    _one_line_exit_2(
        ["migrate", "apply", bridge, "--input", store, "--out",
         str(tmp_path / "o2.npy"), "--reembedded", str(tmp_path / "re.npy")],
        capsys, "has no ids: give a parquet file",
    )  # fmt: skip


def test_plan_and_reembed_a_lancedb_store(fitted, tmp_path, capsys):
    lancedb = pytest.importorskip("lancedb")
    pa = pytest.importorskip("pyarrow")
    from sklatent.migration import apply_to_store, bridge_stamp

    old, new, _ = _spaces(120, seed=6)
    ids = np.arange(120) + 500
    lancedb.connect(tmp_path / "db").create_table(
        "docs",
        pa.table(
            {
                "id": ids,
                "vector": pa.FixedSizeListArray.from_arrays(pa.array(old.ravel()), 12),
            }
        ),
    )
    uri = f"lancedb://{tmp_path / 'db'}/docs?column=vector"
    planned, _ = plan_reembedding(fitted, uri, 0.1, batch_size=32)
    assert planned == (ids[plan_reembedding(fitted, old, 0.1)[0]]).tolist()
    rows = np.array(planned) - 500
    # interrupted after the first batch, then resumed: the re-embedded rows
    # are written whichever run reaches them, and the runs agree on stamps
    with pytest.raises(KeyboardInterrupt):
        apply_to_store(
            fitted,
            uri,
            batch_size=40,
            reembedded=(planned, new[rows]),
            progress=lambda n: (_ for _ in ()).throw(KeyboardInterrupt),
        )
    apply_to_store(fitted, uri, batch_size=40, reembedded=(planned, new[rows]))
    table = lancedb.connect(tmp_path / "db").open_table("docs").to_arrow()
    got = dict(
        zip(
            table.column("id").to_pylist(),
            zip(
                table.column("vector__shadow").to_pylist(),
                table.column("vector__shadow__stamp").to_pylist(),
                strict=True,
            ),
            strict=True,
        )
    )
    stamp = json.loads(bridge_stamp(fitted))
    for key, row in zip(planned, rows, strict=True):
        np.testing.assert_array_equal(np.float32(got[key][0]), new[row])
        assert json.loads(got[key][1]) == {**stamp, "reembedded": True}
    for key in set(ids.tolist()) - set(planned):  # the others: translations
        np.testing.assert_allclose(
            got[key][0], fitted.transform(old[key - 500 : key - 499])[0], atol=1e-5
        )
        assert json.loads(got[key][1]) == stamp
    with pytest.raises(ValueError, match="1 of the 1 re-embedded ids are not in"):
        apply_to_store(fitted, uri, reembedded=([9999], new[:1]))
    save_bridge(fitted, tmp_path / "b.skops")
    assert main(["migrate", "plan", str(tmp_path / "b.skops"), "--store", uri,
                 "--budget", "0.1", "--out", str(tmp_path / "ids.txt"),
                 "--quiet"]) == 0  # fmt: skip
    assert (tmp_path / "ids.txt").read_text().split() == [str(i) for i in planned]
